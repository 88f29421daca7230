//! The image <-> tensor bridge: every decoded layout round-trips; values land where models expect.

use image::{DynamicImage, ImageBuffer, Luma, LumaA, Rgb, Rgba};
use ndarray::Axis;
use prism_core::tensor::{Channels, Depth, to_f16, to_f32};
use prism_core::{PixelLayout, ValueRange, image_to_tensor, tensor_to_image};

/// A deterministic pseudo-random sample stream covering the whole range of each type.
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn images(w: u32, h: u32) -> Vec<DynamicImage> {
    let mut n = Noise(42);
    let mut u8s = |len| (0..len).map(|_| n.next() as u8).collect::<Vec<_>>();
    let px = (w * h) as usize;
    let mut m = Noise(7);
    let mut u16s = |len| (0..len).map(|_| m.next() as u16).collect::<Vec<_>>();
    let mut f = Noise(9);
    let mut f32s = |len| {
        (0..len)
            .map(|_| (f.next() >> 40) as f32 / (1u64 << 24) as f32)
            .collect::<Vec<_>>()
    };
    vec![
        DynamicImage::ImageLuma8(ImageBuffer::<Luma<u8>, _>::from_raw(w, h, u8s(px)).unwrap()),
        DynamicImage::ImageLumaA8(
            ImageBuffer::<LumaA<u8>, _>::from_raw(w, h, u8s(px * 2)).unwrap(),
        ),
        DynamicImage::ImageRgb8(ImageBuffer::<Rgb<u8>, _>::from_raw(w, h, u8s(px * 3)).unwrap()),
        DynamicImage::ImageRgba8(ImageBuffer::<Rgba<u8>, _>::from_raw(w, h, u8s(px * 4)).unwrap()),
        DynamicImage::ImageLuma16(ImageBuffer::<Luma<u16>, _>::from_raw(w, h, u16s(px)).unwrap()),
        DynamicImage::ImageLumaA16(
            ImageBuffer::<LumaA<u16>, _>::from_raw(w, h, u16s(px * 2)).unwrap(),
        ),
        DynamicImage::ImageRgb16(ImageBuffer::<Rgb<u16>, _>::from_raw(w, h, u16s(px * 3)).unwrap()),
        DynamicImage::ImageRgba16(
            ImageBuffer::<Rgba<u16>, _>::from_raw(w, h, u16s(px * 4)).unwrap(),
        ),
        DynamicImage::ImageRgb32F(
            ImageBuffer::<Rgb<f32>, _>::from_raw(w, h, f32s(px * 3)).unwrap(),
        ),
        DynamicImage::ImageRgba32F(
            ImageBuffer::<Rgba<f32>, _>::from_raw(w, h, f32s(px * 4)).unwrap(),
        ),
    ]
}

fn roundtrip(img: &DynamicImage, range: ValueRange) -> DynamicImage {
    let t = image_to_tensor(img, range);
    let color = t.color.index_axis(Axis(0), 0);
    tensor_to_image(color, t.alpha.as_ref().map(|a| a.view()), t.layout, range).unwrap()
}

#[test]
fn every_layout_round_trips_bit_for_bit() {
    for (w, h) in [(37, 23), (1, 1), (256, 3)] {
        for img in images(w, h) {
            for range in [ValueRange::Unit, ValueRange::Byte] {
                let back = roundtrip(&img, range);
                assert_eq!(PixelLayout::of(&back), PixelLayout::of(&img));
                // Integer layouts are exact; f32 within one rounding of the 0..255 scaling.
                match img {
                    DynamicImage::ImageRgb32F(ref a) => {
                        let b = back.as_rgb32f().unwrap();
                        for (x, y) in a.as_raw().iter().zip(b.as_raw()) {
                            approx::assert_relative_eq!(x, y, max_relative = 1e-6);
                        }
                    }
                    DynamicImage::ImageRgba32F(ref a) => {
                        let b = back.as_rgba32f().unwrap();
                        for (x, y) in a.as_raw().iter().zip(b.as_raw()) {
                            approx::assert_relative_eq!(x, y, max_relative = 1e-6);
                        }
                    }
                    _ => assert_eq!(
                        back.as_bytes(),
                        img.as_bytes(),
                        "{:?} {range:?} {w}x{h}",
                        PixelLayout::of(&img)
                    ),
                }
            }
        }
    }
}

#[test]
fn values_are_nchw_rgb_in_the_requested_range() {
    let img = DynamicImage::ImageRgba8(ImageBuffer::from_fn(3, 2, |x, y| {
        Rgba([x as u8 * 100, y as u8 * 255, 51, 204])
    }));
    let unit = image_to_tensor(&img, ValueRange::Unit);
    assert_eq!(unit.color.shape(), &[1, 3, 2, 3]);
    approx::assert_relative_eq!(unit.color[[0, 0, 0, 2]], 200.0 / 255.0);
    approx::assert_relative_eq!(unit.color[[0, 1, 1, 0]], 1.0);
    approx::assert_relative_eq!(unit.color[[0, 2, 0, 0]], 0.2);
    approx::assert_relative_eq!(unit.alpha.as_ref().unwrap()[[1, 2]], 0.8);
    let byte = image_to_tensor(&img, ValueRange::Byte);
    approx::assert_relative_eq!(byte.color[[0, 0, 0, 2]], 200.0);
    approx::assert_relative_eq!(byte.alpha.as_ref().unwrap()[[0, 0]], 204.0);
}

#[test]
fn gray_is_replicated_and_sixteen_bit_is_scaled() {
    let img = DynamicImage::ImageLuma16(ImageBuffer::from_fn(2, 2, |x, _| {
        Luma([if x == 0 { 0 } else { 65535 }])
    }));
    let t = image_to_tensor(&img, ValueRange::Unit);
    for c in 0..3 {
        assert_eq!(t.color[[0, c, 0, 0]], 0.0);
        assert_eq!(t.color[[0, c, 1, 1]], 1.0);
    }
    assert!(t.alpha.is_none());
    assert_eq!(
        t.layout,
        PixelLayout {
            channels: Channels::Gray,
            depth: Depth::U16
        }
    );
}

#[test]
fn model_outputs_are_clamped_and_missing_alpha_is_opaque() {
    let planes =
        ndarray::Array3::from_shape_vec((3, 1, 2), vec![-0.5, 1.5, 0.5, 0.5, 0.0, 1.0]).unwrap();
    let layout = PixelLayout {
        channels: Channels::Rgba,
        depth: Depth::U8,
    };
    let img = tensor_to_image(planes.view(), None, layout, ValueRange::Unit).unwrap();
    let px = img.as_rgba8().unwrap();
    assert_eq!(px.get_pixel(0, 0).0, [0, 128, 0, 255]);
    assert_eq!(px.get_pixel(1, 0).0, [255, 128, 255, 255]);
}

#[test]
fn wrong_plane_counts_are_errors_not_panics() {
    let planes = ndarray::Array3::<f32>::zeros((2, 4, 4));
    let layout = PixelLayout {
        channels: Channels::Rgb,
        depth: Depth::U8,
    };
    let err = tensor_to_image(planes.view(), None, layout, ValueRange::Unit).unwrap_err();
    assert!(err.to_string().contains("colour planes"), "{err}");
    let color = ndarray::Array3::<f32>::zeros((3, 4, 4));
    let alpha = ndarray::Array2::<f32>::zeros((4, 5));
    assert!(tensor_to_image(color.view(), Some(alpha.view()), layout, ValueRange::Unit).is_err());
}

#[test]
fn fp16_conversion_is_within_half_precision() {
    let img = &images(64, 16)[2];
    let t = image_to_tensor(img, ValueRange::Unit);
    let half = to_f16(&t.color);
    let back = to_f32(&half);
    for (a, b) in t.color.iter().zip(back.iter()) {
        approx::assert_abs_diff_eq!(a, b, epsilon = 1.0 / 2048.0);
    }
    // 8-bit values survive FP16 on the 0..255 scale exactly (integers up to 2048 are representable).
    let byte = image_to_tensor(img, ValueRange::Byte);
    let back = to_f32(&to_f16(&byte.color));
    assert_eq!(back, byte.color);
}

/// The padded conversion equals converting then zero-padding, and a crop of padded planes (rows
/// read in place) converts back exactly like the same planes copied to standard layout.
#[test]
fn padded_planes_and_cropped_rows_match_the_plain_path() {
    use ndarray::s;
    for img in images(37, 21) {
        for range in [ValueRange::Unit, ValueRange::Byte] {
            let plain = image_to_tensor(&img, range);
            let padded = prism_core::image_to_tensor_padded(&img, range, 16);
            assert_eq!(padded.color.shape(), &[1, 3, 32, 48]);
            let inside = padded.color.slice(s![.., .., ..21, ..37]);
            assert!(
                inside
                    .iter()
                    .zip(plain.color.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
            let outside = padded.color.iter().filter(|&&v| v != 0.0).count();
            let inside_nonzero = inside.iter().filter(|&&v| v != 0.0).count();
            assert_eq!(outside, inside_nonzero, "the padding is zero");
            assert_eq!(padded.alpha, plain.alpha);
            let alpha = padded.alpha.as_ref().map(|a| a.view());
            let crop = padded.color.slice(s![0, .., ..21, ..37]);
            let from_crop = tensor_to_image(crop, alpha, padded.layout, range).unwrap();
            let copied = crop.as_standard_layout().into_owned();
            let from_copy = tensor_to_image(copied.view(), alpha, padded.layout, range).unwrap();
            assert_eq!(from_crop.as_bytes(), from_copy.as_bytes());
            assert_eq!(from_crop.as_bytes(), roundtrip(&img, range).as_bytes());
        }
    }
}
