//! Prism's core: finds and loads ONNX Runtime, picks the execution provider that really works,
//! loads and inspects models, and converts images to tensors and back.
//!
//! ```no_run
//! use prism_core::{Model, SessionOptions};
//! let mut model = Model::load("model.onnx".as_ref(), &SessionOptions::default())?;
//! println!("running on {}", model.provider());
//! # Ok::<(), prism_core::Error>(())
//! ```

pub mod checkout;
pub mod device;
pub mod error;
pub mod info;
pub mod models;
pub mod onnx;
pub mod runtime;
pub mod session;
pub mod system;
pub mod tensor;

pub use device::{Device, Precision, Provider};
pub use error::{Error, ErrorKind, Result};
pub use info::ModelInfo;
pub use runtime::{Runtime, RuntimeOptions};
pub use session::{CudaOptions, Model, OptLevel, SessionOptions, Tensor, TensorRtOptions};
pub use tensor::{
    ImageTensor, PixelLayout, ValueRange, image_to_tensor, image_to_tensor_padded, tensor_to_image,
};
