//! Compute kernels on plain `ndarray` views: no autodiff here, only numbers in and numbers out.
//!
//! The autodiff layer (`crate::ops`, `crate::backprop`) calls these for both its forward values
//! and its backward rules, so a kernel is written, optimised and tested once.
//! - [`matmul`]: strided, rayon-parallel GEMM on matrixmultiply's packed SIMD kernels, and
//!   `dot_gemm`: its unpacked dot-product kernel for `x · Wᵀ`-shaped products.
//! - [`conv`]: 2-D convolution and transposed convolution by im2col + GEMM, parallel over the batch,
//!   and by Winograd's algorithm for the 4×4 stride-2 layers.
//! - [`pool`]: 2-D max and average pooling.
//! - [`norm`]: training-mode batch normalisation, forward and closed-form backward.
//! - [`rectifier`]: the ReLU and leaky ReLU that convolutions, linear layers and batch norm apply
//!   as they write their outputs.
//! - [`elementwise`]: maps over whole arrays, vectorised (AVX2 when present) and parallel when large.
//! - [`vmath`]: branch-free `exp`, `sigmoid`, `softplus`, `tanh` that vectorise inside those maps.

pub mod conv;
mod dot_gemm;
pub mod elementwise;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod rectifier;
pub mod vmath;

#[cfg(test)]
mod test_util;
