//! Model checkpoints: safetensors files with PyTorch's names and layouts, the model's
//! configuration as JSON in the metadata, written atomically, and loaded only after every
//! name, dtype and shape has been checked.
//!
//! A file holds every parameter (`F32`) and buffer (`F32`, or `I64` for BatchNorm's
//! `num_batches_tracked`) under its state-dict name, and the metadata entries `format = "pt"`
//! (as `safetensors.torch.save_file` writes), [`CONFIG_KEY`] (the configuration JSON) and a
//! content checksum. So a checkpoint of a model made of these layers loads into the equivalent
//! `torch.nn` module:
//!
//! ```python
//! import json, torch
//! from safetensors import safe_open
//! from safetensors.torch import load_file
//!
//! model = torch.nn.Sequential(torch.nn.Linear(784, 400), torch.nn.ReLU(), torch.nn.Linear(400, 20))
//! model.load_state_dict(load_file("model.safetensors"), strict=True)
//! with safe_open("model.safetensors", "pt") as f:
//!     config = json.loads(f.metadata()["latent.config"])
//! ```
//!
//! Loading reads and parses the whole file first; then checks that every parameter and buffer
//! of the model is present with the right dtype and shape and that the file has nothing else;
//! only then copies the values in. Any failure leaves the model exactly as it was.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use safetensors::Dtype;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{NnError, Result};
use crate::module::{Buffer, BufferMut, Module};
use crate::store::{self, Encoded, Parsed};

/// The metadata key under which the model configuration is stored, as JSON.
pub const CONFIG_KEY: &str = "latent.config";

/// Save `model`'s parameters and buffers to `path` (atomically), with `config` serialised as
/// JSON under [`CONFIG_KEY`].
///
/// # Errors
/// If `config` cannot be serialised, two parameters share a name, or the file cannot be
/// written (the previous file, if any, is then intact).
pub fn save_checkpoint<C: Serialize + ?Sized>(path: impl AsRef<Path>, model: &dyn Module, config: &C) -> Result<()> {
    let path = path.as_ref();
    let config = serde_json::to_string(config)
        .map_err(|e| NnError::metadata(path, CONFIG_KEY, format!("cannot serialise: {e}")))?;
    let mut entries = Vec::new();
    model.visit_params("", &mut |name, p| entries.push((name.to_string(), Encoded::f32(&p.view()))));
    model.visit_buffers("", &mut |name, b| {
        let encoded = match b {
            Buffer::F32(a) => Encoded::f32(&a.view()),
            Buffer::I64(v) => Encoded::i64_scalar(v),
        };
        entries.push((name.to_string(), encoded));
    });
    let metadata = HashMap::from([("format".to_string(), "pt".to_string()), (CONFIG_KEY.to_string(), config)]);
    store::write(path, entries, metadata)
}

/// What the model expects to find in a checkpoint.
struct Expected {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
}

fn expected_entries(model: &dyn Module) -> Result<Vec<Expected>> {
    let mut out = Vec::new();
    model.visit_params("", &mut |name, p| {
        out.push(Expected { name: name.to_string(), dtype: Dtype::F32, shape: p.shape().to_vec() })
    });
    model.visit_buffers("", &mut |name, b| {
        let dtype = if matches!(b, Buffer::I64(_)) { Dtype::I64 } else { Dtype::F32 };
        out.push(Expected { name: name.to_string(), dtype, shape: b.shape() });
    });
    let mut seen = HashSet::new();
    if let Some(dup) = out.iter().find(|e| !seen.insert(e.name.as_str())) {
        return Err(NnError::DuplicateName { name: dup.name.clone() });
    }
    Ok(out)
}

/// Load the parameters and buffers of `model` from the checkpoint at `path`.
///
/// Everything is checked before anything is copied, so on error the model is unchanged.
///
/// # Errors
/// [`NnError::Io`] if the file cannot be read; [`NnError::Corrupt`] if it is not a valid
/// safetensors file or fails its checksum; [`NnError::MissingTensor`],
/// [`NnError::DtypeMismatch`] or [`NnError::ShapeMismatch`] for the first parameter or buffer
/// (in the model's order) that is absent or does not fit; [`NnError::UnexpectedTensor`] for the
/// first (alphabetically) tensor of the file that the model has no place for.
pub fn load_checkpoint(path: impl AsRef<Path>, model: &mut dyn Module) -> Result<()> {
    let path = path.as_ref();
    let bytes = store::read(path)?;
    let file = Parsed::parse(path, &bytes)?;
    let expected = expected_entries(model)?;
    let mut views = HashMap::with_capacity(expected.len());
    for e in &expected {
        views.insert(e.name.as_str(), file.expect(&e.name, e.dtype, &e.shape)?);
    }
    if let Some(extra) = file.names().into_iter().find(|n| !views.contains_key(n)) {
        return Err(NnError::UnexpectedTensor {
            path: path.to_path_buf(),
            name: extra.to_string(),
            found: file.shape_of(extra),
        });
    }
    // Decode everything, then copy: nothing below can fail on a checked file.
    let mut floats: HashMap<&str, ndarray::ArrayD<f32>> = HashMap::new();
    let mut ints: HashMap<&str, i64> = HashMap::new();
    for (name, view) in &views {
        if view.dtype() == Dtype::I64 {
            ints.insert(name, store::decode_i64_scalar(view));
        } else {
            floats.insert(name, store::decode_f32(view));
        }
    }
    let mut result = Ok(());
    model.visit_params_mut("", &mut |name, p| {
        if let (Some(a), true) = (floats.remove(name), result.is_ok()) {
            result = p.set_value(a).map_err(NnError::from);
        }
    });
    model.visit_buffers_mut("", &mut |name, b| match b {
        BufferMut::F32(dst) => {
            if let Some(a) = floats.remove(name) {
                *dst = a;
            }
        }
        BufferMut::I64(dst) => {
            if let Some(&v) = ints.get(name) {
                *dst = v;
            }
        }
    });
    result
}

/// The model configuration stored in the checkpoint at `path` (to build the model before
/// loading its weights).
///
/// # Errors
/// If the file cannot be read or parsed, has no [`CONFIG_KEY`] entry, or the entry does not
/// deserialise as `C`.
pub fn read_config<C: DeserializeOwned>(path: impl AsRef<Path>) -> Result<C> {
    let path = path.as_ref();
    let bytes = store::read(path)?;
    let file = Parsed::parse(path, &bytes)?;
    let json = file.metadata(CONFIG_KEY).ok_or_else(|| NnError::metadata(path, CONFIG_KEY, "missing"))?;
    serde_json::from_str(json)
        .map_err(|e| NnError::metadata(file.path(), CONFIG_KEY, format!("invalid configuration: {e}")))
}
