//! How well scores separate two kinds of samples: the ROC curve and the area under it, the
//! precision-recall curve and average precision, the confusion at a threshold, and the quantile
//! that fits a threshold to scores.
//!
//! Convention: a higher score means "more likely positive" (an anomaly, for anomaly detection),
//! and a sample is flagged positive when its score is strictly above the threshold.
//!
//! - [`roc_auc`] is the probability that a random positive scores above a random negative,
//!   ties counting one half (the Mann-Whitney statistic from mid-ranks: exact with ties, and
//!   equal to the trapezoid area under [`roc_curve`]).
//! - [`average_precision`] is `Σ (R_n − R_{n−1}) P_n` over the distinct scores in decreasing
//!   order, with `P_n` and `R_n` the precision and recall of flagging every sample scoring at
//!   least the `n`-th: the step-wise area under the precision-recall curve, without the
//!   optimistic linear interpolation (scikit-learn's `average_precision_score`).
//! - [`quantile`] interpolates linearly between order statistics (NumPy's default), so a
//!   threshold at `quantile(normal, 0.95)` flags about 5% of scores like the normal ones.
//!
//! ```
//! use latent_stats::roc;
//!
//! // scikit-learn's example: two negatives, two positives.
//! let scores = [0.1, 0.4, 0.35, 0.8];
//! let positive = [false, false, true, true];
//! assert_eq!(roc::roc_auc(&scores, &positive)?, 0.75);
//! assert!((roc::average_precision(&scores, &positive)? - 5.0 / 6.0).abs() < 1e-12);
//! let at = roc::Confusion::at(&scores, &positive, 0.3)?;
//! assert_eq!((at.true_positives, at.false_positives), (2, 1));
//! # Ok::<(), latent_stats::StatsError>(())
//! ```

use crate::error::StatsError;

/// Points of a ROC curve, one per distinct score plus the origin.
#[derive(Debug, Clone, PartialEq)]
pub struct RocCurve {
    /// The false positive rate of each point, from 0 to 1.
    pub false_positive_rate: Vec<f64>,
    /// The true positive rate (recall) of each point, from 0 to 1.
    pub true_positive_rate: Vec<f64>,
    /// The lowest score flagged at each point (`+∞` at the origin, where nothing is).
    pub thresholds: Vec<f64>,
}

/// Points of a precision-recall curve, one per distinct score, by increasing recall.
#[derive(Debug, Clone, PartialEq)]
pub struct PrCurve {
    /// The recall of each point.
    pub recall: Vec<f64>,
    /// The precision of each point.
    pub precision: Vec<f64>,
    /// The lowest score flagged at each point.
    pub thresholds: Vec<f64>,
}

/// The ROC curve of `scores` against `positive`: flagging every sample scoring at least each
/// distinct score in turn, from the highest.
///
/// # Errors
/// As [`roc_auc`].
pub fn roc_curve(scores: &[f64], positive: &[bool]) -> Result<RocCurve, StatsError> {
    let (n_pos, n_neg) = check(scores, positive, true)?;
    let mut curve =
        RocCurve { false_positive_rate: vec![0.0], true_positive_rate: vec![0.0], thresholds: vec![f64::INFINITY] };
    for (threshold, tp, fp) in cumulative(scores, positive) {
        curve.false_positive_rate.push(fp as f64 / n_neg as f64);
        curve.true_positive_rate.push(tp as f64 / n_pos as f64);
        curve.thresholds.push(threshold);
    }
    Ok(curve)
}

/// The area under the ROC curve, ties handled exactly (see the [module documentation](self)).
///
/// # Errors
/// [`StatsError::Shape`] when the slices differ in length, [`StatsError::NotFinite`] for a NaN
/// or infinite score, [`StatsError::TooFewSamples`] without at least one positive and one
/// negative.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Result<f64, StatsError> {
    let (n_pos, n_neg) = check(scores, positive, true)?;
    let order = sorted_ascending(scores);
    // Mid-ranks (1-based) of each run of equal scores; sum them over the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mid * order[i..=j].iter().filter(|&&k| positive[k]).count() as f64;
        i = j + 1;
    }
    let (p, n) = (n_pos as f64, n_neg as f64);
    Ok((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// The precision-recall curve of `scores` against `positive`.
///
/// # Errors
/// As [`average_precision`].
pub fn pr_curve(scores: &[f64], positive: &[bool]) -> Result<PrCurve, StatsError> {
    let (n_pos, _) = check(scores, positive, false)?;
    let mut curve = PrCurve { recall: Vec::new(), precision: Vec::new(), thresholds: Vec::new() };
    for (threshold, tp, fp) in cumulative(scores, positive) {
        curve.recall.push(tp as f64 / n_pos as f64);
        curve.precision.push(tp as f64 / (tp + fp) as f64);
        curve.thresholds.push(threshold);
    }
    Ok(curve)
}

/// Average precision: the step-wise area under the precision-recall curve (see the [module
/// documentation](self)). Its chance level is the fraction of positives.
///
/// # Errors
/// [`StatsError::Shape`] when the slices differ in length, [`StatsError::NotFinite`] for a NaN
/// or infinite score, [`StatsError::TooFewSamples`] without a positive.
pub fn average_precision(scores: &[f64], positive: &[bool]) -> Result<f64, StatsError> {
    let curve = pr_curve(scores, positive)?;
    let mut previous = 0.0;
    let mut area = 0.0;
    for (&r, &p) in curve.recall.iter().zip(&curve.precision) {
        area += (r - previous) * p;
        previous = r;
    }
    Ok(area)
}

/// The counts of a decision: samples flagged positive (score above a threshold) against what
/// they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confusion {
    /// Positives flagged.
    pub true_positives: usize,
    /// Negatives flagged.
    pub false_positives: usize,
    /// Negatives not flagged.
    pub true_negatives: usize,
    /// Positives not flagged.
    pub false_negatives: usize,
}

impl Confusion {
    /// The confusion of flagging every sample whose score is strictly above `threshold`.
    ///
    /// # Errors
    /// [`StatsError::Shape`] when the slices differ in length, [`StatsError::NotFinite`] for a
    /// NaN score or threshold (infinite ones are allowed: they flag nothing or everything).
    pub fn at(scores: &[f64], positive: &[bool], threshold: f64) -> Result<Self, StatsError> {
        same_length(scores, positive)?;
        if threshold.is_nan() {
            return Err(StatsError::NotFinite { what: "the threshold", index: 0, value: threshold });
        }
        if let Some(index) = scores.iter().position(|s| s.is_nan()) {
            return Err(StatsError::NotFinite { what: "the scores", index, value: f64::NAN });
        }
        let mut c = Confusion { true_positives: 0, false_positives: 0, true_negatives: 0, false_negatives: 0 };
        for (&s, &p) in scores.iter().zip(positive) {
            match (s > threshold, p) {
                (true, true) => c.true_positives += 1,
                (true, false) => c.false_positives += 1,
                (false, false) => c.true_negatives += 1,
                (false, true) => c.false_negatives += 1,
            }
        }
        Ok(c)
    }

    /// The fraction of flagged samples that are positive (0 when nothing is flagged).
    pub fn precision(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_positives)
    }

    /// The fraction of positives flagged (the true positive rate; 0 without positives).
    pub fn recall(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_negatives)
    }

    /// The harmonic mean of precision and recall (0 when both are).
    pub fn f1(&self) -> f64 {
        ratio(2 * self.true_positives, 2 * self.true_positives + self.false_positives + self.false_negatives)
    }

    /// The fraction of negatives flagged (0 without negatives).
    pub fn false_positive_rate(&self) -> f64 {
        ratio(self.false_positives, self.false_positives + self.true_negatives)
    }

    /// The fraction of samples decided right.
    pub fn accuracy(&self) -> f64 {
        ratio(self.true_positives + self.true_negatives, self.total())
    }

    /// Every sample counted.
    pub fn total(&self) -> usize {
        self.true_positives + self.false_positives + self.true_negatives + self.false_negatives
    }
}

/// The `q`-quantile of `values` (`0 <= q <= 1`), interpolating linearly between the order
/// statistics: `v[⌊h⌋] + (h − ⌊h⌋)(v[⌊h⌋+1] − v[⌊h⌋])` with `h = (n − 1)q` on the sorted values.
///
/// ```
/// use latent_stats::roc::quantile;
/// assert_eq!(quantile(&[3.0, 1.0, 2.0, 4.0], 0.5)?, 2.5);
/// assert_eq!(quantile(&[3.0, 1.0, 2.0, 4.0], 1.0)?, 4.0);
/// # Ok::<(), latent_stats::StatsError>(())
/// ```
///
/// # Errors
/// [`StatsError::TooFewSamples`] for no values, [`StatsError::NotFinite`] for a NaN or infinite
/// value, [`StatsError::InvalidParameter`] for `q` outside `[0, 1]`.
pub fn quantile(values: &[f64], q: f64) -> Result<f64, StatsError> {
    if values.is_empty() {
        return Err(StatsError::TooFewSamples { what: "a quantile", needed: 1, found: 0 });
    }
    if !(0.0..=1.0).contains(&q) {
        return Err(StatsError::InvalidParameter {
            what: "the quantile",
            expected: "a fraction between 0 and 1".into(),
            found: q.to_string(),
        });
    }
    finite("the values", values)?;
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Ok(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn same_length(scores: &[f64], positive: &[bool]) -> Result<(), StatsError> {
    if scores.len() != positive.len() {
        return Err(StatsError::Shape {
            what: "the scores and their labels",
            expected: format!("one label per score ({})", scores.len()),
            found: format!("{} labels", positive.len()),
        });
    }
    Ok(())
}

fn finite(what: &'static str, values: &[f64]) -> Result<(), StatsError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(StatsError::NotFinite { what, index, value: values[index] }),
        None => Ok(()),
    }
}

/// Checks the inputs; returns the counts of positives and negatives. Both must be present when
/// `both`, else at least one positive.
fn check(scores: &[f64], positive: &[bool], both: bool) -> Result<(usize, usize), StatsError> {
    same_length(scores, positive)?;
    finite("the scores", scores)?;
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 {
        return Err(StatsError::TooFewSamples { what: "positive samples", needed: 1, found: 0 });
    }
    if both && n_neg == 0 {
        return Err(StatsError::TooFewSamples { what: "negative samples", needed: 1, found: 0 });
    }
    Ok((n_pos, n_neg))
}

/// Indices of `scores` in ascending order of score (ties by index, so the order is fixed).
fn sorted_ascending(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    order
}

/// For each distinct score from the highest: `(score, positives, negatives)` scoring at least it.
fn cumulative(scores: &[f64], positive: &[bool]) -> Vec<(f64, usize, usize)> {
    let mut order = sorted_ascending(scores);
    order.reverse();
    let mut out = Vec::new();
    let (mut tp, mut fp) = (0, 0);
    for (i, &k) in order.iter().enumerate() {
        if positive[k] {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_run = order.get(i + 1).is_none_or(|&next| scores[next] != scores[k]);
        if last_of_run {
            out.push((scores[k], tp, fp));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use proptest::prelude::*;

    /// The area by counting every (positive, negative) pair: 1 if ordered right, ½ if tied.
    fn by_pairs(scores: &[f64], positive: &[bool]) -> f64 {
        let (mut sum, mut pairs) = (0.0, 0.0);
        for (i, &p) in positive.iter().enumerate() {
            for (j, &q) in positive.iter().enumerate() {
                if p && !q {
                    pairs += 1.0;
                    sum += if scores[i] > scores[j] {
                        1.0
                    } else if scores[i] == scores[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        sum / pairs
    }

    fn trapezoid(curve: &RocCurve) -> f64 {
        let x = &curve.false_positive_rate;
        let y = &curve.true_positive_rate;
        (1..x.len()).map(|i| (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2.0).sum()
    }

    #[test]
    fn a_hand_worked_example_with_ties() {
        // Negatives score 1, 2, 4; positives 2, 3, 5. Pairs (pos, neg): 2>1, 2=2 (½), 2<4,
        // 3>1, 3>2, 3<4, 5>1, 5>2, 5>4: 6.5 of 9.
        let scores = [1.0, 2.0, 4.0, 2.0, 3.0, 5.0];
        let positive = [false, false, false, true, true, true];
        assert_abs_diff_eq!(roc_auc(&scores, &positive).unwrap(), 6.5 / 9.0, epsilon = 1e-15);
        let curve = roc_curve(&scores, &positive).unwrap();
        // From the top: 5 (tp 1), 4 (fp 1), 3 (tp 2), 2 (tp 3, fp 2: a diagonal step), 1.
        assert_eq!(curve.thresholds, [f64::INFINITY, 5.0, 4.0, 3.0, 2.0, 1.0]);
        assert_eq!(curve.true_positive_rate, [0.0, 1.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0, 1.0, 1.0]);
        assert_eq!(curve.false_positive_rate, [0.0, 0.0, 1.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]);
        assert_abs_diff_eq!(trapezoid(&curve), 6.5 / 9.0, epsilon = 1e-15);
        // Precision at each step: 1/1, 1/2, 2/3, 3/5, 3/6; recall 1/3, 1/3, 2/3, 1, 1.
        // AP = 1/3·1 + 0·½ + 1/3·2/3 + 1/3·3/5 + 0 = (1 + 2/3 + 3/5)/3.
        assert_abs_diff_eq!(
            average_precision(&scores, &positive).unwrap(),
            (1.0 + 2.0 / 3.0 + 0.6) / 3.0,
            epsilon = 1e-15
        );
    }

    #[test]
    fn perfect_inverted_and_constant_scores() {
        let positive = [false, false, true, true];
        assert_eq!(roc_auc(&[0.0, 1.0, 2.0, 3.0], &positive).unwrap(), 1.0);
        assert_eq!(roc_auc(&[3.0, 2.0, 1.0, 0.0], &positive).unwrap(), 0.0);
        assert_eq!(roc_auc(&[1.0; 4], &positive).unwrap(), 0.5);
        assert_eq!(average_precision(&[0.0, 1.0, 2.0, 3.0], &positive).unwrap(), 1.0);
        // Constant scores: precision is the positives' share everywhere.
        assert_eq!(average_precision(&[1.0; 4], &positive).unwrap(), 0.5);
    }

    #[test]
    fn the_confusion_at_a_threshold() {
        let scores = [0.1, 0.5, 0.5, 0.9, 0.2];
        let positive = [false, true, false, true, true];
        let c = Confusion::at(&scores, &positive, 0.5).unwrap();
        assert_eq!(c, Confusion { true_positives: 1, false_positives: 0, true_negatives: 2, false_negatives: 2 });
        assert_eq!((c.precision(), c.recall(), c.false_positive_rate()), (1.0, 1.0 / 3.0, 0.0));
        assert_abs_diff_eq!(c.f1(), 0.5, epsilon = 1e-15);
        assert_abs_diff_eq!(c.accuracy(), 0.6, epsilon = 1e-15);
        let none = Confusion::at(&scores, &positive, f64::INFINITY).unwrap();
        assert_eq!((none.precision(), none.recall(), none.f1()), (0.0, 0.0, 0.0));
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [10.0, 0.0, 5.0, 20.0, 15.0];
        assert_eq!(quantile(&v, 0.0).unwrap(), 0.0);
        assert_abs_diff_eq!(quantile(&v, 0.9).unwrap(), 18.0, epsilon = 1e-12); // h = 3.6: 15 + 0.6·5
        assert_eq!(quantile(&[7.0], 0.3).unwrap(), 7.0);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(roc_auc(&[1.0, 2.0], &[true, true]), Err(StatsError::TooFewSamples { .. })));
        assert!(matches!(average_precision(&[1.0, 2.0], &[false, false]), Err(StatsError::TooFewSamples { .. })));
        assert!(average_precision(&[1.0, 2.0], &[true, true]).is_ok());
        let e = roc_auc(&[1.0], &[true, false]).unwrap_err().to_string();
        assert!(e.contains("one label per score (1)") && e.contains("2 labels"), "{e}");
        assert!(matches!(roc_auc(&[1.0, f64::NAN], &[true, false]), Err(StatsError::NotFinite { index: 1, .. })));
        assert!(Confusion::at(&[1.0], &[true], f64::NAN).is_err());
        assert!(quantile(&[], 0.5).is_err());
        assert!(quantile(&[1.0], 1.5).unwrap_err().to_string().contains("1.5"));
        assert!(quantile(&[1.0, f64::INFINITY], 0.5).is_err());
    }

    proptest! {
        #[test]
        fn the_rank_formula_counts_pairs_and_is_the_trapezoid(
            // Few distinct values, so ties are common.
            scores in prop::collection::vec(0u8..6, 2..40),
            flags in prop::collection::vec(any::<bool>(), 40),
        ) {
            let scores: Vec<f64> = scores.iter().map(|&s| f64::from(s)).collect();
            let mut positive: Vec<bool> = flags[..scores.len()].to_vec();
            positive[0] = true;
            positive[1] = false;
            let auc = roc_auc(&scores, &positive).unwrap();
            prop_assert!((auc - by_pairs(&scores, &positive)).abs() < 1e-12);
            prop_assert!((auc - trapezoid(&roc_curve(&scores, &positive).unwrap())).abs() < 1e-12);
            // Flipping the scores flips the area.
            let flipped: Vec<f64> = scores.iter().map(|s| -s).collect();
            prop_assert!((roc_auc(&flipped, &positive).unwrap() - (1.0 - auc)).abs() < 1e-12);
            let ap = average_precision(&scores, &positive).unwrap();
            prop_assert!((0.0..=1.0).contains(&ap));
        }
    }
}
