"""Writes the tiny, seeded ONNX fixtures the Rust tests use into tests/fixtures/.

Regenerate with:  cargo xtask fixtures   (runs this script, then `python -m prism_export fixtures
tests/fixtures/tiny`, which builds tiny seeded versions of the real task networks)

Each model is built node by node with the `onnx` helper API, and every expected output is computed
here with plain numpy, so the references do not come from ONNX Runtime or from Prism.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]
IR_VERSION = 8  # what opset 17 needs; ONNX Runtime 1.31 reads IR <= 13
PRODUCER = ("prism-fixtures", "1")


def save(model: onnx.ModelProto, path: Path, metadata: dict[str, str] | None = None) -> None:
    model.ir_version = IR_VERSION
    model.producer_name, model.producer_version = PRODUCER
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def conv3x3_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Same-padded 3x3 convolution, written out in numpy."""
    n, c, h, wd = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, w.shape[0], h, wd), dtype=np.float64)
    for o in range(w.shape[0]):
        for i in range(c):
            for dy in range(3):
                for dx in range(3):
                    out[:, o] += w[o, i, dy, dx] * padded[:, i, dy : dy + h, dx : dx + wd]
        out[:, o] += b[o]
    return out


def tiny_conv(dtype) -> tuple[onnx.ModelProto, np.ndarray, np.ndarray]:
    """A 3x3 convolution. The FP16 variant follows the export's contract: FP16 weights and compute,
    float32 inputs and outputs (cast inside the graph)."""
    rng = np.random.default_rng(1234)
    w = rng.standard_normal((3, 3, 3, 3)).astype(np.float32) * 0.2
    b = rng.standard_normal(3).astype(np.float32) * 0.1
    dims = ["N", 3, "H", "W"]
    if dtype == np.float16:
        nodes = [
            helper.make_node("Cast", ["input"], ["input16"], to=TensorProto.FLOAT16),
            helper.make_node("Conv", ["input16", "weight", "bias"], ["output16"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
            helper.make_node("Cast", ["output16"], ["output"], to=TensorProto.FLOAT),
        ]
    else:
        nodes = [helper.make_node("Conv", ["input", "weight", "bias"], ["output"], pads=[1, 1, 1, 1], kernel_shape=[3, 3])]
    graph = helper.make_graph(
        nodes,
        "tiny_conv",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, dims)],
        [numpy_helper.from_array(w.astype(dtype), "weight"), numpy_helper.from_array(b.astype(dtype), "bias")],
    )
    return helper.make_model(graph, opset_imports=OPSET), w, b


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    meta = {"prism.task": "test", "prism.architecture": "tiny-conv", "prism.scale": "1", "prism.value_range": "0..1"}

    # A 3x3 convolution, FP32 and FP16 variants, with a numpy reference output.
    model, w, b = tiny_conv(np.float32)
    save(model, out / "tiny_conv.fp32.onnx", {**meta, "prism.precision": "fp32"})
    model16, _, _ = tiny_conv(np.float16)
    save(model16, out / "tiny_conv.fp16.onnx", {**meta, "prism.precision": "fp16"})
    x = (np.arange(1 * 3 * 4 * 5, dtype=np.float32).reshape(1, 3, 4, 5) % 7) / 7.0
    reference = {
        "input_shape": list(x.shape),
        "input": x.ravel().tolist(),
        "output_fp32_weights": conv3x3_reference(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64)).ravel().tolist(),
        "output_fp16_weights": conv3x3_reference(
            x.astype(np.float16).astype(np.float64), w.astype(np.float16).astype(np.float64), b.astype(np.float16).astype(np.float64)
        ).ravel().tolist(),
    }
    (out / "tiny_conv.expected.json").write_text(json.dumps(reference))

    # A model with a fixed input shape, for "inputs that do not fit".
    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["output"])],
        "fixed_shape",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    save(helper.make_model(graph, opset_imports=OPSET), out / "fixed_shape.onnx")

    # Fixed declared dims on fully convolutional graphs, for running at other sizes (dims made free
    # in memory): a 3x3 conv + ReLU with a fixed value_info hint that runs at any size, with a numpy
    # reference at 12x10; and the same conv followed by a Reshape to a constant shape, which cannot.
    rng = np.random.default_rng(99)
    w = rng.standard_normal((3, 3, 3, 3)).astype(np.float32) * 0.3
    b = rng.standard_normal(3).astype(np.float32) * 0.1
    conv = helper.make_node("Conv", ["input", "weight", "bias"], ["hidden"], pads=[1, 1, 1, 1], kernel_shape=[3, 3])
    weights = [numpy_helper.from_array(w, "weight"), numpy_helper.from_array(b, "bias")]
    graph = helper.make_graph(
        [conv, helper.make_node("Relu", ["hidden"], ["output"])],
        "fixed_conv",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 8, 8])],
        weights,
        value_info=[helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    save(helper.make_model(graph, opset_imports=OPSET), out / "fixed_conv.onnx")
    x = (np.arange(1 * 3 * 12 * 10, dtype=np.float32).reshape(1, 3, 12, 10) % 11) / 11.0 - 0.3
    y = np.maximum(conv3x3_reference(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64)), 0.0)
    (out / "fixed_conv.expected.json").write_text(json.dumps(
        {"input_shape": list(x.shape), "input": x.ravel().tolist(), "output": y.ravel().tolist()}))
    shape = numpy_helper.from_array(np.array([1, 192], dtype=np.int64), "flat_shape")
    graph = helper.make_graph(
        [conv, helper.make_node("Reshape", ["hidden", "flat_shape"], ["output"])],
        "fixed_reshape",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 192])],
        weights + [shape],
    )
    save(helper.make_model(graph, opset_imports=OPSET), out / "fixed_reshape.onnx")

    # Two named inputs with symbolic dimensions, for named --shape arguments.
    dims = ["N", 3, "H", "W"]
    graph = helper.make_graph(
        [helper.make_node("Sub", ["img1", "img0"], ["diff"])],
        "two_inputs",
        [helper.make_tensor_value_info("img0", TensorProto.FLOAT, dims), helper.make_tensor_value_info("img1", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("diff", TensorProto.FLOAT, dims)],
    )
    save(helper.make_model(graph, opset_imports=OPSET), out / "two_inputs.onnx")

    # The smallest model: the engine's provider probe embeds it.
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    save(helper.make_model(graph, opset_imports=OPSET), out / "identity.onnx")

    # Well-formed protobuf that ONNX Runtime must reject: an operator that does not exist.
    graph = helper.make_graph(
        [helper.make_node("NoSuchOperator", ["x"], ["y"])],
        "corrupt",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=OPSET)
    model.producer_name, model.producer_version = PRODUCER
    model.ir_version = IR_VERSION
    (out / "unknown_op.onnx").write_bytes(model.SerializeToString())
    print(f"fixtures written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"))
