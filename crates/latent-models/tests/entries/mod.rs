//! The entry points of a run directory's readers for hostile-input testing, and valid run
//! directories to mutate. Shared by the mutation tests (`tests/mutation.rs`) and the cargo-fuzz
//! targets (`fuzz/fuzz_targets/`), which include this file by path: it uses only latent-models,
//! its dependencies, latent-testkit and std.
//!
//! A run directory holds `config.json`, `model.safetensors`, `training_state.safetensors` and
//! `metrics.jsonl`; the entries write mutated files into a scratch directory and read it as
//! `latent info`, `latent eval` and `latent train --resume` do.

#![allow(dead_code)]

use std::path::Path;

use latent_data::Dataset;
use latent_models::run_dir::{CONFIG_FILE, DataInfo, METRICS_FILE, MODEL_FILE, RunConfig, RunDir, STATE_FILE};
use latent_models::train::{Silent, Trainer};
use latent_models::{ModelConfig, ModelError, presets};
use latent_testkit::files::{pack, unpack};

/// The files of a run directory, in the order they are packed.
pub const FILES: [&str; 4] = [CONFIG_FILE, MODEL_FILE, STATE_FILE, METRICS_FILE];

/// Writes `files` (in [`FILES`] order) into `dir`, replacing what a previous mutant left.
fn write_run(dir: &Path, files: &[&[u8]]) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    for (name, bytes) in FILES.iter().zip(files) {
        std::fs::write(dir.join(name), bytes).expect("writing the scratch run");
    }
}

/// `config.json` as `latent info` reads it: parsed, the model described (every field validated)
/// and the training options validated. The model is not built (see [`run_config_built`]).
pub fn run_config(bytes: &[u8], scratch: &Path) -> Result<(), ModelError> {
    write_run(scratch, &[bytes, b""]);
    let run = RunDir::open(scratch)?;
    let config = run.read_config()?;
    config.model.describe()?;
    config.train.validate()?;
    Ok(())
}

/// [`run_config`], then the model it describes built, as `latent eval` and `--resume` do.
pub fn run_config_built(bytes: &[u8], scratch: &Path) -> Result<(), ModelError> {
    run_config(bytes, scratch)?;
    let config = RunDir::open(scratch)?.read_config()?;
    latent_models::build_model(&config.model, &mut latent_tensor::TensorRng::seed_from_u64(0))?;
    Ok(())
}

/// A whole run directory whose `config.json` is `config` (valid) and whose other files are packed
/// in `bytes` (weights, state, metrics): opened, the model loaded, the state checked against
/// the weights, the metrics read, and the run resumed (everything a resume reads and checks,
/// short of training).
pub fn run_dir(bytes: &[u8], config: &[u8], scratch: &Path) -> Result<(), ModelError> {
    let files = unpack(bytes, 3);
    write_run(scratch, &[config, files[0], files[1], files[2]]);
    let run = RunDir::open(scratch)?;
    run.load_model()?;
    run.load_state()?;
    run.read_metrics()?;
    Trainer::resume(run, None)?;
    Ok(())
}

/// A mutation of a packed run (weights, state, metrics) that keeps the files well-formed enough
/// to reach the checks behind their checksums: the weights or the state mutated structurally
/// and resealed ([`latent_testkit::reseal::mutate_file`]), or one line of the metrics mutated
/// as JSON.
pub fn mutate_run(m: &mut latent_testkit::Mutator, packed: &[u8], _donors: &[Vec<u8>]) -> Vec<u8> {
    let files = unpack(packed, 3);
    let mut owned: Vec<Vec<u8>> = files.iter().map(|f| f.to_vec()).collect();
    match m.pick(5) {
        0 | 1 => owned[0] = latent_testkit::reseal::mutate_file(m, files[0], &[]),
        2 | 3 => owned[1] = latent_testkit::reseal::mutate_file(m, files[1], &[]),
        _ => {
            let text = String::from_utf8_lossy(files[2]);
            let mut lines: Vec<Vec<u8>> = text.lines().map(|l| l.as_bytes().to_vec()).collect();
            if !lines.is_empty() {
                let i = m.pick(lines.len());
                lines[i] = latent_testkit::json::mutate_text(m, &lines[i]);
            }
            owned[2] = lines.join(&b'\n');
        }
    }
    pack(&[&owned[0], &owned[1], &owned[2]])
}

/// Valid runs to mutate.
pub mod inputs {
    use super::*;

    /// 24 images of 4 x 4 pixels, and 8 for the test split.
    fn data() -> (Dataset, Dataset) {
        let make = |n: usize, salt: usize| {
            let pixels = (0..n * 16).map(|i| ((i * 37 + salt) % 256) as u8).collect();
            Dataset::new(pixels, (0..n).map(|i| (i % 10) as u8).collect(), 4, 4).unwrap()
        };
        (make(24, 0), make(8, 5))
    }

    /// The configuration of a preset shrunk to 4 x 4 inputs and a few units, trained for one
    /// epoch of at most two batches of 8.
    fn config(model: &str) -> RunConfig {
        let p = presets::preset(model, None).unwrap();
        let mut fields = serde_json::to_value(&p.config).unwrap();
        let obj = fields.as_object_mut().unwrap();
        for (key, value) in [("input_dim", 16), ("output_dim", 16), ("latent_dim", 2)] {
            if obj.contains_key(key) {
                obj.insert(key.into(), value.into());
            }
        }
        for key in ["hidden", "generator_hidden", "discriminator_hidden"] {
            if obj.contains_key(key) {
                obj.insert(key.into(), serde_json::json!([8]));
            }
        }
        let model_config: ModelConfig = serde_json::from_value(fields).unwrap();
        let mut train = p.train.clone();
        train.epochs = 1;
        train.batch_size = 8;
        train.limit_batches = Some(2);
        RunConfig {
            preset: format!("{}/{}", p.model, p.name),
            model: model_config,
            train,
            data: DataInfo {
                name: "tiny".into(),
                dir: String::new(),
                train_examples: 24,
                test_examples: 8,
                load: Default::default(),
                spec: None,
            },
        }
    }

    /// A run of `model` trained for one epoch: its four files, in [`FILES`] order.
    pub fn run(model: &str) -> Vec<Vec<u8>> {
        let dir = latent_testkit::files::scratch_dir();
        let (train, test) = data();
        let mut trainer = Trainer::new(RunDir::create(dir.path(), false).unwrap(), config(model)).unwrap();
        trainer.fit(&train, &test, &mut Silent).unwrap();
        FILES.iter().map(|f| std::fs::read(dir.path().join(f)).unwrap()).collect()
    }

    /// The models whose runs are mutated: a VAE, and a GAN (two optimisers).
    pub const MODELS: [&str; 2] = ["vae", "gan"];

    /// Each model's `config.json`.
    pub fn configs() -> Vec<Vec<u8>> {
        MODELS.iter().map(|m| run(m).swap_remove(0)).collect()
    }
}
