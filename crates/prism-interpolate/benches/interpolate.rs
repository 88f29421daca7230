//! Milliseconds per interpolated frame on CPU: the whole `Interpolator::interpolate` call (image
//! -> tensor, padding, session, crop, tensor -> image) against the bare session run on the same
//! padded tensors, so Prism's overhead is visible. Prints one JSON line per case for
//! `export/bench/interpolate_speed.py`, which puts PyTorch beside it.
//!
//! `cargo bench -p prism-interpolate --bench interpolate [-- MODEL_ID...]`

use std::time::Instant;

use image::{DynamicImage, RgbImage};
use ndarray::Array4;
use prism_core::models::find_exported;
use prism_core::{Device, Model, Precision, SessionOptions, Tensor};
use prism_interpolate::{Interpolator, InterpolatorOptions};

fn frame(w: u32, h: u32, shift: u32) -> DynamicImage {
    // A smooth real-looking gradient pattern moved by `shift` pixels.
    DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
        let x = x + shift;
        image::Rgb([
            ((x * 7 + y * 3) % 256) as u8,
            ((x / 3 + y * 2) % 256) as u8,
            (((x ^ y) * 5) % 256) as u8,
        ])
    }))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let ids = if args.is_empty() {
        vec!["rife-v4.0".to_string(), "rife-hd-v3".to_string()]
    } else {
        args
    };
    let session = SessionOptions {
        device: Device::Cpu,
        precision: Precision::Fp32,
        ..SessionOptions::default()
    };
    for id in &ids {
        let path = find_exported(id)
            .expect("manifest")
            .unwrap_or_else(|| panic!("{id} is not exported: run `cargo xtask test`"))
            .path;
        let mut rife = Interpolator::new(
            &path,
            InterpolatorOptions {
                session: session.clone(),
                ..InterpolatorOptions::default()
            },
        )
        .expect("load");
        let mut bare = Model::load(&path, &session).expect("load");
        let with_t = bare.info().inputs.len() == 3;
        for (w, h, runs) in [(448u32, 256u32, 10usize), (1280, 720, 7)] {
            let (a, b) = (frame(w, h, 0), frame(w, h, 3));
            rife.interpolate(&a, &b, 0.5).expect("warm-up");
            let (pa, pb) = (rife.prepare(&a).unwrap(), rife.prepare(&b).unwrap());
            let padded = |p: &prism_interpolate::Prepared| -> Array4<f32> { p.padded().clone() };
            let inputs = || {
                let mut v = vec![
                    Tensor::F32(padded(&pa).into_dyn()),
                    Tensor::F32(padded(&pb).into_dyn()),
                ];
                if with_t {
                    v.push(Tensor::F32(
                        Array4::from_elem((1, 1, 1, 1), 0.5f32).into_dyn(),
                    ));
                }
                v
            };
            bare.run(inputs()).expect("warm-up");
            // Interleaved, so load from other processes hits both alike.
            let (mut full, mut session_ms) = (Vec::new(), Vec::new());
            for _ in 0..runs {
                let t0 = Instant::now();
                std::hint::black_box(rife.interpolate(&a, &b, 0.5).expect("run"));
                full.push(t0.elapsed().as_secs_f64() * 1e3);
                let x = inputs();
                let t0 = Instant::now();
                std::hint::black_box(bare.run(x).expect("run"));
                session_ms.push(t0.elapsed().as_secs_f64() * 1e3);
            }
            let (f, s) = (median(full), median(session_ms));
            println!(
                "{{\"model\": \"{id}\", \"width\": {w}, \"height\": {h}, \"prism_ms\": {f:.2}, \"session_ms\": {s:.2}, \"overhead_ms\": {:.2}}}",
                f - s
            );
        }
    }
}
