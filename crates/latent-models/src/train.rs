//! The training loop: one [`Trainer`] for every model, the digit classifier and the 8-3-8
//! network alike, with or without a run directory.
//!
//! Each epoch: the batches of `(seed, epoch)` (so a resumed run sees the very batches the
//! uninterrupted run would have), each group's learning rate from its schedule, one training
//! step per batch ([`Model::train_step`]: for most models one optimiser step, optionally
//! clipping the global gradient norm; for a GAN a D and a G step), then the validation split
//! (when asked for) and the test set in eval mode, a metrics record, and — for a run with a
//! [`RunDir`] — a metrics line and a checkpoint of the weights and the training state (every
//! optimiser's state included). Training data are scaled as the model needs
//! ([`Description::scale`]) and corrupted as it asks ([`Description::noise`]).
//!
//! - A non-finite loss stops the run with [`ModelError::NonFinite`] before anything is saved,
//!   so the last checkpoint stays good.
//! - When the observer asks to stop (Ctrl-C, or a goal reached), the loop stops after the
//!   current batch and saves a checkpoint that resumes mid-epoch exactly.
//! - `val_fraction` holds out a seeded part of the training set ([`Dataset::split`]) whose loss
//!   is reported each epoch; `early_stop` ends the run when that loss has not improved for that
//!   many epochs ([`TrainOutcome::EarlyStopped`]).
//! - The optimiser is chosen per run ([`TrainOptions::optimizer`], Adam by default) and may be
//!   changed per group by the model ([`Model::optimizer_groups`]: a GAN's Adam betas).

use std::collections::BTreeMap;
use std::time::Instant;

use latent_data::{Batch, BatchConfig, Dataset};
use latent_nn::optim::LrSchedule;
use latent_nn::{Ctx, TrainingState};
use latent_tensor::{TensorRng, no_grad};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::family::{Description, Registry};
use crate::memory::{self, Footprint};
use crate::metrics::EpochMetrics;
use crate::model::{Model, Parts};
pub use crate::optimizers::{OptimizerKind, OptimizerSpec};
use crate::optimizers::{Optimizers, StepContext};
use crate::run_dir::{RunConfig, RunDir};

/// How to train.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Epochs to train (in total, counting those before a resume).
    pub epochs: u64,
    /// Examples per batch.
    pub batch_size: usize,
    /// The base learning rate.
    pub learning_rate: f64,
    /// The seed of the weights, the batches and every random draw.
    pub seed: u64,
    /// Clip the global gradient norm to this, if set.
    #[serde(default)]
    pub clip_grad_norm: Option<f32>,
    /// Train on at most this many batches per epoch (quick runs and tests).
    #[serde(default)]
    pub limit_batches: Option<usize>,
    /// The update rule (Adam by default).
    #[serde(default)]
    pub optimizer: OptimizerKind,
    /// Momentum for SGD and RMSprop (0 by default, as PyTorch).
    #[serde(default)]
    pub momentum: f64,
    /// The learning rate over epochs.
    #[serde(default = "constant_schedule")]
    pub lr_schedule: LrSchedule,
    /// The fraction of the training set held out as a validation split (0: none).
    #[serde(default)]
    pub val_fraction: f64,
    /// Stop when the validation loss has not improved for this many epochs.
    #[serde(default)]
    pub early_stop: Option<u64>,
}

fn constant_schedule() -> LrSchedule {
    LrSchedule::Constant
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
            optimizer: OptimizerKind::Adam,
            momentum: 0.0,
            lr_schedule: LrSchedule::Constant,
            val_fraction: 0.0,
            early_stop: None,
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
        if self.epochs > MAX_EPOCHS {
            return Err(ModelError::config("--epochs", format!("must be at most {MAX_EPOCHS}, found {}", self.epochs)));
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
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err(ModelError::config("--momentum", format!("must be in [0, 1), found {}", self.momentum)));
        }
        if self.momentum != 0.0 && self.optimizer == OptimizerKind::Adam {
            return Err(ModelError::config(
                "--momentum",
                "applies to sgd and rmsprop, not adam (whose betas play that part)",
            ));
        }
        if !(self.val_fraction.is_finite() && (0.0..1.0).contains(&self.val_fraction)) {
            return Err(ModelError::config(
                "--val-fraction",
                format!("must be in [0, 1) (0: no validation split), found {}", self.val_fraction),
            ));
        }
        match self.early_stop {
            Some(0) => return Err(ModelError::config("--early-stop", "the patience must be at least 1 epoch")),
            Some(_) if self.val_fraction == 0.0 => {
                return Err(ModelError::config(
                    "--early-stop",
                    "watches the validation loss: give --val-fraction too (e.g. --val-fraction 0.1)",
                ));
            }
            _ => {}
        }
        check_schedule(&self.lr_schedule)
    }

    /// The run's optimiser spec (before a model adjusts it per group).
    pub fn optimizer_spec(&self) -> OptimizerSpec {
        OptimizerSpec {
            kind: self.optimizer,
            learning_rate: self.learning_rate,
            betas: OptimizerSpec::adam(0.0).betas,
            momentum: self.momentum,
            schedule: self.lr_schedule,
        }
    }
}

fn check_schedule(s: &LrSchedule) -> Result<()> {
    let bad = match *s {
        LrSchedule::Constant => None,
        LrSchedule::Step { step_size, gamma } => {
            (step_size == 0 || !(gamma.is_finite() && gamma > 0.0)).then(|| format!("step:{step_size}:{gamma}"))
        }
        LrSchedule::Exponential { gamma } => (!(gamma.is_finite() && gamma > 0.0)).then(|| format!("exp:{gamma}")),
        LrSchedule::Cosine { t_max, eta_min } => {
            (t_max == 0 || !(eta_min.is_finite() && eta_min >= 0.0)).then(|| format!("cosine over {t_max} epochs"))
        }
        LrSchedule::Warmup { epochs } => (epochs == 0).then(|| "warmup:0".to_string()),
    };
    match bad {
        Some(text) => Err(ModelError::config("--lr-schedule", format!("`{text}` has a zero or non-positive part"))),
        None => Ok(()),
    }
}

/// Read a `--lr-schedule`: `constant`, `step:N:G` (×G every N epochs), `exp:G`, `cosine` (to 0
/// over `epochs`), `cosine:T` (half-period T epochs) or `warmup:N` (linear over N epochs).
///
/// ```
/// use latent_models::train::parse_schedule;
/// use latent_nn::optim::LrSchedule;
/// assert_eq!(parse_schedule("step:5:0.5", 20).unwrap(), LrSchedule::Step { step_size: 5, gamma: 0.5 });
/// assert_eq!(parse_schedule("cosine", 20).unwrap(), LrSchedule::Cosine { t_max: 20, eta_min: 0.0 });
/// assert!(parse_schedule("step:x", 20).is_err());
/// ```
///
/// # Errors
/// If the text is none of these; the message lists the forms.
pub fn parse_schedule(text: &str, epochs: u64) -> Result<LrSchedule> {
    let bad = || {
        ModelError::config(
            "--lr-schedule",
            format!("`{text}` is not a schedule; use constant, step:N:G, exp:G, cosine, cosine:T or warmup:N"),
        )
    };
    let parts: Vec<&str> = text.trim().split(':').collect();
    let schedule = match parts.as_slice() {
        ["constant"] => LrSchedule::Constant,
        ["step", n, g] => {
            LrSchedule::Step { step_size: n.parse().map_err(|_| bad())?, gamma: g.parse().map_err(|_| bad())? }
        }
        ["exp", g] => LrSchedule::Exponential { gamma: g.parse().map_err(|_| bad())? },
        ["cosine"] => LrSchedule::Cosine { t_max: epochs.max(1), eta_min: 0.0 },
        ["cosine", t] => LrSchedule::Cosine { t_max: t.parse().map_err(|_| bad())?, eta_min: 0.0 },
        ["warmup", n] => LrSchedule::Warmup { epochs: n.parse().map_err(|_| bad())? },
        _ => return Err(bad()),
    };
    check_schedule(&schedule)?;
    Ok(schedule)
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
    /// This batch's [`Model::headline_parts`] per example, by name (`[("loss", ..)]` for most
    /// models, `[("d_loss", ..), ("g_loss", ..)]` for a GAN), for a display to label.
    pub batch_parts: Vec<(&'static str, f64)>,
    /// Training examples per second so far in this epoch.
    pub samples_per_s: f64,
}

/// Hooks into the loop: progress display, pictures, Ctrl-C, goals. Every method has a default
/// that does nothing.
pub trait TrainObserver {
    /// After each batch.
    fn batch_done(&mut self, _progress: &BatchProgress) {}

    /// After each epoch's metrics (and, with a run directory, its checkpoint) are written.
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
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TrainOutcome {
    /// Every epoch asked for is done.
    Completed {
        /// Epochs done in total.
        epochs: u64,
    },
    /// The observer asked to stop; a checkpoint was saved.
    Stopped {
        /// The epoch stopped in.
        epoch: u64,
        /// Batches done in that epoch.
        batch: usize,
    },
    /// The validation loss did not improve for `early_stop` epochs.
    EarlyStopped {
        /// Epochs done.
        epochs: u64,
        /// The epoch with the lowest validation loss.
        best_epoch: u64,
        /// That loss, per example.
        best_val_loss: f64,
    },
}

/// The part of an epoch done before a mid-epoch stop, kept in the training state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct PartialEpoch {
    batches_done: usize,
    examples: usize,
    seconds: f64,
    sums: BTreeMap<String, f64>,
}

/// The best validation loss so far, kept in the training state for early stopping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Best {
    epoch: u64,
    val_loss: f64,
}

/// What the training state's `extra` field holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Extra {
    #[serde(flatten)]
    partial: PartialEpoch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    best: Option<Best>,
}

/// A run's files and configuration, for a trainer that keeps a run directory.
struct Persist {
    dir: RunDir,
    config: RunConfig,
}

/// Trains a model, one seeded epoch at a time (see the module docs).
///
/// ```
/// use latent_data::Dataset;
/// use latent_models::train::{Silent, TrainOptions, TrainOutcome, Trainer};
/// use latent_models::{ModelFlags, Registry};
/// use latent_tensor::TensorRng;
///
/// // 64 tiny 2×2 "images" and a small autoencoder shaped by the data (4 values per example).
/// let data = Dataset::new((0..256).map(|i| (i * 37 % 256) as u8).collect(), vec![0; 64], 2, 2).unwrap();
/// let registry = Registry::builtin();
/// let mut preset = registry.preset("ae", Some("shallow")).unwrap();
/// let flags = ModelFlags::new().for_data([1, 2, 2], None).with("latent-dim", "2");
/// registry.apply_flags("ae", &mut preset.config, &flags).unwrap();
/// let model = registry.build(&preset.config, &mut TensorRng::seed_from_u64(1)).unwrap();
/// let options = TrainOptions { epochs: 2, batch_size: 16, ..TrainOptions::default() };
/// let mut trainer = Trainer::in_memory(model, registry.describe(&preset.config).unwrap(), options).unwrap();
/// let outcome = trainer.fit(&data, &data, &mut Silent).unwrap();
/// assert_eq!(outcome, TrainOutcome::Completed { epochs: 2 });
/// assert!(trainer.history()[1].test["loss"] < trainer.history()[0].test["loss"] * 1.5);
/// ```
pub struct Trainer {
    model: Box<dyn Model>,
    description: Description,
    options: TrainOptions,
    optimizers: Optimizers,
    persist: Option<Persist>,
    ctx: Ctx,
    epochs_done: u64,
    global_step: u64,
    partial: PartialEpoch,
    best: Option<Best>,
    history: Vec<EpochMetrics>,
    footprint: Footprint,
}

/// More epochs than any run can have done (a training state claiming more is corrupt).
const MAX_EPOCHS: u64 = 1 << 40;

/// The dropout/noise generator's seed: its own stream of the run's seed.
fn ctx_seed(seed: u64) -> u64 {
    seed ^ 0x9E37_79B9_7F4A_7C15
}

impl Trainer {
    /// A fresh run of `config` in `run` (whose `config.json` is written now), with the models
    /// of `registry`.
    ///
    /// # Errors
    /// If the options or model configuration are invalid, or the directory cannot be written.
    pub fn with_registry(run: RunDir, config: RunConfig, registry: &Registry) -> Result<Self> {
        config.train.validate()?;
        let footprint = registry.footprint(&config.model)?;
        let model = registry.build(&config.model, &mut TensorRng::seed_from_u64(config.train.seed))?;
        let description = registry.describe(&config.model)?;
        let mut trainer = Trainer::assemble(model, description, config.train.clone(), footprint)?;
        run.write_config(&config)?;
        trainer.persist = Some(Persist { dir: run, config });
        // The initial weights are a checkpoint too (epoch 0): a run that fails or is killed in
        // its first epoch, or asked for 0 epochs, can still be resumed or evaluated.
        trainer.checkpoint()?;
        Ok(trainer)
    }

    /// A fresh run of `config` in `run` with latent's built-in models.
    ///
    /// # Errors
    /// As [`Trainer::with_registry`].
    pub fn new(run: RunDir, config: RunConfig) -> Result<Self> {
        Trainer::with_registry(run, config, &Registry::builtin())
    }

    /// A trainer of `model` that keeps nothing on disk: its metrics are in
    /// [`Trainer::history`] and the observer's hands. `description` says what the model needs
    /// from its data ([`Registry::describe`] gives it for a configuration).
    ///
    /// # Errors
    /// If the options are invalid.
    pub fn in_memory(model: Box<dyn Model>, description: Description, options: TrainOptions) -> Result<Self> {
        options.validate()?;
        // A built-in family counts its layers; another is estimated from its description.
        let footprint = Registry::builtin()
            .footprint(&model.config())
            .unwrap_or_else(|_| Footprint::from_description(&description));
        Trainer::assemble(model, description, options, footprint)
    }

    fn assemble(
        model: Box<dyn Model>,
        description: Description,
        options: TrainOptions,
        footprint: Footprint,
    ) -> Result<Self> {
        let optimizers = Optimizers::new(model.optimizer_groups(&options.optimizer_spec()))?;
        let ctx = Ctx::train(TensorRng::seed_from_u64(ctx_seed(options.seed)));
        Ok(Trainer {
            model,
            description,
            options,
            optimizers,
            persist: None,
            ctx,
            epochs_done: 0,
            global_step: 0,
            partial: PartialEpoch::default(),
            best: None,
            history: Vec::new(),
            footprint,
        })
    }

    /// Continue the run in `run` from its last checkpoint, optionally to a new number of epochs.
    ///
    /// # Errors
    /// If the run's files are missing, inconsistent or corrupt.
    pub fn resume(run: RunDir, epochs: Option<u64>) -> Result<Self> {
        let (model, mut config) = run.load_model()?;
        let state = run.load_state()?;
        if let Some(e) = epochs {
            config.train.epochs = e;
            run.write_config(&config)?;
        }
        config
            .train
            .validate()
            .map_err(|e| ModelError::Run { path: run.file(crate::run_dir::CONFIG_FILE), message: e.to_string() })?;
        let description = config.model.describe()?;
        let footprint = config.model.footprint()?;
        let mut trainer = Trainer::assemble(model, description, config.train.clone(), footprint)?;
        trainer
            .optimizers
            .load_states(state.optimizers.clone(), &*trainer.model)
            .map_err(|e| ModelError::Run { path: run.file(crate::run_dir::STATE_FILE), message: e.to_string() })?;
        let rng = state.rngs.get("ctx").copied().ok_or_else(|| ModelError::Run {
            path: run.path().to_path_buf(),
            message: "the training state has no `ctx` generator".into(),
        })?;
        let extra: Extra = if state.extra.is_null() {
            Extra::default()
        } else {
            serde_json::from_value(state.extra.clone())
                .map_err(|source| ModelError::Json { path: run.file(crate::run_dir::STATE_FILE), source })?
        };
        if state.epoch > MAX_EPOCHS {
            return Err(ModelError::Run {
                path: run.file(crate::run_dir::STATE_FILE),
                message: format!("claims {} epochs done, which no run of latent reaches", state.epoch),
            });
        }
        // Every epoch done, and every batch of the epoch under way, took at least one optimiser
        // step: a state claiming more than its steps allow does not describe this run.
        let claimed = u64::try_from(extra.partial.batches_done).ok().and_then(|b| b.checked_add(state.epoch));
        if claimed.is_none_or(|c| c > state.global_step) {
            return Err(ModelError::Run {
                path: run.file(crate::run_dir::STATE_FILE),
                message: format!(
                    "claims {} epochs and {} batches of the next done in only {} optimiser steps; the state is corrupt or belongs to another run",
                    state.epoch, extra.partial.batches_done, state.global_step
                ),
            });
        }
        if let Some(parameter) = first_non_finite(&*trainer.model) {
            return Err(ModelError::Run {
                path: run.file(crate::run_dir::MODEL_FILE),
                message: format!("`{parameter}` holds a NaN or an infinity; these weights cannot be trained further"),
            });
        }
        run.truncate_metrics(state.epoch)?;
        trainer.ctx = Ctx::train(TensorRng::from_state(rng));
        trainer.epochs_done = state.epoch;
        trainer.global_step = state.global_step;
        trainer.partial = extra.partial;
        trainer.best = extra.best;
        trainer.persist = Some(Persist { dir: run, config });
        Ok(trainer)
    }

    /// The model being trained.
    pub fn model_mut(&mut self) -> &mut dyn Model {
        &mut *self.model
    }

    /// The model, handed over (after training).
    pub fn into_model(self) -> Box<dyn Model> {
        self.model
    }

    /// The run's configuration (for a trainer with a run directory).
    ///
    /// # Panics
    /// For an in-memory trainer, which has none.
    pub fn config(&self) -> &RunConfig {
        &self.persist.as_ref().expect("a trainer with a run directory").config
    }

    /// The run directory (for a trainer with one).
    ///
    /// # Panics
    /// For an in-memory trainer, which has none.
    pub fn run_dir(&self) -> &RunDir {
        &self.persist.as_ref().expect("a trainer with a run directory").dir
    }

    /// The training options.
    pub fn options(&self) -> &TrainOptions {
        &self.options
    }

    /// What the model needs from its data.
    pub fn description(&self) -> &Description {
        &self.description
    }

    /// Epochs completed.
    pub fn epochs_done(&self) -> u64 {
        self.epochs_done
    }

    /// The metrics of the epochs this trainer ran (not those before a resume).
    pub fn history(&self) -> &[EpochMetrics] {
        &self.history
    }

    /// The batching of training data: the run's batch size and seed, the model's scale and
    /// input noise.
    pub fn batch_config(&self) -> BatchConfig {
        BatchConfig::new(self.options.batch_size)
            .seed(self.options.seed)
            .noise(self.description.noise)
            .scale(self.description.scale)
    }

    /// Save the weights and the training state now (for a trainer with a run directory;
    /// nothing to do otherwise).
    ///
    /// # Errors
    /// If a file cannot be written.
    pub fn checkpoint(&self) -> Result<()> {
        let Some(persist) = &self.persist else { return Ok(()) };
        let extra = Extra { partial: self.partial.clone(), best: self.best };
        let state = TrainingState {
            epoch: self.epochs_done,
            global_step: self.global_step,
            rngs: [("ctx".to_string(), self.ctx.rng_state())].into(),
            optimizers: self.optimizers.states(),
            extra: if self.partial.batches_done == 0 && self.best.is_none() {
                serde_json::Value::Null
            } else {
                serde_json::to_value(&extra).expect("plain data serialises")
            },
        };
        persist.dir.save_checkpoint(&*self.model, &persist.config, &state)
    }

    fn step(&mut self, batch: &Batch) -> Result<Parts> {
        let mut step =
            StepContext { ctx: &mut self.ctx, step: self.global_step, clip_grad_norm: self.options.clip_grad_norm };
        self.model.train_step(batch, &mut self.optimizers, &mut step)
    }

    /// Train until the run's epochs are done, the observer asks to stop, or early stopping
    /// ends it. `test` is evaluated after every epoch; with `val_fraction`, a seeded part of
    /// `train` is held out and evaluated too.
    ///
    /// # Errors
    /// On a non-finite loss, a batch the model cannot take, or a failed save.
    pub fn fit(&mut self, train: &Dataset, test: &Dataset, observer: &mut dyn TrainObserver) -> Result<TrainOutcome> {
        if train.is_empty() {
            return Err(ModelError::input("training data", "has no examples: nothing to train on"));
        }
        if test.is_empty() {
            return Err(ModelError::input("test data", "has no examples: nothing to evaluate on"));
        }
        // Training memory (gradients, optimiser state, a batch's activations) is checked against
        // the limit before the first step allocates it.
        let f = self.footprint;
        memory::check(
            || {
                format!(
                    "training a {} model of {} parameters on batches of {} examples",
                    self.description.kind,
                    f.parameters,
                    self.options.batch_size.min(train.len())
                )
            },
            memory::training_need(&f, &self.options, train.len()),
        )?;
        let split;
        let (train, val) = if self.options.val_fraction > 0.0 {
            split = train.split(self.options.val_fraction, self.options.seed)?;
            (&split.0, Some(&split.1))
        } else {
            (train, None)
        };
        let bcfg = self.batch_config();
        let epochs = self.options.epochs;
        let headline = self.model.headline_parts();
        // A run that stopped early (and is resumed) has no patience left: it stays stopped.
        if let (Some(best), Some(patience)) = (self.best, self.options.early_stop)
            && self.epochs_done >= best.epoch + patience
            && self.epochs_done < epochs
        {
            return Ok(TrainOutcome::EarlyStopped {
                epochs: self.epochs_done,
                best_epoch: best.epoch,
                best_val_loss: best.val_loss,
            });
        }
        // The pool's other workers poll for work while training runs, instead of sleeping
        // between the step's kernels and being woken for each (5–11% more samples/s at two
        // threads; see `keep_workers_warm`).
        let _warm = latent_tensor::threads::keep_workers_warm();
        while self.epochs_done < epochs {
            let epoch = self.epochs_done + 1;
            self.optimizers.start_epoch(epoch);
            let all = train.batches(&bcfg, epoch)?;
            let batches = self.options.limit_batches.map_or(all.len(), |l| l.min(all.len()));
            let skip = self.partial.batches_done;
            if skip >= batches {
                return Err(ModelError::config(
                    "training state",
                    format!(
                        "says {skip} batches of epoch {epoch} are done, but the epoch has {batches}; the state does not belong to this run or data"
                    ),
                ));
            }
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
                    batch_parts: headline
                        .iter()
                        .map(|&name| (name, parts.get(name).unwrap_or(f64::NAN) / batch.len() as f64))
                        .collect(),
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
            let val = match val {
                Some(v) => Some(evaluate(&mut *self.model, v, &bcfg, self.options.seed ^ epoch ^ 0x5A5A)?),
                None => None,
            };
            let test = evaluate(&mut *self.model, test, &bcfg, test_seed(self.options.seed, epoch))?;
            let metrics = EpochMetrics {
                epoch,
                train: sums.per_example(examples),
                val: val.clone(),
                test,
                samples_per_s: examples as f64 / train_seconds.max(1e-9),
                train_seconds,
                test_seconds: test_start.elapsed().as_secs_f64(),
                learning_rate: self.optimizers.learning_rate(),
                global_step: self.global_step,
            };
            if !metrics.test.get("loss").is_none_or(|v| v.is_finite()) || !metrics.train.values().all(|v| v.is_finite())
            {
                return Err(ModelError::NonFinite {
                    epoch,
                    batch: batches,
                    value: metrics.test.get("loss").copied().unwrap_or(f64::NAN),
                    last_good: self.epochs_done,
                });
            }
            if let Some(parameter) = first_non_finite(&*self.model) {
                return Err(ModelError::NonFiniteWeights { epoch, parameter, last_good: self.epochs_done });
            }
            self.epochs_done = epoch;
            self.partial = PartialEpoch::default();
            let early = self.update_best(epoch, val.as_ref());
            if let Some(persist) = &self.persist {
                persist.dir.append_metrics(&metrics)?;
            }
            self.checkpoint()?;
            self.history.push(metrics.clone());
            observer.epoch_done(&metrics, &mut *self.model)?;
            if let Some(outcome) = early {
                return Ok(outcome);
            }
            if observer.should_stop() && self.epochs_done < epochs {
                return Ok(TrainOutcome::Stopped { epoch, batch: batches });
            }
        }
        Ok(TrainOutcome::Completed { epochs: self.epochs_done })
    }

    /// Track the best validation loss; the early-stopping outcome when patience runs out.
    fn update_best(&mut self, epoch: u64, val: Option<&BTreeMap<String, f64>>) -> Option<TrainOutcome> {
        let loss = val?.get("loss").copied()?;
        match self.best {
            Some(b) if b.val_loss <= loss => {}
            _ => self.best = Some(Best { epoch, val_loss: loss }),
        }
        let best = self.best?;
        let patience = self.options.early_stop?;
        (epoch - best.epoch >= patience && epoch < self.options.epochs).then_some(TrainOutcome::EarlyStopped {
            epochs: epoch,
            best_epoch: best.epoch,
            best_val_loss: best.val_loss,
        })
    }
}

/// The name of the first parameter or buffer of `model` holding a NaN or an infinity.
pub fn first_non_finite(model: &dyn Model) -> Option<String> {
    let mut found = None;
    model.visit_params("", &mut |name, t| {
        if found.is_none() && t.view().iter().any(|v| !v.is_finite()) {
            found = Some(name.to_string());
        }
    });
    model.visit_buffers("", &mut |name, b| {
        if found.is_none()
            && let latent_nn::Buffer::F32(a) = b
            && a.iter().any(|v| !v.is_finite())
        {
            found = Some(name.to_string());
        }
    });
    found
}

/// The seed of the test pass at the end of epoch `epoch` of a run seeded `seed`: the draws of
/// the objective (a VAE's `z`, a GAN's fakes) on the test set. `latent eval` of the checkpoint
/// of that epoch uses it too, so it reports the very figures the run recorded.
pub fn test_seed(seed: u64, epoch: u64) -> u64 {
    seed ^ epoch
}

/// The model's objective on every example of `data` in eval mode, per example, with the
/// objective's random draws (a VAE's `z`) seeded by `seed`.
///
/// # Errors
/// If a batch does not fit the model.
pub fn evaluate(
    model: &mut dyn Model,
    data: &Dataset,
    batches: &BatchConfig,
    seed: u64,
) -> Result<BTreeMap<String, f64>> {
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
