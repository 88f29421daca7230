//! Video through an `ffmpeg` subprocess: raw RGB frames piped out of the source and into the
//! encoder, with the source's audio and metadata copied into the output.
//!
//! ffmpeg is found at `--ffmpeg PATH`, then `$PRISM_FFMPEG`, then `ffmpeg` on `PATH`, then the copy
//! `cargo xtask test` provisions in a checkout's `.prism/tools/ffmpeg` (found from the executable
//! or the current folder). Stream facts (size, frame rate, audio)
//! are parsed from `ffmpeg -i`, so no ffprobe is needed.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

use image::DynamicImage;

use crate::cleanup;
use crate::error::{Error, Result};
use crate::image_io::{Limits, temp_path};

/// Finds an ffmpeg binary (see the module docs for the order).
pub fn find_ffmpeg(explicit: Option<&Path>) -> Result<PathBuf> {
    let mut tried = Vec::new();
    if let Some(path) = explicit {
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        return Err(Error::FfmpegNotFound {
            tried: vec![path.to_path_buf()],
        });
    }
    if let Some(env) = std::env::var_os("PRISM_FFMPEG").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(env);
        if path.is_file() {
            return Ok(path);
        }
        tried.push(path);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join(if cfg!(windows) {
                "ffmpeg.exe"
            } else {
                "ffmpeg"
            });
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        tried.push(PathBuf::from("ffmpeg (PATH)"));
    }
    // The copy `cargo xtask` provisions in the checkout holding the executable or the current folder.
    let Some(provisioned) =
        prism_core::checkout::path(".prism/tools/ffmpeg/imageio_ffmpeg/binaries")
    else {
        return Err(Error::FfmpegNotFound { tried });
    };
    if let Ok(entries) = std::fs::read_dir(&provisioned) {
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("ffmpeg"))
            })
            .collect();
        found.sort();
        if let Some(path) = found.pop() {
            return Ok(path);
        }
    }
    tried.push(provisioned);
    Err(Error::FfmpegNotFound { tried })
}

/// What `ffmpeg -i` says about a video file.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    /// Frame rate as ffmpeg accepts it (`24`, `30000/1001`, ...).
    pub frame_rate: String,
    pub fps: f64,
    pub duration_s: Option<f64>,
    /// Estimated from duration and rate (for progress only).
    pub frames_estimate: Option<u64>,
    pub has_audio: bool,
    /// The source has more than 8 bits per sample: frames are piped as 16-bit RGB.
    pub high_bit_depth: bool,
    pub pixel_format: String,
    pub codec: String,
}

/// Reads stream facts from `ffmpeg -i path`; frames larger than `limits` allow are refused.
pub fn probe(ffmpeg: &Path, path: &Path, limits: &Limits) -> Result<VideoInfo> {
    if !path.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let output = cleanup::own_process_group(&mut Command::new(ffmpeg))
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Ffmpeg {
            path: path.to_path_buf(),
            message: format!("cannot run {}: {e}", ffmpeg.display()),
        })?;
    let text = String::from_utf8_lossy(&output.stderr);
    let info = parse_probe(&text).ok_or_else(|| Error::Ffmpeg {
        path: path.to_path_buf(),
        message: text
            .lines()
            .rev()
            .find(|l| !l.contains("At least one output file"))
            .map(|l| format!("not a readable video: {}", l.trim()))
            .unwrap_or_else(|| "not a readable video".into()),
    })?;
    limits.check(path, info.width, info.height)?;
    Ok(info)
}

/// Exact rates for the rounded NTSC values `ffmpeg -i` prints.
fn exact_rate(text: &str) -> String {
    match text {
        "23.98" | "23.976" => "24000/1001".into(),
        "29.97" => "30000/1001".into(),
        "47.95" => "48000/1001".into(),
        "59.94" => "60000/1001".into(),
        "119.88" => "120000/1001".into(),
        other => other.trim_end_matches('k').to_string(),
    }
}

fn parse_probe(text: &str) -> Option<VideoInfo> {
    let video = text
        .lines()
        .find(|l| l.trim_start().starts_with("Stream #") && l.contains(": Video: "))?;
    let body = video.split(": Video: ").nth(1)?;
    let fields = split_fields(body);
    let codec = fields.first()?.split_whitespace().next()?.to_string();
    let pixel_format = fields
        .get(1)
        .map(|f| f.split(['(', ' ']).next().unwrap_or("").to_string())
        .unwrap_or_default();
    let (mut width, mut height) = (0, 0);
    for field in &fields {
        let token = field.split_whitespace().next().unwrap_or("");
        if let Some((w, h)) = token.split_once('x')
            && let (Ok(w), Ok(h)) = (w.parse(), h.parse())
        {
            (width, height) = (w, h);
            break;
        }
    }
    if width == 0 || height == 0 {
        return None;
    }
    let rate_of = |unit: &str| {
        fields.iter().find_map(|f| {
            let f = f.trim();
            f.strip_suffix(unit).map(|v| v.trim().to_string())
        })
    };
    let rate_text = rate_of(" fps").or_else(|| rate_of(" tbr"))?;
    let frame_rate = exact_rate(&rate_text);
    let fps = match frame_rate.split_once('/') {
        Some((n, d)) => n.parse::<f64>().ok()? / d.parse::<f64>().ok()?,
        None => frame_rate.parse().ok()?,
    };
    let duration_s = text.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix("Duration: ")?;
        let hms = rest.split(',').next()?;
        let mut parts = hms.split(':');
        let h: f64 = parts.next()?.parse().ok()?;
        let m: f64 = parts.next()?.parse().ok()?;
        let s: f64 = parts.next()?.parse().ok()?;
        Some(h * 3600.0 + m * 60.0 + s)
    });
    let high_bit_depth = [
        "10le", "12le", "16le", "10be", "12be", "16be", "48", "64", "p010", "p016",
    ]
    .iter()
    .any(|m| pixel_format.contains(m));
    Some(VideoInfo {
        width,
        height,
        fps,
        frames_estimate: duration_s.map(|d| (d * fps).round() as u64),
        frame_rate,
        duration_s,
        has_audio: text
            .lines()
            .any(|l| l.trim_start().starts_with("Stream #") && l.contains(": Audio: ")),
        high_bit_depth,
        pixel_format,
        codec,
    })
}

/// Splits a stream description at top-level commas (not those inside parentheses).
fn split_fields(body: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let (mut depth, mut current) = (0i32, String::new());
    for c in body.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                fields.push(std::mem::take(&mut current).trim().to_string());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    fields.push(current.trim().to_string());
    fields
}

/// Collects a child's stderr on a thread, so a chatty ffmpeg never blocks on a full pipe.
fn drain(child: &mut Child) -> Option<JoinHandle<String>> {
    let mut stderr = child.stderr.take()?;
    Some(std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    }))
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(5)..].join("; ")
}

/// Decoded frames of a video, as RGB images (16-bit when the source is deeper than 8 bits).
pub struct VideoReader {
    path: PathBuf,
    child: Child,
    _registered: cleanup::Registered,
    stdout: ChildStdout,
    stderr: Option<JoinHandle<String>>,
    width: u32,
    height: u32,
    deep: bool,
}

impl VideoReader {
    pub fn open(ffmpeg: &Path, path: &Path, info: &VideoInfo) -> Result<VideoReader> {
        let deep = info.high_bit_depth;
        let mut command = Command::new(ffmpeg);
        command
            .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
            .arg(path)
            .args(["-map", "0:v:0", "-f", "rawvideo", "-pix_fmt"])
            .arg(if deep { "rgb48le" } else { "rgb24" })
            .arg("-")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let (mut child, registered) =
            cleanup::spawn(&mut command, None).map_err(|e| Error::Ffmpeg {
                path: path.to_path_buf(),
                message: format!("cannot run {}: {e}", ffmpeg.display()),
            })?;
        let stderr = drain(&mut child);
        let stdout = child.stdout.take().expect("piped");
        Ok(VideoReader {
            path: path.to_path_buf(),
            child,
            _registered: registered,
            stdout,
            stderr,
            width: info.width,
            height: info.height,
            deep,
        })
    }

    /// The next frame, or `None` at the end of the stream.
    pub fn read_frame(&mut self) -> Result<Option<DynamicImage>> {
        let samples = self.width as usize * self.height as usize * 3;
        let bytes = if self.deep { samples * 2 } else { samples };
        let mut buffer = vec![0u8; bytes];
        let mut filled = 0;
        while filled < bytes {
            match self.stdout.read(&mut buffer[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(&self.path, e)),
            }
        }
        if filled == 0 {
            return self.finish().map(|()| None);
        }
        if filled < bytes {
            self.finish()?;
            return Err(Error::Ffmpeg {
                path: self.path.clone(),
                message: format!("stream ended inside a frame ({filled} of {bytes} bytes)"),
            });
        }
        let (w, h) = (self.width, self.height);
        let image = if self.deep {
            let data: Vec<u16> = buffer
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .collect();
            DynamicImage::ImageRgb16(image::ImageBuffer::from_raw(w, h, data).expect("sized"))
        } else {
            DynamicImage::ImageRgb8(image::ImageBuffer::from_raw(w, h, buffer).expect("sized"))
        };
        Ok(Some(image))
    }

    fn finish(&mut self) -> Result<()> {
        let status = self.child.wait().map_err(|e| Error::io(&self.path, e))?;
        let log = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if !status.success() {
            return Err(Error::Ffmpeg {
                path: self.path.clone(),
                message: format!("decoding failed ({status}): {}", tail(&log)),
            });
        }
        Ok(())
    }
}

impl Iterator for VideoReader {
    type Item = Result<DynamicImage>;
    fn next(&mut self) -> Option<Self::Item> {
        self.read_frame().transpose()
    }
}

impl Drop for VideoReader {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Encoder settings.
#[derive(Debug, Clone)]
pub struct VideoOptions {
    /// ffmpeg video encoder (`libx264`, `libx265`, `libvpx-vp9`, `ffv1`, ...).
    pub codec: String,
    /// Constant rate factor (quality; lower is better), when the codec has one.
    pub crf: Option<u8>,
    pub preset: Option<String>,
    /// Output pixel format (`yuv420p` plays everywhere; `yuv444p10le` keeps more).
    pub pixel_format: Option<String>,
    /// Copy the source's audio streams and metadata.
    pub keep_audio: bool,
    /// Further raw ffmpeg output arguments.
    pub extra_args: Vec<String>,
}

impl Default for VideoOptions {
    fn default() -> Self {
        Self {
            codec: "libx264".into(),
            crf: Some(18),
            preset: Some("medium".into()),
            pixel_format: Some("yuv420p".into()),
            keep_audio: true,
            extra_args: Vec::new(),
        }
    }
}

/// Frames into an encoder; the file appears at its final name only after [`VideoWriter::finish`].
pub struct VideoWriter {
    output: PathBuf,
    temp: PathBuf,
    child: Child,
    _registered: cleanup::Registered,
    stdin: Option<ChildStdin>,
    stderr: Option<JoinHandle<String>>,
    width: u32,
    height: u32,
    deep: bool,
    finished: bool,
}

impl VideoWriter {
    /// Starts an encoder for `width` x `height` frames at `frame_rate`; with `source` (and
    /// `keep_audio`) its audio streams and metadata are copied in.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        ffmpeg: &Path,
        output: &Path,
        width: u32,
        height: u32,
        frame_rate: &str,
        deep: bool,
        source: Option<&Path>,
        options: &VideoOptions,
    ) -> Result<VideoWriter> {
        let temp = temp_path(output);
        let mut cmd = Command::new(ffmpeg);
        cmd.args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
            .args(["-f", "rawvideo", "-pix_fmt"])
            .arg(if deep { "rgb48le" } else { "rgb24" })
            .args(["-s", &format!("{width}x{height}"), "-framerate", frame_rate])
            .args(["-i", "-"]);
        match source.filter(|_| options.keep_audio) {
            Some(source) => {
                cmd.arg("-i").arg(source).args([
                    "-map",
                    "0:v:0",
                    "-map",
                    "1:a?",
                    "-map_metadata",
                    "1",
                    "-c:a",
                    "copy",
                ]);
            }
            None => {
                cmd.args(["-map", "0:v:0"]);
            }
        }
        cmd.args(["-c:v", &options.codec]);
        if let Some(crf) = options.crf {
            cmd.args(["-crf", &crf.to_string()]);
        }
        if let Some(preset) = &options.preset {
            cmd.args(["-preset", preset]);
        }
        if let Some(pix) = &options.pixel_format {
            cmd.args(["-pix_fmt", pix]);
        }
        cmd.args(&options.extra_args).arg(&temp);
        if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
            cleanup::remove_stale_partials(dir);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let (mut child, registered) =
            cleanup::spawn(&mut cmd, Some(&temp)).map_err(|e| Error::Ffmpeg {
                path: output.to_path_buf(),
                message: format!("cannot run {}: {e}", ffmpeg.display()),
            })?;
        let stderr = drain(&mut child);
        let stdin = child.stdin.take();
        Ok(VideoWriter {
            output: output.to_path_buf(),
            temp,
            child,
            _registered: registered,
            stdin,
            stderr,
            width,
            height,
            deep,
            finished: false,
        })
    }

    /// Sends one frame (converted to the writer's RGB depth).
    pub fn write_frame(&mut self, frame: &DynamicImage) -> Result<()> {
        if (frame.width(), frame.height()) != (self.width, self.height) {
            return Err(Error::Ffmpeg {
                path: self.output.clone(),
                message: format!(
                    "frame is {}x{}, the stream is {}x{}",
                    frame.width(),
                    frame.height(),
                    self.width,
                    self.height
                ),
            });
        }
        let bytes: Vec<u8> = if self.deep {
            frame
                .to_rgb16()
                .into_raw()
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect()
        } else {
            match frame {
                DynamicImage::ImageRgb8(b) => b.as_raw().clone(),
                other => other.to_rgb8().into_raw(),
            }
        };
        let stdin = self.stdin.as_mut().expect("open until finish");
        if let Err(e) = stdin.write_all(&bytes) {
            // The encoder quit: its log says why.
            self.stdin = None;
            let _ = self.child.wait();
            let log = self
                .stderr
                .take()
                .and_then(|h| h.join().ok())
                .unwrap_or_default();
            let _ = std::fs::remove_file(&self.temp);
            self.finished = true;
            return Err(Error::Ffmpeg {
                path: self.output.clone(),
                message: format!("encoder stopped ({e}): {}", tail(&log)),
            });
        }
        Ok(())
    }

    /// Closes the stream, waits for the encoder and moves the file to its final name.
    pub fn finish(mut self) -> Result<()> {
        self.finished = true;
        drop(self.stdin.take());
        let status = self.child.wait().map_err(|e| Error::io(&self.output, e))?;
        let log = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if !status.success() {
            let _ = std::fs::remove_file(&self.temp);
            return Err(Error::Ffmpeg {
                path: self.output.clone(),
                message: format!("encoding failed ({status}): {}", tail(&log)),
            });
        }
        std::fs::rename(&self.temp, &self.output).map_err(|e| {
            let _ = std::fs::remove_file(&self.temp);
            Error::io(&self.output, e)
        })
    }
}

impl Drop for VideoWriter {
    fn drop(&mut self) {
        if !self.finished {
            drop(self.stdin.take());
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Whether `path`'s extension is a video container Prism hands to ffmpeg.
pub fn is_video(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        matches!(
            e.to_ascii_lowercase().as_str(),
            "mp4" | "mkv" | "mov" | "webm" | "avi" | "m4v" | "gif" | "mpg" | "mpeg" | "ts"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ffmpeg_i_output() {
        let text = "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'a.mp4':\n  Metadata:\n    title           : hello\n  Duration: 00:00:01.00, start: 0.000000, bitrate: 95 kb/s\n  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 64x48, 11 kb/s, 29.97 fps, 29.97 tbr, 16384 tbn (default)\n  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, mono, fltp, 69 kb/s (default)\n";
        let info = parse_probe(text).unwrap();
        assert_eq!((info.width, info.height), (64, 48));
        assert_eq!(info.frame_rate, "30000/1001");
        assert!((info.fps - 29.97).abs() < 0.01);
        assert_eq!(info.frames_estimate, Some(30));
        assert!(info.has_audio);
        assert!(!info.high_bit_depth);
        assert_eq!(info.codec, "h264");
        let deep = text.replace("yuv420p(progressive)", "yuv420p10le(tv, progressive)");
        assert!(parse_probe(&deep).unwrap().high_bit_depth);
        assert!(parse_probe("garbage: Invalid data found when processing input").is_none());
    }
}
