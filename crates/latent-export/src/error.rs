//! [`ExportError`]: why a model could not be written in another framework's format.

use std::path::PathBuf;

use thiserror::Error;

/// An error of this crate; each names the model, graph, tensor or file concerned.
#[derive(Debug, Error)]
pub enum ExportError {
    /// The model does not describe its networks ([`latent_models::Model::architecture`]).
    #[error("{kind} models do not describe their networks, so they cannot be exported")]
    NotDescribed {
        /// The model's kind.
        kind: String,
    },
    /// A graph of the description does not hold together.
    #[error("the {graph} graph: {message}")]
    Graph {
        /// The graph's name.
        graph: String,
        /// What is wrong.
        message: String,
    },
    /// The description names a tensor the model does not have.
    #[error("the model has no tensor `{name}`, which its description uses")]
    MissingWeight {
        /// The tensor's state-dict name.
        name: String,
    },
    /// A tensor's shape differs from the one its layer needs.
    #[error("the tensor `{name}` has shape {found:?}, its layer needs {expected:?}")]
    WeightShape {
        /// The tensor's state-dict name.
        name: String,
        /// The shape the layer needs.
        expected: Vec<usize>,
        /// The shape the model has.
        found: Vec<usize>,
    },
    /// The export would overwrite the run it reads.
    #[error("{path}: {message}")]
    Destination {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or a directory made.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] latent_fsio::WriteError),
    /// The weights could not be written.
    #[error(transparent)]
    Nn(#[from] latent_nn::NnError),
    /// The model's description could not be read.
    #[error(transparent)]
    Model(#[from] latent_models::ModelError),
}

/// This crate's results.
pub type Result<T> = std::result::Result<T, ExportError>;
