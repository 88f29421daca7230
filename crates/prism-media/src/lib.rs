//! Image and video I/O for Prism: decoding with orientation and ICC, atomic writes, folder batches,
//! ffmpeg pipes, high-quality resampling, and the one frame pipeline every task runs through.
//!
//! Nothing here is specific to one task: super-resolution, interpolation and style transfer all read
//! and write through this crate.
//!
//! ```no_run
//! use prism_media::{read_image, write_image, WriteOptions};
//! let loaded = read_image("photo.jpg".as_ref(), &Default::default())?;
//! write_image("photo-copy.png".as_ref(), &loaded.image, loaded.icc_profile.as_deref(), &WriteOptions::default())?;
//! # Ok::<(), prism_media::Error>(())
//! ```

pub mod batch;
pub mod cleanup;
pub mod error;
pub mod frames;
pub mod image_io;
pub mod map;
pub mod progress;
pub mod resize;
pub mod video;

pub use batch::{BatchOptions, BatchReport, Job, Outcome, collect_inputs, output_path, plan_jobs};
pub use error::{Error, Result};
pub use image_io::{
    Limits, LoadedImage, OutputFormat, WriteOptions, atomic_write, read_image, write_gif,
    write_image,
};
pub use map::{FrameMap, MapJob, MapReport, map_media};
pub use progress::{Progress, Unit};
pub use resize::resize;
