//! The training-state file: everything besides the weights that a run needs to resume exactly
//! (every optimiser's moments and step counts, learning rates, generator states, epoch and step).
//!
//! It is a safetensors file (not bincode, which is unmaintained): the optimisers' slots are
//! tensors named `<optimizer>/<param>.<slot>` (for a single Adam called `model`:
//! `model/enc.0.weight.exp_avg`, `model/enc.0.weight.exp_avg_sq`; a GAN has a `generator` and a
//! `discriminator`), and the rest is JSON under the metadata key [`STATE_KEY`]:
//!
//! ```json
//! {"version": 2, "epoch": 3, "global_step": 120,
//!  "rngs": {"dropout": {"seed": "<64 hex digits>", "stream": 0, "word_pos": "4096"}},
//!  "optimizers": {"model": {"kind": "adam", "learning_rate": 0.001, "steps": {"0.weight": 120}}},
//!  "extra": null}
//! ```
//! (`word_pos` is a decimal string because it is a 128-bit number.) Like checkpoints, the file
//! is written atomically and carries a content checksum.
//!
//! Version 1 files (one optimiser, under `"optimizer"`, slots named `<param>.<slot>`) are still
//! read: their optimiser is named [`SINGLE_OPTIMIZER`]. Files are always written as version 2.
//!
//! Resuming: rebuild the model and load its checkpoint, build each optimiser with the same
//! hyper-parameters and [`Optimizer::load_state`](crate::optim::Optimizer::load_state) its saved
//! state into it (checked against the model), restore the generators with
//! [`TensorRng::from_state`](latent_tensor::TensorRng::from_state), and continue from `epoch`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use latent_tensor::random::RngState;
use serde::{Deserialize, Serialize};

use crate::error::{NnError, Result};
use crate::optim::OptimizerState;
use crate::store::{self, Encoded, Parsed};

/// The metadata key of the JSON part of a training-state file.
pub const STATE_KEY: &str = "latent.training_state";

/// The format version this crate writes (it also reads version 1).
const VERSION: u32 = 2;

/// The name a version 1 file's only optimiser gets when read (and the name a model with one
/// optimiser gives it).
pub const SINGLE_OPTIMIZER: &str = "model";

/// Everything a run needs besides its weights to continue exactly where it stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingState {
    /// Epochs completed.
    pub epoch: u64,
    /// Optimiser steps completed.
    pub global_step: u64,
    /// The states of the run's generators, by role (`"dropout"`, `"shuffle"`, ...).
    pub rngs: BTreeMap<String, RngState>,
    /// Every optimiser's state, by name (`"model"` for a model with one optimiser;
    /// `"generator"` and `"discriminator"` for a GAN). Names must not contain `/`.
    pub optimizers: BTreeMap<String, OptimizerState>,
    /// Anything else the trainer wants back (best loss so far, ...); `null` if nothing.
    pub extra: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct RngJson {
    seed: String,
    stream: u64,
    word_pos: String,
}

#[derive(Serialize, Deserialize)]
struct OptimizerJson {
    kind: String,
    learning_rate: f64,
    steps: BTreeMap<String, u64>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    epoch: u64,
    global_step: u64,
    rngs: BTreeMap<String, RngJson>,
    /// Version 2: every optimiser by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    optimizers: Option<BTreeMap<String, OptimizerJson>>,
    /// Version 1: the only optimiser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    optimizer: Option<OptimizerJson>,
    #[serde(default)]
    extra: serde_json::Value,
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn seed_from_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(seed)
}

impl TrainingState {
    /// Write the state to `path` atomically.
    ///
    /// # Errors
    /// If the file cannot be written (the previous file, if any, is then intact).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if let Some(bad) = self.optimizers.keys().find(|k| k.is_empty() || k.contains('/')) {
            return Err(NnError::metadata(
                path,
                STATE_KEY,
                format!("optimizer name `{bad}` must be non-empty and contain no `/`"),
            ));
        }
        let header = Header {
            version: VERSION,
            epoch: self.epoch,
            global_step: self.global_step,
            rngs: self
                .rngs
                .iter()
                .map(|(k, s)| {
                    (k.clone(), RngJson { seed: to_hex(&s.seed), stream: s.stream, word_pos: s.word_pos.to_string() })
                })
                .collect(),
            optimizers: Some(
                self.optimizers
                    .iter()
                    .map(|(name, o)| {
                        let json = OptimizerJson {
                            kind: o.kind.clone(),
                            learning_rate: o.learning_rate,
                            steps: o.steps.clone(),
                        };
                        (name.clone(), json)
                    })
                    .collect(),
            ),
            optimizer: None,
            extra: self.extra.clone(),
        };
        let json = serde_json::to_string(&header)
            .map_err(|e| NnError::metadata(path, STATE_KEY, format!("cannot serialise: {e}")))?;
        let entries = self
            .optimizers
            .iter()
            .flat_map(|(opt, o)| {
                o.tensors.iter().map(move |(name, a)| (format!("{opt}/{name}"), Encoded::f32(&a.view())))
            })
            .collect();
        store::write(path, entries, HashMap::from([(STATE_KEY.to_string(), json)]))
    }

    /// Read a state written by [`TrainingState::save`].
    ///
    /// # Errors
    /// If the file cannot be read, is corrupt, lacks the [`STATE_KEY`] entry or has a malformed
    /// one, or holds a tensor that is not `F32`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = store::read(path)?;
        let file = Parsed::parse(path, &bytes)?;
        let bad = |message: String| NnError::metadata(path, STATE_KEY, message);
        let json = file.metadata(STATE_KEY).ok_or_else(|| bad("missing (not a training-state file?)".into()))?;
        let header: Header = serde_json::from_str(json).map_err(|e| bad(format!("invalid: {e}")))?;
        let mut rngs = BTreeMap::new();
        for (role, r) in header.rngs {
            let seed =
                seed_from_hex(&r.seed).ok_or_else(|| bad(format!("rng `{role}`: seed must be 64 hex digits")))?;
            let word_pos = r
                .word_pos
                .parse()
                .map_err(|_| bad(format!("rng `{role}`: word_pos `{}` is not a number", r.word_pos)))?;
            rngs.insert(role, RngState { seed, stream: r.stream, word_pos });
        }
        let state = |o: OptimizerJson| OptimizerState {
            kind: o.kind,
            learning_rate: o.learning_rate,
            steps: o.steps,
            tensors: BTreeMap::new(),
        };
        let mut optimizers = BTreeMap::new();
        match (header.version, header.optimizers, header.optimizer) {
            (1, _, Some(o)) => {
                let mut o = state(o);
                for name in file.names() {
                    o.tensors.insert(name.to_string(), store::decode_f32(&file.expect_f32(name)?));
                }
                optimizers.insert(SINGLE_OPTIMIZER.to_string(), o);
            }
            (VERSION, Some(all), _) => {
                for (name, o) in all {
                    optimizers.insert(name, state(o));
                }
                for key in file.names() {
                    let (opt, name) = key
                        .split_once('/')
                        .ok_or_else(|| bad(format!("tensor `{key}` is not named `<optimizer>/<param>.<slot>`")))?;
                    let o = optimizers.get_mut(opt).ok_or_else(|| {
                        bad(format!("tensor `{key}` belongs to optimizer `{opt}`, which has no entry"))
                    })?;
                    o.tensors.insert(name.to_string(), store::decode_f32(&file.expect_f32(key)?));
                }
            }
            (1 | VERSION, _, _) => {
                let field = if header.version == 1 { "optimizer" } else { "optimizers" };
                return Err(bad(format!("version {} needs an `{field}` entry", header.version)));
            }
            (v, _, _) => return Err(bad(format!("version {v} is not supported (expected 1 or {VERSION})"))),
        }
        Ok(TrainingState {
            epoch: header.epoch,
            global_step: header.global_step,
            rngs,
            optimizers,
            extra: header.extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latent_tensor::TensorRng;

    fn adam_state(lr: f64, steps: u64, m: f32) -> OptimizerState {
        OptimizerState {
            kind: "adam".into(),
            learning_rate: lr,
            steps: BTreeMap::from([("w".to_string(), steps)]),
            tensors: BTreeMap::from([
                ("w.exp_avg".to_string(), ndarray::arr1(&[m, f32::MIN_POSITIVE]).into_dyn()),
                ("w.exp_avg_sq".to_string(), ndarray::arr1(&[2.5f32, 1e-30]).into_dyn()),
            ]),
        }
    }

    fn temp_file(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("latent-nn-ts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn round_trips_exactly() {
        let mut rng = TensorRng::seed_from_u64(99);
        rng.normal_array(&[17], 0.0, 1.0).unwrap();
        // Two optimisers with a parameter of the same name: their slots must not collide.
        let state = TrainingState {
            epoch: 3,
            global_step: 42,
            rngs: BTreeMap::from([("dropout".to_string(), rng.state())]),
            optimizers: BTreeMap::from([
                ("generator".to_string(), adam_state(0.1 + 0.2, 42, 1.5)),
                ("discriminator".to_string(), adam_state(2e-4, 7, -3.0)),
                (
                    "idle".to_string(),
                    OptimizerState { tensors: BTreeMap::new(), steps: BTreeMap::new(), ..adam_state(1.0, 0, 0.0) },
                ),
            ]),
            extra: serde_json::json!({"best": 0.25}),
        };
        let path = temp_file("training_state.safetensors");
        state.save(&path).unwrap();
        assert_eq!(TrainingState::load(&path).unwrap(), state);
        assert!(seed_from_hex("zz").is_none());
        let mut bad = state;
        bad.optimizers.insert("a/b".into(), adam_state(1.0, 1, 0.0));
        assert!(bad.save(&path).unwrap_err().to_string().contains("`a/b`"));
    }

    #[test]
    fn version_1_files_are_read_and_unknown_versions_refused() {
        let old = adam_state(1e-3, 5, 0.5);
        let header = |version: u32| {
            format!(
                r#"{{"version":{version},"epoch":1,"global_step":5,"rngs":{{}},"optimizer":{{"kind":"adam","learning_rate":0.001,"steps":{{"w":5}}}},"extra":null}}"#
            )
        };
        let path = temp_file("v1.safetensors");
        let entries = || old.tensors.iter().map(|(k, a)| (k.clone(), Encoded::f32(&a.view()))).collect();
        store::write(&path, entries(), HashMap::from([(STATE_KEY.to_string(), header(1))])).unwrap();
        let read = TrainingState::load(&path).unwrap();
        assert_eq!(read.optimizers, BTreeMap::from([(SINGLE_OPTIMIZER.to_string(), old.clone())]));
        assert_eq!((read.epoch, read.global_step), (1, 5));
        store::write(&path, entries(), HashMap::from([(STATE_KEY.to_string(), header(9))])).unwrap();
        let err = TrainingState::load(&path).unwrap_err().to_string();
        assert!(err.contains("version 9 is not supported (expected 1 or 2)"), "{err}");
    }
}
