//! Measures one upscale: wall time, time inside the ONNX Runtime session (the rest is Prism's
//! overhead), megapixels per second, and peak resident memory against the stated bound.
//! Used by `export/bench/upscale_memory.py` and `export/bench/upscale_speed.py`; prints JSON.
//!
//! ```sh
//! cargo run --release -p prism-upscale --example upscale_bench -- \
//!     --model realesr-animevideov3-x4 --size 4096x4096 --tile 256
//! cargo run --release -p prism-upscale --example upscale_bench -- \
//!     --model realesrgan-x4plus --image photo.png --tile 128 --overlap 16 --repeat 3
//! ```

use std::time::Instant;

use image::{DynamicImage, RgbImage};
use prism_core::{Device, SessionOptions};
use prism_upscale::{TileSize, UpscaleOptions, Upscaler};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Peak resident set size of this process so far, in bytes (Linux `VmHWM`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A deterministic synthetic photo-like image: gradients plus fine texture.
fn synthetic(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        let t = ((x.wrapping_mul(7919) ^ y.wrapping_mul(104729)) % 61) as u8;
        image::Rgb([
            ((x * 255 / width.max(1)) as u8).wrapping_add(t),
            ((y * 255 / height.max(1)) as u8).wrapping_add(t / 2),
            (((x + y) / 4 % 256) as u8).wrapping_add(t / 3),
        ])
    }))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = arg(&args, "--model").unwrap_or_else(|| "realesr-animevideov3-x4".into());
    let tile = match arg(&args, "--tile").as_deref() {
        None | Some("auto") => TileSize::Auto,
        Some("whole") => TileSize::Whole,
        Some(n) => TileSize::Size(n.parse().expect("--tile N")),
    };
    let overlap = arg(&args, "--overlap").map(|o| o.parse().expect("--overlap N"));
    let threads = arg(&args, "--threads").map(|t| t.parse().expect("--threads N"));
    let options = UpscaleOptions {
        session: SessionOptions {
            device: Device::Cpu,
            intra_threads: threads,
            ..SessionOptions::default()
        },
        tile,
        overlap,
        ..UpscaleOptions::default()
    };
    let mut upscaler = Upscaler::from_model(&model, options).expect("model loads");
    let image = match (arg(&args, "--image"), arg(&args, "--size")) {
        (Some(path), _) => {
            prism_media::read_image(path.as_ref(), &Default::default())
                .expect("image")
                .image
        }
        (None, Some(size)) => {
            let (w, h) = size.split_once('x').expect("--size WxH");
            synthetic(w.parse().unwrap(), h.parse().unwrap())
        }
        (None, None) => synthetic(512, 512),
    };
    // Warm-up on one tile's worth of image: the session arena reaches its steady size.
    let t = upscaler
        .tile_size()
        .min(image.width() as usize)
        .min(image.height() as usize) as u32;
    upscaler
        .upscale(&image.crop_imm(0, 0, t, t))
        .expect("warm-up");
    let (warm_session, warm_runs) = upscaler.session_stats();
    let rss_after_warmup = peak_rss();

    // `--repeat N`: the median wall time of N upscales (session time and runs: per upscale).
    let repeat: usize = arg(&args, "--repeat").map_or(1, |r| r.parse().expect("--repeat N"));
    let mut walls = Vec::new();
    let mut output = None;
    for _ in 0..repeat.max(1) {
        let started = Instant::now();
        output = Some(upscaler.upscale(&image).expect("upscale"));
        walls.push(started.elapsed().as_secs_f64());
    }
    let output = output.expect("ran");
    walls.sort_by(f64::total_cmp);
    let wall = walls[walls.len() / 2];
    let peak = peak_rss();
    let (session, runs) = upscaler.session_stats();
    let n = walls.len();
    let (session, runs) = ((session - warm_session) / n as f64, (runs - warm_runs) / n);

    let scale = upscaler.info().scale as u64;
    let tile = upscaler.tile_size() as u64;
    let (w, h) = (u64::from(image.width()), u64::from(image.height()));
    let input_bytes = image.as_bytes().len() as u64;
    let output_bytes = output.as_bytes().len() as u64;
    // The bound stated in the crate docs: input + output + one FP32 strip + one run's tensors,
    // over the process after warm-up (runtime, model, session arena).
    let planes = 4;
    let strip =
        planes * tile.min(h) * scale * w * scale * 4 + 3 * tile.min(h) * scale * w * scale * 4;
    let run_tensors = 3 * tile * tile * (1 + scale * scale) * 4 * 2;
    let bound = rss_after_warmup + input_bytes + output_bytes + strip + run_tensors;
    let out_mp = (output.width() as f64 * output.height() as f64) / 1e6;
    println!(
        "{{\"model\": \"{model}\", \"input\": [{w}, {h}], \"output\": [{}, {}], \"tile\": {tile}, \"overlap\": {}, \
         \"runs\": {runs}, \"wall_s\": {wall:.3}, \"walls_s\": {walls:?}, \"session_s\": {session:.3}, \"overhead_pct\": {:.2}, \
         \"input_mp_per_s\": {:.4}, \"output_mp_per_s\": {:.3}, \"peak_rss_mib\": {:.1}, \
         \"rss_after_warmup_mib\": {:.1}, \"input_mib\": {:.1}, \"output_mib\": {:.1}, \"bound_mib\": {:.1}, \
         \"within_bound\": {}}}",
        output.width(),
        output.height(),
        upscaler.overlap(),
        100.0 * (wall - session) / wall,
        (w * h) as f64 / 1e6 / wall,
        out_mp / wall,
        peak as f64 / 1048576.0,
        rss_after_warmup as f64 / 1048576.0,
        input_bytes as f64 / 1048576.0,
        output_bytes as f64 / 1048576.0,
        bound as f64 / 1048576.0,
        peak <= bound
    );
}
