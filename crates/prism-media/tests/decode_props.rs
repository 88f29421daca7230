//! Property tests of the image decoding entry: any bytes under any name, and real PNG, JPEG, WebP
//! and TIFF files with bytes flipped, cut or overwritten, give an image or an error naming the file,
//! never a panic, and never an image above the pixel limit. Fixed seed.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat, RgbImage};
use prism_media::{Error, Limits, read_image};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5052_4953_4d00_0013),
        failure_persistence: None,
        ..Config::default()
    }
}

const LIMITS: Limits = Limits { max_pixels: 65_536 };

/// A 48x40 gradient encoded as `format`.
fn encoded(format: ImageFormat) -> Vec<u8> {
    let image = DynamicImage::ImageRgb8(RgbImage::from_fn(48, 40, |x, y| {
        image::Rgb([(x * 5) as u8, (y * 6) as u8, ((x * y) % 251) as u8])
    }));
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

/// Decodes `bytes` written to `name`; checks the outcome is sound.
fn decode(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    match read_image(&path, &LIMITS) {
        Ok(loaded) => {
            let pixels = u64::from(loaded.image.width()) * u64::from(loaded.image.height());
            prop_assert!(pixels <= LIMITS.max_pixels, "{pixels} pixels decoded");
        }
        Err(e) => {
            let message = e.to_string();
            prop_assert!(message.contains(name), "error without the file: {message}");
            prop_assert!(
                matches!(
                    e,
                    Error::Decode { .. } | Error::Unsupported { .. } | Error::TooLarge { .. }
                ),
                "unexpected error kind: {e:?}"
            );
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Damage {
    Flip { at: usize, xor: u8 },
    Cut { at: usize },
    Overwrite { at: usize, bytes: Vec<u8> },
}

fn damage() -> impl Strategy<Value = Vec<Damage>> {
    let one = prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(at, xor)| Damage::Flip { at, xor }),
        any::<usize>().prop_map(|at| Damage::Cut { at }),
        (
            any::<usize>(),
            prop::collection::vec(prop_oneof![Just(0u8), Just(0xFF), any::<u8>()], 1..8)
        )
            .prop_map(|(at, bytes)| Damage::Overwrite { at, bytes }),
    ];
    prop::collection::vec(one, 1..5)
}

fn apply(mut bytes: Vec<u8>, damage: &[Damage]) -> Vec<u8> {
    for d in damage {
        if bytes.is_empty() {
            break;
        }
        match d {
            Damage::Flip { at, xor } => {
                let i = at % bytes.len();
                bytes[i] ^= xor;
            }
            Damage::Cut { at } => bytes.truncate(at % bytes.len()),
            Damage::Overwrite { at, bytes: new } => {
                let i = at % bytes.len();
                let end = (i + new.len()).min(bytes.len());
                bytes[i..end].copy_from_slice(&new[..end - i]);
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048), ext in 0usize..4) {
        let dir = tempfile::tempdir().unwrap();
        let name = ["x.png", "x.jpg", "x.webp", "x.tif"][ext];
        decode(dir.path(), name, &bytes)?;
    }
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn damaged_real_files(format in 0usize..4, damage in damage()) {
        let (format, name) = [
            (ImageFormat::Png, "d.png"),
            (ImageFormat::Jpeg, "d.jpg"),
            (ImageFormat::WebP, "d.webp"),
            (ImageFormat::Tiff, "d.tif"),
        ][format];
        let dir = tempfile::tempdir().unwrap();
        decode(dir.path(), name, &apply(encoded(format), &damage))?;
    }
}

/// A header that claims more pixels than the limit is refused before decoding, by name and size.
#[test]
fn headers_above_the_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.png");
    std::fs::write(&path, encoded(ImageFormat::Png)).unwrap();
    let err = read_image(&path, &Limits { max_pixels: 1000 }).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                width: 48,
                height: 40,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("wide.png")
            && message.contains("48x40")
            && message.contains("--max-pixels"),
        "{message}"
    );
    assert!(read_image(&path, &Limits::default()).is_ok());
}
