//! The kernel distance (KID, Bińkowski et al. 2018): the unbiased estimate of the squared
//! maximum mean discrepancy between two sets of samples, with the cubic polynomial kernel
//! `k(x, y) = (xᵀy / d + 1)³`, averaged over random subsets of both sets.
//!
//! Unlike the Fréchet distance, the estimate is unbiased: two sets drawn from one distribution
//! score 0 on average at any size (a single estimate may be slightly negative). Over `S`
//! subsets of `m` samples from each set, the report is the mean and the standard deviation
//! (divided by `S`) of the `S` estimates. The subsets are drawn without replacement from a
//! seeded ChaCha generator, so the same inputs and seed give the same bits.
//!
//! ```
//! use latent_stats::kid::{KidOptions, kernel_distance};
//! use ndarray::Array2;
//!
//! let x = Array2::from_shape_fn((40, 2), |(i, j)| (i + j) as f32 / 40.0);
//! let y = x.mapv(|v| v + 1.0);
//! let options = KidOptions { subsets: 10, subset_size: 20, seed: 1 };
//! let same = kernel_distance(x.view(), x.view(), &options)?;
//! let apart = kernel_distance(x.view(), y.view(), &options)?;
//! assert!(apart.mean > 1.0 && same.mean.abs() < 0.1);
//! # Ok::<(), latent_stats::StatsError>(())
//! ```

use faer::{Accum, Mat, Par};
use ndarray::ArrayView2;
use rand::SeedableRng;
use rand::seq::index;
use rand_chacha::ChaCha8Rng;

use crate::error::StatsError;

/// How many subsets of what size [`kernel_distance`] averages over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KidOptions {
    /// The number of subset pairs; at least 1.
    pub subsets: usize,
    /// Samples drawn (without replacement) from each set per subset; at least 2 and at most
    /// the smaller set's size.
    pub subset_size: usize,
    /// The seed of the subset draws.
    pub seed: u64,
}

impl Default for KidOptions {
    /// 100 subsets of 1000, the convention of the KID paper's code; seed 1.
    fn default() -> Self {
        KidOptions { subsets: 100, subset_size: 1000, seed: 1 }
    }
}

/// The kernel distance over subsets.
#[derive(Debug, Clone, PartialEq)]
pub struct Kid {
    /// The mean of the per-subset estimates.
    pub mean: f64,
    /// Their standard deviation (divided by the number of subsets; 0 for one subset).
    pub std: f64,
    /// The per-subset estimates, in draw order.
    pub estimates: Vec<f64>,
}

/// The cubic polynomial kernel `(xᵀy / d + 1)³` of a dot product in `d` dimensions.
pub fn cubic_kernel(dot: f64, dim: usize) -> f64 {
    let t = dot / dim as f64 + 1.0;
    t * t * t
}

/// The unbiased estimate of MMD² with the cubic kernel between all rows of `x` and all rows of
/// `y` (both at least two rows).
///
/// `(Σ_{i≠j} k(xᵢ, xⱼ)) / (m(m−1)) + (Σ_{i≠j} k(yᵢ, yⱼ)) / (n(n−1)) − 2 Σ k(xᵢ, yⱼ) / (mn)`.
///
/// # Errors
/// As [`kernel_distance`].
pub fn mmd2_unbiased(x: ArrayView2<'_, f32>, y: ArrayView2<'_, f32>) -> Result<f64, StatsError> {
    check(x, y)?;
    let all = |n: usize| (0..n).collect::<Vec<_>>();
    Ok(mmd2_of(x, y, &all(x.nrows()), &all(y.nrows())))
}

/// The kernel distance between the rows of `x` and of `y` (one sample per row, the same number
/// of features): the unbiased MMD² ([`mmd2_unbiased`]) on `options.subsets` pairs of random
/// subsets of `options.subset_size` rows.
///
/// # Errors
/// [`StatsError::Shape`] when the feature counts differ or are zero,
/// [`StatsError::InvalidParameter`] for no subsets or a subset size below 2,
/// [`StatsError::TooFewSamples`] when a set has fewer rows than a subset,
/// [`StatsError::NotFinite`] for a NaN or infinite value.
pub fn kernel_distance(
    x: ArrayView2<'_, f32>,
    y: ArrayView2<'_, f32>,
    options: &KidOptions,
) -> Result<Kid, StatsError> {
    check(x, y)?;
    if options.subsets == 0 {
        return Err(StatsError::InvalidParameter {
            what: "the number of KID subsets",
            expected: "at least 1".into(),
            found: "0".into(),
        });
    }
    if options.subset_size < 2 {
        return Err(StatsError::InvalidParameter {
            what: "the KID subset size",
            expected: "at least 2".into(),
            found: options.subset_size.to_string(),
        });
    }
    let smaller = x.nrows().min(y.nrows());
    if smaller < options.subset_size {
        return Err(StatsError::TooFewSamples {
            what: "a KID subset (the subset size is larger than a set)",
            needed: options.subset_size,
            found: smaller,
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut estimates = Vec::with_capacity(options.subsets);
    for _ in 0..options.subsets {
        let xi = index::sample(&mut rng, x.nrows(), options.subset_size).into_vec();
        let yi = index::sample(&mut rng, y.nrows(), options.subset_size).into_vec();
        estimates.push(mmd2_of(x, y, &xi, &yi));
    }
    let count = estimates.len() as f64;
    let mean = estimates.iter().sum::<f64>() / count;
    let std = (estimates.iter().map(|e| (e - mean) * (e - mean)).sum::<f64>() / count).sqrt();
    Ok(Kid { mean, std, estimates })
}

fn check(x: ArrayView2<'_, f32>, y: ArrayView2<'_, f32>) -> Result<(), StatsError> {
    if x.ncols() != y.ncols() || x.ncols() == 0 {
        return Err(StatsError::Shape {
            what: "the second set's features",
            expected: format!("{} features, as the first set (at least 1)", x.ncols()),
            found: format!("{} features", y.ncols()),
        });
    }
    for (what, set) in [("the first set", x), ("the second set", y)] {
        if set.nrows() < 2 {
            return Err(StatsError::TooFewSamples { what: "the kernel distance", needed: 2, found: set.nrows() });
        }
        if let Some((index, &value)) = set.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(StatsError::NotFinite { what, index, value: f64::from(value) });
        }
    }
    Ok(())
}

/// The rows `rows` of `x` as an `f64` matrix.
fn gather(x: ArrayView2<'_, f32>, rows: &[usize]) -> Mat<f64> {
    Mat::from_fn(rows.len(), x.ncols(), |i, j| f64::from(x[[rows[i], j]]))
}

/// The sum of the kernel over the products `a·bᵀ`, leaving out the diagonal when `skip_diagonal`.
fn kernel_sum(a: &Mat<f64>, b: &Mat<f64>, dim: usize, skip_diagonal: bool) -> f64 {
    let mut gram = Mat::<f64>::zeros(a.nrows(), b.nrows());
    faer::linalg::matmul::matmul(gram.as_mut(), Accum::Replace, a.as_ref(), b.transpose(), 1.0, Par::Seq);
    let mut sum = 0.0;
    for j in 0..gram.ncols() {
        for i in 0..gram.nrows() {
            if !(skip_diagonal && i == j) {
                sum += cubic_kernel(gram[(i, j)], dim);
            }
        }
    }
    sum
}

fn mmd2_of(x: ArrayView2<'_, f32>, y: ArrayView2<'_, f32>, xi: &[usize], yi: &[usize]) -> f64 {
    let dim = x.ncols();
    let (a, b) = (gather(x, xi), gather(y, yi));
    let (m, n) = (xi.len() as f64, yi.len() as f64);
    let xx = kernel_sum(&a, &a, dim, true) / (m * (m - 1.0));
    let yy = kernel_sum(&b, &b, dim, true) / (n * (n - 1.0));
    let xy = kernel_sum(&a, &b, dim, false) / (m * n);
    xx + yy - 2.0 * xy
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::{Array2, array};

    #[test]
    fn two_clusters_of_identical_points_give_the_kernel_formula() {
        // x: three copies of a, y: four copies of b. Every kernel value is known, so
        // MMD² = k(a,a) + k(b,b) − 2k(a,b) exactly.
        let a = [1.0f32, 2.0];
        let b = [-1.0f32, 0.5];
        let x = Array2::from_shape_fn((3, 2), |(_, j)| a[j]);
        let y = Array2::from_shape_fn((4, 2), |(_, j)| b[j]);
        let k = |p: [f32; 2], q: [f32; 2]| cubic_kernel(f64::from(p[0] * q[0] + p[1] * q[1]), 2);
        let expected = k(a, a) + k(b, b) - 2.0 * k(a, b);
        // k(a,a) = (5/2 + 1)³ = 42.875, k(b,b) = (1.25/2 + 1)³, k(a,b) = (0/2 + 1)³ = 1.
        assert_abs_diff_eq!(expected, 42.875 + 1.625f64.powi(3) - 2.0, epsilon = 1e-12);
        assert_abs_diff_eq!(mmd2_unbiased(x.view(), y.view()).unwrap(), expected, epsilon = 1e-10);
    }

    #[test]
    fn a_set_against_itself_matches_the_hand_sum() {
        // One dimension, x = y = {0, 1, 2}: dot products ij, kernel (ij + 1)³.
        let x = array![[0.0f32], [1.0], [2.0]];
        let k = |i: f64, j: f64| (i * j + 1.0).powi(3);
        let pts = [0.0, 1.0, 2.0];
        let all: f64 = pts.iter().flat_map(|&i| pts.iter().map(move |&j| k(i, j))).sum();
        let diagonal: f64 = pts.iter().map(|&i| k(i, i)).sum();
        let expected = 2.0 * (all - diagonal) / 6.0 - 2.0 * all / 9.0;
        assert_abs_diff_eq!(mmd2_unbiased(x.view(), x.view()).unwrap(), expected, epsilon = 1e-10);
        // Which is negative: the unbiased estimate of a zero MMD can go below 0.
        assert!(expected < 0.0);
    }

    #[test]
    fn subsets_of_the_full_sets_reproduce_the_full_estimate_and_are_deterministic() {
        let x = Array2::from_shape_fn((30, 4), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 11.0);
        let y = Array2::from_shape_fn((30, 4), |(i, j)| ((i * 5 + j * 2) % 13) as f32 / 13.0 + 0.2);
        // One subset of every row: the subset is a permutation, the estimate that of the sets.
        let full = mmd2_unbiased(x.view(), y.view()).unwrap();
        let one = kernel_distance(x.view(), y.view(), &KidOptions { subsets: 1, subset_size: 30, seed: 3 }).unwrap();
        assert_abs_diff_eq!(one.mean, full, epsilon = 1e-10);
        assert_eq!(one.std, 0.0);
        let options = KidOptions { subsets: 7, subset_size: 10, seed: 3 };
        let a = kernel_distance(x.view(), y.view(), &options).unwrap();
        let b = kernel_distance(x.view(), y.view(), &options).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.estimates.len(), 7);
        let mean = a.estimates.iter().sum::<f64>() / 7.0;
        assert_abs_diff_eq!(a.mean, mean, epsilon = 1e-15);
        assert!(a.std > 0.0);
        let other = kernel_distance(x.view(), y.view(), &KidOptions { seed: 4, ..options }).unwrap();
        assert_ne!(a.estimates, other.estimates);
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = Array2::<f32>::zeros((5, 3));
        let y = Array2::<f32>::zeros((5, 2));
        assert!(matches!(mmd2_unbiased(x.view(), y.view()), Err(StatsError::Shape { .. })));
        let small = KidOptions { subsets: 1, subset_size: 6, seed: 1 };
        let e = kernel_distance(x.view(), x.view(), &small).unwrap_err();
        assert!(matches!(e, StatsError::TooFewSamples { needed: 6, found: 5, .. }), "{e}");
        let none = KidOptions { subsets: 0, subset_size: 2, seed: 1 };
        assert!(matches!(kernel_distance(x.view(), x.view(), &none), Err(StatsError::InvalidParameter { .. })));
        let mut nan = x.clone();
        nan[[1, 2]] = f32::NAN;
        let e = mmd2_unbiased(x.view(), nan.view()).unwrap_err();
        assert!(matches!(e, StatsError::NotFinite { what: "the second set", index: 5, .. }), "{e}");
    }
}
