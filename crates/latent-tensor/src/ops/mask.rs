//! Element-wise masks: the op behind (inverted) dropout.

use ndarray::ArrayD;

use super::map2;
use crate::error::{Result, TensorError};
use crate::op::Op;
use crate::random::TensorRng;
use crate::tensor::Tensor;

impl Tensor {
    /// `self * mask` for a constant `mask` of the same shape; the gradient is `grad * mask`.
    ///
    /// # Errors
    /// If the shapes differ.
    pub fn mask(&self, mask: ArrayD<f32>) -> Result<Tensor> {
        if mask.shape() != self.shape() {
            return Err(TensorError::shapes("mask", self.shape(), mask.shape(), "must be equal"));
        }
        let v = map2(&self.view(), &mask.view(), |a, m| a * m);
        let mask = mask.into_shared();
        Ok(Tensor::from_op(v, &[self], || Op::Mask { x: self.clone(), mask }))
    }

    /// Inverted dropout: each element is zeroed with probability `p`, the rest scaled by
    /// `1 / (1 - p)`, so the expectation is unchanged. `p = 0` returns the tensor itself.
    ///
    /// # Errors
    /// If `p` is not in `[0, 1)`.
    pub fn dropout(&self, p: f32, rng: &mut TensorRng) -> Result<Tensor> {
        if !(0.0..1.0).contains(&p) {
            return Err(TensorError::invalid("dropout", format!("probability must be in [0, 1), found {p}")));
        }
        if p == 0.0 {
            return Ok(self.clone());
        }
        let keep = rng.bernoulli_array(self.shape(), 1.0 - p)?;
        self.mask(keep.mapv(|k| k / (1.0 - p)))
    }
}
