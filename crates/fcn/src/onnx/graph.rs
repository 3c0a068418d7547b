//! A small builder over the ONNX protobuf messages (`onnx-protobuf`): nodes with
//! their attributes, initialisers (float32, or float16 cast back to float32 on
//! load), constants, and the typed inputs and outputs with named dynamic sides.

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::tensor_shape_proto::Dimension;
use onnx_protobuf::{
    AttributeProto, GraphProto, NodeProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto, type_proto,
};

/// An attribute value.
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Str(&'static str),
}

/// One side of a graph input or output: fixed, or named and dynamic.
pub enum Dim {
    Fixed(i64),
    Named(&'static str),
}

pub struct Graph {
    proto: GraphProto,
    count: usize,
    /// Weights stored as float16 (and cast to float32 by a node).
    fp16: bool,
}

impl Graph {
    pub fn new(name: &str, fp16: bool) -> Self {
        let proto = GraphProto {
            name: name.to_owned(),
            ..Default::default()
        };
        Self {
            proto,
            count: 0,
            fp16,
        }
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.count += 1;
        format!("{hint}_{}", self.count)
    }

    /// Adds `op` on `inputs` and returns the name of its (first) output.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.node_into(op, inputs, &out, attrs);
        out
    }

    /// Adds `op` writing `output` (a graph output's name, say).
    pub fn node_into(&mut self, op: &str, inputs: &[&str], output: &str, attrs: Vec<(&str, Attr)>) {
        let node = NodeProto {
            op_type: op.to_owned(),
            name: format!("{op}_{}", self.proto.node.len()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_owned()],
            attribute: attrs.into_iter().map(|(n, a)| attribute(n, a)).collect(),
            ..Default::default()
        };
        self.proto.node.push(node);
    }

    /// A float weight named `name`; in an fp16 graph it is stored as float16 and
    /// the returned name is that of its cast to float32.
    pub fn weight(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        let dims: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
        if !self.fp16 {
            let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            self.push_initializer(name, dims, DataType::FLOAT, raw);
            return name.to_owned();
        }
        let raw = values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        let stored = format!("{name}.f16");
        self.push_initializer(&stored, dims, DataType::FLOAT16, raw);
        let out = name.to_owned();
        let to = Attr::Int(DataType::FLOAT as i64);
        self.node_into("Cast", &[&stored], &out, vec![("to", to)]);
        out
    }

    /// A float32 constant (normalisation values), never stored as float16.
    pub fn float_const(&mut self, hint: &str, dims: &[i64], values: &[f32]) -> String {
        let name = self.fresh(hint);
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_initializer(&name, dims.to_vec(), DataType::FLOAT, raw);
        name
    }

    /// A one-dimensional int64 constant (shapes, pads, axes).
    pub fn ints(&mut self, hint: &str, values: &[i64]) -> String {
        let name = self.fresh(hint);
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_initializer(&name, vec![values.len() as i64], DataType::INT64, raw);
        name
    }

    fn push_initializer(&mut self, name: &str, dims: Vec<i64>, ty: DataType, raw: Vec<u8>) {
        self.proto.initializer.push(TensorProto {
            name: name.to_owned(),
            dims,
            data_type: ty as i32,
            raw_data: raw,
            ..Default::default()
        });
    }

    pub fn input(&mut self, name: &str, ty: DataType, dims: &[Dim]) {
        self.proto.input.push(value_info(name, ty, dims));
    }

    pub fn output(&mut self, name: &str, ty: DataType, dims: &[Dim]) {
        self.proto.output.push(value_info(name, ty, dims));
    }

    pub fn finish(self) -> GraphProto {
        self.proto
    }
}

fn attribute(name: &str, value: Attr) -> AttributeProto {
    let mut a = AttributeProto {
        name: name.to_owned(),
        ..Default::default()
    };
    let ty = match value {
        Attr::Int(i) => {
            a.i = i;
            AttributeType::INT
        }
        Attr::Ints(v) => {
            a.ints = v;
            AttributeType::INTS
        }
        Attr::Str(s) => {
            a.s = s.as_bytes().to_vec();
            AttributeType::STRING
        }
    };
    a.type_ = ty.into();
    a
}

fn value_info(name: &str, ty: DataType, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| {
            let mut out = Dimension::new();
            match d {
                Dim::Fixed(v) => out.set_dim_value(*v),
                Dim::Named(n) => out.set_dim_param((*n).to_owned()),
            }
            out
        })
        .collect();
    let tensor = type_proto::Tensor {
        elem_type: ty as i32,
        shape: Some(TensorShapeProto {
            dim,
            ..Default::default()
        })
        .into(),
        ..Default::default()
    };
    ValueInfoProto {
        name: name.to_owned(),
        type_: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(tensor)),
            ..Default::default()
        })
        .into(),
        ..Default::default()
    }
}
