//! Frames for the network: [`Prepared`] (padded to the pad multiple) and results cropped back
//! into [`Interpolated`] frames.

use image::DynamicImage;
use ndarray::{Array2, Array4, ArrayView4, s};
use prism_core::{PixelLayout, ValueRange, tensor_to_image};

use crate::error::{Error, Result};
use crate::flow::Flow;

/// A frame converted for the network once, so each frame of a sequence is prepared only once
/// although it takes part in two pairs.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// `[1, 3, Hp, Wp]`, 0..1, zero-padded to the pad multiple.
    pub(crate) padded: Array4<f32>,
    pub(crate) height: usize,
    pub(crate) width: usize,
    pub(crate) alpha: Option<Array2<f32>>,
    pub(crate) layout: PixelLayout,
}

impl Prepared {
    pub fn width(&self) -> u32 {
        self.width as u32
    }

    pub fn height(&self) -> u32 {
        self.height as u32
    }

    /// The padded `[1, 3, Hp, Wp]` planes the network sees.
    pub fn padded(&self) -> &Array4<f32> {
        &self.padded
    }

    /// The frame as an image again (exact for 8 and 16-bit frames).
    pub fn to_image(&self) -> Result<DynamicImage> {
        let color = self.padded.slice(s![0, .., ..self.height, ..self.width]);
        Ok(tensor_to_image(
            color,
            self.alpha.as_ref().map(|a| a.view()),
            self.layout,
            ValueRange::Unit,
        )?)
    }
}

/// One intermediate frame with the flow the network estimated for it.
#[derive(Debug, Clone)]
pub struct Interpolated {
    /// The timestep really produced (differs from the one asked for only with `nearest_timestep`).
    pub t: f64,
    pub image: DynamicImage,
    /// Flow from this frame to the frames the network was given (the pair itself, or for bisected
    /// timesteps the two bracketing frames).
    pub flow: Flow,
}

/// A padded network result: frame `[1,3,Hp,Wp]` and flow `[1,4,Hp,Wp]`.
#[derive(Debug, Clone)]
pub(super) struct Raw {
    pub(super) frame: Array4<f32>,
    pub(super) flow: Array4<f32>,
}

/// Zero padding on the right and bottom to the next multiple of `multiple` (the official RIFE
/// scripts' `F.pad(img, (0, pw - w, 0, ph - h))`).
pub fn pad(color: ArrayView4<f32>, multiple: usize) -> Array4<f32> {
    let (n, c, h, w) = color.dim();
    let (hp, wp) = (
        h.div_ceil(multiple) * multiple,
        w.div_ceil(multiple) * multiple,
    );
    if (hp, wp) == (h, w) {
        return color.to_owned();
    }
    let mut out = Array4::<f32>::zeros((n, c, hp, wp));
    out.slice_mut(s![.., .., ..h, ..w]).assign(&color);
    out
}

/// Crops a padded result and turns it into an image of `a`'s layout; alpha (if any) is the
/// linear blend of the two frames' alpha.
pub(super) fn finish(a: &Prepared, b: &Prepared, t: f64, raw: Raw) -> Result<Interpolated> {
    let (h, w) = (a.height, a.width);
    let color = raw.frame.slice(s![0, .., ..h, ..w]);
    let alpha = match (&a.alpha, &b.alpha) {
        (Some(x), Some(y)) => Some(x * (1.0 - t as f32) + y * t as f32),
        (Some(x), None) => Some(x.clone()),
        _ => None,
    };
    let image = tensor_to_image(
        color,
        alpha.as_ref().map(|a| a.view()),
        a.layout,
        ValueRange::Unit,
    )?;
    let flow = if raw.flow.dim() == (1, 4, h, w) {
        // Nothing to crop: the session's array as it is.
        raw.flow
            .into_shape_with_order((4, h, w))
            .expect("[1, 4, H, W] holds 4 x H x W")
    } else {
        raw.flow.slice(s![0, .., ..h, ..w]).to_owned()
    };
    let flow = Flow::new(flow);
    Ok(Interpolated { t, image, flow })
}

pub(crate) fn check_same_size(
    a: &DynamicImage,
    b: &DynamicImage,
    first: &str,
    second: &str,
) -> Result<()> {
    if (a.width(), a.height()) != (b.width(), b.height()) {
        return Err(Error::FrameSize {
            first: first.into(),
            second: second.into(),
            a_w: a.width(),
            a_h: a.height(),
            b_w: b.width(),
            b_h: b.height(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_to_multiple() {
        let x = Array4::<f32>::from_elem((1, 3, 33, 64), 0.5);
        let p = pad(x.view(), 32);
        assert_eq!(p.dim(), (1, 3, 64, 64));
        assert_eq!(p[[0, 1, 32, 63]], 0.5);
        assert_eq!(p[[0, 1, 33, 0]], 0.0);
        assert_eq!(pad(x.view(), 1).dim(), (1, 3, 33, 64));
    }
}
