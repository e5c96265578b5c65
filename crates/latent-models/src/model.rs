//! The [`Model`] trait — what every model has — and the optional capabilities a caller asks a
//! model for: an [`Encoder`], a [`Decoder`], a [`Generator`] (samples from a prior), a
//! [`LikelihoodEstimate`] and [`ExampleScores`] (each example's reconstruction error, what
//! anomaly detection ranks by).
//!
//! # Design
//! - Every model has a configuration, a training objective and optimiser groups; everything
//!   else is a capability: `model.encoder()` is `Some` for the models that encode and `None`
//!   for a GAN, so a caller states what it needs and gets a clear refusal otherwise, instead of
//!   every model carrying methods that fail at run time.
//! - Conditioning by label is an argument, not a second set of methods: each capability takes
//!   `labels: Option<&[u8]>`. A conditional model ([`Model::classes`] is `Some`) needs them
//!   (sampling without them cycles through the labels); an unconditional one refuses them.
//! - Capabilities work in evaluation mode without recording a graph; the training objective is
//!   the only place a graph is built.

use std::collections::BTreeMap;

use latent_data::Batch;
use latent_nn::optim::clip_grad_norm;
use latent_nn::{Ctx, Module};
use latent_tensor::{Tensor, TensorRng};
use ndarray::Array2;

use crate::architecture::Architecture;
use crate::error::{ModelError, Result};
use crate::family::ModelConfig;
use crate::optimizers::{OptimizerGroup, Optimizers, StepContext, take_grads};
use crate::train::OptimizerSpec;

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

/// A trainable model: a [`Module`] (so optimisers and checkpoints see its parameters under
/// PyTorch names) with a configuration, an objective and optional capabilities.
pub trait Model: Module {
    /// The configuration that rebuilds it.
    fn config(&self) -> ModelConfig;

    /// The training objective on `batch` (its `input`, possibly corrupted, is encoded; its clean
    /// `images` are the target). In train mode the graph is recorded for `backward`.
    ///
    /// # Errors
    /// If the batch does not fit the model.
    fn objective(&mut self, batch: &Batch, ctx: &mut Ctx) -> Result<Objective>;

    /// The optimisers the model trains with, each over a group of its parameters. The default:
    /// one optimiser named `"model"` over every parameter, as `spec` says. A GAN has one per
    /// network.
    fn optimizer_groups(&self, spec: &OptimizerSpec) -> Vec<OptimizerGroup> {
        vec![OptimizerGroup::single(spec.clone())]
    }

    /// One training step on `batch` with the optimisers of [`Model::optimizer_groups`]; returns
    /// the batch's parts. The default: [`Model::objective`] in the training context,
    /// `backward`, clipping if asked, one step of the `"model"` optimiser. A GAN overrides it
    /// with its D and G steps.
    ///
    /// # Errors
    /// If the batch does not fit the model or a step fails.
    fn train_step(&mut self, batch: &Batch, optimizers: &mut Optimizers, step: &mut StepContext<'_>) -> Result<Parts> {
        objective_step(self, batch, optimizers, step)
    }

    /// The parts of [`Objective::parts`] that say how training goes, in the order a progress
    /// display shows them, each under its own name. The default is the objective, `["loss"]`;
    /// a GAN, whose `loss` is only its discriminator's, shows `["d_loss", "g_loss"]`.
    fn headline_parts(&self) -> &'static [&'static str] {
        &["loss"]
    }

    /// The number of labels the model is conditioned on, or `None` for an unconditional model.
    fn classes(&self) -> Option<usize> {
        None
    }

    /// The encoder, if the model has one (not a GAN).
    fn encoder(&mut self) -> Option<&mut dyn Encoder> {
        None
    }

    /// The decoder from codes to data, if the model has one (every autoencoder, VAE and GAN
    /// generator).
    fn decoder(&mut self) -> Option<&mut dyn Decoder> {
        None
    }

    /// The generator of new samples from a prior, if the model has one (VAEs and GANs, not
    /// plain autoencoders).
    fn generator(&mut self) -> Option<&mut dyn Generator> {
        None
    }

    /// An estimate of `log p(x)`, if the model defines one (the VAEs).
    fn likelihood(&mut self) -> Option<&mut dyn LikelihoodEstimate> {
        None
    }

    /// Per-example scores, if the model reconstructs its input (every autoencoder and VAE).
    fn example_scores(&mut self) -> Option<&mut dyn ExampleScores> {
        None
    }

    /// Its networks as data, for writers to other frameworks ([`crate::architecture`]), if the
    /// model describes itself (every built-in family does).
    fn architecture(&self) -> Option<Architecture> {
        None
    }
}

/// Maps data rows to codes.
pub trait Encoder {
    /// The code of each input row (`[N, input]` → `[N, latent]`; the posterior mean for a VAE),
    /// without recording a graph.
    ///
    /// # Errors
    /// If the input or labels do not fit the model.
    fn encode(&mut self, x: &Tensor, labels: Option<&[u8]>) -> Result<Tensor>;
}

/// Maps codes to data.
pub trait Decoder {
    /// The code size.
    fn latent_dim(&self) -> usize;

    /// The data-space output (probabilities for a Bernoulli output, in [0, 1] for a GAN) of
    /// codes `[N, latent]`, without recording a graph.
    ///
    /// # Errors
    /// If the codes or labels do not fit the model.
    fn decode(&mut self, z: &Tensor, labels: Option<&[u8]>) -> Result<Tensor>;
}

/// Draws new examples from the model's prior.
pub trait Generator {
    /// `n` samples from the prior, decoded. A conditional model draws `labels[i]` for row `i`
    /// (or, without labels, row `i` is label `i mod classes`).
    ///
    /// # Errors
    /// If the labels do not fit the model.
    fn sample(&mut self, n: usize, labels: Option<&[u8]>, rng: &mut TensorRng) -> Result<Tensor>;
}

/// Estimates of the data's log-likelihood.
pub trait LikelihoodEstimate {
    /// Per example: the importance-weighted estimate of `log p(x)` with `k` samples (Burda et
    /// al.), drawn `chunk` at a time.
    ///
    /// # Errors
    /// If `k` or `chunk` is 0 or the input does not fit.
    fn log_likelihood(
        &mut self,
        x: &Array2<f32>,
        labels: Option<&[u8]>,
        k: usize,
        chunk: usize,
        rng: &mut TensorRng,
    ) -> Result<Vec<f64>>;

    /// Per example: the evidence lower bound `E_q[log p(x|z)] − KL(q(z|x) ‖ p(z))` in nats (the
    /// negative of a VAE's loss with β = 1), its expectation over `z ~ q(z|x)` estimated with
    /// `samples` draws and the KL term in closed form.
    ///
    /// # Errors
    /// If `samples` is 0 or the input does not fit.
    fn elbo(&mut self, x: &Array2<f32>, labels: Option<&[u8]>, samples: usize, rng: &mut TensorRng)
    -> Result<Vec<f64>>;
}

/// Per-example scores of how well a model explains each example: what anomaly detection ranks
/// by (higher: explained worse).
pub trait ExampleScores {
    /// The reconstruction error of each row of `x` (`[N, input]`), decoded from its code (the
    /// posterior mean for a VAE), in the units the model trains in: binary cross-entropy summed
    /// over values for a Bernoulli likelihood (pixels), the squared error summed over values for
    /// a Gaussian one (real values, `--loss mse`). Computed without recording a graph.
    ///
    /// # Errors
    /// If the input or labels do not fit the model.
    fn reconstruction_error(&mut self, x: &Array2<f32>, labels: Option<&[u8]>) -> Result<Vec<f64>>;
}

/// The labels a conditional model is asked with: checked against `rows` and `classes` (every
/// label below `classes`); refused for an unconditional model; `None` for a conditional model
/// is an error naming `what`.
///
/// # Errors
/// As described.
pub fn check_labels<'a>(
    classes: Option<usize>,
    labels: Option<&'a [u8]>,
    rows: usize,
    what: &str,
) -> Result<Option<&'a [u8]>> {
    match (classes, labels) {
        (None, None) => Ok(None),
        (None, Some(_)) => {
            Err(ModelError::input("labels", format!("this model is not conditioned on labels; {what} takes none")))
        }
        (Some(_), None) => Err(ModelError::input("labels", format!("a conditional model needs labels to {what}"))),
        (Some(c), Some(l)) => {
            if l.len() != rows {
                return Err(ModelError::input(
                    "labels",
                    format!("expected one label per row ({rows}), found {} labels", l.len()),
                ));
            }
            if let Some(bad) = l.iter().find(|&&v| usize::from(v) >= c) {
                return Err(ModelError::input(
                    "label",
                    format!("label {bad} is out of range: this model knows labels 0 to {}", c.saturating_sub(1)),
                ));
            }
            Ok(Some(l))
        }
    }
}

/// The labels a sample of `n` rows draws: those given, or, for a conditional model without
/// labels, row `i` is label `i mod classes` (a balanced, reproducible mix).
pub fn sample_labels(classes: Option<usize>, labels: Option<&[u8]>, n: usize) -> Option<Vec<u8>> {
    match (classes, labels) {
        (_, Some(l)) => Some(l.to_vec()),
        (Some(c), None) => Some((0..n).map(|i| (i % c.max(1)) as u8).collect()),
        (None, None) => None,
    }
}

/// `decode(encode(x))`: the model's reconstruction of `x` in data space.
///
/// # Errors
/// [`ModelError::Unsupported`] if the model has no encoder or decoder; otherwise as they fail.
pub fn reconstruct(model: &mut dyn Model, x: &Tensor, labels: Option<&[u8]>) -> Result<Tensor> {
    // The configuration (a JSON round trip) is only built for the error.
    for (missing, what) in [
        (model.encoder().is_none(), "reconstruct (they have no encoder)"),
        (model.decoder().is_none(), "reconstruct (they have no decoder)"),
    ] {
        if missing {
            return Err(ModelError::Unsupported { model: model.config().kind().to_string(), what });
        }
    }
    let z = model.encoder().expect("checked above").encode(x, labels)?;
    model.decoder().expect("checked above").decode(&z, labels)
}

/// The steps of [`Model::train_step`]'s default and of every single-network model: the
/// objective, `backward`, the gradients by name, clipping, one step over every parameter.
///
/// # Errors
/// As [`Model::objective`], or if a gradient does not fit its parameter.
pub fn objective_step<M: Model + ?Sized>(
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

/// A constant tensor from a batch array (the data needs no gradient).
pub(crate) fn data_tensor(a: &Array2<f32>) -> Tensor {
    Tensor::new(a.clone())
}
