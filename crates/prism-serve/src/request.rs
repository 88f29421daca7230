//! What the page may ask for: job options (checked before a job is queued), models by task, and
//! uploads (format, size and pixel limits checked from the header before anything is decoded).

use std::io::Cursor;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::jobs::Task;

/// The arbitrary-style pair (Magenta), listed for fast style as one model.
pub const ARBITRARY: &str = "style-arbitrary";

/// A job's options: the command's flags of its task (defaults as the command's).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// upscale: `--outscale` (none: the model's scale).
    pub outscale: Option<f64>,
    /// upscale: `--tile` (`auto`, `whole` or a side).
    pub tile: String,
    pub tta: bool,
    /// interpolate: `--frames` between the pair.
    pub frames: u32,
    pub ensemble: bool,
    /// style (multistyle26): `--style` index.
    pub style: Option<usize>,
    pub strength: f32,
    pub content_scale: f32,
    pub preserve_colors: bool,
    /// neural: `--size`, `--steps`, `--optimizer`, `--lr`, `--save-every`.
    pub size: Option<u32>,
    pub steps: usize,
    pub optimizer: String,
    pub lr: Option<f32>,
    pub save_every: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            outscale: None,
            tile: "auto".into(),
            tta: false,
            frames: 1,
            ensemble: false,
            style: None,
            strength: 1.0,
            content_scale: 1.0,
            preserve_colors: false,
            size: None,
            steps: 300,
            optimizer: "lbfgs".into(),
            lr: None,
            save_every: 0,
        }
    }
}

impl Options {
    /// Refuses options that cannot work for `task`, saying which.
    pub fn check(&self, task: Task) -> Result<(), String> {
        match task {
            Task::Upscale => {
                if let Some(s) = self.outscale
                    && !(s > 0.0 && s <= 16.0)
                {
                    return Err(format!("outscale {s}: expected more than 0 and at most 16"));
                }
                self.tile_size()?;
            }
            Task::Interpolate => {
                if !(1..=15).contains(&self.frames) {
                    return Err(format!("frames {}: expected 1 to 15", self.frames));
                }
            }
            Task::Style => {
                if let Some(i) = self.style
                    && i >= prism_style::multistyle::STYLES
                {
                    return Err(format!("style {i}: expected 0 to 25"));
                }
                self.fast().validate().map_err(|e| e.to_string())?;
            }
            Task::Neural => {
                if let Some(s) = self.size
                    && !(16..=2048).contains(&s)
                {
                    return Err(format!("size {s}: expected 16 to 2048"));
                }
                if !(1..=2000).contains(&self.steps) {
                    return Err(format!("steps {}: expected 1 to 2000", self.steps));
                }
                if !matches!(self.optimizer.as_str(), "lbfgs" | "adam") {
                    return Err(format!(
                        "optimizer {:?}: expected lbfgs or adam",
                        self.optimizer
                    ));
                }
                if let Some(lr) = self.lr
                    && !(lr > 0.0 && lr <= 100.0)
                {
                    return Err(format!("lr {lr}: expected more than 0 and at most 100"));
                }
            }
        }
        Ok(())
    }

    pub fn tile_size(&self) -> Result<prism_upscale::TileSize, String> {
        use prism_upscale::TileSize;
        match self.tile.as_str() {
            "auto" => Ok(TileSize::Auto),
            "whole" => Ok(TileSize::Whole),
            n => match n.parse::<u32>() {
                Ok(side @ 1..=16384) => Ok(TileSize::Size(side)),
                _ => Err(format!("tile {n:?}: expected auto, whole or 1 to 16384")),
            },
        }
    }

    pub fn fast(&self) -> prism_style::FastOptions {
        prism_style::FastOptions {
            content_scale: self.content_scale,
            strength: self.strength,
            preserve_colors: self.preserve_colors,
        }
    }

    /// The command's optimiser for `--optimizer` and `--lr` (L-BFGS: history 100, Armijo).
    pub fn optimizer(&self) -> prism_style::Optimizer {
        match self.optimizer.as_str() {
            "adam" => prism_style::Optimizer::Adam {
                lr: self.lr.unwrap_or(0.02),
            },
            _ => prism_style::Optimizer::Lbfgs {
                history: 100,
                line_search: prism_style::LineSearch::Armijo,
                lr: self.lr.unwrap_or(1.0),
            },
        }
    }
}

impl Task {
    /// The registry task whose models this task runs.
    pub fn registry_task(self) -> &'static str {
        match self {
            Task::Upscale => "upscale",
            Task::Interpolate => "interpolate",
            Task::Style => "style",
            Task::Neural => "features",
        }
    }

    /// How many uploaded images a job takes (fast style: a second is the style image).
    pub fn inputs(self, model: &str) -> usize {
        match self {
            Task::Upscale => 1,
            Task::Style if model == ARBITRARY => 2,
            Task::Style => 1,
            Task::Interpolate | Task::Neural => 2,
        }
    }
}

/// Whether `id` is a model of `task` the page may run: a registry id (never a path).
pub fn model_allowed(task: Task, id: &str) -> Result<(), String> {
    if task == Task::Style && id == ARBITRARY {
        return Ok(());
    }
    let registry = prism_hub::Registry::load_default().map_err(|e| e.to_string())?;
    match registry.get(id) {
        Some(m) if m.task == task.registry_task() && listed(task, id) => Ok(()),
        Some(_) => Err(format!(
            "model `{id}` is not a {} model",
            task.registry_task()
        )),
        None => Err(format!("unknown model `{id}`")),
    }
}

/// The registry models of a task the page lists (the arbitrary pair as one entry; VGG19's
/// forward graphs for neural style).
pub fn listed(task: Task, id: &str) -> bool {
    match task {
        Task::Style => !id.starts_with("style-arbitrary-"),
        Task::Neural => id.starts_with("vgg19-features"),
        _ => true,
    }
}

/// An upload's format and size, read from its header and checked against the limits.
pub fn probe_upload(
    bytes: &[u8],
    limits: &prism_media::Limits,
) -> Result<(&'static str, u32, u32), String> {
    let format = image::guess_format(bytes)
        .map_err(|_| "not an image this server reads (PNG, JPEG, WebP or TIFF)".to_string())?;
    let ext = match format {
        image::ImageFormat::Png => "png",
        image::ImageFormat::Jpeg => "jpg",
        image::ImageFormat::WebP => "webp",
        image::ImageFormat::Tiff => "tiff",
        other => {
            return Err(format!(
                "{other:?} images are not accepted (PNG, JPEG, WebP or TIFF)"
            ));
        }
    };
    let (w, h) = image::ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| format!("unreadable {ext} header: {e}"))?;
    limits
        .check(Path::new("upload"), w, h)
        .map_err(|e| e.to_string())?;
    Ok((ext, w, h))
}
