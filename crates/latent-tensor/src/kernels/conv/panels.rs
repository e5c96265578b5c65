//! The Winograd path's matrix products (`M_ξ = U_ξ·V_ξ` forward, `dV_ξ = U_ξᵀ·dM_ξ` for the
//! input gradient) on operands laid out for them: the left operand (the transformed weight)
//! packed once per call, the right one written by the transforms straight into panels. The
//! `shallow` convolutions use the same kernel on plain rows (`Right::Rows`).
//!
//! # Why
//! Through [`gemm`](crate::kernels::matmul::gemm), every product of every chunk packed both
//! operands again: matrixmultiply's packing was 7.5% of a one-thread DCGAN training step's
//! samples (its kernel 30%), for operands that are either the same for the whole call (the
//! weight) or freshly written by a transform that could as well write them packed.
//!
//! # How
//! - The left operand `a: [rows, inner]` is packed by [`pack_left`] into blocks of [`ROWS`] rows,
//!   `[block][inner][6]` (the last block padded with zeros), once per call.
//! - The right operand `b: [inner, cols]` is stored as panels of [`PANEL`] columns, `[panel][inner]
//!   [16]` (a last panel of 8 when `cols` is an odd multiple of 8); [`panel_offset`] says where an
//!   element goes. The Winograd transforms write a tile's 8 lanes there directly.
//! - [`product`] runs a 6×16 register tile (12 eight-lane accumulators, 15 of the 16 vector
//!   registers): per step of the inner dimension, 2 vector loads of `b`, 6 broadcasts of `a` and
//!   12 fused multiply-adds. Panels go outermost, so one panel of `b` (16 KiB at an inner
//!   dimension of 256) stays in L1 while every row block passes over it. `c` is row-major.
//! - Where the CPU has AVX-512, a panel is one 16-lane vector and the tile is 12×32 (two row
//!   blocks by two panels, 24 of the 32 vector registers): on the 2-core Intel Xeon with
//!   AVX-512 that the 2026-12-01 session ran on, DCGAN training at one thread went
//!   from 669 to 748 samples/s (median of 5 alternating runs of 30 batches).
//!
//! # Determinism
//! Every element of `c` is one chain of fused multiply-adds over the inner dimension in order,
//! from zero, whatever tile or panel it falls in, so a column's value does not depend on the
//! others: the Winograd path stays bit-identical across thread counts and batch compositions.
//! The portable version computes the same bits (the tests compare them).

use std::mem::MaybeUninit;

use crate::kernels::dot_gemm::has_avx2_fma;

/// Columns of a panel of the right operand (two tiles of 8 lanes).
pub(super) const PANEL: usize = 16;
/// Rows of a block of the packed left operand.
pub(super) const ROWS: usize = 6;
/// Lanes of an AVX vector of `f32`.
const LANES: usize = 8;

/// Whether [`product`] runs vectorised on this CPU (AVX2 and FMA); without, the Winograd path
/// uses [`gemm`](crate::kernels::matmul::gemm) on its plain layouts.
pub(super) fn available() -> bool {
    has_avx2_fma()
}

/// Elements of [`pack_left`]'s output for `rows` rows and an inner dimension `inner`.
pub(super) fn packed_len(rows: usize, inner: usize) -> usize {
    rows.div_ceil(ROWS) * ROWS * inner
}

/// Packs `a: [rows, inner]`, given transposed as `a_t: [inner, rows]` (row-major), into `dst`
/// ([`packed_len`] elements): `dst[(block·inner + q)·6 + i] = a[block·6 + i][q]`, zero past the
/// last row. Line by line ([`pack_line`]), so that each line of `a_t` is read once, whole.
///
/// # Panics
/// If the lengths do not fit the shapes.
pub(super) fn pack_left(a_t: &[f32], inner: usize, rows: usize, dst: &mut [f32]) {
    assert!(a_t.len() == inner * rows && dst.len() == packed_len(rows, inner), "pack_left: lengths do not fit");
    for (q, line) in a_t.chunks_exact(rows.max(1)).enumerate().take(inner) {
        pack_line(line, q, inner, dst);
    }
}

/// Writes column `q` of `a: [rows, inner]`, given as `line` (`rows` values), into its place in
/// `dst`, `a` packed as [`pack_left`] does: callers that compute `a` a column at a time pack it
/// without first storing it whole.
///
/// # Panics
/// If `q ≥ inner` or `dst` is shorter than [`packed_len`]`(line.len(), inner)`.
#[inline]
pub(super) fn pack_line(line: &[f32], q: usize, inner: usize, dst: &mut [f32]) {
    assert!(q < inner && dst.len() >= packed_len(line.len(), inner), "pack_line: lengths do not fit");
    let (whole, rest) = (line.len() / ROWS, line.len() % ROWS);
    for block in 0..whole {
        // Arrays of a constant length: a few moves rather than a `memcpy` call each.
        let src: &[f32; ROWS] = line[block * ROWS..][..ROWS].try_into().expect("ROWS values");
        let at = (block * inner + q) * ROWS;
        *<&mut [f32; ROWS]>::try_from(&mut dst[at..at + ROWS]).expect("ROWS values") = *src;
    }
    if rest > 0 {
        let at = (whole * inner + q) * ROWS;
        dst[at..at + rest].copy_from_slice(&line[whole * ROWS..]);
        dst[at + rest..at + ROWS].fill(0.0);
    }
}

/// How the right operand of [`product`] is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Right {
    /// As panels ([`panel_offset`]); the column count must be a multiple of 8.
    Panels,
    /// Row-major with rows this many elements apart: the kernel reads 16 columns of each row
    /// where they are (for operands laid out for another product as well, and for the
    /// `shallow` convolutions' column matrices).
    Rows(usize),
}

/// Where element `(row, col)` of a right operand `[inner, cols]` stored as panels lies.
/// `cols` must be a multiple of 8.
#[inline(always)]
pub(super) fn panel_offset(row: usize, col: usize, inner: usize, cols: usize) -> usize {
    let start = col - col % PANEL;
    let width = PANEL.min(cols - start);
    start * inner + row * width + col % PANEL
}

/// `c[i, j] = Σ_q a[i, q]·b[q, j]` for `a: [rows, inner]` packed by [`pack_left`], `b:
/// [inner, cols]` stored as `right` says and `c: [rows, cols]` with rows `ldc` apart (the
/// `cols` values of each written, nothing else): each element one chain of fused
/// multiply-adds in `q` order from zero.
///
/// # Panics
/// If the lengths or strides do not fit the shapes, or `b` is panels of a column count that is
/// not a multiple of 8.
pub(super) fn product(
    a: &[f32],
    rows: usize,
    inner: usize,
    (b, right): (&[f32], Right),
    cols: usize,
    (c, ldc): (&mut [f32], usize),
) {
    // SAFETY: same layout; `product_into` stores only initialised values, so `c` stays so.
    let c = unsafe { &mut *(std::ptr::from_mut(c) as *mut [MaybeUninit<f32>]) };
    product_into(a, rows, inner, (b, right), cols, (c, ldc));
}

/// [`product`] into memory that may be uninitialised: the `cols` values of each of the `rows`
/// rows of `c` are written (and nothing else), so a caller whose rows cover `c` may allocate it
/// without zeroing it first.
///
/// # Panics
/// As [`product`].
pub(super) fn product_into(
    a: &[f32],
    rows: usize,
    inner: usize,
    (b, right): (&[f32], Right),
    cols: usize,
    (c, ldc): (&mut [MaybeUninit<f32>], usize),
) {
    let fits =
        |len: usize, lines: usize, stride: usize| lines == 0 || (stride >= cols && len >= (lines - 1) * stride + cols);
    let b_fits = match right {
        Right::Panels => cols.is_multiple_of(LANES) && b.len() >= inner * cols,
        Right::Rows(ldb) => fits(b.len(), inner, ldb),
    };
    assert!(
        a.len() == packed_len(rows, inner) && b_fits && fits(c.len(), rows, ldc),
        "panels::product: lengths do not fit the shapes"
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F; the lengths were checked above.
        unsafe { avx512::product(a, rows, inner, (b, right), cols, (c, ldc)) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if available() {
        // SAFETY: the CPU has AVX2 and FMA; the lengths were checked above.
        unsafe { avx2::product(a, rows, inner, (b, right), cols, (c, ldc)) };
        return;
    }
    portable::product(a, rows, inner, (b, right), cols, (c, ldc));
}

/// [`product`] one value at a time, with the same operations in the same order.
mod portable {
    use std::mem::MaybeUninit;

    use super::{ROWS, Right, panel_offset};

    /// See [`super::product`].
    pub(super) fn product(
        a: &[f32],
        rows: usize,
        inner: usize,
        (b, right): (&[f32], Right),
        cols: usize,
        (c, ldc): (&mut [MaybeUninit<f32>], usize),
    ) {
        for i in 0..rows {
            let (block, r) = (i / ROWS, i % ROWS);
            for j in 0..cols {
                c[i * ldc + j].write((0..inner).fold(0.0, |acc, q| {
                    let at = match right {
                        Right::Panels => panel_offset(q, j, inner, cols),
                        Right::Rows(ldb) => q * ldb + j,
                    };
                    a[(block * inner + q) * ROWS + r].mul_add(b[at], acc)
                }));
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use super::{LANES, PANEL, ROWS, Right};

    /// The mask of the first `count` lanes (all of them for 8).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(in super::super) fn first_lanes(count: usize) -> __m256i {
        let index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(count as i32), index)
    }

    /// [`super::product`] with AVX2 and FMA.
    ///
    /// # Safety
    /// The lengths must fit the shapes (as the caller checks); AVX2 and FMA present.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn product(
        a: &[f32],
        rows: usize,
        inner: usize,
        (b, right): (&[f32], Right),
        cols: usize,
        (c, ldc): (&mut [MaybeUninit<f32>], usize),
    ) {
        let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr().cast::<f32>());
        let mut start = 0;
        while start < cols {
            let width = PANEL.min(cols - start);
            // The last vector of a partial panel (a column count that is not a multiple of 8)
            // is read and written under a mask.
            let mask = (!width.is_multiple_of(LANES)).then(|| first_lanes(width % LANES));
            // SAFETY: the panel at `start` holds `inner` rows of `width` values, `stride` apart.
            let (panel, stride) = match right {
                Right::Panels => (unsafe { b.add(start * inner) }, width),
                Right::Rows(ldb) => (unsafe { b.add(start) }, ldb),
            };
            for block in 0..rows.div_ceil(ROWS) {
                let count = ROWS.min(rows - block * ROWS);
                // SAFETY: block `block` of the packed `a` holds `inner · 6` values; rows
                // `block·6 ..+count` of `c` hold columns `start..start + width`.
                unsafe {
                    let a_block = a.add(block * inner * ROWS);
                    let c_block = c.add(block * ROWS * ldc + start);
                    if width > LANES {
                        tile::<2>(a_block, inner, (panel, stride), (c_block, ldc), count, mask);
                    } else {
                        tile::<1>(a_block, inner, (panel, stride), (c_block, ldc), count, mask);
                    }
                }
            }
            start += width;
        }
    }

    /// One 6-row block of `a` by one panel of `V` vectors (rows `stride` apart): `count` rows of
    /// `c` (stride `ldc`); the last vector is read and written under `mask` if given.
    ///
    /// # Safety
    /// `a` readable for `inner·6` values, `b` for `inner` rows of `8·V` values (but for the
    /// lanes the mask drops), `c` writable likewise for `count` rows; AVX2 and FMA present.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const V: usize>(
        a: *const f32,
        inner: usize,
        (b, stride): (*const f32, usize),
        (c, ldc): (*mut f32, usize),
        count: usize,
        mask: Option<__m256i>,
    ) {
        let mut acc = [[_mm256_setzero_ps(); V]; ROWS];
        for q in 0..inner {
            // SAFETY: step `q` of the panel and of the block, in bounds (the contract).
            unsafe {
                let line = b.add(q * stride);
                let mut x = [_mm256_setzero_ps(); V];
                for (v, x) in x.iter_mut().enumerate() {
                    *x = match mask {
                        Some(mask) if v + 1 == V => _mm256_maskload_ps(line.add(v * LANES), mask),
                        _ => _mm256_loadu_ps(line.add(v * LANES)),
                    };
                }
                let weights = a.add(q * ROWS);
                for (i, acc) in acc.iter_mut().enumerate() {
                    let w = _mm256_broadcast_ss(&*weights.add(i));
                    for (acc, &x) in acc.iter_mut().zip(&x) {
                        *acc = _mm256_fmadd_ps(w, x, *acc);
                    }
                }
            }
        }
        for (i, acc) in acc.iter().enumerate().take(count) {
            for (v, &acc) in acc.iter().enumerate() {
                // SAFETY: row `i < count` of `c`, columns `8v..8v + 8` of the panel (under the mask).
                unsafe {
                    let out = c.add(i * ldc + v * LANES);
                    match mask {
                        Some(mask) if v + 1 == V => _mm256_maskstore_ps(out, mask, acc),
                        _ => _mm256_storeu_ps(out, acc),
                    }
                }
            }
        }
    }
}

/// [`product`] with AVX-512, where the CPU has it: a panel of 16 columns is one 16-lane vector,
/// and a register tile is two row blocks by two panels (12×32, 24 of the 32 vector registers as
/// accumulators): per step of the inner dimension, 2 vector loads of `b`, 12 broadcasts of `a`
/// and 24 fused multiply-adds, each twice as wide as the AVX2 kernel's. Partial panels (a
/// column count that is not a multiple of 16) are read and written under a lane mask. Each
/// element is the same chain of fused multiply-adds as in the other versions, so the bits are
/// the same.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use super::{PANEL, ROWS, Right};

    /// One panel of the right operand as the tile reads it: its first value, the distance
    /// between its rows and the mask of the lanes it has.
    #[derive(Clone, Copy)]
    struct Panel {
        at: *const f32,
        stride: usize,
        lanes: __mmask16,
    }

    /// The mask of the first `count` (at most 16) lanes.
    fn first_lanes(count: usize) -> __mmask16 {
        if count >= PANEL { __mmask16::MAX } else { (1 << count) - 1 }
    }

    /// [`super::product`] with AVX-512F.
    ///
    /// # Safety
    /// The lengths must fit the shapes (as the caller checks); AVX-512F present.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn product(
        a: &[f32],
        rows: usize,
        inner: usize,
        (b, right): (&[f32], Right),
        cols: usize,
        (c, ldc): (&mut [MaybeUninit<f32>], usize),
    ) {
        let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr().cast::<f32>());
        let blocks = rows.div_ceil(ROWS);
        let panel = |start: usize| {
            let width = PANEL.min(cols - start);
            // SAFETY: the panel at `start` holds `inner` rows of `width` values, `stride` apart.
            let (at, stride) = match right {
                Right::Panels => (unsafe { b.add(start * inner) }, width),
                Right::Rows(ldb) => (unsafe { b.add(start) }, ldb),
            };
            (Panel { at, stride, lanes: first_lanes(width) }, width)
        };
        let mut start = 0;
        while start < cols {
            let (first, width) = panel(start);
            let second = (start + width < cols).then(|| panel(start + width));
            for pair in (0..blocks).step_by(2) {
                let count = (2 * ROWS).min(rows - pair * ROWS);
                // SAFETY: blocks `pair..pair + 2` of the packed `a` hold `inner · 6` values each;
                // rows `pair·6 ..+count` of `c` hold the panels' columns.
                unsafe {
                    let a_pair = a.add(pair * inner * ROWS);
                    let c_pair = c.add(pair * ROWS * ldc + start);
                    match (pair + 1 < blocks, second) {
                        (true, Some((second, _))) => tile::<2, 2>(a_pair, inner, [first, second], (c_pair, ldc), count),
                        (true, None) => tile::<2, 1>(a_pair, inner, [first], (c_pair, ldc), count),
                        (false, Some((second, _))) => {
                            tile::<1, 2>(a_pair, inner, [first, second], (c_pair, ldc), count)
                        }
                        (false, None) => tile::<1, 1>(a_pair, inner, [first], (c_pair, ldc), count),
                    }
                }
            }
            start += width + second.map_or(0, |(_, w)| w);
        }
    }

    /// `B` consecutive 6-row blocks of `a` by `P` panels (the first full when there are two):
    /// `count` rows of `c` (stride `ldc`), each panel's lanes under its mask.
    ///
    /// # Safety
    /// `a` readable for `B·inner·6` values, each panel for `inner` rows of its lanes, `c`
    /// writable for `count` rows of the panels' columns; AVX-512F present.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn tile<const B: usize, const P: usize>(
        a: *const f32,
        inner: usize,
        panels: [Panel; P],
        (c, ldc): (*mut f32, usize),
        count: usize,
    ) {
        let mut acc = [[[_mm512_setzero_ps(); P]; ROWS]; B];
        for q in 0..inner {
            // SAFETY: step `q` of each panel and block, in bounds (the contract).
            unsafe {
                let mut x = [_mm512_setzero_ps(); P];
                for (x, p) in x.iter_mut().zip(&panels) {
                    *x = _mm512_maskz_loadu_ps(p.lanes, p.at.add(q * p.stride));
                }
                for (block, acc) in acc.iter_mut().enumerate() {
                    let weights = a.add((block * inner + q) * ROWS);
                    for (i, acc) in acc.iter_mut().enumerate() {
                        let w = _mm512_set1_ps(*weights.add(i));
                        for (acc, &x) in acc.iter_mut().zip(&x) {
                            *acc = _mm512_fmadd_ps(w, x, *acc);
                        }
                    }
                }
            }
        }
        // Constant bounds, so that the loops unroll and `acc` stays in registers (iterating
        // over the flattened array kept it on the stack, stored after every multiply-add).
        for (block, acc) in acc.iter().enumerate() {
            for (i, acc) in acc.iter().enumerate() {
                let r = block * ROWS + i;
                if r >= count {
                    return;
                }
                for (p, (&acc, panel)) in acc.iter().zip(&panels).enumerate() {
                    // SAFETY: row `r < count` of `c`, the lanes of panel `p` (16 columns apart).
                    unsafe { _mm512_mask_storeu_ps(c.add(r * ldc + p * PANEL), panel.lanes, acc) };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::Lcg;

    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = Lcg::new(seed);
        (0..len).map(|_| rng.next()).collect()
    }

    /// `b: [inner, cols]` row-major, stored as panels.
    fn as_panels(b: &[f32], inner: usize, cols: usize) -> Vec<f32> {
        let mut panels = vec![f32::NAN; inner * cols];
        for q in 0..inner {
            for j in 0..cols {
                panels[panel_offset(q, j, inner, cols)] = b[q * cols + j];
            }
        }
        panels
    }

    #[test]
    fn panels_hold_every_element_once() {
        for (inner, cols) in [(1, 8), (3, 16), (5, 24), (7, 40), (2, 128)] {
            let mut seen = vec![false; inner * cols];
            for q in 0..inner {
                for j in 0..cols {
                    let at = panel_offset(q, j, inner, cols);
                    assert!(!seen[at], "({q}, {j}) of {inner}x{cols} lands on a used place");
                    seen[at] = true;
                }
            }
        }
    }

    /// The kernels [`product`] can choose from.
    #[derive(Clone, Copy, Debug)]
    enum Version {
        Dispatched,
        Portable,
        Avx2,
        Avx512,
    }

    impl Version {
        const ALL: [Version; 4] = [Version::Dispatched, Version::Portable, Version::Avx2, Version::Avx512];

        /// Runs this version of [`product`] if the CPU has what it needs; whether it ran.
        fn run(
            self,
            a: &[f32],
            rows: usize,
            inner: usize,
            b: (&[f32], Right),
            cols: usize,
            (c, ldc): (&mut [f32], usize),
        ) -> bool {
            // SAFETY: every version stores only initialised values.
            let c = (unsafe { &mut *(std::ptr::from_mut(c) as *mut [MaybeUninit<f32>]) }, ldc);
            match self {
                Version::Dispatched => product_into(a, rows, inner, b, cols, c),
                Version::Portable => portable::product(a, rows, inner, b, cols, c),
                #[cfg(target_arch = "x86_64")]
                Version::Avx2 if available() => unsafe { avx2::product(a, rows, inner, b, cols, c) },
                #[cfg(target_arch = "x86_64")]
                Version::Avx512 if std::arch::is_x86_feature_detected!("avx512f") => unsafe {
                    avx512::product(a, rows, inner, b, cols, c)
                },
                _ => return false,
            }
            true
        }
    }

    /// Every version, reading panels or rows (with a stride, and column counts that are not
    /// multiples of 8), match the product in f64 and each other bit for bit, with partial row
    /// blocks and partial last panels; `c`'s padding is left alone.
    #[test]
    fn product_matches_the_definition_and_the_portable_version() {
        for (rows, inner, cols) in [
            (1, 1, 8),
            (6, 4, 16),
            (7, 9, 24),
            (13, 33, 40),
            (128, 64, 32),
            (4, 3, 8),
            (5, 16, 13),
            (9, 7, 3),
            (64, 16, 196),
            (12, 5, 48),
            (19, 6, 40),
            (25, 8, 56),
        ] {
            let (a, b) = (values(rows * inner, 1), values(inner * cols, 2));
            let a_t: Vec<f32> =
                (0..inner).flat_map(|q| (0..rows).map(|i| a[i * inner + q]).collect::<Vec<_>>()).collect();
            let mut packed = vec![f32::NAN; packed_len(rows, inner)];
            pack_left(&a_t, inner, rows, &mut packed);
            // b's rows 3 apart beyond cols, c's 5 apart.
            let (ldb, ldc) = (cols + 3, cols + 5);
            let mut b_strided = vec![f32::NAN; inner * ldb];
            for q in 0..inner {
                b_strided[q * ldb..][..cols].copy_from_slice(&b[q * cols..][..cols]);
            }
            let mut results = vec![];
            let mut run = |right: Right, b: &[f32]| {
                for version in Version::ALL {
                    let mut c = vec![f32::NAN; rows * ldc];
                    if version.run(&packed, rows, inner, (b, right), cols, (&mut c, ldc)) {
                        results.push(c);
                    }
                }
            };
            if cols % 8 == 0 {
                run(Right::Panels, &as_panels(&b, inner, cols));
            }
            run(Right::Rows(ldb), &b_strided);
            for i in 0..rows {
                for j in 0..ldc {
                    let got = results[0][i * ldc + j];
                    if j >= cols {
                        assert!(results.iter().all(|c| c[i * ldc + j].is_nan()), "c[{i}, {j}] is padding");
                        continue;
                    }
                    let want: f64 = (0..inner).map(|q| f64::from(a[i * inner + q]) * f64::from(b[q * cols + j])).sum();
                    assert!(
                        (f64::from(got) - want).abs() < 1e-5 * (1.0 + want.abs()),
                        "c[{i}, {j}] of {rows}x{inner}x{cols}"
                    );
                    for c in &results {
                        assert_eq!(got.to_bits(), c[i * ldc + j].to_bits(), "c[{i}, {j}] of {rows}x{inner}x{cols}");
                    }
                }
            }
        }
    }
}
