//! Style transfer: fast feed-forward styles, and Gatys neural style as a Rust L-BFGS / Adam loop over ONNX VGG19 graphs.
