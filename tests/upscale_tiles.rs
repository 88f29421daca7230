//! Seam-free at every tile size: `--tile N` is the core of a tile and the model's context is added
//! around it (never cut to fit), so tiled output equals untiled output within 1/255 on real photos
//! for RRDBNet (realesrgan-x4plus) and SRVGGNetCompact (realesr-animevideov3-x4) at small tiles, and
//! a small tile costs only the runs its plan computes.

mod common;

use common::exported;
use image::DynamicImage;
use prism_core::{Device, SessionOptions};
use prism_upscale::{TileSize, UpscaleOptions, Upscaler};

fn cpu(tile: TileSize, overlap: Option<u32>) -> UpscaleOptions {
    UpscaleOptions {
        session: SessionOptions {
            device: Device::Cpu,
            intra_threads: Some(2),
            ..SessionOptions::default()
        },
        tile,
        overlap,
        ..UpscaleOptions::default()
    }
}

fn astronaut(x: u32, y: u32, width: u32, height: u32) -> DynamicImage {
    image::open(common::real_image("astronaut.png"))
        .unwrap()
        .crop_imm(x, y, width, height)
        .to_rgb32f()
        .into()
}

/// Largest difference between two float images, in units of 1/255.
fn max_diff(a: &DynamicImage, b: &DynamicImage) -> f32 {
    let (DynamicImage::ImageRgb32F(a), DynamicImage::ImageRgb32F(b)) = (a, b) else {
        panic!("float in gives float out");
    };
    assert_eq!(a.dimensions(), b.dimensions());
    let diff = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (x - y).abs());
    diff.fold(0.0, f32::max) * 255.0
}

/// Upscales `crop` (FP32 pixels) whole, then at each `(tile, runs)` with the model's default
/// context: the result is within 1/255 of the whole one, and the tile took exactly `runs` model runs.
fn check_tiles(model: &str, crop: &DynamicImage, tiles: &[(u32, usize)]) {
    let model = exported(model);
    let whole = Upscaler::new(&model, cpu(TileSize::Whole, None))
        .unwrap()
        .upscale(crop)
        .unwrap();
    for &(tile, runs) in tiles {
        let mut upscaler = Upscaler::new(&model, cpu(TileSize::Size(tile), None)).unwrap();
        let context = upscaler.overlap();
        let tiled = upscaler.upscale(crop).unwrap();
        let diff = max_diff(&tiled, &whole);
        let (_, done) = upscaler.session_stats();
        eprintln!(
            "{} tile {tile} (+{context} px context, runs of {} px): {done} runs, max diff {diff:.3}/255",
            model.display(),
            upscaler.tile_size()
        );
        assert!(
            diff <= 1.0,
            "tile {tile}: tiled differs from untiled by {diff}/255"
        );
        assert_eq!(done, runs, "tile {tile}: model runs");
    }
}

#[test]
fn x4plus_small_tiles_match_untiled() {
    // 232 px wide: 48 px cores (runs of at most 48 + 2 x 64 = 176 px) need three runs along x,
    // 64 px cores two; one along y.
    check_tiles(
        "realesrgan-x4plus",
        &astronaut(150, 60, 232, 32),
        &[(48, 3), (64, 2)],
    );
}

#[test]
fn animevideov3_small_tiles_match_untiled() {
    // Runs of at most 80 px (48 + 2 x 16): 3 x 3; of 96 px: 2 x 2.
    let crop = astronaut(150, 60, 160, 152);
    check_tiles("realesr-animevideov3-x4", &crop, &[(48, 9), (64, 4)]);
    // Explicit context and odd tiles keep the guarantee too.
    let model = exported("realesr-animevideov3-x4");
    let whole = Upscaler::new(&model, cpu(TileSize::Whole, None))
        .unwrap()
        .upscale(&crop)
        .unwrap();
    for (tile, overlap) in [(20, 16), (72, 20), (100, 24)] {
        let tiled = Upscaler::new(&model, cpu(TileSize::Size(tile), Some(overlap)))
            .unwrap()
            .upscale(&crop)
            .unwrap();
        let diff = max_diff(&tiled, &whole);
        eprintln!("animevideov3 tile {tile} context {overlap}: max diff {diff:.3}/255");
        assert!(diff <= 1.0, "tile {tile} context {overlap}: {diff}/255");
    }
}

#[test]
fn tile_sizes_are_checked() {
    let model = exported("realesr-animevideov3-x4");
    let err = Upscaler::new(&model, cpu(TileSize::Size(0), None)).unwrap_err();
    assert!(err.to_string().contains("--tile"), "{err}");
    assert!(matches!(err, prism_upscale::Error::Option(_)), "{err:?}");
    // A huge tile is one run of the (padded) image, like `whole`.
    let crop = astronaut(10, 10, 30, 20);
    let mut upscaler = Upscaler::new(&model, cpu(TileSize::Size(u32::MAX), None)).unwrap();
    let out = upscaler.upscale(&crop).unwrap();
    assert_eq!(
        (out.width(), out.height(), upscaler.session_stats().1),
        (120, 80, 1)
    );
}

#[test]
fn auto_plan_is_whole_when_it_fits_and_seam_free_when_not() {
    let model = exported("realesr-animevideov3-x4");
    let crop = astronaut(150, 60, 160, 152);
    let whole = Upscaler::new(&model, cpu(TileSize::Whole, None))
        .unwrap()
        .upscale(&crop)
        .unwrap();
    // The default budget holds the whole crop: one run, the same output as `whole`.
    let mut auto = Upscaler::new(&model, cpu(TileSize::Auto, None)).unwrap();
    let out = auto.upscale(&crop).unwrap();
    assert_eq!(auto.session_stats().1, 1);
    assert_eq!(max_diff(&out, &whole), 0.0);
    // 20 MiB holds a 96x92 run (1.7 KB/px plus its output strip) but not the whole: 2 x 2 runs,
    // the fewest computed pixels that fit, and seam-free.
    let mut small = Upscaler::new(
        &model,
        UpscaleOptions {
            memory_budget_mib: Some(20),
            ..cpu(TileSize::Auto, None)
        },
    )
    .unwrap();
    let out = small.upscale(&crop).unwrap();
    let diff = max_diff(&out, &whole);
    eprintln!(
        "auto, 20 MiB: {} runs, max diff {diff:.3}/255",
        small.session_stats().1
    );
    assert_eq!(small.session_stats().1, 4);
    assert!(diff <= 1.0, "auto tiles differ from untiled by {diff}/255");
}
