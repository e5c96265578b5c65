//! The typed errors of the loss functions.
//!
//! A loss has its own error type rather than reusing [`TensorError`] because its callers (training
//! loops, the CLI) want to tell a bad label or a bad hyper-parameter from a shape bug, and because
//! a message should name the *loss* and its *arguments* ("binary_cross_entropy: input of shape
//! [2, 3] and target of shape [2, 4] must have the same shape"), not the tensor op deep inside it.
//! Errors of the underlying ops pass through unchanged as [`LossError::Tensor`]. The conversion
//! into [`TensorError`] goes the other way too, so a loss can be called with `?` inside a function
//! that returns `latent_tensor::Result` (the gradient-check registry does exactly that).

use latent_tensor::TensorError;
use thiserror::Error;

/// What can go wrong when computing a loss. Each variant names the loss.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum LossError {
    /// Two arguments whose shapes had to agree did not.
    #[error("{loss}: {left_name} of shape {left:?} and {right_name} of shape {right:?} {why}")]
    ShapeMismatch {
        /// The loss that failed.
        loss: &'static str,
        /// The first argument's name.
        left_name: &'static str,
        /// The first argument's shape.
        left: Vec<usize>,
        /// The second argument's name.
        right_name: &'static str,
        /// The second argument's shape.
        right: Vec<usize>,
        /// What was required of them.
        why: &'static str,
    },
    /// An argument's shape was wrong on its own (too few axes, an empty batch).
    #[error("{loss}: {name} of shape {shape:?}: {why}")]
    BadShape {
        /// The loss that failed.
        loss: &'static str,
        /// The argument's name.
        name: &'static str,
        /// Its shape.
        shape: Vec<usize>,
        /// What was expected.
        why: &'static str,
    },
    /// A class label was not below the number of classes.
    #[error("{loss}: label {label} at position {index} is out of range for {classes} classes")]
    LabelOutOfRange {
        /// The loss that failed.
        loss: &'static str,
        /// The position of the label in the batch.
        index: usize,
        /// The label found.
        label: usize,
        /// The number of classes (the width of the logits).
        classes: usize,
    },
    /// A hyper-parameter was out of its range (a target density not in (0, 1), a negative eps).
    #[error("{loss}: {message}")]
    InvalidParameter {
        /// The loss that failed.
        loss: &'static str,
        /// What was expected and what was found.
        message: String,
    },
    /// The values of an argument were outside the loss's domain (a probability above 1, a
    /// negative variance).
    #[error("{loss}: {message}")]
    InvalidInput {
        /// The loss that failed.
        loss: &'static str,
        /// What was expected and what was found (with the first offending value and position).
        message: String,
    },
    /// A name that does not denote a known choice (a GAN loss or reduction spelt on the command line).
    #[error("unknown {kind} {found:?}; expected one of: {expected}")]
    UnknownName {
        /// What was being parsed ("GAN loss", "reduction").
        kind: &'static str,
        /// The text found.
        found: String,
        /// The accepted spellings.
        expected: &'static str,
    },
    /// An error of an underlying tensor op.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

/// `Result` with [`LossError`].
pub type Result<T> = std::result::Result<T, LossError>;

impl From<LossError> for TensorError {
    /// Shape errors stay shape errors; everything else becomes an invalid argument of the loss.
    fn from(e: LossError) -> Self {
        match e {
            LossError::Tensor(inner) => inner,
            LossError::ShapeMismatch { loss, left, right, why, .. } => {
                TensorError::ShapeMismatch { op: loss, left, right, why: why.to_string() }
            }
            LossError::BadShape { loss, .. }
            | LossError::LabelOutOfRange { loss, .. }
            | LossError::InvalidParameter { loss, .. }
            | LossError::InvalidInput { loss, .. } => TensorError::invalid(loss, e.to_string()),
            LossError::UnknownName { kind, .. } => TensorError::invalid(kind, e.to_string()),
        }
    }
}

/// Fail with [`LossError::ShapeMismatch`] unless two arguments have the same shape.
pub(crate) fn same_shape(
    loss: &'static str,
    (left_name, left): (&'static str, &[usize]),
    (right_name, right): (&'static str, &[usize]),
) -> Result<()> {
    if left == right {
        Ok(())
    } else {
        Err(LossError::ShapeMismatch {
            loss,
            left_name,
            left: left.to_vec(),
            right_name,
            right: right.to_vec(),
            why: "must have the same shape",
        })
    }
}

/// Fail with [`LossError::InvalidInput`] at the first value of `values` outside `[lo, hi]`
/// (NaN included), naming the argument and the flat position.
pub(crate) fn values_within(
    loss: &'static str,
    name: &'static str,
    values: &latent_tensor::Tensor,
    lo: f32,
    hi: f32,
) -> Result<()> {
    match values.view().iter().position(|&v| !(lo..=hi).contains(&v)) {
        None => Ok(()),
        Some(i) => Err(LossError::InvalidInput {
            loss,
            message: format!(
                "every {name} value must be in [{lo}, {hi}], found {} at flat position {i}",
                values.view().iter().nth(i).expect("position found")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_loss_and_both_shapes() {
        let e = same_shape("mse_loss", ("input", &[2, 3]), ("target", &[2, 4])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "mse_loss: input of shape [2, 3] and target of shape [2, 4] must have the same shape"
        );
        let t: TensorError = e.into();
        assert!(matches!(t, TensorError::ShapeMismatch { op: "mse_loss", .. }), "{t:?}");
    }

    #[test]
    fn out_of_range_values_are_reported_with_their_position() {
        let p = latent_tensor::Tensor::new(ndarray::arr1(&[0.5f32, 1.5, 0.2]));
        let e = values_within("binary_cross_entropy", "input", &p, 0.0, 1.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "binary_cross_entropy: every input value must be in [0, 1], found 1.5 at flat position 1"
        );
        let nan = latent_tensor::Tensor::new(ndarray::arr1(&[f32::NAN]));
        assert!(values_within("binary_cross_entropy", "input", &nan, 0.0, 1.0).is_err());
    }
}
