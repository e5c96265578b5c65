//! Reductions (sum, mean, max, log-sum-exp) and the normalisations built on them (softmax,
//! log-softmax), each along chosen axes.
//!
//! Log-sum-exp, softmax and log-softmax subtract the lane's maximum first, so they do not
//! overflow for large inputs; a lane of all `-inf` gives `-inf` (log-sum-exp) rather than NaN.

use ndarray::{ArrayD, ArrayView1, ArrayViewMut1, Axis, IxDyn, Zip};

use super::{check_axis, worth_parallel};
use crate::error::{Result, TensorError};
use crate::op::Op;
use crate::tensor::Tensor;

/// Sorted, de-duplicated axes, each checked against `ndim`.
fn normalise_axes(op: &'static str, axes: &[usize], ndim: usize) -> Result<Vec<usize>> {
    let mut axes = axes.to_vec();
    axes.sort_unstable();
    axes.dedup();
    for &a in &axes {
        check_axis(op, a, ndim)?;
    }
    Ok(axes)
}

/// Sum over `axes` (sorted), re-inserting them as size 1 if `keepdim`.
pub(crate) fn sum_axes_value(x: &ndarray::ArrayViewD<f32>, axes: &[usize], keepdim: bool) -> ArrayD<f32> {
    if axes.len() == x.ndim() && !keepdim {
        return ndarray::arr0(x.sum()).into_dyn();
    }
    let mut v = x.to_owned();
    for &a in axes.iter().rev() {
        v = v.sum_axis(Axis(a));
    }
    if keepdim {
        for &a in axes {
            v = v.insert_axis(Axis(a));
        }
    }
    v
}

/// The shape `x` would have after reducing `axes` with `keepdim = true`.
pub(crate) fn keepdim_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    shape.iter().enumerate().map(|(i, &d)| if axes.contains(&i) { 1 } else { d }).collect()
}

/// `ln Σ e^v` over a lane, shifted by the lane's maximum.
pub(crate) fn lane_logsumexp(lane: ArrayView1<f32>) -> f32 {
    let m = lane.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    if m == f32::NEG_INFINITY {
        return m;
    }
    m + lane.fold(0.0, |s, &v| s + (v - m).exp()).ln()
}

/// Apply `f(out_lane, in_lane)` to every lane along `axis`, in parallel when large.
pub(crate) fn for_each_lane(
    out: &mut ArrayD<f32>,
    x: &ndarray::ArrayViewD<f32>,
    axis: usize,
    f: impl Fn(ArrayViewMut1<f32>, ArrayView1<f32>) + Sync + Send,
) {
    let zip = Zip::from(out.lanes_mut(Axis(axis))).and(x.lanes(Axis(axis)));
    if worth_parallel(x.len()) { zip.par_for_each(f) } else { zip.for_each(f) }
}

fn maybe_keepdim(v: ArrayD<f32>, axis: usize, keepdim: bool) -> ArrayD<f32> {
    if keepdim { v.insert_axis(Axis(axis)) } else { v }
}

impl Tensor {
    /// Sum over `axes`; with `keepdim` the reduced axes stay as size 1.
    ///
    /// # Errors
    /// If an axis is out of range.
    pub fn sum_axes(&self, axes: &[usize], keepdim: bool) -> Result<Tensor> {
        let axes = normalise_axes("sum", axes, self.ndim())?;
        let v = sum_axes_value(&self.view(), &axes, keepdim);
        Ok(Tensor::from_op(v, &[self], || Op::Sum { x: self.clone(), axes, keepdim }))
    }

    /// The sum of all elements, as a 0-dimensional tensor.
    pub fn sum_all(&self) -> Tensor {
        let axes: Vec<usize> = (0..self.ndim()).collect();
        self.sum_axes(&axes, false).expect("all axes are in range")
    }

    /// Mean over `axes`; with `keepdim` the reduced axes stay as size 1.
    ///
    /// # Errors
    /// If an axis is out of range or a reduced axis is empty.
    pub fn mean_axes(&self, axes: &[usize], keepdim: bool) -> Result<Tensor> {
        let axes = normalise_axes("mean", axes, self.ndim())?;
        let count: usize = axes.iter().map(|&a| self.shape()[a]).product();
        if count == 0 {
            return Err(TensorError::invalid("mean", "cannot average over an empty axis"));
        }
        let v = sum_axes_value(&self.view(), &axes, keepdim) / count as f32;
        Ok(Tensor::from_op(v, &[self], || Op::Mean { x: self.clone(), axes, keepdim }))
    }

    /// The mean of all elements, as a 0-dimensional tensor.
    ///
    /// # Errors
    /// If the tensor is empty.
    pub fn mean_all(&self) -> Result<Tensor> {
        let axes: Vec<usize> = (0..self.ndim()).collect();
        self.mean_axes(&axes, false)
    }

    /// The maximum along `axis`. The gradient goes to the first maximal element of each lane.
    ///
    /// # Errors
    /// If the axis is out of range or empty.
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        let (v, argmax) = self.max_with_argmax(axis)?;
        let v = maybe_keepdim(v, axis, keepdim);
        Ok(Tensor::from_op(v, &[self], || Op::Max { x: self.clone(), axis, keepdim, argmax }))
    }

    /// The index of the first maximum along `axis` of each lane, in row-major order of the rest.
    ///
    /// # Errors
    /// If the axis is out of range or empty.
    pub fn argmax_axis(&self, axis: usize) -> Result<Vec<usize>> {
        Ok(self.max_with_argmax(axis)?.1)
    }

    fn max_with_argmax(&self, axis: usize) -> Result<(ArrayD<f32>, Vec<usize>)> {
        check_axis("max", axis, self.ndim())?;
        if self.shape()[axis] == 0 {
            return Err(TensorError::invalid("max", format!("axis {axis} is empty")));
        }
        let x = self.view();
        let pairs = Zip::from(x.lanes(Axis(axis))).map_collect(|lane| {
            let mut best = (lane[0], 0);
            for (i, &v) in lane.iter().enumerate().skip(1) {
                if v > best.0 || (v.is_nan() && !best.0.is_nan()) {
                    best = (v, i);
                }
            }
            best
        });
        let argmax = pairs.iter().map(|p| p.1).collect();
        Ok((pairs.mapv(|p| p.0), argmax))
    }

    /// `ln Σ e^x` along `axis`, without overflow.
    ///
    /// # Errors
    /// If the axis is out of range.
    pub fn logsumexp(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        check_axis("logsumexp", axis, self.ndim())?;
        let v = Zip::from(self.view().lanes(Axis(axis))).map_collect(lane_logsumexp);
        let v = maybe_keepdim(v, axis, keepdim);
        Ok(Tensor::from_op(v, &[self], || Op::LogSumExp { x: self.clone(), axis, keepdim }))
    }

    /// `e^x / Σ e^x` along `axis`, without overflow.
    ///
    /// # Errors
    /// If the axis is out of range.
    pub fn softmax(&self, axis: usize) -> Result<Tensor> {
        check_axis("softmax", axis, self.ndim())?;
        let mut out = ArrayD::zeros(IxDyn(self.shape()));
        for_each_lane(&mut out, &self.view(), axis, |mut o, x| {
            let lse = lane_logsumexp(x);
            o.zip_mut_with(&x, |o, &v| *o = (v - lse).exp());
        });
        Ok(Tensor::from_op(out, &[self], || Op::Softmax { x: self.clone(), axis }))
    }

    /// `x - ln Σ e^x` along `axis`, without overflow.
    ///
    /// # Errors
    /// If the axis is out of range.
    pub fn log_softmax(&self, axis: usize) -> Result<Tensor> {
        check_axis("log_softmax", axis, self.ndim())?;
        let mut out = ArrayD::zeros(IxDyn(self.shape()));
        for_each_lane(&mut out, &self.view(), axis, |mut o, x| {
            let lse = lane_logsumexp(x);
            o.zip_mut_with(&x, |o, &v| *o = v - lse);
        });
        Ok(Tensor::from_op(out, &[self], || Op::LogSoftmax { x: self.clone(), axis }))
    }
}
