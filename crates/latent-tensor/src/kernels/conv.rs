//! 2-D convolution and transposed convolution on NCHW `f32` arrays, by batched im2col + [`gemm`].
//!
//! Semantics and layouts are PyTorch's (`torch.nn.functional.conv2d` / `conv_transpose2d` with
//! `dilation = 1`, `groups = 1`; the bias, and a rectifier if the op has one, are applied by
//! an [`Epilogue`] as the kernels write their outputs, and the bias's gradient is
//! `kernels::norm::channel_sums`):
//! - input `x`: `[n, c_in, h, w]`;
//! - [`conv2d`] weight: `[c_out, c_in, kh, kw]`, output `[n, c_out, oh, ow]` with
//!   `oh = (h + 2·ph − kh) / sh + 1` (see [`conv2d_output_size`]);
//! - [`conv_transpose2d`] weight: `[c_in, c_out, kh, kw]`, output `[n, c_out, oh, ow]` with
//!   `oh = (h − 1)·sh − 2·ph + kh + output_padding_h` (see [`conv_transpose2d_output_size`]).
//!
//! # How
//! im2col lays the receptive fields of a *chunk* of `nb` images side by side as one column
//! matrix `cols: [c_in·kh·kw, nb·oh·ow]` (row `(ci, ki, kj)`, column `(b, oy, ox)`), and the
//! convolution of the whole chunk is one product `W[c_out, c_in·kh·kw] · cols`, whose
//! `[c_out, nb·oh·ow]` result is then copied out image by image into NCHW. One product per chunk
//! rather than per image matters: a per-image product has a tiny `oh·ow` side (49 for a 7×7
//! output), so the GEMM spends its time repacking the weight, and a weight gradient summed image
//! by image has an inner dimension of only `oh·ow`.
//! - The gradient with respect to the input is the adjoint: the chunk's `grad_out` is gathered into
//!   `[c_out, nb·oh·ow]`, one product `dcols = Wᵀ · grad_out` fills a column matrix, and col2im adds
//!   each column back onto the pixels it came from. The transposed convolution *is* that adjoint
//!   (with the weight read as `[c_in, c_out, kh, kw]`), so it shares the code, and its own
//!   gradients are a convolution (input) and a weight gradient with input and output exchanged.
//! - The weight gradient is `Σ_chunks grad_out_chunk · cols_chunkᵀ`: one product per chunk with
//!   inner dimension `nb·oh·ow`, accumulated into the result (`beta = 1`). Its column matrix is
//!   built transposed, `[nb·oh·ow, c_in·kh·kw]` (one receptive field per row).
//! - A kernel that covers the whole unpadded input (`kh = h`, `kw = w`, no padding, so `1×1`
//!   output; DCGAN's first and last layers) is a dense layer: the column matrix of the batch is the
//!   input itself read as `[n, c_in·h·w]`, so each function is a single product on the arrays, with
//!   no im2col, col2im or copies; with one or two output channels, dot products and `axpy`s
//!   replace the product.
//!
//! - **4×4 kernels with stride 2** (every strided layer of latent's convolutional models) with at
//!   least 8 input and 32 output channels take another path, the private `winograd` module: polyphase
//!   decomposition and Winograd's F(4×4, 2×2), with half the multiply-adds at a 7×7 output. It
//!   covers all three functions (forward, input and weight gradients), so transposed
//!   convolutions of that shape use it too.
//! - **Small receptive fields** (`c_in·kh·kw` at most 64: first layers on grey or colour images,
//!   and the transposed convolutions that produce such images) take the private `shallow` module
//!   on CPUs with AVX2 and FMA: image by image, register-tiled kernels writing straight into
//!   NCHW, since a product whose inner dimension is 16 spends its time packing and copying.
//!
//! Operand layouts follow what [`gemm`] (matrixmultiply) packs fastest: its left operand with
//! contiguous columns and its right operand with contiguous rows; other strides are gathered
//! element by element (with the column matrix untransposed, the weight gradient of DCGAN's
//! 64→128-channel layer took 13% longer). Hence the weight is transposed once per call for the
//! forward product, and the weight gradient's column matrix is built transposed.
//!
//! im2col and col2im work on a zero-padded copy of each image cut into stride phases (see
//! `Geometry`), so their inner loops are short contiguous copies and additions with no padding
//! tests; the column matrix is written row after row.
//!
//! # Chunks, memory and threads
//! A chunk holds enough images for a product of ~`TARGET_COLUMNS` columns, within a budget of
//! `COLUMN_BUDGET` elements for its scratch matrices (at least one image; the batch is cut into
//! near-equal chunks). The scratch buffers are allocated once per call (per task) and reused for
//! every chunk. The forward pass and the input gradient process chunks in parallel on the current
//! rayon pool, each chunk's im2col, product and copies on one thread ([`gemm`] still lets an idle
//! pool thread help with a product). The weight gradient cuts the chunks into at most
//! `WEIGHT_GROUPS` groups of consecutive chunks, summed in parallel, each accumulating its
//! chunks' products in order (`beta = 1`); the group sums are then added in order.
//!
//! # Determinism
//! The chunk size depends only on the problem's shapes, never on the thread count. Every output
//! element of the forward pass and of the input gradient is one [`gemm`] dot product over the
//! full inner dimension (plus, for col2im, additions in a fixed order), so it does not depend on
//! the chunking at all; the weight gradient adds its per-chunk products in an order fixed by the
//! chunks and groups. Every function here therefore gives bit-identical outputs for the same
//! inputs whatever the pool size.
//!
//! Kernels trust their caller (the autodiff layer validates shapes and returns typed errors):
//! inconsistent shapes panic. Use [`conv2d_output_size`] and [`conv_transpose2d_output_size`] to
//! validate a geometry without panicking.

use std::mem::MaybeUninit;

use ndarray::{Array2, Array4, ArrayView2, ArrayView4, ArrayViewMut2, Axis};
use rayon::prelude::*;

use super::elementwise::{PARALLEL_MIN_LEN, vectorized, worth_parallel};
use super::matmul::gemm;
use super::rectifier::Rectifier;
use winograd::{Companion, Winograd};

mod lanes;
mod panels;
mod shallow;
mod winograd;

/// Stride and zero padding of a 2-D convolution or transposed convolution, and the output
/// padding of a transposed one, each as `(along height, along width)`: the one options type of
/// [`Tensor::conv2d`](crate::Tensor::conv2d), [`Tensor::conv_transpose2d`](crate::Tensor::conv_transpose2d),
/// and of the kernels here.
///
/// For a transposed convolution, `stride` and `padding` are those of the convolution it is the
/// adjoint of (as in PyTorch): the padding is removed from each side of its output.
///
/// ```
/// use latent_tensor::{ConvOptions, Tensor};
///
/// let x = Tensor::zeros(&[1, 1, 7, 7]);
/// let down = x.conv2d(&Tensor::ones(&[4, 1, 3, 3]), None, ConvOptions::new(2, 1))?; // [1, 4, 4, 4]
/// let up = down.conv_transpose2d(&Tensor::ones(&[4, 1, 3, 3]), None, ConvOptions::new(2, 1))?;
/// assert_eq!(up.shape(), [1, 1, 7, 7]);
/// let options = ConvOptions::new(2, 1).output_padding(1);
/// let up = down.conv_transpose2d(&Tensor::ones(&[4, 1, 3, 3]), Some(&Tensor::ones(&[1])), options)?;
/// assert_eq!(up.shape(), [1, 1, 8, 8]);
/// # Ok::<(), latent_tensor::TensorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvOptions {
    /// Step between neighbouring windows, `(sh, sw)`; each at least 1.
    pub stride: (usize, usize),
    /// Zeros added on each side of the input, `(ph, pw)` (for a transposed convolution: removed
    /// from each side of the output).
    pub padding: (usize, usize),
    /// Extra rows/columns added on one side of a transposed convolution's output, smaller than
    /// the stride (it picks among the output sizes that a strided convolution maps to the same
    /// size); ignored by a convolution.
    pub output_padding: (usize, usize),
}

impl ConvOptions {
    /// The same stride and padding on both axes, no output padding.
    pub fn new(stride: usize, padding: usize) -> Self {
        ConvOptions { stride: (stride, stride), padding: (padding, padding), output_padding: (0, 0) }
    }

    /// The same with output padding `p` on both axes (for a transposed convolution).
    pub fn output_padding(self, p: usize) -> Self {
        ConvOptions { output_padding: (p, p), ..self }
    }
}

impl Default for ConvOptions {
    /// Stride 1, no padding, no output padding.
    fn default() -> Self {
        ConvOptions::new(1, 0)
    }
}

/// The spatial output size `(oh, ow)` of [`conv2d`] on an input of spatial size `input = (h, w)`
/// with a `kernel = (kh, kw)` kernel: `oh = (h + 2·ph − kh) / sh + 1` (rounded down), likewise
/// for `ow`.
///
/// Returns `None` for impossible geometry: a zero stride, an empty kernel or input, or a kernel
/// larger than the padded input (`kh > h + 2·ph`).
pub fn conv2d_output_size(input: (usize, usize), kernel: (usize, usize), spec: ConvOptions) -> Option<(usize, usize)> {
    let one = |len: usize, k: usize, s: usize, p: usize| -> Option<usize> {
        if s == 0 || k == 0 || len == 0 {
            return None;
        }
        let padded = len.checked_add(p.checked_mul(2)?)?;
        Some(padded.checked_sub(k)? / s + 1)
    };
    Some((
        one(input.0, kernel.0, spec.stride.0, spec.padding.0)?,
        one(input.1, kernel.1, spec.stride.1, spec.padding.1)?,
    ))
}

/// The spatial output size `(oh, ow)` of [`conv_transpose2d`] on an input of spatial size
/// `input = (h, w)`: `oh = (h − 1)·sh − 2·ph + kh + output_padding_h`, likewise for `ow`.
///
/// Returns `None` for impossible geometry: a zero stride, an empty kernel or input, an
/// `output_padding` not smaller than the stride (PyTorch's rule: it only picks among the input
/// sizes a strided convolution maps to the same output size), or a size below 1.
pub fn conv_transpose2d_output_size(
    input: (usize, usize),
    kernel: (usize, usize),
    spec: ConvOptions,
) -> Option<(usize, usize)> {
    let one = |len: usize, k: usize, s: usize, p: usize, op: usize| -> Option<usize> {
        if s == 0 || k == 0 || len == 0 || op >= s {
            return None;
        }
        let full = (len - 1).checked_mul(s)?.checked_add(k)?.checked_add(op)?;
        let size = full.checked_sub(p.checked_mul(2)?)?;
        (size >= 1).then_some(size)
    };
    Some((
        one(input.0, kernel.0, spec.stride.0, spec.padding.0, spec.output_padding.0)?,
        one(input.1, kernel.1, spec.stride.1, spec.padding.1, spec.output_padding.1)?,
    ))
}

/// 2-D convolution (cross-correlation, as in PyTorch) of `x: [n, c_in, h, w]` with
/// `w: [c_out, c_in, kh, kw]`, giving `[n, c_out, oh, ow]` (sizes from [`conv2d_output_size`]).
///
/// # Panics
/// If the channel counts differ or the geometry is impossible.
pub fn conv2d(x: ArrayView4<f32>, w: ArrayView4<f32>, spec: ConvOptions) -> Array4<f32> {
    conv2d_with(x, w, Epilogue::NONE, spec)
}

/// [`conv2d`] with `epilogue` applied to every output value: the same values as
/// [`Epilogue::apply`] on [`conv2d`]'s result, applied by the Winograd and shallow kernels as
/// they write each output (a pass over the output saved) and afterwards by the other paths.
///
/// # Panics
/// As [`conv2d`], and if the epilogue's bias does not hold one value per output channel.
pub fn conv2d_with(x: ArrayView4<f32>, w: ArrayView4<f32>, epilogue: Epilogue, spec: ConvOptions) -> Array4<f32> {
    let (n, c_in, h, wd) = x.dim();
    let (c_out, c_in_w, kh, kw) = w.dim();
    assert_eq!(c_in, c_in_w, "conv2d: input has {c_in} channels, weight expects {c_in_w}");
    assert!(epilogue.bias.is_none_or(|b| b.len() == c_out), "conv2d: the bias needs {c_out} values");
    let geo = Geometry::new(c_in, (h, wd), (kh, kw), spec)
        .unwrap_or_else(|| panic!("conv2d: impossible geometry: input {h}x{wd}, kernel {kh}x{kw}, {spec:?}"));
    if let Some(fast) = winograd_for(&geo, n, c_out) {
        let (x, w) = (x.as_standard_layout(), w.as_standard_layout());
        let (x, w) = (x.as_slice().expect("standard layout"), w.as_slice().expect("standard layout"));
        // SAFETY: the forward pass writes every element of its output.
        return unsafe { written_by((n, c_out, geo.oh, geo.ow), |out| fast.forward(x, w, epilogue, c_out, out)) };
    }
    if shallow::suits(&geo, n, c_out) {
        let (x, w) = (x.as_standard_layout(), w.as_standard_layout());
        let (x, w) = (x.as_slice().expect("standard layout"), w.as_slice().expect("standard layout"));
        // SAFETY: the shallow forward pass writes every element of its output.
        return unsafe {
            written_by((n, c_out, geo.oh, geo.ow), |out| shallow::forward(&geo, x, w, c_out, epilogue, out))
        };
    }
    epilogue.apply(conv2d_in_chunks(x, w, &geo, geo.chunk_items(n, c_out)))
}

/// The Winograd path (the `winograd` module) for a batch of `n` through `geo` with `c_out` outputs, when
/// it applies (4×4 kernels with stride 2 and enough channels) and the problem is not empty or a
/// dense layer.
fn winograd_for(geo: &Geometry, n: usize, c_out: usize) -> Option<Winograd> {
    if n == 0 || geo.is_full_window() {
        return None;
    }
    Winograd::new(geo, c_out)
}

/// [`conv2d`] for a checked geometry, `chunk` images per column matrix.
fn conv2d_in_chunks(x: ArrayView4<f32>, w: ArrayView4<f32>, geo: &Geometry, chunk: usize) -> Array4<f32> {
    let (n, c_out) = (x.dim().0, w.dim().0);
    let (rows, p) = (geo.rows(), geo.cols());
    let mut out = zeros_in_parallel((n, c_out, geo.oh, geo.ow));
    if n == 0 || c_out == 0 || rows == 0 {
        return out;
    }
    let x = x.as_standard_layout();
    let x = x.as_slice().expect("standard layout");
    let out_s = out.as_slice_mut().expect("fresh array is contiguous");
    if geo.is_full_window() {
        // The batch's column matrix is x itself, transposed: out[n, c_out] = x[n, rows] · Wᵀ.
        let w = w.as_standard_layout();
        let w_mat = ArrayView2::from_shape((c_out, rows), w.as_slice().expect("standard layout")).expect("weight");
        if c_out <= DOT_MAX_OUTPUTS {
            // A matrix-vector product or nearly: dot products beat packing all of x for a GEMM.
            for (out_b, x_b) in out_s.chunks_exact_mut(c_out).zip(x.chunks_exact(rows)) {
                for (o, w_o) in out_b.iter_mut().zip(w_mat.rows()) {
                    *o = dot(x_b, w_o.as_slice().expect("standard layout"));
                }
            }
        } else {
            let x_mat = ArrayView2::from_shape((n, rows), x).expect("input shape");
            gemm(1.0, x_mat, w_mat.t(), 0.0, ArrayViewMut2::from_shape((n, c_out), out_s).expect("output shape"));
        }
        return out;
    }
    // The weight transposed once, [rows, c_out]: GEMM packs the left operand along its columns,
    // which is a plain copy when they are contiguous (here) and a strided gather otherwise.
    let w = w.as_standard_layout();
    let w_t = ArrayView2::from_shape((c_out, rows), w.as_slice().expect("standard layout")).expect("weight shape");
    let w_t = w_t.t().as_standard_layout().into_owned();
    let w_mat = w_t.t();
    let (in_len, out_len) = (geo.image_len(), c_out * p);
    out_s.par_chunks_mut(chunk * out_len).zip(x.par_chunks(chunk * in_len)).for_each_init(
        || (Vec::new(), Vec::new(), Vec::new()),
        |(cols_buf, prod_buf, split_buf), (out_c, x_c)| {
            let ld = x_c.len() / in_len * p;
            let cols = sized(cols_buf, rows * ld);
            geo.im2col(x_c, cols, split_buf);
            let cols = ArrayView2::from_shape((rows, ld), &*cols).expect("column matrix shape");
            if ld == p {
                // One image: its [c_out, oh·ow] output is the product itself.
                gemm(1.0, w_mat, cols, 0.0, ArrayViewMut2::from_shape((c_out, p), out_c).expect("output shape"));
                return;
            }
            let prod = sized(prod_buf, c_out * ld);
            gemm(1.0, w_mat, cols, 0.0, ArrayViewMut2::from_shape((c_out, ld), &mut *prod).expect("product shape"));
            // prod[o, (b, pixel)] → out[b, o, pixel].
            for (b, out_b) in out_c.chunks_exact_mut(out_len).enumerate() {
                for (o, dst) in out_b.chunks_exact_mut(p).enumerate() {
                    dst.copy_from_slice(&prod[o * ld + b * p..][..p]);
                }
            }
        },
    );
    out
}

/// Gradients of [`conv2d`]: given `x`, `w` and the gradient `grad_out` of a loss with respect
/// to `conv2d(x, w, spec)`, returns `(grad_x, grad_w)`, shaped like `x` and `w`: the same values
/// as [`conv2d_backward_input`] and [`conv2d_backward_weight`], computed in one pass where that
/// shares work (the Winograd path transforms `grad_out` once for both).
///
/// # Panics
/// If the shapes are inconsistent (see [`conv2d_backward_input`], [`conv2d_backward_weight`]).
pub fn conv2d_backward(
    x: ArrayView4<f32>,
    w: ArrayView4<f32>,
    grad_out: ArrayView4<f32>,
    spec: ConvOptions,
) -> (Array4<f32>, Array4<f32>) {
    let (n, c_in, h, wd) = x.dim();
    let (c_out, c_in_w, kh, kw) = w.dim();
    assert_eq!(c_in, c_in_w, "conv2d_backward: input has {c_in} channels, weight expects {c_in_w}");
    assert_eq!(grad_out.dim().0, n, "conv2d_backward: batch of grad_out and x differ");
    assert_eq!(grad_out.dim().1, c_out, "conv2d_backward: channels of grad_out and weight differ");
    let (oh, ow) = (grad_out.dim().2, grad_out.dim().3);
    let geo = Geometry::new(c_in, (h, wd), (kh, kw), spec).filter(|g| (g.oh, g.ow) == (oh, ow));
    if let Some(fast) = geo.as_ref().and_then(|geo| winograd_for(geo, n, c_out)) {
        let (grad_x, grad_w) = winograd_gradients(&fast, (x, grad_out, w), c_out, x.dim(), |w, grad_x| {
            Companion::InputGradient { w, grad_x }
        });
        return (grad_x, grad_w.into_shape_with_order((c_out, c_in, kh, kw)).expect("weight gradient shape"));
    }
    (conv2d_backward_input(w, grad_out, (h, wd), spec), conv2d_backward_weight(x, grad_out, (kh, kw), spec))
}

/// Gradient of [`conv2d`] with respect to its input: the adjoint of `x ↦ conv2d(x, w, spec)`
/// applied to `grad_out: [n, c_out, oh, ow]`, giving `[n, c_in, h, w]` for `input_hw = (h, w)`.
///
/// `input_hw` is needed because with a stride above 1 several input sizes give the same output
/// size. This is also [`conv_transpose2d`]'s forward computation.
///
/// # Panics
/// If `grad_out`'s channels are not `w`'s output channels or `(h, w)` does not convolve to
/// `grad_out`'s spatial size.
pub fn conv2d_backward_input(
    w: ArrayView4<f32>,
    grad_out: ArrayView4<f32>,
    input_hw: (usize, usize),
    spec: ConvOptions,
) -> Array4<f32> {
    backward_input_then(w, grad_out, input_hw, spec, Epilogue::NONE)
}

/// [`conv2d_backward_input`] with `epilogue` applied to every value of the result: by the
/// Winograd kernel as it writes each value, else afterwards ([`Epilogue::apply`]); the same bits
/// either way. A transposed convolution's output with its bias and rectifier.
fn backward_input_then(
    w: ArrayView4<f32>,
    grad_out: ArrayView4<f32>,
    input_hw: (usize, usize),
    spec: ConvOptions,
    epilogue: Epilogue,
) -> Array4<f32> {
    let (c_out, c_in, kh, kw) = w.dim();
    let (n, c_out_g, oh, ow) = grad_out.dim();
    assert_eq!(c_out, c_out_g, "conv2d_backward_input: grad_out has {c_out_g} channels, weight gives {c_out}");
    let geo = Geometry::new(c_in, input_hw, (kh, kw), spec).filter(|g| (g.oh, g.ow) == (oh, ow)).unwrap_or_else(|| {
        panic!("conv2d_backward_input: input {input_hw:?} with kernel {kh}x{kw} and {spec:?} does not give {oh}x{ow}")
    });
    if let Some(fast) = winograd_for(&geo, n, c_out) {
        let (w, g) = (w.as_standard_layout(), grad_out.as_standard_layout());
        let (w, g) = (w.as_slice().expect("standard layout"), g.as_slice().expect("standard layout"));
        // SAFETY: the input-gradient pass writes every element of its output.
        return unsafe {
            written_by((n, c_in, geo.h, geo.w), |grad_x| fast.backward_input(w, g, epilogue, c_out, grad_x))
        };
    }
    let grad_x = if shallow::suits(&geo, n, c_out) {
        let mut grad_x = zeros_in_parallel((n, c_in, geo.h, geo.w));
        let (w, g) = (w.as_standard_layout(), grad_out.as_standard_layout());
        let (w, g) = (w.as_slice().expect("standard layout"), g.as_slice().expect("standard layout"));
        shallow::backward_input(&geo, w, g, c_out, grad_x.as_slice_mut().expect("fresh array is contiguous"));
        grad_x
    } else {
        backward_input_in_chunks(w, grad_out, &geo, geo.chunk_items(n, c_out))
    };
    epilogue.apply(grad_x)
}

/// [`conv2d_backward_input`] for a checked geometry, `chunk` images per column matrix.
fn backward_input_in_chunks(
    w: ArrayView4<f32>,
    grad_out: ArrayView4<f32>,
    geo: &Geometry,
    chunk: usize,
) -> Array4<f32> {
    let (n, c_out) = (grad_out.dim().0, w.dim().0);
    let (rows, p) = (geo.rows(), geo.cols());
    let mut grad_x = zeros_in_parallel((n, geo.c_in, geo.h, geo.w));
    if n == 0 || c_out == 0 || rows == 0 {
        return grad_x;
    }
    let w = w.as_standard_layout();
    let w_mat = ArrayView2::from_shape((c_out, rows), w.as_slice().expect("standard layout")).expect("weight shape");
    let grad_out = grad_out.as_standard_layout();
    let g = grad_out.as_slice().expect("standard layout");
    let gx = grad_x.as_slice_mut().expect("fresh array is contiguous");
    if geo.is_full_window() {
        // grad_x[n, rows] = grad_out[n, c_out] · W.
        let g_mat = ArrayView2::from_shape((n, c_out), g).expect("grad_out shape");
        gemm(1.0, g_mat, w_mat, 0.0, ArrayViewMut2::from_shape((n, rows), gx).expect("grad_x shape"));
        return grad_x;
    }
    let (in_len, out_len) = (geo.image_len(), c_out * p);
    gx.par_chunks_mut(chunk * in_len).zip(g.par_chunks(chunk * out_len)).for_each_init(
        || (Vec::new(), Vec::new(), Vec::new()),
        |(cols_buf, g_buf, split_buf), (gx_c, g_c)| {
            let ld = g_c.len() / out_len * p;
            let g_mat = gather_channels(g_c, c_out, p, g_buf);
            let dcols = sized(cols_buf, rows * ld);
            gemm(1.0, w_mat.t(), g_mat, 0.0, ArrayViewMut2::from_shape((rows, ld), &mut *dcols).expect("column shape"));
            geo.col2im(dcols, gx_c, split_buf);
        },
    );
    grad_x
}

/// Gradient of [`conv2d`] with respect to its weight: given the input `x: [n, c_in, h, w]` and
/// `grad_out: [n, c_out, oh, ow]`, returns `[c_out, c_in, kh, kw]` for `kernel = (kh, kw)`.
///
/// The sum over the batch is one product per chunk of images, of a size fixed by the problem
/// (never by the thread count), accumulated in chunk order, so the result is reproducible bit
/// for bit.
///
/// # Panics
/// If the batch sizes differ or `x` does not convolve to `grad_out`'s spatial size.
pub fn conv2d_backward_weight(
    x: ArrayView4<f32>,
    grad_out: ArrayView4<f32>,
    kernel: (usize, usize),
    spec: ConvOptions,
) -> Array4<f32> {
    let (n, c_in, h, wd) = x.dim();
    let (n_g, c_out, oh, ow) = grad_out.dim();
    assert_eq!(n, n_g, "conv2d_backward_weight: batch of x ({n}) and grad_out ({n_g}) differ");
    let geo = Geometry::new(c_in, (h, wd), kernel, spec).filter(|g| (g.oh, g.ow) == (oh, ow)).unwrap_or_else(|| {
        panic!("conv2d_backward_weight: input {h}x{wd} with kernel {kernel:?} and {spec:?} does not give {oh}x{ow}")
    });
    let total = match winograd_for(&geo, n, c_out) {
        Some(fast) => {
            let (x, g) = (x.as_standard_layout(), grad_out.as_standard_layout());
            fast.backward_weight(x.as_slice().expect("standard layout"), g.as_slice().expect("standard layout"), c_out)
        }
        None if shallow::suits(&geo, n, c_out) => {
            let (x, g) = (x.as_standard_layout(), grad_out.as_standard_layout());
            shallow::backward_weight(
                &geo,
                x.as_slice().expect("standard layout"),
                g.as_slice().expect("standard layout"),
                c_out,
            )
        }
        None => backward_weight_in_chunks(x, grad_out, &geo, geo.chunk_items(n, c_out)),
    };
    total.into_shape_with_order((c_out, c_in, kernel.0, kernel.1)).expect("weight gradient shape")
}

/// [`conv2d_backward_weight`] for a checked geometry, `chunk` images per column matrix, as the
/// matrix `[c_out, c_in·kh·kw]`.
fn backward_weight_in_chunks(
    x: ArrayView4<f32>,
    grad_out: ArrayView4<f32>,
    geo: &Geometry,
    chunk: usize,
) -> Array2<f32> {
    let (n, c_out) = (x.dim().0, grad_out.dim().1);
    let (rows, p) = (geo.rows(), geo.cols());
    let mut grad_w = Array2::zeros((c_out, rows));
    if n == 0 || c_out == 0 || rows == 0 {
        return grad_w;
    }
    let x = x.as_standard_layout();
    let x = x.as_slice().expect("standard layout");
    let grad_out = grad_out.as_standard_layout();
    let g = grad_out.as_slice().expect("standard layout");
    if geo.is_full_window() {
        // grad_w[c_out, rows] = grad_out[n, c_out]ᵀ · x[n, rows], summed over the batch in one product.
        if c_out <= DOT_MAX_OUTPUTS {
            // Row o of grad_w is Σ_b grad_out[b, o] · x[b], image after image.
            let gw = grad_w.as_slice_mut().expect("fresh array is contiguous");
            for (g_b, x_b) in g.chunks_exact(c_out).zip(x.chunks_exact(rows)) {
                for (gw_o, &g_bo) in gw.chunks_exact_mut(rows).zip(g_b) {
                    for (d, &v) in gw_o.iter_mut().zip(x_b) {
                        *d += g_bo * v;
                    }
                }
            }
        } else {
            let g_mat = ArrayView2::from_shape((n, c_out), g).expect("grad_out shape");
            let x_mat = ArrayView2::from_shape((n, rows), x).expect("input shape");
            gemm(1.0, g_mat.t(), x_mat, 0.0, grad_w.view_mut());
        }
        return grad_w;
    }
    // Consecutive chunks form up to WEIGHT_GROUPS groups, summed in parallel, each accumulating
    // its chunks' products in order; the group sums are then added in order.
    let (in_len, out_len) = (geo.image_len(), c_out * p);
    let chunks = n.div_ceil(chunk);
    let per_group = chunks.div_ceil(WEIGHT_GROUPS);
    let partials: Vec<Array2<f32>> = (0..chunks.div_ceil(per_group))
        .into_par_iter()
        .map(|group| {
            let images = group * per_group * chunk..((group + 1) * per_group * chunk).min(n);
            let (x_g, g_g) =
                (&x[images.start * in_len..images.end * in_len], &g[images.start * out_len..images.end * out_len]);
            let mut sum = Array2::zeros((c_out, rows));
            let (mut cols_buf, mut g_buf, mut padded) = (Vec::new(), Vec::new(), Vec::new());
            for (i, (x_c, g_c)) in x_g.chunks(chunk * in_len).zip(g_g.chunks(chunk * out_len)).enumerate() {
                let ld = x_c.len() / in_len * p;
                // The transposed column matrix [nb·oh·ow, rows]: GEMM packs its right operand
                // along the rows, a plain copy for this layout.
                let cols_t = sized(&mut cols_buf, ld * rows);
                geo.im2col_t(x_c, cols_t, &mut padded);
                let cols_t = ArrayView2::from_shape((ld, rows), &*cols_t).expect("column matrix shape");
                let g_mat = gather_channels(g_c, c_out, p, &mut g_buf);
                gemm(1.0, g_mat, cols_t, if i == 0 { 0.0 } else { 1.0 }, sum.view_mut());
            }
            sum
        })
        .collect();
    let mut parts = partials.into_iter();
    let mut total = parts.next().expect("a non-empty batch has a group");
    for part in parts {
        total += &part;
    }
    total
}

/// Transposed 2-D convolution (PyTorch's `conv_transpose2d`, a.k.a. fractionally strided
/// convolution) of `x: [n, c_in, h, w]` with `w: [c_in, c_out, kh, kw]`, giving
/// `[n, c_out, oh, ow]` (sizes from [`conv_transpose2d_output_size`]).
///
/// It is the adjoint of [`conv2d`] with the same weight, stride and padding: every input pixel
/// scatters `x[b, i, y, x] · w[i, o, ·, ·]` onto the output window at `(y·sh − ph, x·sw − pw)`.
///
/// # Panics
/// If the channel counts differ or the geometry is impossible.
// The ops call `conv_transpose2d_with`; this is for the tests and the benchmarks.
#[cfg_attr(not(feature = "bench"), allow(dead_code))]
pub fn conv_transpose2d(x: ArrayView4<f32>, w: ArrayView4<f32>, spec: ConvOptions) -> Array4<f32> {
    conv_transpose2d_with(x, w, Epilogue::NONE, spec)
}

/// [`conv_transpose2d`] with `epilogue` applied to every output value: the same values as
/// [`Epilogue::apply`] on [`conv_transpose2d`]'s result, applied by the Winograd kernel as it
/// writes each output (a pass over the output saved) and afterwards by the other paths.
///
/// # Panics
/// As [`conv_transpose2d`], and if the epilogue's bias does not hold one value per output
/// channel.
pub fn conv_transpose2d_with(
    x: ArrayView4<f32>,
    w: ArrayView4<f32>,
    epilogue: Epilogue,
    spec: ConvOptions,
) -> Array4<f32> {
    let (_, c_in, h, wd) = x.dim();
    let (c_in_w, c_out, kh, kw) = w.dim();
    assert_eq!(c_in, c_in_w, "conv_transpose2d: input has {c_in} channels, weight expects {c_in_w}");
    assert!(epilogue.bias.is_none_or(|b| b.len() == c_out), "conv_transpose2d: the bias needs {c_out} values");
    let out_hw = conv_transpose2d_output_size((h, wd), (kh, kw), spec)
        .unwrap_or_else(|| panic!("conv_transpose2d: impossible geometry: input {h}x{wd}, kernel {kh}x{kw}, {spec:?}"));
    backward_input_then(w, x, out_hw, spec, epilogue)
}

/// Gradients of [`conv_transpose2d`]: given `x`, `w` and the gradient `grad_out` of a loss with
/// respect to `conv_transpose2d(x, w, spec)`, returns `(grad_x, grad_w)`, shaped
/// like `x` and `w`.
///
/// `grad_x` is `conv2d(grad_out, w)` and `grad_w` is the [`conv2d`] weight gradient with input
/// `grad_out` and output gradient `x` (in one pass where the two share work: the Winograd path
/// transforms `grad_out` once for both).
///
/// # Panics
/// If the shapes are inconsistent with a transposed convolution of `x` by `w`.
pub fn conv_transpose2d_backward(
    x: ArrayView4<f32>,
    w: ArrayView4<f32>,
    grad_out: ArrayView4<f32>,
    spec: ConvOptions,
) -> (Array4<f32>, Array4<f32>) {
    let (n, c_in, h, wd) = x.dim();
    let (c_in_w, c_out, kh, kw) = w.dim();
    assert_eq!(c_in, c_in_w, "conv_transpose2d_backward: input has {c_in} channels, weight expects {c_in_w}");
    let (oh, ow) = conv_transpose2d_output_size((h, wd), (kh, kw), spec).unwrap_or_else(|| {
        panic!("conv_transpose2d_backward: impossible geometry: input {h}x{wd}, kernel {kh}x{kw}, {spec:?}")
    });
    assert_eq!(
        grad_out.dim(),
        (n, c_out, oh, ow),
        "conv_transpose2d_backward: grad_out does not have the output's shape"
    );
    // The convolution this is the adjoint of: input grad_out, output x.
    let geo = Geometry::new(c_out, (oh, ow), (kh, kw), spec).filter(|g| (g.oh, g.ow) == (h, wd));
    if let Some(fast) = geo.as_ref().and_then(|geo| winograd_for(geo, n, c_in)) {
        // The convolution's images are this one's output gradient, its output gradient this
        // one's input; this one's input gradient is that convolution's forward pass.
        let (grad_x, grad_w) =
            winograd_gradients(&fast, (grad_out, x, w), c_in, x.dim(), |w, out| Companion::Forward { w, out });
        return (grad_x, grad_w.into_shape_with_order((c_in, c_out, kh, kw)).expect("weight gradient shape"));
    }
    let grad_x = conv2d(grad_out, w, spec);
    let grad_w = conv2d_backward_weight(grad_out, x, (kh, kw), spec);
    (grad_x, grad_w)
}

/// Most elements of the scratch matrices of one chunk of images (column matrix plus product, 4
/// MiB of `f32`): bounds the memory of a call (one set of buffers per parallel task).
const COLUMN_BUDGET: usize = if cfg!(test) { 4096 } else { 1 << 20 };

/// Columns (`nb·oh·ow`) a chunk's product needs to run at full speed; more only enlarges the
/// scratch matrices beyond the caches. Measured on DCGAN's layers at 1 thread: with 128 columns
/// the 64↔128-channel layers ran 6–12% slower, with chunks limited only by [`COLUMN_BUDGET`]
/// (the whole batch for small layers) the 1→64-channel layer ran 25% slower; 256–1536 were
/// within noise of each other. Unit tests use a small value so that small inputs are cut into
/// several chunks.
const TARGET_COLUMNS: usize = if cfg!(test) { 64 } else { 768 };

/// Full-window layers with at most this many outputs use dot products instead of [`gemm`]
/// (which packs all of `x` for a product that reads it only once).
const DOT_MAX_OUTPUTS: usize = 2;

/// Groups of chunks the weight gradient sums in parallel (fewer for batches of fewer chunks).
/// Fixed, so that the order of the additions never depends on the thread count. Summing the
/// chunks one after the other, with only im2col and each product split over the pool, left the
/// small layers serial: at 2 threads, groups halved DCGAN's 1→64-channel weight gradient
/// (1.4 → 0.7 ms). 4 keeps 2 or 4 threads evenly busy and costs one thread 3 extra additions of
/// a weight-sized matrix (0.4 M next to the 1.6 GFLOP of the 64→128-channel layer).
const WEIGHT_GROUPS: usize = 4;

/// Adds `bias[ch]` to every value of channel `ch` of `out: [n, c, h, w]`, in place: a
/// convolution's bias, added to the kernel's fresh output rather than by a broadcast op, which
/// allocated and cleared a second array of the output's size and then read both (with the
/// gradient's copy and reduction, 9% of the samples of a one-thread conv-AE run). Parallel
/// over the images when the output is large; each value gets one addition, so the result does
/// not depend on the thread count.
///
/// # Panics
/// If `bias` does not hold one value per channel.
pub fn add_channel_bias(out: &mut Array4<f32>, bias: &[f32]) {
    let (_, c, h, w) = out.dim();
    assert_eq!(bias.len(), c, "add_channel_bias: {} values for {c} channels", bias.len());
    let plane = h * w;
    let Some(values) = out.as_slice_mut() else {
        for (ch, mut channel) in out.axis_iter_mut(Axis(1)).enumerate() {
            channel.mapv_inplace(|v| v + bias[ch]);
        }
        return;
    };
    if plane == 0 || c == 0 {
        return;
    }
    let bias_only = Epilogue { bias: Some(bias), rectifier: None };
    let add = |image: &mut [f32]| bias_only.apply_to_image(image, plane);
    if worth_parallel(values.len()) {
        values.par_chunks_mut(c * plane).with_min_len(PARALLEL_MIN_LEN.div_ceil(c * plane)).for_each(add);
    } else {
        values.chunks_mut(c * plane).for_each(add);
    }
}

/// What a convolution does to each of its output values as it writes it: adds its channel's
/// bias, then applies a rectifier (either or both may be absent). The values are those of
/// [`add_channel_bias`] and then [`Rectifier::rectify_array`] on the plain convolution, bit for
/// bit (the same two operations on each value).
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a> {
    /// `bias[o]` is added to every value of output channel `o`.
    pub bias: Option<&'a [f32]>,
    /// Applied after the bias.
    pub rectifier: Option<Rectifier>,
}

impl<'a> Epilogue<'a> {
    /// Nothing: the values as the convolution gives them.
    pub const NONE: Epilogue<'static> = Epilogue { bias: None, rectifier: None };

    /// The epilogue of output channel `channel` (its bias value, if any).
    #[inline(always)]
    pub(super) fn channel(&self, channel: usize) -> ChannelEpilogue {
        ChannelEpilogue { bias: self.bias.map(|bias| bias[channel]), rectifier: self.rectifier }
    }

    /// `out: [n, c, h, w]` with the epilogue applied in place, for the paths that do not apply it
    /// as they write: the bias by [`add_channel_bias`], then the rectifier.
    pub fn apply(&self, mut out: Array4<f32>) -> Array4<f32> {
        if let Some(bias) = self.bias {
            add_channel_bias(&mut out, bias);
        }
        match self.rectifier {
            None => out,
            Some(rectifier) => {
                let mut out = out.into_dyn();
                rectifier.rectify_array(&mut out);
                out.into_dimensionality().expect("4-D")
            }
        }
    }

    /// Applies the epilogue to one finished image `[c, plane]`, for kernels that finish their
    /// output image by image and apply it while the image is in cache.
    pub(super) fn apply_to_image(&self, image: &mut [f32], plane: usize) {
        if self.bias.is_none() && self.rectifier.is_none() {
            return;
        }
        vectorized(
            #[inline(always)]
            || {
                for (channel, run) in image.chunks_exact_mut(plane).enumerate() {
                    self.channel(channel).finish(run);
                }
            },
        )
    }
}

/// An [`Epilogue`] for the values of one output channel.
#[derive(Clone, Copy, Debug)]
pub(super) struct ChannelEpilogue {
    bias: Option<f32>,
    rectifier: Option<Rectifier>,
}

impl ChannelEpilogue {
    /// Applies it to `values`, in place. Inline, for short runs inside vectorised loops.
    #[inline(always)]
    pub(super) fn finish(self, values: &mut [f32]) {
        if let Some(b) = self.bias {
            for v in values.iter_mut() {
                *v += b;
            }
        }
        if let Some(rectifier) = self.rectifier {
            rectifier.rectify(values);
        }
    }
}

/// A zeroed `[n, c, h, w]` array, zeroed by the pool's threads when it is large: a batch's
/// output or input gradient is megabytes, and `Array4::zeros` cleared it on one thread (a
/// `memset` that took 5% of a 2-thread DCGAN step's samples, with the other thread idle). Small
/// ones (DCGAN's last layer writes 128 values) are not worth the tasks.
fn zeros_in_parallel(shape: (usize, usize, usize, usize)) -> Array4<f32> {
    let len = shape.0 * shape.1 * shape.2 * shape.3;
    if !worth_parallel(len) {
        return Array4::zeros(shape);
    }
    let mut values = Vec::new();
    values.par_extend(rayon::iter::repeat_n(0.0, len).with_min_len(PARALLEL_MIN_LEN));
    Array4::from_shape_vec(shape, values).expect("the length is the shape's")
}

/// The Winograd path's weight gradient of a convolution with `c_out` outputs, from its images,
/// its output gradient and its weight (`(images, grads, w)`), and on the way the `shape` array
/// that the companion pass made by `companion` (from the weight and that array's memory) writes.
fn winograd_gradients(
    fast: &Winograd,
    (images, grads, w): (ArrayView4<f32>, ArrayView4<f32>, ArrayView4<f32>),
    c_out: usize,
    shape: (usize, usize, usize, usize),
    companion: impl for<'a> FnOnce(&'a [f32], &'a mut [MaybeUninit<f32>]) -> Companion<'a>,
) -> (Array4<f32>, Array2<f32>) {
    let (images, grads, w) = (images.as_standard_layout(), grads.as_standard_layout(), w.as_standard_layout());
    let (images, grads, w) = (
        images.as_slice().expect("standard layout"),
        grads.as_slice().expect("standard layout"),
        w.as_slice().expect("standard layout"),
    );
    let mut grad_w = None;
    // SAFETY: either companion writes every element of its output (`Companion`'s contract).
    let out = unsafe {
        written_by(shape, |out| grad_w = Some(fast.weight_gradient_with(images, grads, c_out, companion(w, out))))
    };
    (out, grad_w.expect("computed with the companion"))
}

/// A `shape` array whose elements `write` stores, without zeroing its memory first (zeroing
/// the Winograd path's outputs, which it then overwrote, was 1.9% of a conv-AE training step).
/// In tests the memory is filled with NaN first, so that an element left unwritten shows.
///
/// # Safety
/// `write` must store every element of the slice it is given.
unsafe fn written_by(shape: (usize, usize, usize, usize), write: impl FnOnce(&mut [MaybeUninit<f32>])) -> Array4<f32> {
    let mut out = Array4::<f32>::uninit(shape);
    let values = out.as_slice_mut().expect("fresh array is contiguous");
    if cfg!(test) {
        values.fill(MaybeUninit::new(f32::NAN));
    }
    write(values);
    // SAFETY: `write` stored every element (the caller's promise).
    unsafe { out.assume_init() }
}

/// The first `len` elements of the scratch buffer `buf`, grown with zeros if it is shorter.
fn sized(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    &mut buf[..len]
}

/// `src` (`[rows][cols]`, row-major) transposed to `[cols][rows]`, 16 columns (a cache line of
/// each row) at a time.
fn transposed(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut dst = vec![0.0; rows * cols];
    for (c0, dst) in (0..cols).step_by(16).zip(dst.chunks_mut(16 * rows.max(1))) {
        transpose_columns(src, cols, c0, dst);
    }
    dst
}

/// [`transposed`], its blocks of 16 columns shared between threads when it is large.
fn transposed_in_parallel(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    if !worth_parallel(src.len()) {
        return transposed(src, rows, cols);
    }
    let mut dst = vec![0.0; rows * cols];
    dst.par_chunks_mut(16 * rows.max(1))
        .enumerate()
        .for_each(|(block, dst)| transpose_columns(src, cols, 16 * block, dst));
    dst
}

/// Columns `c0..c0 + 16` (fewer at the end) of `src: [rows][cols]` as the rows of `dst`.
fn transpose_columns(src: &[f32], cols: usize, c0: usize, dst: &mut [f32]) {
    let rows = src.len() / cols.max(1);
    for (r, line) in src.chunks_exact(cols.max(1)).enumerate() {
        for (c, &v) in line.iter().enumerate().skip(c0).take(16) {
            dst[(c - c0) * rows + r] = v;
        }
    }
}

/// The `[c, nb·p]` matrix of `nb` contiguous images `[c, p]` (`g`) side by side, image `b`
/// in columns `b·p..(b + 1)·p`: a view of `g` itself for one image, else gathered into `buf`.
fn gather_channels<'a>(g: &'a [f32], c: usize, p: usize, buf: &'a mut Vec<f32>) -> ArrayView2<'a, f32> {
    let image_len = c * p;
    let ld = g.len() / image_len * p;
    if ld == p {
        return ArrayView2::from_shape((c, p), g).expect("image shape");
    }
    let dst = sized(buf, c * ld);
    for (b, image) in g.chunks_exact(image_len).enumerate() {
        for (o, src) in image.chunks_exact(p).enumerate() {
            dst[o * ld + b * p..][..p].copy_from_slice(src);
        }
    }
    ArrayView2::from_shape((c, ld), &buf[..c * ld]).expect("gathered shape")
}

/// `Σ a[i]·b[i]` over the common length, in 16 interleaved partial sums (vectorisable, and
/// always added in the same order).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let (a_blocks, b_blocks) = (a.chunks_exact(16), b.chunks_exact(16));
    let (a_rest, b_rest) = (a_blocks.remainder(), b_blocks.remainder());
    for (x, y) in a_blocks.zip(b_blocks) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(&x, &y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// `dst.copy_from_slice(src)` for the short lines of a convolution window: 4-element moves
/// (the last one overlapping) instead of a `memcpy` call.
#[inline(always)]
fn copy_small(dst: &mut [f32], src: &[f32]) {
    let n = dst.len();
    let src = &src[..n];
    if n < 4 {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s;
        }
        return;
    }
    let mut i = 0;
    while i + 4 <= n {
        dst[i..i + 4].copy_from_slice(&src[i..i + 4]);
        i += 4;
    }
    if i < n {
        dst[n - 4..].copy_from_slice(&src[n - 4..]);
    }
}

/// `dst[i] += src[i]` over the length of `src`, for short lines: 4-element vector adds, then
/// the remaining 0–3 elements one by one (the compiler's own vectorised loop would go scalar for
/// lines shorter than 8).
#[inline(always)]
fn add_small(dst: &mut [f32], src: &[f32]) {
    let dst = &mut dst[..src.len()];
    let mut d4 = dst.chunks_exact_mut(4);
    let mut s4 = src.chunks_exact(4);
    for (d, s) in d4.by_ref().zip(s4.by_ref()) {
        let d: &mut [f32; 4] = d.try_into().expect("4 elements");
        let s: &[f32; 4] = s.try_into().expect("4 elements");
        *d = [d[0] + s[0], d[1] + s[1], d[2] + s[2], d[3] + s[3]];
    }
    for (d, &s) in d4.into_remainder().iter_mut().zip(s4.remainder()) {
        *d += s;
    }
}

/// `dst[i] = src[i·stride]` for every `i`; `src` must hold at least `(dst.len() − 1)·stride + 1`
/// elements.
#[inline(always)]
fn copy_from_strided(dst: &mut [f32], src: &[f32], stride: usize) {
    if stride == 1 {
        dst.copy_from_slice(&src[..dst.len()]);
        return;
    }
    let Some((last, head)) = dst.split_last_mut() else { return };
    for (d, s) in head.iter_mut().zip(src.chunks_exact(stride)) {
        *d = s[0];
    }
    *last = src[head.len() * stride];
}

/// `dst[i·stride] = src[i]` for every `i`; `dst` must hold at least `(src.len() − 1)·stride + 1`
/// elements.
#[inline(always)]
fn copy_to_strided(dst: &mut [f32], src: &[f32], stride: usize) {
    if stride == 1 {
        dst[..src.len()].copy_from_slice(src);
        return;
    }
    let Some((&last, head)) = src.split_last() else { return };
    for (&s, d) in head.iter().zip(dst.chunks_exact_mut(stride)) {
        d[0] = s;
    }
    dst[head.len() * stride] = last;
}

/// The geometry of one convolution, checked once: input `[c_in, h, w]`, kernel `kh×kw`,
/// stride, padding and the resulting `oh×ow`, plus the layout of the padded copies im2col and
/// col2im work on.
///
/// # Phase planes
/// im2col and col2im go through a *phase-split* copy of each image: the image zero-padded to
/// `hp×wp = (h + 2·ph)×(w + 2·pw)` and cut, per channel, into `sh·sw` planes of `hs×ws`
/// (`hs = ⌈hp/sh⌉`, `ws = ⌈wp/sw⌉`), plane `(py, px)` holding the padded pixels
/// `(y·sh + py, x·sw + px)`. Kernel tap `(ki, kj)` then reads, for output row `oy`, the `ow`
/// *contiguous* values at row `ki/sh + oy`, columns `kj/sw..` of plane `(ki mod sh, kj mod sw)`:
/// no padding tests and no strided access in the loops over the column matrix, whose lines are
/// often short (7 for a 7×7 output).
#[derive(Clone, Debug)]
struct Geometry {
    c_in: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    ph: usize,
    pw: usize,
    oh: usize,
    ow: usize,
    /// Padded size.
    hp: usize,
    wp: usize,
    /// Size of one phase plane.
    hs: usize,
    ws: usize,
    /// For each kernel tap `(ki, kj)` (row-major), the offset of its first value in a channel's
    /// phase planes.
    tap_offsets: Vec<usize>,
}

impl Geometry {
    /// The geometry, or `None` if [`conv2d_output_size`] rejects it.
    fn new(c_in: usize, input: (usize, usize), kernel: (usize, usize), spec: ConvOptions) -> Option<Self> {
        let (oh, ow) = conv2d_output_size(input, kernel, spec)?;
        let ((h, w), (kh, kw), (sh, sw), (ph, pw)) = (input, kernel, spec.stride, spec.padding);
        let (hp, wp) = (h + 2 * ph, w + 2 * pw);
        let (hs, ws) = (hp.div_ceil(sh), wp.div_ceil(sw));
        let tap_offsets = (0..kh * kw)
            .map(|tap| {
                let (ki, kj) = (tap / kw, tap % kw);
                ((ki % sh) * sw + kj % sw) * hs * ws + (ki / sh) * ws + kj / sw
            })
            .collect();
        Some(Geometry { c_in, h, w, kh, kw, sh, sw, ph, pw, oh, ow, hp, wp, hs, ws, tap_offsets })
    }

    /// Rows of the im2col matrix: `c_in·kh·kw`.
    fn rows(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Columns of one image's im2col matrix: `oh·ow`.
    fn cols(&self) -> usize {
        self.oh * self.ow
    }

    /// Elements of one input image: `c_in·h·w`.
    fn image_len(&self) -> usize {
        self.c_in * self.h * self.w
    }

    /// Elements of one channel's phase planes: `sh·sw·hs·ws`.
    fn split_plane_len(&self) -> usize {
        self.sh * self.sw * self.hs * self.ws
    }

    /// The kernel covers the whole unpadded input (so the output is `1×1` whatever the stride):
    /// an image's im2col column is the image itself.
    fn is_full_window(&self) -> bool {
        (self.kh, self.kw, self.ph, self.pw) == (self.h, self.w, 0, 0)
    }

    /// Images per chunk of a batch of `n` for a product with `c_out` outputs: enough for
    /// [`TARGET_COLUMNS`] columns, within [`COLUMN_BUDGET`] for the column matrix and the product
    /// (at least one image); the batch is then cut into that many near-equal chunks.
    fn chunk_items(&self, n: usize, c_out: usize) -> usize {
        let per_image = ((self.rows() + c_out) * self.cols()).max(1);
        let most = (COLUMN_BUDGET / per_image).min(TARGET_COLUMNS.div_ceil(self.cols())).max(1);
        n.div_ceil(n.div_ceil(most).max(1)).max(1)
    }

    /// Writes the phase planes (see [`Geometry`]) of the contiguous image `[c_in, h, w]` into
    /// `split` (`c_in·sh·sw·hs·ws` elements). Only the image's own pixels are written: the
    /// padding must already be zero in `split`, as it stays in a zero-initialised buffer only
    /// ever written by this function for this geometry.
    fn split_image(&self, image: &[f32], split: &mut [f32]) {
        match self.sw {
            1 => self.split_image_stride::<1>(image, split),
            2 => self.split_image_stride::<2>(image, split),
            _ => self.split_image_stride::<0>(image, split),
        }
    }

    /// [`Geometry::split_image`] for column stride `SW` (`0`: read it from `self`).
    fn split_image_stride<const SW: usize>(&self, image: &[f32], split: &mut [f32]) {
        let sw = if SW == 0 { self.sw } else { SW };
        for (src, dst) in image.chunks_exact(self.h * self.w).zip(split.chunks_exact_mut(self.split_plane_len())) {
            for (iy, line) in src.chunks_exact(self.w).enumerate() {
                for (ix0, run) in self.phase_runs(iy, sw) {
                    copy_from_strided(&mut dst[run], &line[ix0..], sw);
                }
            }
        }
    }

    /// The runs of input line `iy` in the phase planes, for column stride `sw`: for each column
    /// phase `px`, the input columns `ix0, ix0 + sw, …` (those with `(ix + pw) mod sw == px`) and
    /// the contiguous range of the split buffer (within one channel) that holds them.
    fn phase_runs(&self, iy: usize, sw: usize) -> impl Iterator<Item = (usize, std::ops::Range<usize>)> + '_ {
        let plane = self.hs * self.ws;
        let (py, y) = ((iy + self.ph) % self.sh, (iy + self.ph) / self.sh);
        (0..sw.min(self.w)).filter_map(move |px| {
            let ix0 = (px + sw - self.pw % sw) % sw;
            if ix0 >= self.w {
                return None;
            }
            let count = (self.w - ix0).div_ceil(sw);
            let start = (py * sw + px) * plane + y * self.ws + (ix0 + self.pw) / sw;
            Some((ix0, start..start + count))
        })
    }

    /// The inverse of [`Geometry::split_image`] on the pixels inside the image: writes the
    /// contiguous image `[c_in, h, w]` from its phase planes `split`, ignoring the padding.
    fn unsplit_image(&self, split: &[f32], image: &mut [f32]) {
        match self.sw {
            1 => self.unsplit_image_stride::<1>(split, image),
            2 => self.unsplit_image_stride::<2>(split, image),
            _ => self.unsplit_image_stride::<0>(split, image),
        }
    }

    /// [`Geometry::unsplit_image`] for column stride `SW` (`0`: read it from `self`).
    fn unsplit_image_stride<const SW: usize>(&self, split: &[f32], image: &mut [f32]) {
        let sw = if SW == 0 { self.sw } else { SW };
        for (dst, src) in image.chunks_exact_mut(self.h * self.w).zip(split.chunks_exact(self.split_plane_len())) {
            for (iy, line) in dst.chunks_exact_mut(self.w).enumerate() {
                for (ix0, run) in self.phase_runs(iy, sw) {
                    copy_to_strided(&mut line[ix0..], &src[run], sw);
                }
            }
        }
    }

    /// Fills `cols` with the im2col matrix `[c_in·kh·kw, nb·oh·ow]` of the `nb` contiguous
    /// images `[c_in, h, w]` in `images`: row `(ci, ki, kj)`, column `(b, oy, ox)` holds image
    /// `b`'s `x[ci, oy·sh + ki − ph, ox·sw + kj − pw]`, or 0 in the padding. `split` is scratch
    /// space for the images' phase planes, zero-initialised or only used by this function for
    /// this geometry (see [`Geometry::split_image`]). `rows()` must not be 0.
    fn im2col(&self, images: &[f32], cols: &mut [f32], split: &mut Vec<f32>) {
        let (p, ow, ld) = (self.cols(), self.ow, cols.len() / self.rows());
        let (plane_len, image_len) = (self.split_plane_len(), self.c_in * self.split_plane_len());
        let split = sized(split, images.len() / self.image_len() * image_len);
        for (image, dst) in images.chunks_exact(self.image_len()).zip(split.chunks_exact_mut(image_len)) {
            self.split_image(image, dst);
        }
        // Row by row, so that the (large) column matrix is written sequentially.
        let mut rows = cols.chunks_exact_mut(ld);
        for ci in 0..self.c_in {
            for (&tap, row) in self.tap_offsets.iter().zip(rows.by_ref()) {
                for (dst, image) in row.chunks_exact_mut(p).zip(split.chunks_exact(image_len)) {
                    let src = &image[ci * plane_len + tap..];
                    for (oy, d) in dst.chunks_exact_mut(ow).enumerate() {
                        copy_small(d, &src[oy * self.ws..]);
                    }
                }
            }
        }
    }

    /// The adjoint of [`Geometry::im2col`]: writes into the `nb` contiguous images
    /// `[c_in, h, w]` of `images` the sums of the entries of the column matrix `cols`
    /// (`[c_in·kh·kw, nb·oh·ow]`, row-major) read from each pixel; entries that came from the
    /// padding are dropped. `split` is scratch space. `rows()` must not be 0.
    fn col2im(&self, cols: &[f32], images: &mut [f32], split: &mut Vec<f32>) {
        let (p, ow, ld) = (self.cols(), self.ow, cols.len() / self.rows());
        let (plane_len, image_len) = (self.split_plane_len(), self.c_in * self.split_plane_len());
        let split = sized(split, images.len() / self.image_len() * image_len);
        split.fill(0.0);
        let mut rows = cols.chunks_exact(ld);
        for ci in 0..self.c_in {
            for (&tap, row) in self.tap_offsets.iter().zip(rows.by_ref()) {
                for (src, image) in row.chunks_exact(p).zip(split.chunks_exact_mut(image_len)) {
                    let dst = &mut image[ci * plane_len + tap..];
                    for (oy, s) in src.chunks_exact(ow).enumerate() {
                        add_small(&mut dst[oy * self.ws..], s);
                    }
                }
            }
        }
        for (image, src) in images.chunks_exact_mut(self.image_len()).zip(split.chunks_exact(image_len)) {
            self.unsplit_image(src, image);
        }
    }

    /// Fills `cols_t` with the transpose of [`Geometry::im2col`]'s matrix,
    /// `[nb·oh·ow, c_in·kh·kw]`: one row per output pixel `(b, oy, ox)`, holding its receptive
    /// field. `padded` is scratch space for one zero-padded image, zero-initialised or only used
    /// by this function for this geometry (only the image's pixels are written into it).
    fn im2col_t(&self, images: &[f32], cols_t: &mut [f32], padded: &mut Vec<f32>) {
        let block = self.cols() * self.rows();
        for (dst, image) in cols_t.chunks_exact_mut(block).zip(images.chunks_exact(self.image_len())) {
            self.im2col_t_image(image, dst, padded);
        }
    }

    /// One image's `[oh·ow, c_in·kh·kw]` block of [`Geometry::im2col_t`], using `padded` as
    /// scratch space for the zero-padded image (see there).
    fn im2col_t_image(&self, image: &[f32], dst: &mut [f32], padded: &mut Vec<f32>) {
        let padded = sized(padded, self.c_in * self.hp * self.wp);
        for (src, plane) in image.chunks_exact(self.h * self.w).zip(padded.chunks_exact_mut(self.hp * self.wp)) {
            for (line, out) in src.chunks_exact(self.w).zip(plane[self.ph * self.wp..].chunks_exact_mut(self.wp)) {
                out[self.pw..self.pw + self.w].copy_from_slice(line);
            }
        }
        match self.kw {
            3 => self.im2col_t_taps::<3>(padded, dst),
            4 => self.im2col_t_taps::<4>(padded, dst),
            _ => self.im2col_t_taps::<0>(padded, dst),
        }
    }

    /// The receptive fields of [`Geometry::im2col_t_image`] from the padded image, for kernel
    /// width `KW` (`0`: read it from `self`).
    fn im2col_t_taps<const KW: usize>(&self, padded: &[f32], dst: &mut [f32]) {
        let kw = if KW == 0 { self.kw } else { KW };
        let plane = self.hp * self.wp;
        let mut fields = dst.chunks_exact_mut(self.rows());
        for oy in 0..self.oh {
            for ox in 0..self.ow {
                let field = fields.next().expect("one row per output pixel");
                let origin = oy * self.sh * self.wp + ox * self.sw;
                let mut taps = field.chunks_exact_mut(kw);
                for channel in padded.chunks_exact(plane) {
                    for ki in 0..self.kh {
                        let src = &channel[origin + ki * self.wp..][..kw];
                        taps.next().expect("one tap row per (channel, ki)").copy_from_slice(src);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{Lcg, assert_close};

    /// Options with per-axis stride and padding, no output padding.
    fn options(stride: (usize, usize), padding: (usize, usize)) -> ConvOptions {
        ConvOptions { stride, padding, output_padding: (0, 0) }
    }

    /// `spec` with output padding `op`.
    fn with_op(spec: ConvOptions, op: (usize, usize)) -> ConvOptions {
        ConvOptions { output_padding: op, ..spec }
    }

    /// Direct 7-loop convolution in f64 (PyTorch's definition).
    fn naive_conv(x: &Array4<f32>, w: &Array4<f32>, spec: ConvOptions) -> Array4<f64> {
        let (n, c_in, h, wd) = x.dim();
        let (c_out, _, kh, kw) = w.dim();
        let (oh, ow) = conv2d_output_size((h, wd), (kh, kw), spec).unwrap();
        let (sh, sw) = spec.stride;
        let (ph, pw) = (spec.padding.0 as isize, spec.padding.1 as isize);
        let mut out = Array4::zeros((n, c_out, oh, ow));
        for b in 0..n {
            for o in 0..c_out {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut s = 0.0f64;
                        for i in 0..c_in {
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    let iy = (oy * sh + ki) as isize - ph;
                                    let ix = (ox * sw + kj) as isize - pw;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd {
                                        s += x[[b, i, iy as usize, ix as usize]] as f64 * w[[o, i, ki, kj]] as f64;
                                    }
                                }
                            }
                        }
                        out[[b, o, oy, ox]] = s;
                    }
                }
            }
        }
        out
    }

    /// Transposed convolution by direct scatter, in f64.
    fn naive_conv_transpose(x: &Array4<f32>, w: &Array4<f32>, spec: ConvOptions, op: (usize, usize)) -> Array4<f64> {
        let (n, c_in, h, wd) = x.dim();
        let (_, c_out, kh, kw) = w.dim();
        let (oh, ow) = conv_transpose2d_output_size((h, wd), (kh, kw), with_op(spec, op)).unwrap();
        let mut out = Array4::zeros((n, c_out, oh, ow));
        for b in 0..n {
            for i in 0..c_in {
                for y in 0..h {
                    for xx in 0..wd {
                        for o in 0..c_out {
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    let oy = (y * spec.stride.0 + ki) as isize - spec.padding.0 as isize;
                                    let ox = (xx * spec.stride.1 + kj) as isize - spec.padding.1 as isize;
                                    if oy >= 0 && ox >= 0 && (oy as usize) < oh && (ox as usize) < ow {
                                        out[[b, o, oy as usize, ox as usize]] +=
                                            x[[b, i, y, xx]] as f64 * w[[i, o, ki, kj]] as f64;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    fn dot(a: &Array4<f32>, b: &Array4<f32>) -> f64 {
        a.iter().zip(b.iter()).map(|(&x, &y)| x as f64 * y as f64).sum()
    }

    fn dot64(a: &Array4<f64>, b: &Array4<f32>) -> f64 {
        a.iter().zip(b.iter()).map(|(&x, &y)| x * y as f64).sum()
    }

    fn to_f32(a: &Array4<f64>) -> Array4<f32> {
        a.mapv(|v| v as f32)
    }

    /// `(n, c_in, c_out, (h, w), (kh, kw), stride, padding)`.
    type Case = (usize, usize, usize, (usize, usize), (usize, usize), (usize, usize), (usize, usize));

    const CASES: &[Case] = &[
        (1, 1, 1, (5, 5), (3, 3), (1, 1), (0, 0)),
        (2, 2, 3, (6, 7), (3, 3), (1, 1), (1, 1)),
        (3, 3, 2, (7, 6), (3, 2), (2, 2), (1, 0)),
        (2, 1, 3, (8, 8), (4, 4), (2, 2), (1, 1)),
        (1, 3, 1, (5, 9), (2, 5), (1, 2), (2, 2)),
        (2, 2, 2, (4, 4), (1, 1), (1, 1), (0, 0)),
        (2, 3, 2, (6, 5), (1, 1), (2, 1), (1, 0)),
        (1, 2, 3, (3, 3), (5, 5), (1, 1), (2, 2)),
        (3, 2, 2, (9, 9), (3, 3), (3, 2), (0, 2)),
        (1, 1, 2, (1, 1), (3, 3), (1, 1), (1, 1)),
        // An 8×8 output (64 pixels, rows of the `shallow` scratch matrices padded), and a
        // receptive field of 5·4·4 = 80 values (past `shallow::MAX_ROWS`: the im2col path).
        (2, 2, 5, (8, 8), (3, 3), (1, 1), (1, 1)),
        (2, 5, 3, (6, 6), (4, 4), (2, 2), (1, 1)),
    ];

    #[test]
    fn output_sizes_follow_pytorch_and_reject_impossible_geometry() {
        let s = options;
        assert_eq!(conv2d_output_size((28, 28), (3, 3), s((2, 2), (1, 1))), Some((14, 14)));
        assert_eq!(conv2d_output_size((7, 6), (3, 2), s((2, 2), (1, 0))), Some((4, 3)));
        assert_eq!(conv2d_output_size((3, 3), (5, 5), s((1, 1), (1, 1))), Some((1, 1)));
        assert_eq!(conv2d_output_size((3, 3), (5, 5), s((1, 1), (0, 0))), None);
        assert_eq!(conv2d_output_size((3, 3), (3, 3), s((0, 1), (0, 0))), None);
        assert_eq!(conv2d_output_size((3, 3), (0, 3), ConvOptions::default()), None);
        assert_eq!(conv2d_output_size((0, 3), (1, 1), ConvOptions::default()), None);
        assert_eq!(conv_transpose2d_output_size((14, 14), (3, 3), with_op(s((2, 2), (1, 1)), (1, 1))), Some((28, 28)));
        assert_eq!(conv_transpose2d_output_size((7, 7), (4, 4), with_op(s((2, 2), (1, 1)), (0, 0))), Some((14, 14)));
        assert_eq!(conv_transpose2d_output_size((4, 4), (3, 3), with_op(s((2, 2), (1, 1)), (2, 0))), None);
        assert_eq!(conv_transpose2d_output_size((1, 1), (1, 1), with_op(s((1, 1), (1, 1)), (0, 0))), None);
        assert_eq!(conv_transpose2d_output_size((0, 1), (1, 1), with_op(ConvOptions::default(), (0, 0))), None);
        assert_eq!(conv_transpose2d_output_size((2, 2), (2, 2), with_op(s((0, 1), (0, 0)), (0, 0))), None);
    }

    #[test]
    fn conv2d_matches_direct_loops() {
        let mut rng = Lcg::new(10);
        for &(n, ci, co, hw, k, st, p) in CASES {
            let spec = options(st, p);
            let x = rng.array4((n, ci, hw.0, hw.1));
            let w = rng.array4((co, ci, k.0, k.1));
            let got = conv2d(x.view(), w.view(), spec);
            let expect = to_f32(&naive_conv(&x, &w, spec));
            assert_close(got.view().into_dyn(), expect.view().into_dyn(), 1e-5, "conv2d");
        }
    }

    #[test]
    fn conv2d_accepts_non_standard_layouts() {
        let mut rng = Lcg::new(11);
        let spec = options((2, 1), (1, 1));
        // x stored as [h, w, n, c] and permuted to NCHW; w reversed along its output channels.
        let x_hwnc = rng.array4((6, 5, 2, 3));
        let x = x_hwnc.view().permuted_axes([2, 3, 0, 1]);
        let w_store = rng.array4((4, 3, 3, 2));
        let w = w_store.slice(ndarray::s![..;-1, .., .., ..]);
        let got = conv2d(x, w, spec);
        let expect = to_f32(&naive_conv(&x.to_owned(), &w.to_owned(), spec));
        assert_close(got.view().into_dyn(), expect.view().into_dyn(), 1e-5, "conv2d strided");
    }

    #[test]
    fn conv2d_backward_is_the_adjoint() {
        let mut rng = Lcg::new(12);
        for &(n, ci, co, hw, k, st, p) in CASES {
            let spec = options(st, p);
            let x = rng.array4((n, ci, hw.0, hw.1));
            let w = rng.array4((co, ci, k.0, k.1));
            let y = naive_conv(&x, &w, spec);
            let g = rng.array4(y.dim());
            let (gx, gw) = conv2d_backward(x.view(), w.view(), g.view(), spec);
            assert_eq!((gx.dim(), gw.dim()), (x.dim(), w.dim()));
            // <conv(x, w), g> = <x, grad_x> = <w, grad_w> (conv is bilinear).
            let lhs = dot64(&y, &g);
            let tol = 1e-4 * (1.0 + lhs.abs());
            assert!((lhs - dot(&x, &gx)).abs() < tol, "grad_x adjoint {lhs} vs {}", dot(&x, &gx));
            assert!((lhs - dot(&w, &gw)).abs() < tol, "grad_w adjoint {lhs} vs {}", dot(&w, &gw));
        }
    }

    #[test]
    fn conv2d_backward_matches_finite_differences() {
        let mut rng = Lcg::new(13);
        for &(n, ci, co, hw, k, st, p) in &CASES[1..5] {
            let spec = options(st, p);
            let x = rng.array4((n, ci, hw.0, hw.1));
            let w = rng.array4((co, ci, k.0, k.1));
            let g = rng.array4(naive_conv(&x, &w, spec).dim());
            let (gx, gw) = conv2d_backward(x.view(), w.view(), g.view(), spec);
            let loss = |x: &Array4<f32>, w: &Array4<f32>| dot64(&naive_conv(x, w, spec), &g);
            let eps = 1e-2f32;
            for _ in 0..6 {
                let idx = [rng.below(n), rng.below(ci), rng.below(hw.0), rng.below(hw.1)];
                let (mut xp, mut xm) = (x.clone(), x.clone());
                xp[idx] += eps;
                xm[idx] -= eps;
                let fd = (loss(&xp, &w) - loss(&xm, &w)) / (xp[idx] - xm[idx]) as f64;
                assert!((fd - gx[idx] as f64).abs() < 1e-3, "d/dx{idx:?}: fd {fd} vs {}", gx[idx]);
                let idx = [rng.below(co), rng.below(ci), rng.below(k.0), rng.below(k.1)];
                let (mut wp, mut wm) = (w.clone(), w.clone());
                wp[idx] += eps;
                wm[idx] -= eps;
                let fd = (loss(&x, &wp) - loss(&x, &wm)) / (wp[idx] - wm[idx]) as f64;
                assert!((fd - gw[idx] as f64).abs() < 1e-3, "d/dw{idx:?}: fd {fd} vs {}", gw[idx]);
            }
        }
    }

    #[test]
    fn conv_transpose2d_matches_direct_scatter() {
        let mut rng = Lcg::new(14);
        for &(n, ci, co, hw, k, st, p) in CASES {
            let spec = options(st, p);
            for op in [(0, 0), (st.0 - 1, st.1 - 1)] {
                let Some(_) = conv_transpose2d_output_size(hw, k, with_op(spec, op)) else { continue };
                let x = rng.array4((n, ci, hw.0, hw.1));
                let w = rng.array4((ci, co, k.0, k.1));
                let got = conv_transpose2d(x.view(), w.view(), with_op(spec, op));
                let expect = to_f32(&naive_conv_transpose(&x, &w, spec, op));
                assert_close(got.view().into_dyn(), expect.view().into_dyn(), 1e-5, "conv_transpose2d");
            }
        }
    }

    /// The kernels that apply the epilogue as they write (Winograd forward and transposed,
    /// shallow) and the paths that apply it afterwards give the bits of `add_channel_bias` and
    /// then the rectifier on the plain convolution, with output padding (pixels no Winograd tile
    /// reaches), a bias of −0, and with and without a bias or a rectifier.
    #[test]
    fn epilogues_give_the_bits_of_the_bias_and_rectifier_applied_afterwards() {
        let mut rng = Lcg::new(21);
        let spec = options((2, 2), (1, 1));
        let same_bits = |got: &Array4<f32>, want: &Array4<f32>, what: &str| {
            assert_eq!(got.dim(), want.dim(), "{what}");
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                assert_eq!(g.to_bits(), w.to_bits(), "{what}: element {i}: {g} against {w}");
            }
        };
        let afterwards = |mut plain: Array4<f32>, e: Epilogue| {
            if let Some(bias) = e.bias {
                add_channel_bias(&mut plain, bias);
            }
            if let Some(r) = e.rectifier {
                plain.mapv_inplace(|v| r.apply(v));
            }
            plain
        };
        let rectifiers = [None, Some(Rectifier::RELU), Rectifier::leaky(0.2), Rectifier::leaky(0.0)];
        // (n, c_in, c_out, side, kernel): Winograd both ways, shallow forward, im2col.
        for (n, ci, co, side, k) in [(9, 32, 40, 14, 4), (3, 40, 32, 7, 4), (3, 1, 16, 28, 4), (2, 3, 5, 9, 3)] {
            let x = rng.array4((n, ci, side, side));
            let mut bias: Vec<f32> = (0..co).map(|_| rng.next()).collect();
            bias[0] = -0.0;
            let w = rng.array4((co, ci, k, k));
            let wt = rng.array4((ci, co, k, k));
            for (with_bias, rectifier) in [false, true].into_iter().flat_map(|b| rectifiers.map(|r| (b, r))) {
                let e = Epilogue { bias: with_bias.then_some(&bias[..]), rectifier };
                let what = format!("n {n}, {ci}->{co}, bias {with_bias}, {rectifier:?}");
                let want = afterwards(conv2d(x.view(), w.view(), spec), e);
                same_bits(&conv2d_with(x.view(), w.view(), e, spec), &want, &format!("conv2d, {what}"));
                for op in [0, 1] {
                    let spec = with_op(spec, (op, op));
                    let want = afterwards(conv_transpose2d(x.view(), wt.view(), spec), e);
                    same_bits(
                        &conv_transpose2d_with(x.view(), wt.view(), e, spec),
                        &want,
                        &format!("transposed, {what}"),
                    );
                }
            }
        }
        // The cases above take the fused paths they are meant to test.
        let geo = |c_in, side| Geometry::new(c_in, (side, side), (4, 4), spec).expect("geometry");
        assert!(winograd_for(&geo(32, 14), 9, 40).is_some() && winograd_for(&geo(32, 14), 3, 40).is_some());
        assert!(shallow::suits(&geo(1, 28), 3, 16) || !crate::kernels::dot_gemm::has_avx2_fma());
    }

    #[test]
    fn conv_transpose2d_is_the_input_gradient_of_conv2d() {
        // PyTorch's definition: conv_transpose2d(g, w) is d<conv2d(x, w), g>/dx when the output
        // padding picks x's size. Compared against the naive scatter of the same gradient.
        let mut rng = Lcg::new(15);
        let spec = options((2, 2), (1, 1));
        for (h, op) in [(8, 1), (7, 0)] {
            let x = rng.array4((2, 3, h, h));
            let w = rng.array4((4, 3, 3, 3));
            let g = rng.array4(naive_conv(&x, &w, spec).dim());
            let (gx, _) = conv2d_backward(x.view(), w.view(), g.view(), spec);
            let t = conv_transpose2d(g.view(), w.view(), with_op(spec, (op, op)));
            assert_eq!(t.dim(), x.dim());
            assert_close(t.view().into_dyn(), gx.view().into_dyn(), 1e-5, "convT vs grad_x");
            let naive = to_f32(&naive_conv_transpose(&g, &w, spec, (op, op)));
            assert_close(gx.view().into_dyn(), naive.view().into_dyn(), 1e-5, "grad_x vs scatter");
        }
    }

    #[test]
    fn conv_transpose2d_backward_is_the_adjoint() {
        let mut rng = Lcg::new(16);
        for &(n, ci, co, hw, k, st, p) in CASES {
            let spec = options(st, p);
            let op = (st.0 - 1, st.1 - 1);
            let Some(_) = conv_transpose2d_output_size(hw, k, with_op(spec, op)) else { continue };
            let x = rng.array4((n, ci, hw.0, hw.1));
            let w = rng.array4((ci, co, k.0, k.1));
            let y = naive_conv_transpose(&x, &w, spec, op);
            let g = rng.array4(y.dim());
            let (gx, gw) = conv_transpose2d_backward(x.view(), w.view(), g.view(), with_op(spec, op));
            assert_eq!((gx.dim(), gw.dim()), (x.dim(), w.dim()));
            let lhs = dot64(&y, &g);
            let tol = 1e-4 * (1.0 + lhs.abs());
            assert!((lhs - dot(&x, &gx)).abs() < tol, "grad_x adjoint {lhs} vs {}", dot(&x, &gx));
            assert!((lhs - dot(&w, &gw)).abs() < tol, "grad_w adjoint {lhs} vs {}", dot(&w, &gw));
        }
    }

    #[test]
    fn empty_batch_and_channels() {
        let spec = options((1, 1), (1, 1));
        let x = Array4::<f32>::zeros((0, 2, 4, 4));
        let w = Array4::<f32>::ones((3, 2, 3, 3));
        assert_eq!(conv2d(x.view(), w.view(), spec).dim(), (0, 3, 4, 4));
        let g = Array4::<f32>::zeros((0, 3, 4, 4));
        let (gx, gw) = conv2d_backward(x.view(), w.view(), g.view(), spec);
        assert_eq!(gx.dim(), (0, 2, 4, 4));
        assert_eq!(gw, Array4::<f32>::zeros((3, 2, 3, 3)));
        // No input channels: the output is all zeros.
        let x = Array4::<f32>::ones((2, 0, 4, 4));
        let w = Array4::<f32>::ones((3, 0, 3, 3));
        assert_eq!(conv2d(x.view(), w.view(), spec), Array4::zeros((2, 3, 4, 4)));
    }

    #[test]
    #[should_panic(expected = "impossible geometry")]
    fn conv2d_panics_on_kernel_larger_than_input() {
        let x = Array4::<f32>::zeros((1, 1, 2, 2));
        let w = Array4::<f32>::zeros((1, 1, 3, 3));
        let _ = conv2d(x.view(), w.view(), ConvOptions::default());
    }

    /// Gradients of `<conv2d(x, w), g>` with respect to `x` and `w` by direct loops, in f64.
    fn naive_grads(x: &Array4<f32>, w: &Array4<f32>, g: &Array4<f32>, spec: ConvOptions) -> (Array4<f64>, Array4<f64>) {
        let (n, c_in, h, wd) = x.dim();
        let (c_out, _, kh, kw) = w.dim();
        let (_, _, oh, ow) = g.dim();
        let (mut gx, mut gw) = (Array4::zeros(x.dim()), Array4::zeros(w.dim()));
        for b in 0..n {
            for o in 0..c_out {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let go = g[[b, o, oy, ox]] as f64;
                        for i in 0..c_in {
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    let iy = (oy * spec.stride.0 + ki) as isize - spec.padding.0 as isize;
                                    let ix = (ox * spec.stride.1 + kj) as isize - spec.padding.1 as isize;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd {
                                        let (iy, ix) = (iy as usize, ix as usize);
                                        gx[[b, i, iy, ix]] += go * w[[o, i, ki, kj]] as f64;
                                        gw[[o, i, ki, kj]] += go * x[[b, i, iy, ix]] as f64;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        (gx, gw)
    }

    fn same_bits(a: &Array4<f32>, b: &Array4<f32>) -> bool {
        a.dim() == b.dim() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    /// `(c_in, c_out, (h, w), (kh, kw), stride, padding)` of the chunking tests: DCGAN's strided
    /// 4×4 layers, a padded 3×3, pointwise, a kernel covering the whole input (dense layer), a 1×1
    /// output from a padded input (not a dense layer), and uneven geometries (strides 3, a
    /// 5-wide kernel).
    type Geo = (usize, usize, (usize, usize), (usize, usize), (usize, usize), (usize, usize));
    const CHUNK_GEOS: &[Geo] = &[
        (3, 4, (8, 8), (4, 4), (2, 2), (1, 1)),
        (2, 3, (5, 6), (3, 3), (1, 1), (1, 1)),
        (2, 3, (4, 4), (1, 1), (1, 1), (0, 0)),
        (3, 2, (3, 4), (3, 4), (2, 1), (0, 0)),
        (2, 2, (1, 1), (3, 3), (1, 1), (1, 1)),
        (2, 3, (7, 5), (2, 3), (3, 2), (0, 1)),
        (2, 2, (9, 8), (3, 5), (2, 3), (2, 1)),
    ];

    #[test]
    fn every_chunk_size_matches_direct_loops() {
        // Chunks of 1 (one image per product), ragged last chunks, exactly the batch, and more
        // than the batch; the forward pass and the input gradient must not depend on the cut at
        // all, bit for bit.
        let mut rng = Lcg::new(18);
        let n = 5;
        for &(ci, co, hw, k, st, p) in CHUNK_GEOS {
            let spec = options(st, p);
            let geo = Geometry::new(ci, hw, k, spec).unwrap();
            let x = rng.array4((n, ci, hw.0, hw.1));
            let w = rng.array4((co, ci, k.0, k.1));
            let y = naive_conv(&x, &w, spec);
            let g = rng.array4(y.dim());
            let (gx, gw) = naive_grads(&x, &w, &g, spec);
            let (y, gx, gw) = (to_f32(&y), to_f32(&gx), to_f32(&gw));
            let reference =
                (conv2d_in_chunks(x.view(), w.view(), &geo, n), backward_input_in_chunks(w.view(), g.view(), &geo, n));
            for chunk in [1, 2, 3, 4, 5, 8] {
                let what = format!("geometry {ci}->{co} {hw:?} k{k:?} s{st:?} p{p:?}, chunk {chunk}");
                let got = conv2d_in_chunks(x.view(), w.view(), &geo, chunk);
                assert_close(got.view().into_dyn(), y.view().into_dyn(), 1e-5, &format!("conv2d, {what}"));
                assert!(same_bits(&got, &reference.0), "conv2d depends on the chunking: {what}");
                let got = backward_input_in_chunks(w.view(), g.view(), &geo, chunk);
                assert_close(got.view().into_dyn(), gx.view().into_dyn(), 1e-5, &format!("grad_x, {what}"));
                assert!(same_bits(&got, &reference.1), "grad_x depends on the chunking: {what}");
                let got =
                    backward_weight_in_chunks(x.view(), g.view(), &geo, chunk).into_shape_with_order(w.dim()).unwrap();
                assert_close(got.view().into_dyn(), gw.view().into_dyn(), 1e-5, &format!("grad_w, {what}"));
            }
        }
    }

    #[test]
    fn full_window_kernels_are_dense_layers() {
        // DCGAN's 7×7 layers on 7×7 maps (and the transposed one on 1×1 inputs), through the
        // public functions, against the direct loops.
        let mut rng = Lcg::new(19);
        for (n, ci, co, hw, st) in [(3, 4, 2, (7, 7), (1, 1)), (4, 2, 5, (3, 2), (2, 3)), (1, 1, 1, (1, 1), (1, 1))] {
            let spec = options(st, (0, 0));
            assert!(Geometry::new(ci, hw, hw, spec).unwrap().is_full_window());
            let x = rng.array4((n, ci, hw.0, hw.1));
            let w = rng.array4((co, ci, hw.0, hw.1));
            let y = conv2d(x.view(), w.view(), spec);
            assert_eq!(y.dim(), (n, co, 1, 1));
            assert_close(
                y.view().into_dyn(),
                to_f32(&naive_conv(&x, &w, spec)).view().into_dyn(),
                1e-5,
                "dense conv2d",
            );
            let g = rng.array4(y.dim());
            let (gx, gw) = conv2d_backward(x.view(), w.view(), g.view(), spec);
            let (ex, ew) = naive_grads(&x, &w, &g, spec);
            assert_close(gx.view().into_dyn(), to_f32(&ex).view().into_dyn(), 1e-5, "dense grad_x");
            assert_close(gw.view().into_dyn(), to_f32(&ew).view().into_dyn(), 1e-5, "dense grad_w");
            // The transposed convolution of a 1×1 input with the same weight is grad_x's map.
            let wt = rng.array4((co, ci, hw.0, hw.1));
            let z = rng.array4((n, co, 1, 1));
            let t = conv_transpose2d(z.view(), wt.view(), spec);
            let expect = to_f32(&naive_conv_transpose(&z, &wt, spec, (0, 0)));
            assert_close(t.view().into_dyn(), expect.view().into_dyn(), 1e-5, "dense conv_transpose2d");
        }
    }

    #[test]
    fn chunks_respect_the_budget_and_are_as_few_as_possible() {
        for (geo, c_out) in [
            (Geometry::new(64, (14, 14), (4, 4), options((2, 2), (1, 1))).unwrap(), 128),
            (Geometry::new(1, (6, 6), (3, 3), options((1, 1), (1, 1))).unwrap(), 2),
            (Geometry::new(2, (3, 3), (3, 3), ConvOptions::default()).unwrap(), 3),
        ] {
            let per_image = (geo.rows() + c_out) * geo.cols();
            let most = (COLUMN_BUDGET / per_image).min(TARGET_COLUMNS.div_ceil(geo.cols())).max(1);
            for n in [1, 2, 5, 17, 128] {
                let chunk = geo.chunk_items(n, c_out);
                assert!(chunk >= 1 && chunk <= n.min(most), "n {n}: chunk {chunk}, at most {most}");
                assert_eq!(n.div_ceil(chunk), n.div_ceil(most), "n {n}: more chunks than needed");
            }
            assert_eq!(geo.chunk_items(0, c_out), 1);
        }
    }

    #[test]
    fn results_are_bit_identical_across_pools() {
        // With the test-size budgets, both geometries are cut into several chunks of several
        // images, more chunks than the weight gradient has groups, with smaller last ones.
        let mut rng = Lcg::new(17);
        // The first two take the `shallow` path (receptive fields of 64 and 27 values), the
        // third the im2col path (80 values).
        let cases =
            [(20, 4, 6, 8, 4, (2, 2), (1, 1)), (17, 3, 4, 5, 3, (1, 1), (1, 1)), (19, 5, 6, 8, 4, (2, 2), (1, 1))];
        for (n, ci, co, hw, k, st, p) in cases {
            let spec = options(st, p);
            let geo = Geometry::new(ci, (hw, hw), (k, k), spec).unwrap();
            assert_eq!(shallow::suits(&geo, n, co), geo.rows() <= shallow::MAX_ROWS && shallow::suits(&geo, 1, 1));
            let chunk = geo.chunk_items(n, co);
            assert!(1 < chunk && chunk < n, "the batch must be cut into chunks of several images");
            assert!(n.div_ceil(chunk) > WEIGHT_GROUPS, "the weight gradient's groups must hold several chunks");
            let x = rng.array4((n, ci, hw, hw));
            let w = rng.array4((co, ci, k, k));
            let g = rng.array4((n, co, geo.oh, geo.ow));
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| {
                    let (gx, gw) = conv2d_backward(x.view(), w.view(), g.view(), spec);
                    [conv2d(x.view(), w.view(), spec), gx, gw]
                })
            };
            let first = run(1);
            for threads in [1, 2, 3] {
                let again = run(threads);
                for (a, b) in first.iter().zip(&again) {
                    assert!(same_bits(a, b), "{threads} threads, chunk {chunk} of {n}");
                }
            }
            let (ex, ew) = naive_grads(&x, &w, &g, spec);
            let expect = [to_f32(&naive_conv(&x, &w, spec)), to_f32(&ex), to_f32(&ew)];
            for (got, expect) in first.iter().zip(&expect) {
                assert_close(got.view().into_dyn(), expect.view().into_dyn(), 1e-5, "pool run");
            }
        }
    }
}
