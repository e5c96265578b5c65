//! The typed errors of tensor operations.

use thiserror::Error;

/// What can go wrong in a tensor operation. Each variant names the operation and says what it
/// expected and what it found.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TensorError {
    /// Two shapes that had to agree (or broadcast) did not.
    #[error("{op}: shapes {left:?} and {right:?} {why}")]
    ShapeMismatch {
        /// The operation that failed.
        op: &'static str,
        /// The first operand's shape.
        left: Vec<usize>,
        /// The second operand's shape.
        right: Vec<usize>,
        /// What was required of them.
        why: String,
    },
    /// An argument (axis, range, size, option) was out of range or inconsistent.
    #[error("{op}: {message}")]
    InvalidArgument {
        /// The operation that failed.
        op: &'static str,
        /// What was expected and what was found.
        message: String,
    },
    /// `backward` was called on a tensor that is not a single number.
    #[error("backward: expected a scalar (one element), found shape {shape:?}; pass a gradient with backward_with")]
    NotScalar {
        /// The tensor's shape.
        shape: Vec<usize>,
    },
}

/// `Result` with [`TensorError`].
pub type Result<T> = std::result::Result<T, TensorError>;

impl TensorError {
    /// Shorthand for [`TensorError::InvalidArgument`].
    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        TensorError::InvalidArgument { op, message: message.into() }
    }

    /// Shorthand for [`TensorError::ShapeMismatch`].
    pub fn shapes(op: &'static str, left: &[usize], right: &[usize], why: impl Into<String>) -> Self {
        TensorError::ShapeMismatch { op, left: left.to_vec(), right: right.to_vec(), why: why.into() }
    }
}
