//! Throughput of the im2col convolution kernels on the layers of a small MNIST convolutional
//! autoencoder and of the DCGAN (batch 128), forward and backward, at 1 and 2 threads.
//!
//! Run with `cargo bench -p latent-tensor --bench conv`. Throughput is in Gelem/s where one
//! element is one floating-point operation of the equivalent direct convolution
//! (`2·n·c_out·c_in·kh·kw·oh·ow` forward, twice that backward), so the number is GFLOP/s.
#![allow(missing_docs)] // criterion_group!/criterion_main! generate undocumented functions

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use latent_tensor::kernels::conv::{
    ConvOptions, conv_transpose2d, conv_transpose2d_backward, conv2d, conv2d_backward, conv2d_output_size,
};
use ndarray::Array4;

/// A layer: `(name, transposed, n, c_in, c_out, h, kernel, stride, padding, output_padding)`,
/// square images and kernels.
type Layer = (&'static str, bool, usize, usize, usize, usize, usize, usize, usize, usize);

const LAYERS: &[Layer] = &[
    ("enc1_1to32_28", false, 128, 1, 32, 28, 3, 2, 1, 0),
    ("enc2_32to64_14", false, 128, 32, 64, 14, 3, 2, 1, 0),
    ("dec1_64to32_7", true, 128, 64, 32, 7, 3, 2, 1, 1),
    ("dec2_32to1_14", true, 128, 32, 1, 14, 3, 2, 1, 1),
    // DCGAN (reference/torch_dcgan.py): generator, then discriminator.
    ("g1_100to128_1", true, 128, 100, 128, 1, 7, 1, 0, 0),
    ("g2_128to64_7", true, 128, 128, 64, 7, 4, 2, 1, 0),
    ("g3_64to1_14", true, 128, 64, 1, 14, 4, 2, 1, 0),
    ("d1_1to64_28", false, 128, 1, 64, 28, 4, 2, 1, 0),
    ("d2_64to128_14", false, 128, 64, 128, 14, 4, 2, 1, 0),
    ("d3_128to1_7", false, 128, 128, 1, 7, 7, 1, 0, 0),
];

/// Deterministic values in [-1, 1) without a random-number dependency.
fn filled(shape: (usize, usize, usize, usize), seed: u32) -> Array4<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    Array4::from_shape_simple_fn(shape, || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    })
}

/// Times `iters` calls of `f` inside `pool`.
fn timed(pool: &rayon::ThreadPool, iters: u64, f: &(dyn Fn() + Sync)) -> Duration {
    pool.install(|| {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        start.elapsed()
    })
}

fn bench_conv(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv");
    group.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    for &(name, transposed, n, c_in, c_out, h, k, s, p, op) in LAYERS {
        let spec = ConvOptions::new(s, p).output_padding(op);
        let x = filled((n, c_in, h, h), 1);
        let (w, out_hw) = if transposed {
            let oh = (h - 1) * s + k + op - 2 * p;
            (filled((c_in, c_out, k, k), 2), (oh, oh))
        } else {
            (filled((c_out, c_in, k, k), 2), conv2d_output_size((h, h), (k, k), spec).expect("geometry"))
        };
        let g = filled((n, c_out, out_hw.0, out_hw.1), 3);
        // The direct convolution's work; for a transposed one the roles of input and output swap.
        let spatial = if transposed { h * h } else { out_hw.0 * out_hw.1 };
        let flops = (2 * n * c_out * c_in * k * k * spatial) as u64;
        for threads in [1usize, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("rayon pool");
            let id = format!("{threads}t");
            group.throughput(Throughput::Elements(flops));
            group.bench_function(BenchmarkId::new(format!("{name}/forward"), &id), |b| {
                b.iter_custom(|iters| {
                    timed(&pool, iters, &|| {
                        let y = if transposed {
                            conv_transpose2d(black_box(x.view()), w.view(), spec)
                        } else {
                            conv2d(black_box(x.view()), w.view(), spec)
                        };
                        black_box(y);
                    })
                })
            });
            group.throughput(Throughput::Elements(2 * flops));
            group.bench_function(BenchmarkId::new(format!("{name}/backward"), &id), |b| {
                b.iter_custom(|iters| {
                    timed(&pool, iters, &|| {
                        let grads = if transposed {
                            conv_transpose2d_backward(black_box(x.view()), w.view(), g.view(), spec)
                        } else {
                            conv2d_backward(black_box(x.view()), w.view(), g.view(), spec)
                        };
                        black_box(grads);
                    })
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_conv);
criterion_main!(benches);
