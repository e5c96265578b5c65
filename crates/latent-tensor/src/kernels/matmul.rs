//! General matrix multiply on strided views, split over the rayon pool.
//!
//! The arithmetic is matrixmultiply's packed SIMD `sgemm` (its AVX-512 16×16 micro-kernel on
//! CPUs that have one, detected at run time, with AVX2/AVX/scalar fallbacks). [`gemm`] only
//! decides how to cut the output into blocks and hands each block, with the operands' original
//! strides, to one serial `sgemm` call on one rayon task. See [`gemm`] for how the cut is chosen.

use ndarray::{ArrayView2, ArrayViewMut2, Axis, s};
use rayon::prelude::*;

use ndarray::Array2;

/// Smallest amount of work (in floating-point operations, `2·m·k·n`) worth giving to a task of
/// its own. Waking a pool thread and joining it costs a few microseconds; at ~200 GFLOP/s per
/// core a 4 MFLOP block takes ~20 µs, so the overhead stays a small fraction. Smaller problems
/// run on the calling thread (measured: `128×400×20`, 2 MFLOP, is no faster split in two).
const MIN_FLOPS_PER_TASK: usize = 4 << 20;

/// Block sizes along the split dimension are multiples of this, the register tile of
/// matrixmultiply's widest micro-kernel (16×16 with AVX-512), so no block but the last ends in a
/// partial, masked tile.
const TILE: usize = 16;

/// `c = alpha * a · b + beta * c` for any strides of `a`, `b` (transposed views cost no copy).
///
/// `a` is `[m, k]`, `b` is `[k, n]`, `c` is `[m, n]`; each may be any view (any strides,
/// negative ones included), e.g. `x.t()` or a strided slice. When `beta == 0`, `c` is only written,
/// never read, so it may hold NaN or garbage. With `k == 0` the product is empty and
/// `c = beta * c` (zero when `beta == 0`).
///
/// # Parallelism
/// The output is cut into at most `rayon::current_num_threads()` blocks along its longer side
/// (rows of `c` when `m >= n`, columns otherwise), each a multiple of 16 long, and each block is
/// one serial `sgemm` call with the full `k`. Splitting along the longer side keeps the
/// redundant work small: every block packs the whole of the operand it does not split (`b` for
/// a row split, `a` for a column split), which is `k·n` (resp. `k·m`) per block against its
/// `k·n·m/blocks` multiply-adds. Blocks get at least 4 MFLOP (`2·m·k·n / blocks`) of work, so small
/// problems stay on the calling thread. Run inside `ThreadPool::install` to choose the pool.
///
/// # Determinism
/// Each element of `c` is computed by exactly one `sgemm` call, over the full `k`, with the same
/// micro-kernel and the same `k` blocking whatever the split, so the result is bit-identical
/// from run to run (and, with matrixmultiply 0.3, across thread counts too).
///
/// # Panics
/// If the shapes do not chain: `a` is `[m, k]`, `b` is `[k, n]` and `c` is `[m, n]`.
pub fn gemm(alpha: f32, a: ArrayView2<f32>, b: ArrayView2<f32>, beta: f32, mut c: ArrayViewMut2<f32>) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert_eq!(k, k2, "gemm: inner dimensions differ ({m}x{k} · {k2}x{n})");
    assert_eq!(c.dim(), (m, n), "gemm: output shape {:?} is not ({m}, {n})", c.dim());
    if m == 0 || n == 0 {
        return;
    }

    let blocks = block_count(m, k, n, rayon::current_num_threads());
    if blocks <= 1 {
        gemm_serial(alpha, a, b, beta, c);
        return;
    }
    let split_rows = match std::env::var("LSPLIT").as_deref() {
        Ok("rows") => true,
        Ok("cols") => false,
        _ => m >= n,
    };
    let tile: usize = std::env::var("LTILE").ok().and_then(|v| v.parse().ok()).unwrap_or(TILE);
    let len = if split_rows { m } else { n };
    let step = len.div_ceil(blocks).next_multiple_of(tile);
    let axis = if split_rows { Axis(0) } else { Axis(1) };
    let mut jobs = Vec::with_capacity(blocks);
    let mut start = 0;
    for c_block in c.axis_chunks_iter_mut(axis, step) {
        let end = start + c_block.len_of(axis);
        let (a_block, b_block) =
            if split_rows { (a.slice(s![start..end, ..]), b.view()) } else { (a.view(), b.slice(s![.., start..end])) };
        jobs.push((a_block, b_block, c_block));
        start = end;
    }
    jobs.into_par_iter().for_each(|(a_block, b_block, c_block)| {
        gemm_serial(alpha, a_block, b_block, beta, c_block);
    });
}

/// How many blocks to cut an `m×k×n` product into for `threads` threads: one per thread, but
/// no more than the work (`2·m·k·n` / [`MIN_FLOPS_PER_TASK`]) or the longer side (in whole
/// [`TILE`]s) allows.
fn block_count(m: usize, k: usize, n: usize, threads: usize) -> usize {
    let flops = 2usize.saturating_mul(m).saturating_mul(k).saturating_mul(n);
    let by_work = flops / MIN_FLOPS_PER_TASK;
    let by_tiles = m.max(n).div_ceil(TILE);
    threads.min(by_work).min(by_tiles).max(1)
}

/// One matrixmultiply `sgemm` call on the views as they are (shapes already checked).
fn gemm_serial(alpha: f32, a: ArrayView2<f32>, b: ArrayView2<f32>, beta: f32, mut c: ArrayViewMut2<f32>) {
    let (m, k) = a.dim();
    let n = b.ncols();
    debug_assert_eq!(b.nrows(), k);
    debug_assert_eq!(c.dim(), (m, n));
    let (rsa, csa) = (a.strides()[0], a.strides()[1]);
    let (rsb, csb) = (b.strides()[0], b.strides()[1]);
    let (rsc, csc) = (c.strides()[0], c.strides()[1]);
    // SAFETY: `a`, `b` and `c` are live ndarray views of shapes [m,k], [k,n], [m,n] (checked by
    // the caller); their `as_ptr` is the address of logical element [0,0] and every
    // `ptr + i*rs + j*cs` for in-range (i, j) lies inside the view, which is exactly what sgemm
    // reads or writes. `c` is a unique mutable view, so no element of it is aliased by `a`, `b`
    // or another block, and a mutable view never has a zero stride along an axis longer than 1.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            rsc,
            csc,
        );
    }
}

/// `a · b` into a new standard-layout (row-major) array, computed by [`gemm`] (so in parallel
/// when large enough).
///
/// # Panics
/// If `a.ncols() != b.nrows()`.
pub fn matmul(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    gemm(1.0, a, b, 0.0, c.view_mut());
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{Lcg, assert_close};
    use ndarray::Array2;

    /// Reference: the textbook triple loop in f64.
    fn naive(alpha: f32, a: ArrayView2<f32>, b: ArrayView2<f32>, beta: f32, c: &Array2<f32>) -> Array2<f32> {
        let (m, k) = a.dim();
        let n = b.ncols();
        Array2::from_shape_fn((m, n), |(i, j)| {
            let mut s = 0.0f64;
            for p in 0..k {
                s += a[[i, p]] as f64 * b[[p, j]] as f64;
            }
            let prev = if beta == 0.0 { 0.0 } else { beta as f64 * c[[i, j]] as f64 };
            (alpha as f64 * s + prev) as f32
        })
    }

    fn check(alpha: f32, a: ArrayView2<f32>, b: ArrayView2<f32>, beta: f32, rng: &mut Lcg) {
        let (m, n) = (a.nrows(), b.ncols());
        let c0 = rng.array2(m, n);
        let expect = naive(alpha, a, b, beta, &c0);
        let mut c = c0.clone();
        gemm(alpha, a, b, beta, c.view_mut());
        assert_close(c.view().into_dyn(), expect.view().into_dyn(), 1e-4, "gemm");
    }

    #[test]
    fn matches_naive_for_all_layouts() {
        let mut rng = Lcg::new(1);
        let shapes =
            [(0, 3, 4), (3, 0, 4), (3, 4, 0), (1, 1, 1), (1, 7, 1), (5, 1, 3), (17, 9, 33), (33, 40, 17), (64, 31, 70)];
        for &(m, k, n) in &shapes {
            for &(alpha, beta) in &[(1.0, 0.0), (0.5, 2.0), (-1.5, 1.0)] {
                // Plain row-major.
                let a = rng.array2(m, k);
                let b = rng.array2(k, n);
                check(alpha, a.view(), b.view(), beta, &mut rng);
                // Transposed views of both operands (column-major data).
                let at = rng.array2(k, m);
                let bt = rng.array2(n, k);
                check(alpha, at.t(), bt.t(), beta, &mut rng);
                check(alpha, a.view(), bt.t(), beta, &mut rng);
                check(alpha, at.t(), b.view(), beta, &mut rng);
                // Non-contiguous slices: every other row / column of bigger arrays.
                let big_a = rng.array2(2 * m + 1, 3 * k + 2);
                let big_b = rng.array2(2 * k + 1, 2 * n + 3);
                let sa = big_a.slice(s![1..;2, 2..;3]);
                let sb = big_b.slice(s![..2 * k;2, 1..2 * n + 1;2]);
                assert_eq!((sa.dim(), sb.dim()), ((m, k), (k, n)));
                check(alpha, sa, sb, beta, &mut rng);
                // Negative strides (reversed axes).
                check(alpha, a.slice(s![..;-1, ..]), b.slice(s![.., ..;-1]), beta, &mut rng);
            }
        }
    }

    #[test]
    fn writes_into_strided_and_transposed_output() {
        let mut rng = Lcg::new(2);
        let (m, k, n) = (37, 21, 45);
        let a = rng.array2(m, k);
        let b = rng.array2(k, n);
        let expect = naive(1.0, a.view(), b.view(), 0.0, &Array2::zeros((m, n)));
        // Column-major output.
        let mut ct = Array2::<f32>::from_elem((n, m), f32::NAN);
        gemm(1.0, a.view(), b.view(), 0.0, ct.view_mut().reversed_axes());
        assert_close(ct.t().into_dyn(), expect.view().into_dyn(), 1e-4, "transposed c");
        // Every other column of a wider array; the untouched columns stay as they were.
        let mut wide = Array2::<f32>::from_elem((m, 2 * n), 7.0);
        gemm(1.0, a.view(), b.view(), 0.0, wide.slice_mut(s![.., ..;2]));
        assert_close(wide.slice(s![.., ..;2]).into_dyn(), expect.view().into_dyn(), 1e-4, "strided c");
        assert!(wide.slice(s![.., 1..;2]).iter().all(|&v| v == 7.0));
    }

    #[test]
    fn beta_zero_ignores_nan_in_c() {
        let mut rng = Lcg::new(3);
        for &(m, k, n) in &[(5, 4, 3), (40, 3, 300), (300, 3, 40), (6, 0, 2)] {
            let a = rng.array2(m, k);
            let b = rng.array2(k, n);
            let mut c = Array2::from_elem((m, n), f32::NAN);
            gemm(1.0, a.view(), b.view(), 0.0, c.view_mut());
            let expect = naive(1.0, a.view(), b.view(), 0.0, &c);
            assert_close(c.view().into_dyn(), expect.view().into_dyn(), 1e-4, "beta=0");
        }
    }

    #[test]
    #[should_panic(expected = "inner dimensions")]
    fn panics_on_inner_mismatch() {
        let a = Array2::<f32>::zeros((2, 3));
        let b = Array2::<f32>::zeros((4, 2));
        let _ = matmul(a.view(), b.view());
    }

    #[test]
    #[should_panic(expected = "output shape")]
    fn panics_on_output_mismatch() {
        let a = Array2::<f32>::zeros((2, 3));
        let b = Array2::<f32>::zeros((3, 2));
        let mut c = Array2::<f32>::zeros((2, 3));
        gemm(1.0, a.view(), b.view(), 0.0, c.view_mut());
    }

    #[test]
    fn split_is_chosen_as_documented() {
        // Tiny problems stay serial whatever the pool size.
        assert_eq!(block_count(128, 400, 20, 2), 1);
        assert_eq!(block_count(3, 4, 5, 64), 1);
        // Big ones get one block per thread.
        assert_eq!(block_count(128, 784, 400, 2), 2);
        assert_eq!(block_count(1024, 1024, 1024, 8), 8);
        // Never more blocks than tiles along the longer side.
        assert_eq!(block_count(16, 100_000, 16, 8), 1);
        assert_eq!(block_count(1024, 1024, 1024, 1), 1);
    }

    #[test]
    fn parallel_split_is_correct_and_deterministic() {
        let mut rng = Lcg::new(4);
        // Shapes that split by rows (m >= n) and by columns (n > m), including a transposed `a`
        // and ragged last blocks, on pools of 1, 2 and 3 threads.
        let cases = [(200, 150, 150), (130, 160, 210), (100, 80, 530)];
        for &(m, k, n) in &cases {
            assert!(block_count(m, k, n, 2) == 2, "case {m}x{k}x{n} must split");
            let a = rng.array2(k, m);
            let b = rng.array2(k, n);
            let expect = naive(1.0, a.t(), b.view(), 0.0, &Array2::zeros((m, n)));
            let mut outputs = Vec::new();
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let run = || pool.install(|| matmul(a.t(), b.view()));
                let first = run();
                assert_close(first.view().into_dyn(), expect.view().into_dyn(), 1e-4, "parallel gemm");
                for _ in 0..3 {
                    // Bit-identical for the same inputs and thread count.
                    let again = run();
                    assert!(first.iter().zip(again.iter()).all(|(x, y)| x.to_bits() == y.to_bits()));
                }
                outputs.push(first);
            }
            // And across thread counts, as documented.
            for out in &outputs[1..] {
                assert!(outputs[0].iter().zip(out.iter()).all(|(x, y)| x.to_bits() == y.to_bits()));
            }
        }
    }
}
