//! General matrix multiply on strided views, split over the rayon pool.
//!
//! The arithmetic is matrixmultiply's packed SIMD `sgemm` (its AVX-512 16×16 micro-kernel on
//! CPUs that have one, detected at run time, with AVX2/AVX/scalar fallbacks), except for
//! products whose two operands are contiguous along the inner dimension (a linear layer's
//! `x · Wᵀ`), which the private `dot_gemm` module computes as dot products without packing when
//! that is faster (its module docs say when and why). [`gemm`] decides that once per call, how to cut the output into blocks and
//! who computes each block; every block is one serial call on the operands' original strides.
//!
//! # Why the calling thread works too
//! A plain `rayon` split (`par_iter`/`join`) hands all blocks to pool workers. When they are
//! asleep — the usual case between the ops of a training step — waking one costs tens to
//! hundreds of microseconds on a virtual machine, and a call from outside the pool also waits for
//! the caller's own wake-up, so a split of a sub-millisecond product often lost to one thread.
//! Here the caller starts on the blocks at once while `threads − 1` helper tasks are spawned on
//! the current pool; every participant claims the next block from an atomic counter, and a
//! helper that arrives after all blocks are claimed does nothing. The call therefore never waits
//! for a worker to wake, only for helpers still finishing a block they claimed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ndarray::{ArrayView2, ArrayViewMut2, Axis, s};

use super::dot_gemm::{self, DotProduct};

/// Smallest amount of work (in floating-point operations, `2·m·k·n`) worth a block of its own.
///
/// Measured on the 2-core development VM with workers asleep between calls (200 µs of serial
/// work between products): splitting `128×400×20` (2 MFLOP) in two lost 20%, `128×256×128`
/// (8.4 MFLOP) gained 18% and `128×784×64` (12.8 MFLOP) 18%; with workers awake every split
/// gains. 4 MFLOP per block (~40 µs on one core) makes 8 MFLOP the smallest product split in two.
const MIN_FLOPS_PER_BLOCK: usize = 4 << 20;

/// Block lengths along the split dimension are multiples of this, the register tile of
/// matrixmultiply's widest micro-kernel (16×16 with AVX-512), so no block but the last ends in a
/// partial, masked tile.
const TILE: usize = 16;

/// `c = alpha * a · b + beta * c` for any strides of `a`, `b` (transposed views cost no copy).
///
/// `a` is `[m, k]`, `b` is `[k, n]`, `c` is `[m, n]`; each may be any view (any strides,
/// negative ones included), e.g. `x.t()` or a strided slice. When `beta == 0`, `c` is only
/// written, never read, so it may hold NaN or garbage. With `k == 0` the product is empty and
/// `c = beta * c` (zero when `beta == 0`).
///
/// # Parallelism
/// With `t = rayon::current_num_threads()` (the pool the caller runs in, or the global one; use
/// `ThreadPool::install` to choose), the output is cut into at most `t` blocks of at least
/// 4 MFLOP (`2·m·k·n / blocks`) each, so small products run on the calling thread alone. The
/// cut is along the longer side of `c` (rows when `m >= n`, columns otherwise), in multiples of
/// 16: every block packs the whole of the operand it does not cut (`b` for a row split, `a` for a
/// column split), which costs `k·n` (resp. `k·m`) against the block's `k·n·m/blocks`
/// multiply-adds, so cutting the longer side keeps that redundant work smallest. The caller
/// computes blocks itself while helpers on the pool join in (see the module docs).
///
/// # Determinism
/// The kernel (matrixmultiply or `dot_gemm`) is chosen from the product's shape and
/// strides alone. Each element of `c` is computed by exactly one call of it, over the full `k`,
/// with the same micro-kernel and the same `k` blocking whatever the cut, so the result is
/// bit-identical from run to run, whichever thread computes which block (and, with
/// matrixmultiply 0.3, across thread counts too).
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
    let dot = dot_gemm::suits(m, k, n, a.strides()[1], b.strides()[0]);
    let threads = rayon::current_num_threads();
    let blocks = block_count(m, k, n, threads);
    if blocks <= 1 {
        // SAFETY: the block is made from views that live through this statement, on this thread.
        unsafe { BlockGemm::new(a, b, c.view_mut(), dot).run(alpha, beta) };
        return;
    }

    let split_rows = m >= n;
    let len = if split_rows { m } else { n };
    let step = len.div_ceil(blocks).next_multiple_of(TILE);
    let axis = if split_rows { Axis(0) } else { Axis(1) };
    let mut start = 0;
    let mut parts = Vec::with_capacity(blocks);
    for c_block in c.axis_chunks_iter_mut(axis, step) {
        let end = start + c_block.len_of(axis);
        let (a_block, b_block) =
            if split_rows { (a.slice(s![start..end, ..]), b.view()) } else { (a.view(), b.slice(s![.., start..end])) };
        parts.push(BlockGemm::new(a_block, b_block, c_block, dot));
        start = end;
    }
    let helpers = threads.min(parts.len()) - 1;
    let shared = Arc::new(SharedBlocks {
        blocks: parts,
        alpha,
        beta,
        next: AtomicUsize::new(0),
        active: AtomicUsize::new(0),
        closed: AtomicBool::new(false),
    });
    for _ in 0..helpers {
        let shared = Arc::clone(&shared);
        rayon::spawn(move || shared.help());
    }
    // The guard closes the blocks to late helpers and waits for running ones before `a`, `b`
    // and `c` can be released, also if this thread unwinds.
    let _close = CloseOnDrop(&shared);
    // SAFETY: the views behind the blocks are borrowed until `gemm` returns, and `_close` keeps
    // `gemm` from returning while a helper may still touch them.
    unsafe { shared.run_blocks() };
}

/// How many blocks to cut an `m×k×n` product into for `threads` threads: one per thread, but
/// no more than the work (`2·m·k·n` / [`MIN_FLOPS_PER_BLOCK`]) or the longer side (in whole
/// [`TILE`]s) allows.
fn block_count(m: usize, k: usize, n: usize, threads: usize) -> usize {
    let flops = 2usize.saturating_mul(m).saturating_mul(k).saturating_mul(n);
    let by_work = flops / MIN_FLOPS_PER_BLOCK;
    let by_tiles = m.max(n).div_ceil(TILE);
    threads.min(by_work).min(by_tiles).max(1)
}

/// One block's product, kept as raw parts so that a helper task may run it.
struct BlockGemm {
    /// Computed by [`dot_gemm`] rather than matrixmultiply.
    dot: bool,
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    c: *mut f32,
    rsc: isize,
    csc: isize,
}

impl BlockGemm {
    /// The call computing `c = alpha·a·b + beta·c` for views of checked, chaining shapes, by
    /// [`dot_gemm`] if `dot` (which [`dot_gemm::suits`] must have allowed).
    fn new(a: ArrayView2<f32>, b: ArrayView2<f32>, mut c: ArrayViewMut2<f32>, dot: bool) -> Self {
        debug_assert_eq!((a.ncols(), c.dim()), (b.nrows(), (a.nrows(), b.ncols())));
        BlockGemm {
            dot,
            m: a.nrows(),
            k: a.ncols(),
            n: b.ncols(),
            a: a.as_ptr(),
            rsa: a.strides()[0],
            csa: a.strides()[1],
            b: b.as_ptr(),
            rsb: b.strides()[0],
            csb: b.strides()[1],
            c: c.as_mut_ptr(),
            rsc: c.strides()[0],
            csc: c.strides()[1],
        }
    }

    /// Runs the product.
    ///
    /// # Safety
    /// The views it was made from must still be alive, and nobody else may access its block of
    /// `c` during the call.
    unsafe fn run(&self, alpha: f32, beta: f32) {
        if self.dot {
            let product = DotProduct {
                m: self.m,
                k: self.k,
                n: self.n,
                a: self.a,
                lda: self.rsa,
                b: self.b,
                ldb: self.csb,
                c: self.c,
                rsc: self.rsc,
                csc: self.csc,
            };
            // SAFETY: as for sgemm below; `dot` was set only where `dot_gemm::suits` held, so
            // `a` has unit column stride, `b` unit row stride, and the CPU has AVX2 and FMA.
            unsafe { product.run(alpha, beta) };
            return;
        }
        // SAFETY: the pointers and strides come from ndarray views of shapes [m,k], [k,n],
        // [m,n] that the caller guarantees are still alive; `as_ptr` is logical element [0,0]
        // and every `ptr + i*rs + j*cs` for in-range (i, j) lies inside its view, which is
        // exactly what sgemm reads or writes. The block of `c` comes from a unique mutable view,
        // disjoint from every other block, so nothing else reads or writes it meanwhile, and a
        // mutable view never has a zero stride along an axis longer than 1.
        unsafe {
            matrixmultiply::sgemm(
                self.m, self.k, self.n, alpha, self.a, self.rsa, self.csa, self.b, self.rsb, self.csb, beta, self.c,
                self.rsc, self.csc,
            );
        }
    }
}

/// The blocks of one parallel [`gemm`] call, shared by the caller and its helper tasks.
///
/// Protocol: blocks are claimed through `next`. A helper first increments `active`, then reads
/// `closed`; only if it is still open does it claim blocks, and it decrements `active` when done.
/// The caller, after claiming until none are left, sets `closed` and waits for `active == 0`
/// ([`CloseOnDrop`]). With sequentially consistent ordering, a helper that saw `closed == false`
/// has incremented `active` before the caller's check, so the caller waits for it; a helper that
/// sees `closed == true` never touches the blocks. The raw pointers are therefore dereferenced
/// only while [`gemm`] is still running, even though a late helper may hold the `Arc` longer.
struct SharedBlocks {
    blocks: Vec<BlockGemm>,
    alpha: f32,
    beta: f32,
    next: AtomicUsize,
    active: AtomicUsize,
    closed: AtomicBool,
}

// SAFETY: `BlockGemm` holds raw pointers, which are `!Send`/`!Sync` only as a lint. The data they
// point to is f32 (itself Send + Sync); each block of `c` is written by exactly one claimer
// (blocks are handed out once through `next`), `a` and `b` are only read, and the protocol on
// `SharedBlocks` keeps every access inside the lifetime of the borrowed views.
unsafe impl Send for SharedBlocks {}
// SAFETY: as for `Send`: shared access only claims blocks through atomics.
unsafe impl Sync for SharedBlocks {}

impl SharedBlocks {
    /// Claims and runs blocks until none are left.
    ///
    /// # Safety
    /// The views behind the blocks must be alive for the duration of the call (see the protocol
    /// on [`SharedBlocks`]).
    unsafe fn run_blocks(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(block) = self.blocks.get(i) else { break };
            // SAFETY: the views are alive (this function's contract) and block `i` was handed
            // out by `next` to this thread alone.
            unsafe { block.run(self.alpha, self.beta) };
        }
    }

    /// A helper task's body: join in if the call is still open.
    fn help(&self) {
        self.active.fetch_add(1, Ordering::SeqCst);
        if !self.closed.load(Ordering::SeqCst) {
            // SAFETY: `closed` was false after this helper registered in `active`, so the caller
            // is still inside `gemm` (its views alive) and will wait until `active` drops.
            unsafe { self.run_blocks() };
        }
        self.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Closes a [`SharedBlocks`] to late helpers and waits for the running ones.
struct CloseOnDrop<'a>(&'a SharedBlocks);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::SeqCst);
        // A running helper is at most one block from done; spin briefly, then yield.
        let mut spins = 0u32;
        while self.0.active.load(Ordering::SeqCst) != 0 {
            if spins < 128 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// `a · b` into a new standard-layout (row-major) array, computed by [`gemm`] (so in parallel
/// when large enough).
///
/// # Panics
/// If `a.ncols() != b.nrows()`.
#[cfg(any(test, feature = "bench"))]
pub fn matmul(a: ArrayView2<f32>, b: ArrayView2<f32>) -> ndarray::Array2<f32> {
    product(a, b)
}

/// `a · b` into a new standard-layout array that [`gemm`] writes once: the output is not
/// zero-filled first (with `beta = 0`, `gemm` never reads it). A linear layer's products
/// allocated their outputs with `zeros`, and that fill was 2.5% of an MLP autoencoder's step.
///
/// # Panics
/// If `a.ncols() != b.nrows()`.
pub(crate) fn product(a: ArrayView2<f32>, b: ArrayView2<f32>) -> ndarray::Array2<f32> {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    assert_eq!(k, b.nrows(), "product: inner dimensions differ ({m}x{k} · {}x{n})", b.nrows());
    if k == 0 {
        return ndarray::Array2::zeros((m, n));
    }
    let mut c = ndarray::Array2::<f32>::uninit((m, n));
    // SAFETY: the view is over `c`'s own, exclusively borrowed buffer of `m·n` elements in
    // standard layout. `gemm` with `beta = 0` and `k > 0` only writes `c`, through raw pointers,
    // and writes every element of it (each by exactly one block, see `gemm`'s determinism note);
    // it never reads an element or makes a reference to one. So once it returns every element is
    // initialised, which is what `assume_init` requires.
    unsafe {
        let out = ndarray::ArrayViewMut2::from_shape_ptr((m, n), c.as_mut_ptr().cast::<f32>());
        gemm(1.0, a, b, 0.0, out);
        c.assume_init()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{Lcg, assert_close};
    use ndarray::Array2;
    use rayon::prelude::*;

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
    fn product_writes_every_element_of_its_fresh_output() {
        let mut rng = Lcg::new(5);
        // Shapes with k = 0 (the output must be zeros), both kernels (k ≥ 128 with `b`
        // transposed goes to dot_gemm where it suits the CPU), and a split over the pool.
        for &(m, k, n) in &[(0, 3, 4), (3, 0, 4), (4, 0, 0), (1, 1, 1), (17, 9, 33), (13, 131, 50), (128, 200, 96)] {
            let a = rng.array2(m, k);
            let bt = rng.array2(n, k);
            for pool in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(pool).build().unwrap();
                let got = pool.install(|| product(a.view(), bt.t()));
                let mut want = Array2::from_elem((m, n), f32::NAN);
                gemm(1.0, a.view(), bt.t(), 0.0, want.view_mut());
                if k == 0 {
                    want.fill(0.0);
                }
                assert_eq!(got, want, "{m}x{k}x{n}");
            }
        }
    }

    #[test]
    fn matches_naive_for_all_layouts() {
        let mut rng = Lcg::new(1);
        let shapes =
            [(0, 3, 4), (3, 0, 4), (3, 4, 0), (1, 1, 1), (1, 7, 1), (5, 1, 3), (17, 9, 33), (33, 40, 17), (64, 31, 70)];
        // With k ≥ 128 the `a · bᵀ` layout below goes to dot_gemm, the other layouts do not.
        let dot_shapes = [(1, 128, 5), (13, 131, 50), (70, 200, 9)];
        for &(m, k, n) in shapes.iter().chain(&dot_shapes) {
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
    fn concurrent_and_nested_calls_are_correct() {
        // Many splittable products at once: from plain threads (helpers go to the global pool and
        // often arrive late) and nested inside a parallel iterator on a small pool.
        let mut rng = Lcg::new(5);
        let (m, k, n) = (96, 200, 230);
        assert!(block_count(m, k, n, 2) == 2);
        let a = rng.array2(m, k);
        let b = rng.array2(n, k);
        let expect = naive(1.0, a.view(), b.t(), 0.0, &Array2::zeros((m, n)));
        let check = |c: &Array2<f32>| assert_close(c.view().into_dyn(), expect.view().into_dyn(), 1e-4, "concurrent");
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for _ in 0..5 {
                        check(&matmul(a.view(), b.t()));
                    }
                });
            }
        });
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let results: Vec<Array2<f32>> =
            pool.install(|| (0..12).into_par_iter().map(|_| matmul(a.view(), b.t())).collect());
        results.iter().for_each(check);
    }

    #[test]
    fn parallel_split_is_correct_and_deterministic() {
        let mut rng = Lcg::new(4);
        // Shapes that split by rows (m >= n) and by columns (n > m), including a transposed `a`
        // and ragged last blocks, on pools of 1, 2 and 3 threads.
        // The last two are `a · bᵀ` products of dot_gemm's kind (on CPUs with AVX2 and FMA).
        let cases = [
            (200, 150, 150, false),
            (130, 160, 210, false),
            (100, 80, 530, false),
            (200, 150, 150, true),
            (100, 300, 530, true),
        ];
        for &(m, k, n, dot) in &cases {
            assert!(block_count(m, k, n, 2) == 2, "case {m}x{k}x{n} must split");
            let (at, a_rows) = (rng.array2(k, m), rng.array2(m, k));
            let (b_rows, bt) = (rng.array2(k, n), rng.array2(n, k));
            let (a, b) = if dot { (a_rows.view(), bt.t()) } else { (at.t(), b_rows.view()) };
            let on_cpu = dot_gemm::suits(64, 256, 64, 1, 1);
            assert_eq!(dot_gemm::suits(m, k, n, a.strides()[1], b.strides()[0]), dot && on_cpu);
            let expect = naive(1.0, a, b, 0.0, &Array2::zeros((m, n)));
            let mut outputs = Vec::new();
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let run = || pool.install(|| matmul(a, b));
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
