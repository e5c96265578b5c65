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
pub mod norm;
pub mod operators;
pub mod reduce;
pub mod shape;
pub mod unary;

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};

use crate::error::{Result, TensorError};

use crate::kernels::elementwise;
pub(crate) use crate::kernels::elementwise::{map1, map2, map3, worth_parallel};

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
    // A full array with one that is constant over its trailing axes (a per-channel bias
    // `[1, c, 1, 1]` on `[n, c, h, w]`): contiguous runs with one scalar each, vectorised.
    if a.shape() == shape.as_slice()
        && let Some(v) = map_runs(a, b, &f)
    {
        return Ok(v);
    }
    if b.shape() == shape.as_slice()
        && let Some(v) = map_runs(b, a, &|y, x| f(x, y))
    {
        return Ok(v);
    }
    let a = a.broadcast(IxDyn(&shape)).expect("broadcast shape checked");
    let b = b.broadcast(IxDyn(&shape)).expect("broadcast shape checked");
    Ok(map2(&a, &b, f))
}

/// `f(a, b)` element-wise where `a` is a standard-layout array of the full shape and `b`
/// broadcasts to it while being constant over `a`'s trailing axes from some axis `k` on: `a` is
/// then `outer` contiguous runs of `run = Π shape[k..]` elements, each paired with one value of
/// `b` ([`elementwise::map_runs`]). `None` if `b` does not have that form or the runs are too
/// short to gain.
fn map_runs(
    a: &ArrayViewD<f32>,
    b: &ArrayViewD<f32>,
    f: &(impl Fn(f32, f32) -> f32 + Sync + Send),
) -> Option<ArrayD<f32>> {
    let full = a.shape();
    // b's shape aligned on the right, padded with 1s.
    let mut b_shape = vec![1; full.len() - b.ndim()];
    b_shape.extend_from_slice(b.shape());
    let k = b_shape.iter().rposition(|&d| d != 1).map_or(0, |i| i + 1);
    let run: usize = full[k..].iter().product();
    if run < elementwise::MIN_RUN || full.is_empty() {
        return None;
    }
    // One value of b per run, in the runs' order.
    let b_lead = b.to_shape(IxDyn(&b_shape[..k])).ok()?;
    let scalars: Vec<f32> = b_lead.broadcast(IxDyn(&full[..k]))?.iter().copied().collect();
    elementwise::map_runs(a, &scalars, f)
}

/// Check that `axis` is an axis of a tensor with `ndim` axes.
pub(crate) fn check_axis(op: &'static str, axis: usize, ndim: usize) -> Result<()> {
    if axis < ndim {
        Ok(())
    } else {
        Err(TensorError::invalid(op, format!("axis {axis} out of range for a tensor with {ndim} axes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, ArrayD};

    fn ramp(shape: &[usize]) -> ArrayD<f32> {
        let n: usize = shape.iter().product();
        Array::from_iter((0..n).map(|i| (i as f32 * 0.61).sin() + 1.5)).into_shape_with_order(IxDyn(shape)).unwrap()
    }

    #[test]
    fn broadcast_runs_agree_with_the_general_path_in_both_argument_orders() {
        let big = ramp(&[2, 3, 4, 5]);
        for small in [vec![1, 3, 1, 1], vec![3, 1, 1], vec![2, 1, 1, 1], vec![2, 3, 1, 1], vec![1], vec![5]] {
            let small = ramp(&small);
            let shape = broadcast_shape("t", big.shape(), small.shape()).unwrap();
            let (bb, sb) = (big.broadcast(IxDyn(&shape)).unwrap(), small.broadcast(IxDyn(&shape)).unwrap());
            let f = |x: f32, y: f32| x / y - y;
            let want_ab = ndarray::Zip::from(&bb).and(&sb).map_collect(|&x, &y| f(x, y));
            let want_ba = ndarray::Zip::from(&sb).and(&bb).map_collect(|&x, &y| f(x, y));
            assert_eq!(broadcast_map2("t", &big.view(), &small.view(), f).unwrap(), want_ab, "{:?}", small.shape());
            assert_eq!(broadcast_map2("t", &small.view(), &big.view(), f).unwrap(), want_ba, "{:?}", small.shape());
        }
    }
}
