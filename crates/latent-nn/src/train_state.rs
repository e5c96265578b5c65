//! The training-state file: everything besides the weights that a run needs to resume exactly
//! (optimiser moments and step counts, learning rate, generator states, epoch and step).
//!
//! It is a safetensors file (not bincode, which is unmaintained): the optimiser's slots are
//! tensors named `<param>.<slot>` (for Adam `enc.0.weight.exp_avg`, `enc.0.weight.exp_avg_sq`),
//! and the rest is JSON under the metadata key [`STATE_KEY`]:
//!
//! ```json
//! {"version": 1, "epoch": 3, "global_step": 120,
//!  "rngs": {"dropout": {"seed": "<64 hex digits>", "stream": 0, "word_pos": "4096"}},
//!  "optimizer": {"kind": "adam", "learning_rate": 0.001, "steps": {"0.weight": 120}},
//!  "extra": null}
//! ```
//! (`word_pos` is a decimal string because it is a 128-bit number.) Like checkpoints, the file
//! is written atomically and carries a content checksum.
//!
//! Resuming: rebuild the model and load its checkpoint, build the optimiser with the same
//! hyper-parameters and [`Optimizer::load_state`](crate::optim::Optimizer::load_state) the
//! saved state into it (checked against the model), restore the generators with
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

/// The format version this crate writes and reads.
const VERSION: u32 = 1;

/// Everything a run needs besides its weights to continue exactly where it stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingState {
    /// Epochs completed.
    pub epoch: u64,
    /// Optimiser steps completed.
    pub global_step: u64,
    /// The states of the run's generators, by role (`"dropout"`, `"shuffle"`, ...).
    pub rngs: BTreeMap<String, RngState>,
    /// The optimiser's state.
    pub optimizer: OptimizerState,
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
    optimizer: OptimizerJson,
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
            optimizer: OptimizerJson {
                kind: self.optimizer.kind.clone(),
                learning_rate: self.optimizer.learning_rate,
                steps: self.optimizer.steps.clone(),
            },
            extra: self.extra.clone(),
        };
        let json = serde_json::to_string(&header)
            .map_err(|e| NnError::metadata(path, STATE_KEY, format!("cannot serialise: {e}")))?;
        let entries = self.optimizer.tensors.iter().map(|(name, a)| (name.clone(), Encoded::f32(&a.view()))).collect();
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
        if header.version != VERSION {
            return Err(bad(format!("version {} is not supported (expected {VERSION})", header.version)));
        }
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
        let mut tensors = BTreeMap::new();
        for name in file.names() {
            tensors.insert(name.to_string(), store::decode_f32(&file.expect_f32(name)?));
        }
        let optimizer = OptimizerState {
            kind: header.optimizer.kind,
            learning_rate: header.optimizer.learning_rate,
            steps: header.optimizer.steps,
            tensors,
        };
        Ok(TrainingState { epoch: header.epoch, global_step: header.global_step, rngs, optimizer, extra: header.extra })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latent_tensor::TensorRng;

    #[test]
    fn round_trips_exactly() {
        let mut rng = TensorRng::seed_from_u64(99);
        rng.normal_array(&[17], 0.0, 1.0).unwrap();
        let state = TrainingState {
            epoch: 3,
            global_step: 42,
            rngs: BTreeMap::from([("dropout".to_string(), rng.state())]),
            optimizer: OptimizerState {
                kind: "adam".into(),
                learning_rate: 0.1 + 0.2,
                steps: BTreeMap::from([("w".to_string(), 42)]),
                tensors: BTreeMap::from([
                    ("w.exp_avg".to_string(), ndarray::arr1(&[1.5f32, f32::MIN_POSITIVE]).into_dyn()),
                    ("w.exp_avg_sq".to_string(), ndarray::arr1(&[2.5f32, 1e-30]).into_dyn()),
                ]),
            },
            extra: serde_json::json!({"best": 0.25}),
        };
        let dir = std::env::temp_dir().join(format!("latent-nn-ts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("training_state.safetensors");
        state.save(&path).unwrap();
        assert_eq!(TrainingState::load(&path).unwrap(), state);
        assert!(seed_from_hex("zz").is_none());
    }
}
