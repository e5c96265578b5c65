//! Fidelity and diversity of generated samples measured on k-nearest-neighbour manifolds:
//! precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020).
//!
//! Each real sample `xᵢ` gets the radius `rᵢ`, the distance to its `k`-th nearest other real
//! sample, and each generated sample `yⱼ` the radius `sⱼ` among the generated ones. Then, with
//! `N` real and `M` generated samples:
//! - precision: the fraction of generated samples inside some real ball
//!   (`∃i: ‖yⱼ − xᵢ‖ ≤ rᵢ`): how many look real;
//! - recall: the fraction of real samples inside some generated ball (`∃j: ‖xᵢ − yⱼ‖ ≤ sⱼ`):
//!   how much of the data the model reaches;
//! - density: `(1 / kM) Σⱼ #{i: ‖yⱼ − xᵢ‖ ≤ rᵢ}`, the average number of real balls a
//!   generated sample falls in, divided by `k` (about 1 when the two sets are alike; above 1
//!   when samples crowd where the data is dense);
//! - coverage: the fraction of real samples whose nearest generated sample is inside their own
//!   ball (`minⱼ ‖xᵢ − yⱼ‖ ≤ rᵢ`), which, unlike recall, outlying generated samples cannot
//!   inflate.
//!
//! Distances are Euclidean, from `‖a‖² + ‖b‖² − 2a·b` in `f64`, formed in blocks of
//! [`QUERY_BLOCK`] × [`REFERENCE_BLOCK`] (8 MiB), so memory stays bounded at any number of
//! samples; every comparison is between squared distances made the same way. A sample is not
//! its own neighbour (by index), and a tie with the radius counts as inside.
//!
//! ```
//! use latent_stats::manifold::precision_recall;
//! use ndarray::Array2;
//!
//! let real = Array2::from_shape_fn((20, 2), |(i, j)| (i * (j + 1)) as f32);
//! let m = precision_recall(real.view(), real.view(), 3)?;
//! assert_eq!((m.precision, m.recall, m.coverage), (1.0, 1.0, 1.0));
//! # Ok::<(), latent_stats::StatsError>(())
//! ```

use faer::{Accum, Mat, Par};
use ndarray::ArrayView2;

use crate::error::StatsError;

/// The neighbour count of Naeem et al.'s code (and a common choice for all four figures).
pub const DEFAULT_K: usize = 5;
/// Rows of the first set per distance block.
pub const QUERY_BLOCK: usize = 512;
/// Rows of the second set per distance block.
pub const REFERENCE_BLOCK: usize = 2048;

/// The four manifold figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Manifold {
    /// The neighbour count the radii were taken at.
    pub k: usize,
    /// The fraction of generated samples inside the real manifold, in [0, 1].
    pub precision: f64,
    /// The fraction of real samples inside the generated manifold, in [0, 1].
    pub recall: f64,
    /// The mean number of real balls holding a generated sample, over `k` (≥ 0, unbounded).
    pub density: f64,
    /// The fraction of real samples with a generated sample inside their ball, in [0, 1].
    pub coverage: f64,
}

/// Precision, recall, density and coverage of generated samples `fake` against `real` samples
/// (one per row, the same number of features), with radii at the `k`-th nearest neighbour.
///
/// # Errors
/// [`StatsError::InvalidParameter`] for `k = 0`, [`StatsError::TooFewSamples`] when a set has
/// `k` rows or fewer, [`StatsError::Shape`] when the feature counts differ,
/// [`StatsError::NotFinite`] for a NaN or infinite value.
pub fn precision_recall(
    real: ArrayView2<'_, f32>,
    fake: ArrayView2<'_, f32>,
    k: usize,
) -> Result<Manifold, StatsError> {
    if real.ncols() != fake.ncols() {
        return Err(StatsError::Shape {
            what: "the generated samples",
            expected: format!("{} features, as the real samples", real.ncols()),
            found: format!("{} features", fake.ncols()),
        });
    }
    let real_r = kth_neighbour_sq(real, k, "the real samples")?;
    let fake_r = kth_neighbour_sq(fake, k, "the generated samples")?;
    let (a, b) = (Rows::new(fake), Rows::new(real));
    let mut inside = vec![0usize; fake.nrows()];
    let mut recalled = vec![false; real.nrows()];
    let mut nearest_fake = vec![f64::INFINITY; real.nrows()];
    for_each_block(&a, &b, |j0, i0, block| {
        for (dj, row) in block.iter().enumerate() {
            let j = j0 + dj;
            for (di, &d) in row.iter().enumerate() {
                let i = i0 + di;
                if d <= real_r[i] {
                    inside[j] += 1;
                }
                if d <= fake_r[j] {
                    recalled[i] = true;
                }
                if d < nearest_fake[i] {
                    nearest_fake[i] = d;
                }
            }
        }
    });
    let (n, m) = (real.nrows() as f64, fake.nrows() as f64);
    Ok(Manifold {
        k,
        precision: inside.iter().filter(|&&c| c > 0).count() as f64 / m,
        recall: recalled.iter().filter(|&&r| r).count() as f64 / n,
        density: inside.iter().sum::<usize>() as f64 / (k as f64 * m),
        coverage: nearest_fake.iter().zip(&real_r).filter(|(d, r)| d <= r).count() as f64 / n,
    })
}

/// The distance of each row of `x` to its `k`-th nearest other row.
///
/// # Errors
/// As [`precision_recall`].
pub fn kth_neighbour_distances(x: ArrayView2<'_, f32>, k: usize) -> Result<Vec<f64>, StatsError> {
    Ok(kth_neighbour_sq(x, k, "the samples")?.into_iter().map(f64::sqrt).collect())
}

/// The squared distance of each row to its `k`-th nearest other row.
fn kth_neighbour_sq(x: ArrayView2<'_, f32>, k: usize, what: &'static str) -> Result<Vec<f64>, StatsError> {
    if k == 0 {
        return Err(StatsError::InvalidParameter {
            what: "the neighbour count k",
            expected: "at least 1".into(),
            found: "0".into(),
        });
    }
    if x.nrows() <= k {
        return Err(StatsError::TooFewSamples { what, needed: k + 1, found: x.nrows() });
    }
    if let Some((index, &value)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(StatsError::NotFinite { what, index, value: f64::from(value) });
    }
    let rows = Rows::new(x);
    // Each row's k smallest squared distances so far, ascending.
    let mut nearest = vec![Vec::<f64>::with_capacity(k + 1); x.nrows()];
    for_each_block(&rows, &rows, |q0, r0, block| {
        for (dq, row) in block.iter().enumerate() {
            let q = q0 + dq;
            let best = &mut nearest[q];
            for (dr, &d) in row.iter().enumerate() {
                if r0 + dr == q || (best.len() == k && d >= best[k - 1]) {
                    continue;
                }
                let at = best.partition_point(|&v| v <= d);
                best.insert(at, d);
                best.truncate(k);
            }
        }
    });
    Ok(nearest.into_iter().map(|best| best[k - 1]).collect())
}

/// A set of rows in `f64` with their squared norms.
struct Rows {
    values: Mat<f64>,
    norms: Vec<f64>,
}

impl Rows {
    fn new(x: ArrayView2<'_, f32>) -> Self {
        let values = Mat::from_fn(x.nrows(), x.ncols(), |i, j| f64::from(x[[i, j]]));
        let norms = (0..x.nrows()).map(|i| (0..x.ncols()).map(|j| values[(i, j)] * values[(i, j)]).sum()).collect();
        Rows { values, norms }
    }
}

/// Calls `f(first_row_of_a, first_row_of_b, block)` for every block of squared distances
/// between rows of `a` and rows of `b` (`block[q][r]`, at least 0), in a fixed order.
fn for_each_block(a: &Rows, b: &Rows, mut f: impl FnMut(usize, usize, &[Vec<f64>])) {
    let (na, nb) = (a.values.nrows(), b.values.nrows());
    let mut block: Vec<Vec<f64>> = Vec::new();
    let mut q0 = 0;
    while q0 < na {
        let q1 = (q0 + QUERY_BLOCK).min(na);
        let mut r0 = 0;
        while r0 < nb {
            let r1 = (r0 + REFERENCE_BLOCK).min(nb);
            let mut gram = Mat::<f64>::zeros(q1 - q0, r1 - r0);
            faer::linalg::matmul::matmul(
                gram.as_mut(),
                Accum::Replace,
                a.values.subrows(q0, q1 - q0),
                b.values.subrows(r0, r1 - r0).transpose(),
                1.0,
                Par::Seq,
            );
            block.clear();
            block.extend((0..q1 - q0).map(|q| {
                (0..r1 - r0).map(|r| (a.norms[q0 + q] + b.norms[r0 + r] - 2.0 * gram[(q, r)]).max(0.0)).collect()
            }));
            f(q0, r0, &block);
            r0 = r1;
        }
        q0 = q1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::{Array2, array};

    fn line(points: &[f32]) -> Array2<f32> {
        Array2::from_shape_fn((points.len(), 1), |(i, _)| points[i])
    }

    #[test]
    fn points_on_a_line_by_hand() {
        // Real 0..9, k = 1: every real radius is 1. Fake {0.5, 20}: the fake radius is 19.5.
        let real = line(&(0..10).map(|i| i as f32).collect::<Vec<_>>());
        let fake = line(&[0.5, 20.0]);
        let m = precision_recall(real.view(), fake.view(), 1).unwrap();
        // 0.5 lies in the balls of 0 and 1; 20 in none.
        assert_eq!(m.precision, 0.5);
        assert_abs_diff_eq!(m.density, (2.0 + 0.0) / (1.0 * 2.0), epsilon = 1e-15);
        // Every real point is within 19.5 of 0.5 (or of 20): recall 1, inflated by the outlier...
        assert_eq!(m.recall, 1.0);
        // ...which coverage is not: only 0 and 1 have a fake sample inside their ball.
        assert_eq!(m.coverage, 0.2);
        assert_eq!(kth_neighbour_distances(fake.view(), 1).unwrap(), vec![19.5, 19.5]);
    }

    #[test]
    fn identical_and_distant_sets() {
        let real = Array2::from_shape_fn((40, 3), |(i, j)| ((i * 13 + j * 7) % 17) as f32);
        let same = precision_recall(real.view(), real.view(), 3).unwrap();
        assert_eq!((same.precision, same.recall, same.coverage), (1.0, 1.0, 1.0));
        assert!(same.density >= 1.0 / 3.0, "{same:?}");
        let far = real.mapv(|v| v + 1000.0);
        let apart = precision_recall(real.view(), far.view(), 3).unwrap();
        assert_eq!((apart.precision, apart.recall, apart.density, apart.coverage), (0.0, 0.0, 0.0, 0.0));
    }

    #[test]
    fn density_counts_every_ball() {
        // Real: two tight pairs far apart, k = 1, radii 1. A fake at a pair's midpoint is in
        // both of its balls: density 2/k.
        let real = array![[0.0f32, 0.0], [1.0, 0.0], [100.0, 0.0], [101.0, 0.0]];
        let fake = array![[0.5f32, 0.0], [0.5, 0.0]];
        let m = precision_recall(real.view(), fake.view(), 1).unwrap();
        assert_eq!((m.precision, m.density, m.coverage), (1.0, 2.0, 0.5));
        // The two fakes coincide, so their radius is 0 and only exact hits are recalled.
        assert_eq!(m.recall, 0.0);
    }

    #[test]
    fn blocks_agree_with_brute_force() {
        // More rows than a block in both directions.
        let n = REFERENCE_BLOCK + QUERY_BLOCK / 3;
        let x =
            Array2::from_shape_fn((n, 2), |(i, j)| (((i * 37 + j * 11) % 101) as f32).sin() * 3.0 + i as f32 * 1e-3);
        let got = kth_neighbour_distances(x.view(), 2).unwrap();
        for &q in &[0usize, 1, QUERY_BLOCK, n - 1] {
            let mut d: Vec<f64> = (0..n)
                .filter(|&r| r != q)
                .map(|r| {
                    let dx = f64::from(x[[q, 0]]) - f64::from(x[[r, 0]]);
                    let dy = f64::from(x[[q, 1]]) - f64::from(x[[r, 1]]);
                    (dx * dx + dy * dy).sqrt()
                })
                .collect();
            d.sort_by(f64::total_cmp);
            assert_abs_diff_eq!(got[q], d[1], epsilon = 1e-6);
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let real = Array2::<f32>::zeros((5, 3));
        assert!(matches!(precision_recall(real.view(), real.view(), 0), Err(StatsError::InvalidParameter { .. })));
        let e = precision_recall(real.view(), real.view(), 5).unwrap_err();
        assert!(matches!(e, StatsError::TooFewSamples { needed: 6, found: 5, .. }), "{e}");
        let narrow = Array2::<f32>::zeros((5, 2));
        assert!(matches!(precision_recall(real.view(), narrow.view(), 1), Err(StatsError::Shape { .. })));
        let mut nan = real.clone();
        nan[[4, 0]] = f32::INFINITY;
        let e = precision_recall(real.view(), nan.view(), 1).unwrap_err();
        assert!(matches!(e, StatsError::NotFinite { what: "the generated samples", index: 12, .. }), "{e}");
    }
}
