//! Exit codes: the one place errors become them (the README's table). Libraries return typed
//! errors named after what failed; only the command line knows about processes.

/// Bad command line.
pub const USAGE: i32 = 2;
/// Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: i32 = 130;

/// The code for whichever error ended the command (1 for anything not in the table).
pub fn code(error: &anyhow::Error) -> i32 {
    if error.downcast_ref::<crate::global::Usage>().is_some() {
        return USAGE;
    }
    if let Some(e) = error.downcast_ref::<prism_core::Error>() {
        return core(e);
    }
    if let Some(e) = error.downcast_ref::<prism_media::Error>() {
        return media(e);
    }
    if let Some(e) = error.downcast_ref::<prism_upscale::Error>() {
        return upscale(e);
    }
    if let Some(e) = error.downcast_ref::<prism_interpolate::Error>() {
        return interpolate(e);
    }
    if let Some(e) = error.downcast_ref::<prism_style::Error>() {
        return style(e);
    }
    if let Some(e) = error.downcast_ref::<prism_hub::Error>() {
        return hub(e);
    }
    1
}

fn core(e: &prism_core::Error) -> i32 {
    use prism_core::Error as E;
    match e {
        E::RuntimeNotFound { .. }
        | E::RuntimeTooOld { .. }
        | E::RuntimeInvalid { .. }
        | E::RuntimeAlreadyLoaded { .. } => 3,
        E::ProviderUnavailable { .. } => 4,
        E::Io { .. }
        | E::NotOnnx { .. }
        | E::TruncatedModel { .. }
        | E::InvalidModel { .. }
        | E::MissingVariant { .. }
        | E::BadMetadata { .. }
        | E::Unverified { .. } => 5,
        E::InputMismatch { .. }
        | E::ShapeRefused { .. }
        | E::ShapeSyntax { .. }
        | E::TensorShape { .. } => 6,
        E::Inference { .. } | E::Ort(_) => 1,
        E::Cancelled => INTERRUPTED,
    }
}

fn media(e: &prism_media::Error) -> i32 {
    use prism_media::Error as E;
    match e {
        E::Core(e) => core(e),
        E::Decode { .. }
        | E::Unsupported { .. }
        | E::WouldOverwriteInput { .. }
        | E::NoInputs { .. }
        | E::TooLarge { .. } => 6,
        E::Glob { .. } => USAGE,
        E::PartialBatch { .. } => 7,
        E::Io { .. }
        | E::Encode { .. }
        | E::FfmpegNotFound { .. }
        | E::Ffmpeg { .. }
        | E::BatchFailed { .. } => 1,
        E::Cancelled => INTERRUPTED,
    }
}

fn upscale(e: &prism_upscale::Error) -> i32 {
    use prism_upscale::Error as E;
    match e {
        E::Core(e) => core(e),
        E::Hub(e) => hub(e),
        E::Media(e) => media(e),
        E::NotSuperResolution { .. } => 5,
        E::TooLarge { .. } => 6,
        E::Option(_) => USAGE,
        E::NonFinite { .. } => 1,
        E::Cancelled => INTERRUPTED,
    }
}

fn interpolate(e: &prism_interpolate::Error) -> i32 {
    use prism_interpolate::Error as E;
    match e {
        E::Core(e) => core(e),
        E::Media(e) => media(e),
        E::NotInterpolationModel { .. } => 5,
        E::FrameSize { .. } | E::Image { .. } | E::Input(_) | E::Memory { .. } => 6,
        E::Timestep { .. }
        | E::Unreachable { .. }
        | E::Scale { .. }
        | E::FrameRate { .. }
        | E::Output { .. } => USAGE,
        E::NonFinite { .. } | E::Io { .. } => 1,
        E::Cancelled => INTERRUPTED,
    }
}

fn style(e: &prism_style::Error) -> i32 {
    use prism_style::Error as E;
    match e {
        E::Core(e) => core(e),
        E::Hub(e) => hub(e),
        E::Media(e) => media(e),
        E::BadModel { .. } => 5,
        E::Options(_) => USAGE,
        E::ImageSize { .. } => 6,
        E::Diverged { .. } => 1,
        E::Cancelled { .. } => INTERRUPTED,
    }
}

fn hub(e: &prism_hub::Error) -> i32 {
    use prism_hub::Error as E;
    match e {
        E::Core(e) => core(e),
        E::Io { .. } | E::Client(_) => 1,
        E::Usage(_) => USAGE,
        // Registry, download, verification and cache errors: the model is not usable.
        _ => 5,
    }
}
