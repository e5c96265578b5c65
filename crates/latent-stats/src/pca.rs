//! Principal component analysis: the linear method every autoencoder is measured against.
//!
//! [`Pca::fit`] takes samples as rows, centres them, and keeps the `k` eigenvectors of their
//! covariance with the largest eigenvalues (faer's symmetric eigendecomposition, through
//! [`crate::linalg`]). [`Pca::transform`] maps rows to their `k` coordinates, and
//! [`Pca::inverse_transform`] maps coordinates back; a row's reconstruction is the closest
//! point to it in the `k`-dimensional affine subspace through the mean, so
//! [`Pca::reconstruction_errors`] is the smallest squared error any rank-`k` linear map (a linear
//! autoencoder with biases included) can reach on the data it was fitted on.
//!
//! Components are ordered by decreasing variance; each has its sign fixed (its
//! largest-magnitude entry is positive), so a fit is the same from run to run. With the `serde`
//! feature a fitted [`Pca`] serialises (its mean, components and variances, as plain numbers)
//! and deserialises with its shapes checked, so a program can store it beside a trained model.
//!
//! ```
//! use latent_stats::pca::Pca;
//! use ndarray::array;
//!
//! // Points on the line y = 2x + 1, with a little spread off it.
//! let x = array![[0.0f32, 1.1], [1.0, 2.9], [2.0, 5.1], [3.0, 6.9]];
//! let pca = Pca::fit(x.view(), 1)?;
//! assert!(pca.explained_variance_ratio()[0] > 0.99);
//! let z = pca.transform(x.view())?; // one coordinate per row
//! let back = pca.inverse_transform(z.view())?;
//! assert!((back[[0, 1]] - 1.1).abs() < 0.2);
//! let errors = pca.reconstruction_errors(x.view())?;
//! assert!(errors.iter().all(|&e| e < 0.02));
//! # Ok::<(), latent_stats::StatsError>(())
//! ```

use ndarray::{Array1, Array2, ArrayView2};

use crate::error::StatsError;
use crate::linalg::{self, Moments};

/// Rows transformed at a time (bounds the `f64` copy made of them).
const BLOCK_ROWS: usize = 1024;

/// A fitted principal component analysis (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "PcaParts", into = "PcaParts"))]
pub struct Pca {
    mean: Array1<f64>,
    /// `[k, d]`: one unit-length component per row, by decreasing variance.
    components: Array2<f64>,
    explained_variance: Array1<f64>,
    total_variance: f64,
    samples: usize,
}

impl Pca {
    /// Fit `k` components to the rows of `x` (`[n, d]`, `n >= 2`, `1 <= k <= d`).
    ///
    /// # Errors
    /// As [`Moments::of_rows`] (too few rows, non-finite values, too wide), and
    /// [`StatsError::InvalidParameter`] when `k` is 0 or above `d`.
    pub fn fit(x: ArrayView2<'_, f32>, k: usize) -> Result<Self, StatsError> {
        check_components(k, x.ncols())?;
        Self::from_moments(&Moments::of_rows(x)?, k)
    }

    /// Fit `k` components to samples whose [`Moments`] are known.
    ///
    /// # Errors
    /// [`StatsError::InvalidParameter`] when `k` is 0 or above the dimension; otherwise as
    /// [`linalg::symmetric_eigen`].
    pub fn from_moments(moments: &Moments, k: usize) -> Result<Self, StatsError> {
        let d = moments.mean.len();
        check_components(k, d)?;
        let eigen = linalg::symmetric_eigen(moments.covariance.view(), "the covariance")?;
        // Ascending eigenvalues: the last k columns, largest first.
        let order: Vec<usize> = (0..d).rev().take(k).collect();
        let components = Array2::from_shape_fn((k, d), |(i, j)| eigen.vectors[[j, order[i]]]);
        // Rounding can leave a zero eigenvalue slightly negative; a variance is not.
        let explained_variance = order.iter().map(|&c| eigen.values[c].max(0.0)).collect();
        let total_variance = (0..d).map(|i| moments.covariance[[i, i]]).sum();
        Ok(Pca { mean: moments.mean.clone(), components, explained_variance, total_variance, samples: moments.count })
    }

    /// The first `k` components of this fit (the same as fitting `k` on the same data).
    ///
    /// # Errors
    /// [`StatsError::InvalidParameter`] when `k` is 0 or more than this fit has.
    pub fn truncated(&self, k: usize) -> Result<Self, StatsError> {
        if k == 0 || k > self.n_components() {
            return Err(StatsError::InvalidParameter {
                what: "the number of components",
                expected: format!("between 1 and {} (the components fitted)", self.n_components()),
                found: k.to_string(),
            });
        }
        Ok(Pca {
            mean: self.mean.clone(),
            components: self.components.slice(ndarray::s![..k, ..]).to_owned(),
            explained_variance: self.explained_variance.slice(ndarray::s![..k]).to_owned(),
            total_variance: self.total_variance,
            samples: self.samples,
        })
    }

    /// The number of components `k`.
    pub fn n_components(&self) -> usize {
        self.components.nrows()
    }

    /// The dimension `d` of the samples.
    pub fn dim(&self) -> usize {
        self.components.ncols()
    }

    /// The number of samples fitted on.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// The mean of the samples fitted on.
    pub fn mean(&self) -> &Array1<f64> {
        &self.mean
    }

    /// The components, `[k, d]`: one unit vector per row, by decreasing variance.
    pub fn components(&self) -> &Array2<f64> {
        &self.components
    }

    /// The variance of the samples along each component (the covariance's eigenvalues,
    /// unbiased), largest first.
    pub fn explained_variance(&self) -> &Array1<f64> {
        &self.explained_variance
    }

    /// The total variance of the samples (the covariance's trace): what all `d` components would
    /// explain.
    pub fn total_variance(&self) -> f64 {
        self.total_variance
    }

    /// Each component's share of the total variance (0 for data without variance).
    pub fn explained_variance_ratio(&self) -> Array1<f64> {
        if self.total_variance > 0.0 {
            &self.explained_variance / self.total_variance
        } else {
            Array1::zeros(self.n_components())
        }
    }

    /// The coordinates of each row of `x` (`[n, d]`) on the components: `[n, k]`.
    ///
    /// # Errors
    /// [`StatsError::Shape`] when `x` is not `d` wide; [`StatsError::NotFinite`] for a NaN or
    /// infinite value.
    pub fn transform(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>, StatsError> {
        self.check_width(x, "the samples to transform", self.dim())?;
        let mut out = Array2::<f32>::zeros((x.nrows(), self.n_components()));
        self.for_blocks(x, |start, centred| {
            let z = centred.dot(&self.components.t());
            out.slice_mut(ndarray::s![start..start + z.nrows(), ..]).zip_mut_with(&z, |o, &v| *o = v as f32);
        });
        Ok(out)
    }

    /// The points in data space whose coordinates are the rows of `z` (`[n, k]`): `[n, d]`.
    ///
    /// # Errors
    /// [`StatsError::Shape`] when `z` is not `k` wide; [`StatsError::NotFinite`] for a NaN or
    /// infinite value.
    pub fn inverse_transform(&self, z: ArrayView2<'_, f32>) -> Result<Array2<f32>, StatsError> {
        self.check_width(z, "the coordinates to map back", self.n_components())?;
        let z = z.mapv(f64::from);
        let x = z.dot(&self.components) + &self.mean;
        Ok(x.mapv(|v| v as f32))
    }

    /// Each row's squared distance to its reconstruction, `‖x − inverse(transform(x))‖²`, in
    /// `f64` throughout.
    ///
    /// # Errors
    /// As [`transform`](Self::transform).
    pub fn reconstruction_errors(&self, x: ArrayView2<'_, f32>) -> Result<Vec<f64>, StatsError> {
        self.check_width(x, "the samples to reconstruct", self.dim())?;
        let mut out = Vec::with_capacity(x.nrows());
        self.for_blocks(x, |_, centred| {
            let z = centred.dot(&self.components.t());
            let residual = centred - z.dot(&self.components);
            out.extend(residual.rows().into_iter().map(|r| r.iter().map(|v| v * v).sum::<f64>()));
        });
        Ok(out)
    }

    /// Call `f(first_row, centred)` on blocks of the rows of `x`, centred in `f64`.
    fn for_blocks(&self, x: ArrayView2<'_, f32>, mut f: impl FnMut(usize, Array2<f64>)) {
        let mut start = 0;
        while start < x.nrows() {
            let rows = BLOCK_ROWS.min(x.nrows() - start);
            let centred =
                Array2::from_shape_fn((rows, self.dim()), |(i, j)| f64::from(x[[start + i, j]]) - self.mean[j]);
            f(start, centred);
            start += rows;
        }
    }

    fn check_width(&self, x: ArrayView2<'_, f32>, what: &'static str, width: usize) -> Result<(), StatsError> {
        if x.ncols() != width {
            return Err(StatsError::Shape {
                what,
                expected: format!("rows of {width} values"),
                found: format!("rows of {} values", x.ncols()),
            });
        }
        if let Some(index) = x.iter().position(|v| !v.is_finite()) {
            return Err(StatsError::NotFinite {
                what,
                index,
                value: f64::from(x.iter().nth(index).copied().unwrap_or(0.0)),
            });
        }
        Ok(())
    }
}

fn check_components(k: usize, d: usize) -> Result<(), StatsError> {
    if k == 0 || k > d {
        return Err(StatsError::InvalidParameter {
            what: "the number of components",
            expected: format!("between 1 and {d} (the samples' dimension)"),
            found: k.to_string(),
        });
    }
    Ok(())
}

/// The stored form of a [`Pca`]: plain numbers, checked when read back.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct PcaParts {
    samples: usize,
    total_variance: f64,
    mean: Vec<f64>,
    explained_variance: Vec<f64>,
    /// One component per entry, each `d` long.
    components: Vec<Vec<f64>>,
}

#[cfg(feature = "serde")]
impl From<Pca> for PcaParts {
    fn from(p: Pca) -> Self {
        PcaParts {
            samples: p.samples,
            total_variance: p.total_variance,
            mean: p.mean.to_vec(),
            explained_variance: p.explained_variance.to_vec(),
            components: p.components.rows().into_iter().map(|r| r.to_vec()).collect(),
        }
    }
}

#[cfg(feature = "serde")]
impl TryFrom<PcaParts> for Pca {
    type Error = StatsError;

    fn try_from(p: PcaParts) -> Result<Self, StatsError> {
        let d = p.mean.len();
        let k = p.components.len();
        check_components(k, d)?;
        if p.explained_variance.len() != k || p.components.iter().any(|c| c.len() != d) {
            return Err(StatsError::Shape {
                what: "a stored PCA",
                expected: format!("{k} variances and {k} components of {d} values, as the mean"),
                found: format!(
                    "{} variances and components of {} values",
                    p.explained_variance.len(),
                    p.components.iter().map(Vec::len).find(|&l| l != d).unwrap_or(d)
                ),
            });
        }
        let all = p.mean.iter().chain(&p.explained_variance).chain(p.components.iter().flatten());
        if let Some((index, &value)) = all.chain([&p.total_variance]).enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(StatsError::NotFinite { what: "a stored PCA", index, value });
        }
        let components = Array2::from_shape_vec((k, d), p.components.into_iter().flatten().collect())
            .expect("the lengths were checked");
        Ok(Pca {
            mean: Array1::from(p.mean),
            components,
            explained_variance: Array1::from(p.explained_variance),
            total_variance: p.total_variance,
            samples: p.samples,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use proptest::prelude::*;

    /// A matrix `U·diag(s)·Vᵀ + 1·mᵀ` whose centred singular values are exactly `s`: `U` has
    /// orthonormal, zero-sum columns (scaled Hadamard columns), `V` orthonormal columns (a
    /// rotation of the axes).
    fn known_singular_values(s: &[f64], d: usize) -> Array2<f32> {
        let n = 8;
        // Columns 1..=3 of the 8x8 Sylvester-Hadamard matrix: orthogonal, each sums to zero.
        let hadamard = |i: usize, j: usize| if (i & j).count_ones().is_multiple_of(2) { 1.0 } else { -1.0 };
        let u = Array2::from_shape_fn((n, s.len()), |(i, c)| hadamard(i, 1 << c) / (n as f64).sqrt());
        // V: the first s.len() columns of a rotation of R^d by angle 0.3 in each (2c, 2c+1) plane.
        let (sin, cos) = 0.3f64.sin_cos();
        let v = Array2::from_shape_fn((d, s.len()), |(i, c)| match (i, c) {
            (i, c) if i == 2 * c => cos,
            (i, c) if i == 2 * c + 1 => sin,
            _ => 0.0,
        });
        let sd = Array2::from_diag(&Array1::from(s.to_vec()));
        let x = u.dot(&sd).dot(&v.t());
        x.mapv(|v| (v + 0.5) as f32)
    }

    #[test]
    fn variances_are_the_squared_singular_values_over_n_minus_one() {
        let s = [6.0, 3.0, 1.0];
        let x = known_singular_values(&s, 7);
        let pca = Pca::fit(x.view(), 3).unwrap();
        for (i, &si) in s.iter().enumerate() {
            assert_abs_diff_eq!(pca.explained_variance()[i], si * si / 7.0, epsilon = 1e-5);
        }
        assert_abs_diff_eq!(pca.total_variance(), (36.0 + 9.0 + 1.0) / 7.0, epsilon = 1e-5);
        assert_abs_diff_eq!(pca.explained_variance_ratio().sum(), 1.0, epsilon = 1e-6);
        // The first component is the first right singular vector (cos 0.3, sin 0.3, 0, ...).
        assert_abs_diff_eq!(pca.components()[[0, 0]], 0.3f64.cos(), epsilon = 1e-5);
        assert_abs_diff_eq!(pca.components()[[0, 1]], 0.3f64.sin(), epsilon = 1e-5);
        // Rank 3: three components reconstruct exactly; two leave the third singular value.
        let errors = pca.reconstruction_errors(x.view()).unwrap();
        assert!(errors.iter().sum::<f64>() < 1e-9);
        let two = pca.truncated(2).unwrap();
        assert_abs_diff_eq!(two.reconstruction_errors(x.view()).unwrap().iter().sum::<f64>(), 1.0, epsilon = 1e-5);
        assert_eq!(two, Pca::fit(x.view(), 2).unwrap());
    }

    #[test]
    fn transform_and_inverse_round_trip_in_the_subspace() {
        let x = known_singular_values(&[5.0, 2.0], 4);
        let pca = Pca::fit(x.view(), 2).unwrap();
        let z = pca.transform(x.view()).unwrap();
        assert_eq!(z.dim(), (8, 2));
        // Coordinates are centred, with the component variances.
        for c in 0..2 {
            let col = z.column(c);
            assert_abs_diff_eq!(col.iter().map(|&v| f64::from(v)).sum::<f64>(), 0.0, epsilon = 1e-5);
            let var = col.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / 7.0;
            assert_abs_diff_eq!(var, pca.explained_variance()[c], epsilon = 1e-4);
        }
        let back = pca.inverse_transform(z.view()).unwrap();
        for (a, b) in back.iter().zip(&x) {
            assert_abs_diff_eq!(a, b, epsilon = 1e-5);
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = known_singular_values(&[1.0], 3);
        let e = Pca::fit(x.view(), 4).unwrap_err().to_string();
        assert!(e.contains("between 1 and 3") && e.contains('4'), "{e}");
        assert!(Pca::fit(x.view(), 0).is_err());
        let pca = Pca::fit(x.view(), 1).unwrap();
        let wide = Array2::<f32>::zeros((2, 5));
        let e = pca.transform(wide.view()).unwrap_err().to_string();
        assert!(e.contains("rows of 3 values") && e.contains("rows of 5 values"), "{e}");
        let mut nan = Array2::<f32>::zeros((2, 3));
        nan[[1, 2]] = f32::NAN;
        assert!(matches!(pca.reconstruction_errors(nan.view()), Err(StatsError::NotFinite { index: 5, .. })));
        assert!(pca.inverse_transform(Array2::<f32>::zeros((1, 2)).view()).is_err());
        assert!(pca.truncated(2).is_err());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn a_fit_round_trips_through_json_and_bad_files_are_refused() {
        let pca = Pca::fit(known_singular_values(&[4.0, 1.0], 5).view(), 2).unwrap();
        let text = serde_json::to_string(&pca).unwrap();
        let back: Pca = serde_json::from_str(&text).unwrap();
        // serde_json's default parser may round the last digit of a 17-digit number.
        assert_eq!((back.n_components(), back.dim(), back.samples()), (2, 5, 8));
        for (a, b) in back.components().iter().zip(pca.components()) {
            assert_abs_diff_eq!(a, b, epsilon = 1e-15);
        }
        assert_abs_diff_eq!(back.total_variance(), pca.total_variance(), epsilon = 1e-15);
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["components"][1] = serde_json::json!([1.0, 2.0]);
        let e = serde_json::from_value::<Pca>(value).unwrap_err().to_string();
        assert!(e.contains("components of 2 values"), "{e}");
    }

    proptest! {
        /// No rank-k projection through the mean does better than PCA's on the data it was
        /// fitted on: compare with the projection on random orthonormalised directions.
        #[test]
        fn pca_beats_any_other_subspace(seed in prop::collection::vec(-3.0f32..3.0, 60..200), k in 1usize..3) {
            let d = 4;
            let n = seed.len() / d;
            let x = Array2::from_shape_fn((n, d), |(i, j)| seed[i * d + j] * (j + 1) as f32);
            let pca = Pca::fit(x.view(), k).unwrap();
            let best: f64 = pca.reconstruction_errors(x.view()).unwrap().iter().sum();
            // The residual is the variance left over, (n - 1) times.
            let left: f64 = pca.total_variance() - pca.explained_variance().sum();
            prop_assert!((best - left * (n - 1) as f64).abs() < 1e-3 * (1.0 + best));
            // Another subspace: the coordinate axes 0..k.
            let mean = pca.mean();
            let other: f64 = x.rows().into_iter().map(|r| (k..d).map(|j| (f64::from(r[j]) - mean[j]).powi(2)).sum::<f64>()).sum();
            prop_assert!(best <= other + 1e-6 * (1.0 + other));
        }
    }
}
