//! Fused element-wise ops: a value and its local derivatives computed by the caller in one pass.
//!
//! Composing ops costs a pass over memory per op and keeps every intermediate alive for the
//! backward pass. An element-wise function `y = f(x₁, …, xₖ)` whose derivatives `∂y/∂xᵢ` are
//! cheap to compute alongside `y` (BCE on logits: `∂/∂x = σ(x) - t`; the Gaussian KL) can instead
//! hand both to [`Tensor::fused_elementwise`], which records one op whose backward rule is
//! `gᵢ = sum_to_shape(g · ∂y/∂xᵢ)`. The same mechanism gives a value with a chosen gradient, such
//! as a clamp that changes the value only ([`LocalGrad::Identity`]).

use ndarray::ArrayD;

use super::broadcast_shape;
use crate::error::{Result, TensorError};
use crate::op::Op;
use crate::tensor::{Tensor, Value, is_grad_enabled};

/// The derivative of a fused op's output with respect to one input, element by element.
#[derive(Clone, Debug)]
pub enum LocalGrad {
    /// `∂y/∂x = 1` everywhere: the gradient passes straight through.
    Identity,
    /// `∂y/∂x` for each element of the output (the output's shape).
    Values(ArrayD<f32>),
}

impl Tensor {
    /// A tensor with the given `value` whose gradient with respect to each input is the upstream
    /// gradient times that input's [`LocalGrad`] (summed back over broadcast axes). Each
    /// `local` closure runs only if its input needs a gradient and recording is on.
    ///
    /// # Errors
    /// If an input does not broadcast to the value's shape, or a derivative has another shape.
    pub fn fused_elementwise(value: ArrayD<f32>, parts: &[(&Tensor, &dyn Fn() -> LocalGrad)]) -> Result<Tensor> {
        for (x, _) in parts {
            if broadcast_shape("fused_elementwise", x.shape(), value.shape())? != value.shape() {
                return Err(TensorError::shapes(
                    "fused_elementwise",
                    x.shape(),
                    value.shape(),
                    "input must broadcast to the value",
                ));
            }
        }
        if !is_grad_enabled() || !parts.iter().any(|(x, _)| x.requires_grad()) {
            return Ok(Tensor::new(value));
        }
        let mut recorded = Vec::with_capacity(parts.len());
        for (x, local) in parts {
            // An input that needs no gradient is kept (as Identity) only so the op lists all inputs.
            let derivative = if x.requires_grad() { local() } else { LocalGrad::Identity };
            let derivative: Option<Value> = match derivative {
                LocalGrad::Identity => None,
                LocalGrad::Values(d) if d.shape() == value.shape() => Some(d.into_shared()),
                LocalGrad::Values(d) => {
                    return Err(TensorError::shapes(
                        "fused_elementwise",
                        d.shape(),
                        value.shape(),
                        "derivative must have the value's shape",
                    ));
                }
            };
            recorded.push(((*x).clone(), derivative));
        }
        let inputs: Vec<&Tensor> = parts.iter().map(|(x, _)| *x).collect();
        Ok(Tensor::from_op(value, &inputs, || Op::Elementwise { parts: recorded }))
    }
}
