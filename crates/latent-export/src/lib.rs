//! Write latent's trained models for other engines, so that work done here carries over when a
//! user moves to a GPU, many machines or a production service:
//!
//! - [`write_onnx`]: one ONNX graph per inference graph of the model — `encoder.onnx`
//!   (`x` → `z`; a VAE's `x` → `mu`, `logvar`), `decoder.onnx` (`z` → `x`), a GAN's
//!   `generator.onnx` (`z` → `x`), a classifier's `classifier.onnx` — opset 17, batch axis
//!   `N` free, conditional models reading the label as a one-hot input `y`.
//! - [`write_torch`]: `model.py` (plain `torch.nn` modules whose state dict is
//!   `model.safetensors`', a method per graph, `load(directory)`), the weights, and the run's
//!   training state (Adam's moments under PyTorch's names) for continuing training.
//! - Both write `spec.json` ([`spec`]): each graph's inputs and outputs, and how the data's
//!   values map to the model's units and back (pixel scaling, or the standardisation of real
//!   values), with the class names.
//!
//! # Design
//! - The writers translate a model's [`Architecture`] (sub-modules as layer specs and small
//!   dataflow graphs, [`latent_models::architecture`]); they know no family, so a family that
//!   describes itself is exported without a change here.
//! - ONNX messages are structs deriving `prost::Message` with `onnx.proto`'s field numbers
//!   ([`onnx::proto`]): no protoc, no build script, one small well-kept dependency.
//! - Graphs work in model units, exactly as latent's [`latent_models::Encoder`] and
//!   [`latent_models::Decoder`] do, so their outputs match latent's (within 1e-5, checked for
//!   every family by the tests with the `tract-onnx` runtime); the scaling to and from the
//!   data's units is stated in `spec.json`.
//! - Every file is written atomically ([`latent_fsio`]).
//!
//! ```
//! use latent_models::{ModelConfig, build_model};
//! use latent_tensor::TensorRng;
//!
//! let config: ModelConfig = serde_json::from_str(r#"{"kind":"autoencoder","input_dim":784,"hidden":[32],
//!     "latent_dim":4,"activation":"relu","code_activation":null,"likelihood":"bernoulli",
//!     "regularizer":{"type":"none"},"noise":"none"}"#)?;
//! let model = build_model(&config, &mut TensorRng::seed_from_u64(1))?;
//! let graphs = latent_export::onnx_graphs(&*model, &[])?;
//! let names: Vec<&str> = graphs.iter().map(|(name, _)| name.as_str()).collect();
//! assert_eq!(names, ["encoder", "decoder"]);
//! assert!(graphs[0].1.len() > 784 * 32 * 4); // the weights travel in the file
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod error;
pub mod onnx;
pub mod spec;
pub mod torch;
pub mod weights;

use std::path::{Path, PathBuf};

use latent_models::Model;
use latent_models::architecture::{Architecture, Graph};
use latent_models::run_dir::{RunConfig, STATE_FILE};

pub use error::{ExportError, Result};
pub use spec::{ExportSpec, SPEC_FILE};
pub use weights::Weights;

/// The weights' file name in a PyTorch export (as in a run directory).
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// The formats latent writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ONNX graphs ([`write_onnx`]).
    Onnx,
    /// A PyTorch module ([`write_torch`]).
    Torch,
}

/// The model's description, or an error naming its kind.
///
/// # Errors
/// [`ExportError::NotDescribed`] if the model does not describe itself.
pub fn architecture(model: &dyn Model) -> Result<Architecture> {
    model.architecture().ok_or_else(|| ExportError::NotDescribed { kind: model.config().kind().to_string() })
}

/// Every inference graph of `model` as the bytes of an `.onnx` file, by graph name, with
/// `metadata` in each file's `metadata_props`.
///
/// # Errors
/// If the model does not describe itself or its description does not fit its weights.
pub fn onnx_graphs(model: &dyn Model, metadata: &[(String, String)]) -> Result<Vec<(String, Vec<u8>)>> {
    let arch = architecture(model)?;
    let weights = Weights::of(model);
    let mut out = Vec::new();
    for graph in arch.graphs.iter().filter(|g| g.inference) {
        let mut meta = metadata.to_vec();
        meta.push(("latent.graph".into(), graph.name.clone()));
        out.push((graph.name.clone(), onnx::graph_to_bytes(&arch, graph, &weights, &meta)?));
    }
    Ok(out)
}

/// Write `model` (of the run `run`) to `dir` as ONNX graphs (`NAME.onnx` per inference graph)
/// and `spec.json`; returns the files written.
///
/// # Errors
/// If the model cannot be described or a file cannot be written, or `dir` holds a run.
pub fn write_onnx(model: &dyn Model, run: &RunConfig, dir: &Path) -> Result<Vec<PathBuf>> {
    prepare(dir)?;
    let arch = architecture(model)?;
    let weights = Weights::of(model);
    let graphs: Vec<&Graph> = arch.graphs.iter().filter(|g| g.inference).collect();
    let mut entries = Vec::new();
    for g in &graphs {
        entries.push((*g, format!("{}.onnx", g.name), onnx::output_shapes(&arch, g, &weights)?));
    }
    let spec = ExportSpec::new(&arch, run, &entries)?;
    let spec_json = spec.to_json();
    let metadata = vec![
        ("latent.kind".to_string(), spec.kind.clone()),
        ("latent.preset".to_string(), spec.preset.clone()),
        ("latent.spec".to_string(), spec_json.clone()),
    ];
    let mut written = Vec::new();
    for g in graphs {
        let mut meta = metadata.clone();
        meta.push(("latent.graph".into(), g.name.clone()));
        let path = dir.join(format!("{}.onnx", g.name));
        latent_fsio::write_bytes(&path, &onnx::graph_to_bytes(&arch, g, &weights, &meta)?)?;
        written.push(path);
    }
    written.push(write_spec(dir, &spec_json)?);
    Ok(written)
}

/// Write `model` (of the run `run`) to `dir` as a PyTorch module: `model.py`,
/// `model.safetensors`, `spec.json`, and a copy of `training_state` (the run's optimiser
/// state) when given; returns the files written.
///
/// # Errors
/// If the model cannot be described or a file cannot be read or written, or `dir` holds a run.
pub fn write_torch(
    model: &dyn Model,
    run: &RunConfig,
    dir: &Path,
    training_state: Option<&Path>,
) -> Result<Vec<PathBuf>> {
    prepare(dir)?;
    let arch = architecture(model)?;
    let weights = Weights::of(model);
    let mut entries = Vec::new();
    for g in &arch.graphs {
        let at = format!("Model.{}", torch::method_name(&g.name));
        entries.push((g, at, onnx::output_shapes(&arch, g, &weights)?));
    }
    let spec = ExportSpec::new(&arch, run, &entries)?;
    let title = format!("The {} model of the latent run `{}` ({}).", spec.kind, spec.preset, spec.producer);
    let shape = match spec.data.shape.as_slice() {
        [one] => format!("{one},"),
        dims => dims.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
    };
    let constants = [
        ("KIND", format!("{:?}", spec.kind)),
        ("LATENT_DIM", spec.latent_dim.to_string()),
        ("CLASSES", spec.classes.map_or_else(|| "None".to_string(), |c| c.to_string())),
        ("DATA_SHAPE", format!("({shape})")),
    ];
    let mut written = Vec::new();
    let py = dir.join(torch::MODEL_PY);
    latent_fsio::write_bytes(&py, torch::model_py(&arch, &title, &constants).as_bytes())?;
    written.push(py);
    let weights_path = dir.join(WEIGHTS_FILE);
    latent_nn::save_checkpoint(&weights_path, model, run)?;
    written.push(weights_path);
    if let Some(state) = training_state {
        let bytes = std::fs::read(state).map_err(|source| ExportError::Io { path: state.to_path_buf(), source })?;
        let path = dir.join(STATE_FILE);
        latent_fsio::write_bytes(&path, &bytes)?;
        written.push(path);
    }
    written.push(write_spec(dir, &spec.to_json())?);
    Ok(written)
}

fn write_spec(dir: &Path, json: &str) -> Result<PathBuf> {
    let path = dir.join(SPEC_FILE);
    latent_fsio::write_bytes(&path, json.as_bytes())?;
    Ok(path)
}

/// Create `dir`, refusing a run directory (its weights would be replaced).
fn prepare(dir: &Path) -> Result<()> {
    if dir.join(latent_models::run_dir::CONFIG_FILE).exists() {
        return Err(ExportError::Destination {
            path: dir.to_path_buf(),
            message: "holds a run (config.json); export to another directory".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Io { path: dir.to_path_buf(), source })
}

// The README's example is compiled and run with the doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
