//! The differentiable operations, one file per family, as methods on [`Tensor`](crate::Tensor).
//!
//! Each method computes its value eagerly and records an `Op` through
//! `Tensor::from_op`; its backward rule lives in [`crate::backprop`]. This module also holds the
//! small helpers the families share: broadcasting shapes, summing a gradient back to an input's
//! shape, and element-wise maps that go parallel on large arrays.

pub mod binary;
pub mod conv;
pub mod fused;
pub mod mask;
pub mod matmul;
pub mod reduce;
pub mod shape;
pub mod unary;

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Zip};

use crate::error::{Result, TensorError};

/// Element counts at or above this are mapped in parallel (below it, rayon costs more than it saves).
pub(crate) const PARALLEL_MIN_LEN: usize = 1 << 15;

/// The NumPy broadcast of two shapes.
pub(crate) fn broadcast_shape(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(TensorError::shapes(op, a, b, "do not broadcast (NumPy rules)")),
        };
    }
    Ok(out)
}

/// Sum `grad` over the axes that broadcasting stretched, so it takes `shape`.
pub(crate) fn sum_to_shape(grad: ArrayViewD<f32>, shape: &[usize]) -> ArrayD<f32> {
    if grad.shape() == shape {
        return grad.to_owned();
    }
    let lead = grad.ndim() - shape.len();
    let mut g = grad.to_owned();
    for _ in 0..lead {
        g = g.sum_axis(Axis(0));
    }
    for (axis, &d) in shape.iter().enumerate() {
        if d == 1 && g.shape()[axis] != 1 {
            g = g.sum_axis(Axis(axis)).insert_axis(Axis(axis));
        }
    }
    g
}

/// `f` applied to every element, in parallel when the array is large.
pub(crate) fn map1(a: &ArrayViewD<f32>, f: impl Fn(f32) -> f32 + Sync + Send) -> ArrayD<f32> {
    let zip = Zip::from(a);
    if a.len() >= PARALLEL_MIN_LEN { zip.par_map_collect(|&x| f(x)) } else { zip.map_collect(|&x| f(x)) }
}

/// `f` applied element-wise to two arrays of the same shape, in parallel when large.
pub(crate) fn map2(a: &ArrayViewD<f32>, b: &ArrayViewD<f32>, f: impl Fn(f32, f32) -> f32 + Sync + Send) -> ArrayD<f32> {
    let zip = Zip::from(a).and(b);
    if a.len() >= PARALLEL_MIN_LEN { zip.par_map_collect(|&x, &y| f(x, y)) } else { zip.map_collect(|&x, &y| f(x, y)) }
}

/// `f` applied element-wise to three arrays of the same shape, in parallel when large.
pub(crate) fn map3(
    a: &ArrayViewD<f32>,
    b: &ArrayViewD<f32>,
    c: &ArrayViewD<f32>,
    f: impl Fn(f32, f32, f32) -> f32 + Sync + Send,
) -> ArrayD<f32> {
    let zip = Zip::from(a).and(b).and(c);
    if a.len() >= PARALLEL_MIN_LEN {
        zip.par_map_collect(|&x, &y, &z| f(x, y, z))
    } else {
        zip.map_collect(|&x, &y, &z| f(x, y, z))
    }
}

/// `f` applied element-wise to two arrays broadcast to their common shape.
pub(crate) fn broadcast_map2(
    op: &'static str,
    a: &ArrayViewD<f32>,
    b: &ArrayViewD<f32>,
    f: impl Fn(f32, f32) -> f32 + Sync + Send,
) -> Result<ArrayD<f32>> {
    if a.shape() == b.shape() {
        return Ok(map2(a, b, f));
    }
    let shape = broadcast_shape(op, a.shape(), b.shape())?;
    let a = a.broadcast(IxDyn(&shape)).expect("broadcast shape checked");
    let b = b.broadcast(IxDyn(&shape)).expect("broadcast shape checked");
    Ok(map2(&a, &b, f))
}

/// Check that `axis` is an axis of a tensor with `ndim` axes.
pub(crate) fn check_axis(op: &'static str, axis: usize, ndim: usize) -> Result<()> {
    if axis < ndim {
        Ok(())
    } else {
        Err(TensorError::invalid(op, format!("axis {axis} out of range for a tensor with {ndim} axes")))
    }
}
