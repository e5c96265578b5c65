//! Classification on logits with integer labels: linear probes on latent codes, and the
//! classifiers that score generated samples.

use latent_tensor::Tensor;

use crate::error::{LossError, Result};
use crate::reduction::Reduction;

/// Check that `logits` is `[N, C]` and `labels` holds `N` labels below `C`.
fn check_labels(loss: &'static str, logits: &Tensor, labels: &[usize]) -> Result<(usize, usize)> {
    let &[n, classes] = logits.shape() else {
        return Err(LossError::BadShape {
            loss,
            name: "logits",
            shape: logits.shape().to_vec(),
            why: "must be [N, C] (a batch of class scores)",
        });
    };
    if labels.len() != n {
        return Err(LossError::ShapeMismatch {
            loss,
            left_name: "logits",
            left: logits.shape().to_vec(),
            right_name: "labels",
            right: vec![labels.len()],
            why: "must have one label per row",
        });
    }
    if let Some((index, &label)) = labels.iter().enumerate().find(|&(_, &l)| l >= classes) {
        return Err(LossError::LabelOutOfRange { loss, index, label, classes });
    }
    Ok((n, classes))
}

/// Cross-entropy of integer `labels` under the softmax of `logits` (`[N, C]`)
/// (`torch.nn.functional.cross_entropy` with class indices):
///
/// `ℓₙ = -log_softmax(logitsₙ)[yₙ] = logsumexp(logitsₙ) - logitsₙ[yₙ]`,
///
/// a loss tensor of shape `[N]`, then `reduction` (`Mean` = `BatchMean` is PyTorch's default).
/// The log-softmax subtracts each row's maximum, so any finite logits (|x| = 100 included) give
/// a finite loss; the gradient is `softmax(logitsₙ) - onehot(yₙ)` (over the reduction's count).
///
/// # Errors
/// If `logits` is not 2-dimensional, the number of labels is not `N`, a label is not below `C`,
/// or the reduction fails.
pub fn cross_entropy(logits: &Tensor, labels: &[usize], reduction: Reduction) -> Result<Tensor> {
    const LOSS: &str = "cross_entropy";
    let (n, classes) = check_labels(LOSS, logits, labels)?;
    let picked: Vec<usize> = labels.iter().enumerate().map(|(i, &y)| i * classes + y).collect();
    let log_probs = logits.log_softmax(1)?.reshape(&[n * classes])?;
    reduction.apply(LOSS, &log_probs.gather_rows(&picked)?.neg())
}

/// The fraction of rows of `logits` (`[N, C]`) whose largest logit is at the row's label (ties
/// go to the lowest index). Not differentiable: a metric for probes, not a loss.
///
/// # Errors
/// As [`cross_entropy`], and if the batch is empty.
pub fn accuracy(logits: &Tensor, labels: &[usize]) -> Result<f32> {
    const LOSS: &str = "accuracy";
    let (n, _) = check_labels(LOSS, logits, labels)?;
    if n == 0 {
        return Err(LossError::BadShape {
            loss: LOSS,
            name: "logits",
            shape: logits.shape().to_vec(),
            why: "the batch is empty",
        });
    }
    let predicted = logits.argmax_axis(1)?;
    let correct = predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
    Ok(correct as f32 / n as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    #[test]
    fn cross_entropy_by_hand() {
        let logits = Tensor::parameter(arr2(&[[0.0f32, 0.0], [2.0, 0.0]]));
        let l = cross_entropy(&logits, &[1, 0], Reduction::None).unwrap().to_vec();
        assert!((l[0] - std::f32::consts::LN_2).abs() < 1e-6);
        assert!((l[1] - (1.0 + (-2.0f32).exp()).ln()).abs() < 1e-6);
        let g = cross_entropy(&logits, &[1, 0], Reduction::Sum).unwrap().backward().unwrap();
        let g = g.get_array(&logits).unwrap();
        assert!((g[[0, 0]] - 0.5).abs() < 1e-6 && (g[[0, 1]] + 0.5).abs() < 1e-6, "{g}");
        assert!((g[[1, 0]] + g[[1, 1]]).abs() < 1e-6 && g[[1, 0]] < 0.0, "{g}");
    }

    #[test]
    fn extreme_logits_stay_finite() {
        let logits = Tensor::parameter(arr2(&[[100.0f32, -100.0, 0.0], [-100.0, 100.0, 100.0]]));
        let l = cross_entropy(&logits, &[1, 0], Reduction::None).unwrap();
        let v = l.to_vec();
        assert!((v[0] - 200.0).abs() < 1e-4 && (v[1] - (200.0 + 2f32.ln())).abs() < 1e-4, "{v:?}");
        let g = l.sum_all().backward().unwrap();
        assert!(g.get_array(&logits).unwrap().iter().all(|v| v.is_finite()));
    }

    #[test]
    fn labels_are_checked() {
        let logits = Tensor::zeros(&[2, 3]);
        let e = cross_entropy(&logits, &[0, 3], Reduction::Mean).unwrap_err();
        assert_eq!(e, LossError::LabelOutOfRange { loss: "cross_entropy", index: 1, label: 3, classes: 3 });
        assert_eq!(e.to_string(), "cross_entropy: label 3 at position 1 is out of range for 3 classes");
        assert!(matches!(cross_entropy(&logits, &[0], Reduction::Mean), Err(LossError::ShapeMismatch { .. })));
        assert!(matches!(cross_entropy(&Tensor::zeros(&[3]), &[0], Reduction::Mean), Err(LossError::BadShape { .. })));
    }

    #[test]
    fn accuracy_counts_argmax_hits() {
        let logits = Tensor::new(arr2(&[[0.1f32, 0.9], [0.8, 0.2], [0.3, 0.7], [0.5, 0.5]]));
        assert_eq!(accuracy(&logits, &[1, 0, 0, 0]).unwrap(), 0.75);
        assert!(accuracy(&Tensor::zeros(&[0, 2]), &[]).is_err());
    }
}
