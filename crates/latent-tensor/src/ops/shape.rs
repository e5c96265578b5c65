//! Ops that move elements without computing on them: reshape, permute/transpose, broadcast,
//! slice, concatenate/stack, and row gathering (for mini-batches).
//!
//! Reshape of a contiguous tensor, permute, transpose and slice share the input's data: no copy.

use ndarray::{Axis, IxDyn, Slice};

use super::{broadcast_shape, check_axis};
use crate::error::{Result, TensorError};
use crate::op::Op;
use crate::tensor::{Tensor, Value};

impl Tensor {
    /// The same elements in row-major order, with a new shape of the same size.
    ///
    /// # Errors
    /// If the sizes differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if shape.iter().product::<usize>() != self.len() {
            return Err(TensorError::shapes("reshape", self.shape(), shape, "must have the same number of elements"));
        }
        let v: Value = match self.value().clone().into_shape_with_order(IxDyn(shape)) {
            Ok(v) => v,
            Err(_) => self
                .value()
                .as_standard_layout()
                .into_owned()
                .into_shape_with_order(IxDyn(shape))
                .expect("standard layout reshapes")
                .into_shared(),
        };
        Ok(Tensor::from_op(v, &[self], || Op::Reshape(self.clone())))
    }

    /// Collapse the axes from `start` on into one: `[n, c, h, w].flatten(1)` is `[n, c*h*w]`.
    ///
    /// # Errors
    /// If `start` is out of range.
    pub fn flatten(&self, start: usize) -> Result<Tensor> {
        if start >= self.ndim().max(1) {
            return Err(TensorError::invalid(
                "flatten",
                format!("start axis {start} out of range for shape {:?}", self.shape()),
            ));
        }
        let mut shape = self.shape()[..start].to_vec();
        shape.push(self.shape()[start..].iter().product());
        self.reshape(&shape)
    }

    /// Insert a size-1 axis at `axis`.
    ///
    /// # Errors
    /// If `axis > ndim`.
    pub fn unsqueeze(&self, axis: usize) -> Result<Tensor> {
        if axis > self.ndim() {
            return Err(TensorError::invalid(
                "unsqueeze",
                format!("axis {axis} out of range for shape {:?}", self.shape()),
            ));
        }
        let mut shape = self.shape().to_vec();
        shape.insert(axis, 1);
        self.reshape(&shape)
    }

    /// Reorder the axes: output axis `i` is input axis `axes[i]`. Shares the data.
    ///
    /// # Errors
    /// If `axes` is not a permutation of `0..ndim`.
    pub fn permute(&self, axes: &[usize]) -> Result<Tensor> {
        let mut seen = vec![false; self.ndim()];
        if axes.len() != self.ndim() || axes.iter().any(|&a| a >= seen.len() || std::mem::replace(&mut seen[a], true)) {
            return Err(TensorError::invalid(
                "permute",
                format!("{axes:?} is not a permutation of the {} axes of shape {:?}", self.ndim(), self.shape()),
            ));
        }
        let v = self.value().clone().permuted_axes(IxDyn(axes));
        let axes = axes.to_vec();
        Ok(Tensor::from_op(v, &[self], || Op::Permute { x: self.clone(), axes }))
    }

    /// Swap axes `a` and `b`. Shares the data.
    ///
    /// # Errors
    /// If either axis is out of range.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Tensor> {
        check_axis("transpose", a, self.ndim())?;
        check_axis("transpose", b, self.ndim())?;
        let mut axes: Vec<usize> = (0..self.ndim()).collect();
        axes.swap(a, b);
        self.permute(&axes)
    }

    /// The matrix transpose of a 2-D tensor (or of the last two axes). Shares the data.
    ///
    /// # Errors
    /// If the tensor has fewer than two axes.
    pub fn t(&self) -> Result<Tensor> {
        let n = self.ndim();
        if n < 2 {
            return Err(TensorError::invalid("t", format!("needs at least 2 axes, found shape {:?}", self.shape())));
        }
        self.transpose(n - 2, n - 1)
    }

    /// Stretch size-1 (or missing leading) axes to `shape`, NumPy style.
    ///
    /// # Errors
    /// If the shape is not a broadcast of this tensor's shape.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        let joint = broadcast_shape("broadcast_to", self.shape(), shape)?;
        if joint != shape {
            return Err(TensorError::shapes("broadcast_to", self.shape(), shape, "cannot be broadcast to the second"));
        }
        let v = self.view().broadcast(IxDyn(shape)).expect("checked").to_owned();
        Ok(Tensor::from_op(v, &[self], || Op::BroadcastTo(self.clone())))
    }

    /// Elements `start..end` along `axis`. Shares the data.
    ///
    /// # Errors
    /// If the axis is out of range or `start > end` or `end` exceeds the axis.
    pub fn slice(&self, axis: usize, start: usize, end: usize) -> Result<Tensor> {
        check_axis("slice", axis, self.ndim())?;
        if start > end || end > self.shape()[axis] {
            return Err(TensorError::invalid(
                "slice",
                format!("range {start}..{end} does not fit axis {axis} of shape {:?}", self.shape()),
            ));
        }
        let mut v = self.value().clone();
        v.slice_axis_inplace(Axis(axis), Slice::from(start..end));
        Ok(Tensor::from_op(v, &[self], || Op::Slice { x: self.clone(), axis, start, end }))
    }

    /// Join tensors along an existing `axis`; all other axes must agree.
    ///
    /// # Errors
    /// If `tensors` is empty, the axis is out of range, or the other axes differ.
    pub fn concat(tensors: &[Tensor], axis: usize) -> Result<Tensor> {
        let first = tensors.first().ok_or_else(|| TensorError::invalid("concat", "needs at least one tensor"))?;
        check_axis("concat", axis, first.ndim())?;
        for t in &tensors[1..] {
            let same_rest = t.ndim() == first.ndim()
                && t.shape().iter().zip(first.shape()).enumerate().all(|(i, (a, b))| i == axis || a == b);
            if !same_rest {
                return Err(TensorError::shapes(
                    "concat",
                    first.shape(),
                    t.shape(),
                    format!("must agree except on axis {axis}"),
                ));
            }
        }
        let views: Vec<_> = tensors.iter().map(|t| t.view()).collect();
        let v = ndarray::concatenate(Axis(axis), &views).expect("shapes checked");
        let refs: Vec<&Tensor> = tensors.iter().collect();
        Ok(Tensor::from_op(v, &refs, || Op::Concat { xs: tensors.to_vec(), axis }))
    }

    /// Join equally shaped tensors along a new `axis`.
    ///
    /// # Errors
    /// If `tensors` is empty, shapes differ, or `axis > ndim`.
    pub fn stack(tensors: &[Tensor], axis: usize) -> Result<Tensor> {
        let expanded = tensors.iter().map(|t| t.unsqueeze(axis)).collect::<Result<Vec<_>>>()?;
        Tensor::concat(&expanded, axis)
    }

    /// Rows `indices` of axis 0, in that order (repeats allowed): how mini-batches are gathered.
    ///
    /// # Errors
    /// If the tensor has no axes or an index is out of range.
    pub fn gather_rows(&self, indices: &[usize]) -> Result<Tensor> {
        let rows = *self.shape().first().ok_or_else(|| TensorError::invalid("gather_rows", "needs at least 1 axis"))?;
        if let Some(&bad) = indices.iter().find(|&&i| i >= rows) {
            return Err(TensorError::invalid("gather_rows", format!("index {bad} out of range for {rows} rows")));
        }
        let v = self.view().select(Axis(0), indices);
        let indices = indices.to_vec();
        Ok(Tensor::from_op(v, &[self], || Op::GatherRows { x: self.clone(), indices }))
    }
}
