//! [`Architecture`]: a model's networks as data — the sub-modules it owns (as layer specs, under
//! their state-dict names) and the inference graphs that wire them (encoder, decoder,
//! generator, ...) — so that writers for other frameworks (ONNX graphs, PyTorch modules) can
//! translate any model that describes itself without knowing its family.
//!
//! # Design
//! - A model offers it through [`crate::Model::architecture`] (`None` for a model that does not
//!   describe itself; the exports then refuse it by name). The built-in families describe every
//!   model they build, from the same layer lists they build it from.
//! - [`Architecture::modules`] are the model's direct sub-modules in state-dict order: a
//!   [`Submodule::Sequential`] owns the names `NAME.INDEX.*` (PyTorch's `nn.Sequential`), a
//!   [`Submodule::Layer`] the names `NAME.*`.
//! - A [`Graph`] is a small dataflow program over named values: [`Graph::inputs`] (one row per
//!   example, the batch axis first and free), [`Graph::nodes`] in order, and
//!   [`Graph::outputs`] naming values. Its last nodes may be its [`Graph::data_map`]: the map from
//!   the network's raw output (logits, a tanh image) to data space, which training code skips.
//! - Values are rows `[N, ...]`; shapes here are per example (without `N`). Labels enter a
//!   conditional model as one-hot rows of `classes` values, exactly as latent feeds them.
//!
//! ```
//! use latent_models::architecture::{Op, Submodule};
//! use latent_models::{ModelConfig, build_model};
//! use latent_tensor::TensorRng;
//!
//! let config: ModelConfig = serde_json::from_str(r#"{"kind":"vae","input_dim":784,"hidden":[400],
//!     "latent_dim":20,"activation":"relu","beta":1.0}"#)?;
//! let model = build_model(&config, &mut TensorRng::seed_from_u64(0))?;
//! let arch = model.architecture().expect("a VAE describes itself");
//! let names: Vec<&str> = arch.modules.iter().map(|(n, _)| n.as_str()).collect();
//! assert_eq!(names, ["encoder", "fc_mu", "fc_logvar", "decoder"]);
//! assert!(matches!(&arch.modules[1].1, Submodule::Layer(_)));
//! let encoder = arch.graph("encoder").expect("an encoder graph");
//! assert_eq!(encoder.outputs, ["mu", "logvar"]);
//! assert!(encoder.nodes.iter().any(|n| n.op == Op::Module("fc_mu".into())));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use latent_nn::layers::LayerSpec;

/// One of a model's direct sub-modules.
#[derive(Clone, Debug, PartialEq)]
pub enum Submodule {
    /// Layers applied in order; layer `i` owns the names `NAME.i.*`.
    Sequential(Vec<LayerSpec>),
    /// One layer, owning the names `NAME.*` (a VAE's `fc_mu`).
    Layer(LayerSpec),
}

impl Submodule {
    /// The layers, in order (one for a single layer).
    pub fn layers(&self) -> &[LayerSpec] {
        match self {
            Submodule::Sequential(layers) => layers,
            Submodule::Layer(layer) => std::slice::from_ref(layer),
        }
    }

    /// The state-dict prefix of layer `index` of the sub-module `name` (`encoder.2`, `fc_mu`).
    pub fn layer_prefix(&self, name: &str, index: usize) -> String {
        match self {
            Submodule::Sequential(_) => format!("{name}.{index}"),
            Submodule::Layer(_) => name.to_string(),
        }
    }
}

/// What a node computes from its inputs.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Apply the sub-module of this name to the node's one input.
    Module(String),
    /// Join the inputs along the feature axis (axis 1), in order.
    Concat,
    /// Give each example this shape (the batch axis stays).
    Reshape(Vec<usize>),
    /// The logistic function.
    Sigmoid,
    /// Add a constant.
    AddScalar(f32),
    /// Multiply by a constant.
    MulScalar(f32),
}

/// One step of a [`Graph`]: `output = op(inputs...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The name of the value it makes (unique in the graph).
    pub output: String,
    /// What it computes.
    pub op: Op,
    /// The values it reads, by name.
    pub inputs: Vec<String>,
}

/// An input of a [`Graph`].
#[derive(Clone, Debug, PartialEq)]
pub struct Port {
    /// Its name (`x`, `y`, `z`).
    pub name: String,
    /// The shape of one example (the batch axis comes first and is free).
    pub shape: Vec<usize>,
    /// What it holds, for documentation.
    pub doc: String,
}

/// One inference program of a model (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    /// `encoder`, `decoder`, `generator`, `discriminator` or `classifier`.
    pub name: String,
    /// What it computes, for documentation.
    pub doc: String,
    /// Its inputs.
    pub inputs: Vec<Port>,
    /// Its steps, each reading inputs or earlier values.
    pub nodes: Vec<Node>,
    /// How many of the last [`Graph::nodes`] map the network's raw output to data space (a
    /// sigmoid on Bernoulli logits, `(x + 1) / 2` on a tanh image); 0 if none. Training code
    /// stops before them.
    pub data_map: usize,
    /// The values it returns, by name, with what each holds.
    pub outputs: Vec<String>,
    /// What each output holds, for documentation (same order as [`Graph::outputs`]).
    pub output_docs: Vec<String>,
    /// Whether it is an inference graph that deployment formats carry (a GAN's discriminator is
    /// not: latent judges with it on batch statistics, and it only serves training).
    pub inference: bool,
}

impl Graph {
    /// A graph named `name` reading `inputs`.
    pub fn new(name: &str, doc: impl Into<String>, inputs: Vec<Port>) -> Self {
        Graph {
            name: name.to_string(),
            doc: doc.into(),
            inputs,
            nodes: Vec::new(),
            data_map: 0,
            outputs: Vec::new(),
            output_docs: Vec::new(),
            inference: true,
        }
    }

    /// Append `output = op(inputs)`; returns the output's name.
    pub fn push(&mut self, output: &str, op: Op, inputs: &[&str]) -> String {
        self.nodes.push(Node {
            output: output.to_string(),
            op,
            inputs: inputs.iter().map(ToString::to_string).collect(),
        });
        output.to_string()
    }

    /// Append the map from the network's raw output to data space (counted in
    /// [`Graph::data_map`]); returns the output's name.
    pub fn push_data_map(&mut self, output: &str, op: Op, inputs: &[&str]) -> String {
        self.data_map += 1;
        self.push(output, op, inputs)
    }

    /// Return `value`, described by `doc`.
    pub fn output(&mut self, value: &str, doc: impl Into<String>) {
        self.outputs.push(value.to_string());
        self.output_docs.push(doc.into());
    }

    /// The nodes before the data map (what training code runs).
    pub fn raw_nodes(&self) -> &[Node] {
        &self.nodes[..self.nodes.len() - self.data_map]
    }
}

/// A model's networks (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Architecture {
    /// The direct sub-modules, by name, in state-dict order.
    pub modules: Vec<(String, Submodule)>,
    /// The programs over them.
    pub graphs: Vec<Graph>,
}

impl Architecture {
    /// The sub-module called `name`.
    pub fn module(&self, name: &str) -> Option<&Submodule> {
        self.modules.iter().find(|(n, _)| n == name).map(|(_, m)| m)
    }

    /// The graph called `name`.
    pub fn graph(&self, name: &str) -> Option<&Graph> {
        self.graphs.iter().find(|g| g.name == name)
    }

    /// Every parameter and buffer the modules own, by state-dict name, with its shape, in
    /// module order (`num_batches_tracked` is a 0-d integer). This is what the model's
    /// checkpoint holds, and what a module built from this description must hold.
    pub fn state_dict(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        for (name, module) in &self.modules {
            for (i, layer) in module.layers().iter().enumerate() {
                let prefix = module.layer_prefix(name, i);
                for (tensor, shape) in layer_tensors(layer) {
                    out.push((format!("{prefix}.{tensor}"), shape));
                }
            }
        }
        out
    }
}

/// The parameters and buffers of one layer, by name within it, with their shapes (PyTorch's
/// layouts); a nested `Sequential`'s under `INDEX.`.
pub fn layer_tensors(layer: &LayerSpec) -> Vec<(String, Vec<usize>)> {
    let with_bias = |weight: Vec<usize>, bias: Option<usize>| {
        let mut v = vec![("weight".to_string(), weight)];
        v.extend(bias.map(|b| ("bias".to_string(), vec![b])));
        v
    };
    match layer {
        LayerSpec::Linear(c) => with_bias(vec![c.out_features, c.in_features], c.bias.then_some(c.out_features)),
        LayerSpec::Conv2d(c) => with_bias(
            vec![c.out_channels, c.in_channels, c.kernel_size.0, c.kernel_size.1],
            c.bias.then_some(c.out_channels),
        ),
        LayerSpec::ConvTranspose2d(c) => with_bias(
            vec![c.in_channels, c.out_channels, c.kernel_size.0, c.kernel_size.1],
            c.bias.then_some(c.out_channels),
        ),
        LayerSpec::BatchNorm1d(c) | LayerSpec::BatchNorm2d(c) => {
            let n = c.num_features;
            let mut v = if c.affine { with_bias(vec![n], Some(n)) } else { Vec::new() };
            v.push(("running_mean".into(), vec![n]));
            v.push(("running_var".into(), vec![n]));
            v.push(("num_batches_tracked".into(), Vec::new()));
            v
        }
        LayerSpec::Sequential { layers } => layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| layer_tensors(l).into_iter().map(move |(n, s)| (format!("{i}.{n}"), s)))
            .collect(),
        LayerSpec::Dropout { .. }
        | LayerSpec::Flatten { .. }
        | LayerSpec::Unflatten { .. }
        | LayerSpec::Relu
        | LayerSpec::LeakyRelu { .. }
        | LayerSpec::Elu { .. }
        | LayerSpec::Sigmoid
        | LayerSpec::Tanh
        | LayerSpec::Identity
        | LayerSpec::Softplus { .. } => Vec::new(),
    }
}

/// The input port `x` of `width` data values per example.
pub fn data_port(width: usize) -> Port {
    Port {
        name: "x".into(),
        shape: vec![width],
        doc: "examples as flat rows in model units (pixels in [0, 1]; real values standardised)".into(),
    }
}

/// The input port `z` of `width` code values.
pub fn code_port(width: usize, doc: &str) -> Port {
    Port { name: "z".into(), shape: vec![width], doc: doc.into() }
}

/// The input port `y` of one-hot labels over `classes`.
pub fn label_port(classes: usize) -> Port {
    Port {
        name: "y".into(),
        shape: vec![classes],
        doc: format!("the label as a one-hot row of {classes} values (1 at the label's index, 0 elsewhere)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ModelConfig, Registry, build_model};
    use latent_tensor::TensorRng;

    /// Every preset of every family describes itself, and the description's state dict is the
    /// model's: names, order of parameters, and shapes.
    #[test]
    fn every_preset_describes_its_own_state_dict() {
        let registry = Registry::builtin();
        let mut configs: Vec<ModelConfig> = registry.presets().into_iter().map(|p| p.config).collect();
        configs.push(
            serde_json::from_str(
                r#"{"kind":"vae","trunk":"conv","input_dim":768,"image_size":16,"image_channels":3,"channels":[4,8],"latent_dim":3,"beta":1.0,"classes":4,"likelihood":"gaussian"}"#,
            )
            .unwrap(),
        );
        for config in configs {
            let model = build_model(&config, &mut TensorRng::seed_from_u64(0)).unwrap();
            let arch = model.architecture().unwrap_or_else(|| panic!("{} describes itself", config.kind()));
            let mut found = Vec::new();
            model.visit_params("", &mut |name, t| found.push((name.to_string(), t.shape().to_vec())));
            model.visit_buffers("", &mut |name, b| found.push((name.to_string(), b.shape())));
            let mut want = arch.state_dict();
            found.sort();
            want.sort();
            assert_eq!(found, want, "{}", config.kind());
            for graph in &arch.graphs {
                assert_eq!(graph.outputs.len(), graph.output_docs.len());
                for node in &graph.nodes {
                    if let Op::Module(m) = &node.op {
                        assert!(arch.module(m).is_some(), "{}: {m}", graph.name);
                    }
                }
            }
        }
    }
}
