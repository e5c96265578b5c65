//! Per-epoch records, written one JSON object per line to `metrics.jsonl`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What one epoch measured. Losses are per example (sums divided by the number of examples).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// The epoch, from 1.
    pub epoch: u64,
    /// Training loss parts per example (`loss`, `recon`, `kl`, `penalty`, `elbo`, ...).
    pub train: BTreeMap<String, f64>,
    /// Test-set loss parts per example, in eval mode.
    pub test: BTreeMap<String, f64>,
    /// The same on the validation split, when the run holds one out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val: Option<BTreeMap<String, f64>>,
    /// Training examples per second (forward, backward, optimiser step, batch gathering).
    pub samples_per_s: f64,
    /// Seconds spent in the training loop.
    pub train_seconds: f64,
    /// Seconds spent on the test set.
    pub test_seconds: f64,
    /// The learning rate used.
    pub learning_rate: f64,
    /// Optimiser steps so far.
    pub global_step: u64,
}
