//! The Mahalanobis distance to a set of samples: how far a point lies from them in units of
//! their own spread, direction by direction. An anomaly score in an autoencoder's code space.
//!
//! [`Mahalanobis::fit`] takes the samples' mean and covariance and keeps the whitening map
//! `Λ^{-½}·Vᵀ` of the covariance's eigendecomposition `V·Λ·Vᵀ`, so
//! [`Mahalanobis::squared_distances`] is `‖Λ^{-½}·Vᵀ·(x − μ)‖² = (x − μ)ᵀ Σ⁻¹ (x − μ)`. A
//! covariance that is singular or nearly so (codes that never use a direction) is regularised
//! by adding [`RIDGE`] times its mean eigenvalue to every eigenvalue, so the distance stays
//! finite and a direction without spread counts heavily but not infinitely.
//!
//! ```
//! use latent_stats::mahalanobis::Mahalanobis;
//! use ndarray::array;
//!
//! // Spread 2 along x, 0.5 along y: one unit of distance is 2 along x, 0.5 along y.
//! let x = array![[-2.0f32, 0.0], [2.0, 0.0], [0.0, -0.5], [0.0, 0.5]];
//! let m = Mahalanobis::fit(x.view())?;
//! let d = m.squared_distances(array![[4.0f32, 0.0], [0.0, 1.0]].view())?;
//! assert!((d[0] - d[1]).abs() < 1e-3 * d[0]); // both 2 "units" away
//! # Ok::<(), latent_stats::StatsError>(())
//! ```

use ndarray::{Array1, Array2, ArrayView2};

use crate::error::StatsError;
use crate::linalg::{self, Moments};

/// The fraction of the covariance's mean eigenvalue added to each eigenvalue before inverting.
pub const RIDGE: f64 = 1e-6;

/// The mean and whitening map of a set of samples (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "Parts", into = "Parts"))]
pub struct Mahalanobis {
    mean: Array1<f64>,
    /// `[d, d]`: `Λ^{-½}·Vᵀ`.
    whitening: Array2<f64>,
}

impl Mahalanobis {
    /// Fit to the rows of `x` (`[n, d]`, `n >= 2`).
    ///
    /// # Errors
    /// As [`Moments::of_rows`] and [`linalg::symmetric_eigen`].
    pub fn fit(x: ArrayView2<'_, f32>) -> Result<Self, StatsError> {
        let moments = Moments::of_rows(x)?;
        let eigen = linalg::symmetric_eigen(moments.covariance.view(), "the covariance")?;
        let d = moments.mean.len();
        let mean_eigenvalue = eigen.values.iter().map(|v| v.max(0.0)).sum::<f64>() / d as f64;
        // All-constant samples: unit spread, so the distance is the Euclidean one.
        let ridge = if mean_eigenvalue > 0.0 { RIDGE * mean_eigenvalue } else { 1.0 };
        let whitening =
            Array2::from_shape_fn((d, d), |(i, j)| eigen.vectors[[j, i]] / (eigen.values[i].max(0.0) + ridge).sqrt());
        Ok(Mahalanobis { mean: moments.mean, whitening })
    }

    /// The dimension of the samples.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The mean of the samples fitted on.
    pub fn mean(&self) -> &Array1<f64> {
        &self.mean
    }

    /// `(x − μ)ᵀ Σ⁻¹ (x − μ)` for each row of `x`.
    ///
    /// # Errors
    /// [`StatsError::Shape`] when `x` is not `d` wide, [`StatsError::NotFinite`] for a NaN or
    /// infinite value.
    pub fn squared_distances(&self, x: ArrayView2<'_, f32>) -> Result<Vec<f64>, StatsError> {
        if x.ncols() != self.dim() {
            return Err(StatsError::Shape {
                what: "the points to measure",
                expected: format!("rows of {} values", self.dim()),
                found: format!("rows of {} values", x.ncols()),
            });
        }
        if let Some((index, &value)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(StatsError::NotFinite { what: "the points to measure", index, value: f64::from(value) });
        }
        Ok(x.rows()
            .into_iter()
            .map(|r| {
                let centred = Array1::from_iter(r.iter().zip(&self.mean).map(|(&v, m)| f64::from(v) - m));
                self.whitening.dot(&centred).iter().map(|v| v * v).sum()
            })
            .collect())
    }
}

/// The stored form of a [`Mahalanobis`]: plain numbers, checked when read back.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct Parts {
    mean: Vec<f64>,
    /// One row of the whitening map per entry.
    whitening: Vec<Vec<f64>>,
}

#[cfg(feature = "serde")]
impl From<Mahalanobis> for Parts {
    fn from(m: Mahalanobis) -> Self {
        Parts { mean: m.mean.to_vec(), whitening: m.whitening.rows().into_iter().map(|r| r.to_vec()).collect() }
    }
}

#[cfg(feature = "serde")]
impl TryFrom<Parts> for Mahalanobis {
    type Error = StatsError;

    fn try_from(p: Parts) -> Result<Self, StatsError> {
        let d = p.mean.len();
        if d == 0 || p.whitening.len() != d || p.whitening.iter().any(|r| r.len() != d) {
            return Err(StatsError::Shape {
                what: "a stored Mahalanobis distance",
                expected: format!("a {d}x{d} whitening map, as the mean's length"),
                found: format!("{} rows", p.whitening.len()),
            });
        }
        let all = p.mean.iter().chain(p.whitening.iter().flatten());
        if let Some((index, &value)) = all.enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(StatsError::NotFinite { what: "a stored Mahalanobis distance", index, value });
        }
        let whitening =
            Array2::from_shape_vec((d, d), p.whitening.into_iter().flatten().collect()).expect("lengths checked");
        Ok(Mahalanobis { mean: Array1::from(p.mean), whitening })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::array;

    #[test]
    fn matches_the_inverse_covariance() {
        let x = array![[1.0f32, 2.0], [2.0, 1.0], [3.0, 5.0], [0.0, 1.0], [4.0, 3.0]];
        let m = Mahalanobis::fit(x.view()).unwrap();
        let moments = Moments::of_rows(x.view()).unwrap();
        let c = &moments.covariance;
        let det = c[[0, 0]] * c[[1, 1]] - c[[0, 1]] * c[[1, 0]];
        let inv = array![[c[[1, 1]], -c[[0, 1]]], [-c[[1, 0]], c[[0, 0]]]] / det;
        let p = array![[5.0f32, -1.0]];
        let diff = array![5.0 - moments.mean[0], -1.0 - moments.mean[1]];
        let want = diff.dot(&inv.dot(&diff));
        assert_abs_diff_eq!(m.squared_distances(p.view()).unwrap()[0], want, epsilon = 1e-4 * want);
        // The samples' mean squared distance is about d·(n−1)/n.
        let mean: f64 = m.squared_distances(x.view()).unwrap().iter().sum::<f64>() / 5.0;
        assert_abs_diff_eq!(mean, 2.0 * 4.0 / 5.0, epsilon = 1e-4);
    }

    #[test]
    fn a_direction_without_spread_stays_finite_and_far() {
        let x = array![[0.0f32, 1.0], [1.0, 1.0], [2.0, 1.0]];
        let m = Mahalanobis::fit(x.view()).unwrap();
        let d = m.squared_distances(array![[1.0f32, 1.0], [1.0, 1.1]].view()).unwrap();
        assert_abs_diff_eq!(d[0], 0.0, epsilon = 1e-9);
        assert!(d[1].is_finite() && d[1] > 1e3, "{d:?}");
        assert!(m.squared_distances(array![[1.0f32]].view()).unwrap_err().to_string().contains("rows of 2 values"));
        assert!(Mahalanobis::fit(array![[1.0f32, 2.0]].view()).is_err());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn round_trips_through_json() {
        let m = Mahalanobis::fit(array![[1.0f32, 2.0], [2.0, 1.0], [0.0, 0.5]].view()).unwrap();
        let text = serde_json::to_string(&m).unwrap();
        let back: Mahalanobis = serde_json::from_str(&text).unwrap();
        let p = array![[0.5f32, 3.0]];
        assert_abs_diff_eq!(
            back.squared_distances(p.view()).unwrap()[0],
            m.squared_distances(p.view()).unwrap()[0],
            epsilon = 1e-9
        );
        assert!(serde_json::from_str::<Mahalanobis>(r#"{"mean":[1.0],"whitening":[[1.0,2.0]]}"#).is_err());
    }
}
