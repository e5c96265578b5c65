//! The training loop: [`Trainer`] trains a [`Model`] on MNIST-format data, one seeded epoch at a
//! time, and keeps its [`RunDir`] current.
//!
//! Each epoch: the batches of `(seed, epoch)` (so a resumed run sees the very batches the
//! uninterrupted run would have), one training step per batch ([`Model::train_step`]: for
//! most models one Adam step, optionally clipping the global gradient norm; for a GAN a D and a
//! G step with an Adam each), then the test set in eval mode, a metrics line, and a checkpoint
//! of the weights and the training state (every optimiser's moments included). Training data
//! are scaled as the model needs ([`ModelConfig::data_scale`]). A non-finite loss stops the run with
//! [`ModelError::NonFinite`] before anything is saved, so the last checkpoint stays good. When
//! the observer asks to stop (Ctrl-C), the loop stops after the current batch and saves a
//! checkpoint that resumes mid-epoch exactly.

use std::time::Instant;

use latent_data::{Batch, BatchConfig, Dataset, Mnist, NoiseSpec};
use latent_nn::{Ctx, TrainingState};
use latent_tensor::{TensorRng, no_grad};
use serde::{Deserialize, Serialize};

use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::metrics::EpochMetrics;
use crate::model::{Model, Parts, build_model};
use crate::optimizers::{Optimizers, StepContext};
use crate::run_dir::{RunConfig, RunDir};

/// How to train.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Epochs to train (in total, counting those before a resume).
    pub epochs: u64,
    /// Examples per batch.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// The seed of the weights, the batches and every random draw.
    pub seed: u64,
    /// Clip the global gradient norm to this, if set.
    #[serde(default)]
    pub clip_grad_norm: Option<f32>,
    /// Train on at most this many batches per epoch (quick runs and tests).
    #[serde(default)]
    pub limit_batches: Option<usize>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 10,
            batch_size: 128,
            learning_rate: 1e-3,
            seed: 1,
            clip_grad_norm: None,
            limit_batches: None,
        }
    }
}

impl TrainOptions {
    /// Check every field.
    ///
    /// # Errors
    /// On the first invalid field, named as its command-line flag.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(ModelError::config("--batch-size", "must be at least 1"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(ModelError::config("--lr", format!("must be a positive number, found {}", self.learning_rate)));
        }
        if let Some(c) = self.clip_grad_norm
            && !(c.is_finite() && c > 0.0)
        {
            return Err(ModelError::config("--clip-grad-norm", format!("must be a positive number, found {c}")));
        }
        if self.limit_batches == Some(0) {
            return Err(ModelError::config("--limit-batches", "must be at least 1"));
        }
        Ok(())
    }
}

/// Where training is, after each batch.
#[derive(Clone, Debug)]
pub struct BatchProgress {
    /// The epoch (from 1).
    pub epoch: u64,
    /// Epochs in the run.
    pub epochs: u64,
    /// Batches done in this epoch.
    pub batch: usize,
    /// Batches in this epoch.
    pub batches: usize,
    /// The epoch's loss per example so far.
    pub loss: f64,
    /// Examples in this batch.
    pub batch_examples: usize,
    /// This batch's loss per example.
    pub batch_loss: f64,
    /// Training examples per second so far in this epoch.
    pub samples_per_s: f64,
}

/// Hooks into the loop: progress display, pictures, Ctrl-C. Every method has a default that
/// does nothing.
pub trait TrainObserver {
    /// After each batch.
    fn batch_done(&mut self, _progress: &BatchProgress) {}

    /// After each epoch's metrics and checkpoint are written.
    ///
    /// # Errors
    /// Whatever the observer fails at (the run stops, its checkpoint is already saved).
    fn epoch_done(&mut self, _metrics: &EpochMetrics, _model: &mut dyn Model) -> Result<()> {
        Ok(())
    }

    /// Whether to stop after the current batch.
    fn should_stop(&self) -> bool {
        false
    }
}

/// An observer that does nothing.
pub struct Silent;

impl TrainObserver for Silent {}

/// How [`Trainer::fit`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainOutcome {
    /// Every epoch ran.
    Completed {
        /// Epochs done.
        epochs: u64,
    },
    /// The observer asked to stop; a resumable checkpoint was saved.
    Stopped {
        /// The epoch that was interrupted.
        epoch: u64,
        /// Batches of it done.
        batch: usize,
    },
}

/// Progress through an interrupted epoch, carried in the training state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct PartialEpoch {
    batches_done: usize,
    examples: usize,
    seconds: f64,
    sums: std::collections::BTreeMap<String, f64>,
}

/// Trains one model in one run directory.
pub struct Trainer {
    model: Box<dyn Model>,
    optimizers: Optimizers,
    run: RunDir,
    config: RunConfig,
    ctx: Ctx,
    epochs_done: u64,
    global_step: u64,
    partial: PartialEpoch,
}

/// The seed of the generator behind dropout and the VAE's sampling, derived from the run seed.
fn ctx_seed(seed: u64) -> u64 {
    seed ^ 0x9E37_79B9_7F4A_7C15
}

/// The noise a model's training inputs get.
fn input_noise(model: &ModelConfig) -> NoiseSpec {
    match model {
        ModelConfig::Autoencoder(c) => c.noise,
        ModelConfig::Vae(_) => NoiseSpec::None,
        ModelConfig::ConvAutoencoder(c) => c.noise,
        ModelConfig::ConvVae(_) | ModelConfig::Cvae(_) => NoiseSpec::None,
        ModelConfig::Gan(_) | ModelConfig::Cgan(_) | ModelConfig::Dcgan(_) => NoiseSpec::None,
    }
}

impl Trainer {
    /// Start a new run in `run` (whose config is written now) with fresh weights from the seed.
    ///
    /// # Errors
    /// If the configuration is invalid or the config cannot be written.
    pub fn new(run: RunDir, config: RunConfig) -> Result<Self> {
        config.train.validate()?;
        let model = build_model(&config.model, &mut TensorRng::seed_from_u64(config.train.seed))?;
        let optimizers = Optimizers::new(model.optimizer_groups(config.train.learning_rate))?;
        run.write_config(&config)?;
        let ctx = Ctx::train(TensorRng::seed_from_u64(ctx_seed(config.train.seed)));
        Ok(Trainer {
            model,
            optimizers,
            run,
            config,
            ctx,
            epochs_done: 0,
            global_step: 0,
            partial: PartialEpoch::default(),
        })
    }

    /// Continue the run in `run` from its last checkpoint; `epochs`, if given, replaces the
    /// total number of epochs.
    ///
    /// # Errors
    /// If the run is missing files, they are inconsistent, or they do not fit the model.
    pub fn resume(run: RunDir, epochs: Option<u64>) -> Result<Self> {
        let (model, mut config) = run.load_model()?;
        let state = run.load_state()?;
        if let Some(e) = epochs {
            config.train.epochs = e;
            run.write_config(&config)?;
        }
        let mut optimizers = Optimizers::new(model.optimizer_groups(config.train.learning_rate))?;
        optimizers
            .load_states(state.optimizers.clone(), &*model)
            .map_err(|e| ModelError::Run { path: run.file(crate::run_dir::STATE_FILE), message: e.to_string() })?;
        let rng = state.rngs.get("ctx").copied().ok_or_else(|| ModelError::Run {
            path: run.path().to_path_buf(),
            message: "the training state has no `ctx` generator".into(),
        })?;
        let partial: PartialEpoch = if state.extra.is_null() {
            PartialEpoch::default()
        } else {
            serde_json::from_value(state.extra.clone())
                .map_err(|source| ModelError::Json { path: run.file(crate::run_dir::STATE_FILE), source })?
        };
        run.truncate_metrics(state.epoch)?;
        Ok(Trainer {
            model,
            optimizers,
            run,
            config,
            ctx: Ctx::train(TensorRng::from_state(rng)),
            epochs_done: state.epoch,
            global_step: state.global_step,
            partial,
        })
    }

    /// The model being trained.
    pub fn model_mut(&mut self) -> &mut dyn Model {
        &mut *self.model
    }

    /// The run's configuration.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The run directory.
    pub fn run_dir(&self) -> &RunDir {
        &self.run
    }

    /// Epochs completed so far.
    pub fn epochs_done(&self) -> u64 {
        self.epochs_done
    }

    fn batch_config(&self) -> BatchConfig {
        BatchConfig::new(self.config.train.batch_size)
            .seed(self.config.train.seed)
            .noise(input_noise(&self.config.model))
            .scale(self.config.model.data_scale())
    }

    /// Save the weights and everything needed to continue exactly.
    ///
    /// # Errors
    /// If the files cannot be written.
    pub fn checkpoint(&self) -> Result<()> {
        let state = TrainingState {
            epoch: self.epochs_done,
            global_step: self.global_step,
            rngs: [("ctx".to_string(), self.ctx.rng_state())].into(),
            optimizers: self.optimizers.states(),
            extra: if self.partial.batches_done == 0 {
                serde_json::Value::Null
            } else {
                serde_json::to_value(&self.partial).expect("plain data serialises")
            },
        };
        self.run.save_checkpoint(&*self.model, &self.config, &state)
    }

    /// One training step on `batch` (the model's own: one optimiser step for most models, a D
    /// and a G step for a GAN); returns its loss parts.
    fn step(&mut self, batch: &Batch) -> Result<Parts> {
        let mut step = StepContext {
            ctx: &mut self.ctx,
            step: self.global_step,
            clip_grad_norm: self.config.train.clip_grad_norm,
        };
        self.model.train_step(batch, &mut self.optimizers, &mut step)
    }

    /// Train until the configured number of epochs is done or the observer asks to stop.
    ///
    /// # Errors
    /// On a non-finite loss, a failed write, or an observer's error.
    pub fn fit(&mut self, data: &Mnist, observer: &mut dyn TrainObserver) -> Result<TrainOutcome> {
        let bcfg = self.batch_config();
        let epochs = self.config.train.epochs;
        while self.epochs_done < epochs {
            let epoch = self.epochs_done + 1;
            let all = data.train.batches(&bcfg, epoch)?;
            let batches = self.config.train.limit_batches.map_or(all.len(), |l| l.min(all.len()));
            let skip = self.partial.batches_done;
            let mut sums = Parts(std::mem::take(&mut self.partial.sums));
            let (mut examples, seconds_before) = (self.partial.examples, self.partial.seconds);
            let start = Instant::now();
            for (i, batch) in all.enumerate().take(batches).skip(skip) {
                let parts = self.step(&batch)?;
                let loss = parts.get("loss").unwrap_or(f64::NAN);
                if !loss.is_finite() {
                    return Err(ModelError::NonFinite {
                        epoch,
                        batch: i + 1,
                        value: loss,
                        last_good: self.epochs_done,
                    });
                }
                sums.add(&parts);
                examples += batch.len();
                self.global_step += 1;
                let seconds = seconds_before + start.elapsed().as_secs_f64();
                observer.batch_done(&BatchProgress {
                    epoch,
                    epochs,
                    batch: i + 1,
                    batches,
                    loss: sums.get("loss").unwrap_or(0.0) / examples as f64,
                    batch_examples: batch.len(),
                    batch_loss: loss / batch.len() as f64,
                    samples_per_s: examples as f64 / seconds.max(1e-9),
                });
                if observer.should_stop() && i + 1 < batches {
                    self.partial = PartialEpoch { batches_done: i + 1, examples, seconds, sums: sums.0 };
                    self.checkpoint()?;
                    return Ok(TrainOutcome::Stopped { epoch, batch: i + 1 });
                }
            }
            let train_seconds = seconds_before + start.elapsed().as_secs_f64();
            let test_start = Instant::now();
            let test = evaluate(&mut *self.model, &data.test, &bcfg, self.config.train.seed ^ epoch)?;
            let metrics = EpochMetrics {
                epoch,
                train: sums.per_example(examples),
                test,
                samples_per_s: examples as f64 / train_seconds.max(1e-9),
                train_seconds,
                test_seconds: test_start.elapsed().as_secs_f64(),
                learning_rate: self.optimizers.learning_rate(),
                global_step: self.global_step,
            };
            self.epochs_done = epoch;
            self.partial = PartialEpoch::default();
            self.run.append_metrics(&metrics)?;
            self.checkpoint()?;
            observer.epoch_done(&metrics, &mut *self.model)?;
            if observer.should_stop() && self.epochs_done < epochs {
                return Ok(TrainOutcome::Stopped { epoch, batch: batches });
            }
        }
        Ok(TrainOutcome::Completed { epochs: self.epochs_done })
    }
}

/// The model's objective on every example of `data`, in eval mode and without a graph, per
/// example. Inputs are corrupted as in training (a denoising model's test loss is its training
/// objective); the draws come from `seed`, so the figure is reproducible.
///
/// # Errors
/// If a batch does not fit the model.
pub fn evaluate(
    model: &mut dyn Model,
    data: &Dataset,
    batches: &BatchConfig,
    seed: u64,
) -> Result<std::collections::BTreeMap<String, f64>> {
    let _guard = no_grad();
    let cfg = (*batches).shuffle(false).seed(seed);
    let mut ctx = Ctx::eval();
    *ctx.rng() = TensorRng::seed_from_u64(seed);
    let mut sums = Parts::default();
    for batch in data.batches(&cfg, 0)? {
        sums.add(&model.objective(&batch, &mut ctx)?.parts);
    }
    Ok(sums.per_example(data.len()))
}
