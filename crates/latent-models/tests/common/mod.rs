//! Helpers shared by this crate's integration tests: the bundled sample, a run configuration
//! built from a preset, a complete training run, and an observer that stops training early.

// Each test crate includes this module and uses a subset of it.
#![allow(dead_code)]

use std::path::Path;

use latent_data::Data;
use latent_models::EpochMetrics;
use latent_models::presets::preset;
use latent_models::run_dir::{DataInfo, RunConfig, RunDir};
use latent_models::train::{BatchProgress, Silent, TrainObserver, TrainOutcome, Trainer};

/// The built-in sample, with its test set cut to the first `test_images` digits if given (the
/// test pass of every epoch is part of each test's time).
pub fn sample(test_images: Option<usize>) -> Data {
    let mut data = latent_data::sample::load().expect("the built-in sample loads");
    if let Some(n) = test_images {
        data.test = data.test.take(n);
    }
    data
}

/// The run configuration of a preset, trained for `epochs` epochs of at most `limit` batches.
pub fn config(model: &str, preset_name: Option<&str>, epochs: u64, limit: usize) -> RunConfig {
    let p = preset(model, preset_name).unwrap();
    let mut train = p.train.clone();
    train.epochs = epochs;
    train.limit_batches = Some(limit);
    RunConfig {
        preset: format!("{}/{}", p.model, p.name),
        model: p.config,
        train,
        data: DataInfo {
            name: "mnist-sample".into(),
            dir: String::new(),
            train_examples: 10_000,
            test_examples: 2_000,
            load: Default::default(),
            spec: None,
        },
    }
}

/// Train a new run in `dir` to completion; the trainer and its metrics.
pub fn train(dir: &Path, config: RunConfig, data: &Data) -> (Trainer, Vec<EpochMetrics>) {
    let mut trainer = Trainer::new(RunDir::create(dir, false).unwrap(), config).unwrap();
    let epochs = trainer.config().train.epochs;
    assert_eq!(trainer.fit(&data.train, &data.test, &mut Silent).unwrap(), TrainOutcome::Completed { epochs });
    let metrics = trainer.run_dir().read_metrics().unwrap();
    (trainer, metrics)
}

/// Stops after `at` batches, as Ctrl-C does.
pub struct StopAt {
    /// Batches to let through.
    pub at: usize,
    /// Batches seen so far.
    pub seen: usize,
}

impl TrainObserver for StopAt {
    fn batch_done(&mut self, _p: &BatchProgress) {
        self.seen += 1;
    }

    fn should_stop(&self) -> bool {
        self.seen >= self.at
    }
}
