//! Multinomial logistic regression: the linear probe that says how much of a label a set of
//! features holds.
//!
//! [`LogisticRegression::fit`] standardises each feature (mean 0, standard deviation 1 on the
//! training rows; a constant feature is only centred), then minimises
//!
//! ```text
//! Σ_i −log softmax(W·x_i + b)[y_i]  +  (l2 / 2)·‖W‖²
//! ```
//!
//! (the bias is not penalised; `l2 = 1` is scikit-learn's default `C = 1`) with L-BFGS (ten
//! correction pairs, a backtracking Armijo line search), starting from zero. The problem is
//! convex, so the answer does not depend on the start; every sum runs sequentially in a fixed
//! order in `f64`, so a fit is the same bits on any machine and thread count.
//!
//! ```
//! use latent_stats::logistic::{LogisticOptions, LogisticRegression};
//! use ndarray::array;
//!
//! // Class 0 left of x = 0, class 1 right of it.
//! let x = array![[-2.0f32], [-1.0], [1.0], [2.0]];
//! let model = LogisticRegression::fit(x.view(), &[0, 0, 1, 1], 2, &LogisticOptions::default())?;
//! assert_eq!(model.predict(array![[-0.5f32], [3.0]].view())?, vec![0, 1]);
//! assert_eq!(model.accuracy(x.view(), &[0, 0, 1, 1])?, 1.0);
//! # Ok::<(), latent_stats::StatsError>(())
//! ```

use std::collections::VecDeque;

use ndarray::{Array1, Array2, ArrayView2, Axis};

use crate::error::StatsError;

/// Rows standardised and multiplied at a time.
const BLOCK_ROWS: usize = 2048;
/// Correction pairs kept by L-BFGS.
const MEMORY: usize = 10;
/// Armijo's sufficient-decrease constant.
const ARMIJO: f64 = 1e-4;
/// Halvings of the step tried before the line search gives up.
const MAX_HALVINGS: usize = 60;

/// How a [`LogisticRegression`] is fitted.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticOptions {
    /// The weight of the `½‖W‖²` penalty, against the loss summed over the samples (1:
    /// scikit-learn's default). Must be finite and non-negative; 0 may not converge on
    /// separable data.
    pub l2: f64,
    /// The most L-BFGS iterations.
    pub max_iterations: usize,
    /// Converged when the largest entry of the objective's gradient, divided by the number of
    /// samples, is at most this.
    pub tolerance: f64,
}

impl Default for LogisticOptions {
    fn default() -> Self {
        LogisticOptions { l2: 1.0, max_iterations: 1000, tolerance: 1e-6 }
    }
}

/// A fitted multinomial logistic regression (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticRegression {
    mean: Array1<f64>,
    scale: Array1<f64>,
    /// `[d, classes]`, on standardised features.
    weights: Array2<f64>,
    bias: Array1<f64>,
    iterations: usize,
    converged: bool,
    loss: f64,
}

impl LogisticRegression {
    /// Fit the rows of `x` (`[n, d]`) to `labels` (each below `classes`).
    ///
    /// # Errors
    /// [`StatsError::Shape`] when the labels are not one per row, [`StatsError::TooFewSamples`]
    /// for no rows, [`StatsError::InvalidParameter`] for fewer than 2 classes, a label out of
    /// range or bad options, [`StatsError::NotFinite`] for a NaN or infinite feature.
    pub fn fit(
        x: ArrayView2<'_, f32>,
        labels: &[u8],
        classes: usize,
        options: &LogisticOptions,
    ) -> Result<Self, StatsError> {
        let (n, d) = x.dim();
        if labels.len() != n {
            return Err(StatsError::Shape {
                what: "the labels",
                expected: format!("one per sample ({n})"),
                found: format!("{} labels", labels.len()),
            });
        }
        if n == 0 {
            return Err(StatsError::TooFewSamples { what: "a logistic regression", needed: 1, found: 0 });
        }
        if classes < 2 {
            return Err(StatsError::InvalidParameter {
                what: "the number of classes",
                expected: "at least 2".into(),
                found: classes.to_string(),
            });
        }
        if let Some(&bad) = labels.iter().find(|&&l| usize::from(l) >= classes) {
            return Err(StatsError::InvalidParameter {
                what: "a label",
                expected: format!("below the number of classes, {classes}"),
                found: bad.to_string(),
            });
        }
        if !(options.l2.is_finite() && options.l2 >= 0.0) {
            return Err(StatsError::InvalidParameter {
                what: "the L2 penalty",
                expected: "a finite number >= 0".into(),
                found: options.l2.to_string(),
            });
        }
        if !(options.tolerance.is_finite() && options.tolerance > 0.0) {
            return Err(StatsError::InvalidParameter {
                what: "the tolerance",
                expected: "a finite number > 0".into(),
                found: options.tolerance.to_string(),
            });
        }
        check_finite(x)?;
        let (mean, scale) = standardisation(x);
        let mut model = LogisticRegression {
            mean,
            scale,
            weights: Array2::zeros((d, classes)),
            bias: Array1::zeros(classes),
            iterations: 0,
            converged: false,
            loss: 0.0,
        };
        model.minimise(x, labels, options);
        Ok(model)
    }

    /// The class probabilities of each row of `x`: `[n, classes]`.
    ///
    /// # Errors
    /// [`StatsError::Shape`] when `x` is not `d` wide, [`StatsError::NotFinite`] for a NaN or
    /// infinite feature.
    pub fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f64>, StatsError> {
        self.check_width(x)?;
        let mut out = Array2::zeros((x.nrows(), self.classes()));
        for (start, block) in self.blocks(x) {
            let mut logits = block.dot(&self.weights) + &self.bias;
            for mut row in logits.rows_mut() {
                softmax_in_place(row.as_slice_mut().expect("a fresh row-major array"));
            }
            out.slice_mut(ndarray::s![start..start + logits.nrows(), ..]).assign(&logits);
        }
        Ok(out)
    }

    /// The most probable class of each row of `x` (the lowest on a tie).
    ///
    /// # Errors
    /// As [`predict_proba`](Self::predict_proba).
    pub fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Vec<u8>, StatsError> {
        let p = self.predict_proba(x)?;
        Ok(p.rows()
            .into_iter()
            .map(|r| {
                let mut best = 0;
                for (c, &v) in r.iter().enumerate() {
                    if v > r[best] {
                        best = c;
                    }
                }
                best as u8
            })
            .collect())
    }

    /// The fraction of rows of `x` whose predicted class is their label.
    ///
    /// # Errors
    /// As [`predict_proba`](Self::predict_proba), and [`StatsError::Shape`] when the labels are
    /// not one per row, [`StatsError::TooFewSamples`] for no rows.
    pub fn accuracy(&self, x: ArrayView2<'_, f32>, labels: &[u8]) -> Result<f64, StatsError> {
        if labels.len() != x.nrows() {
            return Err(StatsError::Shape {
                what: "the labels",
                expected: format!("one per sample ({})", x.nrows()),
                found: format!("{} labels", labels.len()),
            });
        }
        if labels.is_empty() {
            return Err(StatsError::TooFewSamples { what: "an accuracy", needed: 1, found: 0 });
        }
        let predicted = self.predict(x)?;
        let right = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
        Ok(right as f64 / labels.len() as f64)
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.bias.len()
    }

    /// The number of features.
    pub fn dim(&self) -> usize {
        self.weights.nrows()
    }

    /// The L-BFGS iterations the fit took.
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// Whether the fit met the tolerance (rather than stopping at the iteration limit or when
    /// no step decreased the objective further).
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// The objective at the fit, per training sample (mean cross-entropy plus the penalty over
    /// `n`).
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// L-BFGS from zero (see the module documentation).
    fn minimise(&mut self, x: ArrayView2<'_, f32>, labels: &[u8], options: &LogisticOptions) {
        let (d, c) = self.weights.dim();
        let n = x.nrows() as f64;
        let mut theta = Array1::<f64>::zeros(d * c + c);
        let (mut f, mut g) = self.objective(x, labels, options.l2, &theta);
        let mut pairs: VecDeque<(Array1<f64>, Array1<f64>, f64)> = VecDeque::new();
        let mut iterations = 0;
        let mut converged = false;
        while iterations < options.max_iterations {
            if max_abs(&g) / n <= options.tolerance {
                converged = true;
                break;
            }
            let mut direction = two_loop(&g, &pairs);
            let mut slope = direction.dot(&g);
            if slope >= 0.0 {
                // Not a descent direction (rounding): restart from steepest descent.
                pairs.clear();
                direction = -&g;
                slope = direction.dot(&g);
            }
            // The first step of steepest descent is scaled to unit length; later ones start at 1.
            let mut step = if pairs.is_empty() { 1.0 / direction.dot(&direction).sqrt().max(1.0) } else { 1.0 };
            let mut accepted = None;
            for _ in 0..MAX_HALVINGS {
                let candidate = &theta + &(&direction * step);
                let (fc, gc) = self.objective(x, labels, options.l2, &candidate);
                if fc.is_finite() && fc <= f + ARMIJO * step * slope {
                    accepted = Some((candidate, fc, gc));
                    break;
                }
                step *= 0.5;
            }
            iterations += 1;
            let Some((next, f_next, g_next)) = accepted else {
                // No step decreases the objective: as close as f64 gets.
                converged = max_abs(&g) / n <= options.tolerance.sqrt();
                break;
            };
            let s = &next - &theta;
            let y = &g_next - &g;
            let sy = s.dot(&y);
            if sy > 1e-12 * y.dot(&y) {
                if pairs.len() == MEMORY {
                    pairs.pop_front();
                }
                pairs.push_back((s, y, 1.0 / sy));
            }
            let stalled = f - f_next <= 1e-15 * f.abs().max(1.0);
            theta = next;
            f = f_next;
            g = g_next;
            if stalled {
                converged = max_abs(&g) / n <= options.tolerance.sqrt();
                break;
            }
        }
        self.set_params(&theta);
        self.iterations = iterations;
        self.converged = converged;
        self.loss = f / n;
    }

    fn set_params(&mut self, theta: &Array1<f64>) {
        let (d, c) = self.weights.dim();
        self.weights = Array2::from_shape_vec((d, c), theta.slice(ndarray::s![..d * c]).to_vec()).expect("d*c values");
        self.bias = theta.slice(ndarray::s![d * c..]).to_owned();
    }

    /// The objective and its gradient at `theta` (`W` row-major, then `b`).
    fn objective(&mut self, x: ArrayView2<'_, f32>, labels: &[u8], l2: f64, theta: &Array1<f64>) -> (f64, Array1<f64>) {
        self.set_params(theta);
        let (d, c) = self.weights.dim();
        let mut grad_w = Array2::<f64>::zeros((d, c));
        let mut grad_b = Array1::<f64>::zeros(c);
        let mut f = 0.0;
        for (start, block) in self.blocks(x) {
            let mut r = block.dot(&self.weights) + &self.bias;
            for (i, mut row) in r.rows_mut().into_iter().enumerate() {
                let y = usize::from(labels[start + i]);
                let row = row.as_slice_mut().expect("a fresh row-major array");
                let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = top + row.iter().map(|&v| (v - top).exp()).sum::<f64>().ln();
                f += lse - row[y];
                for v in row.iter_mut() {
                    *v = (*v - lse).exp();
                }
                row[y] -= 1.0;
            }
            grad_w += &block.t().dot(&r);
            grad_b += &r.sum_axis(Axis(0));
        }
        f += 0.5 * l2 * self.weights.iter().map(|w| w * w).sum::<f64>();
        grad_w.scaled_add(l2, &self.weights);
        let mut g = Array1::zeros(d * c + c);
        g.slice_mut(ndarray::s![..d * c]).assign(&Array1::from_iter(grad_w.iter().copied()));
        g.slice_mut(ndarray::s![d * c..]).assign(&grad_b);
        (f, g)
    }

    /// The rows of `x` standardised in `f64`, [`BLOCK_ROWS`] at a time, with the first row's
    /// index.
    fn blocks<'a>(&'a self, x: ArrayView2<'a, f32>) -> impl Iterator<Item = (usize, Array2<f64>)> + 'a {
        (0..x.nrows()).step_by(BLOCK_ROWS).map(move |start| {
            let rows = BLOCK_ROWS.min(x.nrows() - start);
            let block = Array2::from_shape_fn((rows, x.ncols()), |(i, j)| {
                (f64::from(x[[start + i, j]]) - self.mean[j]) / self.scale[j]
            });
            (start, block)
        })
    }

    fn check_width(&self, x: ArrayView2<'_, f32>) -> Result<(), StatsError> {
        if x.ncols() != self.dim() {
            return Err(StatsError::Shape {
                what: "the samples to classify",
                expected: format!("rows of {} features", self.dim()),
                found: format!("rows of {} features", x.ncols()),
            });
        }
        check_finite(x)
    }
}

/// L-BFGS's two-loop recursion: `−H·g` for the inverse Hessian estimate of the pairs.
fn two_loop(g: &Array1<f64>, pairs: &VecDeque<(Array1<f64>, Array1<f64>, f64)>) -> Array1<f64> {
    let mut q = g.clone();
    let mut alphas = Vec::with_capacity(pairs.len());
    for (s, y, rho) in pairs.iter().rev() {
        let alpha = rho * s.dot(&q);
        q.scaled_add(-alpha, y);
        alphas.push(alpha);
    }
    if let Some((s, y, _)) = pairs.back() {
        q *= s.dot(y) / y.dot(y);
    }
    for ((s, y, rho), alpha) in pairs.iter().zip(alphas.into_iter().rev()) {
        let beta = rho * y.dot(&q);
        q.scaled_add(alpha - beta, s);
    }
    -q
}

fn max_abs(v: &Array1<f64>) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn softmax_in_place(row: &mut [f64]) {
    let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - top).exp();
        sum += *v;
    }
    for v in row.iter_mut() {
        *v /= sum;
    }
}

/// Each feature's mean and standard deviation (divided by `n`); 1 for a constant feature.
fn standardisation(x: ArrayView2<'_, f32>) -> (Array1<f64>, Array1<f64>) {
    let n = x.nrows() as f64;
    let mut mean = Array1::<f64>::zeros(x.ncols());
    for row in x.rows() {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    mean /= n;
    let mut var = Array1::<f64>::zeros(x.ncols());
    for row in x.rows() {
        for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
            *s += (f64::from(v) - m).powi(2);
        }
    }
    let scale = var.mapv(|s| {
        let sd = (s / n).sqrt();
        if sd > 0.0 { sd } else { 1.0 }
    });
    (mean, scale)
}

fn check_finite(x: ArrayView2<'_, f32>) -> Result<(), StatsError> {
    match x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        Some((index, &value)) => Err(StatsError::NotFinite { what: "the features", index, value: f64::from(value) }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::array;

    /// Two points at ±1 (standardised already), one per class. By symmetry the optimum is
    /// `w1 = −w0 = w`, `b = 0`, with `f(w) = 2·ln(1 + e^{−2w}) + l2·w²`, so `l2·w·(1 + e^{2w}) = 2`.
    #[test]
    fn a_closed_form_optimum() {
        let x = array![[-1.0f32], [1.0]];
        let options = LogisticOptions { l2: 1.0, tolerance: 1e-10, ..LogisticOptions::default() };
        let model = LogisticRegression::fit(x.view(), &[0, 1], 2, &options).unwrap();
        // Solve w·(1 + e^{2w}) = 2 by bisection.
        let (mut lo, mut hi) = (0.0f64, 2.0f64);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid * (1.0 + (2.0 * mid).exp()) < 2.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        assert!(model.converged(), "{} iterations", model.iterations());
        assert_abs_diff_eq!(model.weights[[0, 1]], lo, epsilon = 1e-8);
        assert_abs_diff_eq!(model.weights[[0, 0]], -lo, epsilon = 1e-8);
        assert_abs_diff_eq!(model.bias[1] - model.bias[0], 0.0, epsilon = 1e-8);
        let p = model.predict_proba(array![[1.0f32]].view()).unwrap();
        assert_abs_diff_eq!(p[[0, 1]], 1.0 / (1.0 + (-2.0 * lo).exp()), epsilon = 1e-8);
    }

    #[test]
    fn three_blobs_are_separated_and_fits_repeat_exactly() {
        // Three clusters in 3-D (class c near 4·e_c), a deterministic scatter around each.
        let n = 90;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| {
            let c = i % 3;
            let jitter = (((i * 7 + j * 13) % 11) as f32 - 5.0) / 5.0;
            if j == c { 4.0 + jitter } else { jitter }
        });
        let labels: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
        let options = LogisticOptions::default();
        let model = LogisticRegression::fit(x.view(), &labels, 3, &options).unwrap();
        assert!(model.converged());
        assert_eq!(model.accuracy(x.view(), &labels).unwrap(), 1.0);
        let again = LogisticRegression::fit(x.view(), &labels, 3, &options).unwrap();
        assert_eq!(model, again);
        let p = model.predict_proba(x.view()).unwrap();
        for row in p.rows() {
            assert_abs_diff_eq!(row.sum(), 1.0, epsilon = 1e-12);
        }
        // Many rows cross the block boundary the same way.
        let big = Array2::from_shape_fn((BLOCK_ROWS + 10, 3), |(i, j)| x[[i % n, j]]);
        let big_labels: Vec<u8> = (0..BLOCK_ROWS + 10).map(|i| labels[i % n]).collect();
        assert_eq!(model.predict(big.view()).unwrap(), big_labels);
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = array![[0.0f32, 1.0], [1.0, 0.0]];
        let o = LogisticOptions::default();
        assert!(LogisticRegression::fit(x.view(), &[0], 2, &o).unwrap_err().to_string().contains("one per sample (2)"));
        assert!(LogisticRegression::fit(x.view(), &[0, 1], 1, &o).unwrap_err().to_string().contains("at least 2"));
        assert!(LogisticRegression::fit(x.view(), &[0, 2], 2, &o).unwrap_err().to_string().contains("below"));
        let bad = LogisticOptions { l2: -1.0, ..o.clone() };
        assert!(LogisticRegression::fit(x.view(), &[0, 1], 2, &bad).is_err());
        let nan = array![[0.0f32, f32::NAN], [1.0, 0.0]];
        assert!(matches!(
            LogisticRegression::fit(nan.view(), &[0, 1], 2, &o),
            Err(StatsError::NotFinite { index: 1, .. })
        ));
        let model = LogisticRegression::fit(x.view(), &[0, 1], 2, &o).unwrap();
        let e = model.predict(array![[1.0f32]].view()).unwrap_err().to_string();
        assert!(e.contains("rows of 2 features"), "{e}");
        assert!(model.accuracy(Array2::<f32>::zeros((0, 2)).view(), &[]).is_err());
    }
}
