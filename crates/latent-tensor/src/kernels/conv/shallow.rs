//! Convolutions with a small receptive field — at most [`MAX_ROWS`] values `c_in·kh·kw`, as in a
//! first layer on grey or colour images and the transposed convolution that produces them —
//! computed image by image by register-tiled AVX2 kernels that write straight into NCHW.
//!
//! # Why
//! The im2col path multiplies `W[c_out, rows] · cols[rows, nb·oh·ow]` for a chunk of images.
//! With 16 rows (a 4×4 kernel on one channel) that product's inner dimension is 16: matrixmultiply
//! spends its time packing both operands and loading and storing output tiles, and the result is
//! then copied image by image into NCHW. The weight gradient is worse: its `[c_out, 16]` result
//! is a long sum over a transposed column matrix that has to be built and packed. On DCGAN's
//! 1→64-channel layer (batch 128, one thread, the 2-core Zen 4 machine) the three functions ran
//! at 57 (forward), 56 (input gradient) and 35 (weight gradient) GFLOP/s, against a peak of 117.
//!
//! # How
//! Each image's column matrix `cols[rows, oh·ow]` (12.5 KiB for 16 rows of 14×14) is built by
//! `Geometry::im2col` and stays in L1 while it is used:
//! - forward: `out_b[c_out, oh·ow] = W · cols`, written in place in the output;
//! - input gradient: `dcols[rows, oh·ow] = Wᵀ · g_b` (the image's block of `grad_out` is already a
//!   row-major `[c_out, oh·ow]` matrix), then `Geometry::col2im`;
//! - weight gradient: `dW[c_out, rows] += g_b · colsᵀ`.
//!
//! The first two are a product `c = a · b` with a small `a` (the weight or its transpose,
//! packed once per call), on the `panels` module's 6×16 kernel reading `b`'s rows where they are
//! (a masked last vector for a width that is not a multiple of 8): the Winograd path's products
//! and these share that one kernel. The last is [`dot_tiles`]: 4×2 dot products along the
//! pixels, each kept as 8 lanes in a buffer across all the images of a group, and added up once
//! at the end. Larger tiles (4×3) need more than the 16 vector registers: an accumulator was
//! spilled to the stack on every step (as it was for a 4×24 product tile, which ran at 41
//! instead of 69 GFLOP/s). A 4×16 product kernel of this module's own, before it shared
//! `panels`', ran level with it: DCGAN's D1 forward / input gradient 66–68 / 61–70 GFLOP/s
//! against 69–70 / 71–72 at 1 thread, the conv-AE's enc1 59–60 / 59–60 against 57 / 56 (32
//! rows fill 6-row blocks less well), 4 alternating runs.
//!
//! # When ([`suits`])
//! On x86-64 with AVX2 and FMA, for a geometry with at most [`MAX_ROWS`] rows that is not a dense
//! layer (a full-window kernel has its own path in the parent module). The choice depends on the
//! shapes only, never on the thread count. The portable versions of the kernels (used by the
//! tests, and on other CPUs if they are called) compute the same bits.
//!
//! Measured against the im2col path (batch 128, one thread, GFLOP/s forward / input gradient /
//! weight gradient), this path was as fast or faster up to 64 rows and no faster beyond:
//!
//! | layer | rows | im2col | here |
//! | --- | --- | --- | --- |
//! | 1→64, 4×4 stride 2, 28² (DCGAN D1) | 16 | 58 / 58 / 36 | 69 / 70 / 70 |
//! | 1→32, 4×4 stride 2, 28² (conv-AE enc1) | 16 | 49 / 49 / 32 | 60 / 60 / 61 |
//! | 3→32, 3×3 stride 1, 32² | 27 | 60 / 31 / 27 | 72 / 58 / 60 |
//! | 3→64, 3×3 stride 1, 16² | 27 | 69 / 60 / 41 | 82 / 68 / 78 |
//! | 3→32, 4×4 stride 2, 32² | 48 | 62 / 60 / 50 | 68 / 68 / 65 |
//! | 4→64, 4×4 stride 2, 28² | 64 | 77 / 76 / 65 | 79 / 77 / 72 |
//! | 16→64, 3×3 stride 1, 14² | 144 | 86 / 87 / 70 | 86 / 84 / 76 |
//!
//! At two threads DCGAN's D1 went from 97 / 104 / 73 to 127 / 138 / 135.

//! # Determinism
//! Every element of the forward output and of the column gradient is one chain of fused
//! multiply-adds over the inner dimension in order, starting from zero, whatever tile it falls
//! in; the images are split between tasks without changing any value. The weight gradient's lane
//! `l` of output `(o, r)` adds, image after image within a group, the products at pixels
//! `j ≡ l (mod 8)` by fused multiply-adds in order (a partial last vector reads zeros past the
//! end); the lanes are added in a fixed tree; the groups are fixed ranges of images (their count
//! depends on the batch only) added in order. So every function gives the same bits at any
//! thread count.

use std::mem::MaybeUninit;

use ndarray::Array2;
use rayon::prelude::*;

use super::panels::{self, Right};
use super::{Epilogue, Geometry, WEIGHT_GROUPS, sized, transposed};
use crate::kernels::dot_gemm::has_avx2_fma;

/// Largest receptive field `c_in·kh·kw` computed here. 16 is a 4×4 kernel on one channel, 27 a
/// 3×3 and 48 a 4×4 kernel on colour images (see the module docs for how this was chosen).
pub(super) const MAX_ROWS: usize = 64;

/// Images per parallel task of the forward pass and the input gradient (each is a few
/// microseconds of work).
const IMAGES_PER_TASK: usize = 4;

/// Lanes of an AVX vector of `f32`, which the weight gradient's partial sums keep apart.
const LANES: usize = 8;

/// Whether a batch of `n` through `geo` with `c_out` outputs is computed here (see the module docs).
pub(super) fn suits(geo: &Geometry, n: usize, c_out: usize) -> bool {
    n > 0 && c_out > 0 && (1..=MAX_ROWS).contains(&geo.rows()) && !geo.is_full_window() && has_avx2_fma()
}

/// The convolution of the contiguous images `x: [n, c_in, h, w]` with `w: [c_out, rows]` into
/// `out: [n, c_out, oh, ow]`, every element of it (so it may be uninitialised memory), with
/// `epilogue` applied to each output image as soon as it is written, while it is in cache.
pub(super) fn forward(
    geo: &Geometry,
    x: &[f32],
    w: &[f32],
    c_out: usize,
    epilogue: Epilogue,
    out: &mut [MaybeUninit<f32>],
) {
    let (rows, p, in_len) = (geo.rows(), geo.cols(), geo.image_len());
    let (out_len, ld) = (c_out * p, leading(p));
    // W: [c_out, rows], packed from its transpose.
    let mut w_packed = vec![0.0; panels::packed_len(c_out, rows)];
    panels::pack_left(&transposed(w, c_out, rows), rows, c_out, &mut w_packed);
    out.par_chunks_mut(IMAGES_PER_TASK * out_len).zip(x.par_chunks(IMAGES_PER_TASK * in_len)).for_each_init(
        || (Vec::new(), Vec::new()),
        |(cols_buf, split), (out_t, x_t)| {
            let cols = sized(cols_buf, rows * ld);
            for (out_b, x_b) in out_t.chunks_exact_mut(out_len).zip(x_t.chunks_exact(in_len)) {
                geo.im2col(x_b, cols, split);
                panels::product_into(&w_packed, c_out, rows, (cols, Right::Rows(ld)), p, (out_b, p));
                // SAFETY: `product_into` wrote every element of `out_b` (its rows cover it).
                epilogue.apply_to_image(unsafe { &mut *(std::ptr::from_mut(out_b) as *mut [f32]) }, p);
            }
        },
    );
}

/// The gradient with respect to the input of the convolution by `w: [c_out, rows]`, for
/// `g: [n, c_out, oh, ow]`, into `gx: [n, c_in, h, w]` (every element written).
pub(super) fn backward_input(geo: &Geometry, w: &[f32], g: &[f32], c_out: usize, gx: &mut [f32]) {
    let (rows, p, in_len) = (geo.rows(), geo.cols(), geo.image_len());
    let (out_len, ld) = (c_out * p, leading(p));
    // Wᵀ: [rows, c_out], packed from its transpose, W itself.
    let mut w_t_packed = vec![0.0; panels::packed_len(rows, c_out)];
    panels::pack_left(w, c_out, rows, &mut w_t_packed);
    gx.par_chunks_mut(IMAGES_PER_TASK * in_len).zip(g.par_chunks(IMAGES_PER_TASK * out_len)).for_each_init(
        || (Vec::new(), Vec::new(), Vec::new()),
        |(cols_buf, g_buf, split), (gx_t, g_t)| {
            let dcols = sized(cols_buf, rows * ld);
            for (gx_b, g_b) in gx_t.chunks_exact_mut(in_len).zip(g_t.chunks_exact(out_len)) {
                if ld == p {
                    panels::product(&w_t_packed, rows, c_out, (g_b, Right::Rows(p)), p, (dcols, ld));
                } else {
                    // Rows of g_b would share L1 sets (see `leading`): copied ld apart first.
                    let g_ld = sized(g_buf, c_out * ld);
                    for (dst, src) in g_ld.chunks_exact_mut(ld).zip(g_b.chunks_exact(p)) {
                        dst[..p].copy_from_slice(src);
                    }
                    panels::product(&w_t_packed, rows, c_out, (g_ld, Right::Rows(ld)), p, (dcols, ld));
                }
                geo.col2im(dcols, gx_b, split);
            }
        },
    );
}

/// The gradient with respect to the weight of the convolution of the contiguous images
/// `x: [n, c_in, h, w]`, for `g: [n, c_out, oh, ow]`, as the matrix `[c_out, rows]`.
pub(super) fn backward_weight(geo: &Geometry, x: &[f32], g: &[f32], c_out: usize) -> Array2<f32> {
    let (rows, p, in_len) = (geo.rows(), geo.cols(), geo.image_len());
    let (out_len, n, ld) = (c_out * p, x.len() / in_len, leading(p));
    let per_group = n.div_ceil(WEIGHT_GROUPS).max(1);
    let partials: Vec<Vec<f32>> = (0..n.div_ceil(per_group))
        .into_par_iter()
        .map(|group| {
            let images = group * per_group..((group + 1) * per_group).min(n);
            let mut lanes = vec![0.0; c_out * rows * LANES];
            let (mut cols_buf, mut split) = (Vec::new(), Vec::new());
            let cols = sized(&mut cols_buf, rows * ld);
            for b in images {
                geo.im2col(&x[b * in_len..][..in_len], cols, &mut split);
                dot_tiles(&g[b * out_len..][..out_len], cols, ld, c_out, rows, p, &mut lanes);
            }
            lanes.chunks_exact(LANES).map(add_lanes).collect()
        })
        .collect();
    let mut parts = partials.into_iter();
    let mut total = parts.next().expect("a non-empty batch has a group");
    for part in parts {
        for (t, v) in total.iter_mut().zip(part) {
            *t += v;
        }
    }
    Array2::from_shape_vec((c_out, rows), total).expect("the length is the shape's")
}

/// The row stride of a scratch matrix with rows of `p` values: `p`, or `p + 16` when `p` is a
/// multiple of 64 (rows 256 bytes apart or a multiple of that fall into a few of L1's 64 sets,
/// and a tile reads up to 64 of them at once: a 3→32-channel 3×3 layer on 32×32 images ran its
/// forward pass at 33 GFLOP/s with rows 4 KiB apart). With `p + 16` the stride is an odd number
/// of cache lines, which visits every set.
fn leading(p: usize) -> usize {
    if p.is_multiple_of(64) { p + 16 } else { p }
}

/// The 8 lanes of one weight-gradient partial sum, added in a fixed tree (the same as the AVX
/// horizontal sum of a vector).
fn add_lanes(l: &[f32]) -> f32 {
    let quad = [l[0] + l[4], l[1] + l[5], l[2] + l[6], l[3] + l[7]];
    let pair = [quad[0] + quad[2], quad[1] + quad[3]];
    pair[0] + pair[1]
}

/// Adds `g · colsᵀ` into the lane sums `lanes: [m, k, 8]`, for `g: [m, p]` and `cols: [k, p]`
/// row-major and contiguous: lane `l` of `(i, r)` takes, by fused multiply-adds in `j` order,
/// `g[i, j]·cols[r, j]` for the `j ≡ l (mod 8)` (and `0·0` in the lanes past `p` in the last
/// vector).
///
/// # Panics
/// If the lengths are not those of the shapes.
fn dot_tiles(g: &[f32], cols: &[f32], ld: usize, m: usize, k: usize, p: usize, lanes: &mut [f32]) {
    assert!(
        g.len() == m * p && ld >= p && cols.len() >= k * ld && lanes.len() == m * k * LANES,
        "dot_tiles: lengths do not fit the shapes"
    );
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA; the lengths were checked above.
        unsafe { avx2::dot_tiles(g, cols, ld, m, k, p, lanes) };
        return;
    }
    portable::dot_tiles(g, cols, ld, m, k, p, lanes);
}

/// The kernels one value at a time, with the same operations in the same order as the AVX2 ones.
mod portable {
    use super::LANES;

    /// [`super::dot_tiles`] without SIMD.
    pub(super) fn dot_tiles(g: &[f32], cols: &[f32], ld: usize, m: usize, k: usize, p: usize, lanes: &mut [f32]) {
        for i in 0..m {
            for r in 0..k {
                let acc = &mut lanes[(i * k + r) * LANES..][..LANES];
                for j0 in (0..p).step_by(LANES) {
                    for (l, acc) in acc.iter_mut().enumerate() {
                        let j = j0 + l;
                        let (x, y) = if j < p { (g[i * p + j], cols[r * ld + j]) } else { (0.0, 0.0) };
                        *acc = x.mul_add(y, *acc);
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::super::panels::avx2::first_lanes;
    use super::LANES;

    /// Rows of `g` per tile of the dot products.
    const MR: usize = 4;
    /// Rows of `cols` per tile of the dot products.
    const NR: usize = 2;

    /// [`super::dot_tiles`] with AVX2 and FMA.
    ///
    /// # Safety
    /// The lengths must fit the shapes (as the caller checks); AVX2 and FMA present.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_tiles(
        g: &[f32],
        cols: &[f32],
        ld: usize,
        m: usize,
        k: usize,
        p: usize,
        lanes: &mut [f32],
    ) {
        let (g, cols, lanes) = (g.as_ptr(), cols.as_ptr(), lanes.as_mut_ptr());
        let tail = (!p.is_multiple_of(LANES)).then(|| first_lanes(p % LANES));
        let mut i = 0;
        while i < m {
            let rows = if i + MR <= m { MR } else { 1 };
            let mut r = 0;
            while r < k {
                let taps = if r + NR <= k { NR } else { 1 };
                // SAFETY: rows `i..i + rows` of `g`, `r..r + taps` of `cols` and their lane sums,
                // in bounds by the shapes.
                unsafe {
                    let (g_i, cols_r) = (g.add(i * p), cols.add(r * ld));
                    let sums = lanes.add((i * k + r) * LANES);
                    match (rows, taps) {
                        (MR, NR) => dot_tile::<MR, NR>(g_i, cols_r, ld, k, p, sums, tail),
                        (MR, _) => dot_tile::<MR, 1>(g_i, cols_r, ld, k, p, sums, tail),
                        (_, NR) => dot_tile::<1, NR>(g_i, cols_r, ld, k, p, sums, tail),
                        _ => dot_tile::<1, 1>(g_i, cols_r, ld, k, p, sums, tail),
                    }
                }
                r += taps;
            }
            i += rows;
        }
    }

    /// Adds into the lane sums of `R` rows of `g` (stride `p`) by `T` rows of `cols` (stride `ld`);
    /// `sums` is the first one's, row `i`'s are `k·8` apart. `tail` masks the last partial vector.
    ///
    /// # Safety
    /// Every element addressed must be in bounds; AVX2 and FMA present.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_tile<const R: usize, const T: usize>(
        g: *const f32,
        cols: *const f32,
        ld: usize,
        k: usize,
        p: usize,
        sums: *mut f32,
        tail: Option<__m256i>,
    ) {
        let mut acc = [[_mm256_setzero_ps(); T]; R];
        for (r, acc) in acc.iter_mut().enumerate() {
            for (t, acc) in acc.iter_mut().enumerate() {
                // SAFETY: the lane sums of `(r, t)`, in bounds (the contract).
                *acc = unsafe { _mm256_loadu_ps(sums.add((r * k + t) * LANES)) };
            }
        }
        let whole = p - p % LANES;
        let mut j = 0;
        while j < whole {
            // SAFETY: pixels `j..j + 8` of each row, in bounds.
            unsafe { dot_step(g, cols, ld, p, j, None, &mut acc) };
            j += LANES;
        }
        if tail.is_some() {
            // SAFETY: the pixels of the last partial vector that the mask keeps, in bounds.
            unsafe { dot_step(g, cols, ld, p, whole, tail, &mut acc) };
        }
        for (r, acc) in acc.iter().enumerate() {
            for (t, &acc) in acc.iter().enumerate() {
                // SAFETY: as the loads above.
                unsafe { _mm256_storeu_ps(sums.add((r * k + t) * LANES), acc) };
            }
        }
    }

    /// One vector of pixels from `j` (under `mask` if given) into [`dot_tile`]'s accumulators.
    ///
    /// # Safety
    /// Pixels `j..j + 8` of `R` rows of `g` and `T` rows of `cols` (stride `p`) must be in
    /// bounds, but for the lanes the mask drops; AVX2 and FMA present.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_step<const R: usize, const T: usize>(
        g: *const f32,
        cols: *const f32,
        ld: usize,
        p: usize,
        j: usize,
        mask: Option<__m256i>,
        acc: &mut [[__m256; T]; R],
    ) {
        // SAFETY: forwarded from the contract.
        unsafe {
            let load = |row: *const f32| match mask {
                Some(mask) => _mm256_maskload_ps(row.add(j), mask),
                None => _mm256_loadu_ps(row.add(j)),
            };
            let mut y = [_mm256_setzero_ps(); T];
            for (t, y) in y.iter_mut().enumerate() {
                *y = load(cols.add(t * ld));
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = load(g.add(r * p));
                for (acc, &y) in acc.iter_mut().zip(&y) {
                    *acc = _mm256_fmadd_ps(x, y, *acc);
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

    /// The AVX2 dot tiles give the portable ones' bits, for shapes with every kind of edge tile
    /// (the product kernel is `panels`', tested there).
    #[test]
    fn avx2_dot_tiles_match_the_portable_ones_bit_for_bit() {
        if !has_avx2_fma() {
            return;
        }
        for (m, k, p) in [(1, 1, 1), (4, 16, 196), (5, 3, 7), (64, 16, 49), (16, 64, 196), (3, 27, 25), (9, 5, 17)] {
            let (g, cols) = (values(m * p, 3), values(k * p, 4));
            let start = values(m * k * LANES, 5);
            let (mut fast, mut slow) = (start.clone(), start);
            dot_tiles(&g, &cols, p, m, k, p, &mut fast);
            portable::dot_tiles(&g, &cols, p, m, k, p, &mut slow);
            assert_eq!(
                fast.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                slow.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "dots {m}x{k}x{p}"
            );
        }
    }

    /// The portable dot tiles and the lane sums compute the products they name.
    #[test]
    fn portable_dot_tiles_compute_the_products() {
        let (m, k, p) = (3, 5, 11);
        let (g, b) = (values(m * p, 6), values(k * p, 7));
        let mut lanes = vec![0.0; m * k * LANES];
        portable::dot_tiles(&g, &b, p, m, k, p, &mut lanes);
        for i in 0..m {
            for r in 0..k {
                let want: f64 = (0..p).map(|j| f64::from(g[i * p + j]) * f64::from(b[r * p + j])).sum();
                let got = add_lanes(&lanes[(i * k + r) * LANES..][..LANES]);
                assert!((f64::from(got) - want).abs() < 1e-5, "dW[{i}, {r}]");
            }
        }
    }
}
