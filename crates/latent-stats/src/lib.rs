//! Statistics over sets of samples, for the analyses of trained models.
//!
//! The crate stands beside the model crates and knows nothing of them: its inputs are plain
//! `ndarray` matrices with one sample per row (`f32`, as the models produce them), its sums are
//! kept in `f64`, and it never panics on the values it is given (non-finite values, too few
//! samples and mismatched shapes are [`StatsError`]s).
//!
//! - [`linalg`]: means and covariances, the symmetric eigendecomposition, and the square root
//!   of a positive semi-definite matrix: the linear algebra every analysis here stands on.
//! - [`frechet`]: the Fréchet distance between the Gaussians of two sample sets (FID's formula).
//! - [`kid`]: the kernel distance, an unbiased MMD² with the cubic polynomial kernel over subsets.
//! - [`manifold`]: precision, recall, density and coverage on k-nearest-neighbour balls.
//! - [`pca`]: principal component analysis (fit, transform, inverse transform, explained
//!   variance), the linear baseline of every autoencoder.
//! - [`roc`]: ROC and precision-recall curves, their areas, the confusion at a threshold, and
//!   quantiles to fit thresholds: how well anomaly scores separate.
//! - [`mahalanobis`]: the Mahalanobis distance to a set of samples (an anomaly score in a code
//!   space).
//! - [`logistic`]: multinomial logistic regression, the linear probe of learned features.
//! - [`normal`]: the standard normal quantile function.
//!
//! With the `serde` feature, the fitted [`pca::Pca`] and [`mahalanobis::Mahalanobis`]
//! serialise, so a program can store them beside a model.
//!
//! Everything is computed sequentially in a fixed order, so a result has the same bits on any
//! machine with the same thread count, and on any thread count.

pub mod error;
pub mod frechet;
pub mod kid;
pub mod linalg;
pub mod logistic;
pub mod mahalanobis;
pub mod manifold;
pub mod normal;
pub mod pca;
pub mod roc;

pub use error::StatsError;

// The README's example is compiled and run with the doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
