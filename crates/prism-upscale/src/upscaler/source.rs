//! The input image as model planes: samples, reflect padding, alpha plan and premultiplication.

use image::DynamicImage;
use rayon::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Color {
        premultiply: bool,
    },
    /// The alpha plane, replicated to three channels.
    Alpha,
}

pub(super) enum AlphaPlan {
    None,
    Constant(f32),
    Model,
    /// Output-size alpha, Lanczos-resampled (16-bit).
    Resampled(image::ImageBuffer<image::Luma<u16>, Vec<u16>>),
}

/// Raw samples of a decoded image.
enum Samples<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    F32(&'a [f32]),
    /// Layouts outside the bridge's set, converted once.
    Owned(Vec<f32>),
}

pub(super) struct Source<'a> {
    samples: Samples<'a>,
    channels: usize,
    width: usize,
    height: usize,
    gray: bool,
    pub(super) alpha: bool,
}

impl<'a> Source<'a> {
    pub(super) fn of(image: &'a DynamicImage) -> Source<'a> {
        use DynamicImage::*;
        let (samples, channels) = match image {
            ImageLuma8(b) => (Samples::U8(b.as_raw()), 1),
            ImageLumaA8(b) => (Samples::U8(b.as_raw()), 2),
            ImageRgb8(b) => (Samples::U8(b.as_raw()), 3),
            ImageRgba8(b) => (Samples::U8(b.as_raw()), 4),
            ImageLuma16(b) => (Samples::U16(b.as_raw()), 1),
            ImageLumaA16(b) => (Samples::U16(b.as_raw()), 2),
            ImageRgb16(b) => (Samples::U16(b.as_raw()), 3),
            ImageRgba16(b) => (Samples::U16(b.as_raw()), 4),
            ImageRgb32F(b) => (Samples::F32(b.as_raw()), 3),
            ImageRgba32F(b) => (Samples::F32(b.as_raw()), 4),
            other => (Samples::Owned(other.to_rgba32f().into_raw()), 4),
        };
        Source {
            samples,
            channels,
            width: image.width() as usize,
            height: image.height() as usize,
            gray: channels <= 2,
            alpha: channels == 2 || channels == 4,
        }
    }

    fn sample(&self, index: usize) -> f32 {
        match &self.samples {
            Samples::U8(d) => f32::from(d[index]) / 255.0,
            Samples::U16(d) => f32::from(d[index]) / 65535.0,
            Samples::F32(d) => d[index],
            Samples::Owned(d) => d[index],
        }
    }

    /// The alpha value when every pixel has the same one.
    pub(super) fn constant_alpha(&self) -> Option<f32> {
        let c = self.channels;
        let n = self.width * self.height;
        let first = self.sample(c - 1);
        let all_same = (0..n)
            .into_par_iter()
            .all(|i| self.sample(i * c + c - 1) == first);
        all_same.then_some(first)
    }

    /// Fills `[3, th, tw]` planes with the tile at (`x0`, `y0`), reflecting past the borders.
    pub(super) fn fill(
        &self,
        x0: usize,
        y0: usize,
        tw: usize,
        th: usize,
        kind: Kind,
        out: &mut [f32],
    ) {
        let plane = tw * th;
        let c = self.channels;
        let cols: Vec<usize> = (0..tw).map(|x| reflect(x0 + x, self.width)).collect();
        for y in 0..th {
            let row = reflect(y0 + y, self.height) * self.width;
            for (x, &col) in cols.iter().enumerate() {
                let base = (row + col) * c;
                let a = if self.alpha {
                    self.sample(base + c - 1)
                } else {
                    1.0
                };
                let (r, g, b) = match kind {
                    Kind::Alpha => (a, a, a),
                    Kind::Color { premultiply } => {
                        let (r, g, b) = if self.gray {
                            let v = self.sample(base);
                            (v, v, v)
                        } else {
                            (
                                self.sample(base),
                                self.sample(base + 1),
                                self.sample(base + 2),
                            )
                        };
                        if premultiply {
                            (r * a, g * a, b * a)
                        } else {
                            (r, g, b)
                        }
                    }
                };
                let i = y * tw + x;
                out[i] = r;
                out[plane + i] = g;
                out[2 * plane + i] = b;
            }
        }
    }
}

/// Mirror index (no edge repeat, like `torch.nn.functional.pad(mode="reflect")`), for any overshoot.
fn reflect(i: usize, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let k = i % period;
    if k < n { k } else { period - k }
}

pub(super) fn resample_alpha(
    source: &Source<'_>,
    width: u32,
    height: u32,
) -> image::ImageBuffer<image::Luma<u16>, Vec<u16>> {
    let c = source.channels;
    let data: Vec<u16> = (0..source.width * source.height)
        .map(|i| (source.sample(i * c + c - 1).clamp(0.0, 1.0) * 65535.0).round() as u16)
        .collect();
    let plane = image::ImageBuffer::from_raw(source.width as u32, source.height as u32, data)
        .expect("sized");
    match prism_media::resize(&DynamicImage::ImageLuma16(plane), width, height) {
        DynamicImage::ImageLuma16(b) => b,
        other => other.to_luma16(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_matches_torch() {
        // torch reflect pad of [0,1,2,3]: ... 2 1 | 0 1 2 3 | 2 1 0 1 ...
        let got: Vec<usize> = (0..10).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]);
        assert_eq!(reflect(5, 1), 0);
    }
}
