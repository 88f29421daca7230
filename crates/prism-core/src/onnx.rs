//! A small, dependency-free reader for the parts of the ONNX protobuf that Prism inspects.
//!
//! Reading the file ourselves (rather than asking ONNX Runtime) lets Prism tell a truncated file from
//! a file that is not ONNX at all, and count parameters from the initializers, which ONNX Runtime does
//! not expose.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

mod free_dims;
pub use free_dims::{free_dims, symbol};

/// Why a byte buffer is not a readable ONNX model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A field claims more bytes than the buffer holds: the file was cut short.
    Truncated { needed: u64, available: u64 },
    /// The bytes are not a protobuf `ModelProto`.
    Malformed(String),
}

/// Element types of ONNX tensors (`TensorProto.DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ElementType {
    Float32,
    Uint8,
    Int8,
    Uint16,
    Int16,
    Int32,
    Int64,
    String,
    Bool,
    Float16,
    Float64,
    Uint32,
    Uint64,
    Complex64,
    Complex128,
    Bfloat16,
    Float8,
    Float4,
    Int4,
    Uint4,
    Unknown(i64),
}

impl ElementType {
    pub fn from_onnx(code: i64) -> Self {
        match code {
            1 => Self::Float32,
            2 => Self::Uint8,
            3 => Self::Int8,
            4 => Self::Uint16,
            5 => Self::Int16,
            6 => Self::Int32,
            7 => Self::Int64,
            8 => Self::String,
            9 => Self::Bool,
            10 => Self::Float16,
            11 => Self::Float64,
            12 => Self::Uint32,
            13 => Self::Uint64,
            14 => Self::Complex64,
            15 => Self::Complex128,
            16 => Self::Bfloat16,
            17..=20 => Self::Float8,
            23 => Self::Float4,
            22 => Self::Int4,
            21 => Self::Uint4,
            other => Self::Unknown(other),
        }
    }

    /// Size of one element in bits (0 where it has no fixed size).
    pub fn bits(self) -> u64 {
        match self {
            Self::Float32 | Self::Int32 | Self::Uint32 => 32,
            Self::Uint8 | Self::Int8 | Self::Bool | Self::Float8 => 8,
            Self::Uint16 | Self::Int16 | Self::Float16 | Self::Bfloat16 => 16,
            Self::Int64 | Self::Uint64 | Self::Float64 | Self::Complex64 => 64,
            Self::Complex128 => 128,
            Self::Int4 | Self::Uint4 | Self::Float4 => 4,
            Self::String | Self::Unknown(_) => 0,
        }
    }
}

impl std::fmt::Display for ElementType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown(code) => write!(f, "type#{code}"),
            other => write!(f, "{}", format!("{other:?}").to_lowercase()),
        }
    }
}

/// One dimension of a tensor shape: a fixed size, a named symbol, or unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Dim {
    Fixed(i64),
    Symbol(String),
    Unknown,
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbol(s) => f.write_str(s),
            Dim::Unknown => f.write_str("?"),
        }
    }
}

/// A graph input or output: name, element type and shape (None when the model gives no shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TensorSpec {
    pub name: String,
    pub element_type: ElementType,
    pub shape: Option<Vec<Dim>>,
}

impl TensorSpec {
    /// The shape written as `1x3xHxW`, `?` for unknown dimensions.
    pub fn shape_string(&self) -> String {
        match &self.shape {
            None => "?".into(),
            Some(dims) => dims
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("x"),
        }
    }
}

/// What the ONNX file itself says, independent of any runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModelProto {
    pub ir_version: i64,
    pub producer_name: String,
    pub producer_version: String,
    /// Operator set versions by domain ("" is the default ONNX domain).
    pub opsets: BTreeMap<String, i64>,
    pub metadata: BTreeMap<String, String>,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    /// Number of scalar parameters held in the initializers.
    pub parameter_count: u64,
    /// Bytes those parameters take.
    pub parameter_bytes: u64,
    pub initializer_count: usize,
    /// The element type holding most of the parameter bytes (FP16 for an FP16 model whatever its I/O).
    pub weight_type: Option<ElementType>,
    pub node_count: usize,
    /// True when some initializer lives in an external data file.
    pub has_external_data: bool,
}

/// Decodes a serialized `ModelProto`.
pub fn decode_model(bytes: &[u8]) -> Result<ModelProto, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Malformed("the file is empty".into()));
    }
    let mut model = ModelProto::default();
    let mut graph_seen = false;
    let mut initializer_names = BTreeSet::new();
    let mut raw_inputs = Vec::new();
    let mut bytes_by_type: Vec<(ElementType, u64)> = Vec::new();
    for field in Fields::new(bytes) {
        let (number, value) = field?;
        match (number, value) {
            (1, Value::Varint(v)) => model.ir_version = v as i64,
            (2, Value::Bytes(b)) => model.producer_name = utf8(b)?,
            (3, Value::Bytes(b)) => model.producer_version = utf8(b)?,
            (7, Value::Bytes(b)) => {
                graph_seen = true;
                decode_graph(
                    b,
                    &mut model,
                    &mut initializer_names,
                    &mut raw_inputs,
                    &mut bytes_by_type,
                )?;
            }
            (8, Value::Bytes(b)) => {
                let (mut domain, mut version) = (String::new(), 0);
                for f in Fields::new(b) {
                    match f? {
                        (1, Value::Bytes(d)) => domain = utf8(d)?,
                        (2, Value::Varint(v)) => version = v as i64,
                        _ => {}
                    }
                }
                model.opsets.insert(domain, version);
            }
            (14, Value::Bytes(b)) => {
                let (mut key, mut value) = (String::new(), String::new());
                for f in Fields::new(b) {
                    match f? {
                        (1, Value::Bytes(k)) => key = utf8(k)?,
                        (2, Value::Bytes(v)) => value = utf8(v)?,
                        _ => {}
                    }
                }
                model.metadata.insert(key, value);
            }
            // Known ModelProto fields with other payloads, and fields from newer ONNX versions.
            (1..=40, _) => {}
            (n, _) => {
                return Err(DecodeError::Malformed(format!(
                    "unexpected field number {n} in ModelProto"
                )));
            }
        }
    }
    if !graph_seen || model.ir_version <= 0 {
        return Err(DecodeError::Malformed(
            "no ONNX graph or IR version found".into(),
        ));
    }
    model.weight_type = bytes_by_type
        .iter()
        .max_by_key(|(_, bytes)| *bytes)
        .map(|(ty, _)| *ty);
    // Old IR versions list initializers among the inputs; those are weights, not inputs.
    model.inputs = raw_inputs
        .into_iter()
        .filter(|i: &TensorSpec| !initializer_names.contains(&i.name))
        .collect();
    Ok(model)
}

fn decode_graph(
    bytes: &[u8],
    model: &mut ModelProto,
    initializer_names: &mut BTreeSet<String>,
    inputs: &mut Vec<TensorSpec>,
    bytes_by_type: &mut Vec<(ElementType, u64)>,
) -> Result<(), DecodeError> {
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Bytes(_)) => model.node_count += 1,
            (5, Value::Bytes(b)) => {
                let t = decode_initializer(b)?;
                let overflow = |what: &str| {
                    DecodeError::Malformed(format!(
                        "the initializers' {what} overflow 64 bits (at `{}`)",
                        t.name
                    ))
                };
                model.initializer_count += 1;
                model.parameter_count = model
                    .parameter_count
                    .checked_add(t.count)
                    .ok_or_else(|| overflow("element counts"))?;
                model.parameter_bytes = model
                    .parameter_bytes
                    .checked_add(t.bytes)
                    .ok_or_else(|| overflow("sizes"))?;
                model.has_external_data |= t.external;
                // Bounded by parameter_bytes, which did not overflow.
                match bytes_by_type
                    .iter_mut()
                    .find(|(ty, _)| *ty == t.element_type)
                {
                    Some((_, bytes)) => *bytes += t.bytes,
                    None => bytes_by_type.push((t.element_type, t.bytes)),
                }
                initializer_names.insert(t.name);
            }
            (11, Value::Bytes(b)) => inputs.push(decode_value_info(b)?),
            (12, Value::Bytes(b)) => model.outputs.push(decode_value_info(b)?),
            _ => {}
        }
    }
    Ok(())
}

struct Initializer {
    name: String,
    element_type: ElementType,
    count: u64,
    bytes: u64,
    external: bool,
}

fn decode_initializer(bytes: &[u8]) -> Result<Initializer, DecodeError> {
    let mut dims: Vec<i64> = Vec::new();
    let mut data_type = 0i64;
    let mut name = String::new();
    let mut raw_len = None;
    let mut external = false;
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Varint(v)) => dims.push(v as i64),
            (1, Value::Bytes(packed)) => {
                let mut reader = Reader {
                    buf: packed,
                    pos: 0,
                };
                while reader.pos < packed.len() {
                    dims.push(reader.varint()? as i64);
                }
            }
            (2, Value::Varint(v)) => data_type = v as i64,
            (8, Value::Bytes(b)) => name = utf8(b)?,
            (9, Value::Bytes(b)) => raw_len = Some(b.len() as u64),
            (14, Value::Varint(1)) => external = true,
            _ => {}
        }
    }
    let element_type = ElementType::from_onnx(data_type);
    let bad = |what: String| DecodeError::Malformed(format!("initializer `{name}`: {what}"));
    let mut count = 1u64;
    for &d in &dims {
        let d = u64::try_from(d).map_err(|_| bad(format!("negative dimension {d}")))?;
        count = count
            .checked_mul(d)
            .ok_or_else(|| bad(format!("dims {dims:?} overflow a 64-bit element count")))?;
    }
    let bits = element_type.bits();
    let declared = count
        .checked_mul(bits)
        .map(|b| b.div_ceil(8))
        .ok_or_else(|| bad(format!("{count} elements of {bits} bits overflow 64 bits")))?;
    let bytes = match raw_len {
        // Raw data must hold exactly what the dims declare (strings have no fixed size).
        Some(len) if bits > 0 && len != declared => {
            return Err(bad(format!(
                "dims {dims:?} of {element_type} need {declared} bytes, raw_data holds {len}"
            )));
        }
        Some(len) => len,
        None => declared,
    };
    Ok(Initializer {
        name,
        element_type,
        count,
        bytes,
        external,
    })
}

fn decode_value_info(bytes: &[u8]) -> Result<TensorSpec, DecodeError> {
    let mut spec = TensorSpec {
        name: String::new(),
        element_type: ElementType::Unknown(0),
        shape: None,
    };
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Bytes(b)) => spec.name = utf8(b)?,
            (2, Value::Bytes(type_proto)) => {
                for f in Fields::new(type_proto) {
                    if let (1, Value::Bytes(tensor_type)) = f? {
                        decode_tensor_type(tensor_type, &mut spec)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(spec)
}

fn decode_tensor_type(bytes: &[u8], spec: &mut TensorSpec) -> Result<(), DecodeError> {
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Varint(v)) => spec.element_type = ElementType::from_onnx(v as i64),
            (2, Value::Bytes(shape)) => {
                let mut dims = Vec::new();
                for f in Fields::new(shape) {
                    if let (1, Value::Bytes(dim)) = f? {
                        let mut d = Dim::Unknown;
                        for g in Fields::new(dim) {
                            match g? {
                                (1, Value::Varint(v)) => d = Dim::Fixed(v as i64),
                                (2, Value::Bytes(s)) => d = Dim::Symbol(utf8(s)?),
                                _ => {}
                            }
                        }
                        dims.push(d);
                    }
                }
                spec.shape = Some(dims);
            }
            _ => {}
        }
    }
    Ok(())
}

fn utf8(bytes: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| DecodeError::Malformed("a string field is not UTF-8".into()))
}

enum Value<'a> {
    Varint(u64),
    Fixed,
    Bytes(&'a [u8]),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(DecodeError::Truncated {
                    needed: self.pos as u64 + 1,
                    available: self.buf.len() as u64,
                });
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::Malformed(
            "a varint is longer than 10 bytes".into(),
        ))
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], DecodeError> {
        let available = (self.buf.len() - self.pos) as u64;
        if len > available {
            return Err(DecodeError::Truncated {
                needed: len,
                available,
            });
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.buf[start..self.pos])
    }
}

/// Iterator over the (field number, value) pairs of one protobuf message.
struct Fields<'a> {
    reader: Reader<'a>,
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self {
            reader: Reader { buf, pos: 0 },
            failed: false,
        }
    }

    fn next_field(&mut self) -> Result<(u64, Value<'a>), DecodeError> {
        let key = self.reader.varint()?;
        let number = key >> 3;
        if number == 0 {
            return Err(DecodeError::Malformed("field number 0".into()));
        }
        let value = match key & 7 {
            0 => Value::Varint(self.reader.varint()?),
            1 => {
                self.reader.take(8)?;
                Value::Fixed
            }
            2 => {
                let len = self.reader.varint()?;
                Value::Bytes(self.reader.take(len)?)
            }
            5 => {
                self.reader.take(4)?;
                Value::Fixed
            }
            wire => {
                return Err(DecodeError::Malformed(format!(
                    "unsupported wire type {wire}"
                )));
            }
        };
        Ok((number, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.reader.pos >= self.reader.buf.len() {
            return None;
        }
        let item = self.next_field();
        self.failed = item.is_err();
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }

    fn bytes_field(number: u64, payload: &[u8], out: &mut Vec<u8>) {
        varint(number << 3 | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    #[test]
    fn empty_and_garbage_are_malformed() {
        assert!(matches!(decode_model(b""), Err(DecodeError::Malformed(_))));
        assert!(matches!(
            decode_model(b"\x89PNG\r\n\x1a\n"),
            Err(DecodeError::Malformed(_)) | Err(DecodeError::Truncated { .. })
        ));
        assert!(decode_model(b"hello world, this is text").is_err());
    }

    #[test]
    fn cut_length_is_truncated() {
        let mut model = Vec::new();
        varint(1 << 3, &mut model);
        varint(8, &mut model);
        let mut graph = Vec::new();
        bytes_field(2, b"g", &mut graph);
        bytes_field(7, &graph, &mut model);
        assert!(decode_model(&model).is_ok());
        let cut = &model[..model.len() - 1];
        assert!(matches!(
            decode_model(cut),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
