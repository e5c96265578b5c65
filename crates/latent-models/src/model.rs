//! The [`Model`] trait: a module that knows its objective and what it can show.

use std::collections::BTreeMap;

use latent_data::Batch;
use latent_nn::{Ctx, Module};
use latent_tensor::{Tensor, TensorRng};

use crate::autoencoder::Autoencoder;
use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
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
    })
}

/// A constant tensor from a batch array (the data needs no gradient).
pub(crate) fn data_tensor(a: &ndarray::Array2<f32>) -> Tensor {
    Tensor::new(a.clone())
}
