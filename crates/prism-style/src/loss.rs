//! The Gatys loss and its gradient with respect to the VGG19 features and the image.
//!
//! With `F_l` the `[C, HW]` feature map of layer `l` of the image being optimised, `P_l` that of
//! the content image, and `G(F) = F Fᵀ / (C·H·W)` the normalised Gram matrix (jcjohnson/neural-style's
//! convention, so its weights for the Caffe VGG19 carry over: content 5, style 100; Prism starts
//! from the content image, not noise, and uses style 500 so that 300 steps stylise fully):
//!
//! - content = `content_weight · Σ_l w_l · mean((F_l − P_l)²)`
//! - style   = `style_weight · Σ_l w_l · mean((G(F_l) − A_l)²)`, `A_l` the (blended) style Gram
//! - tv      = `tv_weight · (mean((x[.., y, x+1] − x[.., y, x])²) + mean((x[.., y+1, x] − x[.., y, x])²))`
//!   on the 0..1 image. Being a mean, it balances the other terms the same way at every size;
//!   neural-style's `tv_weight 1e-3` (a sum over the 0..255 image) equals `TV_WEIGHT` at its
//!   512 px default.
//!
//! Sums are accumulated in `f64`.

use ndarray::{Array2, Array4, ArrayView2, Axis, Zip};

use crate::vgg::{Features, Layer};

/// A layer and its weight within the content or style term.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerWeight {
    pub layer: Layer,
    pub weight: f32,
}

impl LayerWeight {
    pub fn new(layer: Layer, weight: f32) -> Self {
        Self { layer, weight }
    }
}

impl std::str::FromStr for LayerWeight {
    type Err = String;
    /// `relu4_2` or `relu4_2:0.5`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, weight) = match s.split_once(':') {
            Some((n, w)) => (
                n,
                w.parse::<f32>()
                    .map_err(|_| format!("bad layer weight in `{s}`"))?,
            ),
            None => (s, 1.0),
        };
        Ok(LayerWeight::new(name.parse()?, weight))
    }
}

/// Loss weights and layers.
#[derive(Debug, Clone, PartialEq)]
pub struct LossWeights {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    pub content_layers: Vec<LayerWeight>,
    pub style_layers: Vec<LayerWeight>,
}

/// Default content weight (for the Caffe VGG19 features, 0..255 scale).
pub const CONTENT_WEIGHT: f64 = 5.0;
/// Default style weight (neural-style's 100, x5: the run starts from the content image).
pub const STYLE_WEIGHT: f64 = 500.0;
/// Default total-variation weight: `0.5 · 1e-3 · 255² · 3 · 512²` (neural-style's 1e-3 at 512 px).
pub const TV_WEIGHT: f64 = 2.5e7;

impl Default for LossWeights {
    /// [`CONTENT_WEIGHT`], [`STYLE_WEIGHT`], [`TV_WEIGHT`]; content relu4_2, style
    /// relu1_1..relu5_1 at 1 each.
    fn default() -> Self {
        Self {
            content: CONTENT_WEIGHT,
            style: STYLE_WEIGHT,
            tv: TV_WEIGHT,
            content_layers: vec![LayerWeight::new(Layer::Relu4_2, 1.0)],
            style_layers: [
                Layer::Relu1_1,
                Layer::Relu2_1,
                Layer::Relu3_1,
                Layer::Relu4_1,
                Layer::Relu5_1,
            ]
            .into_iter()
            .map(|l| LayerWeight::new(l, 1.0))
            .collect(),
        }
    }
}

/// The weighted loss terms of one evaluation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LossTerms {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    pub total: f64,
}

/// What the optimised image is pulled towards: content features and style Gram matrices.
#[derive(Debug, Clone)]
pub struct Targets {
    /// Content features per content layer (`[1, C, H, W]`).
    pub content: Vec<(LayerWeight, Array4<f32>)>,
    /// Gram matrices per style layer (`[C, C]`).
    pub style: Vec<(LayerWeight, Array2<f32>)>,
}

impl Targets {
    /// Targets from the content image's features and the style images' features with blend
    /// weights (normalised to sum 1; the target Gram is the blend of the styles' Grams).
    pub fn new(weights: &LossWeights, content: &Features, styles: &[(Features, f32)]) -> Targets {
        let total: f32 = styles.iter().map(|(_, b)| b).sum();
        let style = weights
            .style_layers
            .iter()
            .map(|lw| {
                let i = lw.layer.index();
                let c = content[i].dim().1;
                let mut g = Array2::<f32>::zeros((c, c));
                for (f, blend) in styles {
                    g.scaled_add(blend / total, &gram(&f[i]));
                }
                (*lw, g)
            })
            .collect();
        let content = weights
            .content_layers
            .iter()
            .map(|lw| (*lw, content[lw.layer.index()].clone()))
            .collect();
        Targets { content, style }
    }
}

fn as_matrix(f: &Array4<f32>) -> ArrayView2<'_, f32> {
    let (_, c, h, w) = f.dim();
    f.view()
        .into_shape_with_order((c, h * w))
        .expect("features are in standard layout")
}

/// `F Fᵀ / (C·H·W)` of a `[1, C, H, W]` feature map.
pub fn gram(f: &Array4<f32>) -> Array2<f32> {
    let (_, c, h, w) = f.dim();
    let m = as_matrix(f);
    let mut g = m.dot(&m.t());
    g /= (c * h * w) as f32;
    g
}

/// Evaluates the feature part of the loss (content and style) and its gradient with respect to
/// each of the six features (zeros where a layer is unused), in [`Layer::ALL`] order.
pub fn feature_loss(
    weights: &LossWeights,
    targets: &Targets,
    features: &Features,
) -> (f64, f64, Vec<Array4<f32>>) {
    let mut grads: Vec<Array4<f32>> = features.iter().map(|f| Array4::zeros(f.dim())).collect();
    let mut content = 0.0f64;
    for (lw, target) in &targets.content {
        let i = lw.layer.index();
        let f = &features[i];
        let n = f.len() as f64;
        let mut sum = 0.0f64;
        let scale = (2.0 * weights.content * f64::from(lw.weight) / n) as f32;
        Zip::from(&mut grads[i])
            .and(f)
            .and(target)
            .for_each(|g, &x, &p| {
                let d = x - p;
                sum += f64::from(d) * f64::from(d);
                *g += scale * d;
            });
        content += weights.content * f64::from(lw.weight) * sum / n;
    }
    let mut style = 0.0f64;
    for (lw, a) in &targets.style {
        let i = lw.layer.index();
        let f = &features[i];
        let (_, c, h, w) = f.dim();
        let g = gram(f);
        let diff = &g - a;
        let sum: f64 = diff.iter().map(|&d| f64::from(d) * f64::from(d)).sum();
        let cc = (c * c) as f64;
        style += weights.style * f64::from(lw.weight) * sum / cc;
        // d/dF of mean((FFᵀ/N − A)²) = 4 (G − A) F / (C² N), G − A symmetric.
        let scale = (4.0 * weights.style * f64::from(lw.weight) / (cc * (c * h * w) as f64)) as f32;
        let df = diff.dot(&as_matrix(f));
        let df = df
            .into_shape_with_order((1, c, h, w))
            .expect("standard layout");
        grads[i].scaled_add(scale, &df);
    }
    (content, style, grads)
}

/// Total variation of a `[1, 3, H, W]` image (weighted), adding its gradient into `grad`.
pub fn total_variation(tv_weight: f64, image: &Array4<f32>, grad: &mut Array4<f32>) -> f64 {
    if tv_weight == 0.0 {
        return 0.0;
    }
    let (_, c, h, w) = image.dim();
    let mut loss = 0.0f64;
    for (axis, len) in [(Axis(3), w), (Axis(2), h)] {
        if len < 2 {
            continue;
        }
        let n = (c * (len - 1) * image.len() / (c * len)) as f64;
        let scale = (2.0 * tv_weight / n) as f32;
        let a = image.slice_axis(axis, (0..len - 1).into());
        let b = image.slice_axis(axis, (1..len).into());
        let d = &b - &a;
        loss += d.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / n;
        grad.slice_axis_mut(axis, (1..len).into())
            .scaled_add(scale, &d);
        grad.slice_axis_mut(axis, (0..len - 1).into())
            .scaled_add(-scale, &d);
    }
    tv_weight * loss
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// Central differences of the feature loss w.r.t. a few feature entries (pure Rust maths).
    #[test]
    fn feature_gradient_matches_finite_differences() {
        let mut state = 7u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let shapes = [
            (64, 4, 4),
            (128, 2, 2),
            (256, 1, 1),
            (512, 1, 1),
            (512, 1, 1),
            (512, 1, 1),
        ];
        let mk = |r: &mut dyn FnMut() -> f32| -> Features {
            shapes
                .iter()
                .map(|&(c, h, w)| Array4::from_shape_fn((1, c, h, w), |_| r()))
                .collect()
        };
        let content = mk(&mut rnd);
        let style = mk(&mut rnd);
        let x = mk(&mut rnd);
        let weights = LossWeights {
            style: 1e3,
            ..LossWeights::default()
        };
        let targets = Targets::new(&weights, &content, &[(style, 1.0)]);
        let (_, _, grads) = feature_loss(&weights, &targets, &x);
        for (layer, idx) in [
            (0usize, [0, 3, 1, 2]),
            (1, [0, 100, 1, 0]),
            (5, [0, 7, 0, 0]),
        ] {
            let h = 1e-2f32;
            let eval = |delta: f32| {
                let mut y = x.clone();
                y[layer][idx] += delta;
                let (c, s, _) = feature_loss(&weights, &targets, &y);
                c + s
            };
            let numeric = (eval(h) - eval(-h)) / (2.0 * f64::from(h));
            assert_relative_eq!(
                f64::from(grads[layer][idx]),
                numeric,
                max_relative = 1e-3,
                epsilon = 1e-9
            );
        }
    }

    #[test]
    fn tv_gradient_matches_finite_differences() {
        let image = Array4::from_shape_fn((1, 3, 5, 6), |(_, c, y, x)| {
            ((c * 7 + y * 3 + x * 5) % 11) as f32 / 11.0
        });
        let mut grad = Array4::zeros(image.dim());
        total_variation(0.5, &image, &mut grad);
        for idx in [[0, 0, 0, 0], [0, 1, 2, 3], [0, 2, 4, 5]] {
            let eval = |d: f32| {
                let mut y = image.clone();
                y[idx] += d;
                total_variation(0.5, &y, &mut Array4::zeros(image.dim()))
            };
            let numeric = (eval(1e-3) - eval(-1e-3)) / 2e-3;
            assert_relative_eq!(f64::from(grad[idx]), numeric, max_relative = 1e-3);
        }
    }
}
