//! The models of latent and the loop that trains them: the autoencoder family (vanilla,
//! under/overcomplete, denoising, sparse, contractive), the variational autoencoder, and the
//! 8-3-8 identity network.
//!
//! # Design
//! - A model is a [`Model`]: a [`latent_nn::Module`] (so optimisers and checkpoints see its
//!   parameters under PyTorch names) that also knows its training objective on a batch
//!   ([`Model::objective`]: the loss to differentiate, summed over the batch, and its named parts)
//!   and what it can show (reconstructions, codes, samples).
//! - A model is rebuilt from its [`ModelConfig`], plain serialisable data that travels in the
//!   checkpoint's metadata and in the run directory. The autoencoder family is one type,
//!   [`Autoencoder`], whose config chooses the widths, the code activation, the likelihood of
//!   the output (Bernoulli on logits or Gaussian), a [`Regularizer`] (L1 or KL sparsity,
//!   contractive) and whether inputs are corrupted (denoising): one mechanism, not five models.
//!   [`Vae`] is the Gaussian-encoder, Bernoulli-decoder VAE with a β on the KL term.
//! - Named [`presets`] give the architectures users ask for (`ae`, `dae`, `sparse`,
//!   `contractive`, `overcomplete`, `vae` = pytorch/examples, ...) with training defaults.
//! - [`train`] owns the loop: seeded batches per epoch, optimiser steps, test-set evaluation,
//!   [`metrics`] lines, and checkpoints in a [`RunDir`] after every epoch and on request, with
//!   everything needed to resume exactly. Observers (the CLI's progress bar and pictures) hook
//!   in through [`TrainObserver`]; the loop itself prints nothing.
//! - A model trains with one or more named optimisers ([`Model::optimizer_groups`], one Adam
//!   over everything by default, one per network for a GAN) and takes its own steps
//!   ([`Model::train_step`]: by default objective, backward, clip, step; a GAN's D and G steps),
//!   so the loop does not assume one network.
//!
//! # Who owns what
//! - [`config`]: model configurations and their validation.
//! - [`presets`]: the named configurations.
//! - [`model`]: the [`Model`] trait and [`Objective`].
//! - [`mlp`]: stacks of Linear layers and activations, as layer specs.
//! - [`autoencoder`], [`vae`], [`identity`]: the models.
//! - [`conv`]: the convolutional autoencoder and VAE; [`cvae`]: the conditional VAE.
//! - [`gan`]: the GANs (MLP, conditional, DCGAN) and their adversarial step; [`dcgan`]: the
//!   DCGAN's architecture.
//! - [`optimizers`]: a run's named optimisers and the [`StepContext`] of a training step.
//! - [`train`]: the training loop, its options and observer.
//! - [`run_dir`]: the files of a run and how they are written and read back.
//! - [`metrics`]: per-epoch records (JSON lines).
//! - [`classifier`]: the MNIST digit classifier that judges generated digits (class balance,
//!   confidence, distance to the nearest training digit).
//! - [`error`]: [`ModelError`], naming the field, file or epoch concerned.

pub mod autoencoder;
pub mod classifier;
pub mod config;
pub mod conv;
pub mod cvae;
pub mod dcgan;
pub mod error;
pub mod gan;
pub mod identity;
pub mod metrics;
pub mod mlp;
pub mod model;
pub mod optimizers;
pub mod presets;
pub mod run_dir;
pub mod train;
pub mod vae;

pub use autoencoder::Autoencoder;
pub use config::{
    Activation, AutoencoderConfig, ConvAutoencoderConfig, ConvVaeConfig, CvaeConfig, Likelihood, ModelConfig,
    Regularizer, VaeConfig,
};
pub use conv::{ConvAutoencoder, ConvVae};
pub use cvae::Cvae;
pub use dcgan::DcganConfig;
pub use error::{ModelError, Result};
pub use gan::{Gan, GanConfig, GanTraining};
pub use metrics::EpochMetrics;
pub use model::{Model, Objective, Parts, build_model};
pub use optimizers::{OptimizerGroup, Optimizers, StepContext};
pub use run_dir::RunDir;
pub use train::{TrainObserver, TrainOptions, TrainOutcome, Trainer};
pub use vae::Vae;

// The README's example is compiled and run with the doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
