//! Batch normalisation in training mode as one op ([`Tensor::batch_norm`]).
//!
//! Composed of primitive ops, a training-mode batch norm is about eight passes forward and a
//! dozen backward, each allocating a temporary the graph keeps alive. This op computes the
//! output in two passes and its gradients in closed form (see `kernels::norm`),
//! keeping only the input and three numbers per channel for the backward pass.

use std::sync::Arc;

use crate::error::{Result, TensorError};
use crate::kernels::norm::{ChannelStats, batch_norm_forward};
use crate::kernels::rectifier::Rectifier;
use crate::op::Op;
use crate::tensor::Tensor;

impl Tensor {
    /// Training-mode batch normalisation of `self: [n, c, ...]` over the batch and every
    /// trailing axis (PyTorch's `batch_norm(training=True)` without running statistics):
    /// `(x − mean) / √(var + eps) · weight + bias` per channel, with the biased batch variance.
    /// `weight` and `bias` are optional `[c]` tensors. Returns the output and the batch
    /// statistics (for the caller's running averages).
    ///
    /// # Errors
    /// If `self` has fewer than 2 axes or no values per channel, `weight`/`bias` are not `[c]`,
    /// or `eps` is negative or not finite.
    pub fn batch_norm(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f32,
    ) -> Result<(Tensor, ChannelStats)> {
        self.batch_norm_rectified(weight, bias, eps, None)
    }

    /// [`Tensor::batch_norm`] followed by `rectifier`, if given, as one op: the normalising
    /// pass rectifies each run of values as it writes it. The values and gradients are those of
    /// `batch_norm` and then [`Tensor::relu`] or [`Tensor::leaky_relu`], bit for bit.
    ///
    /// ```
    /// use latent_tensor::{Rectifier, Tensor};
    ///
    /// let x = Tensor::from_vec(&[4, 1], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    /// let (y, _) = x.batch_norm_rectified(None, None, 0.0, Some(Rectifier::RELU)).unwrap();
    /// let v = y.to_vec();
    /// assert_eq!(&v[..2], [0.0, 0.0]); // the two values below the mean
    /// assert!(v[2] > 0.0 && v[3] > v[2]);
    /// ```
    ///
    /// # Errors
    /// As [`Tensor::batch_norm`].
    pub fn batch_norm_rectified(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f32,
        rectifier: Option<Rectifier>,
    ) -> Result<(Tensor, ChannelStats)> {
        const OP: &str = "batch_norm";
        let shape = self.shape();
        if shape.len() < 2 {
            return Err(TensorError::invalid(OP, format!("input must be [n, c, ...], found shape {shape:?}")));
        }
        let c = shape[1];
        if shape.iter().product::<usize>() == 0 {
            return Err(TensorError::invalid(OP, format!("input has no values per channel, shape {shape:?}")));
        }
        for (name, t) in [("weight", weight), ("bias", bias)] {
            if let Some(t) = t
                && t.shape() != [c]
            {
                return Err(TensorError::shapes(OP, shape, t.shape(), format!("{name} must be [c] = [{c}]")));
            }
        }
        if !(eps >= 0.0 && eps.is_finite()) {
            return Err(TensorError::invalid(OP, format!("eps must be finite and non-negative, found {eps}")));
        }
        let x = self.view();
        let x = x.as_standard_layout();
        let w = weight.map(|w| w.value().iter().copied().collect::<Vec<f32>>());
        let b = bias.map(|b| b.value().iter().copied().collect::<Vec<f32>>());
        let (out, stats) = batch_norm_forward(&x.view(), w.as_deref(), b.as_deref(), eps, rectifier);
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        let recorded = Arc::new(stats.clone());
        let tensor = Tensor::from_op(out, &inputs, || Op::BatchNorm {
            x: self.clone(),
            weight: weight.cloned(),
            bias: bias.cloned(),
            stats: recorded,
            rectifier,
        });
        Ok((tensor, stats))
    }
}
