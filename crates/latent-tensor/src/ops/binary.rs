//! Element-wise binary ops with NumPy broadcasting, and ops with a scalar operand.

use super::{broadcast_map2, map1};
use crate::error::Result;
use crate::op::Op;
use crate::tensor::Tensor;

impl Tensor {
    /// `self + other`, broadcasting.
    ///
    /// # Errors
    /// If the shapes do not broadcast.
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        let v = broadcast_map2("add", &self.view(), &other.view(), |a, b| a + b)?;
        Ok(Tensor::from_op(v, &[self, other], || Op::Add(self.clone(), other.clone())))
    }

    /// `self - other`, broadcasting.
    ///
    /// # Errors
    /// If the shapes do not broadcast.
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        let v = broadcast_map2("sub", &self.view(), &other.view(), |a, b| a - b)?;
        Ok(Tensor::from_op(v, &[self, other], || Op::Sub(self.clone(), other.clone())))
    }

    /// `self * other` element-wise, broadcasting.
    ///
    /// # Errors
    /// If the shapes do not broadcast.
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        let v = broadcast_map2("mul", &self.view(), &other.view(), |a, b| a * b)?;
        Ok(Tensor::from_op(v, &[self, other], || Op::Mul(self.clone(), other.clone())))
    }

    /// `self / other` element-wise, broadcasting.
    ///
    /// # Errors
    /// If the shapes do not broadcast.
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        let v = broadcast_map2("div", &self.view(), &other.view(), |a, b| a / b)?;
        Ok(Tensor::from_op(v, &[self, other], || Op::Div(self.clone(), other.clone())))
    }

    /// `self + s`.
    pub fn add_scalar(&self, s: f32) -> Tensor {
        Tensor::from_op(map1(&self.view(), |a| a + s), &[self], || Op::AddScalar(self.clone()))
    }

    /// `self - s`.
    pub fn sub_scalar(&self, s: f32) -> Tensor {
        self.add_scalar(-s)
    }

    /// `self * s`.
    pub fn mul_scalar(&self, s: f32) -> Tensor {
        Tensor::from_op(map1(&self.view(), |a| a * s), &[self], || Op::MulScalar(self.clone(), s))
    }

    /// `self / s`.
    pub fn div_scalar(&self, s: f32) -> Tensor {
        self.mul_scalar(1.0 / s)
    }

    /// `s - self`.
    pub fn rsub_scalar(&self, s: f32) -> Tensor {
        self.neg().add_scalar(s)
    }
}
