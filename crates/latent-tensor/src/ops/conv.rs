//! Convolution and pooling on `[batch, channels, height, width]` tensors, with PyTorch's
//! semantics and weight layouts: [`Tensor::conv2d`] (weight `[out, in, kh, kw]`),
//! [`Tensor::conv_transpose2d`] (weight `[in, out, kh, kw]`), [`Tensor::max_pool2d`] and
//! [`Tensor::avg_pool2d`]. The arithmetic lives in `kernels::conv` and
//! `kernels::pool`; this module checks shapes and records the ops.
//!
//! [`Tensor::conv2d_rectified`] and [`Tensor::conv_transpose2d_rectified`] apply a ReLU or
//! leaky ReLU ([`Rectifier`]) as the kernels write the output, instead of a second pass.

use crate::error::{Result, TensorError};
use ndarray::{Array4, ArrayView4};

use crate::kernels::conv::Epilogue;
use crate::kernels::rectifier::Rectifier;
use crate::kernels::{conv as kconv, pool as kpool};
use crate::op::Op;
use crate::tensor::Tensor;

pub use crate::kernels::conv::ConvOptions;

/// Window, stride and padding of a pooling op, per spatial axis `(h, w)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dOptions {
    /// The window size.
    pub kernel: (usize, usize),
    /// The step between windows.
    pub stride: (usize, usize),
    /// Padding on each side (`-inf` for max pooling; counted as zeros by average pooling, as
    /// PyTorch's default `count_include_pad = true`).
    pub padding: (usize, usize),
}

impl Pool2dOptions {
    /// A square window of `kernel` with stride `stride` and no padding.
    pub fn new(kernel: usize, stride: usize) -> Self {
        Pool2dOptions { kernel: (kernel, kernel), stride: (stride, stride), padding: (0, 0) }
    }
}

fn require_4d(op: &'static str, what: &str, t: &Tensor) -> Result<()> {
    if t.ndim() == 4 {
        Ok(())
    } else {
        Err(TensorError::invalid(op, format!("{what} must be 4-D, found shape {:?}", t.shape())))
    }
}

fn require_positive(op: &'static str, name: &str, v: (usize, usize)) -> Result<()> {
    if v.0 > 0 && v.1 > 0 {
        Ok(())
    } else {
        Err(TensorError::invalid(op, format!("{name} must be positive, found {v:?}")))
    }
}

/// Checks that a convolution's bias, if any, is `[out]` for the weight's `out` channels.
fn require_bias(op: &'static str, bias: Option<&Tensor>, w_shape: &[usize], out: usize) -> Result<()> {
    match bias {
        Some(b) if b.shape() != [out] => {
            Err(TensorError::shapes(op, w_shape, b.shape(), format!("need bias [{out}], one value per output channel")))
        }
        _ => Ok(()),
    }
}

/// A convolution's weight, bias, geometry and rectifier.
#[derive(Clone, Copy)]
struct Layer<'a> {
    w: &'a Tensor,
    bias: Option<&'a Tensor>,
    options: ConvOptions,
    rectifier: Option<Rectifier>,
}

impl Tensor {
    /// 2-D convolution (cross-correlation, as PyTorch) of `[n, in, h, w]` with a weight
    /// `[out, in, kh, kw]` and an optional bias `[out]` (added to every position of its channel,
    /// in place in the result; its gradient is the output gradient's per-channel sum).
    ///
    /// # Errors
    /// If the tensors are not 4-D, channels differ, the bias is not `[out]`, the stride is 0,
    /// or the kernel does not fit.
    pub fn conv2d(&self, w: &Tensor, bias: Option<&Tensor>, options: ConvOptions) -> Result<Tensor> {
        self.conv2d_rectified(w, bias, options, None)
    }

    /// [`Tensor::conv2d`] followed by `rectifier`, if given, as one op: the kernels rectify each
    /// value as they write it. The values and gradients are those of `conv2d` and then
    /// [`Tensor::relu`] or [`Tensor::leaky_relu`], bit for bit.
    ///
    /// ```
    /// use latent_tensor::{ConvOptions, Rectifier, Tensor};
    ///
    /// let x = Tensor::from_vec(&[1, 1, 2, 2], vec![1.0, -2.0, 3.0, -4.0]).unwrap();
    /// let w = Tensor::from_vec(&[1, 1, 1, 1], vec![1.0]).unwrap();
    /// let y = x.conv2d_rectified(&w, None, ConvOptions::new(1, 0), Some(Rectifier::RELU)).unwrap();
    /// assert_eq!(y.to_vec(), [1.0, 0.0, 3.0, 0.0]);
    /// ```
    ///
    /// # Errors
    /// As [`Tensor::conv2d`].
    pub fn conv2d_rectified(
        &self,
        w: &Tensor,
        bias: Option<&Tensor>,
        options: ConvOptions,
        rectifier: Option<Rectifier>,
    ) -> Result<Tensor> {
        require_4d("conv2d", "input", self)?;
        require_4d("conv2d", "weight", w)?;
        require_positive("conv2d", "stride", options.stride)?;
        let (x_shape, w_shape) = (self.shape(), w.shape());
        if x_shape[1] != w_shape[1] {
            return Err(TensorError::shapes(
                "conv2d",
                x_shape,
                w_shape,
                "need input [n, c, h, w] and weight [o, c, kh, kw]",
            ));
        }
        kconv::conv2d_output_size((x_shape[2], x_shape[3]), (w_shape[2], w_shape[3]), options).ok_or_else(|| {
            TensorError::shapes(
                "conv2d",
                x_shape,
                w_shape,
                format!("kernel does not fit the padded input ({options:?})"),
            )
        })?;
        require_bias("conv2d", bias, w_shape, w_shape[0])?;
        let layer = Layer { w, bias, options, rectifier };
        Ok(self.convolve(layer, kconv::conv2d_with, |x, w, b| Op::Conv2d { x, w, b, options, rectifier }))
    }

    /// 2-D transposed convolution of `[n, in, h, w]` with a weight `[in, out, kh, kw]`: the
    /// adjoint of [`Tensor::conv2d`], giving `[n, out, (h-1)·s - 2p + kh + output_padding, ...]`,
    /// plus an optional bias `[out]` as in [`Tensor::conv2d`].
    ///
    /// # Errors
    /// If the tensors are not 4-D, channels differ, the bias is not `[out]`, the stride is 0, the
    /// output padding is not smaller than the stride, or the output would be empty.
    pub fn conv_transpose2d(&self, w: &Tensor, bias: Option<&Tensor>, options: ConvOptions) -> Result<Tensor> {
        self.conv_transpose2d_rectified(w, bias, options, None)
    }

    /// [`Tensor::conv_transpose2d`] followed by `rectifier`, if given, as one op, as
    /// [`Tensor::conv2d_rectified`] is for [`Tensor::conv2d`].
    ///
    /// # Errors
    /// As [`Tensor::conv_transpose2d`].
    pub fn conv_transpose2d_rectified(
        &self,
        w: &Tensor,
        bias: Option<&Tensor>,
        options: ConvOptions,
        rectifier: Option<Rectifier>,
    ) -> Result<Tensor> {
        require_4d("conv_transpose2d", "input", self)?;
        require_4d("conv_transpose2d", "weight", w)?;
        require_positive("conv_transpose2d", "stride", options.stride)?;
        let (x_shape, w_shape) = (self.shape(), w.shape());
        if x_shape[1] != w_shape[0] {
            return Err(TensorError::shapes(
                "conv_transpose2d",
                x_shape,
                w_shape,
                "need input [n, c, h, w] and weight [c, o, kh, kw]",
            ));
        }
        if options.output_padding.0 >= options.stride.0 || options.output_padding.1 >= options.stride.1 {
            return Err(TensorError::invalid(
                "conv_transpose2d",
                format!("output padding must be smaller than the stride ({options:?})"),
            ));
        }
        kconv::conv_transpose2d_output_size((x_shape[2], x_shape[3]), (w_shape[2], w_shape[3]), options).ok_or_else(
            || {
                TensorError::shapes(
                    "conv_transpose2d",
                    x_shape,
                    w_shape,
                    format!("output would be empty ({options:?})"),
                )
            },
        )?;
        require_bias("conv_transpose2d", bias, w_shape, w_shape[1])?;
        let layer = Layer { w, bias, options, rectifier };
        Ok(self.convolve(layer, kconv::conv_transpose2d_with, |x, w, b| Op::ConvTranspose2d {
            x,
            w,
            b,
            options,
            rectifier,
        }))
    }

    /// The validated convolution `kernel` of `self` by `layer` (its bias and rectifier applied
    /// by the kernel's epilogue), recorded as the op `op` makes of the input, weight and bias.
    fn convolve(
        &self,
        Layer { w, bias, options, rectifier }: Layer,
        kernel: fn(ArrayView4<f32>, ArrayView4<f32>, Epilogue, ConvOptions) -> Array4<f32>,
        op: impl FnOnce(Tensor, Tensor, Option<Tensor>) -> Op,
    ) -> Tensor {
        let bias_values: Option<Vec<f32>> = bias.map(|b| b.view().iter().copied().collect());
        let v = kernel(
            self.view().into_dimensionality().expect("4-D"),
            w.view().into_dimensionality().expect("4-D"),
            Epilogue { bias: bias_values.as_deref(), rectifier },
            options,
        );
        let inputs: Vec<&Tensor> = [Some(self), Some(w), bias].into_iter().flatten().collect();
        Tensor::from_op(v.into_dyn(), &inputs, || op(self.clone(), w.clone(), bias.cloned()))
    }

    /// Max pooling over windows of `[n, c, h, w]`; the gradient goes to each window's (first)
    /// maximum.
    ///
    /// # Errors
    /// If the input is not 4-D, the window or stride is 0, the padding exceeds half the
    /// window, or the window does not fit.
    pub fn max_pool2d(&self, options: Pool2dOptions) -> Result<Tensor> {
        self.check_pool("max_pool2d", options)?;
        let o = options;
        let (v, argmax) =
            kpool::max_pool2d(self.view().into_dimensionality().expect("4-D"), o.kernel, o.stride, o.padding);
        Ok(Tensor::from_op(v.into_dyn(), &[self], || Op::MaxPool2d { x: self.clone(), argmax }))
    }

    /// Average pooling over windows of `[n, c, h, w]` (padding counts as zeros).
    ///
    /// # Errors
    /// As [`Tensor::max_pool2d`].
    pub fn avg_pool2d(&self, options: Pool2dOptions) -> Result<Tensor> {
        self.check_pool("avg_pool2d", options)?;
        let o = options;
        let v = kpool::avg_pool2d(self.view().into_dimensionality().expect("4-D"), o.kernel, o.stride, o.padding);
        Ok(Tensor::from_op(v.into_dyn(), &[self], || Op::AvgPool2d { x: self.clone(), options }))
    }

    fn check_pool(&self, op: &'static str, o: Pool2dOptions) -> Result<()> {
        require_4d(op, "input", self)?;
        require_positive(op, "kernel", o.kernel)?;
        require_positive(op, "stride", o.stride)?;
        let (h, w) = (self.shape()[2], self.shape()[3]);
        if 2 * o.padding.0 > o.kernel.0 || 2 * o.padding.1 > o.kernel.1 {
            return Err(TensorError::invalid(op, format!("padding must be at most half the kernel ({o:?})")));
        }
        if o.kernel.0 > h + 2 * o.padding.0 || o.kernel.1 > w + 2 * o.padding.1 {
            return Err(TensorError::invalid(op, format!("window does not fit input {:?} ({o:?})", self.shape())));
        }
        Ok(())
    }
}
