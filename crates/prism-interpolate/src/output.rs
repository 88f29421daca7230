//! Atomic output files: everything is written to a temporary name in the target folder and
//! renamed into place, so a failure never leaves a partial file, and inputs are never targets.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat};

use crate::error::{Error, Result};

/// Writes through `fill` into `path.tmp-<pid>` beside `path`, then renames it to `path`.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = temp_name(path);
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut writer = BufWriter::new(file);
        fill(&mut writer)?;
        writer.flush()?;
        writer
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(error) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, error));
    }
    Ok(())
}

/// Saves `image` atomically in the format its extension names (PNG, JPEG, TIFF, WebP, GIF).
pub fn save_image(path: &Path, image: &DynamicImage) -> Result<()> {
    let format = ImageFormat::from_path(path).map_err(|e| Error::Image {
        path: path.to_path_buf(),
        message: format!("unknown image format: {e}"),
    })?;
    let image = fit_format(image, format);
    let mut encode_error = None;
    let result = write_atomic(path, |w| {
        image.write_to(w, format).map_err(|e| {
            let message = e.to_string();
            encode_error = Some(message.clone());
            std::io::Error::other(message)
        })
    });
    match (result, encode_error) {
        (Err(_), Some(message)) => Err(Error::Image {
            path: path.to_path_buf(),
            message: format!("cannot encode: {message}"),
        }),
        (r, _) => r,
    }
}

/// JPEG has no 16-bit or alpha; WebP no 16-bit: convert instead of failing.
fn fit_format(image: &DynamicImage, format: ImageFormat) -> std::borrow::Cow<'_, DynamicImage> {
    use std::borrow::Cow;
    match format {
        ImageFormat::Jpeg => match image {
            DynamicImage::ImageRgb8(_) | DynamicImage::ImageLuma8(_) => Cow::Borrowed(image),
            _ => Cow::Owned(DynamicImage::ImageRgb8(image.to_rgb8())),
        },
        ImageFormat::WebP | ImageFormat::Gif => match image {
            DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => Cow::Borrowed(image),
            i if i.color().has_alpha() => Cow::Owned(DynamicImage::ImageRgba8(i.to_rgba8())),
            i => Cow::Owned(DynamicImage::ImageRgb8(i.to_rgb8())),
        },
        _ => match image {
            DynamicImage::ImageRgb32F(_) | DynamicImage::ImageRgba32F(_)
                if format != ImageFormat::OpenExr =>
            {
                Cow::Owned(DynamicImage::ImageRgba16(image.to_rgba16()))
            }
            _ => Cow::Borrowed(image),
        },
    }
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Fails when `output` is one of `inputs` (after resolving links), so no input is overwritten.
pub fn ensure_not_input(output: &Path, inputs: &[&Path]) -> Result<()> {
    let out = output
        .canonicalize()
        .ok()
        .or_else(|| {
            let parent = output.parent().filter(|p| !p.as_os_str().is_empty())?;
            Some(parent.canonicalize().ok()?.join(output.file_name()?))
        })
        .unwrap_or_else(|| output.to_path_buf());
    for input in inputs {
        let inp = input.canonicalize().unwrap_or_else(|_| input.to_path_buf());
        if inp == out {
            return Err(Error::Input(format!(
                "output {} is an input; refusing to overwrite it",
                output.display()
            )));
        }
    }
    Ok(())
}

/// Loads an image, naming the file in the error.
pub fn load_image(path: &Path) -> Result<DynamicImage> {
    let reader = image::ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    reader.decode().map_err(|e| Error::Image {
        path: path.to_path_buf(),
        message: format!("cannot decode: {e}"),
    })
}

/// Writes `frames` as a looping animated GIF (`delay_ms` per frame), atomically: the demo's
/// preview for a person to look at.
pub fn write_gif(path: &Path, frames: &[DynamicImage], delay_ms: u32) -> Result<()> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame};
    let mut encode_error = None;
    let result = write_atomic(path, |w| {
        let mut encoder = GifEncoder::new_with_speed(w, 10);
        let run = (|| {
            encoder.set_repeat(Repeat::Infinite)?;
            for f in frames {
                let delay = Delay::from_numer_denom_ms(delay_ms, 1);
                encoder.encode_frame(Frame::from_parts(f.to_rgba8(), 0, 0, delay))?;
            }
            Ok::<(), image::ImageError>(())
        })();
        run.map_err(|e| {
            encode_error = Some(e.to_string());
            std::io::Error::other(e.to_string())
        })
    });
    match (result, encode_error) {
        (Err(_), Some(message)) => Err(Error::Image {
            path: path.to_path_buf(),
            message: format!("cannot encode the GIF: {message}"),
        }),
        (r, _) => r,
    }
}
