//! The entry points of latent-nn's file parsers (the checkpoint and the training state) for
//! hostile-input testing, and valid files to mutate. Shared by the mutation tests
//! (`tests/mutation.rs`) and the cargo-fuzz targets (`fuzz/fuzz_targets/`), which include this
//! file by path: it uses only latent-nn, its dependencies, latent-testkit and std.
//!
//! The files are parsed from disk, as users' files are: each entry writes the bytes into a
//! scratch directory first.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use latent_nn::layers::{BatchNorm1d, Linear, Relu, Sequential};
use latent_nn::optim::{Adam, AdamConfig, Optimizer, RmsProp, RmsPropConfig, Sgd, SgdConfig};
use latent_nn::train_state::STATE_KEY;
use latent_nn::{Buffer, Ctx, Layer, Module, NnError, TrainingState, load_checkpoint, read_config, save_checkpoint};
use latent_tensor::TensorRng;

/// The checkpoint's file name; errors must name it.
pub const MODEL_NAME: &str = "model.safetensors";
/// The training state's file name; errors must name it.
pub const STATE_NAME: &str = "training_state.safetensors";

/// `Linear(3, 4) → BatchNorm1d(4) → ReLU → Linear(4, 2)`: parameters, `F32` buffers and an `I64`
/// buffer, like the models latent trains.
pub fn model() -> Sequential {
    let mut rng = TensorRng::seed_from_u64(3);
    Sequential::new()
        .with(Linear::new(3, 4, &mut rng).unwrap())
        .with(BatchNorm1d::new(4).unwrap())
        .with(Relu)
        .with(Linear::new(4, 2, &mut rng).unwrap())
}

/// Every value of a model, as bits.
fn snapshot(m: &dyn Module) -> Vec<(String, Vec<u32>)> {
    let mut out = Vec::new();
    m.visit_params("", &mut |n, p| out.push((n.to_string(), p.to_vec().iter().map(|v| v.to_bits()).collect())));
    m.visit_buffers("", &mut |n, b| {
        let bits = match b {
            Buffer::F32(a) => a.iter().map(|v| v.to_bits()).collect(),
            Buffer::I64(v) => vec![v as u32, (v >> 32) as u32],
        };
        out.push((n.to_string(), bits));
    });
    out
}

/// The checkpoint at `scratch/model.safetensors`: its configuration (as any JSON), then its
/// weights loaded into [`model`]. A refused file must leave the model unchanged (it panics
/// otherwise, which the campaign reports).
pub fn checkpoint(bytes: &[u8], scratch: &Path) -> Result<(), NnError> {
    let path = scratch.join(MODEL_NAME);
    std::fs::write(&path, bytes).expect("writing the scratch file");
    read_config::<serde_json::Value>(&path)?;
    let mut m = model();
    let before = snapshot(&m);
    let result = load_checkpoint(&path, &mut m);
    if let Err(e) = &result {
        assert!(snapshot(&m) == before, "a refused checkpoint changed the model: {e}");
    }
    result
}

/// [`checkpoint`] after resealing the checksum, to reach the checks behind it.
pub fn checkpoint_resealed(bytes: &[u8], scratch: &Path) -> Result<(), NnError> {
    checkpoint(&latent_testkit::reseal(bytes), scratch)
}

/// The training state at `scratch/training_state.safetensors`, then each optimiser's state
/// loaded (checked against [`model`]) into an optimiser of its kind, and each generator restored,
/// as a resume does.
pub fn train_state(bytes: &[u8], scratch: &Path) -> Result<(), NnError> {
    let path = scratch.join(STATE_NAME);
    std::fs::write(&path, bytes).expect("writing the scratch file");
    let state = TrainingState::load(&path)?;
    let m = model();
    for (_, opt) in state.optimizers {
        // A resume builds each optimiser from the run's configuration; here the slots say which
        // configuration wrote them.
        let has = |slot: &str| opt.tensors.keys().any(|k| k.ends_with(slot));
        let momentum = if has(".momentum_buffer") { 0.9 } else { 0.0 };
        let mut optimizer: Box<dyn Optimizer> = match opt.kind.as_str() {
            "sgd" => Box::new(Sgd::new(SgdConfig { momentum, ..SgdConfig::new(0.1) })?),
            "rmsprop" => Box::new(RmsProp::new(RmsPropConfig {
                momentum,
                centered: has(".grad_avg"),
                ..RmsPropConfig::new(0.1)
            })?),
            "adamw" => Box::new(Adam::new(AdamConfig::adamw(0.1))?),
            _ => Box::new(Adam::new(AdamConfig::adam(0.1))?),
        };
        optimizer.load_state(opt, &m)?;
    }
    for (_, rng) in state.rngs {
        let mut rng = TensorRng::from_state(rng);
        rng.normal_array(&[4], 0.0, 1.0)?;
    }
    Ok(())
}

/// [`train_state`] after resealing the checksum.
pub fn train_state_resealed(bytes: &[u8], scratch: &Path) -> Result<(), NnError> {
    train_state(&latent_testkit::reseal(bytes), scratch)
}

/// Valid files to mutate.
pub mod inputs {
    use super::*;

    /// One step of `opt` on a fresh [`model`] in training mode (so the moments, BatchNorm's
    /// statistics and `num_batches_tracked` are all non-trivial); the model after it.
    fn step(opt: &mut dyn Optimizer) -> Sequential {
        let mut m = model();
        let mut ctx = Ctx::train(TensorRng::seed_from_u64(1));
        let x = TensorRng::seed_from_u64(9).randn(&[6, 3]);
        let loss = m.forward(&x, &mut ctx).unwrap().square().mean_all().unwrap();
        let grads = loss.backward().unwrap();
        drop(loss);
        opt.step(&mut m, &grads).unwrap();
        m
    }

    /// Checkpoints of [`model`] with a configuration in the metadata.
    pub fn checkpoints() -> Vec<Vec<u8>> {
        let dir = latent_testkit::files::scratch_dir();
        let m = step(&mut Adam::new(AdamConfig::adam(0.01)).unwrap());
        let path = dir.path().join(MODEL_NAME);
        let mut out = Vec::new();
        for config in [serde_json::json!({"hidden": [4], "latent_dim": 2, "kind": "mlp"}), serde_json::json!(null)] {
            save_checkpoint(&path, &m, &config).unwrap();
            out.push(std::fs::read(&path).unwrap());
        }
        out
    }

    /// Training states: one Adam optimiser and a generator; two optimisers of other kinds (as a
    /// GAN has); and a version 1 file.
    pub fn train_states() -> Vec<Vec<u8>> {
        let dir = latent_testkit::files::scratch_dir();
        let path = dir.path().join(STATE_NAME);
        let mut adam = Adam::new(AdamConfig::adam(0.01)).unwrap();
        step(&mut adam);
        let mut sgd = Sgd::new(SgdConfig { momentum: 0.9, ..SgdConfig::new(0.1) }).unwrap();
        step(&mut sgd);
        let mut rmsprop = RmsProp::new(RmsPropConfig::new(0.01)).unwrap();
        step(&mut rmsprop);
        let mut rng = TensorRng::seed_from_u64(4);
        rng.normal_array(&[5], 0.0, 1.0).unwrap();
        let states = [
            TrainingState {
                epoch: 1,
                global_step: 1,
                rngs: BTreeMap::from([("dropout".to_string(), rng.state())]),
                optimizers: BTreeMap::from([("model".to_string(), adam.state())]),
                extra: serde_json::json!({"best": 0.5}),
            },
            TrainingState {
                epoch: 3,
                global_step: 12,
                rngs: BTreeMap::new(),
                optimizers: BTreeMap::from([
                    ("generator".to_string(), sgd.state()),
                    ("discriminator".to_string(), rmsprop.state()),
                ]),
                extra: serde_json::Value::Null,
            },
        ];
        let mut out = Vec::new();
        for s in &states {
            s.save(&path).unwrap();
            out.push(std::fs::read(&path).unwrap());
        }
        out.push(version_1(&adam));
        out
    }

    /// A version 1 training state (one optimiser under `"optimizer"`, slots named
    /// `<param>.<slot>`), sealed with its checksum.
    fn version_1(adam: &Adam) -> Vec<u8> {
        let state = adam.state();
        let json = serde_json::json!({
            "version": 1, "epoch": 1, "global_step": 1, "rngs": {},
            "optimizer": {"kind": state.kind, "learning_rate": state.learning_rate, "steps": state.steps},
            "extra": null,
        });
        let data: Vec<(String, Vec<u8>, Vec<usize>)> = state
            .tensors
            .iter()
            .map(|(k, a)| (k.clone(), a.iter().flat_map(|v| v.to_le_bytes()).collect(), a.shape().to_vec()))
            .collect();
        let views = data.iter().map(|(k, b, s)| {
            (k.as_str(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap())
        });
        let metadata = HashMap::from([
            (STATE_KEY.to_string(), json.to_string()),
            (latent_testkit::reseal::CHECKSUM_KEY.to_string(), "0".repeat(64)),
        ]);
        let unsealed = safetensors::serialize(views, Some(metadata)).unwrap();
        latent_testkit::reseal(&unsealed)
    }
}
