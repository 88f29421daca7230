//! Colour helpers shared by fast and neural style: luminance-only transfer and blending.

use ndarray::{ArrayView3, ArrayViewMut3, Zip};

/// BT.601 luma of RGB.
fn luma(r: f32, g: f32, b: f32) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

/// Keeps the stylised image's luminance and takes the chroma (BT.601 YUV U and V) from `content`:
/// the "original colours" option. Both are `[3, H, W]` in the same value range.
pub fn preserve_colors(stylised: ArrayViewMut3<f32>, content: ArrayView3<f32>) {
    let mut stylised = stylised;
    let (mut sr, mut rest) = stylised.view_mut().split_at(ndarray::Axis(0), 1);
    let (mut sg, mut sb) = rest.view_mut().split_at(ndarray::Axis(0), 1);
    let (cr, crest) = content.split_at(ndarray::Axis(0), 1);
    let (cg, cb) = crest.split_at(ndarray::Axis(0), 1);
    Zip::from(&mut sr)
        .and(&mut sg)
        .and(&mut sb)
        .and(&cr)
        .and(&cg)
        .and(&cb)
        .for_each(|r, g, b, &cr, &cg, &cb| {
            let y = luma(*r, *g, *b);
            let yc = luma(cr, cg, cb);
            // Same chroma as the content pixel at the stylised luminance: add the luma change.
            let d = y - yc;
            (*r, *g, *b) = (cr + d, cg + d, cb + d);
        });
}

/// `strength·stylised + (1 − strength)·content`, in place in `stylised`.
pub fn blend(stylised: ArrayViewMut3<f32>, content: ArrayView3<f32>, strength: f32) {
    Zip::from(stylised)
        .and(&content)
        .for_each(|s, &c| *s = strength * *s + (1.0 - strength) * c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn preserved_colors_have_stylised_luma_and_content_chroma() {
        let content =
            Array3::from_shape_vec((3, 1, 2), vec![0.8, 0.1, 0.2, 0.5, 0.1, 0.9]).unwrap();
        let mut s = Array3::from_shape_vec((3, 1, 2), vec![0.3, 0.6, 0.3, 0.2, 0.3, 0.1]).unwrap();
        let before = s.clone();
        preserve_colors(s.view_mut(), content.view());
        for x in 0..2 {
            let y = |a: &Array3<f32>| luma(a[[0, 0, x]], a[[1, 0, x]], a[[2, 0, x]]);
            assert!((y(&s) - y(&before)).abs() < 1e-6);
            // U = B − Y and V = R − Y are the content's.
            let u = |a: &Array3<f32>| a[[2, 0, x]] - y(a);
            let v = |a: &Array3<f32>| a[[0, 0, x]] - y(a);
            assert!((u(&s) - u(&content)).abs() < 1e-6);
            assert!((v(&s) - v(&content)).abs() < 1e-6);
        }
    }
}
