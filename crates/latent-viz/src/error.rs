//! The crate's one error type, [`VizError`].
//!
//! Every variant says what went wrong and where: file errors name the path and the step that
//! failed, input errors say what was expected and what was found.

use std::path::PathBuf;

/// Why a picture could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VizError {
    /// Writing a file failed (atomically: the previous file, if any, is intact).
    #[error(transparent)]
    Write(#[from] latent_fsio::WriteError),
    /// Encoding a PNG image failed.
    #[error("cannot encode the PNG image for {}: {source}", .path.display())]
    Png {
        /// The file the image was meant for.
        path: PathBuf,
        /// The encoder's reason.
        #[source]
        source: png::EncodingError,
    },
    /// Input data has the wrong shape or size.
    #[error("{what}: expected {expected}, found {found}")]
    Shape {
        /// The input concerned, e.g. "image batch".
        what: &'static str,
        /// The shape that would have been accepted.
        expected: String,
        /// The shape that was given.
        found: String,
    },
    /// Input data or an option is invalid for another reason than its shape.
    #[error("{what}: {reason}")]
    InvalidInput {
        /// The input or option concerned, e.g. "labels".
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl VizError {
    /// Builds a [`VizError::InvalidInput`].
    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        VizError::InvalidInput { what, reason: reason.into() }
    }
}
