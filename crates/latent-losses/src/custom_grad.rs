//! Clamps that change a value but not its gradient.
//!
//! PyTorch's `gaussian_nll_loss` clamps `var` in place under `no_grad`, and the KL sparsity
//! penalty here keeps ρ̂ away from 0 and 1 the same way: the clamp changes the value, but the
//! gradient flows through it as if it were the identity. That is a fused element-wise op with an
//! identity local derivative ([`Tensor::fused_elementwise`]); under `no_grad`, or when `x` needs
//! no gradient, the result is a plain constant.

use latent_tensor::{LocalGrad, Tensor};

use crate::error::Result;

/// `x` clamped to `[lo, hi]` in value only: the gradient passes through unchanged, as in PyTorch's
/// `with torch.no_grad(): x.clamp_(lo, hi)` on a clone.
pub(crate) fn clamp_value_only(x: &Tensor, lo: f32, hi: f32) -> Result<Tensor> {
    let clamped = x.view().mapv(|v| v.clamp(lo, hi));
    Ok(Tensor::fused_elementwise(clamped, &[(x, &|| LocalGrad::Identity)])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use latent_tensor::no_grad;
    use ndarray::arr1;

    #[test]
    fn clamp_in_value_only_passes_the_gradient() {
        let x = Tensor::parameter(arr1(&[0.0f32, 0.5, 2.0]));
        let y = clamp_value_only(&x, 0.1, 1.0).unwrap();
        assert_eq!(y.to_vec(), vec![0.1, 0.5, 1.0]);
        let grads = y.sum_all().backward().unwrap();
        assert_eq!(grads.get_array(&x).unwrap().as_slice().unwrap(), &[1.0, 1.0, 1.0]);
    }

    #[test]
    fn nothing_is_recorded_without_gradients() {
        let x = Tensor::parameter(arr1(&[0.0f32, 2.0]));
        let _guard = no_grad();
        let y = clamp_value_only(&x, 0.1, 1.0).unwrap();
        assert!(!y.requires_grad());
        assert_eq!(y.to_vec(), vec![0.1, 1.0]);
    }
}
