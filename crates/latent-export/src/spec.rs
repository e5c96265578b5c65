//! `spec.json`, written beside every export: what the model is, what each graph (or module
//! method) reads and returns, and how the data's values map to the model's units and back
//! (pixel scaling, or the per-feature standardisation of real values), with the class names.
//!
//! ```json
//! {"format": "latent-export/1", "producer": "latent 0.1.0", "kind": "vae", "preset": "vae/pytorch-examples",
//!  "latent_dim": 20, "classes": null,
//!  "data": {"shape": [1, 28, 28], "layout": "...", "values": "pixels",
//!           "scaling": {"kind": "pixels", "model_range": [0.0, 1.0], "to_model": "x = pixel / 255", "from_model": "pixel = 255 · x"},
//!           "class_names": ["0", "1", "..."]},
//!  "graphs": {"encoder": {"file": "encoder.onnx", "doc": "...", "inputs": [{"name": "x", "shape": ["N", 784], "doc": "..."}],
//!             "outputs": [{"name": "mu", ...}, {"name": "logvar", ...}]}, "decoder": {...}},
//!  "sampling": "decoder on z drawn from N(0, I) (20 values per example)",
//!  "run": {"preset": "...", "model": {...}, "train": {...}, "data": {...}}}
//! ```

use std::collections::BTreeMap;

use latent_data::{DataSpec, Scale, ValueKind};
use latent_models::Architecture;
use latent_models::architecture::Graph;
use latent_models::run_dir::RunConfig;
use serde::Serialize;

use crate::error::Result;

/// The file name of the description.
pub const SPEC_FILE: &str = "spec.json";

/// The format tag of the description.
pub const FORMAT: &str = "latent-export/1";

/// The whole description (see the module docs).
#[derive(Clone, Debug, Serialize)]
pub struct ExportSpec {
    /// [`FORMAT`].
    pub format: String,
    /// `latent VERSION`.
    pub producer: String,
    /// The model's kind (`vae`, `autoencoder`, `gan`, ...).
    pub kind: String,
    /// The preset the run started from.
    pub preset: String,
    /// The code size (a GAN's noise size).
    pub latent_dim: usize,
    /// The number of labels a conditional model reads as a one-hot input `y`; `null` otherwise.
    pub classes: Option<usize>,
    /// The data and its scaling.
    pub data: DataSection,
    /// Each exported graph by name.
    pub graphs: BTreeMap<String, GraphSection>,
    /// How to draw new samples, for generative models.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling: Option<String>,
    /// The run's configuration as `config.json` holds it (model, training options, data).
    pub run: RunConfig,
}

/// The data a model reads and writes.
#[derive(Clone, Debug, Serialize)]
pub struct DataSection {
    /// One example's shape: `[C, H, W]` for images, `[D]` for table rows.
    pub shape: Vec<usize>,
    /// How examples are laid out in the graphs' rows.
    pub layout: String,
    /// `pixels` or `real`.
    pub values: ValueKind,
    /// From the data's units to the model's and back.
    pub scaling: Scaling,
    /// The classes' names in label order (label `k` is one-hot index `k`), when labelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_names: Option<Vec<String>>,
    /// The features' names (a CSV header), for table rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature_names: Option<Vec<String>>,
}

/// How values map between the data's units and the model's.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scaling {
    /// Pixel bytes 0-255 on a fixed range.
    Pixels {
        /// The range the model was trained on (`[0, 1]`; `[-1, 1]` for a GAN's discriminator).
        model_range: [f32; 2],
        /// From a pixel byte to the model's input.
        to_model: String,
        /// From the outputs (decoders and generators give `[0, 1]`) back to pixel bytes.
        from_model: String,
    },
    /// Real values standardised per feature with the training split's statistics.
    Standardized {
        /// Each feature's mean.
        mean: Vec<f32>,
        /// Each feature's standard deviation.
        std: Vec<f32>,
        /// From the data's units to the model's input.
        to_model: String,
        /// From the model's outputs back to the data's units.
        from_model: String,
    },
}

/// One graph (ONNX file or module method).
#[derive(Clone, Debug, Serialize)]
pub struct GraphSection {
    /// The file (`encoder.onnx`) or the method (`Model.encode`) that computes it.
    pub at: String,
    /// What it computes.
    pub doc: String,
    /// Its inputs, in order.
    pub inputs: Vec<PortSection>,
    /// Its outputs, in order.
    pub outputs: Vec<PortSection>,
}

/// An input or output of a graph.
#[derive(Clone, Debug, Serialize)]
pub struct PortSection {
    /// Its name.
    pub name: String,
    /// Its shape, the free batch axis `"N"` first.
    pub shape: Vec<serde_json::Value>,
    /// What it holds.
    pub doc: String,
}

impl ExportSpec {
    /// The description of a model of `arch` from the run `run`, with the graphs `graphs`: each
    /// with where it is (a file name or a method) and its outputs' per-example shapes.
    ///
    /// # Errors
    /// If the run's model configuration is invalid.
    pub fn new(arch: &Architecture, run: &RunConfig, graphs: &[(&Graph, String, Vec<Vec<usize>>)]) -> Result<Self> {
        let description = run.model.describe()?;
        let data = run.data.spec_or_mnist();
        let mut sections = BTreeMap::new();
        for (graph, at, shapes) in graphs {
            sections.insert(graph.name.clone(), graph_section(graph, at, shapes));
        }
        let generative = arch.graph("generator").is_some() || run.model.kind().contains("vae");
        let sampling = generative.then(|| {
            let via = if arch.graph("generator").is_some() { "generator" } else { "decoder" };
            let labels = match description.classes {
                Some(k) => format!(", with the wanted label one-hot in y ({k} classes)"),
                None => String::new(),
            };
            format!("{via} on z drawn from N(0, I), {} values per example{labels}", description.latent_dim)
        });
        Ok(ExportSpec {
            format: FORMAT.into(),
            producer: format!("latent {}", env!("CARGO_PKG_VERSION")),
            kind: run.model.kind().to_string(),
            preset: run.preset.clone(),
            latent_dim: description.latent_dim,
            classes: description.classes,
            data: data_section(&data, description.scale),
            graphs: sections,
            sampling,
            run: run.clone(),
        })
    }

    /// The description as pretty JSON text ending in a newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("the description serialises");
        text.push('\n');
        text
    }
}

fn data_section(spec: &DataSpec, scale: Scale) -> DataSection {
    let dims = spec.shape.dims();
    let (shape, layout) = if spec.shape.is_image() {
        (
            dims.to_vec(),
            format!(
                "flat rows of {} values: each image's channels, then rows, then columns (C, H, W); reshape to [N, {}, {}, {}] for images",
                spec.shape.len(),
                dims[0],
                dims[1],
                dims[2]
            ),
        )
    } else {
        (vec![spec.shape.len()], format!("rows of {} feature values in the features' order", spec.shape.len()))
    };
    let scaling = match (&spec.standardization, spec.values) {
        (Some(s), ValueKind::Real) => Scaling::Standardized {
            mean: s.mean.clone(),
            std: s.std.clone(),
            to_model: "x = (value - mean) / std, feature by feature".into(),
            from_model: "value = x * std + mean, feature by feature".into(),
        },
        _ => match scale {
            Scale::ZeroOne => Scaling::Pixels {
                model_range: [0.0, 1.0],
                to_model: "x = pixel / 255".into(),
                from_model: "pixel = 255 * x".into(),
            },
            Scale::MinusOneOne => Scaling::Pixels {
                model_range: [-1.0, 1.0],
                to_model: "x = 2 * pixel / 255 - 1 (the discriminator's input)".into(),
                from_model: "pixel = 255 * x (the generator's output is already mapped to [0, 1])".into(),
            },
        },
    };
    DataSection {
        shape,
        layout,
        values: spec.values,
        scaling,
        class_names: spec.class_names.clone(),
        feature_names: spec.feature_names.clone(),
    }
}

fn graph_section(graph: &Graph, at: &str, output_shapes: &[Vec<usize>]) -> GraphSection {
    let port = |name: &str, shape: &[usize], doc: &str| PortSection {
        name: name.to_string(),
        shape: std::iter::once(serde_json::Value::from("N")).chain(shape.iter().map(|&d| d.into())).collect(),
        doc: doc.to_string(),
    };
    let outputs = graph
        .outputs
        .iter()
        .zip(&graph.output_docs)
        .zip(output_shapes)
        .map(|((name, doc), shape)| port(name, shape, doc))
        .collect();
    GraphSection {
        at: at.to_string(),
        doc: graph.doc.clone(),
        inputs: graph.inputs.iter().map(|p| port(&p.name, &p.shape, &p.doc)).collect(),
        outputs,
    }
}
