//! `PrismImage`: pixel buffers across the boundary, the buffers Prism allocates (and frees), and
//! the PNG/JPEG/TIFF/WebP load and save helpers.

use std::alloc::Layout;
use std::ffi::{CStr, c_char};
use std::path::PathBuf;

use image::{DynamicImage, ImageBuffer};

use crate::error::{Failure, PrismStatus, Result, guard};

/// An image in memory: rows of `width` pixels, `channels` samples each (1 gray, 2 gray + alpha,
/// 3 RGB, 4 RGBA), `depth` bits per sample (8: `uint8_t`, 16: `uint16_t` in native byte order).
/// Row `y` starts at `data + y * stride` bytes (`stride` 0 in an input: tightly packed).
///
/// As an output: `data` NULL lets Prism allocate the buffer (and fill every field); release it
/// with `prism_image_free`. A non-NULL `data` is the caller's buffer, whose fields must describe
/// exactly the result (size from the `*_output_size` functions, the input's channels and depth).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PrismImage {
    pub data: *mut u8,
    pub width: u32,
    pub height: u32,
    /// Bytes from one row to the next.
    pub stride: usize,
    pub channels: u32,
    pub depth: u32,
}

/// Alignment of the buffers Prism allocates.
const ALIGN: usize = 16;

impl PrismImage {
    fn row_bytes(&self) -> Result<usize> {
        if !(1..=4).contains(&self.channels) {
            return Err(Failure::invalid(format!(
                "channels is {}: use 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA)",
                self.channels
            )));
        }
        if self.depth != 8 && self.depth != 16 {
            return Err(Failure::invalid(format!(
                "depth is {}: use 8 or 16 bits per sample",
                self.depth
            )));
        }
        (self.width as usize)
            .checked_mul(self.channels as usize * (self.depth as usize / 8))
            .ok_or_else(|| Failure::invalid("image row size overflows"))
    }

    /// The stride in use, and the byte length the buffer must have.
    fn extent(&self, what: &str) -> Result<(usize, usize)> {
        if self.width == 0 || self.height == 0 {
            return Err(Failure::invalid(format!(
                "{what} is empty ({}x{})",
                self.width, self.height
            )));
        }
        let row = self.row_bytes()?;
        let stride = if self.stride == 0 { row } else { self.stride };
        if stride < row {
            return Err(Failure::invalid(format!(
                "{what}: stride {stride} is below one row ({row} bytes)"
            )));
        }
        let len = stride
            .checked_mul(self.height as usize - 1)
            .and_then(|n| n.checked_add(row))
            .ok_or_else(|| Failure::invalid(format!("{what}: buffer size overflows")))?;
        Ok((stride, len))
    }
}

/// The image `image` points at, copied into a `DynamicImage`.
///
/// # Safety
/// `image` is NULL or points at a valid `PrismImage` whose buffer holds what its fields say.
pub unsafe fn read(image: *const PrismImage, what: &str) -> Result<DynamicImage> {
    let image =
        unsafe { image.as_ref() }.ok_or_else(|| Failure::invalid(format!("{what} is NULL")))?;
    if image.data.is_null() {
        return Err(Failure::invalid(format!(
            "{what} has no pixels (data is NULL)"
        )));
    }
    let (stride, len) = image.extent(what)?;
    let row = image.row_bytes()?;
    let bytes = unsafe { std::slice::from_raw_parts(image.data, len) };
    let mut packed = Vec::with_capacity(row * image.height as usize);
    for y in 0..image.height as usize {
        packed.extend_from_slice(&bytes[y * stride..y * stride + row]);
    }
    let (w, h) = (image.width, image.height);
    let dynamic = if image.depth == 8 {
        match image.channels {
            1 => ImageBuffer::from_raw(w, h, packed).map(DynamicImage::ImageLuma8),
            2 => ImageBuffer::from_raw(w, h, packed).map(DynamicImage::ImageLumaA8),
            3 => ImageBuffer::from_raw(w, h, packed).map(DynamicImage::ImageRgb8),
            _ => ImageBuffer::from_raw(w, h, packed).map(DynamicImage::ImageRgba8),
        }
    } else {
        let samples: Vec<u16> = packed
            .chunks_exact(2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
            .collect();
        match image.channels {
            1 => ImageBuffer::from_raw(w, h, samples).map(DynamicImage::ImageLuma16),
            2 => ImageBuffer::from_raw(w, h, samples).map(DynamicImage::ImageLumaA16),
            3 => ImageBuffer::from_raw(w, h, samples).map(DynamicImage::ImageRgb16),
            _ => ImageBuffer::from_raw(w, h, samples).map(DynamicImage::ImageRgba16),
        }
    };
    dynamic.ok_or_else(|| Failure::invalid(format!("{what}: buffer does not match its size")))
}

/// The samples of `image` in the layout `channels` x `depth`, packed, native byte order.
fn samples(image: &DynamicImage, channels: u32, depth: u32) -> Vec<u8> {
    fn bytes16(v: Vec<u16>) -> Vec<u8> {
        v.into_iter().flat_map(u16::to_ne_bytes).collect()
    }
    match (channels, depth) {
        (1, 8) => image.to_luma8().into_raw(),
        (2, 8) => image.to_luma_alpha8().into_raw(),
        (3, 8) => image.to_rgb8().into_raw(),
        (4, 8) => image.to_rgba8().into_raw(),
        (1, _) => bytes16(image.to_luma16().into_raw()),
        (2, _) => bytes16(image.to_luma_alpha16().into_raw()),
        (3, _) => bytes16(image.to_rgb16().into_raw()),
        _ => bytes16(image.to_rgba16().into_raw()),
    }
}

/// The layout of a decoded image: float images become 16-bit.
fn layout_of(image: &DynamicImage) -> (u32, u32) {
    let color = image.color();
    let channels = u32::from(color.channel_count());
    let depth = if color.bytes_per_pixel() / color.channel_count() == 1 {
        8
    } else {
        16
    };
    (channels, depth)
}

/// Checks that a caller-owned `out` can take a `width` x `height` result in `channels` x `depth`.
fn check_fits(out: &PrismImage, width: u32, height: u32, channels: u32, depth: u32) -> Result<()> {
    if out.data.is_null() {
        return Ok(());
    }
    if (out.width, out.height, out.channels, out.depth) != (width, height, channels, depth) {
        return Err(Failure::invalid(format!(
            "the output buffer is {}x{}, {} channels, {}-bit, but the result is {width}x{height}, \
             {channels} channels, {depth}-bit (or pass data = NULL and let Prism allocate it)",
            out.width, out.height, out.channels, out.depth
        )));
    }
    out.extent("the output buffer").map(|_| ())
}

/// An output slot: checked before any work, written after.
pub struct Output<'a> {
    slot: &'a mut PrismImage,
    channels: u32,
    depth: u32,
}

impl<'a> Output<'a> {
    /// Checks `out` for a `width` x `height` result in the layout of `like`.
    ///
    /// # Safety
    /// `out` is NULL or points at a valid, writable `PrismImage`.
    pub unsafe fn new(
        out: *mut PrismImage,
        width: u32,
        height: u32,
        like: &DynamicImage,
    ) -> Result<Output<'a>> {
        let slot = unsafe { out.as_mut() }.ok_or_else(|| Failure::invalid("output is NULL"))?;
        let (channels, depth) = layout_of(like);
        check_fits(slot, width, height, channels, depth)?;
        Ok(Output {
            slot,
            channels,
            depth,
        })
    }

    /// Writes `image` into the caller's buffer, or into a new one Prism allocates.
    pub fn write(self, image: &DynamicImage) -> Result<()> {
        let packed = samples(image, self.channels, self.depth);
        let (w, h) = (image.width(), image.height());
        if self.slot.data.is_null() {
            let buffer = allocate(packed.len())?;
            unsafe { std::ptr::copy_nonoverlapping(packed.as_ptr(), buffer, packed.len()) };
            *self.slot = PrismImage {
                data: buffer,
                width: w,
                height: h,
                stride: packed.len() / h as usize,
                channels: self.channels,
                depth: self.depth,
            };
            return Ok(());
        }
        check_fits(self.slot, w, h, self.channels, self.depth)?;
        let row = packed.len() / h as usize;
        let (stride, _) = self.slot.extent("the output buffer")?;
        for (y, src) in packed.chunks_exact(row).enumerate() {
            unsafe {
                std::ptr::copy_nonoverlapping(src.as_ptr(), self.slot.data.add(y * stride), row)
            };
        }
        Ok(())
    }
}

fn allocate(len: usize) -> Result<*mut u8> {
    let layout = Layout::from_size_align(len, ALIGN)
        .map_err(|_| Failure::invalid(format!("cannot allocate {len} bytes")))?;
    let buffer = unsafe { std::alloc::alloc(layout) };
    if buffer.is_null() {
        return Err(Failure {
            status: PrismStatus::Error,
            message: format!("out of memory allocating {len} bytes"),
        });
    }
    Ok(buffer)
}

/// A path argument.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
pub unsafe fn path_arg(path: *const c_char, what: &str) -> Result<PathBuf> {
    let text = unsafe { str_arg(path, what)? }
        .ok_or_else(|| Failure::invalid(format!("{what} is NULL")))?;
    Ok(PathBuf::from(text))
}

/// An optional UTF-8 string argument (NULL: `None`).
///
/// # Safety
/// `text` is NULL or a NUL-terminated string.
pub unsafe fn str_arg(text: *const c_char, what: &str) -> Result<Option<String>> {
    if text.is_null() {
        return Ok(None);
    }
    let text = unsafe { CStr::from_ptr(text) };
    text.to_str()
        .map(|s| Some(s.to_string()))
        .map_err(|_| Failure::invalid(format!("{what} is not UTF-8")))
}

/// Decodes the image file at `path` (PNG, JPEG, TIFF, WebP; EXIF orientation applied; refused
/// above 178,956,970 pixels, as `prism`) into a buffer Prism allocates: `out`'s previous fields
/// are ignored. 8- and 16-bit files keep their depth (float files become 16-bit). The ICC
/// profile is not kept. Free the result with `prism_image_free`.
///
/// # Safety
/// `path` is a NUL-terminated UTF-8 string; `out` points at a writable `PrismImage`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_image_load(
    path: *const c_char,
    out: *mut PrismImage,
) -> PrismStatus {
    guard(|| {
        let path = unsafe { path_arg(path, "path")? };
        let slot = unsafe { out.as_mut() }.ok_or_else(|| Failure::invalid("output is NULL"))?;
        slot.data = std::ptr::null_mut();
        let loaded = prism_media::read_image(&path, &prism_media::Limits::default())?;
        let (w, h) = (loaded.image.width(), loaded.image.height());
        unsafe { Output::new(slot, w, h, &loaded.image)? }.write(&loaded.image)
    })
}

/// Encodes `image` to `path`, the format from its extension (png, jpg, tiff, webp), written
/// atomically (a temporary file renamed into place), exactly as `prism` writes its outputs.
///
/// # Safety
/// `path` is a NUL-terminated UTF-8 string; `image` points at a valid `PrismImage`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_image_save(
    path: *const c_char,
    image: *const PrismImage,
) -> PrismStatus {
    guard(|| {
        let path = unsafe { path_arg(path, "path")? };
        let image = unsafe { read(image, "image")? };
        let options = prism_media::WriteOptions::default();
        Ok(prism_media::write_image(&path, &image, None, &options)?)
    })
}

/// Frees a buffer Prism allocated into `image` and clears `image`'s fields (NULL or an empty
/// `data`: nothing to do). Never pass a buffer the caller allocated.
///
/// # Safety
/// `image` is NULL or points at a `PrismImage` that a Prism call filled, unchanged since.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn prism_image_free(image: *mut PrismImage) {
    let Some(image) = (unsafe { image.as_mut() }) else {
        return;
    };
    if !image.data.is_null() {
        let len = image.stride * image.height as usize;
        if let Ok(layout) = Layout::from_size_align(len, ALIGN) {
            unsafe { std::alloc::dealloc(image.data, layout) };
        }
    }
    *image = PrismImage {
        data: std::ptr::null_mut(),
        width: 0,
        height: 0,
        stride: 0,
        channels: 0,
        depth: 0,
    };
}
