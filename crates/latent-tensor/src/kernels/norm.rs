//! Batch normalisation in training mode as two passes over the data, forward and backward, and
//! the plain per-channel sums a bias's gradient needs ([`channel_sums`]).
//!
//! The input is `[n, c, ...]` in standard layout; statistics are per channel (axis 1) over the
//! batch and every trailing axis, `count = n · s` values each, where `s` is the product of the
//! trailing sizes (1 for `[n, c]`). Viewed as `[n, c, s]`, channel `ch` is the `n` contiguous
//! runs `x[i, ch, ..]`.
//!
//! Forward: `mean`, biased `var` (one pass over the data in `f64`: sums of the deviations from
//! a shift and of their squares), `x̂ = (x − mean)·inv_std` with `inv_std = 1/√(var + eps)`,
//! output `x̂·w + b`. Backward, given the output gradient `g`: per
//! channel `Σg` and `Σg·x̂`, then `dx = w·inv_std·(g − Σg/count − x̂·Σg·x̂/count)`,
//! `dw = Σg·x̂`, `db = Σg` — the closed form of the composed ops' gradient, in one pass each way
//! instead of eight ops and their temporaries.
//!
//! Channel statistics are computed in parallel over channels, and outputs are written in
//! parallel over the batch, each element by the same arithmetic whatever the thread count, so
//! results are bit-identical across pool sizes.

use ndarray::{ArrayD, ArrayViewD};
use rayon::prelude::*;

use super::elementwise::{from_runs, vectorized, worth_parallel};
use super::rectifier::Rectifier;

/// Per-channel statistics of a batch-norm forward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelStats {
    /// The batch mean of each channel.
    pub mean: Vec<f32>,
    /// The biased batch variance of each channel (divided by the count, as used to normalise).
    pub var: Vec<f32>,
    /// `1 / √(var + eps)` of each channel.
    pub inv_std: Vec<f32>,
    /// Values per channel: the batch size times the product of the trailing sizes.
    pub count: usize,
}

/// The `[n, c, s]` geometry of a standard-layout `[n, c, ...]` array.
fn geometry(shape: &[usize]) -> (usize, usize, usize) {
    assert!(shape.len() >= 2, "batch norm needs [n, c, ...], found {shape:?}");
    (shape[0], shape[1], shape[2..].iter().product())
}

/// `f(ch)` for every channel, in parallel when the data is large.
fn per_channel<T: Send>(c: usize, len: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    if worth_parallel(len) { (0..c).into_par_iter().map(f).collect() } else { (0..c).map(f).collect() }
}

/// `(Σ(x − shift), Σ(x − shift)²)` over the values of `runs` of `xs`, in `f64`, in one pass:
/// the batch-norm statistics as `mean = shift + Σ/count`, `var = Σ²/count − (Σ/count)²`.
///
/// Subtracting a shift near the mean keeps that difference of sums accurate: without it,
/// `E[x²] − E[x]²` loses the variance of data far from zero (mean 10⁶, deviation 1.4: 0.1% off
/// unshifted, exact shifted; a test checks both). The mean and the squared deviations in two
/// passes, as before, cost a second pass over data that rarely fits the cache; with one, batch
/// norm's forward statistics were 3.9% instead of 7.0% of the samples of a one-thread DCGAN
/// training run (8 batches, `perf record`).
///
/// Summed by [`run_sums`], in a fixed order, so the result does not depend on the thread count.
#[inline(always)]
fn shifted_sums(xs: &[f32], runs: impl Iterator<Item = std::ops::Range<usize>>, shift: f64) -> (f64, f64) {
    run_sums(xs, xs, runs, |x, _| {
        let d = f64::from(x) - shift;
        (d, d * d)
    })
}

/// Independent partial sums of [`run_sums`]: a single running `f64` sum is one dependent
/// addition per element (~4 cycles each), which made the statistics as slow as the GEMMs around
/// them; eight chains let the additions overlap and vectorise. The order is fixed, so the sums
/// do not depend on the thread count.
const LANES: usize = 8;

/// The two sums `Σ f(x[i], y[i])` over the elements `i` of `runs` (the same ranges of `xs` and
/// `ys`), in `f64`, in one pass: [`LANES`] interleaved partial sums of each kind run across all
/// the runs and are added up once, in a fixed order, at the end; the values past the last whole
/// block of a run go to a scalar sum.
///
/// Across the runs rather than per run: a channel's runs are short (49 values for a 7×7 map),
/// and adding up the partial sums at the end of each run, once per sum kind, took as long as
/// the additions themselves (batch norm's backward sums, then two passes per run, were 3.9% of
/// the samples of a one-thread DCGAN training run).
#[inline(always)]
fn run_sums(
    xs: &[f32],
    ys: &[f32],
    runs: impl Iterator<Item = std::ops::Range<usize>>,
    f: impl Fn(f32, f32) -> (f64, f64),
) -> (f64, f64) {
    let (mut firsts, mut seconds) = ([0.0f64; LANES], [0.0f64; LANES]);
    let (mut first_tail, mut second_tail) = (0.0f64, 0.0f64);
    for run in runs {
        let (xb, yb) = (xs[run.clone()].chunks_exact(LANES), ys[run].chunks_exact(LANES));
        for (&x, &y) in xb.remainder().iter().zip(yb.remainder()) {
            let (a, b) = f(x, y);
            first_tail += a;
            second_tail += b;
        }
        for (x, y) in xb.zip(yb) {
            for (((first, second), &x), &y) in firsts.iter_mut().zip(&mut seconds).zip(x).zip(y) {
                let (a, b) = f(x, y);
                *first += a;
                *second += b;
            }
        }
    }
    (firsts.iter().sum::<f64>() + first_tail, seconds.iter().sum::<f64>() + second_tail)
}

/// Writes `out[i, ch, j] = f(consts[ch], x[i, ch, j], k[i, ch, j])` for every element, then
/// `rectifier` over each run while it is in cache, if given; parallel over the batch.
///
/// Each channel's constants are read once per run of `s` elements and the run is a plain loop
/// over slices, compiled with AVX2 where the CPU has it ([`vectorized`]): with the constants
/// looked up inside the element function (`mean[ch]`, with its bounds check) the loop did not
/// vectorise, and these passes took as long as the statistics. The arithmetic is the same IEEE
/// operations either way, so the results are the same bits.
fn write_per_element<const K: usize>(
    shape: &[usize],
    x: &[f32],
    k: &[f32],
    consts: &[[f32; K]],
    f: impl Fn(&[f32; K], f32, f32) -> f32 + Sync + Send,
    rectifier: Option<Rectifier>,
) -> ArrayD<f32> {
    let (_, c, s) = geometry(shape);
    assert_eq!(consts.len(), c, "one set of constants per channel");
    // One chunk per image: `c` runs of `s` elements, each written whole.
    from_runs(shape, x.len(), c * s, |base, o| {
        vectorized(
            #[inline(always)]
            || {
                for (ch, cst) in consts.iter().enumerate() {
                    let range = base + ch * s..base + (ch + 1) * s;
                    let (xs, ks) = (&x[range.clone()], &k[range]);
                    let run = &mut o[ch * s..(ch + 1) * s];
                    for ((o, &x), &k) in run.iter_mut().zip(xs).zip(ks) {
                        o.write(f(cst, x, k));
                    }
                    if let Some(rectifier) = rectifier {
                        // SAFETY: the loop above wrote every element of `run`.
                        rectifier.rectify(unsafe { &mut *(std::ptr::from_mut(run) as *mut [f32]) });
                    }
                }
            },
        )
    })
}

/// Training-mode batch norm of `x: [n, c, ...]` (standard layout) with optional per-channel
/// `weight` and `bias` of length `c`, then `rectifier` if given (applied to each run of values
/// as it is written): the output and the statistics used.
///
/// # Panics
/// If `x` has fewer than 2 axes, is not in standard layout, or `weight`/`bias` are not of
/// length `c` (the op layer validates these).
pub fn batch_norm_forward(
    x: &ArrayViewD<f32>,
    weight: Option<&[f32]>,
    bias: Option<&[f32]>,
    eps: f32,
    rectifier: Option<Rectifier>,
) -> (ArrayD<f32>, ChannelStats) {
    let (n, c, s) = geometry(x.shape());
    let xs = x.as_slice().expect("batch norm input in standard layout");
    let count = n * s;
    let runs = |ch: usize| (0..n).map(move |i| (i * c + ch) * s..(i * c + ch + 1) * s);
    let stats: Vec<(f32, f32)> = per_channel(c, xs.len(), |ch| {
        if count == 0 {
            return (f32::NAN, f32::NAN);
        }
        // The channel's first value as the shift: near the mean, in any data that is not a
        // constant plus outliers.
        let shift = f64::from(xs[ch * s]);
        let (sum, sq) = vectorized(
            #[inline(always)]
            || shifted_sums(xs, runs(ch), shift),
        );
        let (mean, var) = (sum / count as f64, sq / count as f64);
        // Rounding can leave a constant channel's variance a hair below zero; a NaN (from a
        // non-finite input) stays NaN, as the two-pass form gave.
        let var = var - mean * mean;
        ((shift + mean) as f32, (if var < 0.0 { 0.0 } else { var }) as f32)
    });
    let mean: Vec<f32> = stats.iter().map(|s| s.0).collect();
    let var: Vec<f32> = stats.iter().map(|s| s.1).collect();
    let inv_std: Vec<f32> = var.iter().map(|&v| 1.0 / (v + eps).sqrt()).collect();
    // Per channel: mean, scale (inv_std · weight), shift (bias).
    let consts: Vec<[f32; 3]> =
        (0..c).map(|ch| [mean[ch], inv_std[ch] * weight.map_or(1.0, |w| w[ch]), bias.map_or(0.0, |b| b[ch])]).collect();
    let out = write_per_element(
        x.shape(),
        xs,
        xs,
        &consts,
        |&[mean, scale, shift], v, _| (v - mean) * scale + shift,
        rectifier,
    );
    (out, ChannelStats { mean, var, inv_std, count })
}

/// Per-channel `(Σg, Σg·x̂)` of the backward pass (the bias and weight gradients).
///
/// # Panics
/// If `x` and `g` differ in shape or are not in standard layout.
pub fn batch_norm_channel_sums(x: &ArrayViewD<f32>, g: &ArrayViewD<f32>, stats: &ChannelStats) -> (Vec<f32>, Vec<f32>) {
    assert_eq!(x.shape(), g.shape(), "batch norm backward: gradient shape differs from the input's");
    let (n, c, s) = geometry(x.shape());
    let xs = x.as_slice().expect("batch norm input in standard layout");
    let gs = g.as_slice().expect("batch norm gradient in standard layout");
    let sums: Vec<(f32, f32)> = per_channel(c, xs.len(), |ch| {
        let (mean, inv_std) = (stats.mean[ch], stats.inv_std[ch]);
        vectorized(
            #[inline(always)]
            || {
                let runs = (0..n).map(|i| (i * c + ch) * s..(i * c + ch + 1) * s);
                let (sum_g, sum_gx) =
                    run_sums(gs, xs, runs, |g, x| (f64::from(g), f64::from(g * ((x - mean) * inv_std))));
                (sum_g as f32, sum_gx as f32)
            },
        )
    });
    (sums.iter().map(|s| s.0).collect(), sums.iter().map(|s| s.1).collect())
}

/// `Σg` per channel (axis 1) of a standard-layout `[n, c, ...]` array, in `f64`: the gradient
/// of a per-channel bias (a convolution's), read straight from `g` with no copy or
/// intermediate array. Parallel over channels; each sum is in a fixed order, so the result does
/// not depend on the thread count.
///
/// # Panics
/// If `g` has fewer than 2 axes or is not in standard layout.
pub fn channel_sums(g: &ArrayViewD<f32>) -> Vec<f32> {
    let (n, c, s) = geometry(g.shape());
    let gs = g.as_slice().expect("gradient in standard layout");
    per_channel(c, gs.len(), |ch| {
        vectorized(
            #[inline(always)]
            || {
                let runs = (0..n).map(|i| (i * c + ch) * s..(i * c + ch + 1) * s);
                run_sums(gs, gs, runs, |g, _| (f64::from(g), 0.0)).0 as f32
            },
        )
    })
}

/// The input gradient `w·inv_std·(g − Σg/count − x̂·Σg·x̂/count)`, given the sums of
/// [`batch_norm_channel_sums`].
///
/// # Panics
/// As [`batch_norm_channel_sums`].
pub fn batch_norm_backward_input(
    x: &ArrayViewD<f32>,
    g: &ArrayViewD<f32>,
    weight: Option<&[f32]>,
    stats: &ChannelStats,
    sums: &(Vec<f32>, Vec<f32>),
) -> ArrayD<f32> {
    assert_eq!(x.shape(), g.shape(), "batch norm backward: gradient shape differs from the input's");
    let c = x.shape()[1];
    let xs = x.as_slice().expect("batch norm input in standard layout");
    let gs = g.as_slice().expect("batch norm gradient in standard layout");
    let inv_count = 1.0 / stats.count as f32;
    // Per channel: mean, inv_std, scale (inv_std · weight), mean of g, mean of g·x̂.
    let consts: Vec<[f32; 5]> = (0..c)
        .map(|ch| {
            let inv_std = stats.inv_std[ch];
            [
                stats.mean[ch],
                inv_std,
                inv_std * weight.map_or(1.0, |w| w[ch]),
                sums.0[ch] * inv_count,
                sums.1[ch] * inv_count,
            ]
        })
        .collect();
    write_per_element(
        x.shape(),
        xs,
        gs,
        &consts,
        |&[mean, inv_std, scale, mean_g, mean_gx], x, g| {
            let xhat = (x - mean) * inv_std;
            scale * (g - mean_g - xhat * mean_gx)
        },
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, IxDyn};

    fn data(shape: &[usize], seed: f32) -> ArrayD<f32> {
        let n: usize = shape.iter().product();
        Array::from_iter((0..n).map(|i| ((i as f32 + seed) * 0.731).sin() * 2.0 + 0.5))
            .into_shape_with_order(IxDyn(shape))
            .unwrap()
    }

    /// The textbook definition in f64.
    fn reference(x: &ArrayD<f32>, w: &[f32], b: &[f32], eps: f64) -> ArrayD<f64> {
        let c = x.shape()[1];
        let mut out = x.mapv(|v| v as f64);
        for ch in 0..c {
            let lane = x.index_axis(ndarray::Axis(1), ch).mapv(|v| v as f64);
            let mean = lane.mean().unwrap();
            let var = lane.mapv(|v| (v - mean).powi(2)).mean().unwrap();
            let mut o = out.index_axis_mut(ndarray::Axis(1), ch);
            o.mapv_inplace(|v| (v - mean) / (var + eps).sqrt() * w[ch] as f64 + b[ch] as f64);
        }
        out
    }

    #[test]
    fn forward_matches_the_definition_for_2d_and_4d_inputs() {
        for shape in [vec![5, 3], vec![4, 3, 5, 7], vec![2, 2, 1, 1]] {
            let x = data(&shape, 1.0);
            let c = shape[1];
            let w: Vec<f32> = (0..c).map(|i| 0.5 + i as f32).collect();
            let b: Vec<f32> = (0..c).map(|i| i as f32 - 1.0).collect();
            let (out, stats) = batch_norm_forward(&x.view(), Some(&w), Some(&b), 1e-5, None);
            let want = reference(&x, &w, &b, 1e-5);
            for (o, r) in out.iter().zip(want.iter()) {
                assert!((*o as f64 - r).abs() < 1e-5, "{shape:?}: {o} vs {r}");
            }
            assert_eq!(stats.count, x.len() / c);
        }
    }

    #[test]
    fn non_finite_inputs_give_non_finite_statistics() {
        for bad in [f32::NAN, f32::INFINITY] {
            let mut x = data(&[4, 2, 3, 3], 1.0);
            x[[2, 1, 1, 1]] = bad;
            let (out, stats) = batch_norm_forward(&x.view(), None, None, 1e-5, None);
            assert!(stats.mean[0].is_finite() && stats.var[0].is_finite(), "channel 0 is untouched");
            assert!(stats.var[1].is_nan(), "{bad}: variance {}", stats.var[1]);
            assert!(out.index_axis(ndarray::Axis(1), 1).iter().all(|v| v.is_nan()), "{bad}: channel 1 not NaN");
        }
    }

    #[test]
    fn statistics_hold_for_data_far_from_zero() {
        // Mean 10⁴, deviation ~1.4, end to end (the shift itself: the test below, whose data
        // is far enough from zero that unshifted sums would fail it).
        let x = data(&[16, 2, 9, 9], 3.0).mapv(|v| v + 1.0e4);
        let (_, stats) = batch_norm_forward(&x.view(), None, None, 1e-5, None);
        for ch in 0..2 {
            let lane = x.index_axis(ndarray::Axis(1), ch).mapv(|v| v as f64);
            let mean = lane.mean().unwrap();
            let var = lane.mapv(|v| (v - mean).powi(2)).mean().unwrap();
            assert!((stats.mean[ch] as f64 - mean).abs() < 1e-3, "mean {} vs {mean}", stats.mean[ch]);
            assert!((stats.var[ch] as f64 - var).abs() < 1e-6 * var.max(1.0), "var {} vs {var}", stats.var[ch]);
        }
    }

    #[test]
    fn shifting_keeps_the_variance_of_data_far_from_zero() {
        let x = data(&[2592], 3.0).mapv(|v| v + 1.0e6);
        let xs = x.as_slice().unwrap();
        let values = x.mapv(f64::from);
        let mean = values.mean().unwrap();
        let want = values.mapv(|v| (v - mean).powi(2)).mean().unwrap();
        let var = |shift: f64| {
            let (sum, sq) = shifted_sums(xs, std::iter::once(0..xs.len()), shift);
            let m = sum / xs.len() as f64;
            sq / xs.len() as f64 - m * m
        };
        let shifted = var(f64::from(xs[0]));
        assert!((shifted - want).abs() < 1e-9 * want, "shifted: {shifted} vs {want}");
        // The data is hard enough: without the shift, the same sums miss the variance.
        let unshifted = var(0.0);
        assert!((unshifted - want).abs() > 1e-6 * want, "unshifted: {unshifted} vs {want}");
    }

    #[test]
    fn results_do_not_depend_on_the_pool_size() {
        let x = data(&[64, 8, 12, 12], 2.0);
        let g = data(&[64, 8, 12, 12], 5.0);
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let (out, stats) = batch_norm_forward(&x.view(), None, None, 1e-5, None);
                let sums = batch_norm_channel_sums(&x.view(), &g.view(), &stats);
                let dx = batch_norm_backward_input(&x.view(), &g.view(), None, &stats, &sums);
                (out, stats, sums, dx, channel_sums(&g.view()))
            })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    #[test]
    fn channel_sums_are_the_sums_over_batch_and_positions() {
        for shape in [vec![5, 3], vec![4, 3, 5, 7], vec![2, 2, 1, 1], vec![0, 2, 3, 3]] {
            let g = data(&shape, 3.0);
            let want: Vec<f64> =
                (0..shape[1]).map(|ch| g.index_axis(ndarray::Axis(1), ch).iter().map(|&v| v as f64).sum()).collect();
            let got = channel_sums(&g.view());
            assert_eq!(got.len(), shape[1]);
            for (got, want) in got.iter().zip(&want) {
                assert!((*got as f64 - want).abs() < 1e-5 * (1.0 + want.abs()), "{shape:?}: {got} vs {want}");
            }
        }
    }
}
