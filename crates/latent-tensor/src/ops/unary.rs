//! Element-wise unary ops: arithmetic, exponentials and the activation functions.
//!
//! The numerically delicate ones are written in stable forms that never overflow:
//! [`stable_sigmoid`] and [`stable_softplus`] work for any finite input (|x| = 100 included).
//! `exp`, `sigmoid`, `softplus` and `tanh` use the branch-free functions of [`vmath`], which
//! the element-wise maps vectorise (within 3 ulp of the correctly rounded result).

use super::map1;
use crate::error::{Result, TensorError};
use crate::kernels::rectifier::{self, Rectifier};
use crate::kernels::vmath;
use crate::op::Op;
use crate::tensor::Tensor;

/// `1 / (1 + e^-x)`, computed without overflow for either sign of `x` (vectorisable; see
/// [`vmath`]).
#[inline(always)]
pub fn stable_sigmoid(x: f32) -> f32 {
    vmath::sigmoid(x)
}

/// `ln(1 + e^x)`, computed as `max(x, 0) + ln(1 + e^-|x|)` so it never overflows (vectorisable;
/// see [`vmath`]).
#[inline(always)]
pub fn stable_softplus(x: f32) -> f32 {
    vmath::softplus(x)
}

/// Gives a closure literal its `f32 -> f32` type.
fn as_unary<F: Fn(f32) -> f32>(f: F) -> F {
    f
}

macro_rules! unary_op {
    ($(#[$doc:meta])* $name:ident, $variant:ident, $f:expr) => {
        $(#[$doc])*
        pub fn $name(&self) -> Tensor {
            let f = as_unary($f);
            Tensor::from_op(map1(&self.view(), #[inline(always)] move |a: f32| f(a)), &[self], || Op::$variant(self.clone()))
        }
    };
}

impl Tensor {
    unary_op!(
        /// `-self`.
        neg, Neg, |a| -a
    );
    unary_op!(
        /// `e^self`.
        exp, Exp, vmath::exp
    );
    unary_op!(
        /// The natural logarithm (`-inf` at 0, NaN below).
        log, Log, f32::ln
    );
    unary_op!(
        /// The square root.
        sqrt, Sqrt, f32::sqrt
    );
    unary_op!(
        /// The absolute value (gradient 0 at 0, as PyTorch).
        abs, Abs, f32::abs
    );
    unary_op!(
        /// `max(self, 0)` (gradient 0 at 0, as PyTorch).
        relu, Relu, |a: f32| Rectifier::RELU.apply(a)
    );
    unary_op!(
        /// The logistic function, stable for any input.
        sigmoid, Sigmoid, stable_sigmoid
    );
    unary_op!(
        /// The hyperbolic tangent.
        tanh, Tanh, vmath::tanh
    );
    unary_op!(
        /// `ln(1 + e^self)`, stable for any input.
        softplus, Softplus, stable_softplus
    );

    /// `self^p` for a constant exponent `p`.
    pub fn pow(&self, p: f32) -> Tensor {
        Tensor::from_op(map1(&self.view(), move |a| a.powf(p)), &[self], || Op::PowScalar(self.clone(), p))
    }

    /// `self * self`.
    pub fn square(&self) -> Tensor {
        self.pow(2.0)
    }

    /// Values limited to `[min, max]`; the gradient passes where `min <= x <= max` (PyTorch).
    ///
    /// # Errors
    /// If `min > max` or either is NaN.
    pub fn clamp(&self, min: f32, max: f32) -> Result<Tensor> {
        if min.is_nan() || max.is_nan() || min > max {
            return Err(TensorError::invalid("clamp", format!("need min <= max, found min {min}, max {max}")));
        }
        let v = map1(&self.view(), move |a| a.clamp(min, max));
        Ok(Tensor::from_op(v, &[self], || Op::Clamp { x: self.clone(), min, max }))
    }

    /// `x` for `x > 0`, else `slope * x`.
    pub fn leaky_relu(&self, slope: f32) -> Tensor {
        let v = map1(&self.view(), move |a| rectifier::leaky(a, slope));
        Tensor::from_op(v, &[self], || Op::LeakyRelu(self.clone(), slope))
    }

    /// `rectifier` as an op of its own: [`Tensor::relu`] or [`Tensor::leaky_relu`] (the ops
    /// that take one, such as [`Tensor::conv2d_rectified`], apply it as they write instead).
    pub fn rectify(&self, rectifier: Rectifier) -> Tensor {
        match rectifier.slope() {
            None => self.relu(),
            Some(slope) => self.leaky_relu(slope),
        }
    }

    /// `x` for `x > 0`, else `alpha * (e^x - 1)`.
    pub fn elu(&self, alpha: f32) -> Tensor {
        let v = map1(&self.view(), move |a| if a > 0.0 { a } else { alpha * a.exp_m1() });
        Tensor::from_op(v, &[self], || Op::Elu(self.clone(), alpha))
    }
}
