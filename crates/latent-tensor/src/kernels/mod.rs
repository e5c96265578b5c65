//! Compute kernels on plain `ndarray` views: no autodiff here, only numbers in and numbers out.
//!
//! The autodiff layer (`crate::ops`, `crate::backprop`) calls these for both its forward values
//! and its backward rules, so a kernel is written, optimised and tested once.
//! - [`matmul`]: strided, rayon-parallel GEMM on matrixmultiply's packed SIMD kernels.
//! - [`conv`]: 2-D convolution and transposed convolution by im2col + GEMM, parallel over the batch.
//! - [`pool`]: 2-D max and average pooling.

pub mod conv;
pub mod matmul;
pub mod pool;

#[cfg(test)]
mod test_util;
