//! How a loss tensor becomes a number: [`Reduction`] (PyTorch's `reduction=` argument, plus
//! `kl_div`'s `batchmean`) and [`sum_per_example`].
//!
//! Every loss in this crate first computes its *loss tensor*, whose shape it documents: the
//! element-wise losses (MSE, BCE, Gaussian NLL, L1 activity) keep the input's shape, the
//! per-example losses (Gaussian KL, contractive, cross-entropy) have shape `[N]`. The reduction
//! then applies to that tensor, so `Mean` of an element-wise loss is PyTorch's mean over every
//! element, and `Mean` of a per-example loss is the mean over the batch.

use std::fmt;
use std::str::FromStr;

use latent_tensor::Tensor;

use crate::error::{LossError, Result};

/// How the loss tensor `ℓ` (of shape `[N, ...]`, the batch first) is reduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Reduction {
    /// No reduction: the loss tensor itself (PyTorch's `'none'`).
    None,
    /// `Σ ℓ` over every element (PyTorch's `'sum'`). The VAE of `pytorch/examples` uses this for
    /// both its BCE and its KL term.
    Sum,
    /// `Σ ℓ / numel(ℓ)`, the mean over every element (PyTorch's `'mean'`, its default).
    #[default]
    Mean,
    /// `Σ ℓ / N`: summed over everything but the batch axis, averaged over the batch (PyTorch's
    /// `kl_div(..., reduction='batchmean')`). For images this is "BCE summed over the pixels of
    /// each image, averaged over the images", the scale on which a VAE's ELBO is usually reported.
    /// For a per-example loss (shape `[N]`) it equals `Mean`.
    BatchMean,
}

impl Reduction {
    /// Every reduction, in declaration order.
    pub const ALL: [Reduction; 4] = [Reduction::None, Reduction::Sum, Reduction::Mean, Reduction::BatchMean];

    /// The reduction's name, as PyTorch spells it (`none`, `sum`, `mean`, `batchmean`).
    pub fn name(self) -> &'static str {
        match self {
            Reduction::None => "none",
            Reduction::Sum => "sum",
            Reduction::Mean => "mean",
            Reduction::BatchMean => "batchmean",
        }
    }

    /// Reduce `loss` (the loss tensor of the loss named `name`, used in error messages).
    ///
    /// # Errors
    /// `Mean` of an empty tensor, and `BatchMean` of a 0-dimensional tensor or an empty batch.
    pub fn apply(self, name: &'static str, loss: &Tensor) -> Result<Tensor> {
        match self {
            Reduction::None => Ok(loss.clone()),
            Reduction::Sum => Ok(loss.sum_all()),
            Reduction::Mean => {
                if loss.is_empty() {
                    return Err(LossError::BadShape {
                        loss: name,
                        name: "loss tensor",
                        shape: loss.shape().to_vec(),
                        why: "the mean of no elements is undefined",
                    });
                }
                Ok(loss.mean_all()?)
            }
            Reduction::BatchMean => {
                let n = batch_size(name, "loss tensor", loss)?;
                Ok(loss.sum_all().div_scalar(n as f32))
            }
        }
    }
}

/// The size of axis 0 of `t`, which must exist and be non-empty.
pub(crate) fn batch_size(loss: &'static str, name: &'static str, t: &Tensor) -> Result<usize> {
    match t.shape().first() {
        Some(&n) if n > 0 => Ok(n),
        Some(_) => {
            Err(LossError::BadShape { loss, name, shape: t.shape().to_vec(), why: "the batch (axis 0) is empty" })
        }
        None => Err(LossError::BadShape {
            loss,
            name,
            shape: t.shape().to_vec(),
            why: "needs a batch axis (at least 1 dimension)",
        }),
    }
}

/// `Σ` over every axis but the first: `[N, ...] → [N]`, one number per example. A 1-dimensional
/// tensor is returned as it is (each element is an example's value).
///
/// # Errors
/// If `t` is 0-dimensional.
pub fn sum_per_example(t: &Tensor) -> Result<Tensor> {
    per_example("sum_per_example", "tensor", t)
}

/// [`sum_per_example`] with the loss and argument named in its error.
pub(crate) fn per_example(loss: &'static str, name: &'static str, t: &Tensor) -> Result<Tensor> {
    match t.ndim() {
        0 => Err(LossError::BadShape { loss, name, shape: vec![], why: "needs a batch axis (at least 1 dimension)" }),
        1 => Ok(t.clone()),
        n => Ok(t.sum_axes(&(1..n).collect::<Vec<_>>(), false)?),
    }
}

impl fmt::Display for Reduction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Reduction {
    type Err = LossError;

    /// PyTorch's spellings (`none`, `sum`, `mean`, `batchmean`), case-insensitive; `batch-mean`
    /// and `batch_mean` are accepted too.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "none" => Ok(Reduction::None),
            "sum" => Ok(Reduction::Sum),
            "mean" => Ok(Reduction::Mean),
            "batchmean" => Ok(Reduction::BatchMean),
            _ => Err(LossError::UnknownName {
                kind: "reduction",
                found: s.to_string(),
                expected: "none, sum, mean, batchmean",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    fn loss() -> Tensor {
        Tensor::new(arr2(&[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    }

    #[test]
    fn reductions_have_pytorch_meaning() {
        let l = loss();
        assert_eq!(Reduction::None.apply("t", &l).unwrap().to_vec(), l.to_vec());
        assert_eq!(Reduction::Sum.apply("t", &l).unwrap().item().unwrap(), 21.0);
        assert_eq!(Reduction::Mean.apply("t", &l).unwrap().item().unwrap(), 3.5);
        assert_eq!(Reduction::BatchMean.apply("t", &l).unwrap().item().unwrap(), 10.5);
        assert_eq!(sum_per_example(&l).unwrap().to_vec(), vec![6.0, 15.0]);
    }

    #[test]
    fn degenerate_shapes_are_errors_not_nan() {
        let empty = Tensor::zeros(&[0, 3]);
        assert!(Reduction::Mean.apply("t", &empty).is_err());
        assert!(Reduction::BatchMean.apply("t", &empty).is_err());
        assert_eq!(Reduction::Sum.apply("t", &empty).unwrap().item().unwrap(), 0.0);
        assert!(Reduction::BatchMean.apply("t", &Tensor::scalar(1.0)).is_err());
        assert!(sum_per_example(&Tensor::scalar(1.0)).is_err());
    }

    #[test]
    fn names_round_trip_and_bad_names_list_the_choices() {
        for r in Reduction::ALL {
            assert_eq!(r.to_string().parse::<Reduction>().unwrap(), r);
        }
        assert_eq!("Batch-Mean".parse::<Reduction>().unwrap(), Reduction::BatchMean);
        let e = "average".parse::<Reduction>().unwrap_err().to_string();
        assert_eq!(e, "unknown reduction \"average\"; expected one of: none, sum, mean, batchmean");
    }
}
