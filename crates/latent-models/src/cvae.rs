//! [`Cvae`]: the conditional VAE (Sohn et al. 2015), conditioned on the digit label.
//!
//! # Design
//! - The MLP VAE of [`crate::Vae`] with the label `y` as a one-hot vector beside both halves'
//!   inputs: the encoder reads `[x, onehot(y)]` and gives `q(z|x, y) = N(μ, σ²)`; the decoder
//!   reads `[z, onehot(y)]` and gives Bernoulli logits of `p(x|z, y)`; the prior stays
//!   `N(0, I)`. The objective is the VAE's (`BCE + β·KL`, one reparameterised `z` per example,
//!   the same parts), with the labels of the batch.
//! - The label is part of every question asked of the model, so the labelled methods of
//!   [`Model`] are its interface: [`Model::encode_labeled`], [`Model::decode_labeled`],
//!   [`Model::reconstruct_labeled`] and [`Model::sample_labeled`]. The plain
//!   [`Model::encode`] and [`Model::decode`] return [`ModelError::Unsupported`] rather than
//!   guess a label. [`Model::sample`] (no label asked for) cycles through the labels: row `i`
//!   is digit `i mod classes`, so any `n` gives a balanced, reproducible mix.
//! - [`one_hot`] turns labels into the rows the halves read; it is public for other
//!   conditional models.
//!
//! Parameter names: `encoder.*` (the trunk, as `nn.Sequential`, input width `input + classes`),
//! `fc_mu.*`, `fc_logvar.*`, `decoder.*` (input width `latent + classes`).

use latent_data::Batch;
use latent_nn::layers::{Linear, Sequential};
use latent_nn::{Ctx, Layer, Module};
use latent_tensor::{Tensor, TensorRng, no_grad};

use crate::config::{CvaeConfig, ModelConfig};
use crate::error::{ModelError, Result};
use crate::mlp::{mlp, widths};
use crate::model::{Model, Objective, data_tensor};
use crate::vae::gaussian_elbo;

/// The labels as one-hot rows `[N, classes]`.
///
/// # Errors
/// [`ModelError::Config`] naming `label` if one is not below `classes`.
pub fn one_hot(labels: &[u8], classes: usize) -> Result<Tensor> {
    let mut data = vec![0.0f32; labels.len() * classes];
    for (row, &label) in labels.iter().enumerate() {
        let l = usize::from(label);
        if l >= classes {
            return Err(ModelError::config(
                "label",
                format!("label {label} is out of range: this model knows labels 0 to {}", classes.saturating_sub(1)),
            ));
        }
        data[row * classes + l] = 1.0;
    }
    Ok(Tensor::from_vec(&[labels.len(), classes], data)?)
}

/// A conditional VAE (see the module docs).
#[derive(Module)]
pub struct Cvae {
    #[module(skip)]
    config: CvaeConfig,
    encoder: Sequential,
    fc_mu: Linear,
    fc_logvar: Linear,
    decoder: Sequential,
}

impl Cvae {
    /// A new conditional VAE with PyTorch's default initial weights drawn from `rng`.
    ///
    /// # Errors
    /// If the configuration is invalid.
    pub fn new(config: CvaeConfig, rng: &mut TensorRng) -> Result<Self> {
        ModelConfig::Cvae(config.clone()).validate()?;
        let mut trunk_dims = vec![config.input_dim + config.classes];
        trunk_dims.extend_from_slice(&config.hidden);
        let encoder = Sequential::from_specs(&mlp(&trunk_dims, config.activation, Some(config.activation)), rng)?;
        let last = *trunk_dims.last().expect("input_dim");
        let fc_mu = Linear::new(last, config.latent_dim, rng)?;
        let fc_logvar = Linear::new(last, config.latent_dim, rng)?;
        let mut back = config.hidden.clone();
        back.reverse();
        let decoder = Sequential::from_specs(
            &mlp(&widths(config.latent_dim + config.classes, &back, config.input_dim), config.activation, None),
            rng,
        )?;
        Ok(Cvae { config, encoder, fc_mu, fc_logvar, decoder })
    }

    /// `[t, onehot(labels)]`, checking there is one label per row.
    fn with_labels(&self, t: &Tensor, labels: &[u8]) -> Result<Tensor> {
        let rows = t.shape().first().copied().unwrap_or(0);
        if labels.len() != rows {
            return Err(ModelError::config(
                "labels",
                format!("expected one label per row ({rows}), found {} labels", labels.len()),
            ));
        }
        Ok(Tensor::concat(&[t.clone(), one_hot(labels, self.config.classes)?], 1)?)
    }

    /// `(μ, log σ²)` of `q(z|x, y)`.
    fn posterior(&mut self, x: &Tensor, labels: &[u8], ctx: &mut Ctx) -> Result<(Tensor, Tensor)> {
        let h = self.encoder.forward(&self.with_labels(x, labels)?, ctx)?;
        Ok((self.fc_mu.forward(&h, ctx)?, self.fc_logvar.forward(&h, ctx)?))
    }

    fn unsupported(&self, what: &'static str) -> ModelError {
        ModelError::Unsupported { model: self.config().kind(), what }
    }
}

impl Model for Cvae {
    fn config(&self) -> ModelConfig {
        ModelConfig::Cvae(self.config.clone())
    }

    /// As [`crate::Vae`], with the batch's labels beside both halves' inputs.
    fn objective(&mut self, batch: &Batch, ctx: &mut Ctx) -> Result<Objective> {
        let input = data_tensor(batch.input());
        let target = data_tensor(&batch.images);
        let (mu, logvar) = self.posterior(&input, &batch.labels, ctx)?;
        let y = one_hot(&batch.labels, self.config.classes)?;
        let decoder = &mut self.decoder;
        gaussian_elbo(&mu, &logvar, &target, self.config.beta, ctx, |z, ctx| {
            Ok(decoder.forward(&Tensor::concat(&[z.clone(), y], 1)?, ctx)?)
        })
    }

    /// Refused: the code of a conditional model depends on the label; use
    /// [`Model::encode_labeled`].
    fn encode(&mut self, _x: &Tensor) -> Result<Tensor> {
        Err(self.unsupported("encode without the digit labels (use encode_labeled)"))
    }

    /// Refused: a conditional model decodes a code for a given label; use
    /// [`Model::decode_labeled`].
    fn decode(&mut self, _z: &Tensor) -> Result<Tensor> {
        Err(self.unsupported("decode without the digit labels (use decode_labeled)"))
    }

    /// `n` samples whose labels cycle through the classes (row `i` is digit `i mod classes`).
    fn sample(&mut self, n: usize, rng: &mut TensorRng) -> Result<Tensor> {
        let labels: Vec<u8> = (0..n).map(|i| (i % self.config.classes) as u8).collect();
        let z = rng.randn(&[n, self.config.latent_dim]);
        self.decode_labeled(&z, &labels)
    }

    fn is_generative(&self) -> bool {
        true
    }

    fn is_conditional(&self) -> bool {
        true
    }

    /// The mean of `q(z|x, y)`.
    fn encode_labeled(&mut self, x: &Tensor, labels: &[u8]) -> Result<Tensor> {
        let _guard = no_grad();
        Ok(self.posterior(x, labels, &mut Ctx::eval())?.0)
    }

    /// Pixel probabilities of `p(x|z, y)`.
    fn decode_labeled(&mut self, z: &Tensor, labels: &[u8]) -> Result<Tensor> {
        let _guard = no_grad();
        let zy = self.with_labels(z, labels)?;
        Ok(self.decoder.forward(&zy, &mut Ctx::eval())?.sigmoid())
    }

    /// `n` samples of digit `label` (`z` from the prior); without a label, [`Model::sample`].
    fn sample_labeled(&mut self, n: usize, label: Option<u8>, rng: &mut TensorRng) -> Result<Tensor> {
        match label {
            None => self.sample(n, rng),
            Some(l) => {
                let labels = vec![l; n];
                // Checked before drawing, so a bad label draws nothing.
                one_hot(&labels[..labels.len().min(1)], self.config.classes)?;
                let z = rng.randn(&[n, self.config.latent_dim]);
                self.decode_labeled(&z, &labels)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Activation;

    fn small() -> Cvae {
        let config = CvaeConfig {
            input_dim: 784,
            classes: 10,
            hidden: vec![32],
            latent_dim: 3,
            activation: Activation::Relu,
            beta: 1.0,
        };
        Cvae::new(config, &mut TensorRng::seed_from_u64(0)).unwrap()
    }

    #[test]
    fn one_hot_rows_and_range() {
        assert_eq!(one_hot(&[2, 0], 3).unwrap().to_vec(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        let e = one_hot(&[10], 10).unwrap_err().to_string();
        assert!(e.contains("label 10") && e.contains("0 to 9"), "{e}");
    }

    #[test]
    fn halves_read_the_label_and_plain_calls_are_refused() {
        let mut m = small();
        let mut shapes = Vec::new();
        m.visit_params("", &mut |n, t| shapes.push((n.to_string(), t.shape().to_vec())));
        assert_eq!(shapes[0], ("encoder.0.weight".to_string(), vec![32, 794]));
        assert!(shapes.contains(&("decoder.0.weight".to_string(), vec![32, 13])), "{shapes:?}");
        let x = Tensor::zeros(&[2, 784]);
        assert_eq!(m.encode_labeled(&x, &[1, 7]).unwrap().shape(), &[2, 3]);
        assert_eq!(m.reconstruct_labeled(&x, &[1, 7]).unwrap().shape(), &[2, 784]);
        assert!(m.encode_labeled(&x, &[1]).unwrap_err().to_string().contains("one label per row"));
        assert!(m.reconstruct(&x).unwrap_err().to_string().contains("without the digit labels"));
        assert!(m.sample_labeled(4, Some(12), &mut TensorRng::seed_from_u64(0)).is_err());
    }

    #[test]
    fn the_label_changes_the_sample_and_the_seed_fixes_it() {
        let mut m = small();
        let draw = |m: &mut Cvae, label| m.sample_labeled(4, Some(label), &mut TensorRng::seed_from_u64(5)).unwrap();
        let (three, three_again, eight) = (draw(&mut m, 3), draw(&mut m, 3), draw(&mut m, 8));
        assert_eq!(three.shape(), &[4, 784]);
        assert_eq!(three.to_vec(), three_again.to_vec());
        assert_ne!(three.to_vec(), eight.to_vec());
    }
}
