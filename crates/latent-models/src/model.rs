//! The [`Model`] trait: a module that knows its objective and what it can show.

use std::collections::BTreeMap;

use latent_data::Batch;
use latent_nn::optim::{AdamConfig, clip_grad_norm};
use latent_nn::{Ctx, Module};
use latent_tensor::{Tensor, TensorRng};

use crate::autoencoder::Autoencoder;
use crate::config::ModelConfig;
use crate::conv::{ConvAutoencoder, ConvVae};
use crate::cvae::Cvae;
use crate::error::{ModelError, Result};
use crate::gan::Gan;
use crate::optimizers::{OptimizerGroup, Optimizers, StepContext, take_grads};
use crate::vae::Vae;

/// Named loss parts, each summed over the examples of a batch (or an epoch): `"loss"` is the
/// objective; the others are its terms (`"recon"`, `"kl"`, `"penalty"`, ...).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parts(pub BTreeMap<String, f64>);

impl Parts {
    /// Record `value` under `name`.
    pub fn set(&mut self, name: &str, value: f64) {
        self.0.insert(name.to_string(), value);
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied()
    }

    /// Add another batch's parts into these.
    pub fn add(&mut self, other: &Parts) {
        for (k, v) in &other.0 {
            *self.0.entry(k.clone()).or_insert(0.0) += v;
        }
    }

    /// Every part divided by `n` (sums to per-example means).
    pub fn per_example(&self, n: usize) -> BTreeMap<String, f64> {
        self.0.iter().map(|(k, v)| (k.clone(), v / n.max(1) as f64)).collect()
    }
}

/// A batch's objective: the scalar to differentiate (summed over the batch, as PyTorch's
/// `reduction="sum"` in the reference scripts) and its parts as numbers.
pub struct Objective {
    /// The loss, a one-element tensor.
    pub loss: Tensor,
    /// The loss and its terms, summed over the batch.
    pub parts: Parts,
}

/// A trainable model of the family.
pub trait Model: Module {
    /// The configuration that rebuilds it.
    fn config(&self) -> ModelConfig;

    /// The training objective on `batch` (its `input`, possibly corrupted, is encoded; its clean
    /// `images` are the target). In train mode the graph is recorded for `backward`.
    ///
    /// # Errors
    /// If the batch does not fit the model.
    fn objective(&mut self, batch: &Batch, ctx: &mut Ctx) -> Result<Objective>;

    /// The code of each input row (`[N, input]` → `[N, latent]`; the mean for a VAE).
    ///
    /// # Errors
    /// If the input does not fit the model.
    fn encode(&mut self, x: &Tensor) -> Result<Tensor>;

    /// The reconstruction in data space (probabilities for a Bernoulli output) of codes
    /// `[N, latent]`.
    ///
    /// # Errors
    /// If the codes do not fit the model.
    fn decode(&mut self, z: &Tensor) -> Result<Tensor>;

    /// `decode(encode(x))`.
    ///
    /// # Errors
    /// If the input does not fit the model.
    fn reconstruct(&mut self, x: &Tensor) -> Result<Tensor> {
        let z = self.encode(x)?;
        self.decode(&z)
    }

    /// `n` samples from the model's prior, decoded; only generative models can.
    ///
    /// # Errors
    /// [`ModelError::Unsupported`] for models without a prior.
    fn sample(&mut self, _n: usize, _rng: &mut TensorRng) -> Result<Tensor> {
        Err(ModelError::Unsupported { model: self.config().kind(), what: "sample (they have no prior)" })
    }

    /// Whether [`Model::sample`] works.
    fn is_generative(&self) -> bool {
        false
    }

    /// Whether the model is conditioned on the digit label (a conditional VAE): its
    /// `*_labeled` methods use the labels, and its plain [`Model::encode`] and
    /// [`Model::decode`] refuse to guess them.
    fn is_conditional(&self) -> bool {
        false
    }

    /// [`Model::encode`] of inputs with their labels (one per row); unconditional models ignore
    /// the labels.
    ///
    /// # Errors
    /// If the input or labels do not fit the model.
    fn encode_labeled(&mut self, x: &Tensor, _labels: &[u8]) -> Result<Tensor> {
        self.encode(x)
    }

    /// [`Model::decode`] of codes with the labels to draw (one per row); unconditional models
    /// ignore the labels.
    ///
    /// # Errors
    /// If the codes or labels do not fit the model.
    fn decode_labeled(&mut self, z: &Tensor, _labels: &[u8]) -> Result<Tensor> {
        self.decode(z)
    }

    /// `decode_labeled(encode_labeled(x, labels), labels)`.
    ///
    /// # Errors
    /// If the input or labels do not fit the model.
    fn reconstruct_labeled(&mut self, x: &Tensor, labels: &[u8]) -> Result<Tensor> {
        let z = self.encode_labeled(x, labels)?;
        self.decode_labeled(&z, labels)
    }

    /// `n` samples of digit `label` from a conditional model; with `None`, [`Model::sample`].
    ///
    /// # Errors
    /// [`ModelError::Unsupported`] for a label and an unconditional model; as
    /// [`Model::sample`] otherwise.
    fn sample_labeled(&mut self, n: usize, label: Option<u8>, rng: &mut TensorRng) -> Result<Tensor> {
        match label {
            None => self.sample(n, rng),
            Some(_) => Err(ModelError::Unsupported {
                model: self.config().kind(),
                what: "sample a chosen digit (they are not conditioned on labels)",
            }),
        }
    }

    /// The optimisers the model trains with, each over a group of its parameters. The default:
    /// one Adam named `"model"` over every parameter with `learning_rate` and PyTorch's betas. A
    /// GAN has one per network.
    fn optimizer_groups(&self, learning_rate: f64) -> Vec<OptimizerGroup> {
        vec![OptimizerGroup::single(AdamConfig::adam(learning_rate))]
    }

    /// One training step on `batch` with the optimisers of [`Model::optimizer_groups`]; returns
    /// the batch's parts. The default: [`Model::objective`] in the training context,
    /// `backward`, clipping if asked, and one step of the `"model"` optimiser. A GAN overrides
    /// it with its D and G steps.
    ///
    /// # Errors
    /// If the batch does not fit the model or a step fails.
    fn train_step(&mut self, batch: &Batch, optimizers: &mut Optimizers, step: &mut StepContext<'_>) -> Result<Parts> {
        objective_step(self, batch, optimizers, step)
    }
}

/// The steps of [`Model::train_step`]'s default and of every single-network model: the
/// objective, `backward`, the gradients by name, clipping, one Adam step over every parameter.
///
/// # Errors
/// As [`Model::objective`], or if a gradient does not fit its parameter.
fn objective_step<M: Model + ?Sized>(
    model: &mut M,
    batch: &Batch,
    optimizers: &mut Optimizers,
    step: &mut StepContext<'_>,
) -> Result<Parts> {
    let objective = model.objective(batch, step.ctx)?;
    let mut grads = objective.loss.backward()?;
    drop(objective.loss);
    let mut named = take_grads(model, &mut grads);
    if let Some(max) = step.clip_grad_norm {
        clip_grad_norm(&mut named, max)?;
    }
    optimizers.step(crate::optimizers::SINGLE, model, &named)?;
    Ok(objective.parts)
}

/// Build the model a configuration describes, with fresh weights drawn from `rng`.
///
/// # Errors
/// If the configuration is invalid.
pub fn build_model(config: &ModelConfig, rng: &mut TensorRng) -> Result<Box<dyn Model>> {
    config.validate()?;
    Ok(match config {
        ModelConfig::Autoencoder(c) => Box::new(Autoencoder::new(c.clone(), rng)?),
        ModelConfig::Vae(c) => Box::new(Vae::new(c.clone(), rng)?),
        ModelConfig::ConvAutoencoder(c) => Box::new(ConvAutoencoder::new(c.clone(), rng)?),
        ModelConfig::ConvVae(c) => Box::new(ConvVae::new(c.clone(), rng)?),
        ModelConfig::Cvae(c) => Box::new(Cvae::new(c.clone(), rng)?),
        ModelConfig::Gan(c) | ModelConfig::Cgan(c) => Box::new(Gan::mlp(c.clone(), rng)?),
        ModelConfig::Dcgan(c) => Box::new(Gan::dcgan(c.clone(), rng)?),
    })
}

/// A constant tensor from a batch array (the data needs no gradient).
pub(crate) fn data_tensor(a: &ndarray::Array2<f32>) -> Tensor {
    Tensor::new(a.clone())
}
