//! 2-D convolution and transposed convolution on NCHW `f32` arrays, by im2col + [`gemm`].
//!
//! Semantics and layouts are PyTorch's (`torch.nn.functional.conv2d` / `conv_transpose2d` with
//! `dilation = 1`, `groups = 1`, no bias — the layer adds the bias by broadcasting):
//! - input `x`: `[n, c_in, h, w]`;
//! - [`conv2d`] weight: `[c_out, c_in, kh, kw]`, output `[n, c_out, oh, ow]` with
//!   `oh = (h + 2·ph − kh) / sh + 1` (see [`conv2d_output_size`]);
//! - [`conv_transpose2d`] weight: `[c_in, c_out, kh, kw]`, output `[n, c_out, oh, ow]` with
//!   `oh = (h − 1)·sh − 2·ph + kh + output_padding_h` (see [`conv_transpose2d_output_size`]).
//!
//! # How
//! For one image, im2col lays the receptive fields out as a `[c_in·kh·kw, oh·ow]` matrix, and the
//! convolution is `W[c_out, c_in·kh·kw] · cols`. The gradient with respect to the input is the
//! adjoint: `dcols = Wᵀ · grad_out`, then col2im adds each column back onto the pixels it came
//! from. The transposed convolution *is* that adjoint (with the weight read as
//! `[c_in, c_out, kh, kw]`), so it shares the code, and its own gradients are a convolution
//! (input) and a weight gradient with the roles of input and output exchanged.
//!
//! Images are processed in parallel on the current rayon pool (several per task when they are
//! small). The weight gradient sums over the batch in a fixed number of chunks that does not
//! depend on the thread count, added in order, so every function here is deterministic: the same
//! inputs give bit-identical outputs whatever the pool size.
//!
//! Kernels trust their caller (the autodiff layer validates shapes and returns typed errors):
//! inconsistent shapes panic. Use [`conv2d_output_size`] and [`conv_transpose2d_output_size`] to
//! validate a geometry without panicking.

use ndarray::{Array2, Array4, ArrayView2, ArrayView3, ArrayView4, ArrayViewMut2, Axis};
use rayon::prelude::*;

use super::matmul::gemm;

/// Stride and zero padding of a 2-D convolution, each as `(along height, along width)`.
///
/// The same spec describes a transposed convolution: there `stride` and `padding` are those of
/// the convolution it is the adjoint of (as in PyTorch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dSpec {
    /// Step between neighbouring windows, `(sh, sw)`; each at least 1.
    pub stride: (usize, usize),
    /// Zeros added on each side of the input, `(ph, pw)`.
    pub padding: (usize, usize),
}

impl Conv2dSpec {
    /// A spec with the given stride and padding.
    pub fn new(stride: (usize, usize), padding: (usize, usize)) -> Self {
        Conv2dSpec { stride, padding }
    }
}

impl Default for Conv2dSpec {
    /// Stride 1, no padding.
    fn default() -> Self {
        Conv2dSpec { stride: (1, 1), padding: (0, 0) }
    }
}

/// The spatial output size `(oh, ow)` of [`conv2d`] on an input of spatial size `input = (h, w)`
/// with a `kernel = (kh, kw)` kernel: `oh = (h + 2·ph − kh) / sh + 1` (rounded down), likewise
/// for `ow`.
///
/// Returns `None` for impossible geometry: a zero stride, an empty kernel or input, or a kernel
/// larger than the padded input (`kh > h + 2·ph`).
pub fn conv2d_output_size(input: (usize, usize), kernel: (usize, usize), spec: Conv2dSpec) -> Option<(usize, usize)> {
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
    spec: Conv2dSpec,
    output_padding: (usize, usize),
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
        one(input.0, kernel.0, spec.stride.0, spec.padding.0, output_padding.0)?,
        one(input.1, kernel.1, spec.stride.1, spec.padding.1, output_padding.1)?,
    ))
}

/// 2-D convolution (cross-correlation, as in PyTorch) of `x: [n, c_in, h, w]` with
/// `w: [c_out, c_in, kh, kw]`, giving `[n, c_out, oh, ow]` (sizes from [`conv2d_output_size`]).
///
/// # Panics
/// If the channel counts differ or the geometry is impossible.
pub fn conv2d(x: ArrayView4<f32>, w: ArrayView4<f32>, spec: Conv2dSpec) -> Array4<f32> {
    let (n, c_in, h, wd) = x.dim();
    let (c_out, c_in_w, kh, kw) = w.dim();
    assert_eq!(c_in, c_in_w, "conv2d: input has {c_in} channels, weight expects {c_in_w}");
    let geo = Geometry::new(c_in, (h, wd), (kh, kw), spec)
        .unwrap_or_else(|| panic!("conv2d: impossible geometry: input {h}x{wd}, kernel {kh}x{kw}, {spec:?}"));
    let x = x.as_standard_layout();
    let w = w.as_standard_layout();
    let w_mat = matrix(w.view(), c_out, geo.rows());
    let mut out = Array4::zeros((n, c_out, geo.oh, geo.ow));
    let min_len = items_per_task(geo.flops_per_item(c_out));
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(x.axis_iter(Axis(0)).into_par_iter())
        .with_min_len(min_len)
        .for_each_init(Vec::new, |buf, (mut out_b, x_b)| {
            let cols = geo.im2col(x_b, buf);
            gemm(1.0, w_mat, cols, 0.0, matrix_mut(out_b.view_mut(), c_out, geo.cols()));
        });
    out
}

/// Gradients of [`conv2d`]: given `x`, `w` and the gradient `grad_out` of a loss with respect
/// to `conv2d(x, w, spec)`, returns `(grad_x, grad_w)`, shaped like `x` and `w`.
///
/// # Panics
/// If the shapes are inconsistent (see [`conv2d_backward_input`], [`conv2d_backward_weight`]).
pub fn conv2d_backward(
    x: ArrayView4<f32>,
    w: ArrayView4<f32>,
    grad_out: ArrayView4<f32>,
    spec: Conv2dSpec,
) -> (Array4<f32>, Array4<f32>) {
    let (n, c_in, h, wd) = x.dim();
    let (c_out, c_in_w, kh, kw) = w.dim();
    assert_eq!(c_in, c_in_w, "conv2d_backward: input has {c_in} channels, weight expects {c_in_w}");
    assert_eq!(grad_out.dim().0, n, "conv2d_backward: batch of grad_out and x differ");
    assert_eq!(grad_out.dim().1, c_out, "conv2d_backward: channels of grad_out and weight differ");
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
    spec: Conv2dSpec,
) -> Array4<f32> {
    let (c_out, c_in, kh, kw) = w.dim();
    let (n, c_out_g, oh, ow) = grad_out.dim();
    assert_eq!(c_out, c_out_g, "conv2d_backward_input: grad_out has {c_out_g} channels, weight gives {c_out}");
    let geo = Geometry::new(c_in, input_hw, (kh, kw), spec).filter(|g| (g.oh, g.ow) == (oh, ow)).unwrap_or_else(|| {
        panic!("conv2d_backward_input: input {input_hw:?} with kernel {kh}x{kw} and {spec:?} does not give {oh}x{ow}")
    });
    let w = w.as_standard_layout();
    let w_mat = matrix(w.view(), c_out, geo.rows());
    let grad_out = grad_out.as_standard_layout();
    let mut grad_x = Array4::zeros((n, c_in, input_hw.0, input_hw.1));
    let min_len = items_per_task(geo.flops_per_item(c_out));
    grad_x
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(grad_out.axis_iter(Axis(0)).into_par_iter())
        .with_min_len(min_len)
        .for_each_init(Vec::new, |buf, (mut gx_b, g_b)| {
            let g_mat = matrix3(g_b, c_out, geo.cols());
            let gx = gx_b.as_slice_mut().expect("fresh array is contiguous");
            if geo.is_pointwise() {
                // The columns are the image itself: write the product straight into it.
                let dst = ArrayViewMut2::from_shape((geo.rows(), geo.cols()), gx).expect("pointwise shape");
                gemm(1.0, w_mat.t(), g_mat, 0.0, dst);
            } else {
                buf.resize(geo.rows() * geo.cols(), 0.0);
                let dcols = ArrayViewMut2::from_shape((geo.rows(), geo.cols()), &mut buf[..]).expect("buffer shape");
                gemm(1.0, w_mat.t(), g_mat, 0.0, dcols);
                geo.col2im_add(buf, gx);
            }
        });
    grad_x
}

/// Gradient of [`conv2d`] with respect to its weight: given the input `x: [n, c_in, h, w]` and
/// `grad_out: [n, c_out, oh, ow]`, returns `[c_out, c_in, kh, kw]` for `kernel = (kh, kw)`.
///
/// The sum over the batch runs in parallel chunks of a size fixed by the problem (never by the
/// thread count) whose partial sums are added in order, so the result is reproducible bit for
/// bit.
///
/// # Panics
/// If the batch sizes differ or `x` does not convolve to `grad_out`'s spatial size.
pub fn conv2d_backward_weight(
    x: ArrayView4<f32>,
    grad_out: ArrayView4<f32>,
    kernel: (usize, usize),
    spec: Conv2dSpec,
) -> Array4<f32> {
    let (n, c_in, h, wd) = x.dim();
    let (n_g, c_out, oh, ow) = grad_out.dim();
    assert_eq!(n, n_g, "conv2d_backward_weight: batch of x ({n}) and grad_out ({n_g}) differ");
    let geo = Geometry::new(c_in, (h, wd), kernel, spec).filter(|g| (g.oh, g.ow) == (oh, ow)).unwrap_or_else(|| {
        panic!("conv2d_backward_weight: input {h}x{wd} with kernel {kernel:?} and {spec:?} does not give {oh}x{ow}")
    });
    let x = x.as_standard_layout();
    let grad_out = grad_out.as_standard_layout();
    let chunk = weight_chunk_items(n, geo.flops_per_item(c_out));
    let partials: Vec<Array2<f32>> = (0..n.div_ceil(chunk))
        .into_par_iter()
        .map_init(Vec::new, |buf, chunk_index| {
            let mut acc = Array2::zeros((c_out, geo.rows()));
            let items = chunk_index * chunk..n.min((chunk_index + 1) * chunk);
            for (j, b) in items.enumerate() {
                let cols = geo.im2col(x.index_axis(Axis(0), b), buf);
                let g_mat = matrix3(grad_out.index_axis(Axis(0), b), c_out, geo.cols());
                gemm(1.0, g_mat, cols.t(), if j == 0 { 0.0 } else { 1.0 }, acc.view_mut());
            }
            acc
        })
        .collect();
    let mut parts = partials.into_iter();
    let mut total = parts.next().unwrap_or_else(|| Array2::zeros((c_out, geo.rows())));
    for part in parts {
        total += &part;
    }
    total.into_shape_with_order((c_out, c_in, kernel.0, kernel.1)).expect("weight gradient shape")
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
pub fn conv_transpose2d(
    x: ArrayView4<f32>,
    w: ArrayView4<f32>,
    spec: Conv2dSpec,
    output_padding: (usize, usize),
) -> Array4<f32> {
    let (_, c_in, h, wd) = x.dim();
    let (c_in_w, _, kh, kw) = w.dim();
    assert_eq!(c_in, c_in_w, "conv_transpose2d: input has {c_in} channels, weight expects {c_in_w}");
    let out_hw = conv_transpose2d_output_size((h, wd), (kh, kw), spec, output_padding).unwrap_or_else(|| {
        panic!(
            "conv_transpose2d: impossible geometry: input {h}x{wd}, kernel {kh}x{kw}, {spec:?}, output padding {output_padding:?}"
        )
    });
    conv2d_backward_input(w, x, out_hw, spec)
}

/// Gradients of [`conv_transpose2d`]: given `x`, `w` and the gradient `grad_out` of a loss with
/// respect to `conv_transpose2d(x, w, spec, output_padding)`, returns `(grad_x, grad_w)`, shaped
/// like `x` and `w`.
///
/// `grad_x` is `conv2d(grad_out, w)` and `grad_w` is the [`conv2d`] weight gradient with input
/// `grad_out` and output gradient `x`.
///
/// # Panics
/// If the shapes are inconsistent with a transposed convolution of `x` by `w`.
pub fn conv_transpose2d_backward(
    x: ArrayView4<f32>,
    w: ArrayView4<f32>,
    grad_out: ArrayView4<f32>,
    spec: Conv2dSpec,
    output_padding: (usize, usize),
) -> (Array4<f32>, Array4<f32>) {
    let (n, c_in, h, wd) = x.dim();
    let (c_in_w, c_out, kh, kw) = w.dim();
    assert_eq!(c_in, c_in_w, "conv_transpose2d_backward: input has {c_in} channels, weight expects {c_in_w}");
    let (oh, ow) = conv_transpose2d_output_size((h, wd), (kh, kw), spec, output_padding).unwrap_or_else(|| {
        panic!(
            "conv_transpose2d_backward: impossible geometry: input {h}x{wd}, kernel {kh}x{kw}, {spec:?}, output padding {output_padding:?}"
        )
    });
    assert_eq!(
        grad_out.dim(),
        (n, c_out, oh, ow),
        "conv_transpose2d_backward: grad_out does not have the output's shape"
    );
    let grad_x = conv2d(grad_out, w, spec);
    let grad_w = conv2d_backward_weight(grad_out, x, (kh, kw), spec);
    (grad_x, grad_w)
}

/// Work (in floating-point operations) worth one rayon task: at ~100 GFLOP/s per core, 4 MFLOP
/// is ~40 µs, well above the cost of handing a task to another thread (the same reasoning as
/// for `matmul`'s block size). Unit tests use a tiny value so that small inputs exercise the
/// batch split and the chunked weight-gradient sum.
const MIN_FLOPS_PER_TASK: usize = if cfg!(test) { 1 << 12 } else { 4 << 20 };

/// Most partial weight gradients summed at the end of [`conv2d_backward_weight`] (bounds the
/// extra memory to this many copies of the weight).
const MAX_WEIGHT_PARTIALS: usize = 8;

/// Images per parallel task so that each task has at least [`MIN_FLOPS_PER_TASK`] of work.
fn items_per_task(flops_per_item: usize) -> usize {
    MIN_FLOPS_PER_TASK.div_ceil(flops_per_item.max(1)).max(1)
}

/// Images per chunk of the weight-gradient sum: enough work per chunk, and at most
/// [`MAX_WEIGHT_PARTIALS`] chunks. Depends only on the problem, never on the thread count.
fn weight_chunk_items(n: usize, flops_per_item: usize) -> usize {
    items_per_task(flops_per_item).max(n.div_ceil(MAX_WEIGHT_PARTIALS)).max(1)
}

/// A contiguous standard-layout 4-D view `[a, b, c, d]` as the matrix `[rows, cols]`.
fn matrix(v: ArrayView4<f32>, rows: usize, cols: usize) -> ArrayView2<f32> {
    v.into_shape_with_order((rows, cols)).expect("standard-layout view reshapes")
}

/// A contiguous standard-layout 3-D view as the matrix `[rows, cols]`.
fn matrix3(v: ArrayView3<f32>, rows: usize, cols: usize) -> ArrayView2<f32> {
    v.into_shape_with_order((rows, cols)).expect("standard-layout view reshapes")
}

/// A contiguous standard-layout mutable 3-D view as the matrix `[rows, cols]`.
fn matrix_mut(v: ndarray::ArrayViewMut3<f32>, rows: usize, cols: usize) -> ArrayViewMut2<f32> {
    v.into_shape_with_order((rows, cols)).expect("standard-layout view reshapes")
}

/// The geometry of one convolution, checked once: input `[c_in, h, w]`, kernel `kh×kw`,
/// stride, padding and the resulting `oh×ow`.
#[derive(Clone, Copy, Debug)]
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
}

impl Geometry {
    /// The geometry, or `None` if [`conv2d_output_size`] rejects it.
    fn new(c_in: usize, input: (usize, usize), kernel: (usize, usize), spec: Conv2dSpec) -> Option<Self> {
        let (oh, ow) = conv2d_output_size(input, kernel, spec)?;
        Some(Geometry {
            c_in,
            h: input.0,
            w: input.1,
            kh: kernel.0,
            kw: kernel.1,
            sh: spec.stride.0,
            sw: spec.stride.1,
            ph: spec.padding.0,
            pw: spec.padding.1,
            oh,
            ow,
        })
    }

    /// Rows of the im2col matrix: `c_in·kh·kw`.
    fn rows(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Columns of the im2col matrix: `oh·ow`.
    fn cols(&self) -> usize {
        self.oh * self.ow
    }

    /// Floating-point operations of one image's GEMM against `c_out` filters.
    fn flops_per_item(&self, c_out: usize) -> usize {
        2 * c_out * self.rows() * self.cols()
    }

    /// A 1×1 kernel with stride 1 and no padding: the im2col matrix is the image itself.
    fn is_pointwise(&self) -> bool {
        (self.kh, self.kw, self.sh, self.sw, self.ph, self.pw) == (1, 1, 1, 1, 0, 0)
    }

    /// The output positions `o` (in `0..out_len`) whose input index `o·stride + offset − pad`
    /// falls inside `0..in_len`, as a range.
    fn valid(out_len: usize, stride: usize, offset: usize, pad: usize, in_len: usize) -> std::ops::Range<usize> {
        let lo = pad.saturating_sub(offset).div_ceil(stride);
        let hi = if in_len + pad > offset { (in_len + pad - offset - 1) / stride + 1 } else { 0 };
        let hi = hi.min(out_len);
        lo.min(hi)..hi
    }

    /// The im2col matrix `[c_in·kh·kw, oh·ow]` of one contiguous image `[c_in, h, w]`:
    /// row `(ci, ki, kj)`, column `(oy, ox)` holds `x[ci, oy·sh + ki − ph, ox·sw + kj − pw]`, or
    /// 0 in the padding. Built in `buf` unless the kernel is pointwise, then a view of the image.
    fn im2col<'a>(&self, image: ArrayView3<'a, f32>, buf: &'a mut Vec<f32>) -> ArrayView2<'a, f32> {
        let (rows, cols) = (self.rows(), self.cols());
        if self.is_pointwise() {
            return image.into_shape_with_order((rows, cols)).expect("standard-layout image");
        }
        let x = image.to_slice().expect("standard-layout image");
        buf.resize(rows * cols, 0.0);
        let plane = self.h * self.w;
        for (row, dst) in buf.chunks_exact_mut(cols.max(1)).enumerate().take(rows) {
            let (ci, kij) = (row / (self.kh * self.kw), row % (self.kh * self.kw));
            let (ki, kj) = (kij / self.kw, kij % self.kw);
            let src = &x[ci * plane..(ci + 1) * plane];
            let ys = Self::valid(self.oh, self.sh, ki, self.ph, self.h);
            let xs = Self::valid(self.ow, self.sw, kj, self.pw, self.w);
            for (oy, d) in dst.chunks_exact_mut(self.ow).enumerate() {
                if !ys.contains(&oy) || xs.is_empty() {
                    d.fill(0.0);
                    continue;
                }
                let iy = oy * self.sh + ki - self.ph;
                let line = &src[iy * self.w..(iy + 1) * self.w];
                d[..xs.start].fill(0.0);
                d[xs.end..].fill(0.0);
                let ix0 = xs.start * self.sw + kj - self.pw;
                if self.sw == 1 {
                    d[xs.clone()].copy_from_slice(&line[ix0..ix0 + xs.len()]);
                } else {
                    for (v, &s) in d[xs.clone()].iter_mut().zip(line[ix0..].iter().step_by(self.sw)) {
                        *v = s;
                    }
                }
            }
        }
        ArrayView2::from_shape((rows, cols), &buf[..]).expect("buffer shape")
    }

    /// The adjoint of [`Geometry::im2col`]: adds every entry of the column matrix `dcols`
    /// (`[c_in·kh·kw, oh·ow]`, row-major) onto the pixel of the contiguous image `[c_in, h, w]`
    /// it was read from; entries that came from the padding are dropped.
    fn col2im_add(&self, dcols: &[f32], image: &mut [f32]) {
        let cols = self.cols();
        let plane = self.h * self.w;
        for (row, src) in dcols.chunks_exact(cols.max(1)).enumerate().take(self.rows()) {
            let (ci, kij) = (row / (self.kh * self.kw), row % (self.kh * self.kw));
            let (ki, kj) = (kij / self.kw, kij % self.kw);
            let dst = &mut image[ci * plane..(ci + 1) * plane];
            let ys = Self::valid(self.oh, self.sh, ki, self.ph, self.h);
            let xs = Self::valid(self.ow, self.sw, kj, self.pw, self.w);
            if xs.is_empty() {
                continue;
            }
            for oy in ys {
                let iy = oy * self.sh + ki - self.ph;
                let line = &mut dst[iy * self.w..(iy + 1) * self.w];
                let s = &src[oy * self.ow + xs.start..oy * self.ow + xs.end];
                let ix0 = xs.start * self.sw + kj - self.pw;
                if self.sw == 1 {
                    for (d, &v) in line[ix0..ix0 + xs.len()].iter_mut().zip(s) {
                        *d += v;
                    }
                } else {
                    for (d, &v) in line[ix0..].iter_mut().step_by(self.sw).zip(s) {
                        *d += v;
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

    /// Direct 7-loop convolution in f64 (PyTorch's definition).
    fn naive_conv(x: &Array4<f32>, w: &Array4<f32>, spec: Conv2dSpec) -> Array4<f64> {
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
    fn naive_conv_transpose(x: &Array4<f32>, w: &Array4<f32>, spec: Conv2dSpec, op: (usize, usize)) -> Array4<f64> {
        let (n, c_in, h, wd) = x.dim();
        let (_, c_out, kh, kw) = w.dim();
        let (oh, ow) = conv_transpose2d_output_size((h, wd), (kh, kw), spec, op).unwrap();
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
    ];

    #[test]
    fn output_sizes_follow_pytorch_and_reject_impossible_geometry() {
        let s = |st, p| Conv2dSpec::new(st, p);
        assert_eq!(conv2d_output_size((28, 28), (3, 3), s((2, 2), (1, 1))), Some((14, 14)));
        assert_eq!(conv2d_output_size((7, 6), (3, 2), s((2, 2), (1, 0))), Some((4, 3)));
        assert_eq!(conv2d_output_size((3, 3), (5, 5), s((1, 1), (1, 1))), Some((1, 1)));
        assert_eq!(conv2d_output_size((3, 3), (5, 5), s((1, 1), (0, 0))), None);
        assert_eq!(conv2d_output_size((3, 3), (3, 3), s((0, 1), (0, 0))), None);
        assert_eq!(conv2d_output_size((3, 3), (0, 3), Conv2dSpec::default()), None);
        assert_eq!(conv2d_output_size((0, 3), (1, 1), Conv2dSpec::default()), None);
        assert_eq!(conv_transpose2d_output_size((14, 14), (3, 3), s((2, 2), (1, 1)), (1, 1)), Some((28, 28)));
        assert_eq!(conv_transpose2d_output_size((7, 7), (4, 4), s((2, 2), (1, 1)), (0, 0)), Some((14, 14)));
        assert_eq!(conv_transpose2d_output_size((4, 4), (3, 3), s((2, 2), (1, 1)), (2, 0)), None);
        assert_eq!(conv_transpose2d_output_size((1, 1), (1, 1), s((1, 1), (1, 1)), (0, 0)), None);
        assert_eq!(conv_transpose2d_output_size((0, 1), (1, 1), Conv2dSpec::default(), (0, 0)), None);
        assert_eq!(conv_transpose2d_output_size((2, 2), (2, 2), s((0, 1), (0, 0)), (0, 0)), None);
    }

    #[test]
    fn conv2d_matches_direct_loops() {
        let mut rng = Lcg::new(10);
        for &(n, ci, co, hw, k, st, p) in CASES {
            let spec = Conv2dSpec::new(st, p);
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
        let spec = Conv2dSpec::new((2, 1), (1, 1));
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
            let spec = Conv2dSpec::new(st, p);
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
            let spec = Conv2dSpec::new(st, p);
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
            let spec = Conv2dSpec::new(st, p);
            for op in [(0, 0), (st.0 - 1, st.1 - 1)] {
                let Some(_) = conv_transpose2d_output_size(hw, k, spec, op) else { continue };
                let x = rng.array4((n, ci, hw.0, hw.1));
                let w = rng.array4((ci, co, k.0, k.1));
                let got = conv_transpose2d(x.view(), w.view(), spec, op);
                let expect = to_f32(&naive_conv_transpose(&x, &w, spec, op));
                assert_close(got.view().into_dyn(), expect.view().into_dyn(), 1e-5, "conv_transpose2d");
            }
        }
    }

    #[test]
    fn conv_transpose2d_is_the_input_gradient_of_conv2d() {
        // PyTorch's definition: conv_transpose2d(g, w) is d<conv2d(x, w), g>/dx when the output
        // padding picks x's size. Compared against the naive scatter of the same gradient.
        let mut rng = Lcg::new(15);
        let spec = Conv2dSpec::new((2, 2), (1, 1));
        for (h, op) in [(8, 1), (7, 0)] {
            let x = rng.array4((2, 3, h, h));
            let w = rng.array4((4, 3, 3, 3));
            let g = rng.array4(naive_conv(&x, &w, spec).dim());
            let (gx, _) = conv2d_backward(x.view(), w.view(), g.view(), spec);
            let t = conv_transpose2d(g.view(), w.view(), spec, (op, op));
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
            let spec = Conv2dSpec::new(st, p);
            let op = (st.0 - 1, st.1 - 1);
            let Some(_) = conv_transpose2d_output_size(hw, k, spec, op) else { continue };
            let x = rng.array4((n, ci, hw.0, hw.1));
            let w = rng.array4((ci, co, k.0, k.1));
            let y = naive_conv_transpose(&x, &w, spec, op);
            let g = rng.array4(y.dim());
            let (gx, gw) = conv_transpose2d_backward(x.view(), w.view(), g.view(), spec, op);
            assert_eq!((gx.dim(), gw.dim()), (x.dim(), w.dim()));
            let lhs = dot64(&y, &g);
            let tol = 1e-4 * (1.0 + lhs.abs());
            assert!((lhs - dot(&x, &gx)).abs() < tol, "grad_x adjoint {lhs} vs {}", dot(&x, &gx));
            assert!((lhs - dot(&w, &gw)).abs() < tol, "grad_w adjoint {lhs} vs {}", dot(&w, &gw));
        }
    }

    #[test]
    fn empty_batch_and_channels() {
        let spec = Conv2dSpec::new((1, 1), (1, 1));
        let x = Array4::<f32>::zeros((0, 2, 4, 4));
        let w = Array4::<f32>::ones((3, 2, 3, 3));
        assert_eq!(conv2d(x.view(), w.view(), spec).dim(), (0, 3, 4, 4));
        let g = Array4::<f32>::zeros((0, 3, 4, 4));
        let (gx, gw) = conv2d_backward(x.view(), w.view(), g.view(), spec);
        assert_eq!(gx.dim(), (0, 2, 4, 4));
        assert_eq!(gw, Array4::zeros((3, 2, 3, 3)));
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
        let _ = conv2d(x.view(), w.view(), Conv2dSpec::default());
    }

    #[test]
    fn results_are_bit_identical_across_pools() {
        // With the test-size task threshold, the batch and the weight-gradient sum are split into
        // several tasks and chunks.
        let mut rng = Lcg::new(17);
        let spec = Conv2dSpec::new((1, 1), (1, 1));
        let x = rng.array4((12, 3, 6, 6));
        let w = rng.array4((4, 3, 3, 3));
        let g = rng.array4((12, 4, 6, 6));
        let flops = 2 * 4 * 27 * 36;
        assert!(items_per_task(flops) < 12, "the batch must be split");
        assert!(weight_chunk_items(12, flops) < 12, "the weight sum must be chunked");
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| (conv2d(x.view(), w.view(), spec), conv2d_backward(x.view(), w.view(), g.view(), spec)))
        };
        let first = run(1);
        for threads in [1, 2, 3] {
            let again = run(threads);
            let same = |a: &Array4<f32>, b: &Array4<f32>| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same(&first.0, &again.0) && same(&first.1.0, &again.1.0) && same(&first.1.1, &again.1.1));
        }
        let expect = to_f32(&naive_conv(&x, &w, spec));
        assert_close(first.0.view().into_dyn(), expect.view().into_dyn(), 1e-5, "conv2d large");
    }
}
