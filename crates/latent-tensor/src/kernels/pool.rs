//! 2-D max and average pooling on NCHW `f32` arrays, with PyTorch's semantics
//! (`max_pool2d` / `avg_pool2d` with `dilation = 1`, `ceil_mode = false`,
//! `count_include_pad = true`).
//!
//! Every `(image, channel)` plane is pooled independently; planes are processed in parallel on
//! the current rayon pool when there is enough work. Each output element is computed by one
//! task in a fixed order, so results are deterministic whatever the pool size.
//!
//! Kernel sizes, strides and paddings are `(along height, along width)`. Kernels trust their
//! caller: inconsistent geometry panics. [`pool2d_output_size`] validates a geometry without
//! panicking.

use ndarray::{Array3, Array4, ArrayView4, Axis, Zip};
use rayon::prelude::*;

/// The spatial output size `(oh, ow)` of a pooling of an input of spatial size `input = (h, w)`:
/// `oh = (h + 2·ph − kh) / sh + 1` (rounded down), likewise for `ow`.
///
/// Returns `None` for geometry PyTorch rejects: a zero kernel, stride or input size, padding
/// larger than half the kernel (`2·ph > kh`, which would allow windows made only of padding), or
/// a kernel larger than the padded input.
pub fn pool2d_output_size(
    input: (usize, usize),
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
) -> Option<(usize, usize)> {
    let one = |len: usize, k: usize, s: usize, p: usize| -> Option<usize> {
        if len == 0 || k == 0 || s == 0 || p.checked_mul(2)? > k {
            return None;
        }
        Some((len + 2 * p).checked_sub(k)? / s + 1)
    };
    Some((one(input.0, kernel.0, stride.0, padding.0)?, one(input.1, kernel.1, stride.1, padding.1)?))
}

/// Max pooling of `x: [n, c, h, w]`, giving the maxima `[n, c, oh, ow]` and, for each, the flat
/// index `y·w + x` of the chosen element in its input plane (what [`max_pool2d_backward`]
/// needs; PyTorch's `return_indices`).
///
/// Padding counts as −∞, so it is never chosen. Ties go to the first maximum in row-major window
/// order, and a NaN in a window wins (the last NaN, as in PyTorch's CPU kernel), so NaN
/// propagates.
///
/// # Panics
/// If [`pool2d_output_size`] rejects the geometry or a plane has more than `u32::MAX` elements.
pub fn max_pool2d(
    x: ArrayView4<f32>,
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
) -> (Array4<f32>, Array4<u32>) {
    let (n, c, h, w) = x.dim();
    let win = Window::new((h, w), kernel, stride, padding, "max_pool2d");
    assert!(h.checked_mul(w).is_some_and(|p| p <= u32::MAX as usize), "max_pool2d: plane {h}x{w} too large");
    let planes = n * c;
    let x = x.as_standard_layout();
    let x3 = x.view().into_shape_with_order((planes, h, w)).expect("standard layout");
    let mut out = Array3::<f32>::zeros((planes, win.oh, win.ow));
    let mut arg = Array3::<u32>::zeros((planes, win.oh, win.ow));
    let min_len = planes_per_task(win.oh * win.ow * kernel.0 * kernel.1);
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(arg.axis_iter_mut(Axis(0)).into_par_iter())
        .zip(x3.axis_iter(Axis(0)).into_par_iter())
        .with_min_len(min_len)
        .for_each(|((mut out_p, mut arg_p), x_p)| {
            for oy in 0..win.oh {
                let ys = win.rows(oy);
                for ox in 0..win.ow {
                    let xs = win.cols(ox);
                    let mut best = f32::NEG_INFINITY;
                    let mut best_at = ys.start * w + xs.start;
                    for iy in ys.clone() {
                        for ix in xs.clone() {
                            let v = x_p[[iy, ix]];
                            if v > best || v.is_nan() {
                                best = v;
                                best_at = iy * w + ix;
                            }
                        }
                    }
                    out_p[[oy, ox]] = best;
                    arg_p[[oy, ox]] = best_at as u32;
                }
            }
        });
    let shape = (n, c, win.oh, win.ow);
    (out.into_shape_with_order(shape).expect("output shape"), arg.into_shape_with_order(shape).expect("output shape"))
}

/// Gradient of [`max_pool2d`]: routes each element of `grad_out: [n, c, oh, ow]` to the input
/// element that `argmax` (from [`max_pool2d`]) names, summing where windows overlap, giving an
/// array of `input_dim = (n, c, h, w)`.
///
/// # Panics
/// If `argmax` is not shaped like `grad_out`, the batch or channels differ from `input_dim`, or
/// an index is outside the `h·w` plane.
pub fn max_pool2d_backward(
    grad_out: ArrayView4<f32>,
    argmax: ArrayView4<u32>,
    input_dim: (usize, usize, usize, usize),
) -> Array4<f32> {
    let (n, c, h, w) = input_dim;
    let (gn, gc, oh, ow) = grad_out.dim();
    assert_eq!(grad_out.dim(), argmax.dim(), "max_pool2d_backward: grad_out and argmax shapes differ");
    assert_eq!((gn, gc), (n, c), "max_pool2d_backward: grad_out batch/channels differ from the input's");
    let planes = n * c;
    let grad_out = grad_out.as_standard_layout();
    let argmax = argmax.as_standard_layout();
    let g3 = grad_out.view().into_shape_with_order((planes, oh, ow)).expect("standard layout");
    let a3 = argmax.view().into_shape_with_order((planes, oh, ow)).expect("standard layout");
    let mut grad_x = Array3::<f32>::zeros((planes, h, w));
    grad_x
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(g3.axis_iter(Axis(0)).into_par_iter())
        .zip(a3.axis_iter(Axis(0)).into_par_iter())
        .with_min_len(planes_per_task(oh * ow))
        .for_each(|((mut gx_p, g_p), a_p)| {
            let gx = gx_p.as_slice_mut().expect("fresh array is contiguous");
            Zip::from(g_p).and(a_p).for_each(|&g, &at| gx[at as usize] += g);
        });
    grad_x.into_shape_with_order(input_dim).expect("input shape")
}

/// Average pooling of `x: [n, c, h, w]`, giving `[n, c, oh, ow]`. Padding counts as zeros and
/// every window is divided by `kh·kw` (PyTorch's default `count_include_pad = true`).
///
/// # Panics
/// If [`pool2d_output_size`] rejects the geometry.
pub fn avg_pool2d(
    x: ArrayView4<f32>,
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
) -> Array4<f32> {
    let (n, c, h, w) = x.dim();
    let win = Window::new((h, w), kernel, stride, padding, "avg_pool2d");
    let planes = n * c;
    let x = x.as_standard_layout();
    let x3 = x.view().into_shape_with_order((planes, h, w)).expect("standard layout");
    let mut out = Array3::<f32>::zeros((planes, win.oh, win.ow));
    let scale = 1.0 / (kernel.0 * kernel.1) as f32;
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(x3.axis_iter(Axis(0)).into_par_iter())
        .with_min_len(planes_per_task(win.oh * win.ow * kernel.0 * kernel.1))
        .for_each(|(mut out_p, x_p)| {
            for oy in 0..win.oh {
                let ys = win.rows(oy);
                for ox in 0..win.ow {
                    let xs = win.cols(ox);
                    let mut sum = 0.0f32;
                    for iy in ys.clone() {
                        for ix in xs.clone() {
                            sum += x_p[[iy, ix]];
                        }
                    }
                    out_p[[oy, ox]] = sum * scale;
                }
            }
        });
    out.into_shape_with_order((n, c, win.oh, win.ow)).expect("output shape")
}

/// Gradient of [`avg_pool2d`]: spreads each element of `grad_out: [n, c, oh, ow]` evenly
/// (divided by `kh·kw`) over the real input elements of its window, giving an array of
/// `input_dim = (n, c, h, w)`.
///
/// # Panics
/// If the geometry is rejected by [`pool2d_output_size`] or does not produce `grad_out`'s shape.
pub fn avg_pool2d_backward(
    grad_out: ArrayView4<f32>,
    input_dim: (usize, usize, usize, usize),
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
) -> Array4<f32> {
    let (n, c, h, w) = input_dim;
    let win = Window::new((h, w), kernel, stride, padding, "avg_pool2d_backward");
    assert_eq!(grad_out.dim(), (n, c, win.oh, win.ow), "avg_pool2d_backward: grad_out shape");
    let planes = n * c;
    let grad_out = grad_out.as_standard_layout();
    let g3 = grad_out.view().into_shape_with_order((planes, win.oh, win.ow)).expect("standard layout");
    let mut grad_x = Array3::<f32>::zeros((planes, h, w));
    let scale = 1.0 / (kernel.0 * kernel.1) as f32;
    grad_x
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(g3.axis_iter(Axis(0)).into_par_iter())
        .with_min_len(planes_per_task(win.oh * win.ow * kernel.0 * kernel.1))
        .for_each(|(mut gx_p, g_p)| {
            for oy in 0..win.oh {
                let ys = win.rows(oy);
                for ox in 0..win.ow {
                    let xs = win.cols(ox);
                    let g = g_p[[oy, ox]] * scale;
                    for iy in ys.clone() {
                        for ix in xs.clone() {
                            gx_p[[iy, ix]] += g;
                        }
                    }
                }
            }
        });
    grad_x.into_shape_with_order(input_dim).expect("input shape")
}

/// Element visits (window cells) worth one rayon task of their own (~50-100 µs of work). Unit
/// tests use a tiny value so that small inputs exercise the parallel split.
const MIN_WORK_PER_TASK: usize = if cfg!(test) { 1 << 6 } else { 1 << 16 };

/// Planes per parallel task for planes costing `work` element visits each.
fn planes_per_task(work: usize) -> usize {
    MIN_WORK_PER_TASK.div_ceil(work.max(1)).max(1)
}

/// A checked pooling geometry: which input rows and columns each output position covers.
#[derive(Clone, Copy, Debug)]
struct Window {
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

impl Window {
    /// The geometry; panics (naming `op`) if [`pool2d_output_size`] rejects it.
    fn new(
        input: (usize, usize),
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        op: &str,
    ) -> Self {
        let (oh, ow) = pool2d_output_size(input, kernel, stride, padding).unwrap_or_else(|| {
            panic!(
                "{op}: impossible geometry: input {input:?}, kernel {kernel:?}, stride {stride:?}, padding {padding:?}"
            )
        });
        Window {
            h: input.0,
            w: input.1,
            kh: kernel.0,
            kw: kernel.1,
            sh: stride.0,
            sw: stride.1,
            ph: padding.0,
            pw: padding.1,
            oh,
            ow,
        }
    }

    /// The input rows under output row `oy`, clipped to the image (padding dropped).
    fn rows(&self, oy: usize) -> std::ops::Range<usize> {
        clip(oy * self.sh, self.kh, self.ph, self.h)
    }

    /// The input columns under output column `ox`, clipped to the image (padding dropped).
    fn cols(&self, ox: usize) -> std::ops::Range<usize> {
        clip(ox * self.sw, self.kw, self.pw, self.w)
    }
}

/// The window `[start − pad, start − pad + k)` in padded coordinates, clipped to `0..len`.
fn clip(start: usize, k: usize, pad: usize, len: usize) -> std::ops::Range<usize> {
    let lo = start.saturating_sub(pad);
    let hi = (start + k).saturating_sub(pad).min(len);
    lo.min(hi)..hi
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{Lcg, assert_close};

    type Geo = ((usize, usize), (usize, usize), (usize, usize));

    /// `(kernel, stride, padding)` on inputs of several sizes.
    const GEOS: &[Geo] = &[
        ((2, 2), (2, 2), (0, 0)),
        ((3, 3), (1, 1), (1, 1)),
        ((3, 3), (2, 2), (1, 1)),
        ((2, 3), (1, 2), (1, 0)),
        ((4, 2), (3, 1), (2, 1)),
        ((1, 1), (2, 2), (0, 0)),
    ];

    /// PyTorch's CPU max pooling, written out: returns (max, flat index) per window.
    fn naive_max(x: &Array4<f32>, (k, s, p): Geo) -> (Array4<f32>, Array4<u32>) {
        let (n, c, h, w) = x.dim();
        let (oh, ow) = pool2d_output_size((h, w), k, s, p).unwrap();
        let mut out = Array4::from_elem((n, c, oh, ow), f32::NAN);
        let mut arg = Array4::zeros((n, c, oh, ow));
        for (b, ch, oy, ox) in ndarray::indices((n, c, oh, ow)) {
            let (y0, x0) = ((oy * s.0) as isize - p.0 as isize, (ox * s.1) as isize - p.1 as isize);
            let (ys, xs) = (y0.max(0) as usize, x0.max(0) as usize);
            let (ye, xe) = (((y0 + k.0 as isize) as usize).min(h), ((x0 + k.1 as isize) as usize).min(w));
            let (mut best, mut at) = (f32::NEG_INFINITY, ys * w + xs);
            for iy in ys..ye {
                for ix in xs..xe {
                    let v = x[[b, ch, iy, ix]];
                    if v > best || v.is_nan() {
                        best = v;
                        at = iy * w + ix;
                    }
                }
            }
            out[[b, ch, oy, ox]] = best;
            arg[[b, ch, oy, ox]] = at as u32;
        }
        (out, arg)
    }

    /// Average pooling over the zero-padded input, divided by the full kernel area.
    fn naive_avg(x: &Array4<f32>, (k, s, p): Geo) -> Array4<f32> {
        let (n, c, h, w) = x.dim();
        let (oh, ow) = pool2d_output_size((h, w), k, s, p).unwrap();
        Array4::from_shape_fn((n, c, oh, ow), |(b, ch, oy, ox)| {
            let mut sum = 0.0f64;
            for ki in 0..k.0 {
                for kj in 0..k.1 {
                    let iy = (oy * s.0 + ki) as isize - p.0 as isize;
                    let ix = (ox * s.1 + kj) as isize - p.1 as isize;
                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                        sum += x[[b, ch, iy as usize, ix as usize]] as f64;
                    }
                }
            }
            (sum / (k.0 * k.1) as f64) as f32
        })
    }

    fn inputs(rng: &mut Lcg) -> Vec<Array4<f32>> {
        vec![rng.array4((1, 1, 5, 5)), rng.array4((2, 3, 6, 7)), rng.array4((3, 2, 8, 5))]
    }

    #[test]
    fn output_size_validation() {
        assert_eq!(pool2d_output_size((28, 28), (2, 2), (2, 2), (0, 0)), Some((14, 14)));
        assert_eq!(pool2d_output_size((7, 7), (3, 3), (2, 2), (1, 1)), Some((4, 4)));
        assert_eq!(pool2d_output_size((5, 4), (2, 3), (1, 2), (1, 0)), Some((6, 1)));
        assert_eq!(pool2d_output_size((4, 4), (2, 2), (2, 2), (2, 0)), None, "padding over half the kernel");
        assert_eq!(pool2d_output_size((2, 2), (3, 3), (1, 1), (0, 0)), None, "kernel over the input");
        assert_eq!(pool2d_output_size((4, 4), (2, 2), (0, 1), (0, 0)), None, "zero stride");
        assert_eq!(pool2d_output_size((4, 4), (0, 2), (1, 1), (0, 0)), None, "empty kernel");
        assert_eq!(pool2d_output_size((0, 4), (1, 1), (1, 1), (0, 0)), None, "empty input");
    }

    #[test]
    fn max_pool_matches_naive() {
        let mut rng = Lcg::new(20);
        for x in inputs(&mut rng) {
            for &geo in GEOS {
                if pool2d_output_size((x.dim().2, x.dim().3), geo.0, geo.1, geo.2).is_none() {
                    continue;
                }
                let (out, arg) = max_pool2d(x.view(), geo.0, geo.1, geo.2);
                let (e_out, e_arg) = naive_max(&x, geo);
                assert_eq!(out, e_out, "max values for {geo:?}");
                assert_eq!(arg, e_arg, "argmax for {geo:?}");
            }
        }
    }

    #[test]
    fn max_pool_ties_take_the_first_maximum_and_nan_propagates() {
        // A constant plane: every window's first real element wins.
        let x = Array4::<f32>::from_elem((1, 1, 4, 4), 2.0);
        let (out, arg) = max_pool2d(x.view(), (2, 2), (2, 2), (0, 0));
        assert!(out.iter().all(|&v| v == 2.0));
        assert_eq!(arg.iter().copied().collect::<Vec<_>>(), vec![0, 2, 8, 10]);
        // With padding the first *real* element wins, never the padding.
        let (_, arg) = max_pool2d(x.view(), (3, 3), (2, 2), (1, 1));
        assert_eq!(arg.iter().copied().collect::<Vec<_>>(), vec![0, 1, 4, 5]);
        // A repeated maximum inside one window: the earlier one in row-major order.
        let mut x = Array4::<f32>::zeros((1, 1, 2, 3));
        x[[0, 0, 0, 2]] = 5.0;
        x[[0, 0, 1, 0]] = 5.0;
        let (out, arg) = max_pool2d(x.view(), (2, 3), (1, 1), (0, 0));
        assert_eq!((out[[0, 0, 0, 0]], arg[[0, 0, 0, 0]]), (5.0, 2));
        // All -inf: value -inf, index of the first real element.
        let x = Array4::<f32>::from_elem((1, 1, 2, 2), f32::NEG_INFINITY);
        let (out, arg) = max_pool2d(x.view(), (2, 2), (1, 1), (1, 1));
        assert!(out.iter().all(|&v| v == f32::NEG_INFINITY));
        assert_eq!(arg[[0, 0, 2, 2]], 3);
        // NaN wins its windows.
        let mut x = Array4::<f32>::zeros((1, 1, 3, 3));
        x[[0, 0, 1, 1]] = f32::NAN;
        x[[0, 0, 0, 0]] = 9.0;
        let (out, arg) = max_pool2d(x.view(), (2, 2), (1, 1), (0, 0));
        assert!(out.iter().all(|v| v.is_nan()));
        assert!(arg.iter().all(|&a| a == 4));
    }

    #[test]
    fn max_pool_backward_routes_to_argmax() {
        let mut rng = Lcg::new(21);
        for x in inputs(&mut rng) {
            for &geo in GEOS {
                if pool2d_output_size((x.dim().2, x.dim().3), geo.0, geo.1, geo.2).is_none() {
                    continue;
                }
                let (out, arg) = max_pool2d(x.view(), geo.0, geo.1, geo.2);
                let g = rng.array4(out.dim());
                let gx = max_pool2d_backward(g.view(), arg.view(), x.dim());
                // Naive scatter of the naive argmax (overlapping windows add up).
                let (_, e_arg) = naive_max(&x, geo);
                let mut expect = Array4::<f32>::zeros(x.dim());
                let w = x.dim().3;
                for ((b, c, oy, ox), &a) in e_arg.indexed_iter() {
                    expect[[b, c, a as usize / w, a as usize % w]] += g[[b, c, oy, ox]];
                }
                assert_close(gx.view().into_dyn(), expect.view().into_dyn(), 1e-6, "max_pool2d_backward");
            }
        }
    }

    #[test]
    fn avg_pool_matches_naive_and_backward_is_its_adjoint() {
        let mut rng = Lcg::new(22);
        for x in inputs(&mut rng) {
            for &geo in GEOS {
                if pool2d_output_size((x.dim().2, x.dim().3), geo.0, geo.1, geo.2).is_none() {
                    continue;
                }
                let out = avg_pool2d(x.view(), geo.0, geo.1, geo.2);
                let expect = naive_avg(&x, geo);
                assert_close(out.view().into_dyn(), expect.view().into_dyn(), 1e-6, "avg_pool2d");
                // <avg(x), g> = <x, avg_backward(g)>, and the backward of a one-hot gradient is
                // the (linear) pool's column, i.e. naive_avg probed one input at a time.
                let g = rng.array4(out.dim());
                let gx = avg_pool2d_backward(g.view(), x.dim(), geo.0, geo.1, geo.2);
                let lhs: f64 = out.iter().zip(&g).map(|(&a, &b)| a as f64 * b as f64).sum();
                let rhs: f64 = x.iter().zip(&gx).map(|(&a, &b)| a as f64 * b as f64).sum();
                assert!((lhs - rhs).abs() < 1e-4 * (1.0 + lhs.abs()), "adjoint {lhs} vs {rhs}");
                let mut unit = Array4::<f32>::zeros(x.dim());
                let probe = (0, 0, x.dim().2 / 2, x.dim().3 - 1);
                unit[probe] = 1.0;
                let direct: f64 = naive_avg(&unit, geo).iter().zip(&g).map(|(&a, &b)| a as f64 * b as f64).sum();
                assert!((direct - gx[probe] as f64).abs() < 1e-5, "probe {direct} vs {}", gx[probe]);
            }
        }
    }

    #[test]
    fn pools_accept_non_standard_layouts_and_large_batches() {
        // Enough planes to split into several tasks (with the test-size threshold); input stored
        // channels-last.
        let mut rng = Lcg::new(23);
        let stored = rng.array4((5, 9, 8, 6)); // [n, h, w, c]
        assert!(planes_per_task(5 * 4 * 9) < 30, "the planes must be split");
        let x = stored.view().permuted_axes([0, 3, 1, 2]);
        let owned = x.to_owned();
        let geo = ((3, 3), (2, 2), (1, 1));
        let (out, arg) = max_pool2d(x, geo.0, geo.1, geo.2);
        let (e_out, e_arg) = naive_max(&owned, geo);
        assert_eq!((out, arg), (e_out, e_arg));
        let avg = avg_pool2d(x, geo.0, geo.1, geo.2);
        assert_close(avg.view().into_dyn(), naive_avg(&owned, geo).view().into_dyn(), 1e-6, "avg large");
    }

    #[test]
    #[should_panic(expected = "impossible geometry")]
    fn max_pool_panics_on_excess_padding() {
        let x = Array4::<f32>::zeros((1, 1, 4, 4));
        let _ = max_pool2d(x.view(), (2, 2), (1, 1), (2, 2));
    }
}
