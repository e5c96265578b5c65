//! The 8-3-8 identity network of the textbook figure: eight one-hot inputs, three sigmoid hidden
//! units, eight sigmoid outputs, trained to reproduce its input.
//!
//! Squeezing eight patterns through three units, the network finds (close to) a 3-bit binary
//! code. Plain training reconstructs every input but often settles on hidden values near 0.5 (as
//! in the textbook's own table), which do not round to a code; Gaussian noise (σ = 1) on the
//! hidden pre-activations during training only, the trick of semantic hashing, makes half-way
//! values useless to the decoder, so the units saturate. Full-batch SGD with momentum 0.9 and
//! learning rate 0.5 on the binary cross-entropy of the output logits; reconstruction and codes
//! are judged on the clean network. Training stops once every output is within 0.1 of its
//! target and the rounded codes are distinct (or at the epoch limit).

use latent_data::toy::identity_838;
use latent_nn::layers::Linear;
use latent_nn::optim::{NamedGrads, Optimizer, Sgd, SgdConfig};
use latent_nn::{Ctx, Layer, Module};
use latent_tensor::{Tensor, TensorRng, no_grad};
use ndarray::Array2;
use serde::Serialize;

use crate::error::Result;

/// Learning rate, momentum and hidden noise of the identity network's training.
const LEARNING_RATE: f64 = 0.5;
const MOMENTUM: f64 = 0.9;
const HIDDEN_NOISE: f32 = 1.0;

/// What training found, in the layout of the textbook figure.
#[derive(Clone, Debug, Serialize)]
pub struct IdentityReport {
    /// The eight inputs.
    pub inputs: Vec<Vec<f32>>,
    /// The three hidden values of each input.
    pub hidden: Vec<Vec<f32>>,
    /// The eight outputs of each input.
    pub outputs: Vec<Vec<f32>>,
    /// The hidden values rounded to bits, as strings like `"101"`.
    pub codes: Vec<String>,
    /// Epochs trained.
    pub epochs: usize,
    /// The final loss (binary cross-entropy per pattern, summed over outputs).
    pub loss: f32,
    /// Whether every output is within 0.1 of its target.
    pub reconstructs: bool,
    /// Whether the eight rounded codes are all different.
    pub distinct_codes: bool,
}

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
}

/// Binary cross-entropy on logits, `softplus(z) - x·z`, summed over outputs, averaged over inputs.
fn bce_on_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let n = targets.shape()[0] as f32;
    Ok(logits.softplus().sub(&targets.mul(logits)?)?.sum_all().div_scalar(n))
}

fn rows(a: &Array2<f32>) -> Vec<Vec<f32>> {
    a.rows().into_iter().map(|r| r.to_vec()).collect()
}

/// Train the network from `seed` for at most `max_epochs`.
///
/// # Errors
/// Only on internal shape errors (the data is fixed).
pub fn train_identity(seed: u64, max_epochs: usize) -> Result<IdentityReport> {
    let x_data: Array2<f32> = identity_838();
    let x = Tensor::new(x_data.clone());
    let mut rng = TensorRng::seed_from_u64(seed);
    let mut net = Network::new(&mut rng)?;
    let mut optimizer = Sgd::new(SgdConfig::new(LEARNING_RATE).momentum(MOMENTUM))?;
    let mut ctx = Ctx::eval();
    let mut epoch = 0;
    loop {
        let report = {
            let _eval = no_grad();
            let hidden = net.hidden.forward(&x, &mut ctx)?.sigmoid();
            let logits = net.output.forward(&hidden, &mut ctx)?;
            let hidden: Array2<f32> = hidden.to_array().into_dimensionality().expect("2-D");
            let outputs: Array2<f32> = logits.sigmoid().to_array().into_dimensionality().expect("2-D");
            let codes: Vec<String> = hidden
                .rows()
                .into_iter()
                .map(|r| r.iter().map(|&v| if v >= 0.5 { '1' } else { '0' }).collect())
                .collect();
            let mut unique = codes.clone();
            unique.sort_unstable();
            unique.dedup();
            IdentityReport {
                reconstructs: outputs.iter().zip(x_data.iter()).all(|(o, t)| (o - t).abs() < 0.1),
                distinct_codes: unique.len() == codes.len(),
                inputs: rows(&x_data),
                hidden: rows(&hidden),
                outputs: rows(&outputs),
                codes,
                epochs: epoch,
                loss: bce_on_logits(&logits, &x)?.item()?,
            }
        };
        if epoch >= max_epochs || (report.reconstructs && report.distinct_codes) {
            return Ok(report);
        }
        epoch += 1;
        let pre = net.hidden.forward(&x, &mut ctx)?;
        let noisy_hidden = pre.add(&rng.normal(pre.shape(), 0.0, HIDDEN_NOISE)?)?.sigmoid();
        let loss = bce_on_logits(&net.output.forward(&noisy_hidden, &mut ctx)?, &x)?;
        let mut grads = loss.backward()?;
        drop(loss);
        let named = NamedGrads::take(&net, &mut grads);
        optimizer.step(&mut net, &named)?;
    }
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
