//! numpy arrays <-> images: `HxW` or `HxWxC` (C = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) of uint8,
//! uint16 or float32 (0..1). Results come back with the input's dtype, channels and rank.

use image::{DynamicImage, ImageBuffer};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::errors::with_code;

/// How an input array was laid out, so a result can be given back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// `HxW` rather than `HxWx1`.
    pub flat: bool,
    pub channels: usize,
    /// float32 gray (+alpha), run as RGB(A): the result is the channels' mean.
    pub float_gray: bool,
}

/// Copies a numpy array (any strides) into an image.
pub fn to_image(array: &Bound<'_, PyAny>) -> PyResult<(DynamicImage, Layout)> {
    if let Ok(a) = array.cast::<PyArrayDyn<u8>>() {
        let (w, h, layout, data) = samples(a)?;
        return Ok((integer(w, h, layout.channels, data, Depth8)?, layout));
    }
    if let Ok(a) = array.cast::<PyArrayDyn<u16>>() {
        let (w, h, layout, data) = samples(a)?;
        return Ok((integer(w, h, layout.channels, data, Depth16)?, layout));
    }
    if let Ok(a) = array.cast::<PyArrayDyn<f32>>() {
        let (w, h, mut layout, data) = samples(a)?;
        let image = match layout.channels {
            3 => ImageBuffer::from_raw(w, h, data).map(DynamicImage::ImageRgb32F),
            4 => ImageBuffer::from_raw(w, h, data).map(DynamicImage::ImageRgba32F),
            1 => {
                layout.float_gray = true;
                let rgb = data.iter().flat_map(|&v| [v, v, v]).collect();
                ImageBuffer::from_raw(w, h, rgb).map(DynamicImage::ImageRgb32F)
            }
            _ => {
                layout.float_gray = true;
                let rgba = data
                    .chunks_exact(2)
                    .flat_map(|p| [p[0], p[0], p[0], p[1]])
                    .collect();
                ImageBuffer::from_raw(w, h, rgba).map(DynamicImage::ImageRgba32F)
            }
        };
        return Ok((image.expect("sizes checked"), layout));
    }
    let kind = match array.getattr("dtype") {
        Ok(dtype) => format!("an array of {dtype}"),
        Err(_) => format!("a {}", array.get_type().name()?),
    };
    Err(PyTypeError::new_err(format!(
        "expected a numpy array of uint8, uint16 or float32 (HxW or HxWxC, C = 1 to 4), got {kind}"
    )))
}

/// Width, height, layout and the samples in row-major order.
fn samples<T: numpy::Element + Copy>(
    array: &Bound<'_, PyArrayDyn<T>>,
) -> PyResult<(u32, u32, Layout, Vec<T>)> {
    let shape = array.shape().to_vec();
    let (h, w, c, flat) = match shape[..] {
        [h, w] => (h, w, 1, true),
        [h, w, c] if (1..=4).contains(&c) => (h, w, c, false),
        _ => {
            return Err(with_code(
                6,
                format!("an image array must be HxW or HxWxC with C = 1 to 4, got shape {shape:?}"),
            ));
        }
    };
    if h == 0 || w == 0 {
        return Err(with_code(
            6,
            format!("the image is empty (shape {shape:?})"),
        ));
    }
    let (Ok(w32), Ok(h32)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err(with_code(
            6,
            format!("an image side exceeds 2^32 pixels (shape {shape:?})"),
        ));
    };
    let readonly = array.readonly();
    let data = match readonly.as_slice() {
        Ok(slice) => slice.to_vec(),
        Err(_) => readonly.as_array().iter().copied().collect(),
    };
    let layout = Layout {
        flat,
        channels: c,
        float_gray: false,
    };
    Ok((w32, h32, layout, data))
}

struct Depth8;
struct Depth16;

trait Depth<T> {
    fn wrap(w: u32, h: u32, c: usize, data: Vec<T>) -> Option<DynamicImage>;
}

impl Depth<u8> for Depth8 {
    fn wrap(w: u32, h: u32, c: usize, data: Vec<u8>) -> Option<DynamicImage> {
        match c {
            1 => ImageBuffer::from_raw(w, h, data).map(DynamicImage::ImageLuma8),
            2 => ImageBuffer::from_raw(w, h, data).map(DynamicImage::ImageLumaA8),
            3 => ImageBuffer::from_raw(w, h, data).map(DynamicImage::ImageRgb8),
            _ => ImageBuffer::from_raw(w, h, data).map(DynamicImage::ImageRgba8),
        }
    }
}

impl Depth<u16> for Depth16 {
    fn wrap(w: u32, h: u32, c: usize, data: Vec<u16>) -> Option<DynamicImage> {
        match c {
            1 => ImageBuffer::from_raw(w, h, data).map(DynamicImage::ImageLuma16),
            2 => ImageBuffer::from_raw(w, h, data).map(DynamicImage::ImageLumaA16),
            3 => ImageBuffer::from_raw(w, h, data).map(DynamicImage::ImageRgb16),
            _ => ImageBuffer::from_raw(w, h, data).map(DynamicImage::ImageRgba16),
        }
    }
}

fn integer<T, D: Depth<T>>(w: u32, h: u32, c: usize, data: Vec<T>, _: D) -> PyResult<DynamicImage> {
    Ok(D::wrap(w, h, c, data).expect("sizes checked"))
}

/// An image as a numpy array laid out like the input (`layout`); `None`: the image's own layout.
pub fn to_array<'py>(
    py: Python<'py>,
    image: DynamicImage,
    layout: Option<Layout>,
) -> PyResult<Bound<'py, PyAny>> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (array, channels) = match image {
        DynamicImage::ImageLuma8(b) => (PyArray1::from_vec(py, b.into_raw()).into_any(), 1),
        DynamicImage::ImageLumaA8(b) => (PyArray1::from_vec(py, b.into_raw()).into_any(), 2),
        DynamicImage::ImageRgb8(b) => (PyArray1::from_vec(py, b.into_raw()).into_any(), 3),
        DynamicImage::ImageRgba8(b) => (PyArray1::from_vec(py, b.into_raw()).into_any(), 4),
        DynamicImage::ImageLuma16(b) => (PyArray1::from_vec(py, b.into_raw()).into_any(), 1),
        DynamicImage::ImageLumaA16(b) => (PyArray1::from_vec(py, b.into_raw()).into_any(), 2),
        DynamicImage::ImageRgb16(b) => (PyArray1::from_vec(py, b.into_raw()).into_any(), 3),
        DynamicImage::ImageRgba16(b) => (PyArray1::from_vec(py, b.into_raw()).into_any(), 4),
        DynamicImage::ImageRgb32F(b) if layout.is_some_and(|l| l.float_gray) => {
            let gray: Vec<f32> = b.into_raw().chunks_exact(3).map(mean).collect();
            (PyArray1::from_vec(py, gray).into_any(), 1)
        }
        DynamicImage::ImageRgba32F(b) if layout.is_some_and(|l| l.float_gray) => {
            let la: Vec<f32> = b
                .into_raw()
                .chunks_exact(4)
                .flat_map(|p| [mean(&p[..3]), p[3]])
                .collect();
            (PyArray1::from_vec(py, la).into_any(), 2)
        }
        DynamicImage::ImageRgb32F(b) => (PyArray1::from_vec(py, b.into_raw()).into_any(), 3),
        other => (
            PyArray1::from_vec(py, other.into_rgba32f().into_raw()).into_any(),
            4,
        ),
    };
    let flat = channels == 1 && layout.is_none_or(|l| l.flat);
    if flat {
        array.call_method1("reshape", ((h, w),))
    } else {
        array.call_method1("reshape", ((h, w, channels),))
    }
}

fn mean(p: &[f32]) -> f32 {
    (p[0] + p[1] + p[2]) / 3.0
}
