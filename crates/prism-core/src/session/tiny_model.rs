//! Tiny ONNX models written as protobuf bytes in code: the probe model that checks a provider
//! builds a session, and small graphs for tests.

/// ONNX element types used here.
pub(crate) const FLOAT: u64 = 1;
#[cfg(test)]
pub(crate) const FLOAT16: u64 = 10;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_varint(out: &mut Vec<u8>, field: u64, v: u64) {
    varint(out, field << 3);
    varint(out, v);
}

fn field_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, (field << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// `ValueInfoProto` of a tensor; a negative dim is symbolic (`d<axis>`).
fn value_info(name: &str, elem_type: u64, dims: &[i64]) -> Vec<u8> {
    let mut shape = Vec::new();
    for (axis, &d) in dims.iter().enumerate() {
        let mut dim = Vec::new();
        if d < 0 {
            field_bytes(&mut dim, 2, format!("d{axis}").as_bytes());
        } else {
            field_varint(&mut dim, 1, d as u64);
        }
        field_bytes(&mut shape, 1, &dim);
    }
    let mut tensor = Vec::new();
    field_varint(&mut tensor, 1, elem_type);
    field_bytes(&mut tensor, 2, &shape);
    let mut ty = Vec::new();
    field_bytes(&mut ty, 1, &tensor);
    let mut out = Vec::new();
    field_bytes(&mut out, 1, name.as_bytes());
    field_bytes(&mut out, 2, &ty);
    out
}

/// `NodeProto` without attributes.
fn node(op: &str, inputs: &[&str], output: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for input in inputs {
        field_bytes(&mut out, 1, input.as_bytes());
    }
    field_bytes(&mut out, 2, output.as_bytes());
    field_bytes(&mut out, 4, op.as_bytes());
    out
}

#[cfg(test)]
/// A scalar initializer (`TensorProto` with raw little-endian data).
fn scalar(name: &str, elem_type: u64, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    field_varint(&mut out, 2, elem_type);
    field_bytes(&mut out, 8, name.as_bytes());
    field_bytes(&mut out, 9, raw);
    out
}

/// `ModelProto` (IR 8, opset 17) around one graph.
fn model(nodes: &[Vec<u8>], initializers: &[Vec<u8>], input: Vec<u8>, output: Vec<u8>) -> Vec<u8> {
    let mut graph = Vec::new();
    for n in nodes {
        field_bytes(&mut graph, 1, n);
    }
    field_bytes(&mut graph, 2, b"prism");
    for i in initializers {
        field_bytes(&mut graph, 5, i);
    }
    field_bytes(&mut graph, 11, &input);
    field_bytes(&mut graph, 12, &output);
    let mut opset = Vec::new();
    field_bytes(&mut opset, 1, b"");
    field_varint(&mut opset, 2, 17);
    let mut out = Vec::new();
    field_varint(&mut out, 1, 8);
    field_bytes(&mut out, 2, b"prism");
    field_bytes(&mut out, 7, &graph);
    field_bytes(&mut out, 8, &opset);
    out
}

/// `y = Identity(x)`, FP32 `[1]`: the model a provider must build to count as working.
pub(crate) fn identity() -> Vec<u8> {
    model(
        &[node("Identity", &["x"], "y")],
        &[],
        value_info("x", FLOAT, &[1]),
        value_info("y", FLOAT, &[1]),
    )
}

/// `y = (x * w) / w` on `[1, n]` of `elem_type`, with the scalar weight `w` given as raw bytes.
/// An FP16 `w` of +Inf (a weight that overflowed when halved) gives NaN everywhere.
#[cfg(test)]
pub(crate) fn scale_unscale(elem_type: u64, n: i64, w: &[u8]) -> Vec<u8> {
    model(
        &[node("Mul", &["x", "w"], "t"), node("Div", &["t", "w"], "y")],
        &[scalar("w", elem_type, w)],
        value_info("x", elem_type, &[1, n]),
        value_info("y", elem_type, &[1, n]),
    )
}
