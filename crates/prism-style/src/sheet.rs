//! A side-by-side contact sheet (content | styles | result) for people to look at.

use image::imageops::FilterType;
use image::{DynamicImage, Rgb, RgbImage};

/// Places `images` left to right, each scaled to `height` pixels high (aspect kept), separated
/// by a 4-pixel white gap, as an 8-bit RGB image.
pub fn side_by_side(images: &[&DynamicImage], height: u32) -> DynamicImage {
    const GAP: u32 = 4;
    let scaled: Vec<RgbImage> = images.iter().map(|im| to_height(im, height)).collect();
    let width = scaled.iter().map(|s| s.width()).sum::<u32>() + GAP * (scaled.len() as u32 + 1);
    let mut sheet = RgbImage::from_pixel(width, height + 2 * GAP, Rgb([255, 255, 255]));
    let mut x = GAP;
    for s in &scaled {
        image::imageops::replace(&mut sheet, s, i64::from(x), i64::from(GAP));
        x += s.width() + GAP;
    }
    DynamicImage::ImageRgb8(sheet)
}

/// `im` scaled to `height` pixels high (aspect kept, at least 1 pixel wide), as 8-bit RGB.
pub(crate) fn to_height(im: &DynamicImage, height: u32) -> RgbImage {
    let w = ((im.width() as f64 * height as f64 / im.height().max(1) as f64).round() as u32).max(1);
    im.resize_exact(w, height, FilterType::Lanczos3).to_rgb8()
}
