//! [`Strip`]: FP32 accumulation of tile outputs, flushed row by row into the output image.

use image::DynamicImage;
use ndarray::{Array3, Axis as NdAxis, s};
use prism_core::tensor::{Channels, Depth};
use prism_core::{PixelLayout, ValueRange, tensor_to_image};
use rayon::prelude::*;

use super::source::{AlphaPlan, Kind};

pub(super) fn output_color(layout: PixelLayout) -> image::ColorType {
    use image::ColorType as C;
    match (layout.channels, layout.depth) {
        (Channels::Gray, Depth::U8) => C::L8,
        (Channels::GrayAlpha, Depth::U8) => C::La8,
        (Channels::Rgb, Depth::U8) => C::Rgb8,
        (Channels::Rgba, Depth::U8) => C::Rgba8,
        (Channels::Gray, Depth::U16) => C::L16,
        (Channels::GrayAlpha, Depth::U16) => C::La16,
        (Channels::Rgb, Depth::U16) => C::Rgb16,
        (Channels::Rgba, Depth::U16) => C::Rgba16,
        (Channels::Gray | Channels::Rgb, Depth::F32) => C::Rgb32F,
        (Channels::GrayAlpha | Channels::Rgba, Depth::F32) => C::Rgba32F,
    }
}

/// FP32 accumulator for the output rows that tiles still contribute to.
pub(super) struct Strip {
    planes: usize,
    width: usize,
    rows: usize,
    /// Output row held in the strip's first row.
    y0: usize,
    data: Vec<f32>,
}

impl Strip {
    pub(super) fn new(planes: usize, width: usize, rows: usize) -> Strip {
        Strip {
            planes,
            width,
            rows,
            y0: 0,
            data: vec![0.0; planes * width * rows],
        }
    }

    /// Adds a weighted tile output (`[3, h, w]`, placed at output `ox`, `oy`).
    pub(super) fn add(
        &mut self,
        tile: ndarray::ArrayView3<f32>,
        kind: Kind,
        ox: usize,
        oy: usize,
        wx: &[f32],
        wy: &[f32],
    ) {
        let (width, rows, y0) = (self.width, self.rows, self.y0);
        let plane_len = width * rows;
        let row_offset = oy - y0;
        let cols = wx.len();
        let target_planes: &[usize] = match kind {
            Kind::Color { .. } => &[0, 1, 2],
            Kind::Alpha => &[3],
        };
        for (pi, &p) in target_planes.iter().enumerate() {
            let plane = &mut self.data[p * plane_len..(p + 1) * plane_len];
            plane
                .par_chunks_mut(width)
                .skip(row_offset)
                .take(wy.len())
                .enumerate()
                .for_each(|(y, row)| {
                    let weight_y = wy[y];
                    if weight_y == 0.0 {
                        return;
                    }
                    let dst = &mut row[ox..ox + cols];
                    match kind {
                        Kind::Color { .. } => {
                            let src = tile.slice(s![pi, y, ..cols]);
                            for ((d, &v), &wxv) in dst.iter_mut().zip(src.iter()).zip(wx) {
                                *d += v.clamp(0.0, 1.0) * wxv * weight_y;
                            }
                        }
                        Kind::Alpha => {
                            for (x, (d, &wxv)) in dst.iter_mut().zip(wx).enumerate() {
                                let v = (tile[[0, y, x]] + tile[[1, y, x]] + tile[[2, y, x]]) / 3.0;
                                *d += v.clamp(0.0, 1.0) * wxv * weight_y;
                            }
                        }
                    }
                });
        }
    }

    /// Converts output rows `[y0, until)` into `output`'s layout, then shifts the strip up.
    pub(super) fn flush(
        &mut self,
        until: usize,
        alpha: &AlphaPlan,
        premultiplied: bool,
        layout: PixelLayout,
        output: &mut DynamicImage,
    ) -> prism_core::Result<()> {
        let n = until - self.y0;
        if n == 0 {
            return Ok(());
        }
        let (width, rows) = (self.width, self.rows);
        let plane_len = width * rows;
        let mut color = Array3::<f32>::zeros((3, n, width));
        for p in 0..3 {
            color
                .index_axis_mut(NdAxis(0), p)
                .as_slice_mut()
                .expect("contiguous")
                .copy_from_slice(&self.data[p * plane_len..p * plane_len + n * width]);
        }
        let alpha_plane = match alpha {
            AlphaPlan::None => None,
            AlphaPlan::Constant(a) => Some(ndarray::Array2::from_elem((n, width), *a)),
            AlphaPlan::Model => Some(
                ndarray::Array2::from_shape_vec(
                    (n, width),
                    self.data[3 * plane_len..3 * plane_len + n * width].to_vec(),
                )
                .expect("sized"),
            ),
            AlphaPlan::Resampled(buffer) => {
                let start = self.y0 * width;
                let values = buffer.as_raw()[start..start + n * width]
                    .iter()
                    .map(|&v| f32::from(v) / 65535.0)
                    .collect();
                Some(ndarray::Array2::from_shape_vec((n, width), values).expect("sized"))
            }
        };
        if premultiplied && let Some(a) = &alpha_plane {
            for mut plane in color.outer_iter_mut() {
                ndarray::Zip::from(&mut plane).and(a).par_for_each(|c, &a| {
                    *c = if a > 1.0 / 65535.0 {
                        (*c / a).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                });
            }
        }
        let part = tensor_to_image(
            color.view(),
            alpha_plane.as_ref().map(|a| a.view()),
            layout,
            ValueRange::Unit,
        )?;
        paste_rows(output, &part, self.y0);
        // Shift the remaining rows up and clear the freed ones.
        for p in 0..self.planes {
            let plane = &mut self.data[p * plane_len..(p + 1) * plane_len];
            plane.copy_within(n * width.., 0);
            let keep = plane_len - n * width;
            plane[keep..].fill(0.0);
        }
        self.y0 = until;
        Ok(())
    }
}

/// Copies `part` (full width, same layout) into `output` starting at row `y`.
fn paste_rows(output: &mut DynamicImage, part: &DynamicImage, y: usize) {
    macro_rules! paste {
        ($($variant:ident),*) => {
            match (output, part) {
                $((DynamicImage::$variant(dst), DynamicImage::$variant(src)) => {
                    let row = src.as_raw().len() / (src.height().max(1) as usize);
                    let start = y * row;
                    let raw: &mut [_] = &mut *dst;
                    raw[start..start + src.as_raw().len()].copy_from_slice(src.as_raw());
                })*
                _ => unreachable!("strip and output share a layout"),
            }
        };
    }
    paste!(
        ImageLuma8,
        ImageLumaA8,
        ImageRgb8,
        ImageRgba8,
        ImageLuma16,
        ImageLumaA16,
        ImageRgb16,
        ImageRgba16,
        ImageRgb32F,
        ImageRgba32F
    );
}
