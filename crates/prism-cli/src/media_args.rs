//! Video and folder-batch flags, the same for every task that reads them.

use std::path::PathBuf;

use clap::Args;
use prism_media::video::VideoOptions;

/// How a video output is encoded (upscale, interpolate, style fast).
#[derive(Args, Clone, Debug)]
pub struct VideoArgs {
    /// ffmpeg binary (default: $PRISM_FFMPEG, PATH, the provisioned copy).
    #[arg(long)]
    pub ffmpeg: Option<PathBuf>,
    /// Video encoder.
    #[arg(long, default_value = "libx264")]
    pub codec: String,
    /// Video quality (constant rate factor; lower is better).
    #[arg(long, default_value_t = 18, value_parser = clap::value_parser!(u8).range(0..=63))]
    pub crf: u8,
    /// Encoder preset.
    #[arg(long, default_value = "medium")]
    pub preset: String,
    /// Output pixel format.
    #[arg(long, default_value = "yuv420p")]
    pub pix_fmt: String,
    /// Do not copy the source's audio.
    #[arg(long)]
    pub no_audio: bool,
}

impl VideoArgs {
    pub fn options(&self) -> VideoOptions {
        VideoOptions {
            codec: self.codec.clone(),
            crf: Some(self.crf),
            preset: Some(self.preset.clone()),
            pixel_format: Some(self.pix_fmt.clone()),
            keep_audio: !self.no_audio,
            extra_args: Vec::new(),
        }
    }
}

/// Which files of a folder input a batch takes, and whether finished outputs are redone.
#[derive(Args, Clone, Debug)]
pub struct BatchArgs {
    /// Include sub-folders (outputs mirror the folder structure).
    #[arg(short, long)]
    pub recursive: bool,
    /// Only files matching this glob (relative to the input folder), e.g. `*.png`.
    #[arg(long)]
    pub glob: Option<String>,
    /// Redo outputs that already exist (default: skip them, so a batch resumes).
    #[arg(long)]
    pub overwrite: bool,
}
