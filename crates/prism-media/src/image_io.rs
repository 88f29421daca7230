//! Reading images as they are meant to be seen (EXIF orientation applied, ICC profile kept, 8/16-bit
//! preserved) and writing them atomically in the format the file name asks for.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::tiff::TiffEncoder;
use image::codecs::webp::WebPEncoder;
use image::{
    DynamicImage, ImageDecoder, ImageEncoder, ImageError, ImageReader, metadata::Orientation,
};

use crate::error::{Error, Result};

/// A decoded image with what is needed to write it back faithfully.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// Pixels, already rotated/flipped by the EXIF orientation.
    pub image: DynamicImage,
    /// The embedded ICC colour profile, if any; pass it back to [`write_image`].
    pub icc_profile: Option<Vec<u8>>,
    /// The EXIF orientation that was applied.
    pub orientation: Orientation,
    pub format: image::ImageFormat,
}

/// Bounds on what a decoder may allocate, checked from the header before any pixel is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most pixels (width x height) of one image or video frame.
    pub max_pixels: u64,
}

impl Limits {
    /// Pillow's decompression-bomb error threshold (2 x `Image.MAX_IMAGE_PIXELS`, about 179
    /// megapixels, 13,377 px square): beyond anything a camera or a film scan produces, while a
    /// bomb of a few kilobytes that would expand to gigabytes is refused. 512 MiB as 8-bit RGB.
    pub const DEFAULT_MAX_PIXELS: u64 = 178_956_970;

    /// Refuses a `width` x `height` image of `path` above the limit, before it is allocated.
    pub fn check(&self, path: &Path, width: u32, height: u32) -> Result<()> {
        let pixels = u64::from(width) * u64::from(height);
        if pixels > self.max_pixels {
            return Err(Error::TooLarge {
                path: path.to_path_buf(),
                width,
                height,
                max_pixels: self.max_pixels,
            });
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pixels: Self::DEFAULT_MAX_PIXELS,
        }
    }
}

/// Decodes `path`: format from the content (not the name), EXIF orientation applied, refused
/// before decoding when it has more pixels than `limits` allow. Empty, truncated, corrupt and
/// unsupported files are errors that name the file and the problem.
pub fn read_image(path: &Path, limits: &Limits) -> Result<LoadedImage> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::Unsupported {
            path: path.to_path_buf(),
            reason: "is a folder, not an image".into(),
        });
    }
    if meta.len() == 0 {
        return Err(Error::Decode {
            path: path.to_path_buf(),
            reason: "the file is empty (0 bytes)".into(),
        });
    }
    // The format comes from the content, never the name: a GIF or a text file called `.png` is
    // reported as what it is.
    let mut head = [0u8; 64];
    let n = {
        use std::io::Read;
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut n = 0;
        while n < head.len() {
            match file.read(&mut head[n..]).map_err(|e| Error::io(path, e))? {
                0 => break,
                k => n += k,
            }
        }
        n
    };
    let format = image::guess_format(&head[..n]).map_err(|_| Error::Unsupported {
        path: path.to_path_buf(),
        reason: "not a PNG, JPEG, WebP or TIFF image (unrecognised content)".into(),
    })?;
    use image::ImageFormat as F;
    if !matches!(format, F::Png | F::Jpeg | F::WebP | F::Tiff) {
        return Err(Error::Unsupported {
            path: path.to_path_buf(),
            reason: format!("{format:?} images are not supported (PNG, JPEG, WebP or TIFF)"),
        });
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = ImageReader::with_format(std::io::BufReader::new(file), format);
    // The decoder's own allocations (metadata chunks, buffers) stay bounded too: room for the
    // largest allowed image at 16-bit RGBA, and never less than the image crate's default.
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(
        limits
            .max_pixels
            .saturating_mul(8)
            .max(decoder_limits.max_alloc.unwrap_or(0)),
    );
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(|e| decode_error(path, e))?;
    let (width, height) = decoder.dimensions();
    limits.check(path, width, height)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc_profile = decoder.icc_profile().ok().flatten();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(path, e))?;
    image.apply_orientation(orientation);
    Ok(LoadedImage {
        image,
        icc_profile,
        orientation,
        format,
    })
}

fn decode_error(path: &Path, error: ImageError) -> Error {
    let path = path.to_path_buf();
    match error {
        ImageError::Unsupported(e) => Error::Unsupported {
            path,
            reason: e.to_string(),
        },
        ImageError::Limits(e) => Error::Decode {
            path,
            reason: format!("the decoder would need more memory than allowed ({e})"),
        },
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Error::Decode {
            path,
            reason: "the file is truncated (unexpected end of data)".into(),
        },
        other => Error::Decode {
            path,
            reason: other.to_string(),
        },
    }
}

/// Output formats, chosen by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// 8 or 16 bit, gray/RGB with or without alpha, ICC kept.
    Png,
    /// 8-bit gray or RGB; alpha is dropped; quality from [`WriteOptions::jpeg_quality`]; ICC kept.
    Jpeg,
    /// Lossless 8-bit RGB/RGBA; ICC kept.
    WebP,
    /// 8 or 16 bit gray/RGB/RGBA; ICC kept.
    Tiff,
}

impl OutputFormat {
    /// The format for `path`'s extension (`png`, `jpg`/`jpeg`, `webp`, `tif`/`tiff`).
    pub fn from_path(path: &Path) -> Result<OutputFormat> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        match ext.as_str() {
            "png" => Ok(OutputFormat::Png),
            "jpg" | "jpeg" => Ok(OutputFormat::Jpeg),
            "webp" => Ok(OutputFormat::WebP),
            "tif" | "tiff" => Ok(OutputFormat::Tiff),
            _ => Err(Error::Unsupported {
                path: path.to_path_buf(),
                reason: format!("cannot write `.{ext}` files; use .png, .jpg, .webp or .tiff"),
            }),
        }
    }

    /// Whether the format stores 16-bit samples.
    pub fn keeps_16_bit(self) -> bool {
        matches!(self, OutputFormat::Png | OutputFormat::Tiff)
    }

    /// Whether the format stores alpha.
    pub fn keeps_alpha(self) -> bool {
        !matches!(self, OutputFormat::Jpeg)
    }
}

/// Encoder settings.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// JPEG quality 1..=100.
    pub jpeg_quality: u8,
    /// PNG: fast compression (bigger files, much faster) instead of the default.
    pub png_fast: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            jpeg_quality: 95,
            png_fast: false,
        }
    }
}

/// Writes `image` to `path` in the format of its extension, atomically (temporary file in the same
/// folder, then rename), embedding `icc_profile`. Layouts the format cannot store are converted
/// (16-bit to 8-bit for JPEG/WebP, alpha dropped for JPEG).
pub fn write_image(
    path: &Path,
    image: &DynamicImage,
    icc_profile: Option<&[u8]>,
    options: &WriteOptions,
) -> Result<()> {
    let format = OutputFormat::from_path(path)?;
    let image = storable(image, format);
    let (w, h) = (image.width(), image.height());
    let color = image.color();
    let encode_error = |e: ImageError| Error::Encode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    atomic_write(path, |out| {
        let icc = icc_profile.map(<[u8]>::to_vec);
        match format {
            OutputFormat::Png => {
                let compression = if options.png_fast {
                    CompressionType::Fast
                } else {
                    CompressionType::Default
                };
                let mut enc = PngEncoder::new_with_quality(out, compression, FilterType::Adaptive);
                if let Some(icc) = icc {
                    let _ = enc.set_icc_profile(icc);
                }
                enc.write_image(image.as_bytes(), w, h, color.into())
                    .map_err(encode_error)
            }
            OutputFormat::Jpeg => {
                let mut enc =
                    JpegEncoder::new_with_quality(out, options.jpeg_quality.clamp(1, 100));
                if let Some(icc) = icc {
                    let _ = enc.set_icc_profile(icc);
                }
                enc.write_image(image.as_bytes(), w, h, color.into())
                    .map_err(encode_error)
            }
            OutputFormat::WebP => {
                let mut enc = WebPEncoder::new_lossless(out);
                if let Some(icc) = icc {
                    let _ = enc.set_icc_profile(icc);
                }
                enc.write_image(image.as_bytes(), w, h, color.into())
                    .map_err(encode_error)
            }
            OutputFormat::Tiff => {
                let mut enc = TiffEncoder::new(out);
                if let Some(icc) = icc {
                    let _ = enc.set_icc_profile(icc);
                }
                enc.write_image(image.as_bytes(), w, h, color.into())
                    .map_err(encode_error)
            }
        }
    })
}

/// `image` in a layout `format` can store (borrowed when it already can).
fn storable(image: &DynamicImage, format: OutputFormat) -> std::borrow::Cow<'_, DynamicImage> {
    use DynamicImage::*;
    use std::borrow::Cow::{Borrowed, Owned};
    match (format, image) {
        (OutputFormat::Png, ImageRgb32F(_)) => Owned(ImageRgb16(image.to_rgb16())),
        (OutputFormat::Png, ImageRgba32F(_)) => Owned(ImageRgba16(image.to_rgba16())),
        (OutputFormat::Png, _) => Borrowed(image),
        (OutputFormat::Jpeg, ImageLuma8(_) | ImageRgb8(_)) => Borrowed(image),
        (OutputFormat::Jpeg, ImageLuma16(_) | ImageLumaA8(_) | ImageLumaA16(_)) => {
            Owned(ImageLuma8(image.to_luma8()))
        }
        (OutputFormat::Jpeg, _) => Owned(ImageRgb8(image.to_rgb8())),
        (OutputFormat::WebP, ImageRgb8(_) | ImageRgba8(_)) => Borrowed(image),
        (OutputFormat::WebP, _) if image.color().has_alpha() => Owned(ImageRgba8(image.to_rgba8())),
        (OutputFormat::WebP, _) => Owned(ImageRgb8(image.to_rgb8())),
        (
            OutputFormat::Tiff,
            ImageLuma8(_) | ImageLuma16(_) | ImageRgb8(_) | ImageRgba8(_) | ImageRgb16(_)
            | ImageRgba16(_),
        ) => Borrowed(image),
        (OutputFormat::Tiff, ImageLumaA8(_)) => Owned(ImageRgba8(image.to_rgba8())),
        (OutputFormat::Tiff, _) if image.color().has_alpha() => {
            Owned(ImageRgba16(image.to_rgba16()))
        }
        (OutputFormat::Tiff, _) => Owned(ImageRgb16(image.to_rgb16())),
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The temporary name `path` is written under before the rename: hidden, same folder, unique
/// among the processes of every machine that shares the folder.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}.prism-{}-{}-{n}.partial{ext}",
        crate::cleanup::host_tag(),
        std::process::id()
    ))
}

/// Runs `write` on a temporary file next to `path` and renames it to `path` only when `write`
/// succeeded, so `path` is either the complete new file or untouched. The temporary file is removed
/// on failure. Missing parent folders are created first.
pub fn atomic_write<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> Result<()>,
{
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let temp = temp_path(path);
    let (file, _registered) = crate::cleanup::create_temp(&temp).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        error: std::io::Error::new(
            e.kind(),
            format!(
                "cannot create a file in {}: {e}",
                path.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .display()
            ),
        ),
    })?;
    let mut out = BufWriter::new(file);
    let result = write(&mut out)
        .and_then(|()| out.flush().map_err(|e| Error::io(path, e)))
        .and_then(|()| out.get_ref().sync_all().map_err(|e| Error::io(path, e)))
        .and_then(|()| std::fs::rename(&temp, path).map_err(|e| Error::io(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Writes `frames` as a looping animated GIF with `delay_ms` per frame, atomically: a preview for a
/// person to look at.
pub fn write_gif(path: &Path, frames: &[DynamicImage], delay_ms: u32) -> Result<()> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame};
    atomic_write(path, |out| {
        let mut encoder = GifEncoder::new_with_speed(out, 10);
        let encode = |e: ImageError| Error::Encode {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        encoder.set_repeat(Repeat::Infinite).map_err(encode)?;
        for frame in frames {
            let delay = Delay::from_numer_denom_ms(delay_ms, 1);
            encoder
                .encode_frame(Frame::from_parts(frame.to_rgba8(), 0, 0, delay))
                .map_err(encode)?;
        }
        Ok(())
    })
}
