//! ONNX graphs from a model's [`Architecture`]: one self-contained `ModelProto` per inference
//! graph (encoder, decoder, generator, classifier), opset 17, the batch axis a free symbol `N`,
//! the weights as initializers under their state-dict names.
//!
//! # How each piece is written
//! | latent | ONNX |
//! | --- | --- |
//! | `Linear` | `Gemm` (`transB = 1`; weight `[out, in]` as stored) |
//! | `Conv2d`, `ConvTranspose2d` | `Conv`, `ConvTranspose` (PyTorch's weight layouts are ONNX's) |
//! | `BatchNorm1d/2d` | `BatchNormalization` with the running statistics (inference) |
//! | `Flatten`, `Unflatten`, reshapes | `Reshape` to `[-1, per-example shape...]` |
//! | ReLU, LeakyReLU, ELU, sigmoid, tanh, softplus | the op of that name (softplus with `β ≠ 1` as `Softplus(βx)/β`) |
//! | `Dropout` | `Identity` (inference) |
//! | label conditioning | `Concat` on axis 1 with the one-hot input `y` |
//! | to data space | `Sigmoid`, or `Add`/`Mul` by constants, in latent's order |
//!
//! Shapes are followed through every layer, so a description that does not fit its weights is
//! refused here with the layer's name, not by the runtime that loads the file.

pub mod proto;

use std::collections::{BTreeMap, HashSet};

use latent_models::architecture::{Architecture, Graph, Op};
use latent_nn::layers::LayerSpec;
use prost::Message;

use crate::error::{ExportError, Result};
use crate::weights::Weights;
use proto::tensor_shape_proto::{Dimension, dimension};
use proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_type, type_proto,
};

/// The ONNX operator set the graphs use.
pub const OPSET: i64 = 17;
/// The ONNX IR version that goes with [`OPSET`].
pub const IR_VERSION: i64 = 8;
/// The name of the free batch axis of every input and output.
pub const BATCH_AXIS: &str = "N";

/// The graph `graph` of `arch` as an ONNX model, with `weights` (the model's state dict) as its
/// initializers and `metadata` as its `metadata_props`.
///
/// # Errors
/// If the graph reads a value it has not made, a layer does not fit its input's shape, or a
/// weight is missing or of another shape than the layer needs.
pub fn graph_to_model(
    arch: &Architecture,
    graph: &Graph,
    weights: &Weights,
    metadata: &[(String, String)],
) -> Result<ModelProto> {
    let mut b = Builder::new(&graph.name, weights);
    let mut inputs = Vec::new();
    for port in &graph.inputs {
        b.shapes.insert(port.name.clone(), port.shape.clone());
        inputs.push(value_info(&port.name, &port.shape, &port.doc));
    }
    for node in &graph.nodes {
        let ins: Vec<&str> = node.inputs.iter().map(String::as_str).collect();
        for i in &ins {
            b.shape(i)?;
        }
        b.op(arch, &node.op, &ins, &node.output)?;
    }
    let mut outputs = Vec::new();
    for (name, doc) in graph.outputs.iter().zip(&graph.output_docs) {
        let shape = b.shape(name)?.clone();
        outputs.push(value_info(name, &shape, doc));
    }
    let graph_proto = GraphProto {
        node: b.nodes,
        name: graph.name.clone(),
        initializer: b.initializers,
        doc_string: graph.doc.clone(),
        input: inputs,
        output: outputs,
        value_info: Vec::new(),
    };
    Ok(ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        producer_name: "latent".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        domain: String::new(),
        model_version: 1,
        doc_string: graph.doc.clone(),
        graph: Some(graph_proto),
        metadata_props: metadata
            .iter()
            .map(|(k, v)| StringStringEntryProto { key: k.clone(), value: v.clone() })
            .collect(),
    })
}

/// [`graph_to_model`] encoded as the bytes of an `.onnx` file.
///
/// # Errors
/// As [`graph_to_model`].
pub fn graph_to_bytes(
    arch: &Architecture,
    graph: &Graph,
    weights: &Weights,
    metadata: &[(String, String)],
) -> Result<Vec<u8>> {
    Ok(graph_to_model(arch, graph, weights, metadata)?.encode_to_vec())
}

/// The per-example shapes of the outputs of `graph`, in order, as the graph computes them.
///
/// # Errors
/// As [`graph_to_model`].
pub fn output_shapes(arch: &Architecture, graph: &Graph, weights: &Weights) -> Result<Vec<Vec<usize>>> {
    let model = graph_to_model(arch, graph, weights, &[])?;
    let outputs = model.graph.map(|g| g.output).unwrap_or_default();
    Ok(outputs
        .iter()
        .map(|o| match &o.r#type {
            Some(TypeProto { value: Some(type_proto::Value::TensorType(t)) }) => t
                .shape
                .iter()
                .flat_map(|s| s.dim.iter().skip(1))
                .map(|d| match d.value {
                    Some(dimension::Value::DimValue(v)) => v as usize,
                    _ => 0,
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect())
}

/// A float tensor value with a free batch axis and per-example `shape`.
fn value_info(name: &str, shape: &[usize], doc: &str) -> ValueInfoProto {
    let mut dim = vec![Dimension { value: Some(dimension::Value::DimParam(BATCH_AXIS.into())) }];
    dim.extend(shape.iter().map(|&d| Dimension { value: Some(dimension::Value::DimValue(d as i64)) }));
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: proto::FLOAT,
                shape: Some(TensorShapeProto { dim }),
            })),
        }),
        doc_string: doc.to_string(),
    }
}

fn attr_ints(name: &str, values: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INTS,
        ints: values.iter().map(|&v| v as i64).collect(),
        ..AttributeProto::default()
    }
}

fn attr_int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attribute_type::INT, i: Some(value), ..AttributeProto::default() }
}

fn attr_float(name: &str, value: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attribute_type::FLOAT, f: Some(value), ..AttributeProto::default() }
}

/// Nodes and initializers being gathered, with every value's per-example shape.
struct Builder<'a> {
    graph: String,
    weights: &'a Weights,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    initialized: HashSet<String>,
    shapes: BTreeMap<String, Vec<usize>>,
    constants: usize,
}

impl<'a> Builder<'a> {
    fn new(graph: &str, weights: &'a Weights) -> Self {
        Builder {
            graph: graph.to_string(),
            weights,
            nodes: Vec::new(),
            initializers: Vec::new(),
            initialized: HashSet::new(),
            shapes: BTreeMap::new(),
            constants: 0,
        }
    }

    fn error(&self, message: impl Into<String>) -> ExportError {
        ExportError::Graph { graph: self.graph.clone(), message: message.into() }
    }

    fn shape(&self, value: &str) -> Result<&Vec<usize>> {
        self.shapes.get(value).ok_or_else(|| self.error(format!("the value `{value}` is read before it is made")))
    }

    fn define(&mut self, value: &str, shape: Vec<usize>) -> Result<()> {
        if self.shapes.insert(value.to_string(), shape).is_some() {
            return Err(self.error(format!("the value `{value}` is made twice")));
        }
        Ok(())
    }

    fn node(&mut self, op_type: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(ToString::to_string).collect(),
            output: vec![output.to_string()],
            name: output.to_string(),
            op_type: op_type.to_string(),
            domain: String::new(),
            attribute,
            doc_string: String::new(),
        });
    }

    /// The model's tensor `name` as an initializer, checked to have `shape`.
    fn weight(&mut self, name: &str, shape: &[usize]) -> Result<String> {
        let (found, data) =
            self.weights.get(name).ok_or_else(|| ExportError::MissingWeight { name: name.to_string() })?;
        if found.as_slice() != shape {
            return Err(ExportError::WeightShape {
                name: name.to_string(),
                expected: shape.to_vec(),
                found: found.clone(),
            });
        }
        if self.initialized.insert(name.to_string()) {
            self.initializers.push(float_tensor(name, shape, data));
        }
        Ok(name.to_string())
    }

    /// A new constant initializer.
    fn constant(&mut self, tensor: TensorProto) -> String {
        let name = tensor.name.clone();
        self.initialized.insert(name.clone());
        self.initializers.push(tensor);
        name
    }

    fn constant_name(&mut self, what: &str) -> String {
        self.constants += 1;
        format!("const.{}.{what}", self.constants)
    }

    fn scalar(&mut self, value: f32) -> String {
        let name = self.constant_name("scalar");
        self.constant(float_tensor(&name, &[], &[value]))
    }

    fn reshape(&mut self, input: &str, output: &str, shape: &[usize]) -> Result<()> {
        let from = self.shape(input)?.clone();
        if from.iter().product::<usize>() != shape.iter().product::<usize>() {
            return Err(self.error(format!(
                "`{output}`: cannot reshape examples of shape {from:?} to {shape:?}: the sizes differ"
            )));
        }
        let name = self.constant_name("shape");
        let mut dims = vec![-1i64];
        dims.extend(shape.iter().map(|&d| d as i64));
        let bytes: Vec<u8> = dims.iter().flat_map(|d| d.to_le_bytes()).collect();
        let shape_input = self.constant(TensorProto {
            dims: vec![dims.len() as i64],
            data_type: proto::INT64,
            name,
            doc_string: String::new(),
            raw_data: bytes,
        });
        self.node("Reshape", &[input, &shape_input], output, Vec::new());
        self.define(output, shape.to_vec())
    }

    fn op(&mut self, arch: &Architecture, op: &Op, inputs: &[&str], output: &str) -> Result<()> {
        let one = |b: &Self| -> Result<&str> {
            match inputs {
                [x] => Ok(x),
                _ => Err(b.error(format!("`{output}` takes one input, found {}", inputs.len()))),
            }
        };
        match op {
            Op::Module(name) => {
                let module =
                    arch.module(name).ok_or_else(|| self.error(format!("`{output}`: no sub-module `{name}`")))?;
                let x = one(self)?.to_string();
                let layers = module.layers();
                if layers.is_empty() {
                    let shape = self.shape(&x)?.clone();
                    self.node("Identity", &[&x], output, Vec::new());
                    return self.define(output, shape);
                }
                let mut current = x;
                for (i, layer) in layers.iter().enumerate() {
                    let prefix = module.layer_prefix(name, i);
                    let out = if i + 1 == layers.len() { output.to_string() } else { prefix.clone() };
                    self.layer(&prefix, layer, &current, &out)?;
                    current = out;
                }
                Ok(())
            }
            Op::Concat => {
                let mut shape: Option<Vec<usize>> = None;
                for i in inputs {
                    let s = self.shape(i)?.clone();
                    shape = Some(match shape {
                        None => s,
                        Some(mut acc) => {
                            if acc.len() != s.len() || acc[1..] != s[1..] {
                                return Err(self.error(format!(
                                    "`{output}`: cannot join examples of shapes {acc:?} and {s:?} along the features"
                                )));
                            }
                            acc[0] += s[0];
                            acc
                        }
                    });
                }
                let shape = shape.ok_or_else(|| self.error(format!("`{output}` joins nothing")))?;
                self.node("Concat", inputs, output, vec![attr_int("axis", 1)]);
                self.define(output, shape)
            }
            Op::Reshape(shape) => {
                let x = one(self)?.to_string();
                self.reshape(&x, output, shape)
            }
            Op::Sigmoid => {
                let x = one(self)?.to_string();
                let shape = self.shape(&x)?.clone();
                self.node("Sigmoid", &[&x], output, Vec::new());
                self.define(output, shape)
            }
            Op::AddScalar(c) | Op::MulScalar(c) => {
                let x = one(self)?.to_string();
                let shape = self.shape(&x)?.clone();
                let constant = self.scalar(*c);
                let op_type = if matches!(op, Op::AddScalar(_)) { "Add" } else { "Mul" };
                self.node(op_type, &[&x, &constant], output, Vec::new());
                self.define(output, shape)
            }
        }
    }

    /// One layer, state-dict prefix `prefix`, from `input` to `output`.
    fn layer(&mut self, prefix: &str, layer: &LayerSpec, input: &str, output: &str) -> Result<()> {
        let shape = self.shape(input)?.clone();
        let wrong = |b: &Self, what: &str| {
            b.error(format!("layer `{prefix}` ({what}) does not fit its input, examples of shape {shape:?}"))
        };
        let same = |b: &mut Self, op_type: &str, attrs: Vec<AttributeProto>| -> Result<()> {
            b.node(op_type, &[input], output, attrs);
            b.define(output, shape.clone())
        };
        match layer {
            LayerSpec::Linear(c) => {
                if shape != [c.in_features] {
                    return Err(wrong(self, &format!("Linear({}, {})", c.in_features, c.out_features)));
                }
                let w = self.weight(&format!("{prefix}.weight"), &[c.out_features, c.in_features])?;
                let mut ins = vec![input.to_string(), w];
                if c.bias {
                    ins.push(self.weight(&format!("{prefix}.bias"), &[c.out_features])?);
                }
                let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
                self.node("Gemm", &ins, output, vec![attr_int("transB", 1)]);
                self.define(output, vec![c.out_features])
            }
            LayerSpec::Conv2d(c) => {
                let (kh, kw) = c.kernel_size;
                let (sh, sw) = c.options.stride;
                let (ph, pw) = c.options.padding;
                let &[ch, h, w] = shape.as_slice() else { return Err(wrong(self, "Conv2d")) };
                if ch != c.in_channels || h + 2 * ph < kh || w + 2 * pw < kw || sh == 0 || sw == 0 {
                    return Err(wrong(self, &format!("Conv2d({}, {})", c.in_channels, c.out_channels)));
                }
                let weight = self.weight(&format!("{prefix}.weight"), &[c.out_channels, c.in_channels, kh, kw])?;
                let mut ins = vec![input.to_string(), weight];
                if c.bias {
                    ins.push(self.weight(&format!("{prefix}.bias"), &[c.out_channels])?);
                }
                let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
                let attrs = vec![
                    attr_ints("kernel_shape", &[kh, kw]),
                    attr_ints("strides", &[sh, sw]),
                    attr_ints("pads", &[ph, pw, ph, pw]),
                    attr_ints("dilations", &[1, 1]),
                    attr_int("group", 1),
                ];
                self.node("Conv", &ins, output, attrs);
                self.define(output, vec![c.out_channels, (h + 2 * ph - kh) / sh + 1, (w + 2 * pw - kw) / sw + 1])
            }
            LayerSpec::ConvTranspose2d(c) => {
                let (kh, kw) = c.kernel_size;
                let (sh, sw) = c.options.stride;
                let (ph, pw) = c.options.padding;
                let (oh, ow) = c.options.output_padding;
                let &[ch, h, w] = shape.as_slice() else { return Err(wrong(self, "ConvTranspose2d")) };
                let (full_h, full_w) = ((h.max(1) - 1) * sh + kh + oh, (w.max(1) - 1) * sw + kw + ow);
                if ch != c.in_channels || h == 0 || w == 0 || full_h <= 2 * ph || full_w <= 2 * pw {
                    return Err(wrong(self, &format!("ConvTranspose2d({}, {})", c.in_channels, c.out_channels)));
                }
                let weight = self.weight(&format!("{prefix}.weight"), &[c.in_channels, c.out_channels, kh, kw])?;
                let mut ins = vec![input.to_string(), weight];
                if c.bias {
                    ins.push(self.weight(&format!("{prefix}.bias"), &[c.out_channels])?);
                }
                let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
                let attrs = vec![
                    attr_ints("kernel_shape", &[kh, kw]),
                    attr_ints("strides", &[sh, sw]),
                    attr_ints("pads", &[ph, pw, ph, pw]),
                    attr_ints("output_padding", &[oh, ow]),
                    attr_ints("dilations", &[1, 1]),
                    attr_int("group", 1),
                ];
                self.node("ConvTranspose", &ins, output, attrs);
                self.define(output, vec![c.out_channels, full_h - 2 * ph, full_w - 2 * pw])
            }
            LayerSpec::BatchNorm1d(c) | LayerSpec::BatchNorm2d(c) => {
                let n = c.num_features;
                let fits = match layer {
                    LayerSpec::BatchNorm2d(_) => shape.len() == 3 && shape[0] == n,
                    _ => matches!(shape.len(), 1 | 2) && shape[0] == n,
                };
                if !fits {
                    return Err(wrong(self, &format!("BatchNorm({n})")));
                }
                let (scale, bias) = if c.affine {
                    (self.weight(&format!("{prefix}.weight"), &[n])?, self.weight(&format!("{prefix}.bias"), &[n])?)
                } else {
                    let s = self.constant_name("ones");
                    let s = self.constant(float_tensor(&s, &[n], &vec![1.0; n]));
                    let b = self.constant_name("zeros");
                    (s, self.constant(float_tensor(&b, &[n], &vec![0.0; n])))
                };
                let mean = self.weight(&format!("{prefix}.running_mean"), &[n])?;
                let var = self.weight(&format!("{prefix}.running_var"), &[n])?;
                let attrs = vec![attr_float("epsilon", c.eps)];
                self.node("BatchNormalization", &[input, &scale, &bias, &mean, &var], output, attrs);
                self.define(output, shape.clone())
            }
            LayerSpec::Dropout { .. } => same(self, "Identity", Vec::new()),
            LayerSpec::Flatten { start_dim } => {
                if *start_dim == 0 || *start_dim > shape.len() {
                    return Err(wrong(self, &format!("Flatten({start_dim})")));
                }
                let mut to = shape[..start_dim - 1].to_vec();
                to.push(shape[start_dim - 1..].iter().product());
                self.reshape(input, output, &to)
            }
            LayerSpec::Unflatten { dim, sizes } => {
                if *dim == 0 || *dim > shape.len() || sizes.iter().product::<usize>() != shape[dim - 1] {
                    return Err(wrong(self, &format!("Unflatten({dim}, {sizes:?})")));
                }
                let mut to = shape[..dim - 1].to_vec();
                to.extend_from_slice(sizes);
                to.extend_from_slice(&shape[*dim..]);
                self.reshape(input, output, &to)
            }
            LayerSpec::Relu => same(self, "Relu", Vec::new()),
            LayerSpec::Sigmoid => same(self, "Sigmoid", Vec::new()),
            LayerSpec::Tanh => same(self, "Tanh", Vec::new()),
            LayerSpec::Identity => same(self, "Identity", Vec::new()),
            LayerSpec::LeakyRelu { negative_slope } => {
                same(self, "LeakyRelu", vec![attr_float("alpha", *negative_slope)])
            }
            LayerSpec::Elu { alpha } => same(self, "Elu", vec![attr_float("alpha", *alpha)]),
            LayerSpec::Softplus { beta } if *beta == 1.0 => same(self, "Softplus", Vec::new()),
            LayerSpec::Softplus { beta } => {
                // latent computes softplus(β·x)/β as two scalings around softplus.
                let b = self.scalar(*beta);
                let inv = self.scalar(1.0 / *beta);
                let (scaled, soft) = (format!("{prefix}.scaled"), format!("{prefix}.softplus"));
                self.node("Mul", &[input, &b], &scaled, Vec::new());
                self.define(&scaled, shape.clone())?;
                self.node("Softplus", &[&scaled], &soft, Vec::new());
                self.define(&soft, shape.clone())?;
                self.node("Mul", &[&soft, &inv], output, Vec::new());
                self.define(output, shape.clone())
            }
            LayerSpec::Sequential { layers } => {
                let mut current = input.to_string();
                for (i, inner) in layers.iter().enumerate() {
                    let p = format!("{prefix}.{i}");
                    let out = if i + 1 == layers.len() { output.to_string() } else { p.clone() };
                    self.layer(&p, inner, &current, &out)?;
                    current = out;
                }
                if layers.is_empty() {
                    return same(self, "Identity", Vec::new());
                }
                Ok(())
            }
        }
    }
}

/// A float initializer of `shape` holding `data` (row-major).
fn float_tensor(name: &str, shape: &[usize], data: &[f32]) -> TensorProto {
    TensorProto {
        dims: shape.iter().map(|&d| d as i64).collect(),
        data_type: proto::FLOAT,
        name: name.to_string(),
        doc_string: String::new(),
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}
