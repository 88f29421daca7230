//! One handle over the three feed-forward style networks, so images, folders and videos go
//! through one path: a TransformerNet, the 26-style network with a style mix, or the Magenta
//! arbitrary pair with a style image's vector.

use image::DynamicImage;
use ndarray::Array4;

use crate::arbitrary::Arbitrary;
use crate::error::Result;
use crate::fast::{FastOptions, FastStyle};
use crate::multistyle::{MultiStyle, StyleMix};

/// A loaded feed-forward style, ready for any number of images.
#[derive(Debug)]
pub enum FeedForward {
    /// Johnson et al. TransformerNet (one style per network).
    Transformer(FastStyle),
    /// Dumoulin et al. 26-style network with the chosen style or blend.
    Multi { net: MultiStyle, mix: StyleMix },
    /// Magenta arbitrary stylisation with one style image's vector.
    Arbitrary {
        net: Arbitrary,
        vector: Array4<f32>,
        /// The style image's name (file stem), for labels and file names.
        style: String,
    },
}

impl FeedForward {
    /// The arbitrary pair with `style`'s vector computed once.
    pub fn arbitrary(mut net: Arbitrary, style: &DynamicImage, name: &str) -> Result<FeedForward> {
        let vector = net.style_vector(style)?;
        Ok(FeedForward::Arbitrary {
            net,
            vector,
            style: name.to_string(),
        })
    }

    /// Stylises one image. `strength` blends pixels with the content (TransformerNet,
    /// multistyle) or style vectors with the content's own (arbitrary).
    pub fn stylize(&mut self, image: &DynamicImage, options: &FastOptions) -> Result<DynamicImage> {
        match self {
            FeedForward::Transformer(net) => net.stylize(image, options),
            FeedForward::Multi { net, mix } => net.stylize(image, mix, options),
            FeedForward::Arbitrary { net, vector, .. } => {
                net.stylize_vector(image, vector, options)
            }
        }
    }

    /// What made the result, for logs and sheet labels: `style-mosaic (seeded-random weights)`,
    /// `multistyle26 style 7`, `arbitrary (magenta) style coffee`.
    pub fn label(&self) -> String {
        match self {
            FeedForward::Transformer(net) => {
                format!("transformernet {} ({} weights)", net.style, net.weights)
            }
            FeedForward::Multi { mix, .. } => format!("multistyle26 {}", mix.label()),
            FeedForward::Arbitrary { style, .. } => format!("arbitrary (magenta) style {style}"),
        }
    }

    /// File-name suffix: `_mosaic`, `_style7`, `_styles3-12`, `_coffee`.
    pub fn suffix(&self) -> String {
        match self {
            FeedForward::Transformer(net) => format!("_{}", net.style),
            FeedForward::Multi { mix, .. } => {
                let w = mix.weights();
                let used: Vec<String> = (0..w.len())
                    .filter(|&i| w[i] > 0.0)
                    .map(|i| i.to_string())
                    .collect();
                let s = if used.len() == 1 { "style" } else { "styles" };
                format!("_{s}{}", used.join("-"))
            }
            FeedForward::Arbitrary { style, .. } => format!("_{style}"),
        }
    }

    /// The provider the (main) network runs on.
    pub fn provider(&self) -> prism_core::Provider {
        match self {
            FeedForward::Transformer(net) => net.provider(),
            FeedForward::Multi { net, .. } => net.provider(),
            FeedForward::Arbitrary { net, .. } => net.provider(),
        }
    }
}

/// A feed-forward network with its options: the 1 -> 1 step `prism style fast` runs over one
/// image, a folder or a video through [`prism_media::map_media`].
pub struct FastStep<'a> {
    pub net: &'a mut FeedForward,
    pub options: FastOptions,
}

impl prism_media::FrameMap for FastStep<'_> {
    type Error = crate::Error;

    fn output_size(&self, width: u32, height: u32) -> Result<(u32, u32)> {
        Ok(self.options.output_size(width, height))
    }

    fn map(
        &mut self,
        frame: &DynamicImage,
        _cancel: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<DynamicImage> {
        self.net.stylize(frame, &self.options)
    }
}
