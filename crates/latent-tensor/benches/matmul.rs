//! GEMM throughput of `kernels::matmul::gemm` on the shapes the models use, at 1 and 2 threads.
//!
//! Run with `cargo bench -p latent-tensor --bench matmul`. Each case reports its throughput in
//! Gelem/s, where one element is one floating-point operation (`2·m·k·n` per product), so the
//! number is GFLOP/s. Each case runs inside its own rayon pool of the given size.
#![allow(missing_docs)] // criterion_group!/criterion_main! generate undocumented functions

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use latent_tensor::kernels::matmul::gemm;
use ndarray::Array2;

/// `(m, k, n, a_transposed)`: `a` is `[m, k]` (stored `[k, m]` and viewed transposed when the
/// flag is set), `b` is `[k, n]`.
const SHAPES: &[(usize, usize, usize, bool)] = &[
    (128, 784, 400, false), // MLP encoder layer, batch 128
    (128, 400, 784, false), // MLP decoder layer
    (400, 128, 784, true),  // weight gradient Xᵀ·G of the decoder layer
    (128, 400, 20, false),  // latent head: small, should stay serial
    (64, 1024, 784, false), // wide layer, small batch
    (1024, 1024, 1024, false),
];

/// Deterministic values in [-1, 1) without a random-number dependency.
fn filled(rows: usize, cols: usize, seed: u32) -> Array2<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    Array2::from_shape_simple_fn((rows, cols), || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    })
}

fn bench_gemm(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm");
    group.sample_size(20).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    for &(m, k, n, transposed) in SHAPES {
        let a_store = if transposed { filled(k, m, 1) } else { filled(m, k, 1) };
        let b = filled(k, n, 2);
        let mut out = Array2::<f32>::zeros((m, n));
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        for threads in [1usize, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("rayon pool");
            let name = format!("{m}x{k}x{n}{}", if transposed { "_at" } else { "" });
            group.bench_function(BenchmarkId::new(name, format!("{threads}t")), |bench| {
                // Time whole batches inside the pool so the cost of entering it is not measured.
                bench.iter_custom(|iters| {
                    pool.install(|| {
                        let a = if transposed { a_store.t() } else { a_store.view() };
                        let start = Instant::now();
                        for _ in 0..iters {
                            gemm(1.0, black_box(a), black_box(b.view()), 0.0, out.view_mut());
                        }
                        black_box(&out);
                        start.elapsed()
                    })
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_gemm);
criterion_main!(benches);
