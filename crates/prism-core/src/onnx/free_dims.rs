//! Rewriting declared graph dims to symbolic ones, in memory: fully convolutional graphs exported
//! with fixed input sizes (Magenta's arbitrary-style transform, the ONNX Model Zoo fast styles) then
//! run at other sizes. Only the graph's input/output declarations change (and its optional
//! `value_info` shape hints are dropped); nodes and weights are copied byte for byte.

use std::collections::BTreeMap;

use super::{DecodeError, Fields, Value};

/// The name a freed dim gets: `<tensor>_dim<axis>`.
pub fn symbol(tensor: &str, axis: usize) -> String {
    format!("{tensor}_dim{axis}")
}

/// `bytes` (a serialized `ModelProto`) with the fixed dims at `inputs[name]` (axes) of those graph
/// inputs, and every fixed dim of every graph output, made symbolic; `value_info` is dropped.
pub fn free_dims(
    bytes: &[u8],
    inputs: &BTreeMap<String, Vec<usize>>,
) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(bytes.len());
    for (number, payload, raw) in spans(bytes)? {
        match (number, payload) {
            (7, Some(graph)) => put_bytes(7, &rewrite_graph(graph, inputs)?, &mut out),
            _ => out.extend_from_slice(raw),
        }
    }
    Ok(out)
}

enum Axes<'a> {
    All,
    Only(&'a [usize]),
}

fn rewrite_graph(
    graph: &[u8],
    inputs: &BTreeMap<String, Vec<usize>>,
) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(graph.len());
    for (number, payload, raw) in spans(graph)? {
        match (number, payload) {
            (11, Some(vi)) => match inputs.get(&value_info_name(vi)?) {
                Some(axes) => put_bytes(11, &rewrite_value_info(vi, &Axes::Only(axes))?, &mut out),
                None => out.extend_from_slice(raw),
            },
            (12, Some(vi)) => put_bytes(12, &rewrite_value_info(vi, &Axes::All)?, &mut out),
            // Intermediate shape hints may pin the old sizes; ONNX Runtime infers them again.
            (13, Some(_)) => {}
            _ => out.extend_from_slice(raw),
        }
    }
    Ok(out)
}

fn value_info_name(vi: &[u8]) -> Result<String, DecodeError> {
    for (number, payload, _) in spans(vi)? {
        if let (1, Some(name)) = (number, payload) {
            return super::utf8(name);
        }
    }
    Ok(String::new())
}

fn rewrite_value_info(vi: &[u8], axes: &Axes<'_>) -> Result<Vec<u8>, DecodeError> {
    let name = value_info_name(vi)?;
    // ValueInfoProto.type (2) -> TypeProto.tensor_type (1) -> Tensor.shape (2) -> dims.
    nested(vi, 2, &mut |type_proto| {
        nested(type_proto, 1, &mut |tensor| {
            nested(tensor, 2, &mut |shape| rewrite_shape(shape, &name, axes))
        })
    })
}

/// A rewrite of one nested message's bytes.
type Rewrite<'a> = dyn FnMut(&[u8]) -> Result<Vec<u8>, DecodeError> + 'a;

/// `msg` with each field `number` replaced by `f(payload)`; other fields copied.
fn nested(msg: &[u8], number: u64, f: &mut Rewrite<'_>) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(msg.len() + 16);
    for (n, payload, raw) in spans(msg)? {
        match payload {
            Some(p) if n == number => put_bytes(n, &f(p)?, &mut out),
            _ => out.extend_from_slice(raw),
        }
    }
    Ok(out)
}

fn rewrite_shape(shape: &[u8], tensor: &str, axes: &Axes<'_>) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(shape.len() + 16);
    let mut axis = 0;
    for (number, payload, raw) in spans(shape)? {
        let (1, Some(dim)) = (number, payload) else {
            out.extend_from_slice(raw);
            continue;
        };
        let wanted = match axes {
            Axes::All => true,
            Axes::Only(list) => list.contains(&axis),
        };
        let fixed = spans(dim)?.iter().any(|(n, _, _)| *n == 1);
        if wanted && fixed {
            // Dimension: dim_value (1) / dim_param (2) are a oneof; keep the denotation (3).
            let mut d = Vec::new();
            for (n, _, raw) in spans(dim)? {
                if n != 1 && n != 2 {
                    d.extend_from_slice(raw);
                }
            }
            put_bytes(2, symbol(tensor, axis).as_bytes(), &mut d);
            put_bytes(1, &d, &mut out);
        } else {
            out.extend_from_slice(raw);
        }
        axis += 1;
    }
    Ok(out)
}

type Span<'a> = (u64, Option<&'a [u8]>, &'a [u8]);

/// The fields of one message: number, payload of length-delimited ones, and the raw field bytes.
fn spans(buf: &[u8]) -> Result<Vec<Span<'_>>, DecodeError> {
    let mut fields = Fields::new(buf);
    let mut out = Vec::new();
    loop {
        let start = fields.reader.pos;
        let Some(field) = fields.next() else {
            return Ok(out);
        };
        let (number, value) = field?;
        let payload = match value {
            Value::Bytes(b) => Some(b),
            _ => None,
        };
        out.push((number, payload, &buf[start..fields.reader.pos]));
    }
}

fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(number: u64, payload: &[u8], out: &mut Vec<u8>) {
    put_varint(number << 3 | 2, out);
    put_varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::{Dim, decode_model};

    const FIXED: &[u8] = include_bytes!("../../../../tests/fixtures/fixed_shape.onnx");

    #[test]
    fn frees_the_asked_input_axes_and_every_output_dim() {
        let axes = BTreeMap::from([("input".to_string(), vec![2, 3])]);
        let freed = decode_model(&free_dims(FIXED, &axes).unwrap()).unwrap();
        let before = decode_model(FIXED).unwrap();
        let sym = |s: &str| Dim::Symbol(s.into());
        assert_eq!(
            freed.inputs[0].shape.as_deref().unwrap(),
            [
                Dim::Fixed(1),
                Dim::Fixed(3),
                sym("input_dim2"),
                sym("input_dim3")
            ]
        );
        assert_eq!(
            freed.outputs[0].shape.as_deref().unwrap(),
            [
                sym("output_dim0"),
                sym("output_dim1"),
                sym("output_dim2"),
                sym("output_dim3")
            ]
        );
        // Everything else is as it was.
        assert_eq!(
            (freed.node_count, freed.opsets.clone(), freed.ir_version),
            (before.node_count, before.opsets.clone(), before.ir_version)
        );
    }

    #[test]
    fn other_inputs_keep_their_declared_shapes() {
        let axes = BTreeMap::from([("no_such_input".to_string(), vec![0])]);
        let freed = free_dims(FIXED, &axes).unwrap();
        let model = decode_model(&freed).unwrap();
        assert_eq!(model.inputs, decode_model(FIXED).unwrap().inputs);
        assert!(free_dims(&FIXED[..FIXED.len() - 3], &axes).is_err());
    }
}
