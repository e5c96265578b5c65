//! The typed errors of layers, optimisers and checkpoint files.
//!
//! Every variant says where the problem is (the layer, the parameter, the file and the tensor
//! name) and what was expected against what was found.

use std::path::PathBuf;

use latent_tensor::TensorError;
use thiserror::Error;

/// What can go wrong in `latent-nn`.
#[derive(Debug, Error)]
pub enum NnError {
    /// A tensor operation failed (usually an input of the wrong shape).
    #[error(transparent)]
    Tensor(#[from] TensorError),

    /// A layer or optimiser was configured with an impossible value.
    #[error("{what}: {message}")]
    Config {
        /// The layer or optimiser being configured.
        what: &'static str,
        /// What was expected and what was found.
        message: String,
    },

    /// A layer inside a container failed; `index` is its position (its name in the state dict).
    #[error("layer {index}: {source}")]
    Layer {
        /// The failing layer's position in its [`Sequential`](crate::layers::Sequential).
        index: usize,
        /// What went wrong in it.
        source: Box<NnError>,
    },

    /// A layer got an input it cannot take.
    #[error("{layer}: {message}")]
    Input {
        /// The layer.
        layer: &'static str,
        /// What was expected and what was found.
        message: String,
    },

    /// Reading a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("reading").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// Writing a file atomically failed (the previous file, if any, is intact).
    #[error(transparent)]
    Write(#[from] latent_fsio::WriteError),

    /// A file is not a valid safetensors file, or its contents fail their checksum.
    #[error("{path}: corrupt or not a safetensors file: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A tensor the model (or optimiser) needs is not in the file.
    #[error("{path}: missing tensor `{name}` (shape {expected:?})")]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The shape the model expects.
        expected: Vec<usize>,
    },

    /// The file holds a tensor that the model (or optimiser) has no place for.
    #[error("{path}: unexpected tensor `{name}` (shape {found:?}); the model has no such parameter or buffer")]
    UnexpectedTensor {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// Its shape in the file.
        found: Vec<usize>,
    },

    /// A tensor in the file has the wrong shape.
    #[error("{path}: tensor `{name}` has shape {found:?}, the model expects {expected:?}")]
    ShapeMismatch {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The shape the model expects.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },

    /// A tensor in the file has the wrong element type.
    #[error("{path}: tensor `{name}` has dtype {found}, expected {expected}")]
    DtypeMismatch {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The dtype expected (`F32` or `I64`).
        expected: String,
        /// The dtype in the file.
        found: String,
    },

    /// A metadata entry of a file is missing or malformed.
    #[error("{path}: metadata `{key}`: {message}")]
    Metadata {
        /// The file.
        path: PathBuf,
        /// The metadata key.
        key: String,
        /// What is wrong.
        message: String,
    },

    /// Two parameters or buffers of one model claim the same name.
    #[error("the name `{name}` is used by more than one parameter or buffer")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },

    /// A gradient does not fit its parameter.
    #[error("gradient of `{name}` has shape {found:?}, the parameter has shape {expected:?}")]
    GradientShape {
        /// The parameter's name.
        name: String,
        /// The parameter's shape.
        expected: Vec<usize>,
        /// The gradient's shape.
        found: Vec<usize>,
    },

    /// An optimiser state does not fit the optimiser or the model it is loaded into.
    #[error("optimiser state: {message}")]
    OptimizerState {
        /// What does not fit.
        message: String,
    },
}

/// `Result` with [`NnError`].
pub type Result<T> = std::result::Result<T, NnError>;

impl NnError {
    /// Shorthand for [`NnError::Config`].
    pub fn config(what: &'static str, message: impl Into<String>) -> Self {
        NnError::Config { what, message: message.into() }
    }

    /// Shorthand for [`NnError::Input`].
    pub fn input(layer: &'static str, message: impl Into<String>) -> Self {
        NnError::Input { layer, message: message.into() }
    }

    /// Shorthand for [`NnError::Corrupt`].
    pub fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        NnError::Corrupt { path: path.into(), reason: reason.into() }
    }

    /// Shorthand for [`NnError::Metadata`].
    pub fn metadata(path: impl Into<PathBuf>, key: impl Into<String>, message: impl Into<String>) -> Self {
        NnError::Metadata { path: path.into(), key: key.into(), message: message.into() }
    }

    /// Shorthand for [`NnError::OptimizerState`].
    pub fn optimizer_state(message: impl Into<String>) -> Self {
        NnError::OptimizerState { message: message.into() }
    }
}
