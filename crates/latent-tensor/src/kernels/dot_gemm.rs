//! Products whose operands are both contiguous along the inner dimension — `a` row-major and `b`
//! the transpose of a row-major matrix, as in a linear layer's `x · Wᵀ` — computed as dot
//! products of rows, with no packing. [`super::matmul::gemm`] sends such products here when
//! [`suits`] says so; everything else goes to matrixmultiply.
//!
//! # Why
//! matrixmultiply copies `b` into panels of 16 columns before multiplying. When `b`'s columns are
//! contiguous (`Wᵀ`, the weight stored `[out, in]` as in PyTorch) that copy is a gather with a
//! stride of a whole weight row, and at a training batch of 64 it costs nearly as much as the
//! multiply-adds: timed on its own (thread CPU time, one thread, on the 2-core Zen 4 machine),
//! matrixmultiply ran `64×1024·1024×784` at 58 GFLOP/s on `x · Wᵀ` and at 91 with the same `b`
//! stored row-major; transposing `W` before each product (the `transpose` crate) did not beat
//! the gather. `cargo xtask bench --only micro` on that machine, one thread, GFLOP/s, before
//! (the same build with [`suits`] always false) and after:
//!
//! | product `x · Wᵀ` | matrixmultiply | dot products |
//! | --- | --- | --- |
//! | 128×784·784×400 (VAE fc1) | 92 | 102 |
//! | 128×400·400×784 (VAE fc4) | 91 | 101 |
//! | 128×400·400×20 (VAE head) | 39 | 80 |
//! | 64×1024·1024×784 (MLP GAN G4) | 62 | 88 |
//!
//! # How
//! A register tile of 4 rows of `a` by 3 columns of `b` keeps 12 eight-lane accumulators (AVX2
//! and FMA, 12 of the 16 vector registers); each step loads 8 values of each of the 7 vectors
//! and issues 12 fused multiply-adds, which keeps the two FMA pipes busy. Columns of `b` go in
//! blocks of 48 (48 rows of `W`, up to 192 KiB at `k = 1024`, stay in L2 while every row tile of
//! `a` passes over them). Rows and columns left over at the edges are single dot products.
//! Rows of `a` a multiple of 4 KiB apart (`k = 1024`) are first copied with a gap between them,
//! since they would all share one L1 set (timed on its own, `64×1024·1024×784` went from 80 to
//! 100 GFLOP/s; the copy is `m·k` values against `m·k·n` multiply-adds, and a thread block that
//! covers only some columns copies all of `a` again, which at 2 blocks is still `1/n` of the
//! work).
//!
//! # When ([`suits`])
//! On x86-64 with AVX2 and FMA (but not on Intel CPUs with AVX-512, where matrixmultiply's
//! AVX-512 kernel is faster: see `cpu_suits`), for `a` with unit column stride and `b` with unit row stride,
//! `128 ≤ k ≤ 4096` and a short side `min(m, n) ≤ 256`. Outside that matrixmultiply is as fast
//! or faster (timed on their own, as above): with `k = 100` it ran at 78 against 55 here (short dot products spend their time
//! in the horizontal sums and the scalar tail), with `k = 6272` at 76 against 70 (the rows no
//! longer stay in L1), and on a large square `1024×256·256×1024` at 100 against 81 (there its
//! packing is paid back over many rows, and its 16×16 tile reuses each load more).
//! The choice depends on the product's shape and strides only, never on the thread count.
//!
//! # Determinism
//! Every element of `c` is computed the same way wherever it falls in the tiling: lane `l` of
//! an 8-lane accumulator sums, by fused multiply-adds in order, the products at `p ≡ l (mod 8)`
//! for `p < 8·⌊k/8⌋`; the 8 lanes are added in a fixed tree; the last `k mod 8` products are
//! added in order; then `alpha` and `beta` apply. So splitting `c` into blocks (one per thread)
//! gives the same bits as computing it whole.

/// Smallest inner dimension sent here (see the module docs).
const MIN_K: usize = 128;
/// Largest inner dimension sent here.
const MAX_K: usize = 4096;
/// Largest short side `min(m, n)` sent here.
const MAX_SHORT_SIDE: usize = 256;

/// Whether `c = alpha·a·b + beta·c` with `a: [m, k]` of column stride `csa` and `b: [k, n]` of
/// row stride `rsb` is computed here rather than by matrixmultiply (see the module docs).
pub(super) fn suits(m: usize, k: usize, n: usize, csa: isize, rsb: isize) -> bool {
    (MIN_K..=MAX_K).contains(&k) && m.min(n) <= MAX_SHORT_SIDE && csa == 1 && rsb == 1 && cpu_suits()
}

/// Whether this CPU is one where these dot products beat matrixmultiply: AVX2 and FMA, and not
/// an Intel CPU with AVX-512. On a 2-core Intel Xeon with AVX-512, matrixmultiply's AVX-512
/// kernel was the faster of the two: 1 thread, 150 batches, the AE trained at 20,354 samples/s
/// with matrixmultiply against 16,976 with these dot products (median of 5 alternating runs;
/// 5,767 against 4,923 for the MLP GAN), giving the dot products 16-lane AVX-512 accumulators
/// did not change that (17,660), and on its own matrixmultiply ran the AE's products at 145–170
/// GFLOP/s on one core. On the Zen 4, whose AVX-512 runs at half width, the dot products are the
/// faster (module docs). The vendor stands in for the width of the FMA units, which CPUID does
/// not report.
fn cpu_suits() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static INTEL_AVX512: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let intel_avx512 = *INTEL_AVX512.get_or_init(|| {
            // "GenuineIntel", as CPUID leaf 0 spells it in ebx, edx, ecx.
            let id = std::arch::x86_64::__cpuid(0);
            let intel = (id.ebx, id.edx, id.ecx) == (0x756e_6547, 0x4965_6e69, 0x6c65_746e);
            intel && std::arch::is_x86_feature_detected!("avx512f")
        });
        has_avx2_fma() && !intel_avx512
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU has AVX2 and FMA (detected once, then cached by std).
pub(super) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The raw operands of one product `c = alpha·a·b + beta·c`: `a` is `[m, k]` with rows `lda`
/// elements apart and unit column stride; `b` is `[k, n]` with unit row stride and columns `ldb`
/// elements apart (so column `j` of `b` is `k` contiguous values); `c` is `[m, n]` with strides
/// `(rsc, csc)`.
#[derive(Clone, Copy)]
pub(super) struct DotProduct {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a: *const f32,
    pub lda: isize,
    pub b: *const f32,
    pub ldb: isize,
    pub c: *mut f32,
    pub rsc: isize,
    pub csc: isize,
}

impl DotProduct {
    /// Computes the product.
    ///
    /// # Safety
    /// Every `a + i·lda + p`, `b + j·ldb + p` (for `i < m`, `j < n`, `p < k`) must be readable,
    /// every `c + i·rsc + j·csc` writable (and readable when `beta ≠ 0`) with no other access
    /// meanwhile, distinct `(i, j)` must address distinct elements of `c`, and [`suits`] must
    /// have returned true (the CPU has AVX2 and FMA, `k ≥ 1`).
    pub(super) unsafe fn run(&self, alpha: f32, beta: f32) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: forwarded from this function's contract; `suits` checked the CPU features.
        unsafe {
            avx2::run(self, alpha, beta)
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("dot_gemm::suits is false off x86-64 ({alpha}, {beta})")
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::DotProduct;

    /// Rows of `a` per register tile.
    const MR: usize = 4;
    /// Columns of `b` per register tile.
    const NR: usize = 3;
    /// Columns of `b` per cache block (a multiple of `NR`).
    const NB: usize = 48;
    /// Row strides (in elements) that are multiples of this are 4 KiB multiples, which alias in
    /// L1; `a` is then copied with rows `k + PAD` apart.
    const ALIASING_STRIDE: usize = 1024;
    /// The gap between copied rows: one cache line.
    const PAD: usize = 16;

    /// [`DotProduct::run`] with AVX2 and FMA.
    ///
    /// # Safety
    /// As [`DotProduct::run`].
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn run(d: &DotProduct, alpha: f32, beta: f32) {
        let DotProduct { m, k, n, mut a, mut lda, b, ldb, c, rsc, csc } = *d;
        // Rows a multiple of 4 KiB apart all fall in one set of the 8-way L1 cache, and a tile
        // streams 4 of them beside 3 columns of `b` (which may do the same): copy them with a
        // gap (module docs).
        let padded: Vec<f32>;
        if m > 1 && lda.unsigned_abs() % ALIASING_STRIDE == 0 {
            let stride = k + PAD;
            // SAFETY: row `i` of `a` holds `k` readable values (the contract).
            padded = (0..m)
                .flat_map(|i| {
                    let row = unsafe { std::slice::from_raw_parts(a.offset(i as isize * lda), k) };
                    row.iter().copied().chain(std::iter::repeat_n(0.0, PAD))
                })
                .collect();
            (a, lda) = (padded.as_ptr(), stride as isize);
        }
        // SAFETY (all pointer arithmetic below): rows `i < m` of `a`, columns `j < n` of `b` and
        // elements `(i, j)` of `c` are in bounds by the contract, and every offset formed is one
        // of those.
        let row = |i: usize| unsafe { a.offset(i as isize * lda) };
        let col = |j: usize| unsafe { b.offset(j as isize * ldb) };
        let store = |i: usize, j: usize, dot: f32| unsafe {
            let out = c.offset(i as isize * rsc + j as isize * csc);
            let v = alpha * dot;
            *out = if beta == 0.0 { v } else { v + beta * *out };
        };
        for j0 in (0..n).step_by(NB) {
            let j1 = (j0 + NB).min(n);
            let mut i = 0;
            while i < m {
                let rows = MR.min(m - i);
                let mut j = j0;
                while j < j1 {
                    let cols = NR.min(j1 - j);
                    if rows == MR && cols == NR {
                        let a_rows = [row(i), row(i + 1), row(i + 2), row(i + 3)];
                        let b_cols = [col(j), col(j + 1), col(j + 2)];
                        // SAFETY: 4 rows of `a` and 3 columns of `b` of length `k`, in bounds.
                        let tile = unsafe { tile(a_rows, b_cols, k) };
                        for (r, dots) in tile.iter().enumerate() {
                            for (q, &dot) in dots.iter().enumerate() {
                                store(i + r, j + q, dot);
                            }
                        }
                    } else {
                        for r in i..i + rows {
                            for q in j..j + cols {
                                // SAFETY: one row of `a` and one column of `b`, in bounds.
                                store(r, q, unsafe { dot(row(r), col(q), k) });
                            }
                        }
                    }
                    j += cols;
                }
                i += rows;
            }
        }
    }

    /// The 4×3 dot products of rows `a` with columns `b`, each `k` long.
    ///
    /// # Safety
    /// Each pointer must be readable for `k` values; AVX2 and FMA present.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile(a: [*const f32; MR], b: [*const f32; NR], k: usize) -> [[f32; NR]; MR] {
        let whole = k & !7;
        let mut acc = [[_mm256_setzero_ps(); NR]; MR];
        let mut p = 0;
        while p < whole {
            // SAFETY: `p + 8 ≤ k`, inside every row and column.
            let w =
                unsafe { [_mm256_loadu_ps(b[0].add(p)), _mm256_loadu_ps(b[1].add(p)), _mm256_loadu_ps(b[2].add(p))] };
            for (acc_row, &a_row) in acc.iter_mut().zip(&a) {
                // SAFETY: as above.
                let x = unsafe { _mm256_loadu_ps(a_row.add(p)) };
                for (acc, &w) in acc_row.iter_mut().zip(&w) {
                    *acc = _mm256_fmadd_ps(x, w, *acc);
                }
            }
            p += 8;
        }
        let mut out = [[0.0; NR]; MR];
        for r in 0..MR {
            for q in 0..NR {
                // SAFETY: the tail `whole..k` lies inside row `r` and column `q`.
                out[r][q] = unsafe { finish(acc[r][q], a[r], b[q], whole, k) };
            }
        }
        out
    }

    /// One dot product of `k` values, computed exactly as each of [`tile`]'s.
    ///
    /// # Safety
    /// Both pointers readable for `k` values; AVX2 and FMA present.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot(a: *const f32, b: *const f32, k: usize) -> f32 {
        let whole = k & !7;
        let mut acc = _mm256_setzero_ps();
        let mut p = 0;
        while p < whole {
            // SAFETY: `p + 8 ≤ k`.
            let (x, w) = unsafe { (_mm256_loadu_ps(a.add(p)), _mm256_loadu_ps(b.add(p))) };
            acc = _mm256_fmadd_ps(x, w, acc);
            p += 8;
        }
        // SAFETY: the tail lies inside both.
        unsafe { finish(acc, a, b, whole, k) }
    }

    /// The 8 lanes of `acc` added in a fixed tree, then the products `whole..k` in order.
    ///
    /// # Safety
    /// Both pointers readable for `k` values; AVX2 present.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn finish(acc: __m256, a: *const f32, b: *const f32, whole: usize, k: usize) -> f32 {
        let quad = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
        let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
        let mut sum = _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)));
        for p in whole..k {
            // SAFETY: `p < k`.
            sum += unsafe { *a.add(p) * *b.add(p) };
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{Lcg, assert_close};
    use ndarray::{Array2, ArrayView2, ArrayViewMut2, s};

    /// `c = alpha·a·bt^T + beta·c` in f64.
    fn naive(alpha: f32, a: ArrayView2<f32>, bt: ArrayView2<f32>, beta: f32, c: &Array2<f32>) -> Array2<f32> {
        Array2::from_shape_fn(c.dim(), |(i, j)| {
            let dot: f64 = a.row(i).iter().zip(bt.row(j)).map(|(&x, &w)| f64::from(x) * f64::from(w)).sum();
            let prev = if beta == 0.0 { 0.0 } else { f64::from(beta) * f64::from(c[[i, j]]) };
            (f64::from(alpha) * dot + prev) as f32
        })
    }

    /// Runs the kernel on `a` (row-major rows) and `bt` (the rows of `bᵀ`) into `c`.
    fn run(alpha: f32, a: ArrayView2<f32>, bt: ArrayView2<f32>, beta: f32, mut c: ArrayViewMut2<f32>) {
        assert_eq!((a.strides()[1], bt.strides()[1]), (1, 1));
        let d = DotProduct {
            m: a.nrows(),
            k: a.ncols(),
            n: bt.nrows(),
            a: a.as_ptr(),
            lda: a.strides()[0],
            b: bt.as_ptr(),
            ldb: bt.strides()[0],
            c: c.as_mut_ptr(),
            rsc: c.strides()[0],
            csc: c.strides()[1],
        };
        // SAFETY: views of the right shapes, alive and unaliased for the call; the callers check
        // `has_avx2_fma`.
        unsafe { d.run(alpha, beta) }
    }

    #[test]
    fn matches_naive_on_tiles_edges_and_tails() {
        if !has_avx2_fma() {
            return;
        }
        let mut rng = Lcg::new(11);
        // m and n around the 4×3 tile and the 48-column block; k with and without a tail of 8.
        for &(m, k, n) in &[(1, 1, 1), (4, 8, 3), (5, 13, 4), (7, 128, 50), (64, 131, 97), (3, 300, 1), (9, 8, 49)] {
            for &(alpha, beta) in &[(1.0, 0.0), (0.5, 2.0), (-1.5, 1.0)] {
                let a = rng.array2(m, k);
                let bt = rng.array2(n, k);
                let c0 = rng.array2(m, n);
                let mut c = c0.clone();
                run(alpha, a.view(), bt.view(), beta, c.view_mut());
                let expect = naive(alpha, a.view(), bt.view(), beta, &c0);
                assert_close(c.view().into_dyn(), expect.view().into_dyn(), 1e-4, "dot gemm");
            }
        }
    }

    #[test]
    fn strided_operands_and_output() {
        if !has_avx2_fma() {
            return;
        }
        let mut rng = Lcg::new(12);
        let (m, k, n) = (10, 150, 11);
        // Rows of `a` and `bᵀ` taken from wider arrays; `c` every other column, transposed.
        let wide_a = rng.array2(2 * m, k + 5);
        let wide_bt = rng.array2(n, k + 9);
        let a = wide_a.slice(s![..;2, 3..3 + k]);
        let bt = wide_bt.slice(s![.., 1..1 + k]);
        let mut out = Array2::<f32>::from_elem((2 * n, m), 7.0);
        run(1.0, a, bt, 0.0, out.slice_mut(s![..;2, ..]).reversed_axes());
        let expect = naive(1.0, a, bt, 0.0, &Array2::zeros((m, n)));
        assert_close(out.slice(s![..;2, ..]).t().into_dyn(), expect.view().into_dyn(), 1e-4, "strided");
        assert!(out.slice(s![1..;2, ..]).iter().all(|&v| v == 7.0));
    }

    #[test]
    fn beta_zero_never_reads_c() {
        if !has_avx2_fma() {
            return;
        }
        let mut rng = Lcg::new(13);
        let (a, bt) = (rng.array2(6, 140), rng.array2(5, 140));
        let mut c = Array2::from_elem((6, 5), f32::NAN);
        run(1.0, a.view(), bt.view(), 0.0, c.view_mut());
        assert!(c.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn blocks_give_the_same_bits_as_the_whole() {
        if !has_avx2_fma() {
            return;
        }
        // A split by rows or columns at any point (as gemm's thread blocks do) must not change a
        // bit: every element is computed the same way wherever it falls in the tiling.
        let mut rng = Lcg::new(14);
        let (m, k, n) = (23, 203, 101);
        let a = rng.array2(m, k);
        let bt = rng.array2(n, k);
        let mut whole = Array2::zeros((m, n));
        run(1.0, a.view(), bt.view(), 0.0, whole.view_mut());
        for cut in [1, 5, 16, 22] {
            let mut parts = Array2::zeros((m, n));
            run(1.0, a.slice(s![..cut, ..]), bt.view(), 0.0, parts.slice_mut(s![..cut, ..]));
            run(1.0, a.slice(s![cut.., ..]), bt.view(), 0.0, parts.slice_mut(s![cut.., ..]));
            assert!(whole.iter().zip(&parts).all(|(x, y)| x.to_bits() == y.to_bits()), "row cut {cut}");
        }
        for cut in [1, 3, 47, 48, 50, 100] {
            let mut parts = Array2::zeros((m, n));
            run(1.0, a.view(), bt.slice(s![..cut, ..]), 0.0, parts.slice_mut(s![.., ..cut]));
            run(1.0, a.view(), bt.slice(s![cut.., ..]), 0.0, parts.slice_mut(s![.., cut..]));
            assert!(whole.iter().zip(&parts).all(|(x, y)| x.to_bits() == y.to_bits()), "column cut {cut}");
        }
    }

    #[test]
    fn rows_copied_against_cache_aliasing_give_the_same_bits() {
        if !has_avx2_fma() {
            return;
        }
        // Rows 1024 apart are copied with a gap first; rows 1027 apart are read in place.
        let mut rng = Lcg::new(15);
        let (m, k, n) = (9, 1000, 8);
        let wide = rng.array2(m, 1027);
        let mut aliased = Array2::<f32>::zeros((m, 1024));
        aliased.slice_mut(s![.., ..k]).assign(&wide.slice(s![.., ..k]));
        let bt = rng.array2(n, k);
        let (mut in_place, mut copied) = (Array2::zeros((m, n)), Array2::zeros((m, n)));
        run(1.0, wide.slice(s![.., ..k]), bt.view(), 0.0, in_place.view_mut());
        run(1.0, aliased.slice(s![.., ..k]), bt.view(), 0.0, copied.view_mut());
        assert!(in_place.iter().zip(&copied).all(|(x, y)| x.to_bits() == y.to_bits()));
        let expect = naive(1.0, wide.slice(s![.., ..k]), bt.view(), 0.0, &Array2::zeros((m, n)));
        assert_close(copied.view().into_dyn(), expect.view().into_dyn(), 1e-4, "copied rows");
    }

    #[test]
    fn suits_only_the_documented_products() {
        let cpu = cpu_suits();
        assert_eq!(suits(64, 784, 512, 1, 1), cpu);
        assert_eq!(suits(1, 128, 10_000, 1, 1), cpu);
        assert!(!suits(64, 100, 512, 1, 1), "short k");
        assert!(!suits(64, 5000, 512, 1, 1), "long k");
        assert!(!suits(1024, 256, 1024, 1, 1), "large square");
        assert!(!suits(64, 784, 512, 784, 1), "a column-major");
        assert!(!suits(64, 784, 512, 1, 512), "b row-major");
    }
}
