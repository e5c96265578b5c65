//! Micro-benchmarks of latent's kernels, in this process: GEMM on the MLP models' shapes and the
//! convolutions of the convolutional autoencoder and the DCGAN, forward and backward, in GFLOP/s.
//!
//! Each case runs inside a rayon pool of the requested size (`ThreadPool::install`, which the
//! kernels honour). It is warmed up (at least two calls and half the repetition time), then
//! timed `reps` times; each repetition is a block of calls long enough to last about the target
//! time, so timer resolution and the cost of entering the pool do not count. The figure is the
//! median repetition, with the fastest and slowest. Inputs are fixed pseudo-random values.
//!
//! FLOP counts: `2·m·k·n` per GEMM; a convolution counts the multiply-adds of the direct
//! convolution, `2·n·c_in·c_out·kh·kw·(output pixels)`, where for a transposed convolution the
//! pixels are those of its (smaller) input, the output of the convolution it is the adjoint of.
//! A backward pass computes both gradients, twice the forward work.

use std::hint::black_box;
use std::time::{Duration, Instant};

use latent_tensor::kernels::conv::{
    ConvOptions, conv_transpose2d, conv_transpose2d_backward, conv2d, conv2d_backward, conv2d_output_size,
};
use latent_tensor::kernels::matmul::gemm;
use ndarray::{Array2, Array4};
use serde::Serialize;

use super::stats::Spread;

/// A GEMM case: `c[m, n] = a[m, k] · b[k, n]`, either operand possibly a transposed view.
struct Gemm {
    name: &'static str,
    m: usize,
    k: usize,
    n: usize,
    a_transposed: bool,
    b_transposed: bool,
}

/// The products of a linear layer `y = x · Wᵀ` (`W` stored `[out, in]`, so `b = Wᵀ` is a
/// transposed view), its input gradient `g · W` and its weight gradient `gᵀ · x`, as latent's
/// autodiff calls them.
const GEMMS: &[Gemm] = &[
    Gemm { name: "vae fc1 forward x·Wᵀ", m: 128, k: 784, n: 400, a_transposed: false, b_transposed: true },
    Gemm { name: "vae fc1 grad W = gᵀ·x", m: 400, k: 128, n: 784, a_transposed: true, b_transposed: false },
    Gemm { name: "vae fc4 forward x·Wᵀ", m: 128, k: 400, n: 784, a_transposed: false, b_transposed: true },
    Gemm { name: "vae fc4 grad x = g·W", m: 128, k: 784, n: 400, a_transposed: false, b_transposed: false },
    Gemm { name: "vae head forward x·Wᵀ", m: 128, k: 400, n: 20, a_transposed: false, b_transposed: true },
    Gemm { name: "gan G4 forward x·Wᵀ", m: 64, k: 1024, n: 784, a_transposed: false, b_transposed: true },
    Gemm { name: "gan G4 grad x = g·W", m: 64, k: 784, n: 1024, a_transposed: false, b_transposed: false },
    Gemm { name: "square 1024", m: 1024, k: 1024, n: 1024, a_transposed: false, b_transposed: false },
];

/// A convolution layer at batch [`CONV_BATCH`], square images and kernels.
struct Conv {
    name: &'static str,
    transposed: bool,
    c_in: usize,
    c_out: usize,
    side: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
}

/// The batch of the conv autoencoder and the DCGAN presets.
const CONV_BATCH: usize = 128;

const fn conv(name: &'static str, c_in: usize, c_out: usize, side: usize, k: usize, s: usize, p: usize) -> Conv {
    Conv { name, transposed: false, c_in, c_out, side, kernel: k, stride: s, padding: p }
}

const fn convt(name: &'static str, c_in: usize, c_out: usize, side: usize, k: usize, s: usize, p: usize) -> Conv {
    Conv { name, transposed: true, c_in, c_out, side, kernel: k, stride: s, padding: p }
}

/// The layers of `latent train conv-ae` (channels 32, 64; kernel 4, stride 2, padding 1) and of
/// `latent train dcgan` (`reference/torch_dcgan.py`).
const CONVS: &[Conv] = &[
    conv("conv-ae enc1 1→32 28²", 1, 32, 28, 4, 2, 1),
    conv("conv-ae enc2 32→64 14²", 32, 64, 14, 4, 2, 1),
    convt("conv-ae dec1 64→32 7²", 64, 32, 7, 4, 2, 1),
    convt("conv-ae dec2 32→1 14²", 32, 1, 14, 4, 2, 1),
    convt("dcgan G1 100→128 1²", 100, 128, 1, 7, 1, 0),
    convt("dcgan G2 128→64 7²", 128, 64, 7, 4, 2, 1),
    convt("dcgan G3 64→1 14²", 64, 1, 14, 4, 2, 1),
    conv("dcgan D1 1→64 28²", 1, 64, 28, 4, 2, 1),
    conv("dcgan D2 64→128 14²", 64, 128, 14, 4, 2, 1),
    conv("dcgan D3 128→1 7²", 128, 1, 7, 7, 1, 0),
];

/// How long and how often each case is timed.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Timing {
    /// Timed repetitions per case.
    pub reps: usize,
    /// Target duration of one repetition, milliseconds.
    pub rep_ms: u64,
}

/// One case at one thread count.
#[derive(Clone, Debug, Serialize)]
pub struct MicroReport {
    /// The case, e.g. `vae fc1 forward` or `dcgan D2 64→128 14² backward`.
    pub name: String,
    /// `gemm`, `conv2d`, `conv2d_backward`, `conv_transpose2d` or `conv_transpose2d_backward`.
    pub kernel: &'static str,
    /// The operand shapes.
    pub shape: String,
    /// Threads of the pool it ran in.
    pub threads: usize,
    /// Floating-point operations per call.
    pub flop_per_call: f64,
    /// Calls per timed repetition.
    pub calls_per_rep: usize,
    /// Each repetition's GFLOP/s, in order.
    pub gflops: Vec<f64>,
    /// Their median and range.
    pub summary: Option<Spread>,
}

/// Deterministic values in [-1, 1) without a random-number dependency (xorshift32).
fn filler(seed: u32) -> impl FnMut() -> f32 {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    }
}

fn filled2(shape: (usize, usize), seed: u32) -> Array2<f32> {
    Array2::from_shape_simple_fn(shape, filler(seed))
}

fn filled4(shape: (usize, usize, usize, usize), seed: u32) -> Array4<f32> {
    Array4::from_shape_simple_fn(shape, filler(seed))
}

/// Times `f` in `pool`: warm-up, then `timing.reps` blocks of calls; returns seconds per call of
/// each block and the calls per block.
fn time_calls(pool: &rayon::ThreadPool, timing: Timing, f: &mut (dyn FnMut() + Send)) -> (Vec<f64>, usize) {
    let target = Duration::from_millis(timing.rep_ms);
    pool.install(|| {
        let start = Instant::now();
        let mut calls = 0usize;
        while calls < 2 || start.elapsed() < target / 2 {
            f();
            calls += 1;
        }
        let per_call = start.elapsed().as_secs_f64() / calls as f64;
        let block = ((target.as_secs_f64() / per_call).ceil() as usize).max(1);
        let times = (0..timing.reps)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..block {
                    f();
                }
                t.elapsed().as_secs_f64() / block as f64
            })
            .collect();
        (times, block)
    })
}

fn report(
    name: String,
    kernel: &'static str,
    shape: String,
    threads: usize,
    flop: f64,
    (secs, calls_per_rep): (Vec<f64>, usize),
) -> MicroReport {
    let gflops: Vec<f64> = secs.iter().map(|s| flop / s / 1e9).collect();
    let summary = Spread::of(&gflops);
    MicroReport { name, kernel, shape, threads, flop_per_call: flop, calls_per_rep, gflops, summary }
}

/// Runs every GEMM and convolution case at each thread count in `threads`, calling `progress`
/// after each.
///
/// # Errors
/// If a rayon pool cannot be built.
pub fn run_all(
    threads: &[usize],
    timing: Timing,
    progress: &mut dyn FnMut(&MicroReport),
) -> anyhow::Result<Vec<MicroReport>> {
    let pools = threads
        .iter()
        .map(|&t| Ok((t, rayon::ThreadPoolBuilder::new().num_threads(t).build()?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut out = Vec::new();
    let mut push = |r: MicroReport| {
        progress(&r);
        out.push(r);
    };
    for g in GEMMS {
        let a = if g.a_transposed { filled2((g.k, g.m), 1) } else { filled2((g.m, g.k), 1) };
        let b = if g.b_transposed { filled2((g.n, g.k), 2) } else { filled2((g.k, g.n), 2) };
        let mut c = Array2::<f32>::zeros((g.m, g.n));
        let flop = 2.0 * (g.m * g.k * g.n) as f64;
        let shape = format!(
            "{}x{}{} · {}x{}{}",
            g.m,
            g.k,
            if g.a_transposed { " (Aᵀ)" } else { "" },
            g.k,
            g.n,
            if g.b_transposed { " (Bᵀ)" } else { "" }
        );
        for (t, pool) in &pools {
            let secs = time_calls(pool, timing, &mut || {
                let a = if g.a_transposed { a.t() } else { a.view() };
                let b = if g.b_transposed { b.t() } else { b.view() };
                gemm(1.0, a, b, 0.0, c.view_mut());
                black_box(&c);
            });
            push(report(g.name.to_string(), "gemm", shape.clone(), *t, flop, secs));
        }
    }
    for l in CONVS {
        let spec = ConvOptions::new(l.stride, l.padding);
        let k = l.kernel;
        let x = filled4((CONV_BATCH, l.c_in, l.side, l.side), 3);
        // Weights are [c_out, c_in, k, k] for a convolution, [c_in, c_out, k, k] transposed.
        let w = if l.transposed { filled4((l.c_in, l.c_out, k, k), 4) } else { filled4((l.c_out, l.c_in, k, k), 4) };
        let out_dim = if l.transposed {
            conv_transpose2d(x.view(), w.view(), spec).dim()
        } else {
            conv2d(x.view(), w.view(), spec).dim()
        };
        let g = filled4(out_dim, 5);
        let (small_h, small_w) = if l.transposed {
            (l.side, l.side)
        } else {
            conv2d_output_size((l.side, l.side), (k, k), spec).expect("the listed layers have valid geometry")
        };
        let flop = 2.0 * (CONV_BATCH * l.c_in * l.c_out * k * k * small_h * small_w) as f64;
        let shape = format!(
            "x {}x{}x{}x{} · w {}x{}, s{} p{} → {}x{}x{}x{}",
            CONV_BATCH, l.c_in, l.side, l.side, k, k, l.stride, l.padding, out_dim.0, out_dim.1, out_dim.2, out_dim.3
        );
        let (fwd, bwd) = if l.transposed {
            ("conv_transpose2d", "conv_transpose2d_backward")
        } else {
            ("conv2d", "conv2d_backward")
        };
        for (t, pool) in &pools {
            let secs = time_calls(pool, timing, &mut || {
                if l.transposed {
                    black_box(conv_transpose2d(x.view(), w.view(), spec));
                } else {
                    black_box(conv2d(x.view(), w.view(), spec));
                }
            });
            push(report(format!("{} forward", l.name), fwd, shape.clone(), *t, flop, secs));
        }
        for (t, pool) in &pools {
            let secs = time_calls(pool, timing, &mut || {
                if l.transposed {
                    black_box(conv_transpose2d_backward(x.view(), w.view(), g.view(), spec));
                } else {
                    black_box(conv2d_backward(x.view(), w.view(), g.view(), spec));
                }
            });
            push(report(format!("{} backward", l.name), bwd, shape.clone(), *t, 2.0 * flop, secs));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_layers_chain_like_the_models() {
        // Each listed layer's output side is the next layer's input side within a network.
        let side_out = |l: &Conv| {
            let spec = ConvOptions::new(l.stride, l.padding);
            if l.transposed {
                (l.side - 1) * l.stride + l.kernel - 2 * l.padding
            } else {
                conv2d_output_size((l.side, l.side), (l.kernel, l.kernel), spec).unwrap().0
            }
        };
        let sides: Vec<usize> = CONVS.iter().map(side_out).collect();
        assert_eq!(sides, [14, 7, 14, 28, 7, 14, 28, 14, 7, 1]);
        for pair in [(0, 1), (2, 3), (4, 5), (5, 6), (7, 8), (8, 9)] {
            assert_eq!(CONVS[pair.0].c_out, CONVS[pair.1].c_in);
            assert_eq!(sides[pair.0], CONVS[pair.1].side);
        }
    }

    #[test]
    fn gflops_are_flop_over_seconds() {
        let r = report("x".into(), "gemm", "s".into(), 2, 2e9, (vec![1.0, 0.5, 2.0], 3));
        assert_eq!(r.gflops, [2.0, 4.0, 1.0]);
        assert_eq!(r.summary, Some(Spread { median: 2.0, min: 1.0, max: 4.0 }));
        assert_eq!((r.threads, r.calls_per_rep), (2, 3));
    }

    #[test]
    fn filler_is_deterministic_and_spread_over_the_range() {
        let values: Vec<f32> = std::iter::repeat_with(filler(7)).take(1000).collect();
        let again: Vec<f32> = std::iter::repeat_with(filler(7)).take(1000).collect();
        assert_eq!(values, again);
        assert!(values.iter().all(|v| (-1.0..1.0).contains(v)));
        assert!(values.iter().any(|&v| v < -0.9) && values.iter().any(|&v| v > 0.9));
    }
}
