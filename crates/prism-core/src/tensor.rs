//! The image <-> tensor bridge: `DynamicImage` in any decoded layout to NCHW planes and back.
//!
//! Colour always becomes three RGB planes (gray is replicated), alpha a separate plane, and the
//! original layout is remembered so the result can be the same kind of image again. Conversion runs
//! row-parallel over plain slices; 8- and 16-bit images round-trip bit for bit.

use half::{f16, slice::HalfFloatSliceExt};
use image::{DynamicImage, ImageBuffer, Luma, LumaA};
use ndarray::{Array2, Array3, Array4, ArrayView2, ArrayView3, s};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// The numeric convention a model expects for colour values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValueRange {
    /// 0.0 ..= 1.0 (super-resolution, interpolation).
    #[default]
    Unit,
    /// 0.0 ..= 255.0 (fast style networks).
    Byte,
}

impl ValueRange {
    fn scale(self) -> f32 {
        match self {
            ValueRange::Unit => 1.0,
            ValueRange::Byte => 255.0,
        }
    }

    /// Parses the `prism.value_range` metadata value (`0..1` or `0..255`).
    pub fn from_metadata(text: &str) -> Option<Self> {
        match text.trim() {
            "0..1" => Some(ValueRange::Unit),
            "0..255" => Some(ValueRange::Byte),
            _ => None,
        }
    }
}

/// Colour channels of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    Gray,
    GrayAlpha,
    Rgb,
    Rgba,
}

impl Channels {
    pub fn has_alpha(self) -> bool {
        matches!(self, Channels::GrayAlpha | Channels::Rgba)
    }
}

/// Bits per sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    U8,
    U16,
    F32,
}

/// What kind of image a tensor came from, so it can become that kind again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelLayout {
    pub channels: Channels,
    pub depth: Depth,
}

impl PixelLayout {
    pub fn of(image: &DynamicImage) -> PixelLayout {
        use DynamicImage::*;
        let (channels, depth) = match image {
            ImageLuma8(_) => (Channels::Gray, Depth::U8),
            ImageLumaA8(_) => (Channels::GrayAlpha, Depth::U8),
            ImageRgb8(_) => (Channels::Rgb, Depth::U8),
            ImageRgba8(_) => (Channels::Rgba, Depth::U8),
            ImageLuma16(_) => (Channels::Gray, Depth::U16),
            ImageLumaA16(_) => (Channels::GrayAlpha, Depth::U16),
            ImageRgb16(_) => (Channels::Rgb, Depth::U16),
            ImageRgba16(_) => (Channels::Rgba, Depth::U16),
            ImageRgb32F(_) => (Channels::Rgb, Depth::F32),
            _ => (Channels::Rgba, Depth::F32),
        };
        PixelLayout { channels, depth }
    }
}

/// An image as model-ready planes.
#[derive(Debug, Clone)]
pub struct ImageTensor {
    /// `[1, 3, H, W]` RGB colour in the requested value range.
    pub color: Array4<f32>,
    /// `[H, W]` alpha in the same value range, when the image has alpha.
    pub alpha: Option<Array2<f32>>,
    pub layout: PixelLayout,
}

/// A sample type the bridge converts: its full-scale value and how to round back.
trait Sample: Copy + Send + Sync + 'static {
    const FULL_SCALE: f32;
    fn to_f32(self) -> f32;
    fn from_f32(value: f32) -> Self;
}

impl Sample for u8 {
    const FULL_SCALE: f32 = 255.0;
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
    fn from_f32(value: f32) -> Self {
        value.round().clamp(0.0, 255.0) as u8
    }
}

impl Sample for u16 {
    const FULL_SCALE: f32 = 65535.0;
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
    fn from_f32(value: f32) -> Self {
        value.round().clamp(0.0, 65535.0) as u16
    }
}

impl Sample for f32 {
    const FULL_SCALE: f32 = 1.0;
    fn to_f32(self) -> f32 {
        self
    }
    fn from_f32(value: f32) -> Self {
        value
    }
}

/// Converts an image to RGB planes (`[1, 3, H, W]`) plus an alpha plane, in `range`.
pub fn image_to_tensor(image: &DynamicImage, range: ValueRange) -> ImageTensor {
    image_to_tensor_padded(image, range, 1)
}

/// [`image_to_tensor`] with the colour planes zero-padded on the right and bottom to the next
/// multiple of `multiple` (`[1, 3, Hp, Wp]`), in the same single pass; alpha stays `[H, W]`.
pub fn image_to_tensor_padded(
    image: &DynamicImage,
    range: ValueRange,
    multiple: usize,
) -> ImageTensor {
    use DynamicImage::*;
    let layout = PixelLayout::of(image);
    let (w, h) = (image.width() as usize, image.height() as usize);
    let m = multiple.max(1);
    let d = Dims {
        w,
        h,
        wp: w.div_ceil(m) * m,
        hp: h.div_ceil(m) * m,
    };
    let (color, alpha) = match image {
        ImageLuma8(b) => planes::<_, 1>(b.as_raw(), d, range),
        ImageLumaA8(b) => planes::<_, 2>(b.as_raw(), d, range),
        ImageRgb8(b) => planes::<_, 3>(b.as_raw(), d, range),
        ImageRgba8(b) => planes::<_, 4>(b.as_raw(), d, range),
        ImageLuma16(b) => planes::<_, 1>(b.as_raw(), d, range),
        ImageLumaA16(b) => planes::<_, 2>(b.as_raw(), d, range),
        ImageRgb16(b) => planes::<_, 3>(b.as_raw(), d, range),
        ImageRgba16(b) => planes::<_, 4>(b.as_raw(), d, range),
        ImageRgb32F(b) => planes::<_, 3>(b.as_raw(), d, range),
        ImageRgba32F(b) => planes::<_, 4>(b.as_raw(), d, range),
        other => planes::<_, 4>(other.to_rgba32f().as_raw(), d, range),
    };
    ImageTensor {
        color,
        alpha,
        layout,
    }
}

/// Image size and the padded plane size.
#[derive(Clone, Copy)]
struct Dims {
    w: usize,
    h: usize,
    wp: usize,
    hp: usize,
}

/// Deinterleaves `C`-channel pixels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) into RGB planes (zero
/// beyond `w x h`) and an alpha plane. `C` is a constant, so pixels are fixed-size arrays and
/// indexing them costs no checks.
fn planes<T: Sample, const C: usize>(
    src: &[T],
    Dims { w, h, wp, hp }: Dims,
    range: ValueRange,
) -> (Array4<f32>, Option<Array2<f32>>) {
    let factor = range.scale() / T::FULL_SCALE;
    let (gray, has_alpha) = (C < 3, C.is_multiple_of(2));
    let mut color = Array4::<f32>::zeros((1, 3, hp, wp));
    let mut alpha = has_alpha.then(|| Array2::<f32>::zeros((h, w)));
    if w == 0 || h == 0 {
        return (color, alpha);
    }
    let plane = wp * hp;
    let data = color.as_slice_mut().expect("fresh arrays are contiguous");
    let (r, rest) = data.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    let (gi, bi) = (1.min(C - 1), 2.min(C - 1));
    // Padded rows are longer than the pixels (zip stops at `w`); rows past `h` stay zero.
    r.par_chunks_mut(wp)
        .zip(g.par_chunks_mut(wp))
        .zip(b.par_chunks_mut(wp))
        .zip(src.par_chunks(w * C))
        .for_each(|(((r, g), b), row)| {
            let (pixels, _) = row.as_chunks::<C>();
            for (((r, g), b), px) in r.iter_mut().zip(g).zip(b).zip(pixels) {
                let v = px[0].to_f32() * factor;
                if gray {
                    (*r, *g, *b) = (v, v, v);
                } else {
                    (*r, *g, *b) = (v, px[gi].to_f32() * factor, px[bi].to_f32() * factor);
                }
            }
        });
    if let Some(alpha) = alpha.as_mut() {
        let a = alpha.as_slice_mut().expect("fresh arrays are contiguous");
        a.par_chunks_mut(w)
            .zip(src.par_chunks(w * C))
            .for_each(|(a, row)| {
                for (a, px) in a.iter_mut().zip(row.as_chunks::<C>().0) {
                    *a = px[C - 1].to_f32() * factor;
                }
            });
    }
    (color, alpha)
}

/// Converts `[3, H, W]` (or `[1, H, W]`) colour planes and an optional `[H, W]` alpha plane in
/// `range` back to an image of `layout`. Integer samples are rounded and clamped; gray layouts take
/// the Rec. 601 luma of RGB planes. A missing alpha plane for a layout with alpha is opaque.
pub fn tensor_to_image(
    color: ArrayView3<f32>,
    alpha: Option<ArrayView2<f32>>,
    layout: PixelLayout,
    range: ValueRange,
) -> Result<DynamicImage> {
    let (c, h, w) = color.dim();
    if c != 3 && c != 1 {
        return Err(Error::TensorShape {
            shape: color.shape().to_vec(),
            reason: "expected 1 or 3 colour planes".into(),
        });
    }
    if let Some(a) = &alpha
        && a.dim() != (h, w)
    {
        return Err(Error::TensorShape {
            shape: a.shape().to_vec(),
            reason: format!("alpha plane is not {h}x{w}"),
        });
    }
    let (Ok(width), Ok(height)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err(Error::TensorShape {
            shape: color.shape().to_vec(),
            reason: "too large for an image".into(),
        });
    };
    // Rows are read in place when each is contiguous (a crop of padded planes is); else one copy.
    let copied: Array3<f32>;
    let color = if color.strides()[2] == 1 || w <= 1 {
        color
    } else {
        copied = color.as_standard_layout().into_owned();
        copied.view()
    };
    let alpha = alpha.map(|a| a.as_standard_layout().into_owned());
    let src = Source {
        color,
        alpha: alpha
            .as_ref()
            .map(|a| a.as_slice().expect("standard layout")),
        w,
        h,
    };
    use Channels::{Gray, GrayAlpha, Rgb, Rgba};
    use Depth::{F32, U8, U16};
    use image::{Rgb as PRgb, Rgba as PRgba};
    let image = match (layout.channels, layout.depth) {
        (Gray, U8) => {
            DynamicImage::ImageLuma8(buffer::<Luma<u8>, u8, 1>(&src, range, width, height))
        }
        (GrayAlpha, U8) => {
            DynamicImage::ImageLumaA8(buffer::<LumaA<u8>, u8, 2>(&src, range, width, height))
        }
        (Rgb, U8) => DynamicImage::ImageRgb8(buffer::<PRgb<u8>, u8, 3>(&src, range, width, height)),
        (Rgba, U8) => {
            DynamicImage::ImageRgba8(buffer::<PRgba<u8>, u8, 4>(&src, range, width, height))
        }
        (Gray, U16) => {
            DynamicImage::ImageLuma16(buffer::<Luma<u16>, u16, 1>(&src, range, width, height))
        }
        (GrayAlpha, U16) => {
            DynamicImage::ImageLumaA16(buffer::<LumaA<u16>, u16, 2>(&src, range, width, height))
        }
        (Rgb, U16) => {
            DynamicImage::ImageRgb16(buffer::<PRgb<u16>, u16, 3>(&src, range, width, height))
        }
        (Rgba, U16) => {
            DynamicImage::ImageRgba16(buffer::<PRgba<u16>, u16, 4>(&src, range, width, height))
        }
        (Gray | Rgb, F32) => {
            DynamicImage::ImageRgb32F(buffer::<PRgb<f32>, f32, 3>(&src, range, width, height))
        }
        (GrayAlpha | Rgba, F32) => {
            DynamicImage::ImageRgba32F(buffer::<PRgba<f32>, f32, 4>(&src, range, width, height))
        }
    };
    Ok(image)
}

struct Source<'a> {
    /// `[planes, h, w]`, each row contiguous.
    color: ArrayView3<'a, f32>,
    alpha: Option<&'a [f32]>,
    w: usize,
    h: usize,
}

impl Source<'_> {
    /// Row `y` of plane `p`.
    fn row(&self, p: usize, y: usize) -> &[f32] {
        self.color
            .slice(s![p, y, ..])
            .to_slice()
            .expect("rows are contiguous")
    }
}

/// Interleaves planes into `C`-channel pixels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA).
fn buffer<P, T, const C: usize>(
    src: &Source<'_>,
    range: ValueRange,
    width: u32,
    height: u32,
) -> ImageBuffer<P, Vec<T>>
where
    P: image::Pixel<Subpixel = T>,
    T: Sample + image::Primitive,
{
    let (gray, has_alpha) = (C < 3, C.is_multiple_of(2));
    let (gi, bi) = (1.min(C - 1), 2.min(C - 1));
    let mut out = vec![T::from_f32(0.0); src.w * src.h * C];
    if src.w > 0 && src.h > 0 {
        let factor = T::FULL_SCALE / range.scale();
        let single = src.color.dim().0 == 1;
        let (gp, bp) = if single { (0, 0) } else { (1, 2) };
        // Without an alpha plane, layouts with alpha come out opaque.
        let opaque_row = vec![range.scale(); src.w];
        out.par_chunks_mut(src.w * C)
            .enumerate()
            .for_each(|(y, row)| {
                let (r, g, b) = (src.row(0, y), src.row(gp, y), src.row(bp, y));
                let alphas = src
                    .alpha
                    .map_or(&opaque_row[..], |a| &a[y * src.w..(y + 1) * src.w]);
                for (((px, &r), (&g, &b)), &a) in row
                    .as_chunks_mut::<C>()
                    .0
                    .iter_mut()
                    .zip(r)
                    .zip(g.iter().zip(b))
                    .zip(alphas)
                {
                    if gray {
                        let luma = if single {
                            r
                        } else {
                            0.299 * r + 0.587 * g + 0.114 * b
                        };
                        px[0] = T::from_f32(luma * factor);
                    } else {
                        px[0] = T::from_f32(r * factor);
                        px[gi] = T::from_f32(g * factor);
                        px[bi] = T::from_f32(b * factor);
                    }
                    if has_alpha {
                        px[C - 1] = T::from_f32(a * factor);
                    }
                }
            });
    }
    ImageBuffer::from_raw(width, height, out).expect("buffer size matches the dimensions")
}

/// FP32 -> FP16, in parallel and with the `half` crate's vectorised conversion.
pub fn to_f16<D: ndarray::Dimension>(array: &ndarray::Array<f32, D>) -> ndarray::Array<f16, D> {
    let standard = array.as_standard_layout();
    let src = standard.as_slice().expect("standard layout");
    let mut out = vec![f16::ZERO; src.len()];
    out.par_chunks_mut(1 << 16)
        .zip(src.par_chunks(1 << 16))
        .for_each(|(o, s)| o.convert_from_f32_slice(s));
    ndarray::Array::from_shape_vec(array.raw_dim(), out).expect("same element count")
}

/// FP16 -> FP32, the counterpart of [`to_f16`].
pub fn to_f32<D: ndarray::Dimension>(array: &ndarray::Array<f16, D>) -> ndarray::Array<f32, D> {
    let standard = array.as_standard_layout();
    let src = standard.as_slice().expect("standard layout");
    let mut out = vec![0f32; src.len()];
    out.par_chunks_mut(1 << 16)
        .zip(src.par_chunks(1 << 16))
        .for_each(|(o, s)| s.convert_to_f32_slice(o));
    ndarray::Array::from_shape_vec(array.raw_dim(), out).expect("same element count")
}
