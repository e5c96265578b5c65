//! Means and covariances of samples, the symmetric eigendecomposition, and the functions of a
//! positive semi-definite matrix built on it (its square root, the trace of the square root of
//! a product).
//!
//! Matrices are `ndarray` arrays of `f64`; samples are rows of `f32`. The decomposition is
//! faer's, run sequentially. Each eigenvector's sign is fixed (its largest-magnitude component is
//! positive), so the vectors, and everything projected on them, are the same from run to run and
//! do not flip with a library update.
//!
//! ```
//! use latent_stats::linalg::{self, Moments};
//! use ndarray::array;
//!
//! // Points on the line y = 2x: all the variance is along (1, 2)/sqrt(5).
//! let x = array![[1.0f32, 2.0], [2.0, 4.0], [3.0, 6.0]];
//! let moments = Moments::of_rows(x.view())?;
//! let eigen = linalg::symmetric_eigen(moments.covariance.view(), "the covariance")?;
//! assert!(eigen.values[0].abs() < 1e-12);
//! assert!((eigen.values[1] - 5.0).abs() < 1e-12);
//! assert!((eigen.vectors[[1, 1]] - 2.0 / 5f64.sqrt()).abs() < 1e-12);
//! # Ok::<(), latent_stats::StatsError>(())
//! ```

use faer::{Accum, Mat, Par, Side};
use ndarray::{Array1, Array2, ArrayView2};

use crate::error::StatsError;

/// The widest samples whose covariance is formed densely: 8192 features, a 512 MiB matrix.
/// Wider data must be reduced first (for images, resize them).
pub const MAX_COVARIANCE_DIM: usize = 8192;

/// Rows centred and multiplied at a time when accumulating a covariance.
const BLOCK_ROWS: usize = 256;

/// The first two moments of a set of samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    /// The number of samples.
    pub count: usize,
    /// The mean of each feature.
    pub mean: Array1<f64>,
    /// The unbiased covariance (divided by `count - 1`), exactly symmetric.
    pub covariance: Array2<f64>,
}

impl Moments {
    /// The mean and the unbiased covariance of the rows of `x`.
    ///
    /// The mean is subtracted before the products are summed (two passes, in `f64`), so a large
    /// common offset does not cancel the variance away.
    ///
    /// # Errors
    /// [`StatsError::TooFewSamples`] below two rows, [`StatsError::NotFinite`] for a NaN or
    /// infinite value, [`StatsError::Shape`] when a row is wider than [`MAX_COVARIANCE_DIM`].
    ///
    /// ```
    /// use latent_stats::linalg::Moments;
    /// use ndarray::array;
    ///
    /// let x = array![[1e6f32 + 1.0], [1e6 + 3.0]];
    /// let m = Moments::of_rows(x.view())?;
    /// assert_eq!(m.mean[0], 1e6 + 2.0);
    /// assert_eq!(m.covariance[[0, 0]], 2.0);
    /// # Ok::<(), latent_stats::StatsError>(())
    /// ```
    pub fn of_rows(x: ArrayView2<'_, f32>) -> Result<Self, StatsError> {
        let (count, dim) = x.dim();
        if count < 2 {
            return Err(StatsError::TooFewSamples { what: "a covariance", needed: 2, found: count });
        }
        if dim > MAX_COVARIANCE_DIM {
            return Err(StatsError::Shape {
                what: "the samples for a covariance",
                expected: format!("at most {MAX_COVARIANCE_DIM} features"),
                found: format!("{dim} features"),
            });
        }
        check_finite("the samples", x.iter().map(|&v| f64::from(v)))?;
        let mut mean = Array1::<f64>::zeros(dim);
        for row in x.rows() {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += f64::from(v);
            }
        }
        mean /= count as f64;

        let mut sum = Mat::<f64>::zeros(dim, dim);
        let mut start = 0;
        while start < count {
            let rows = BLOCK_ROWS.min(count - start);
            let block = Mat::<f64>::from_fn(rows, dim, |i, j| f64::from(x[[start + i, j]]) - mean[j]);
            faer::linalg::matmul::matmul(sum.as_mut(), Accum::Add, block.transpose(), block.as_ref(), 1.0, Par::Seq);
            start += rows;
        }
        let scale = 1.0 / (count - 1) as f64;
        let covariance = Array2::from_shape_fn((dim, dim), |(i, j)| 0.5 * (sum[(i, j)] + sum[(j, i)]) * scale);
        Ok(Self { count, mean, covariance })
    }
}

/// The eigendecomposition `A = V diag(values) Vᵀ` of a symmetric matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct SymmetricEigen {
    /// The eigenvalues, ascending.
    pub values: Array1<f64>,
    /// The orthonormal eigenvectors, one per column, in the order of `values`; each column's
    /// largest-magnitude component is positive.
    pub vectors: Array2<f64>,
}

/// The eigendecomposition of the symmetric matrix `a` (its symmetric part `(a + aᵀ)/2` when
/// rounding has made it slightly asymmetric). `what` names the matrix in errors.
///
/// # Errors
/// [`StatsError::Shape`] when `a` is not square, [`StatsError::NotFinite`] for a NaN or
/// infinite entry, [`StatsError::NoConvergence`] if the iteration fails.
pub fn symmetric_eigen(a: ArrayView2<'_, f64>, what: &'static str) -> Result<SymmetricEigen, StatsError> {
    let n = square_size(a, what)?;
    check_finite(what, a.iter().copied())?;
    let m = Mat::<f64>::from_fn(n, n, |i, j| 0.5 * (a[[i, j]] + a[[j, i]]));
    let eigen = m.self_adjoint_eigen(Side::Lower).map_err(|_| StatsError::NoConvergence { what })?;
    let s = eigen.S().column_vector();
    let u = eigen.U();
    let values = Array1::from_shape_fn(n, |i| s[i]);
    let mut vectors = Array2::from_shape_fn((n, n), |(i, j)| u[(i, j)]);
    for mut column in vectors.columns_mut() {
        let mut largest = 0.0f64;
        for &v in column.iter() {
            if v.abs() > largest.abs() {
                largest = v;
            }
        }
        if largest < 0.0 {
            column.mapv_inplace(|v| -v);
        }
    }
    Ok(SymmetricEigen { values, vectors })
}

/// The symmetric square root `S` of a positive semi-definite matrix (`S·S = a`, `S` positive
/// semi-definite). Eigenvalues made slightly negative by rounding count as zero, so the result
/// is always real.
///
/// # Errors
/// As [`symmetric_eigen`].
///
/// ```
/// use latent_stats::linalg::psd_sqrt;
/// use ndarray::array;
///
/// let s = psd_sqrt(array![[4.0, 0.0], [0.0, 9.0]].view())?;
/// assert!((s[[0, 0]] - 2.0).abs() < 1e-12 && (s[[1, 1]] - 3.0).abs() < 1e-12);
/// # Ok::<(), latent_stats::StatsError>(())
/// ```
pub fn psd_sqrt(a: ArrayView2<'_, f64>) -> Result<Array2<f64>, StatsError> {
    let eigen = symmetric_eigen(a, "a positive semi-definite matrix")?;
    let roots = eigen.values.mapv(|v| v.max(0.0).sqrt());
    let n = roots.len();
    let scaled = Array2::from_shape_fn((n, n), |(i, j)| eigen.vectors[[i, j]] * roots[j]);
    let product = scaled.dot(&eigen.vectors.t());
    Ok(Array2::from_shape_fn((n, n), |(i, j)| 0.5 * (product[[i, j]] + product[[j, i]])))
}

/// `tr((a·b)^½)` for positive semi-definite `a` and `b`: the cross term of the Fréchet
/// distance between two Gaussians.
///
/// Computed as the sum of the square roots of the eigenvalues of the symmetric matrix
/// `a^½·b·a^½` (which has the eigenvalues of `a·b`), with eigenvalues made slightly negative by
/// rounding counted as zero: the result is real and non-negative even for singular
/// covariances, where the general matrix square root of `a·b` would turn complex.
///
/// # Errors
/// [`StatsError::Shape`] when the matrices are not square of one size; otherwise as
/// [`symmetric_eigen`].
///
/// ```
/// use latent_stats::linalg::trace_sqrt_product;
/// use ndarray::array;
///
/// // Diagonal matrices commute: tr((ab)^½) = Σ sqrt(a_i b_i) = sqrt(2·8) + sqrt(1·0).
/// let t = trace_sqrt_product(array![[2.0, 0.0], [0.0, 1.0]].view(), array![[8.0, 0.0], [0.0, 0.0]].view())?;
/// assert!((t - 4.0).abs() < 1e-12);
/// # Ok::<(), latent_stats::StatsError>(())
/// ```
pub fn trace_sqrt_product(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Result<f64, StatsError> {
    let n = square_size(a, "the first matrix")?;
    if b.dim() != (n, n) {
        return Err(StatsError::Shape {
            what: "the second matrix",
            expected: format!("{n}x{n}, as the first"),
            found: format!("{}x{}", b.nrows(), b.ncols()),
        });
    }
    check_finite("the second matrix", b.iter().copied())?;
    let root = psd_sqrt(a)?;
    let middle = root.dot(&b).dot(&root);
    let eigen = symmetric_eigen(middle.view(), "a^1/2 b a^1/2")?;
    Ok(eigen.values.iter().map(|&v| v.max(0.0).sqrt()).sum())
}

fn square_size(a: ArrayView2<'_, f64>, what: &'static str) -> Result<usize, StatsError> {
    let (rows, cols) = a.dim();
    if rows != cols {
        return Err(StatsError::Shape { what, expected: "a square matrix".into(), found: format!("{rows}x{cols}") });
    }
    Ok(rows)
}

fn check_finite(what: &'static str, values: impl Iterator<Item = f64>) -> Result<(), StatsError> {
    for (index, value) in values.enumerate() {
        if !value.is_finite() {
            return Err(StatsError::NotFinite { what, index, value });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::array;
    use proptest::prelude::*;

    fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
    }

    #[test]
    fn known_two_by_two() {
        let e = symmetric_eigen(array![[2.0, 1.0], [1.0, 2.0]].view(), "m").unwrap();
        assert_abs_diff_eq!(e.values[0], 1.0, epsilon = 1e-14);
        assert_abs_diff_eq!(e.values[1], 3.0, epsilon = 1e-14);
        let h = 0.5f64.sqrt();
        // Signs fixed: the largest component of each column is positive (ties keep the first).
        assert_abs_diff_eq!(e.vectors[[0, 1]], h, epsilon = 1e-14);
        assert_abs_diff_eq!(e.vectors[[1, 1]], h, epsilon = 1e-14);
        assert_abs_diff_eq!(e.vectors[[0, 0]].abs(), h, epsilon = 1e-14);
        assert_abs_diff_eq!(e.vectors[[0, 0]] + e.vectors[[1, 0]], 0.0, epsilon = 1e-14);
    }

    #[test]
    fn moments_match_the_textbook_formula() {
        let x = array![[1.0f32, -2.0, 0.5], [0.0, 4.0, 1.5], [3.0, 1.0, -1.0], [2.0, 0.0, 0.0]];
        let m = Moments::of_rows(x.view()).unwrap();
        let n = x.nrows() as f64;
        for i in 0..3 {
            let mi = x.column(i).iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            assert_abs_diff_eq!(m.mean[i], mi, epsilon = 1e-12);
            for j in 0..3 {
                let mj = x.column(j).iter().map(|&v| f64::from(v)).sum::<f64>() / n;
                let c = x.rows().into_iter().map(|r| (f64::from(r[i]) - mi) * (f64::from(r[j]) - mj)).sum::<f64>()
                    / (n - 1.0);
                assert_abs_diff_eq!(m.covariance[[i, j]], c, epsilon = 1e-12);
            }
        }
        assert_eq!(m.count, 4);
    }

    #[test]
    fn moments_of_many_rows_cross_blocks() {
        // More rows than one block: the blocked sum must equal the one-block sum.
        let x = Array2::from_shape_fn((3 * BLOCK_ROWS + 7, 3), |(i, j)| ((i * 7 + j * 13) % 17) as f32 - 8.0);
        let m = Moments::of_rows(x.view()).unwrap();
        let n = x.nrows() as f64;
        let mean0 = x.column(0).iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var0 = x.column(0).iter().map(|&v| (f64::from(v) - mean0).powi(2)).sum::<f64>() / (n - 1.0);
        assert_abs_diff_eq!(m.covariance[[0, 0]], var0, epsilon = 1e-9);
        assert_eq!(m.covariance, m.covariance.t());
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let one = array![[1.0f32, 2.0]];
        assert!(matches!(Moments::of_rows(one.view()), Err(StatsError::TooFewSamples { found: 1, .. })));
        let nan = array![[1.0f32, 2.0], [f32::NAN, 0.0]];
        assert!(matches!(Moments::of_rows(nan.view()), Err(StatsError::NotFinite { index: 2, .. })));
        let wide = Array2::<f32>::zeros((2, MAX_COVARIANCE_DIM + 1));
        assert!(matches!(Moments::of_rows(wide.view()), Err(StatsError::Shape { .. })));
        let rect = Array2::<f64>::zeros((2, 3));
        let err = symmetric_eigen(rect.view(), "the thing").unwrap_err().to_string();
        assert!(err.contains("the thing") && err.contains("2x3"), "{err}");
        let inf = array![[1.0, f64::INFINITY], [0.0, 1.0]];
        assert!(matches!(psd_sqrt(inf.view()), Err(StatsError::NotFinite { .. })));
        let err = trace_sqrt_product(Array2::eye(2).view(), Array2::eye(3).view()).unwrap_err().to_string();
        assert!(err.contains("2x2") && err.contains("3x3"), "{err}");
    }

    #[test]
    fn singular_covariances_give_a_real_trace() {
        // Rank-one matrices whose product has a zero and a rounding-negative eigenvalue.
        let v = array![[1.0], [2.0], [3.0]];
        let a = v.dot(&v.t());
        let t = trace_sqrt_product(a.view(), a.view()).unwrap();
        assert!(t.is_finite());
        assert_abs_diff_eq!(t, 14.0, epsilon = 1e-9);
    }

    fn symmetric(n: usize, seed: Vec<f64>) -> Array2<f64> {
        Array2::from_shape_fn((n, n), |(i, j)| {
            let (a, b) = (i.min(j), i.max(j));
            seed[(a * n + b) % seed.len()]
        })
    }

    proptest! {
        #[test]
        fn decomposition_reconstructs_and_is_orthonormal(n in 1usize..24, seed in prop::collection::vec(-10.0f64..10.0, 1..600)) {
            let a = symmetric(n, seed);
            let e = symmetric_eigen(a.view(), "a").unwrap();
            let scaled = Array2::from_shape_fn((n, n), |(i, j)| e.vectors[[i, j]] * e.values[j]);
            let back = scaled.dot(&e.vectors.t());
            let scale = a.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            prop_assert!(max_abs_diff(&back, &a) < 1e-10 * scale * n as f64);
            let gram = e.vectors.t().dot(&e.vectors);
            prop_assert!(max_abs_diff(&gram, &Array2::eye(n)) < 1e-10 * n as f64);
            prop_assert!(e.values.windows(2).into_iter().all(|w| w[0] <= w[1]));
        }

        #[test]
        fn square_root_squares_back(n in 1usize..16, seed in prop::collection::vec(-3.0f64..3.0, 1..300)) {
            let b = Array2::from_shape_fn((n, n + 2), |(i, j)| seed[(i * (n + 2) + j) % seed.len()]);
            let a = b.dot(&b.t());
            let s = psd_sqrt(a.view()).unwrap();
            let scale = a.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            prop_assert!(max_abs_diff(&s.dot(&s), &a) < 1e-9 * scale * n as f64);
        }

        #[test]
        fn trace_of_the_root_of_a_product_is_symmetric_and_scales(n in 1usize..12, seed in prop::collection::vec(-3.0f64..3.0, 2..300), k in 0.1f64..10.0) {
            let b = Array2::from_shape_fn((n, n), |(i, j)| seed[(i * n + j) % seed.len()]);
            let c = Array2::from_shape_fn((n, n), |(i, j)| seed[(i * n + j + 1) % seed.len()]);
            let (p, q) = (b.dot(&b.t()), c.dot(&c.t()));
            let t = trace_sqrt_product(p.view(), q.view()).unwrap();
            let u = trace_sqrt_product(q.view(), p.view()).unwrap();
            let scaled = trace_sqrt_product((&p * k).view(), q.view()).unwrap();
            let tol = 1e-6 * (1.0 + t);
            prop_assert!(t >= 0.0);
            prop_assert!((t - u).abs() < tol, "{t} vs {u}");
            prop_assert!((scaled - k.sqrt() * t).abs() < tol * k.sqrt().max(1.0), "{scaled} vs {}", k.sqrt() * t);
        }
    }
}
