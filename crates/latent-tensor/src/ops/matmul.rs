//! Matrix products: [`Tensor::matmul`] (2-D and batched) and the fused affine map
//! [`Tensor::linear`] (`x · wᵀ + b`, PyTorch's `nn.Linear`). Both call the strided parallel GEMM
//! of `kernels::matmul`; transposed operands are passed by strides, never copied, and
//! leading axes are merged into views whenever the layout allows. [`Tensor::linear_rectified`]
//! applies a ReLU or leaky ReLU to the fresh product in place.

use ndarray::{Array2, Array3, ArrayD, ArrayView2, ArrayViewD, Axis, CowArray, Ix2, Ix3, IxDyn};

use crate::error::{Result, TensorError};
use crate::kernels::matmul::{gemm, product};
use crate::kernels::rectifier::Rectifier;
use crate::op::Op;
use crate::tensor::Tensor;

/// `x` (with at least 2 axes) as `[batch, r, c]`: a view when the batch axes merge, else a copy.
fn as_batch<'a>(x: &'a ArrayViewD<'a, f32>) -> CowArray<'a, f32, Ix3> {
    let n = x.ndim();
    let (r, c) = (x.shape()[n - 2], x.shape()[n - 1]);
    let batch: usize = x.shape()[..n - 2].iter().product();
    match x.view().into_shape_with_order((batch, r, c)) {
        Ok(v) => CowArray::from(v),
        Err(_) => {
            CowArray::from(x.as_standard_layout().into_owned().into_shape_with_order((batch, r, c)).expect("standard"))
        }
    }
}

/// `x` (with at least 1 axis) as `[rows, last]`: a view when the leading axes merge, else a copy.
pub(crate) fn as_rows<'a>(x: &'a ArrayViewD<'a, f32>) -> CowArray<'a, f32, Ix2> {
    let last = *x.shape().last().expect("at least 1 axis");
    let rows: usize = x.shape()[..x.ndim() - 1].iter().product();
    match x.view().into_shape_with_order((rows, last)) {
        Ok(v) => CowArray::from(v),
        Err(_) => {
            CowArray::from(x.as_standard_layout().into_owned().into_shape_with_order((rows, last)).expect("standard"))
        }
    }
}

fn maybe_t(m: ArrayView2<'_, f32>, t: bool) -> ArrayView2<'_, f32> {
    if t { m.reversed_axes() } else { m }
}

/// `op(a) · op(b)` where `op` transposes the last two axes when its flag is set. Either side may
/// be 2-D (it is then shared by every batch entry); otherwise the batch axes must be equal.
pub(crate) fn batched_matmul(a: &ArrayViewD<f32>, ta: bool, b: &ArrayViewD<f32>, tb: bool) -> ArrayD<f32> {
    let (an, bn) = (a.ndim(), b.ndim());
    let m = if ta { a.shape()[an - 1] } else { a.shape()[an - 2] };
    let n = if tb { b.shape()[bn - 2] } else { b.shape()[bn - 1] };
    if an == 2 && bn == 2 {
        let (a2, b2) =
            (a.view().into_dimensionality::<Ix2>().expect("2-D"), b.view().into_dimensionality::<Ix2>().expect("2-D"));
        return product(maybe_t(a2, ta), maybe_t(b2, tb)).into_dyn();
    }
    let batch_shape = if an > 2 { &a.shape()[..an - 2] } else { &b.shape()[..bn - 2] };
    let batch: usize = batch_shape.iter().product();
    let a3 = (an > 2).then(|| as_batch(a));
    let b3 = (bn > 2).then(|| as_batch(b));
    let mut out = Array3::<f32>::zeros((batch, m, n));
    for i in 0..batch {
        let am = a3
            .as_ref()
            .map_or_else(|| a.view().into_dimensionality::<Ix2>().expect("2-D"), |x| x.index_axis(Axis(0), i));
        let bm = b3
            .as_ref()
            .map_or_else(|| b.view().into_dimensionality::<Ix2>().expect("2-D"), |x| x.index_axis(Axis(0), i));
        gemm(1.0, maybe_t(am, ta), maybe_t(bm, tb), 0.0, out.index_axis_mut(Axis(0), i));
    }
    let mut shape = batch_shape.to_vec();
    shape.extend([m, n]);
    out.into_shape_with_order(IxDyn(&shape)).expect("contiguous")
}

/// `Σᵢ aᵢᵀ · gᵢ` over the merged leading axes: the gradient of a 2-D operand shared by a batch,
/// and of `linear`'s weight (with `a` = the gradient, `g` = the input).
pub(crate) fn rows_at_b(a: &ArrayViewD<f32>, g: &ArrayViewD<f32>) -> Array2<f32> {
    let (a2, g2) = (as_rows(a), as_rows(g));
    product(a2.view().reversed_axes(), g2.view())
}

impl Tensor {
    /// The matrix product. 2-D × 2-D is `[m, k] · [k, n]`; with more axes the last two are the
    /// matrices and the leading (batch) axes must be equal, or one operand is 2-D and is shared.
    ///
    /// # Errors
    /// If either operand has fewer than 2 axes, the inner sizes differ, or the batch axes differ.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self.shape(), other.shape());
        if a.len() < 2 || b.len() < 2 {
            return Err(TensorError::shapes("matmul", a, b, "must both have at least 2 axes"));
        }
        if a[a.len() - 1] != b[b.len() - 2] {
            return Err(TensorError::shapes("matmul", a, b, "have different inner sizes"));
        }
        if a.len() > 2 && b.len() > 2 && a[..a.len() - 2] != b[..b.len() - 2] {
            return Err(TensorError::shapes("matmul", a, b, "have different batch axes"));
        }
        let v = batched_matmul(&self.view(), false, &other.view(), false);
        Ok(Tensor::from_op(v, &[self, other], || Op::Matmul(self.clone(), other.clone())))
    }

    /// The affine map of `nn.Linear`: `self · wᵀ + b` with `w` as `[out, in]` and `b` as `[out]`.
    /// `self` is `[..., in]`; the result is `[..., out]`.
    ///
    /// # Errors
    /// If `w` is not 2-D, the input's last axis is not `in`, or `b` is not `[out]`.
    pub fn linear(&self, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
        self.linear_rectified(w, b, None)
    }

    /// [`Tensor::linear`] followed by `rectifier`, if given, as one op: the rectifier runs over
    /// the product's fresh output in place (no second array). The values and gradients are
    /// those of `linear` and then [`Tensor::relu`] or [`Tensor::leaky_relu`], bit for bit.
    ///
    /// ```
    /// use latent_tensor::{Rectifier, Tensor};
    ///
    /// let x = Tensor::from_vec(&[1, 2], vec![1.0, 2.0]).unwrap();
    /// let w = Tensor::from_vec(&[2, 2], vec![1.0, 1.0, -1.0, -1.0]).unwrap();
    /// let y = x.linear_rectified(&w, None, Rectifier::leaky(0.5)).unwrap();
    /// assert_eq!(y.to_vec(), [3.0, -1.5]);
    /// ```
    ///
    /// # Errors
    /// As [`Tensor::linear`].
    pub fn linear_rectified(&self, w: &Tensor, b: Option<&Tensor>, rectifier: Option<Rectifier>) -> Result<Tensor> {
        let (xs, ws) = (self.shape(), w.shape());
        if ws.len() != 2 || xs.is_empty() || xs[xs.len() - 1] != ws[1] {
            return Err(TensorError::shapes("linear", xs, ws, "need input [..., in] and weight [out, in]"));
        }
        if let Some(b) = b
            && b.shape() != [ws[0]]
        {
            return Err(TensorError::shapes("linear", ws, b.shape(), "need bias [out] for weight [out, in]"));
        }
        let xv = self.view();
        let x2 = as_rows(&xv);
        let wt = w.view().into_dimensionality::<Ix2>().expect("2-D").reversed_axes();
        let out = match b {
            Some(b) => {
                // The bias in every row, then the product added onto it.
                let bv = b.view().into_dimensionality::<ndarray::Ix1>().expect("1-D");
                let mut out = bv.broadcast((x2.nrows(), ws[0])).expect("[out] broadcasts to rows").to_owned();
                gemm(1.0, x2.view(), wt, 1.0, out.view_mut());
                out
            }
            None => product(x2.view(), wt),
        };
        let mut shape = xs[..xs.len() - 1].to_vec();
        shape.push(ws[0]);
        let mut v = out.into_shape_with_order(IxDyn(&shape)).expect("contiguous");
        if let Some(rectifier) = rectifier {
            rectifier.rectify_array(&mut v);
        }
        let inputs: Vec<&Tensor> = [Some(self), Some(w), b].into_iter().flatten().collect();
        Ok(Tensor::from_op(v, &inputs, || Op::Linear { x: self.clone(), w: w.clone(), b: b.cloned(), rectifier }))
    }
}
