"""Prism model exporter: PyTorch -> ONNX (fp32/fp16) with parity checks."""
__version__ = "0.1.0"
