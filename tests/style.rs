//! Neural style end to end: the Rust loss + ONNX VJP gradient against torch.autograd and finite
//! differences, Adam and L-BFGS against PyTorch, and the loop's behaviour on real photographs.
//!
//! References come from `export/parity/style_parity.py` (PyTorch, run by `cargo xtask test`).

mod common;

use std::ops::ControlFlow;
use std::path::PathBuf;

use approx::assert_relative_eq;
use image::DynamicImage;
use ndarray::{Array4, s};
use prism_core::{Device, SessionOptions, ValueRange, image_to_tensor};
use prism_style::loss::{Targets, feature_loss, total_variation};
use prism_style::neural::evaluate;
use prism_style::{
    Init, LineSearch, LossWeights, NeuralOptions, Optimizer, Pool, StyleImage, Vgg, neural_style,
};

fn reference() -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(common::parity_dir("style").join("reference.json")).unwrap(),
    )
    .unwrap()
}

fn raw_f32(name: &str, shape: (usize, usize, usize, usize)) -> Array4<f32> {
    let bytes = std::fs::read(common::parity_dir("style").join(name)).unwrap();
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Array4::from_shape_vec(shape, values).unwrap()
}

fn png(name: &str) -> DynamicImage {
    image::open(common::parity_dir("style").join(name)).unwrap()
}

fn cpu() -> SessionOptions {
    SessionOptions {
        device: Device::Cpu,
        ..SessionOptions::default()
    }
}

fn vgg() -> Vgg {
    common::exported("vgg19-features");
    common::exported("vgg19-vjp");
    Vgg::load(Pool::Max, &cpu()).unwrap()
}

/// The loss weights of the parity script: the defaults.
fn parity_weights() -> LossWeights {
    LossWeights::default()
}

fn targets(vgg: &mut Vgg, weights: &LossWeights) -> Targets {
    let t = |name| image_to_tensor(&png(name), ValueRange::Unit).color;
    let content = vgg.features(&t("content.png")).unwrap();
    let style = vgg.features(&t("style.png")).unwrap();
    Targets::new(weights, &content, &[(style, 1.0)])
}

fn rel_l2(a: &Array4<f32>, b: &Array4<f32>) -> f64 {
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let den: f64 = b.iter().map(|&y| f64::from(y).powi(2)).sum();
    (num / den).sqrt()
}

fn psnr(a: &Array4<f32>, b: &Array4<f32>) -> f64 {
    let mse: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x.clamp(0.0, 1.0)) - f64::from(y.clamp(0.0, 1.0))).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (1.0 / mse).log10()
}

/// The largest relative deviation of our total loss from PyTorch's, step by step.
fn worst_loss_deviation(ours: &[prism_style::LossTerms], torch: &[serde_json::Value]) -> f64 {
    ours.iter()
        .zip(torch)
        .map(|(ours, theirs)| {
            let t = theirs["total"].as_f64().unwrap();
            (ours.total - t).abs() / t
        })
        .fold(0.0, f64::max)
}

fn content_and_style() -> (DynamicImage, DynamicImage) {
    (png("content.png"), png("style.png"))
}

#[test]
fn loss_gradient_matches_torch_autograd() {
    let reference = reference();
    let mut vgg = vgg();
    assert_eq!(
        vgg.weights,
        reference["vgg_weights"]["kind"].as_str().unwrap()
    );
    let weights = parity_weights();
    let targets = targets(&mut vgg, &weights);
    let x = image_to_tensor(&png("init.png"), ValueRange::Unit).color;
    let (terms, grad) = evaluate(&mut vgg, &weights, &targets, &x, true).unwrap();
    let grad = grad.unwrap();
    let want = &reference["grad"]["loss"];
    assert_relative_eq!(
        terms.content,
        want["content"].as_f64().unwrap(),
        max_relative = 1e-4
    );
    assert_relative_eq!(
        terms.style,
        want["style"].as_f64().unwrap(),
        max_relative = 1e-4
    );
    assert_relative_eq!(terms.tv, want["tv"].as_f64().unwrap(), max_relative = 1e-4);
    let torch = raw_f32("grad.f32", x.dim());
    let err = rel_l2(&grad, &torch);
    eprintln!("relative L2 error of d loss / d image against torch.autograd: {err:.2e}");
    assert!(err < 1e-4, "relative error {err:.2e}");
}

/// Central differences in f64 through the real ONNX graphs on 16x16 crops of real photos: along
/// single pixels and along random ±1 directions over the whole image (the loss is only piecewise
/// smooth: every ReLU or pooling kink crossed within ±h biases the quotient, which shrinks with h
/// while f32 rounding of the features grows as 1/h: with the Caffe VGG19's 0..255-scale features the
/// loss is ~1e9, so h is 1e-3 / 3e-3 on the 0..1 image and single pixels also pass within 2% of the
/// largest pixel gradient (the rounding error is absolute), and the tolerance is percent-level; the
/// 1e-4 agreement is checked against torch.autograd above).
#[test]
fn loss_gradient_matches_finite_differences() {
    common::exported("vgg19-features-avgpool");
    common::exported("vgg19-vjp-avgpool");
    let mut vgg = Vgg::load(Pool::Avg, &cpu()).unwrap();
    let weights = LossWeights::default();
    let crop = |name: &str, x: u32, y: u32| {
        image::open(common::real_image(name))
            .unwrap()
            .crop_imm(x, y, 64, 64)
            .resize_exact(16, 16, image::imageops::FilterType::Triangle)
    };
    let t = |im: &DynamicImage| image_to_tensor(im, ValueRange::Unit).color;
    let content = vgg.features(&t(&crop("astronaut.png", 180, 60))).unwrap();
    let style = vgg.features(&t(&crop("coffee.png", 200, 150))).unwrap();
    let targets = Targets::new(&weights, &content, &[(style, 1.0)]);
    let x = t(&crop("chelsea.png", 150, 50));
    let (_, grad) = evaluate(&mut vgg, &weights, &targets, &x, true).unwrap();
    let grad = grad.unwrap();
    let mut loss_at = |x: &Array4<f32>| -> f64 {
        let f = vgg.features(x).unwrap();
        let (c, s, _) = feature_loss(&weights, &targets, &f);
        c + s + total_variation(weights.tv, x, &mut Array4::zeros(x.dim()))
    };
    let mut central = |v: &Array4<f32>, h: f32| {
        let plus = &x + &(v * h);
        let minus = &x - &(v * h);
        (loss_at(&plus) - loss_at(&minus)) / (2.0 * f64::from(h))
    };
    let dot = |v: &Array4<f32>| -> f64 {
        grad.iter()
            .zip(v)
            .map(|(&g, &v)| f64::from(g) * f64::from(v))
            .sum()
    };
    let gmax = grad.iter().fold(0.0f64, |m, &g| m.max(f64::from(g.abs())));
    let mut seed = 1u64;
    for _ in 0..3 {
        let v = Array4::from_shape_simple_fn(x.dim(), || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if seed >> 63 == 0 { 1.0f32 } else { -1.0 }
        });
        let numeric = central(&v, 1e-3);
        eprintln!("random direction: analytic {} numeric {numeric}", dot(&v));
        assert_relative_eq!(dot(&v), numeric, max_relative = 2e-2);
    }
    // Each channel's steepest pixel must match on its own (no absolute allowance there).
    for channel in 0..3 {
        let (idx, _) = grad
            .indexed_iter()
            .filter(|(i, _)| i.1 == channel)
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap();
        let idx = [idx.0, idx.1, idx.2, idx.3];
        let mut v = Array4::zeros(x.dim());
        v[idx] = 1.0;
        let numeric = central(&v, 3e-3);
        eprintln!("steepest {idx:?}: analytic {} numeric {numeric}", grad[idx]);
        assert_relative_eq!(f64::from(grad[idx]), numeric, max_relative = 1e-2);
    }
    for idx in [[0, 0, 3, 4], [0, 1, 8, 8], [0, 2, 12, 5], [0, 0, 15, 15]] {
        let mut v = Array4::zeros(x.dim());
        v[idx] = 1.0;
        let numeric = central(&v, 3e-3);
        eprintln!("{idx:?}: analytic {} numeric {numeric}", grad[idx]);
        assert_relative_eq!(
            f64::from(grad[idx]),
            numeric,
            max_relative = 5e-2,
            epsilon = 2e-2 * gmax
        );
    }
}

fn parity_options(optimizer: Optimizer, steps: usize) -> NeuralOptions {
    NeuralOptions {
        steps,
        optimizer,
        loss: parity_weights(),
        ..NeuralOptions::default()
    }
}

#[test]
fn adam_matches_pytorch() {
    let reference = reference();
    let adam = &reference["adam"];
    let steps = adam["steps"].as_u64().unwrap() as usize;
    let lr = adam["lr"].as_f64().unwrap() as f32;
    let (content, style) = content_and_style();
    let mut vgg = vgg();
    let result = neural_style(
        &mut vgg,
        &content,
        &[StyleImage {
            image: &style,
            weight: 1.0,
        }],
        &parity_options(Optimizer::Adam { lr }, steps),
        &mut |_| ControlFlow::Continue(()),
    )
    .unwrap();
    let torch_losses = adam["losses"].as_array().unwrap();
    assert_eq!(result.losses[0].len(), torch_losses.len());
    let worst = worst_loss_deviation(&result.losses[0], torch_losses);
    let final_psnr = psnr(&result.raw, &raw_f32("adam_final.f32", result.raw.dim()));
    eprintln!(
        "Adam vs PyTorch: worst loss deviation {:.3}%, final PSNR {final_psnr:.1} dB",
        worst * 100.0
    );
    assert!(worst < 0.01, "loss curve deviates by {:.3}%", worst * 100.0);
    assert!(final_psnr >= 40.0, "final image PSNR {final_psnr:.1} dB");
}

#[test]
fn lbfgs_without_line_search_matches_torch_optim_lbfgs() {
    let reference = reference();
    let lbfgs = &reference["lbfgs"];
    let iterations = lbfgs["iterations"].as_u64().unwrap() as usize;
    let history = lbfgs["history"].as_u64().unwrap() as usize;
    let (content, style) = content_and_style();
    let mut vgg = vgg();
    let optimizer = Optimizer::Lbfgs {
        history,
        line_search: LineSearch::Fixed,
        lr: 1.0,
    };
    let result = neural_style(
        &mut vgg,
        &content,
        &[StyleImage {
            image: &style,
            weight: 1.0,
        }],
        &parity_options(optimizer, iterations),
        &mut |_| ControlFlow::Continue(()),
    )
    .unwrap();
    let torch_losses = lbfgs["losses"].as_array().unwrap();
    let worst = worst_loss_deviation(&result.losses[0], torch_losses);
    let final_psnr = psnr(&result.raw, &raw_f32("lbfgs_final.f32", result.raw.dim()));
    eprintln!(
        "L-BFGS vs PyTorch: worst loss deviation {:.3}%, final PSNR {final_psnr:.1} dB",
        worst * 100.0
    );
    assert_eq!(result.losses[0].len(), torch_losses.len());
    assert!(worst < 0.01, "loss curve deviates by {:.3}%", worst * 100.0);
    assert!(final_psnr >= 40.0, "final image PSNR {final_psnr:.1} dB");
}

fn real(name: &str, long: u32) -> DynamicImage {
    let im = image::open(common::real_image(name)).unwrap();
    im.resize(long, long, image::imageops::FilterType::Lanczos3)
}

fn out_dir() -> PathBuf {
    let dir = common::root().join("target/style-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The default loop (L-BFGS with the Armijo line search) on a real content/style pair: the loss
/// never rises, falls a lot, and the image changes; a sheet is written for a person to look at.
#[test]
fn lbfgs_loss_falls_monotonically_on_a_real_pair() {
    let content = real("astronaut.png", 96);
    let style = real("coffee.png", 96);
    let mut vgg = vgg();
    let options = NeuralOptions {
        steps: 25,
        ..NeuralOptions::default()
    };
    let result = neural_style(
        &mut vgg,
        &content,
        &[StyleImage {
            image: &style,
            weight: 1.0,
        }],
        &options,
        &mut |_| ControlFlow::Continue(()),
    )
    .unwrap();
    let losses: Vec<f64> = result.losses[0].iter().map(|l| l.total).collect();
    eprintln!("L-BFGS losses: {losses:?} -> {}", result.final_loss.total);
    for pair in losses.windows(2) {
        assert!(pair[1] <= pair[0], "loss rose: {pair:?}");
    }
    assert!(result.final_loss.total <= *losses.last().unwrap());
    assert!(result.final_loss.total < 0.2 * losses[0], "{losses:?}");
    assert_eq!((result.image.width(), result.image.height()), (96, 96));
    let c = image_to_tensor(&content, ValueRange::Unit).color;
    let r = image_to_tensor(&result.image, ValueRange::Unit).color;
    let change = psnr(&r, &c);
    eprintln!("result vs content: {change:.1} dB");
    assert!(change < 30.0, "the image barely changed ({change:.1} dB)");
    let sheet = prism_style::sheet::side_by_side(&[&content, &style, &result.image], 192);
    sheet
        .save(out_dir().join("neural_lbfgs_sheet.png"))
        .unwrap();
}

#[test]
fn noise_init_is_deterministic_for_a_seed() {
    let content = real("astronaut.png", 48);
    let style = real("coffee.png", 48);
    let mut vgg = vgg();
    let mut run = |seed| {
        let options = NeuralOptions {
            steps: 3,
            init: Init::Noise,
            seed,
            optimizer: Optimizer::Adam { lr: 0.02 },
            ..NeuralOptions::default()
        };
        neural_style(
            &mut vgg,
            &content,
            &[StyleImage {
                image: &style,
                weight: 1.0,
            }],
            &options,
            &mut |_| ControlFlow::Continue(()),
        )
        .unwrap()
    };
    let a = run(7);
    let b = run(7);
    let c = run(8);
    assert_eq!(a.image.as_bytes(), b.image.as_bytes());
    assert_eq!(a.raw, b.raw);
    assert_ne!(a.image.as_bytes(), c.image.as_bytes());
}

#[test]
fn progress_reports_snapshots_and_cancels() {
    let content = real("astronaut.png", 32);
    let style = real("coffee.png", 32);
    let mut vgg = vgg();
    let options = NeuralOptions {
        steps: 10,
        snapshot_every: 2,
        optimizer: Optimizer::Adam { lr: 0.02 },
        ..NeuralOptions::default()
    };
    let mut seen = Vec::new();
    let err = neural_style(
        &mut vgg,
        &content,
        &[StyleImage {
            image: &style,
            weight: 1.0,
        }],
        &options,
        &mut |p| {
            assert!(p.loss.total.is_finite() && p.loss.style > 0.0);
            seen.push((p.step, p.snapshot.map(|s| (s.width(), s.height()))));
            if p.step == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, prism_style::Error::Cancelled { step: 3 }),
        "{err}"
    );
    assert_eq!(
        seen,
        vec![
            (0, Some((32, 32))),
            (1, None),
            (2, Some((32, 32))),
            (3, None)
        ]
    );
}

/// The result (and every snapshot) has exactly the content's size, or with `size` the long side
/// `size` and the short side `round(size * short / long)`, whatever the VGG's multiple of 16:
/// odd sizes, portrait and landscape, sides below 16, both optimisers, several scales.
#[test]
fn results_have_the_asked_size_at_odd_sizes() {
    let photo = image::open(common::real_image("astronaut.png")).unwrap();
    let odd = |w, h| photo.resize_exact(w, h, image::imageops::FilterType::Triangle);
    let style = real("coffee.png", 48);
    let styles = [StyleImage {
        image: &style,
        weight: 1.0,
    }];
    let mut vgg = vgg();
    let adam = Optimizer::Adam { lr: 0.02 };
    let lbfgs = Optimizer::default();
    // (content w, h, --size, optimizer, scales, expected w, h)
    let cases = [
        (160, 120, None, lbfgs, 1, (160, 120)),
        (61, 37, None, adam, 1, (61, 37)),
        (37, 61, None, lbfgs, 1, (37, 61)),
        (10, 7, None, adam, 1, (10, 7)),
        (161, 97, Some(40), lbfgs, 1, (40, 24)),
        (97, 161, Some(33), adam, 1, (20, 33)),
        (10, 7, Some(9), lbfgs, 1, (9, 6)),
        (10, 7, Some(45), adam, 1, (45, 32)),
        (30, 30, Some(23), adam, 1, (23, 23)),
        (161, 97, Some(75), lbfgs, 2, (75, 45)),
    ];
    for (w, h, size, optimizer, scales, want) in cases {
        let content = odd(w, h);
        let options = NeuralOptions {
            size,
            steps: 2,
            scales,
            optimizer,
            snapshot_every: 1,
            ..NeuralOptions::default()
        };
        let mut last_level = (0, 0);
        let mut snapshots = Vec::new();
        let result = neural_style(&mut vgg, &content, &styles, &options, &mut |p| {
            if p.scale + 1 == p.scales {
                last_level = (p.width, p.height);
                snapshots.extend(p.snapshot.map(|s| (s.width(), s.height())));
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        let case = format!("{w}x{h} size {size:?} {optimizer:?} scales {scales}");
        let got = (result.image.width(), result.image.height());
        assert_eq!(got, want, "{case}");
        assert_eq!(
            result.raw.dim(),
            (1, 3, want.1 as usize, want.0 as usize),
            "{case}"
        );
        assert_eq!(last_level, want, "{case}: reported level size");
        assert!(!snapshots.is_empty(), "{case}");
        assert!(
            snapshots.iter().all(|&s| s == want),
            "{case}: snapshots {snapshots:?}"
        );
    }
    let err = neural_style(
        &mut vgg,
        &odd(20, 20),
        &styles,
        &NeuralOptions {
            size: Some(0),
            ..NeuralOptions::default()
        },
        &mut |_| ControlFlow::Continue(()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("size"), "{err}");
}

/// Two levels (48 then 96 px), several styles blended, original colours, average pooling.
#[test]
fn multi_scale_blended_styles_with_original_colors() {
    let content = real("astronaut.png", 96);
    let coffee = real("coffee.png", 96);
    let chelsea = real("chelsea.png", 96);
    common::exported("vgg19-features-avgpool");
    common::exported("vgg19-vjp-avgpool");
    let mut vgg = Vgg::load(Pool::Avg, &cpu()).unwrap();
    let options = NeuralOptions {
        size: Some(96),
        steps: 6,
        scales: 2,
        original_colors: true,
        ..NeuralOptions::default()
    };
    let mut sizes = Vec::new();
    let result = neural_style(
        &mut vgg,
        &content,
        &[
            StyleImage {
                image: &coffee,
                weight: 0.7,
            },
            StyleImage {
                image: &chelsea,
                weight: 0.3,
            },
        ],
        &options,
        &mut |p| {
            sizes.push((p.scale, p.width));
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    assert_eq!(sizes.first(), Some(&(0, 48)));
    assert_eq!(sizes.last(), Some(&(1, 96)));
    assert_eq!(result.losses.len(), 2);
    // The second level starts from the upsampled first result: far below a fresh start's loss.
    assert!(result.losses[1][0].total < result.losses[0][0].total);
    assert_eq!((result.image.width(), result.image.height()), (96, 96));
    // Original colours: the chroma (B - Y, R - Y) is the content's, up to clamping and rounding.
    let r = image_to_tensor(&result.image, ValueRange::Unit).color;
    let c = image_to_tensor(&content, ValueRange::Unit).color;
    let chroma = |t: &Array4<f32>, y: usize, x: usize| {
        let l = 0.299 * t[[0, 0, y, x]] + 0.587 * t[[0, 1, y, x]] + 0.114 * t[[0, 2, y, x]];
        (t[[0, 2, y, x]] - l, t[[0, 0, y, x]] - l)
    };
    let mut sum = 0.0f32;
    for y in 0..96 {
        for x in 0..96 {
            let (a, b) = (chroma(&r, y, x), chroma(&c, y, x));
            sum += (a.0 - b.0).abs() + (a.1 - b.1).abs();
        }
    }
    let mean = sum / (2.0 * 96.0 * 96.0);
    eprintln!("mean chroma difference: {mean}");
    assert!(mean < 0.03, "mean chroma difference {mean}");
    let sheet =
        prism_style::sheet::side_by_side(&[&content, &coffee, &chelsea, &result.image], 192);
    sheet
        .save(out_dir().join("neural_multiscale_sheet.png"))
        .unwrap();
}

#[test]
fn neural_style_rejects_bad_options() {
    let content = real("astronaut.png", 32);
    let mut vgg = vgg();
    let err = neural_style(
        &mut vgg,
        &content,
        &[],
        &NeuralOptions::default(),
        &mut |_| ControlFlow::Continue(()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("style image"), "{err}");
    let image = image_to_tensor(&content, ValueRange::Unit).color;
    let odd = image.slice(s![.., .., ..30, ..]).to_owned();
    let err = vgg.features(&odd).unwrap_err();
    assert!(matches!(err, prism_style::Error::ImageSize { .. }), "{err}");
}
