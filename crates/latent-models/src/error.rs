//! [`ModelError`]: what can go wrong building, training, saving or loading a model.

use std::path::PathBuf;

use thiserror::Error;

/// An error of this crate. Lower layers' errors are wrapped; the rest name the field, file or
/// epoch concerned and say what was expected.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A configuration value is invalid.
    #[error("invalid configuration: {field}: {message}")]
    Config {
        /// The field (as in the JSON config or the command-line flag).
        field: String,
        /// What was expected and what was found.
        message: String,
    },
    /// An unknown preset name.
    #[error("unknown preset `{name}`; choose one of: {choices}")]
    UnknownPreset {
        /// The name asked for.
        name: String,
        /// The presets that exist.
        choices: String,
    },
    /// The loss became NaN or infinite.
    #[error(
        "the training loss became {value} at epoch {epoch}, batch {batch}; the last checkpoint (end of epoch {last_good}) is intact. Try a lower learning rate or gradient clipping"
    )]
    NonFinite {
        /// The epoch (1-based).
        epoch: u64,
        /// The batch within the epoch (1-based).
        batch: usize,
        /// The value seen.
        value: f64,
        /// The last epoch whose checkpoint was written (0: the initial weights).
        last_good: u64,
    },
    /// Training produced weights that are not finite numbers; nothing of that epoch was saved.
    #[error(
        "the weights stopped being finite numbers during epoch {epoch} (first at `{parameter}`); nothing of that epoch was saved and the last checkpoint (end of epoch {last_good}) is intact. Try a lower learning rate or gradient clipping"
    )]
    NonFiniteWeights {
        /// The epoch (1-based).
        epoch: u64,
        /// The first parameter with a non-finite value.
        parameter: String,
        /// The last epoch whose checkpoint was written (0: the initial weights).
        last_good: u64,
    },
    /// A run directory is missing, incomplete or inconsistent.
    #[error("run directory {path}: {message}")]
    Run {
        /// The directory or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An operation this model does not support (sampling from a plain autoencoder, ...).
    #[error("{model} models cannot {what}")]
    Unsupported {
        /// The model kind.
        model: String,
        /// What was asked.
        what: &'static str,
    },
    /// Command-line flags the model does not take (the message names them and lists those it
    /// takes).
    #[error("{flags} {verb} not apply to the {model} ({takes})")]
    FlagsRefused {
        /// The refused flags, comma-separated.
        flags: String,
        /// "does" or "do".
        verb: &'static str,
        /// The command-line model name.
        model: String,
        /// What it takes instead.
        takes: String,
    },
    /// A model, a training run or a request would need more memory than the limit
    /// ([`crate::memory`]); nothing was allocated.
    #[error(
        "{what} needs about {}, more than the memory limit of {}; if this machine has the memory, raise the limit with --max-memory SIZE (e.g. --max-memory 64G) or the LATENT_MAX_MEMORY environment variable",
        crate::memory::Size(*needed),
        crate::memory::Size(*limit)
    )]
    Memory {
        /// What was asked, naming the flag or field (`--hidden 1000000000`).
        what: String,
        /// The estimate, in bytes.
        needed: u64,
        /// The limit, in bytes.
        limit: u64,
    },
    /// Writing a file atomically failed (the previous file, if any, is intact).
    #[error(transparent)]
    Write(#[from] latent_fsio::WriteError),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file could not be parsed or written.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// An input (images, labels, a classifier file) is not what was expected.
    #[error("{name}: {message}")]
    Input {
        /// The input: the argument, or the file.
        name: String,
        /// What was expected and what was found.
        message: String,
    },
    /// From the layers, optimisers or checkpoints.
    #[error(transparent)]
    Nn(#[from] latent_nn::NnError),
    /// From a loss.
    #[error(transparent)]
    Loss(#[from] latent_losses::LossError),
    /// From a tensor operation.
    #[error(transparent)]
    Tensor(#[from] latent_tensor::TensorError),
    /// From the data.
    #[error(transparent)]
    Data(#[from] latent_data::DataError),
}

impl ModelError {
    /// Shorthand for [`ModelError::Input`].
    pub fn input(name: impl Into<String>, message: impl Into<String>) -> Self {
        ModelError::Input { name: name.into(), message: message.into() }
    }

    /// Shorthand for [`ModelError::Config`].
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        ModelError::Config { field: field.into(), message: message.into() }
    }
}

/// `Result` with [`ModelError`].
pub type Result<T> = std::result::Result<T, ModelError>;
