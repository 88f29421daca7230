//! High-quality resampling (Lanczos3, SIMD, alpha-aware) through `fast_image_resize`.

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::DynamicImage;

/// `image` resized to `width` x `height` with Lanczos3, keeping its layout (8/16-bit, gray/RGB,
/// alpha: colour is resampled premultiplied so transparent pixels do not bleed).
pub fn resize(image: &DynamicImage, width: u32, height: u32) -> DynamicImage {
    if image.width() == width && image.height() == height {
        return image.clone();
    }
    let mut dst = DynamicImage::new(width.max(1), height.max(1), image.color());
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    match Resizer::new().resize(image, &mut dst, &options) {
        Ok(()) => dst,
        // Layouts fast_image_resize lacks (none among decoded ones): the image crate's Lanczos3.
        Err(_) => image.resize_exact(width, height, image::imageops::FilterType::Lanczos3),
    }
}
