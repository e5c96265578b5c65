//! The crate's one error type, [`StatsError`].

/// What can be wrong with the numbers handed to a statistic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// A value is NaN or infinite.
    #[error("{what}: value {index} is {value}, expected a finite number")]
    NotFinite {
        /// The input, in words ("the samples", "the covariance").
        what: &'static str,
        /// The position of the first offending value in row-major order.
        index: usize,
        /// The value.
        value: f64,
    },

    /// Too few samples for the statistic to be defined.
    #[error("{what}: {found} samples, at least {needed} are needed")]
    TooFewSamples {
        /// The statistic or input, in words.
        what: &'static str,
        /// How many are needed.
        needed: usize,
        /// How many were given.
        found: usize,
    },

    /// Shapes that should agree do not.
    #[error("{what}: expected {expected}, found {found}")]
    Shape {
        /// The input, in words.
        what: &'static str,
        /// The shape expected.
        expected: String,
        /// The shape given.
        found: String,
    },

    /// A parameter is out of its range.
    #[error("{what}: expected {expected}, found {found}")]
    InvalidParameter {
        /// The parameter.
        what: &'static str,
        /// Its valid range.
        expected: String,
        /// The value given.
        found: String,
    },

    /// An iterative decomposition did not converge.
    #[error("{what}: the eigendecomposition did not converge")]
    NoConvergence {
        /// The matrix, in words.
        what: &'static str,
    },
}
