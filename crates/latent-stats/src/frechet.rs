//! The Fréchet distance between two sets of samples, each summarised by the Gaussian of its
//! mean and covariance: the statistic behind FID when the features are a classifier's.
//!
//! `d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr((Σ₁Σ₂)^½)`, the squared 2-Wasserstein distance
//! between `N(μ₁, Σ₁)` and `N(μ₂, Σ₂)`. The cross term is taken from
//! [`trace_sqrt_product`], through symmetric
//! eigendecompositions only, so it is real and non-negative even for singular covariances; the
//! distance, which rounding could take a hair below zero for identical sets, is clamped at 0.
//!
//! The statistic is biased in the number of samples: with finite sets drawn from one
//! distribution it is positive, shrinking roughly as `1/N`, so distances are comparable only
//! at one `N`.
//!
//! ```
//! use latent_stats::frechet::frechet_distance;
//! use latent_stats::linalg::Moments;
//! use ndarray::array;
//!
//! // Variances 1 and 4 in one dimension, means 0 and 3: 3² + (1 − 2)² = 10.
//! let a = Moments { count: 2, mean: array![0.0], covariance: array![[1.0]] };
//! let b = Moments { count: 2, mean: array![3.0], covariance: array![[4.0]] };
//! let d = frechet_distance(&a, &b)?;
//! assert!((d.distance - 10.0).abs() < 1e-12);
//! # Ok::<(), latent_stats::StatsError>(())
//! ```

use ndarray::ArrayView2;

use crate::error::StatsError;
use crate::linalg::{Moments, trace_sqrt_product};

/// The Fréchet distance and its two parts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frechet {
    /// `‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr((Σ₁Σ₂)^½)`, never negative.
    pub distance: f64,
    /// `‖μ₁ − μ₂‖²`: how far apart the means are.
    pub mean_term: f64,
    /// `tr Σ₁ + tr Σ₂ − 2 tr((Σ₁Σ₂)^½)`: how different the spreads are.
    pub covariance_term: f64,
}

/// The Fréchet distance between the Gaussians of moments `a` and `b`.
///
/// # Errors
/// [`StatsError::Shape`] when the two have different dimensions, or as
/// [`trace_sqrt_product`] for covariances that are not square or not finite.
pub fn frechet_distance(a: &Moments, b: &Moments) -> Result<Frechet, StatsError> {
    let dim = a.mean.len();
    if b.mean.len() != dim {
        return Err(StatsError::Shape {
            what: "the second set's features",
            expected: format!("{dim} features, as the first set"),
            found: format!("{} features", b.mean.len()),
        });
    }
    let mean_term: f64 = a.mean.iter().zip(&b.mean).map(|(x, y)| (x - y) * (x - y)).sum();
    let cross = trace_sqrt_product(a.covariance.view(), b.covariance.view())?;
    let traces = a.covariance.diag().sum() + b.covariance.diag().sum();
    let covariance_term = (traces - 2.0 * cross).max(0.0);
    if !mean_term.is_finite() {
        return Err(StatsError::NotFinite { what: "the distance between the means", index: 0, value: mean_term });
    }
    Ok(Frechet { distance: mean_term + covariance_term, mean_term, covariance_term })
}

/// The Fréchet distance between the rows of `x` and the rows of `y` (one sample per row).
///
/// # Errors
/// As [`Moments::of_rows`] for either set, and as [`frechet_distance`].
pub fn frechet_distance_of_rows(x: ArrayView2<'_, f32>, y: ArrayView2<'_, f32>) -> Result<Frechet, StatsError> {
    frechet_distance(&Moments::of_rows(x)?, &Moments::of_rows(y)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::{Array1, Array2, array};

    fn gaussian(mean: Vec<f64>, variances: Vec<f64>) -> Moments {
        Moments { count: 2, mean: Array1::from(mean), covariance: Array2::from_diag(&Array1::from(variances)) }
    }

    #[test]
    fn diagonal_gaussians_match_the_closed_form() {
        // d² = Σ (μ₁ᵢ − μ₂ᵢ)² + Σ (σ₁ᵢ − σ₂ᵢ)² for diagonal covariances.
        let a = gaussian(vec![0.0, 1.0, -2.0, 0.5], vec![1.0, 4.0, 0.25, 9.0]);
        let b = gaussian(vec![1.0, 1.0, 0.0, -0.5], vec![4.0, 1.0, 0.25, 0.0]);
        let means = 1.0 + 0.0 + 4.0 + 1.0;
        let spreads = (1.0f64 - 2.0).powi(2) + (2.0f64 - 1.0).powi(2) + 0.0 + (3.0f64 - 0.0).powi(2);
        let d = frechet_distance(&a, &b).unwrap();
        assert_abs_diff_eq!(d.mean_term, means, epsilon = 1e-12);
        assert_abs_diff_eq!(d.covariance_term, spreads, epsilon = 1e-10);
        assert_abs_diff_eq!(d.distance, means + spreads, epsilon = 1e-10);
        let back = frechet_distance(&b, &a).unwrap();
        assert_abs_diff_eq!(back.distance, d.distance, epsilon = 1e-10);
    }

    #[test]
    fn rotated_gaussians_match_the_closed_form() {
        // Rotating both covariances by the same orthogonal matrix keeps the distance.
        let (c, s) = (0.6f64, 0.8f64);
        let r = array![[c, -s], [s, c]];
        let rotate = |v: [f64; 2]| r.dot(&Array2::from_diag(&Array1::from(v.to_vec()))).dot(&r.t());
        let a = Moments { count: 2, mean: array![0.0, 0.0], covariance: rotate([1.0, 9.0]) };
        let b = Moments { count: 2, mean: array![0.0, 2.0], covariance: rotate([4.0, 16.0]) };
        let d = frechet_distance(&a, &b).unwrap();
        assert_abs_diff_eq!(d.distance, 4.0 + 1.0 + 1.0, epsilon = 1e-10);
    }

    #[test]
    fn a_set_is_at_distance_zero_from_itself_and_samples_approach_the_closed_form() {
        let x = Array2::from_shape_fn((50, 3), |(i, j)| ((i * 31 + j * 17) % 23) as f32 * 0.1);
        let d = frechet_distance_of_rows(x.view(), x.view()).unwrap();
        assert!(d.distance >= 0.0 && d.distance < 1e-9, "{d:?}");

        // A shifted and scaled copy: means move by 1 per feature, spreads scale by 2, so
        // d² = 3 + Σ (σᵢ − 2σᵢ)² = 3 + tr Σ, exactly, for any sample.
        let y = x.mapv(|v| 2.0 * v + 1.0);
        // y's mean is 2μ + 1: the mean term is Σ (μᵢ + 1)².
        let m = Moments::of_rows(x.view()).unwrap();
        let expected: f64 = m.mean.iter().map(|mu| (mu + 1.0).powi(2)).sum::<f64>() + m.covariance.diag().sum();
        let d = frechet_distance_of_rows(x.view(), y.view()).unwrap();
        assert_abs_diff_eq!(d.distance, expected, epsilon = 1e-6 * expected);
    }

    #[test]
    fn mismatched_sets_are_errors() {
        let a = gaussian(vec![0.0; 3], vec![1.0; 3]);
        let b = gaussian(vec![0.0; 2], vec![1.0; 2]);
        let e = frechet_distance(&a, &b).unwrap_err().to_string();
        assert!(e.contains("3 features") && e.contains("2 features"), "{e}");
        let one = Array2::<f32>::zeros((1, 3));
        assert!(matches!(
            frechet_distance_of_rows(one.view(), one.view()),
            Err(StatsError::TooFewSamples { found: 1, .. })
        ));
    }
}
