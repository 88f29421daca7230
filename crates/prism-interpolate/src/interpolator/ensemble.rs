//! One network evaluation: ensemble (swapped pair) and TTA (mirrored pair) variants batched into
//! one run and averaged back.

use ndarray::{Array4, ArrayView4, s};

use super::Interpolator;
use super::frames::Raw;
use crate::error::Result;

impl Interpolator {
    /// One network evaluation at `t` on padded frames, with ensemble / TTA variants batched into
    /// one run and averaged back, and the FP32 rerun on non-finite output.
    pub(super) fn infer(
        &mut self,
        a: &Array4<f32>,
        b: &Array4<f32>,
        t: f32,
        height: usize,
        width: usize,
    ) -> Result<Raw> {
        let mut variants = vec![Variant::default()];
        if self.options.ensemble {
            variants.push(Variant {
                swap: true,
                flip: false,
            });
        }
        if self.options.tta {
            let mirrored: Vec<Variant> = variants
                .iter()
                .map(|v| Variant { flip: true, ..*v })
                .collect();
            variants.extend(mirrored);
        }
        let (n, hp, wp) = (variants.len(), a.dim().2, a.dim().3);
        if n == 1 {
            // The plain run: the session's outputs are the result as they are.
            let times = Array4::from_elem((1, 1, 1, 1), t);
            let (frame, flow) = self.run_checked(a.clone(), b.clone(), times)?;
            return Ok(Raw { frame, flow });
        }
        let mut img0 = Array4::<f32>::zeros((n, 3, hp, wp));
        let mut img1 = Array4::<f32>::zeros((n, 3, hp, wp));
        let mut times = Array4::<f32>::zeros((n, 1, 1, 1));
        for (i, v) in variants.iter().enumerate() {
            let (x, y, tt) = if v.swap { (b, a, 1.0 - t) } else { (a, b, t) };
            if v.flip {
                mirror_into(
                    x.view(),
                    img0.slice_mut(s![i..i + 1, .., .., ..]),
                    height,
                    width,
                );
                mirror_into(
                    y.view(),
                    img1.slice_mut(s![i..i + 1, .., .., ..]),
                    height,
                    width,
                );
            } else {
                img0.slice_mut(s![i, .., .., ..])
                    .assign(&x.slice(s![0, .., .., ..]));
                img1.slice_mut(s![i, .., .., ..])
                    .assign(&y.slice(s![0, .., .., ..]));
            }
            times[[i, 0, 0, 0]] = tt;
        }
        let (frames, flows) = self.run_checked(img0, img1, times)?;
        let mut frame = Array4::<f32>::zeros((1, 3, hp, wp));
        let mut flow = Array4::<f32>::zeros((1, 4, hp, wp));
        for (i, v) in variants.iter().enumerate() {
            let mut f = frames.slice(s![i..i + 1, .., .., ..]).to_owned();
            let mut w = flows.slice(s![i..i + 1, .., .., ..]).to_owned();
            if v.flip {
                let f0 = f.clone();
                mirror_into(f0.view(), f.view_mut(), height, width);
                let w0 = w.clone();
                mirror_into(w0.view(), w.view_mut(), height, width);
                // Mirrored x displacements point the other way.
                w.slice_mut(s![.., 0, .., ..]).mapv_inplace(|x| -x);
                w.slice_mut(s![.., 2, .., ..]).mapv_inplace(|x| -x);
            }
            if v.swap {
                // The swapped run's flow to its img0 is our flow to img1, and the reverse.
                let w0 = w.clone();
                w.slice_mut(s![.., 0..2, .., ..])
                    .assign(&w0.slice(s![.., 2..4, .., ..]));
                w.slice_mut(s![.., 2..4, .., ..])
                    .assign(&w0.slice(s![.., 0..2, .., ..]));
            }
            frame += &f;
            flow += &w;
        }
        let k = 1.0 / n as f32;
        frame.mapv_inplace(|x| x * k);
        flow.mapv_inplace(|x| x * k);
        Ok(Raw { frame, flow })
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Variant {
    swap: bool,
    flip: bool,
}

/// Writes `src` (one image, padded) mirrored left-right within its valid `height x width` region
/// into `dst`; the padding stays as `dst` had it for images and becomes zero for fresh arrays.
fn mirror_into(
    src: ArrayView4<f32>,
    mut dst: ndarray::ArrayViewMut4<f32>,
    height: usize,
    width: usize,
) {
    let valid = src.slice(s![0..1, .., ..height, ..width]);
    let flipped = valid.slice(s![.., .., .., ..;-1]);
    dst.slice_mut(s![0..1, .., ..height, ..width])
        .assign(&flipped);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_keeps_padding_out() {
        let mut x = Array4::<f32>::zeros((1, 1, 2, 4));
        x[[0, 0, 0, 0]] = 1.0;
        x[[0, 0, 0, 2]] = 3.0;
        let mut y = Array4::<f32>::zeros((1, 1, 2, 4));
        mirror_into(x.view(), y.view_mut(), 2, 3);
        assert_eq!(y[[0, 0, 0, 0]], 3.0);
        assert_eq!(y[[0, 0, 0, 2]], 1.0);
        assert_eq!(y[[0, 0, 0, 3]], 0.0);
    }
}
