//! The models of latent and the loop that trains them: the autoencoder family (vanilla,
//! under/overcomplete, denoising, sparse, contractive; MLP or convolutional), the Gaussian VAE
//! (MLP or convolutional, optionally conditional, β-VAE), the GANs (MLP, conditional, DCGAN),
//! a classifier, and the 8-3-8 identity network.
//!
//! # Design
//! - A model is a [`Model`]: a [`latent_nn::Module`] (so optimisers and checkpoints see its
//!   parameters under PyTorch names) with a configuration, a training objective on a batch
//!   ([`Model::objective`]: the loss to differentiate, summed over the batch, and its named
//!   parts), optimiser groups, and optional capabilities a caller asks for and gets `None` when
//!   absent: [`Encoder`], [`Decoder`], [`Generator`], [`LikelihoodEstimate`]; conditioning by
//!   label is an `Option<&[u8]>` argument of each ([`Model::classes`] says whether it is needed).
//! - A model family is one file under [`families`]: its configuration type implements
//!   [`FamilyConfig`] (kind, validation, what it needs from the data, the flags it accepts, its
//!   presets, how it is built). The family-neutral [`ModelConfig`] (kind + fields, plain JSON)
//!   travels in `config.json` and the checkpoint's metadata; a [`Registry`] of families builds
//!   and describes configurations, and the CLI, `eval` and the presets all derive from it.
//! - One [`Trainer`] trains every model, the classifier and the 8-3-8 network: seeded batches
//!   per epoch, the optimiser and learning-rate schedule per parameter group
//!   ([`train::OptimizerSpec`]), an optional seeded validation split with early stopping,
//!   test-set evaluation, [`metrics`], and — for a run kept on disk — checkpoints in a
//!   [`RunDir`] after every epoch and on request, with everything needed to resume exactly.
//!   Observers (the CLI's progress bar and pictures) hook in through [`TrainObserver`]; the loop
//!   itself prints nothing.
//!
//! # Example
//! Build a preset's model and compute its training objective on a batch (here eight synthetic
//! 28x28 images; [`Trainer`] runs this for every batch of a data set, with optimiser steps,
//! evaluation, metrics and checkpoints).
//! ```
//! use latent_data::{BatchConfig, Dataset};
//! use latent_models::{Model, build_model, presets};
//! use latent_nn::Ctx;
//! use latent_tensor::TensorRng;
//!
//! let preset = presets::preset("vae", None)?; // pytorch/examples' VAE: 784-400-20
//! let mut model = build_model(&preset.config, &mut TensorRng::seed_from_u64(1))?;
//! let pixels: Vec<u8> = (0..8 * 784).map(|i| (i * 37 % 256) as u8).collect();
//! let data = Dataset::new(pixels, vec![0; 8], 28, 28)?;
//! let batch = data.batches(&BatchConfig::new(8), 0)?.next().expect("one batch");
//! let objective = model.objective(&batch, &mut Ctx::train(TensorRng::seed_from_u64(2)))?;
//! assert!(objective.loss.item()?.is_finite());
//! assert!(!objective.loss.backward()?.is_empty()); // gradients for the parameters
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Who owns what
//! - [`family`]: [`FamilyConfig`], [`Family`], [`Registry`], [`ModelConfig`], [`ModelFlags`],
//!   [`Preset`].
//! - [`families`]: the built-in families, one file each.
//! - [`model`]: the [`Model`] trait, its capabilities, [`Objective`] and [`Parts`].
//! - [`architecture`]: a model's networks as data (sub-modules and inference graphs), for
//!   exports to other frameworks.
//! - [`blocks`]: trunks, the Gaussian posterior, label conditioning — shared by families.
//! - [`config`]: the vocabulary configurations share (activations, likelihoods, validators).
//! - [`presets`]: every built-in preset, gathered from the families.
//! - [`optimizers`]: a run's named optimisers and the [`StepContext`] of a training step.
//! - [`train`]: the training loop, its options and observer.
//! - [`run_dir`]: the files of a run and how they are written and read back.
//! - [`metrics`]: per-epoch records (JSON lines).
//! - [`memory`]: memory estimates of models, training and requests, checked against a limit
//!   before anything is allocated.
//! - [`classifier`]: the MNIST digit classifier that judges generated digits (class balance,
//!   confidence, distance to the nearest training digit).
//! - [`identity`]: the 8-3-8 network of the textbook figure.
//! - [`error`]: [`ModelError`], naming the field, file or epoch concerned.
//!
//! # Example: a model family of your own
//! ```
//! use latent_data::{Batch, Dataset, Scale};
//! use latent_losses::{Reduction, mse_loss};
//! use latent_models::train::{Silent, TrainOptions, Trainer};
//! use latent_models::{Description, FamilyConfig, FamilyOf, Model, ModelConfig, ModelFlags, Objective, Parts, Preset, Registry};
//! use latent_nn::layers::Linear;
//! use latent_nn::{Ctx, Layer, Module};
//! use latent_tensor::{Tensor, TensorRng};
//! use serde::{Deserialize, Serialize};
//!
//! /// A linear autoencoder (PCA's cousin): one file is all a family needs.
//! #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
//! struct LinearAeConfig { input_dim: usize, latent_dim: usize }
//!
//! #[derive(Module)]
//! struct LinearAe {
//!     #[module(skip)]
//!     config: LinearAeConfig,
//!     encoder: Linear,
//!     decoder: Linear,
//! }
//!
//! impl Model for LinearAe {
//!     fn config(&self) -> ModelConfig { ModelConfig::new(&self.config) }
//!     fn objective(&mut self, batch: &Batch, ctx: &mut Ctx) -> latent_models::Result<Objective> {
//!         let x = Tensor::new(batch.input().clone());
//!         let z = self.encoder.forward(&x, ctx)?;
//!         let loss = mse_loss(&self.decoder.forward(&z, ctx)?, &Tensor::new(batch.images.clone()), Reduction::Sum)?;
//!         let mut parts = Parts::default();
//!         parts.set("loss", f64::from(loss.item()?));
//!         Ok(Objective { loss, parts })
//!     }
//! }
//!
//! impl FamilyConfig for LinearAeConfig {
//!     const KINDS: &'static [&'static str] = &["linear_ae"];
//!     fn flags(_model: &str) -> &'static [&'static str] { &["latent-dim"] }
//!     fn validate(&self) -> latent_models::Result<()> { Ok(()) }
//!     fn describe(&self) -> Description {
//!         Description { kind: "linear_ae".into(), input_dim: self.input_dim, latent_dim: self.latent_dim,
//!                       scale: Scale::ZeroOne, noise: Default::default(), classes: None }
//!     }
//!     fn apply_flags(&mut self, flags: &ModelFlags) -> latent_models::Result<()> {
//!         if let Some(shape) = flags.data_shape { self.input_dim = shape.iter().product(); }
//!         if let Some(l) = flags.get("latent-dim")? { self.latent_dim = l; }
//!         Ok(())
//!     }
//!     fn presets() -> Vec<Preset> {
//!         vec![Preset { model: "linear-ae", name: "default", summary: "D-2-D, linear",
//!                       config: ModelConfig::new(&LinearAeConfig { input_dim: 4, latent_dim: 2 }),
//!                       train: TrainOptions::default() }]
//!     }
//!     fn build(&self, rng: &mut TensorRng) -> latent_models::Result<Box<dyn Model>> {
//!         Ok(Box::new(LinearAe {
//!             config: self.clone(),
//!             encoder: Linear::new(self.input_dim, self.latent_dim, rng)?,
//!             decoder: Linear::new(self.latent_dim, self.input_dim, rng)?,
//!         }))
//!     }
//! }
//!
//! static LINEAR_AE: FamilyOf<LinearAeConfig> = FamilyOf::NEW;
//! let registry = Registry::builtin().with(&LINEAR_AE).unwrap();
//! let mut preset = registry.preset("linear-ae", None).unwrap();
//! let flags = ModelFlags::new().for_data([1, 1, 4], None).with("latent-dim", "1");
//! registry.apply_flags("linear-ae", &mut preset.config, &flags).unwrap();
//! let model = registry.build(&preset.config, &mut TensorRng::seed_from_u64(1)).unwrap();
//! let data = Dataset::new((0..64u8).map(|i| i * 3).collect(), vec![0; 16], 1, 4).unwrap();
//! let options = TrainOptions { epochs: 3, batch_size: 4, learning_rate: 1e-2, ..TrainOptions::default() };
//! let mut trainer = Trainer::in_memory(model, registry.describe(&preset.config).unwrap(), options).unwrap();
//! trainer.fit(&data, &data, &mut Silent).unwrap();
//! let losses: Vec<f64> = trainer.history().iter().map(|m| m.test["loss"]).collect();
//! assert!(losses[2] < losses[0], "{losses:?}");
//! ```

pub mod architecture;
pub mod blocks;
pub mod classifier;
pub mod config;
pub mod error;
pub mod families;
pub mod family;
pub mod identity;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod optimizers;
pub mod presets;
pub mod run_dir;
pub mod train;

pub use architecture::Architecture;
pub use config::{Activation, Likelihood};
pub use error::{ModelError, Result};
pub use families::autoencoder::{Autoencoder, AutoencoderConfig, Regularizer};
pub use families::classifier::{Classifier, ClassifierConfig};
pub use families::dcgan::DcganConfig;
pub use families::gan::{Gan, GanConfig, GanTraining};
pub use families::vae::{Vae, VaeConfig};
pub use family::{Description, Family, FamilyConfig, FamilyOf, ModelConfig, ModelFlags, Preset, Registry, build_model};
pub use metrics::EpochMetrics;
pub use model::{Decoder, Encoder, ExampleScores, Generator, LikelihoodEstimate, Model, Objective, Parts, reconstruct};
pub use optimizers::{OptimizerGroup, OptimizerKind, OptimizerSpec, Optimizers, StepContext};
pub use run_dir::RunDir;
pub use train::{TrainObserver, TrainOptions, TrainOutcome, Trainer};
// The README's example is compiled and run with the doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
