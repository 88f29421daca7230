//! Throughput of the image <-> tensor bridge on a 4K RGB image (8 and 16 bit).
use std::time::Instant;

use image::{DynamicImage, RgbImage};
use prism_core::{PixelLayout, ValueRange, image_to_tensor, tensor_to_image};

fn main() {
    let (w, h) = (3840u32, 2160u32);
    let rgb8 = DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x ^ y) % 256) as u8])
    }));
    let rgb16 = DynamicImage::ImageRgb16(rgb8.to_rgb16());
    for (name, img) in [("rgb8", &rgb8), ("rgb16", &rgb16)] {
        let layout = PixelLayout::of(img);
        let runs = 10;
        let start = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(image_to_tensor(img, ValueRange::Unit));
        }
        let to = start.elapsed().as_secs_f64() / runs as f64;
        let t = image_to_tensor(img, ValueRange::Unit);
        let planes = t.color.index_axis(ndarray::Axis(0), 0);
        let start = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(
                tensor_to_image(planes.view(), None, layout, ValueRange::Unit).unwrap(),
            );
        }
        let from = start.elapsed().as_secs_f64() / runs as f64;
        let mpix = f64::from(w * h) / 1e6;
        println!(
            "{name} {w}x{h}: image->tensor {:.2} ms ({:.0} Mpx/s), tensor->image {:.2} ms ({:.0} Mpx/s)",
            to * 1e3,
            mpix / to,
            from * 1e3,
            mpix / from
        );
    }
}
