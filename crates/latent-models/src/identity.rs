//! The 8-3-8 identity network of the textbook figure: eight one-hot inputs, three sigmoid hidden
//! units, eight sigmoid outputs, trained to reproduce its input.
//!
//! Squeezing eight patterns through three units, the network finds (close to) a 3-bit binary
//! code. Plain training reconstructs every input but often settles on hidden values near 0.5 (as
//! in the textbook's own table), which do not round to a code; Gaussian noise (σ = 1) on the
//! hidden pre-activations during training only, the trick of semantic hashing, makes half-way
//! values useless to the decoder, so the units saturate. Full-batch SGD with momentum 0.9 and
//! learning rate 0.5 on the mean binary cross-entropy of the output logits, run by the one
//! [`Trainer`] (the noise comes from the trainer's seeded generator); reconstruction and codes
//! are judged on the clean network after every epoch, and training stops once every output is
//! within 0.1 of its target and the rounded codes are distinct (or at the epoch limit).

use latent_data::toy::identity_838;
use latent_data::{Batch, Dataset, NoiseSpec, Scale};
use latent_nn::layers::Linear;
use latent_nn::{Ctx, Layer, Module};
use latent_tensor::{Tensor, TensorRng, no_grad};
use ndarray::Array2;
use serde::Serialize;

use crate::error::{ModelError, Result};
use crate::family::{Description, ModelConfig};
use crate::metrics::EpochMetrics;
use crate::model::{Model, Objective, Parts};
use crate::optimizers::OptimizerKind;
use crate::train::{TrainObserver, TrainOptions, Trainer};

const LEARNING_RATE: f64 = 0.5;
const MOMENTUM: f64 = 0.9;
const HIDDEN_NOISE: f32 = 1.0;

/// What the trained network does with each input.
#[derive(Clone, Debug, Serialize)]
pub struct IdentityReport {
    /// The eight one-hot inputs.
    pub inputs: Vec<Vec<f32>>,
    /// The three hidden activations of each.
    pub hidden: Vec<Vec<f32>>,
    /// The eight output probabilities of each.
    pub outputs: Vec<Vec<f32>>,
    /// The hidden activations rounded to bits (`"101"`).
    pub codes: Vec<String>,
    /// Epochs trained.
    pub epochs: usize,
    /// The final mean binary cross-entropy (clean network).
    pub loss: f32,
    /// Every output within 0.1 of its target.
    pub reconstructs: bool,
    /// The eight codes differ.
    pub distinct_codes: bool,
}

/// The 8-3-8 network: `hidden` (8→3, sigmoid) and `output` (3→8, logits).
#[derive(Module)]
struct Network {
    hidden: Linear,
    output: Linear,
}

impl Network {
    fn new(rng: &mut TensorRng) -> Result<Self> {
        let mut layer = |out, inp| -> Result<Linear> {
            let w = Tensor::parameter(rng.uniform_array(&[out, inp], -0.5, 0.5)?);
            let b = Tensor::parameter(rng.uniform_array(&[out], -0.5, 0.5)?);
            Ok(Linear::from_tensors(w, Some(b))?)
        };
        Ok(Network { hidden: layer(3, 8)?, output: layer(8, 3)? })
    }

    /// The clean network's hidden activations and output logits.
    fn clean(&mut self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let _eval = no_grad();
        let mut ctx = Ctx::eval();
        let hidden = self.hidden.forward(x, &mut ctx)?.sigmoid();
        let logits = self.output.forward(&hidden, &mut ctx)?;
        Ok((hidden, logits))
    }

    fn report(&mut self, x_data: &Array2<f32>, epochs: usize) -> Result<IdentityReport> {
        let x = Tensor::new(x_data.clone());
        let (hidden, logits) = self.clean(&x)?;
        let hidden: Array2<f32> = hidden.to_array().into_dimensionality().expect("2-D");
        let outputs: Array2<f32> = logits.sigmoid().to_array().into_dimensionality().expect("2-D");
        let codes: Vec<String> =
            hidden.rows().into_iter().map(|r| r.iter().map(|&v| if v >= 0.5 { '1' } else { '0' }).collect()).collect();
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        Ok(IdentityReport {
            reconstructs: outputs.iter().zip(x_data.iter()).all(|(o, t)| (o - t).abs() < 0.1),
            distinct_codes: unique.len() == codes.len(),
            inputs: rows(x_data),
            hidden: rows(&hidden),
            outputs: rows(&outputs),
            codes,
            epochs,
            loss: bce_on_logits(&logits, &x)?.item()?,
        })
    }
}

impl Model for Network {
    fn config(&self) -> ModelConfig {
        serde_json::from_value(serde_json::json!({"kind": "identity_838"})).expect("a kind alone is a config")
    }

    /// The mean BCE of the outputs, with Gaussian noise on the hidden pre-activations in
    /// training mode; the `loss` part is summed over the batch as every model's.
    fn objective(&mut self, batch: &Batch, ctx: &mut Ctx) -> Result<Objective> {
        let x = Tensor::new(batch.input().clone());
        let pre = self.hidden.forward(&x, ctx)?;
        let pre = if ctx.is_training() { pre.add(&ctx.rng().normal(pre.shape(), 0.0, HIDDEN_NOISE)?)? } else { pre };
        let loss = bce_on_logits(&self.output.forward(&pre.sigmoid(), ctx)?, &x)?;
        let mut parts = Parts::default();
        parts.set("loss", f64::from(loss.item()?) * batch.len() as f64);
        Ok(Objective { loss, parts })
    }
}

fn bce_on_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let n = targets.shape()[0] as f32;
    Ok(logits.softplus().sub(&targets.mul(logits)?)?.sum_all().div_scalar(n))
}

fn rows(a: &Array2<f32>) -> Vec<Vec<f32>> {
    a.rows().into_iter().map(|r| r.to_vec()).collect()
}

/// Judges the clean network after every epoch and stops training once it has learnt.
struct Goal {
    x: Array2<f32>,
    report: Option<IdentityReport>,
    error: Option<ModelError>,
}

impl TrainObserver for Goal {
    fn epoch_done(&mut self, m: &EpochMetrics, model: &mut dyn Model) -> Result<()> {
        // The trainer's model is this module's network: the typed walk hands it back.
        let mut outcome = None;
        model.visit_modules_mut("", &mut |_, module| {
            if outcome.is_none()
                && let Some(net) = module.downcast_mut::<Network>()
            {
                outcome = Some(net.report(&self.x, m.epoch as usize));
            }
        });
        match outcome {
            Some(Ok(r)) => self.report = Some(r),
            Some(Err(e)) => self.error = Some(e),
            None => self.error = Some(ModelError::input("model", "the trainer's model is not the 8-3-8 network")),
        }
        Ok(())
    }

    fn should_stop(&self) -> bool {
        self.error.is_some() || self.report.as_ref().is_some_and(|r| r.reconstructs && r.distinct_codes)
    }
}

/// Train the 8-3-8 network from `seed` until it reconstructs every input through distinct
/// codes, or for at most `max_epochs` epochs, and report what it does.
///
/// # Errors
/// If a step fails.
pub fn train_identity(seed: u64, max_epochs: usize) -> Result<IdentityReport> {
    let x_data: Array2<f32> = identity_838();
    let pixels: Vec<u8> = x_data.iter().map(|&v| if v > 0.5 { 255 } else { 0 }).collect();
    let data = Dataset::new(pixels, vec![0; x_data.nrows()], 1, x_data.ncols())?;
    let mut net = Network::new(&mut TensorRng::seed_from_u64(seed))?;
    if max_epochs == 0 {
        return net.report(&x_data, 0);
    }
    let description = Description {
        kind: "identity_838".into(),
        input_dim: x_data.ncols(),
        latent_dim: 3,
        scale: Scale::ZeroOne,
        noise: NoiseSpec::None,
        classes: None,
    };
    let options = TrainOptions {
        epochs: max_epochs as u64,
        batch_size: x_data.nrows(),
        learning_rate: LEARNING_RATE,
        seed,
        optimizer: OptimizerKind::Sgd,
        momentum: MOMENTUM,
        ..TrainOptions::default()
    };
    let mut trainer = Trainer::in_memory(Box::new(net), description, options)?;
    let mut goal = Goal { x: x_data.clone(), report: None, error: None };
    trainer.fit(&data, &data, &mut goal)?;
    if let Some(e) = goal.error {
        return Err(e);
    }
    Ok(goal.report.expect("at least one epoch ran"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_distinct_code_for_several_seeds() {
        for seed in 1..=5 {
            let r = train_identity(seed, 20_000).unwrap();
            assert!(r.reconstructs && r.distinct_codes, "seed {seed}: {r:?}");
        }
    }
}
