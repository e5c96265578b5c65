//! A run directory: every file of one training run, written atomically, read back checked.
//!
//! | file | what |
//! | --- | --- |
//! | `config.json` | [`RunConfig`]: the model, the training options, the data used |
//! | `model.safetensors` | the weights (PyTorch names), with the run config and step in the metadata |
//! | `training_state.safetensors` | optimiser moments, generator states, epoch and position, for `--resume` |
//! | `metrics.jsonl` | one [`EpochMetrics`] per line |
//! | `*.png`, `*.npy` | pictures and arrays the command writes |
//!
//! The weights and the training state each carry the global step; resuming refuses a pair whose
//! steps differ (a crash between the two writes), so a resumed run is always exact.

use std::fs;
use std::path::{Path, PathBuf};

use latent_nn::TrainingState;
use latent_nn::checkpoint::{load_checkpoint, read_config, save_checkpoint};
use latent_tensor::TensorRng;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::family::{ModelConfig, build_model};
use crate::metrics::EpochMetrics;
use crate::model::Model;
use crate::train::TrainOptions;
use latent_data::{Data, DataSpec, LoadOptions};

/// The configuration file's name.
pub const CONFIG_FILE: &str = "config.json";
/// The weights' file name.
pub const MODEL_FILE: &str = "model.safetensors";
/// The training state's file name.
pub const STATE_FILE: &str = "training_state.safetensors";
/// Where a checkpoint's new training state is written before it replaces [`STATE_FILE`].
pub const NEXT_STATE_FILE: &str = "training_state.next.safetensors";
/// Where a checkpoint's new weights are written before they replace [`MODEL_FILE`].
pub const NEXT_MODEL_FILE: &str = "model.next.safetensors";
/// The metrics file's name.
pub const METRICS_FILE: &str = "metrics.jsonl";

/// Where the training data came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// `mnist`, `mnist-sample`, `fashion-mnist`, or the directory given.
    pub name: String,
    /// The directory read (empty for the built-in sample).
    pub dir: String,
    /// Training examples.
    pub train_examples: usize,
    /// Test examples.
    pub test_examples: usize,
    /// How the data was read and prepared (format, test fraction, classes kept), so that it
    /// can be read again the same way. Absent in runs of MNIST-format directories.
    #[serde(default, skip_serializing_if = "is_default_load")]
    pub load: LoadOptions,
    /// The description of the data: shape, value kind, class names, and the statistics real
    /// values were standardised with. Runs made before it was recorded trained on MNIST-format
    /// digits ([`DataInfo::spec_or_mnist`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<DataSpec>,
}

fn is_default_load(options: &LoadOptions) -> bool {
    *options == LoadOptions::default()
}

impl DataInfo {
    /// What a run records about `data`, read from `dir` (empty for the built-in sample) with
    /// `load`.
    pub fn new(data: &Data, dir: String, load: LoadOptions) -> Self {
        DataInfo {
            name: data.source.name(),
            dir,
            train_examples: data.train.len(),
            test_examples: data.test.len(),
            load,
            spec: Some(data.spec().clone()),
        }
    }

    /// The recorded spec, or MNIST's for runs that predate it.
    pub fn spec_or_mnist(&self) -> DataSpec {
        self.spec.clone().unwrap_or_else(DataSpec::mnist)
    }
}

/// Everything that defines a run: enough to rebuild its model and continue its training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The model family and preset it started from (`vae/pytorch-examples`).
    pub preset: String,
    /// The model.
    pub model: ModelConfig,
    /// The training options.
    pub train: TrainOptions,
    /// The data it was trained on.
    pub data: DataInfo,
}

/// What the weights file's metadata holds.
#[derive(Serialize, Deserialize)]
struct CheckpointMeta {
    run: RunConfig,
    global_step: u64,
}

/// The directory of one run.
#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Prepare `root` for a new run, creating it if needed. It must not already hold a run
    /// unless `overwrite`, in which case the old run's files are removed.
    ///
    /// # Errors
    /// If the directory holds a run (and not `overwrite`) or cannot be created.
    pub fn create(root: impl Into<PathBuf>, overwrite: bool) -> Result<Self> {
        let root = root.into();
        let run = RunDir { root };
        if run.file(CONFIG_FILE).exists() {
            if !overwrite {
                return Err(ModelError::Run {
                    path: run.root.clone(),
                    message: "already holds a run; continue it with --resume, or choose another --out (or --force to replace it)".into(),
                });
            }
            for name in [CONFIG_FILE, MODEL_FILE, STATE_FILE, METRICS_FILE] {
                let _ = fs::remove_file(run.file(name));
            }
        }
        fs::create_dir_all(&run.root).map_err(|source| ModelError::Io { path: run.root.clone(), source })?;
        Ok(run)
    }

    /// Open an existing run: it must have a config and weights.
    ///
    /// # Errors
    /// If the directory or either file is missing.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let run = RunDir { root: root.into() };
        if !run.root.is_dir() {
            return Err(ModelError::Run { path: run.root.clone(), message: "no such directory".into() });
        }
        for name in [CONFIG_FILE, MODEL_FILE] {
            if !run.file(name).is_file() {
                return Err(ModelError::Run {
                    path: run.root.clone(),
                    message: format!("has no {name}; is it a run directory written by `latent train`?"),
                });
            }
        }
        Ok(run)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// A file in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Write `config.json`.
    ///
    /// # Errors
    /// If it cannot be written.
    pub fn write_config(&self, config: &RunConfig) -> Result<()> {
        let path = self.file(CONFIG_FILE);
        let mut text =
            serde_json::to_string_pretty(config).map_err(|source| ModelError::Json { path: path.clone(), source })?;
        text.push('\n');
        latent_fsio::write_bytes(&path, text.as_bytes())?;
        Ok(())
    }

    /// Read `config.json`.
    ///
    /// # Errors
    /// If it is missing or malformed (the message names the file and the field).
    pub fn read_config(&self) -> Result<RunConfig> {
        let path = self.file(CONFIG_FILE);
        let text = fs::read_to_string(&path).map_err(|source| ModelError::Io { path: path.clone(), source })?;
        serde_json::from_str(&text).map_err(|source| ModelError::Json { path, source })
    }

    /// Save the weights and the training state (each atomically), stamped with `state`'s step.
    ///
    /// # Errors
    /// If either file cannot be written.
    ///
    /// The pair is replaced as a unit: both new files are written completely beside the old
    /// ones (`*.next.safetensors`), then the weights and the state are renamed into place in
    /// that order. Until the first rename the previous pair is untouched; after it, the complete
    /// new state waits beside the new weights and [`RunDir::recover`] finishes the save. So a
    /// full disk or a kill at any moment leaves a consistent pair to resume from.
    pub fn save_checkpoint(&self, model: &dyn Model, config: &RunConfig, state: &TrainingState) -> Result<()> {
        let (next_state, next_model) = (self.file(NEXT_STATE_FILE), self.file(NEXT_MODEL_FILE));
        let meta = CheckpointMeta { run: config.clone(), global_step: state.global_step };
        let result = (|| -> Result<()> {
            fault::at(fault::Step::WriteState)?;
            state.save(&next_state)?;
            fault::at(fault::Step::WriteModel)?;
            save_checkpoint(&next_model, model, &meta)?;
            fault::at(fault::Step::RenameModel)?;
            rename(&next_model, &self.file(MODEL_FILE))?;
            fault::at(fault::Step::RenameState)?;
            rename(&next_state, &self.file(STATE_FILE))?;
            fault::at(fault::Step::Done)
        })();
        if result.is_err() && !fault::is_crash() {
            if next_model.exists() {
                // The new weights never replaced the old: the previous pair stands; the new
                // files go.
                let _ = fs::remove_file(&next_model);
                let _ = fs::remove_file(&next_state);
            } else {
                // The new weights are in place: finish with the new state (or leave that to the
                // next `load_state`, which rolls the save forward).
                let _ = self.recover();
            }
        }
        result
    }

    /// Rebuild the model from the config and load its weights.
    ///
    /// # Errors
    /// If the config or the weights are missing, malformed or do not match each other, or the
    /// config asks for a model larger than the memory limit ([`crate::memory`]; the error names
    /// `config.json`).
    pub fn load_model(&self) -> Result<(Box<dyn Model>, RunConfig)> {
        let config = self.read_config()?;
        let mut model = build_model(&config.model, &mut TensorRng::seed_from_u64(0)).map_err(|e| match e {
            // Say which file asked for so large a model.
            ModelError::Memory { .. } => ModelError::Run { path: self.file(CONFIG_FILE), message: e.to_string() },
            e => e,
        })?;
        load_checkpoint(self.file(MODEL_FILE), &mut *model)?;
        Ok((model, config))
    }

    /// The training state saved with the weights, checked to belong to them.
    ///
    /// # Errors
    /// If the state file is missing or malformed, or its step differs from the weights'.
    pub fn load_state(&self) -> Result<TrainingState> {
        self.recover()?;
        let path = self.file(STATE_FILE);
        if !path.is_file() {
            return Err(ModelError::Run { path, message: "is missing: this run cannot be resumed".into() });
        }
        let state = TrainingState::load(&path)?;
        let meta: CheckpointMeta = read_config(self.file(MODEL_FILE))?;
        if meta.global_step != state.global_step {
            return Err(ModelError::Run {
                path: self.root.clone(),
                message: format!(
                    "the weights are from step {} but the training state from step {}, and no complete save can be recovered",
                    meta.global_step, state.global_step
                ),
            });
        }
        Ok(state)
    }

    /// The epoch the saved weights end (0 for the initial weights), read from the training
    /// state without changing the directory. `None` when the state is missing, unreadable, or
    /// from another step than the weights (a save under way or interrupted, which
    /// [`RunDir::load_state`] finishes).
    pub fn checkpoint_epoch(&self) -> Option<u64> {
        let state = TrainingState::load(self.file(STATE_FILE)).ok()?;
        let meta: CheckpointMeta = read_config(self.file(MODEL_FILE)).ok()?;
        (meta.global_step == state.global_step).then_some(state.epoch)
    }

    /// Finish or undo an interrupted [`RunDir::save_checkpoint`]: the weights and the state are
    /// replaced as a pair. If the process died after the new weights were renamed into place
    /// but before the new state was, the complete new state (`training_state.next.safetensors`,
    /// whose step matches the weights) is renamed in; any other leftover of a save is removed,
    /// so the previous pair stands.
    ///
    /// # Errors
    /// If a leftover cannot be renamed or removed.
    pub fn recover(&self) -> Result<()> {
        let (next_state, next_model) = (self.file(NEXT_STATE_FILE), self.file(NEXT_MODEL_FILE));
        if next_state.is_file() && !next_model.exists() {
            let weights_step = read_config::<CheckpointMeta>(self.file(MODEL_FILE)).ok().map(|m| m.global_step);
            let next_step = TrainingState::load(&next_state).ok().map(|s| s.global_step);
            if weights_step.is_some() && weights_step == next_step {
                return rename(&next_state, &self.file(STATE_FILE));
            }
        }
        for leftover in [next_model, next_state] {
            if leftover.exists() {
                fs::remove_file(&leftover).map_err(|source| ModelError::Io { path: leftover.clone(), source })?;
            }
        }
        Ok(())
    }

    /// Append one epoch's metrics to `metrics.jsonl`.
    ///
    /// The file is rewritten whole, atomically (it holds one short line per epoch), so a crash
    /// mid-write leaves the previous lines intact rather than a torn last line.
    ///
    /// # Errors
    /// If the file cannot be read or written.
    pub fn append_metrics(&self, m: &EpochMetrics) -> Result<()> {
        let path = self.file(METRICS_FILE);
        let line = serde_json::to_string(m).map_err(|source| ModelError::Json { path: path.clone(), source })?;
        let mut text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(ModelError::Io { path, source }),
        };
        if text.last().is_some_and(|&b| b != b'\n') {
            text.push(b'\n');
        }
        text.extend_from_slice(line.as_bytes());
        text.push(b'\n');
        latent_fsio::write_bytes(&path, &text)?;
        Ok(())
    }

    /// Every epoch's metrics so far (none if the file does not exist yet).
    ///
    /// # Errors
    /// If the file cannot be read or a line is malformed.
    pub fn read_metrics(&self) -> Result<Vec<EpochMetrics>> {
        let path = self.file(METRICS_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(ModelError::Io { path, source }),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|source| ModelError::Json { path: path.clone(), source }))
            .collect()
    }

    /// Keep only the metrics of epochs up to `epoch` (lines written after the checkpoint a run
    /// resumes from are dropped).
    ///
    /// # Errors
    /// If the file cannot be read or written.
    pub fn truncate_metrics(&self, epoch: u64) -> Result<()> {
        let kept: Vec<EpochMetrics> = self.read_metrics()?.into_iter().filter(|m| m.epoch <= epoch).collect();
        let path = self.file(METRICS_FILE);
        let mut text = String::new();
        for m in &kept {
            text.push_str(&serde_json::to_string(m).map_err(|source| ModelError::Json { path: path.clone(), source })?);
            text.push('\n');
        }
        latent_fsio::write_bytes(&path, text.as_bytes())?;
        Ok(())
    }
}

/// Rename `from` over `to` and make the rename durable (the directory is synced).
fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(|source| ModelError::Io { path: to.to_path_buf(), source })?;
    #[cfg(unix)]
    if let Some(dir) = to.parent() {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| ModelError::Io { path: dir.to_path_buf(), source })?;
    }
    Ok(())
}

/// Fault injection for the checkpoint's steps: tests make a save fail (as a full disk does) or
/// stop dead (as a killed process does) at each step, and check that a consistent pair of files
/// always remains. Outside tests nothing is ever injected.
pub mod fault {
    use std::cell::Cell;

    use crate::error::{ModelError, Result};

    /// The steps of a checkpoint save, in order.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Step {
        /// Writing the new training state beside the old one.
        WriteState,
        /// Writing the new weights beside the old ones.
        WriteModel,
        /// Renaming the new weights into place.
        RenameModel,
        /// Renaming the new state into place.
        RenameState,
        /// After the save.
        Done,
    }

    /// What to inject.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Fault {
        /// The step fails with an I/O error; the save cleans up as it would.
        Fail(Step),
        /// The process "dies" before the step: nothing after it runs, nothing is cleaned up.
        Crash(Step),
    }

    thread_local! {
        static INJECTED: Cell<Option<Fault>> = const { Cell::new(None) };
        static CRASHED: Cell<bool> = const { Cell::new(false) };
    }

    /// Inject `fault` into the next saves on this thread (`None` to stop).
    pub fn inject(fault: Option<Fault>) {
        INJECTED.with(|f| f.set(fault));
        CRASHED.with(|c| c.set(false));
    }

    pub(crate) fn is_crash() -> bool {
        CRASHED.with(Cell::get)
    }

    pub(crate) fn at(step: Step) -> Result<()> {
        match INJECTED.with(Cell::get) {
            Some(Fault::Fail(s)) if s == step => Err(ModelError::Io {
                path: format!("(injected failure at {step:?})").into(),
                source: std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left on device (injected)"),
            }),
            Some(Fault::Crash(s)) if s == step => {
                CRASHED.with(|c| c.set(true));
                Err(ModelError::Io {
                    path: format!("(injected crash at {step:?})").into(),
                    source: std::io::Error::other("the process died (injected)"),
                })
            }
            _ => Ok(()),
        }
    }
}
