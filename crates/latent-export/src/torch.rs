//! `model.py`: a model's [`Architecture`] as a self-contained PyTorch module — plain `torch.nn`
//! layers under the names latent stores them (so `Model().state_dict()` has exactly the keys
//! and shapes of `model.safetensors`, and loading is `strict=True`), one method per graph
//! (`encode`, `decode`, `generate`, `discriminate`, `classify`), and `load(directory)`, which
//! reads the weights with a twenty-line safetensors reader (no package beyond torch).
//!
//! Each method computes what the graph of that name computes; `raw=True` stops before the map
//! to data space (a decoder's logits, a generator's tanh output), which is what training needs.

use std::fmt::Write;

use latent_models::architecture::{Architecture, Graph, Op, Submodule};
use latent_nn::layers::LayerSpec;

/// The file name of the module.
pub const MODEL_PY: &str = "model.py";

/// The method that computes graph `name` (`encoder` → `encode`).
pub fn method_name(graph: &str) -> String {
    match graph {
        "encoder" => "encode".into(),
        "decoder" => "decode".into(),
        "generator" => "generate".into(),
        "discriminator" => "discriminate".into(),
        "classifier" => "classify".into(),
        other => other.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
    }
}

/// The text of `model.py` for `arch`; `title` is the docstring's first line.
pub fn model_py(arch: &Architecture, title: &str, constants: &[(&str, String)]) -> String {
    let mut out = String::new();
    let methods: Vec<String> = arch
        .graphs
        .iter()
        .map(|g| {
            let args: Vec<&str> = g.inputs.iter().map(|p| p.name.as_str()).collect();
            format!("    model.{}({}) -> {}", method_name(&g.name), args.join(", "), g.outputs.join(", "))
        })
        .collect();
    let _ = writeln!(
        out,
        r#""""{title}

Plain torch.nn modules whose state_dict has exactly the names and shapes of model.safetensors
beside this file: `load(directory)` builds the model and loads them with strict=True. Written by
latent; spec.json beside it says what every input and output holds and how the data's values map
to the model's units (pixels / 255; real values standardised per feature) and back.

{}

Inputs and outputs are rows [N, ...] of float32; a label y is a one-hot row of CLASSES values.
`raw=True` returns the network's output before the map to data space (logits, tanh images),
which is what a training loss reads.
"""
import json
import os

import torch
from torch import nn
"#,
        methods.join("\n")
    );
    for (name, value) in constants {
        let _ = writeln!(out, "{name} = {value}");
    }
    let _ = writeln!(out, "\n\nclass Model(nn.Module):");
    let _ = writeln!(out, "    \"\"\"The exported model (see the module docstring).\"\"\"\n");
    let _ = writeln!(out, "    def __init__(self):");
    let _ = writeln!(out, "        super().__init__()");
    for (name, module) in &arch.modules {
        match module {
            Submodule::Sequential(layers) => {
                let _ = writeln!(out, "        self.{name} = {}", sequential(layers, 8));
            }
            Submodule::Layer(layer) => {
                let _ = writeln!(out, "        self.{name} = {}", layer_py(layer, 8));
            }
        }
    }
    for graph in &arch.graphs {
        out.push('\n');
        method(&mut out, graph);
    }
    out.push_str(LOADER);
    out
}

fn method(out: &mut String, graph: &Graph) {
    let args: Vec<&str> = graph.inputs.iter().map(|p| p.name.as_str()).collect();
    let raw = graph.data_map > 0;
    let signature = if raw { format!("{}, raw=False", args.join(", ")) } else { args.join(", ") };
    let _ = writeln!(out, "    def {}(self, {signature}):", method_name(&graph.name));
    let _ = writeln!(out, "        \"\"\"{}.", capitalised(&graph.doc));
    out.push('\n');
    for p in &graph.inputs {
        let _ = writeln!(out, "        {}: [N, {}] {}.", p.name, dims(&p.shape), p.doc);
    }
    for (o, doc) in graph.outputs.iter().zip(&graph.output_docs) {
        let _ = writeln!(out, "        Returns {o}: {doc}.");
    }
    let _ = writeln!(out, "        \"\"\"");
    let raw_count = graph.nodes.len() - graph.data_map;
    for (i, node) in graph.nodes.iter().enumerate() {
        if raw && i == raw_count {
            let last = &graph.nodes[raw_count - 1].output;
            let _ = writeln!(out, "        if raw:\n            return {last}");
        }
        let input = |k: usize| node.inputs.get(k).cloned().unwrap_or_default();
        let expr = match &node.op {
            Op::Module(m) => format!("self.{m}({})", input(0)),
            Op::Concat => format!("torch.cat([{}], 1)", node.inputs.join(", ")),
            Op::Reshape(shape) => format!("{}.reshape(-1, {})", input(0), dims(shape)),
            Op::Sigmoid => format!("torch.sigmoid({})", input(0)),
            Op::AddScalar(c) => format!("{} + {}", input(0), float(*c)),
            Op::MulScalar(c) => format!("{} * {}", input(0), float(*c)),
        };
        let _ = writeln!(out, "        {} = {expr}", node.output);
    }
    let _ = writeln!(out, "        return {}", graph.outputs.join(", "));
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn dims(shape: &[usize]) -> String {
    shape.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// A float as Python reads it back to the same `f32` (the shortest round-tripping form).
fn float(v: f32) -> String {
    let text = format!("{v:?}");
    if text.contains(['.', 'e', 'n', 'i']) { text } else { format!("{text}.0") }
}

fn pair((a, b): (usize, usize)) -> String {
    format!("({a}, {b})")
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn sequential(layers: &[LayerSpec], indent: usize) -> String {
    if layers.is_empty() {
        return "nn.Sequential()".into();
    }
    let pad = " ".repeat(indent + 4);
    let mut s = String::from("nn.Sequential(\n");
    for (i, layer) in layers.iter().enumerate() {
        let _ = writeln!(s, "{pad}{},  # {i}", layer_py(layer, indent + 4));
    }
    let _ = write!(s, "{})", " ".repeat(indent));
    s
}

fn layer_py(layer: &LayerSpec, indent: usize) -> String {
    match layer {
        LayerSpec::Linear(c) => {
            format!("nn.Linear({}, {}, bias={})", c.in_features, c.out_features, py_bool(c.bias))
        }
        LayerSpec::Conv2d(c) => format!(
            "nn.Conv2d({}, {}, kernel_size={}, stride={}, padding={}, bias={})",
            c.in_channels,
            c.out_channels,
            pair(c.kernel_size),
            pair(c.options.stride),
            pair(c.options.padding),
            py_bool(c.bias)
        ),
        LayerSpec::ConvTranspose2d(c) => format!(
            "nn.ConvTranspose2d({}, {}, kernel_size={}, stride={}, padding={}, output_padding={}, bias={})",
            c.in_channels,
            c.out_channels,
            pair(c.kernel_size),
            pair(c.options.stride),
            pair(c.options.padding),
            pair(c.options.output_padding),
            py_bool(c.bias)
        ),
        LayerSpec::BatchNorm1d(c) | LayerSpec::BatchNorm2d(c) => format!(
            "nn.{}({}, eps={}, momentum={}, affine={})",
            if matches!(layer, LayerSpec::BatchNorm2d(_)) { "BatchNorm2d" } else { "BatchNorm1d" },
            c.num_features,
            float(c.eps),
            c.momentum.map_or_else(|| "None".to_string(), float),
            py_bool(c.affine)
        ),
        LayerSpec::Dropout { p } => format!("nn.Dropout({})", float(*p)),
        LayerSpec::Flatten { start_dim } => format!("nn.Flatten({start_dim})"),
        LayerSpec::Unflatten { dim, sizes } => format!("nn.Unflatten({dim}, ({},))", dims(sizes)),
        LayerSpec::Relu => "nn.ReLU()".into(),
        LayerSpec::LeakyRelu { negative_slope } => format!("nn.LeakyReLU({})", float(*negative_slope)),
        LayerSpec::Elu { alpha } => format!("nn.ELU({})", float(*alpha)),
        LayerSpec::Sigmoid => "nn.Sigmoid()".into(),
        LayerSpec::Tanh => "nn.Tanh()".into(),
        LayerSpec::Identity => "nn.Identity()".into(),
        LayerSpec::Softplus { beta } => format!("nn.Softplus({})", float(*beta)),
        LayerSpec::Sequential { layers } => sequential(layers, indent),
    }
}

/// The weights' reader and `load`, the same in every `model.py`.
const LOADER: &str = r#"

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8}


def read_safetensors(path):
    """Every tensor of a safetensors file by name: an 8-byte little-endian header size, a JSON
    header of names, dtypes, shapes and byte offsets, then the little-endian data."""
    with open(path, "rb") as f:
        data = f.read()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    base = 8 + size
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        flat = torch.frombuffer(bytearray(data[base + start : base + end]), dtype=DTYPES[info["dtype"]])
        tensors[name] = flat.reshape(info["shape"])
    return tensors


def load(directory, device="cpu"):
    """The model with the weights of `directory`/model.safetensors (every name and shape must
    match: strict=True), on `device`, in evaluation mode. From beside this file:
    load(os.path.dirname(os.path.abspath(__file__)))."""
    model = Model()
    model.load_state_dict(read_safetensors(os.path.join(directory, "model.safetensors")), strict=True)
    return model.to(device).eval()


def spec(directory):
    """spec.json of `directory`: the data's shape, scaling and class names, each method's inputs and outputs."""
    with open(os.path.join(directory, "spec.json")) as f:
        return json.load(f)
"#;
