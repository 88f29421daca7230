//! The C API called as C would: statuses, messages, buffers, cancellation, threads.

mod common;

use std::ffi::{CStr, CString, c_void};
use std::ptr::{null, null_mut};

use prism_capi::error::PrismStatus;
use prism_capi::image::PrismImage;
use prism_capi::neural::{prism_neural_options_default, prism_neural_style};
use prism_capi::upscale::*;
use prism_capi::{prism_image_free, prism_image_load, prism_image_save, prism_last_error};

use common::{exported, prism, real_image, run};

fn last_error() -> String {
    unsafe { CStr::from_ptr(prism_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn c(text: &str) -> CString {
    CString::new(text).unwrap()
}

fn upscaler() -> *mut PrismUpscaler {
    let model = c(exported("realesr-animevideov3-x4").to_str().unwrap());
    let mut handle = null_mut();
    let status = unsafe { prism_upscaler_new(model.as_ptr(), null(), &mut handle) };
    assert_eq!(status, PrismStatus::Ok, "{}", last_error());
    handle
}

/// An 8-bit RGB crop of a real photo, as the caller's packed buffer.
fn photo(w: u32, h: u32) -> (Vec<u8>, PrismImage) {
    let mut data = real_image("astronaut.png")
        .crop_imm(200, 80, w, h)
        .to_rgb8()
        .into_raw();
    let image = PrismImage {
        data: data.as_mut_ptr(),
        width: w,
        height: h,
        stride: 0,
        channels: 3,
        depth: 8,
    };
    (data, image)
}

fn empty() -> PrismImage {
    PrismImage {
        data: null_mut(),
        width: 0,
        height: 0,
        stride: 0,
        channels: 0,
        depth: 0,
    }
}

#[test]
fn statuses_name_the_problem() {
    let mut handle = null_mut();
    let missing = c("/nonexistent/nope.onnx");
    let status = unsafe { prism_upscaler_new(missing.as_ptr(), null(), &mut handle) };
    assert_eq!(status, PrismStatus::Model);
    assert!(handle.is_null());
    assert!(last_error().contains("nope.onnx"), "{}", last_error());

    let up = upscaler();
    assert_eq!(last_error(), "", "a success clears the message");
    let (_data, mut input) = photo(8, 8);
    input.channels = 5;
    let mut out = empty();
    let status = unsafe { prism_upscale(up, &input, &mut out, None, null_mut()) };
    assert_eq!(status, PrismStatus::InvalidArgument);
    assert!(last_error().contains("channels is 5"), "{}", last_error());
    input.channels = 3;
    input.stride = 5;
    let status = unsafe { prism_upscale(up, &input, &mut out, None, null_mut()) };
    assert_eq!(status, PrismStatus::InvalidArgument);
    assert!(last_error().contains("stride 5"), "{}", last_error());
    let status = unsafe { prism_upscale(null_mut(), &input, &mut out, None, null_mut()) };
    assert_eq!(status, PrismStatus::InvalidArgument);
    assert!(out.data.is_null());

    // Errors are per thread.
    std::thread::spawn(|| assert_eq!(last_error(), ""))
        .join()
        .unwrap();

    let path = c("/nonexistent/in.png");
    let status = unsafe { prism_image_load(path.as_ptr(), &mut out) };
    assert_ne!(status, PrismStatus::Ok);
    assert!(
        last_error().contains("/nonexistent/in.png"),
        "{}",
        last_error()
    );
    unsafe { prism_upscaler_free(up) };
}

unsafe extern "C" fn cancel_after_first(user: *mut c_void, done: u64, _total: u64) -> i32 {
    let calls = unsafe { &mut *user.cast::<u32>() };
    *calls += 1;
    i32::from(done > 0)
}

#[test]
fn progress_cancels_and_caller_buffers_are_filled() {
    let up = upscaler();
    let mut options = prism_upscale_options_default();
    options.tile = 16;
    let model = c(exported("realesr-animevideov3-x4").to_str().unwrap());
    let mut tiled = null_mut();
    assert_eq!(
        unsafe { prism_upscaler_new(model.as_ptr(), &options, &mut tiled) },
        PrismStatus::Ok
    );
    let (_data, input) = photo(40, 24);

    // Cancelled after the first run of tiles: no output.
    let mut calls = 0u32;
    let mut out = empty();
    let status = unsafe {
        prism_upscale(
            tiled,
            &input,
            &mut out,
            Some(cancel_after_first),
            (&raw mut calls).cast(),
        )
    };
    assert_eq!(status, PrismStatus::Cancelled, "{}", last_error());
    assert!(calls >= 2, "called {calls} times");
    assert!(out.data.is_null());

    // Prism's buffer, then the caller's with padded rows: the same pixels.
    let status = unsafe { prism_upscale(up, &input, &mut out, None, null_mut()) };
    assert_eq!(status, PrismStatus::Ok, "{}", last_error());
    assert_eq!(
        (out.width, out.height, out.channels, out.depth),
        (160, 96, 3, 8)
    );
    let (mut w, mut h) = (0, 0);
    assert_eq!(
        unsafe { prism_upscaler_output_size(up, 40, 24, &mut w, &mut h) },
        PrismStatus::Ok
    );
    assert_eq!((w, h), (160, 96));
    let stride = 160 * 3 + 7;
    let mut mine = vec![0u8; stride * 96];
    let mut caller = PrismImage {
        data: mine.as_mut_ptr(),
        width: 160,
        height: 96,
        stride,
        channels: 3,
        depth: 8,
    };
    let status = unsafe { prism_upscale(up, &input, &mut caller, None, null_mut()) };
    assert_eq!(status, PrismStatus::Ok, "{}", last_error());
    let theirs = unsafe { std::slice::from_raw_parts(out.data, 160 * 3 * 96) };
    for y in 0..96 {
        assert_eq!(
            &mine[y * stride..y * stride + 480],
            &theirs[y * 480..(y + 1) * 480]
        );
    }
    // A caller buffer of the wrong size is refused before any work.
    caller.width = 100;
    let status = unsafe { prism_upscale(up, &input, &mut caller, None, null_mut()) };
    assert_eq!(status, PrismStatus::InvalidArgument);
    assert!(last_error().contains("160x96"), "{}", last_error());
    unsafe {
        prism_image_free(&mut out);
        assert!(out.data.is_null());
        prism_image_free(&mut out);
        prism_upscaler_free(up);
        prism_upscaler_free(tiled);
        prism_upscaler_free(null_mut());
    }
}

#[test]
fn handles_are_shared_across_threads() {
    let up = upscaler() as usize;
    let (data, input) = photo(16, 16);
    let input = &raw const input as usize;
    let results: Vec<Vec<u8>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut out = empty();
                    let status = unsafe {
                        prism_upscale(
                            up as *mut PrismUpscaler,
                            input as *const PrismImage,
                            &mut out,
                            None,
                            null_mut(),
                        )
                    };
                    assert_eq!(status, PrismStatus::Ok, "{}", last_error());
                    let bytes =
                        unsafe { std::slice::from_raw_parts(out.data, 64 * 64 * 3) }.to_vec();
                    unsafe { prism_image_free(&mut out) };
                    bytes
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(results[0], results[1]);
    drop(data);
    unsafe { prism_upscaler_free(up as *mut PrismUpscaler) };
}

#[test]
fn neural_style_matches_prism() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = (dir.path().join("content.png"), dir.path().join("style.png"));
    let photo = real_image("astronaut.png");
    photo.crop_imm(180, 60, 40, 32).save(&content).unwrap();
    real_image("coffee.png")
        .crop_imm(100, 100, 48, 48)
        .save(&style)
        .unwrap();
    let cli = dir.path().join("cli.png");
    run(prism()
        .args(["style", "neural"])
        .arg(&content)
        .arg("--style")
        .arg(&style)
        .arg("-o")
        .arg(&cli)
        .args(["--steps", "3"]));

    let mut images = [empty(), empty()];
    for (path, image) in [&content, &style].iter().zip(images.iter_mut()) {
        let path = c(path.to_str().unwrap());
        assert_eq!(
            unsafe { prism_image_load(path.as_ptr(), image) },
            PrismStatus::Ok
        );
    }
    let mut options = prism_neural_options_default();
    options.steps = 3;
    let mut out = empty();
    let status = unsafe {
        prism_neural_style(
            &images[0],
            &images[1],
            null(),
            1,
            &options,
            &mut out,
            None,
            null_mut(),
        )
    };
    assert_eq!(status, PrismStatus::Ok, "{}", last_error());
    let ours = dir.path().join("capi.png");
    let path = c(ours.to_str().unwrap());
    assert_eq!(
        unsafe { prism_image_save(path.as_ptr(), &out) },
        PrismStatus::Ok
    );
    assert!(std::fs::read(&cli).unwrap() == std::fs::read(&ours).unwrap());
    for image in images.iter_mut().chain([&mut out]) {
        unsafe { prism_image_free(image) };
    }
}
