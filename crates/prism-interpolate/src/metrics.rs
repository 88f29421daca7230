//! Image similarity: PSNR, and SSIM computed as scikit-image's `structural_similarity` does by
//! default (7x7 uniform window, sample covariance, K1 = 0.01, K2 = 0.03, borders of 3 excluded,
//! mean over channels), so figures compare with the Python side's.

use image::DynamicImage;
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis};

/// Planes `[C, H, W]` in 0..1 of any 8/16-bit or float image (alpha dropped).
pub fn planes(image: &DynamicImage) -> Array3<f32> {
    let t = prism_core::image_to_tensor(image, prism_core::ValueRange::Unit);
    t.color.index_axis_move(Axis(0), 0)
}

/// Peak signal-to-noise ratio in dB for data in 0..1 (`inf` for identical inputs).
pub fn psnr(a: ArrayView3<f32>, b: ArrayView3<f32>) -> f64 {
    assert_eq!(a.dim(), b.dim(), "PSNR of arrays of different shapes");
    let n = a.len().max(1) as f64;
    let mse: f64 = a
        .iter()
        .zip(b.iter())
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum::<f64>()
        / n;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        -10.0 * mse.log10()
    }
}

/// Mean SSIM over the channels of two `[C, H, W]` arrays in 0..1.
pub fn ssim(a: ArrayView3<f32>, b: ArrayView3<f32>) -> f64 {
    assert_eq!(a.dim(), b.dim(), "SSIM of arrays of different shapes");
    let c = a.dim().0.max(1);
    a.outer_iter()
        .zip(b.outer_iter())
        .map(|(x, y)| ssim_plane(x, y))
        .sum::<f64>()
        / c as f64
}

/// SSIM of one plane; planes smaller than the 7x7 window fall back to a single global window.
pub fn ssim_plane(a: ArrayView2<f32>, b: ArrayView2<f32>) -> f64 {
    const WIN: usize = 7;
    let (h, w) = a.dim();
    let (c1, c2) = ((0.01f64).powi(2), (0.03f64).powi(2));
    if h < WIN || w < WIN {
        return global_ssim(a, b, c1, c2);
    }
    // Summed-area tables of x, y, x^2, y^2, xy for O(1) window sums.
    let table = |f: &dyn Fn(f64, f64) -> f64| -> Array2<f64> {
        let mut t = Array2::<f64>::zeros((h + 1, w + 1));
        for y in 0..h {
            let mut row = 0.0;
            for x in 0..w {
                row += f(f64::from(a[[y, x]]), f64::from(b[[y, x]]));
                t[[y + 1, x + 1]] = t[[y, x + 1]] + row;
            }
        }
        t
    };
    let (sx, sy) = (table(&|x, _| x), table(&|_, y| y));
    let (sxx, syy, sxy) = (
        table(&|x, _| x * x),
        table(&|_, y| y * y),
        table(&|x, y| x * y),
    );
    let sum = |t: &Array2<f64>, y: usize, x: usize| {
        t[[y + WIN, x + WIN]] - t[[y, x + WIN]] - t[[y + WIN, x]] + t[[y, x]]
    };
    let np = (WIN * WIN) as f64;
    let cov_norm = np / (np - 1.0);
    let mut total = 0.0;
    let mut count = 0usize;
    // Window centres from 3 to h-4 (scikit-image crops `(win - 1) / 2` on each side).
    for y in 0..=h - WIN {
        for x in 0..=w - WIN {
            let ux = sum(&sx, y, x) / np;
            let uy = sum(&sy, y, x) / np;
            let vx = cov_norm * (sum(&sxx, y, x) / np - ux * ux);
            let vy = cov_norm * (sum(&syy, y, x) / np - uy * uy);
            let vxy = cov_norm * (sum(&sxy, y, x) / np - ux * uy);
            let s = ((2.0 * ux * uy + c1) * (2.0 * vxy + c2))
                / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
            total += s;
            count += 1;
        }
    }
    total / count as f64
}

fn global_ssim(a: ArrayView2<f32>, b: ArrayView2<f32>, c1: f64, c2: f64) -> f64 {
    let n = a.len().max(1) as f64;
    let ux = a.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let uy = b.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (mut vx, mut vy, mut vxy) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b.iter()) {
        let (dx, dy) = (f64::from(x) - ux, f64::from(y) - uy);
        vx += dx * dx;
        vy += dy * dy;
        vxy += dx * dy;
    }
    let d = (n - 1.0).max(1.0);
    let (vx, vy, vxy) = (vx / d, vy / d, vxy / d);
    ((2.0 * ux * uy + c1) * (2.0 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_and_different() {
        let a = Array3::from_shape_fn((1, 16, 16), |(_, y, x)| {
            ((x * 7 + y * 3) % 11) as f32 / 10.0
        });
        assert_eq!(ssim(a.view(), a.view()), 1.0);
        assert!(psnr(a.view(), a.view()).is_infinite());
        let b = a.mapv(|v| 1.0 - v);
        assert!(ssim(a.view(), b.view()) < 0.0);
        let c = a.mapv(|v| v + 0.01);
        assert!((psnr(a.view(), c.view()) - 40.0).abs() < 1e-3);
    }
}
