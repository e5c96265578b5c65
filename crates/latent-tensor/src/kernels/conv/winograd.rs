//! Stride-2 convolutions with a 4×4 kernel by polyphase decomposition and Winograd's minimal
//! filtering algorithm F(4×4, 2×2): fewer multiply-adds than im2col + GEMM for the layers every
//! convolutional model here is built from (kernel 4, stride 2, padding 1).
//!
//! # Why
//! im2col + GEMM does 16 multiply-adds per output pixel and channel pair, and its GEMM already
//! ran near this CPU's peak (~100 GFLOP/s a core), so being faster meant doing fewer. Here a 4×4
//! output tile of one channel pair costs 4 phases × 25 products: 6.25 per pixel when the output
//! side is a multiple of 4, 8.2 for a 7×7 output (tiles cover 8×8), the side of the large layers
//! of DCGAN and the conv autoencoder: 1.96× fewer. The products are still matrix products (25 of
//! them, one per transformed position), at the same speed; the transforms cost the rest. On DCGAN's
//! 64→128-channel layer (batch 128, one thread) a forward pass took 14.3 ms against im2col's
//! 19.5: 8.3–8.6 ms of products (~100 GFLOP/s), 2.6–2.8 of input transform (1.2 of it putting
//! the images side by side), 0.9 of output transform and 1.0 for the weight's, timed by stage
//! on a noisy machine; moving images by 8×8 transposes (`lanes`) and vectorising the weight
//! transform took 0.45 and 0.5 ms off that. `cargo xtask bench --only micro` reports each layer.
//!
//! # How
//! - **Polyphase.** With the input zero-padded and cut into its four stride phases
//!   `P_rs[y][x] = x_pad[2y + r][2x + s]`, a 4×4 stride-2 correlation is the sum over the phases
//!   of 2×2 stride-1 correlations of `P_rs` with the taps `g_rs[a][b] = w[2a + r][2b + s]`.
//! - **Winograd F(4, 2).** Four outputs `y_i = g_0·d_i + g_1·d_(i+1)` of a 2-tap correlation come
//!   from five inputs with five products, `y = Aᵀ[(G·g) ⊙ (Bᵀ·d)]` ([`AT`], [`G`], [`BT`]); nested
//!   for 2-D, a 4×4 output tile comes from a 5×5 input tile with 25 products,
//!   `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`. Summed over the input channels and phases
//!   (`k = (c_in, r, s)`, `4·c_in` of them), that is one matrix product per transformed position
//!   `ξ` (25 in all): `M_ξ[c_out, tiles] = U_ξ[c_out, k] · V_ξ[k, tiles]`.
//! - **The three passes share the transforms**, being one linear map and its two adjoints:
//!   - forward: `V = Bᵀ d B` per input tile, `M_ξ = U_ξ·V_ξ`, `Y = Aᵀ M A` written to the output;
//!   - input gradient: `dM = A dY Aᵀ` per output tile, `dV_ξ = U_ξᵀ·dM_ξ`, `dD = B dV Bᵀ` added
//!     onto the phase planes (neighbouring tiles share a row or column), which hold the input's
//!     gradient;
//!   - weight gradient: `dU_ξ = Σ dM_ξ·V_ξᵀ` over the batch, then `dg = Gᵀ dU G`.
//!
//!   So each gradient is the exact adjoint of the forward computation up to rounding, and a
//!   tile reaching past the output (7×7 in 8×8) only computes values that are dropped (forward)
//!   or gradients that are zero (backward).
//! - **Accuracy.** The interpolation points are 0, 1, −1, 1/2 and ∞, scaled so that `Bᵀ` holds
//!   small integers and `Aᵀ` powers of two (the fractions live in `G`, applied to the weight in
//!   `f64`). Of the point sets tried, this one rounds least: on random unit-normal data with 256
//!   input channel-phases, the mean absolute error of an output is 3.4·10⁻⁵ against 6.8·10⁻⁶ for
//!   a direct `f32` sum (outputs of size ~24); the points 0, ±1, 2 gave 4.2·10⁻⁵. The price of
//!   the larger transforms is rounding: against im2col, the largest difference the tests see is
//!   3.1·10⁻⁵ of the outputs' root mean square (they allow 5·10⁻⁵), where F(2, 2) would round
//!   like a direct sum but save only 1.36×. That is far below what training notices (the conv
//!   autoencoder's test loss after 2 epochs: 63.38 against im2col's 63.20, seed noise), but a
//!   finite difference with a step of 10⁻² amplifies it past the gradient checks' tolerance, so
//!   theirs for this path use a step of 0.5 (exact for a linear map).
//!
//! # The products
//! Where AVX2 and FMA are present ([`Layout::Panels`]), the forward and input-gradient products
//! run on the `panels` kernel: each `U_ξ` is packed once per call, and the transforms write the
//! right operands (`V` forward, `dM` for the input gradient) straight into its panels of 16
//! columns, so nothing is packed per chunk (matrixmultiply's packing had been 7.5% of a DCGAN
//! step's samples). On DCGAN's 64→128-channel layer the 25 products of a forward pass took
//! 8.0 ms (105 GFLOP/s) against GEMM's 8.3–8.6. The weight gradient's products
//! (`dU_ξ = dM_ξ·V_ξᵀ`, a long inner dimension) stay on [`gemm`] with plain rows
//! ([`Layout::Rows`]), as does everything on other CPUs.
//!
//! # Layout and threads
//! Images go through in blocks of [`LANES`]: every transform handles 8 images at once, one per
//! vector lane (the phase planes are stored `[k][y][x][lane]`), and the last block of a batch is
//! padded with zero images. A block's images (or output gradients) are first put side by side
//! by 8×8 transposes (the `lanes` module), and outputs leave the same way. Column `t` of the
//! products is `(block, tile, lane)`; consecutive positions' matrices are [`spaced`] by a cache
//! line. A batch is cut into chunks of whole
//! blocks (~[`TARGET_COLUMNS`] product columns, within [`BUDGET`] scratch elements), processed in
//! parallel like the im2col path's, each thread reusing its own scratch buffers from call to
//! call, and the weight gradient sums its chunks in `WEIGHT_GROUPS` fixed groups. Each output
//! element is one GEMM dot product plus a fixed transform, independent of its column, so results
//! are bit-identical for any pool size and any batch composition.

use std::mem::MaybeUninit;

use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use super::lanes::{LANES, deinterleave, interleave};
use super::panels;
use super::{Epilogue, Geometry, WEIGHT_GROUPS, sized, transpose_columns, transposed_in_parallel};
use crate::kernels::elementwise::vectorized;
use crate::kernels::matmul::gemm;

/// Side of an output tile (`m` of F(m, 2)).
const TILE: usize = 4;
/// Side of an input tile: `TILE + 1` for a 2-tap kernel.
const SPAN: usize = TILE + 1;
/// Transformed positions `ξ`, one product each.
const POSITIONS: usize = SPAN * SPAN;

/// Eight images' values at one position.
type Lanes = [f32; LANES];
/// A tile of `R×C` positions of eight images.
type Block<const R: usize, const C: usize> = [[Lanes; C]; R];

// The transforms as matrices. The code applies them written out ([`input_1d`] and the others),
// which the tests check against these.

/// `Bᵀ`, the input transform (points 0, 1, −1, 1/2, ∞, rows scaled by 1, 2, 6, 3/8, 2).
#[cfg_attr(not(test), allow(dead_code))]
const BT: [[f32; SPAN]; SPAN] = [
    [1.0, -2.0, -1.0, 2.0, 0.0],
    [0.0, -1.0, 1.0, 2.0, 0.0],
    [0.0, -1.0, 3.0, -2.0, 0.0],
    [0.0, 1.0, 0.0, -1.0, 0.0],
    [0.0, 1.0, -2.0, -1.0, 2.0],
];
/// `B`, the adjoint input transform.
#[cfg_attr(not(test), allow(dead_code))]
const B: [[f32; SPAN]; SPAN] = transpose(BT);
/// `G`, the kernel transform (rows scaled by the inverses of [`BT`]'s row scales).
const G: [[f64; 2]; SPAN] = [[1.0, 0.0], [0.5, 0.5], [1.0 / 6.0, -1.0 / 6.0], [8.0 / 3.0, 4.0 / 3.0], [0.0, 0.5]];
/// `Aᵀ`, the output transform.
#[cfg_attr(not(test), allow(dead_code))]
const AT: [[f32; SPAN]; TILE] =
    [[1.0, 1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, 0.5, 0.0], [0.0, 1.0, 1.0, 0.25, 0.0], [0.0, 1.0, -1.0, 0.125, 1.0]];
/// `A`, the adjoint output transform.
#[cfg_attr(not(test), allow(dead_code))]
const A: [[f32; TILE]; SPAN] = transpose(AT);

/// Product columns a chunk aims at. With GEMM packing `U_ξ` again for every chunk, 128 trained
/// DCGAN fastest (10.6–11.8 s of CPU time for 30 batches against 11.7–12.2 with 256). With `U_ξ`
/// packed once per call (the `panels` kernel) smaller chunks keep their 25 matrices nearer the
/// core. `train_seconds` of 30 DCGAN batches on the bundled sample, median of 5 alternating
/// runs, 1 / 2 threads, in two sessions of runs:
///
/// | columns | first | second |
/// | --- | --- | --- |
/// | 256 | 6.32 / 3.52 | |
/// | 128 | 6.12 / 3.35 | 6.60 / 3.82 |
/// | 64 | 5.83 / 3.22 | 5.99 / 3.46 |
/// | 32 | | 6.05 / 3.34 |
/// | GEMM at 128 | 6.34 / 3.53 | 6.41 / 3.85 |
///
/// (The conv autoencoder in the second: 1.18 / 0.67 at 128, 1.17 / 0.68 at 64, 1.19 / 0.70 at
/// 32, 1.21 / 0.73 for GEMM.) A larger chunk for the weight gradient alone (128, with 64 for
/// the other passes) was no faster.
const TARGET_COLUMNS: usize = 64;
/// Most elements of a chunk's scratch (`V`, `M` and the phase planes of one block).
const BUDGET: usize = 1 << 22;
/// Fewest input channel-phases (`4·c_in`) and output channels for which this path is taken.
/// With one input channel (or output channel) the 25 products have 4 rows and would write more
/// than im2col's one product of 16 rows, so those layers stay on im2col; that is reasoned from
/// the memory traffic, not measured, and 32 itself was not tuned.
const MIN_CHANNELS: usize = 32;

/// Elements between the starts of consecutive positions' matrices (`U_ξ`, `V_ξ`, `M_ξ`) of
/// `len` elements: one cache line more than `len`. The transforms read or write all 25 at
/// once, and at a power-of-two `len` (`4·64 × 256` for DCGAN's layer) they would all fall in
/// one L1 set.
fn spaced(len: usize) -> usize {
    len + 16
}

/// `mᵀ` of a constant matrix.
#[cfg_attr(not(test), allow(dead_code))]
const fn transpose<const R: usize, const C: usize>(m: [[f32; C]; R]) -> [[f32; R]; C] {
    let mut t = [[0.0; R]; C];
    let mut i = 0;
    while i < R {
        let mut j = 0;
        while j < C {
            t[j][i] = m[i][j];
            j += 1;
        }
        i += 1;
    }
    t
}

/// `a + b`, `a − b` and `c·a`, lane by lane.
#[inline(always)]
fn add(a: Lanes, b: Lanes) -> Lanes {
    let mut r = a;
    for (r, b) in r.iter_mut().zip(b) {
        *r += b;
    }
    r
}
#[inline(always)]
fn sub(a: Lanes, b: Lanes) -> Lanes {
    let mut r = a;
    for (r, b) in r.iter_mut().zip(b) {
        *r -= b;
    }
    r
}
#[inline(always)]
fn scale(c: f32, a: Lanes) -> Lanes {
    let mut r = a;
    for r in r.iter_mut() {
        *r *= c;
    }
    r
}

/// `Bᵀ·d` ([`BT`] written out).
#[inline(always)]
fn input_1d(d: [Lanes; SPAN]) -> [Lanes; SPAN] {
    let [d0, d1, d2, d3, d4] = d;
    let (d1x2, d3x2) = (add(d1, d1), add(d3, d3));
    [
        add(sub(d0, d1x2), sub(d3x2, d2)),
        add(sub(d2, d1), d3x2),
        sub(sub(scale(3.0, d2), d1), d3x2),
        sub(d1, d3),
        add(sub(d1, d3), sub(add(d4, d4), add(d2, d2))),
    ]
}

/// `B·v`, the adjoint of [`input_1d`].
#[inline(always)]
fn input_1d_adjoint(v: [Lanes; SPAN]) -> [Lanes; SPAN] {
    let [v0, v1, v2, v3, v4] = v;
    let (v0x2, v4x2) = (add(v0, v0), add(v4, v4));
    [
        v0,
        add(sub(add(v3, v4), add(v1, v2)), scale(-2.0, v0)),
        sub(add(sub(v1, v0), scale(3.0, v2)), v4x2),
        sub(add(v0x2, scale(2.0, sub(v1, v2))), add(v3, v4)),
        v4x2,
    ]
}

/// `Aᵀ·m` ([`AT`] written out).
#[inline(always)]
fn output_1d(m: [Lanes; SPAN]) -> [Lanes; TILE] {
    let [m0, m1, m2, m3, m4] = m;
    let (sum, diff) = (add(m1, m2), sub(m1, m2));
    [add(add(m0, sum), m3), add(diff, scale(0.5, m3)), add(sum, scale(0.25, m3)), add(add(diff, scale(0.125, m3)), m4)]
}

/// `A·y`, the adjoint of [`output_1d`].
#[inline(always)]
fn output_1d_adjoint(y: [Lanes; TILE]) -> [Lanes; SPAN] {
    let [y0, y1, y2, y3] = y;
    [
        y0,
        add(add(y0, y1), add(y2, y3)),
        sub(add(y0, y2), add(y1, y3)),
        add(add(y0, scale(0.5, y1)), add(scale(0.25, y2), scale(0.125, y3))),
        y3,
    ]
}

/// A 1-D transform from `I` to `O` values, as a type so that [`both_axes`] calls it directly
/// (through a function pointer's `Fn::call` it was not inlined, and ran without AVX2).
trait Transform<const I: usize, const O: usize> {
    fn apply(x: [Lanes; I]) -> [Lanes; O];
}

/// [`input_1d`], [`input_1d_adjoint`], [`output_1d`], [`output_1d_adjoint`] as [`Transform`]s.
struct Input;
struct InputAdjoint;
struct Output;
struct OutputAdjoint;

impl Transform<SPAN, SPAN> for Input {
    #[inline(always)]
    fn apply(x: [Lanes; SPAN]) -> [Lanes; SPAN] {
        input_1d(x)
    }
}
impl Transform<SPAN, SPAN> for InputAdjoint {
    #[inline(always)]
    fn apply(x: [Lanes; SPAN]) -> [Lanes; SPAN] {
        input_1d_adjoint(x)
    }
}
impl Transform<SPAN, TILE> for Output {
    #[inline(always)]
    fn apply(x: [Lanes; SPAN]) -> [Lanes; TILE] {
        output_1d(x)
    }
}
impl Transform<TILE, SPAN> for OutputAdjoint {
    #[inline(always)]
    fn apply(x: [Lanes; TILE]) -> [Lanes; SPAN] {
        output_1d_adjoint(x)
    }
}

/// `T(X)ᵀ` applied along both axes: the 1-D transform `t` on every column of `x`, then on
/// every row of the result.
#[inline(always)]
fn both_axes<const I: usize, const O: usize, T: Transform<I, O>>(x: &Block<I, I>) -> Block<O, O> {
    let mut columns = [[[0.0; LANES]; I]; O];
    for j in 0..I {
        let mut column = [[0.0; LANES]; I];
        for (c, row) in column.iter_mut().zip(x) {
            *c = row[j];
        }
        let column = T::apply(column);
        for (row, value) in columns.iter_mut().zip(column) {
            row[j] = value;
        }
    }
    let mut out = [[[0.0; LANES]; O]; O];
    for (o, row) in out.iter_mut().zip(columns) {
        *o = T::apply(row);
    }
    out
}

/// The lanes at offset `at` of each of the 25 position matrices (of `len` elements each,
/// [`spaced`]) in `buf`: one tile's transformed values, read back after the products.
#[inline(always)]
fn load_positions(buf: &[f32], len: usize, at: usize) -> Block<SPAN, SPAN> {
    let mut block = [[[0.0; LANES]; SPAN]; SPAN];
    for (xi, value) in block.iter_mut().flatten().enumerate() {
        *value = buf[xi * spaced(len) + at..][..LANES].try_into().expect("8 lanes");
    }
    block
}

/// The inverse of [`load_positions`]: writes one tile's transformed values for the products.
#[inline(always)]
fn store_positions(block: &Block<SPAN, SPAN>, buf: &mut [f32], len: usize, at: usize) {
    for (xi, value) in block.iter().flatten().enumerate() {
        buf[xi * spaced(len) + at..][..LANES].copy_from_slice(value);
    }
}

/// `out[i] = f(taps[0][i], taps[1][i], taps[2][i], taps[3][i])` for every `i` of the
/// (equally long) tap rows, vectorised.
#[inline(always)]
fn combine(out: &mut [f32], taps: [&[f32]; 4], f: impl Fn(f32, f32, f32, f32) -> f32 + Copy) {
    vectorized(
        #[inline(always)]
        || {
            let [g00, g01, g10, g11] = taps;
            let taps = g00.iter().zip(g01).zip(g10.iter().zip(g11));
            for (at, ((&g00, &g01), (&g10, &g11))) in out.iter_mut().zip(taps) {
                *at = f(g00, g01, g10, g11);
            }
        },
    )
}

/// A 4×4, stride-2 convolution's geometry as this path sees it: the input, the padding, the
/// output, its tiles and the phase planes the tiles read.
#[derive(Clone, Debug)]
pub(super) struct Winograd {
    c_in: usize,
    h: usize,
    w: usize,
    ph: usize,
    pw: usize,
    oh: usize,
    ow: usize,
    /// Tiles along the height and the width: `⌈oh/4⌉`, `⌈ow/4⌉`.
    th: usize,
    tw: usize,
    /// Size of one phase plane as the tiles read it: `4·th + 1` by `4·tw + 1`.
    plane_h: usize,
    plane_w: usize,
    /// How the forward pass and the input gradient lay out their products' operands:
    /// [`Layout::Panels`] where the `panels` kernel runs vectorised.
    layout: Layout,
}

/// How the operands of a chunk's 25 products are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Plain row-major matrices, multiplied by [`gemm`] (which packs them itself).
    Rows,
    /// The transformed weight packed once per call and the right operands written as panels,
    /// multiplied by the `panels` kernel.
    Panels,
}

/// Which products a transformed weight is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Use {
    /// The forward pass, `M_ξ = U_ξ·V_ξ`.
    Forward,
    /// The gradient with respect to the input, `dV_ξ = U_ξᵀ·dM_ξ`.
    InputGradient,
}

/// What [`Winograd::weight_gradient_with`] computes besides the weight gradient.
pub(super) enum Companion<'a> {
    /// Nothing.
    None,
    /// The forward convolution of the images by the weight `w` (`[c_out, c_in, 4, 4]`), into
    /// `out` (`[n, c_out, oh, ow]`), every element of it.
    Forward { w: &'a [f32], out: &'a mut [MaybeUninit<f32>] },
    /// The gradient with respect to the images through the weight `w`, into `grad_x` (`[n, c_in,
    /// h, w]`), every element of it.
    InputGradient { w: &'a [f32], grad_x: &'a mut [MaybeUninit<f32>] },
}

/// Per-image lengths of the input and output, and the images per chunk.
struct Sizes {
    in_len: usize,
    out_len: usize,
    chunk: usize,
}

/// One chunk's scratch buffers, kept by each thread from call to call: allocated afresh, the
/// few megabytes of a chunk were paged in again on every call, which took as long as the
/// transforms (1.7 against 0.9 ms for a chunk of DCGAN's 64→128-channel layer). Their contents
/// carry no meaning between uses.
#[derive(Default)]
struct Scratch {
    planes: Vec<f32>,
    /// A block's images side by side ([`interleave`]).
    lanes: Vec<f32>,
    inputs: Vec<f32>,
    outputs: Vec<f32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// `f` with this thread's [`Scratch`], or with fresh buffers if it is in use (a GEMM that
/// waits for its helpers can run another chunk on this thread).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// Large buffers (transformed weights, weight-gradient partials: 3.3 MB each for DCGAN's
/// 64→128-channel layer) kept from call to call: allocated afresh, their pages were faulted in
/// again on every call (2% of a DCGAN training step's samples, in the weight gradient). It
/// keeps at most [`POOLED`] buffers and [`POOLED_BYTES`] in all; a buffer that would exceed
/// either is freed.
static POOL: std::sync::Mutex<Vec<Vec<f32>>> = std::sync::Mutex::new(Vec::new());
/// Most buffers [`POOL`] keeps: a weight-gradient call holds `WEIGHT_GROUPS` + 1 at once.
const POOLED: usize = 8;
/// Most bytes [`POOL`] keeps.
const POOLED_BYTES: usize = 64 << 20;

/// A buffer of `f32` from [`POOL`], returned to it when dropped. Its contents on taking carry
/// no meaning: every user writes each element it later reads.
struct Pooled(Vec<f32>);

impl Pooled {
    /// A buffer of `len` elements.
    fn take(len: usize) -> Self {
        let mut buf = POOL.lock().map(|mut pool| pool.pop()).unwrap_or_default().unwrap_or_default();
        sized(&mut buf, len);
        buf.truncate(len);
        Pooled(buf)
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Ok(mut pool) = POOL.lock() {
            let bytes = |buf: &Vec<f32>| buf.capacity() * size_of::<f32>();
            let kept: usize = pool.iter().map(bytes).sum();
            if pool.len() < POOLED && kept + bytes(&self.0) <= POOLED_BYTES {
                pool.push(std::mem::take(&mut self.0));
            }
        }
    }
}

impl std::ops::Deref for Pooled {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

impl Winograd {
    /// This path for `geo` with `c_out` output channels, or `None` if it does not apply (another
    /// kernel size or stride) or would not pay (too few channels, see [`MIN_CHANNELS`]).
    pub(super) fn new(geo: &Geometry, c_out: usize) -> Option<Self> {
        let shape = (geo.kh, geo.kw, geo.sh, geo.sw) == (4, 4, 2, 2);
        if !shape || 4 * geo.c_in < MIN_CHANNELS || c_out < MIN_CHANNELS {
            return None;
        }
        let (th, tw) = (geo.oh.div_ceil(TILE), geo.ow.div_ceil(TILE));
        Some(Winograd {
            c_in: geo.c_in,
            h: geo.h,
            w: geo.w,
            ph: geo.ph,
            pw: geo.pw,
            oh: geo.oh,
            ow: geo.ow,
            th,
            tw,
            plane_h: TILE * th + 1,
            plane_w: TILE * tw + 1,
            layout: if panels::available() { Layout::Panels } else { Layout::Rows },
        })
    }

    /// Input channel-phases `k`: the products' inner dimension.
    fn channel_phases(&self) -> usize {
        4 * self.c_in
    }

    /// Output tiles per image.
    fn tiles(&self) -> usize {
        self.th * self.tw
    }

    /// Elements of one block's phase planes.
    fn planes_len(&self) -> usize {
        self.channel_phases() * self.plane_h * self.plane_w * LANES
    }

    /// Images per chunk of a batch of `n` (a multiple of [`LANES`]): ~[`TARGET_COLUMNS`] product
    /// columns within [`BUDGET`], at least one block; the batch is cut into near-equal chunks.
    fn chunk_images(&self, n: usize, c_out: usize) -> usize {
        let block_cols = self.tiles() * LANES;
        let per_block = POSITIONS * (self.channel_phases() + c_out) * block_cols;
        let most =
            (BUDGET.saturating_sub(self.planes_len()) / per_block).min(TARGET_COLUMNS.div_ceil(block_cols)).max(1);
        let blocks = n.div_ceil(LANES);
        let per_chunk = blocks.div_ceil(blocks.div_ceil(most).max(1)).max(1);
        per_chunk * LANES
    }

    /// `U_ξ = G g Gᵀ` for every output channel `o` and channel-phase `k`, computed in `f64` from
    /// the weight `[c_out, c_in, 4, 4]`, laid out for `usage` and `layout`. For
    /// [`Layout::Rows`], each `U_ξ` transposed, `[k][c_out]`, for the forward products (the
    /// layout GEMM packs fastest as a left operand), `[c_out][k]` for the input gradient's (whose
    /// left operand is `U_ξᵀ`); for [`Layout::Panels`], the left operand packed for `panels`,
    /// each line written there as it is computed ([`panels::pack_line`]). Consecutive `ξ` are
    /// [`spaced`].
    fn transform_weight(&self, w: &[f32], c_out: usize, usage: Use, layout: Layout) -> Pooled {
        let k = self.channel_phases();
        // The product's left operand is [rows, inner]; the loops below compute it a column
        // (`rows` values, one `inner` index) at a time.
        let (rows, inner) = match usage {
            Use::Forward => (c_out, k),
            Use::InputGradient => (k, c_out),
        };
        let len = spaced(match layout {
            Layout::Rows => k * c_out,
            Layout::Panels => panels::packed_len(rows, inner),
        });
        let mut u = Pooled::take(POSITIONS * len);
        // The taps transposed once, so that the loops below combine contiguous rows of them
        // element by element, vectorised: for the forward layout, each U_ξ row (ci, r, s) runs
        // over o, from the weight as [c_in·16][c_out]; for the input gradient's, each phase
        // (r, s) of a U_ξ row o runs over ci, from each filter as [16][c_in]. Computed tap by
        // tap in scalar f64 (the same operations, so the same bits), DCGAN's 64→128-channel
        // layer took 1.0 ms (forward layout) and 0.94 ms (input gradient's) on one thread; now
        // 0.45–0.56 and 0.74, with 25 tasks instead of 5 for two threads to share. The
        // transposes run in parallel too: serial, they were 1.5% of a DCGAN training step.
        let taps = match usage {
            Use::Forward => transposed_in_parallel(w, c_out, self.c_in * 16),
            Use::InputGradient => {
                let mut taps = vec![0.0; w.len()];
                let filter = self.c_in * 16;
                taps.par_chunks_mut(filter.max(1))
                    .zip(w.par_chunks(filter.max(1)))
                    .for_each(|(dst, f)| transpose_columns(f, 16, 0, dst));
                taps
            }
        };
        let positions: Vec<(usize, usize)> = (0..SPAN).flat_map(|p| (0..SPAN).map(move |q| (p, q))).collect();
        // One task per position ξ = (p, q): U_ξ = (G·g)[p] · G[q] for the 2×2 taps g of each
        // output channel and channel-phase, in f64.
        u.par_chunks_mut(len).zip(positions).for_each(|(u_xi, (p, q))| {
            // Scalars, so that the loops below keep them in registers and vectorise.
            let ([p0, p1], [q0, q1]) = (G[p], G[q]);
            let transformed = move |g00: f32, g01: f32, g10: f32, g11: f32| {
                let (g00, g01, g10, g11) = (f64::from(g00), f64::from(g01), f64::from(g10), f64::from(g11));
                ((p0 * g00 + p1 * g10) * q0 + (p0 * g01 + p1 * g11) * q1) as f32
            };
            // The offset of tap g_rs[a][b] = w[2a + r][2b + s] in a channel's 16 taps.
            let tap = |r: usize, s: usize, a: usize, b: usize| (2 * a + r) * 4 + 2 * b + s;
            // Column `at` of the left operand, stored where `layout` puts it.
            let mut line = vec![0.0; rows];
            let mut store = |at: usize, line: &[f32]| match layout {
                Layout::Rows => u_xi[at * rows..][..rows].copy_from_slice(line),
                Layout::Panels => panels::pack_line(line, at, inner, u_xi),
            };
            match usage {
                Use::Forward => {
                    // Column (ci, r, s) over o combines four rows of [c_in·16][c_out].
                    for ci in 0..self.c_in {
                        for (r, s) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                            let row_of = |a, b| &taps[(ci * 16 + tap(r, s, a, b)) * c_out..][..c_out];
                            combine(&mut line, [row_of(0, 0), row_of(0, 1), row_of(1, 0), row_of(1, 1)], transformed);
                            store(ci * 4 + r * 2 + s, &line);
                        }
                    }
                }
                Use::InputGradient => {
                    // Column o over k interleaves the phases (r, s), each combined from rows of
                    // [16][c_in] into `phases` first.
                    let mut phases = vec![0.0; 4 * self.c_in];
                    for (o, filter) in taps.chunks_exact(16 * self.c_in).enumerate() {
                        for (rs, phase) in phases.chunks_exact_mut(self.c_in).enumerate() {
                            let row_of = |a, b| &filter[tap(rs / 2, rs % 2, a, b) * self.c_in..][..self.c_in];
                            combine(phase, [row_of(0, 0), row_of(0, 1), row_of(1, 0), row_of(1, 1)], transformed);
                        }
                        for (ci, at) in line.chunks_exact_mut(4).enumerate() {
                            for (rs, at) in at.iter_mut().enumerate() {
                                *at = phases[rs * self.c_in + ci];
                            }
                        }
                        store(o, &line);
                    }
                }
            }
        });
        u
    }

    /// The forward convolution of the contiguous images `x` (`[n, c_in, h, w]`) by the weight
    /// `w` (`[c_out, c_in, 4, 4]`, contiguous), with `epilogue` applied to each value, written
    /// into `out` (`[n, c_out, oh, ow]`), every element of it.
    pub(super) fn forward(&self, x: &[f32], w: &[f32], epilogue: Epilogue, c_out: usize, out: &mut [MaybeUninit<f32>]) {
        let sizes = self.sizes(x.len() / self.image_len(), c_out);
        let u = self.transform_weight(w, c_out, Use::Forward, self.layout);
        out.par_chunks_mut(sizes.chunk * sizes.out_len).zip(x.par_chunks(sizes.chunk * sizes.in_len)).for_each(
            |(out_c, x_c)| {
                with_scratch(|s| {
                    let cols = self.transform_chunk_inputs(x_c, s, self.layout);
                    self.products(Use::Forward, &u, c_out, cols, s, self.layout);
                    self.write_outputs(&s.outputs, &mut s.lanes, (cols, c_out, epilogue), out_c);
                })
            },
        );
    }

    /// The gradient with respect to the input of [`Winograd::forward`]: from the weight `w`
    /// (`[c_out, c_in, 4, 4]`) and `g` (`[n, c_out, oh, ow]`), with `epilogue` applied to each
    /// value (for a transposed convolution's output, which this is), written into `grad_x`
    /// (`[n, c_in, h, w]`), every element of it.
    pub(super) fn backward_input(
        &self,
        w: &[f32],
        g: &[f32],
        epilogue: Epilogue,
        c_out: usize,
        grad_x: &mut [MaybeUninit<f32>],
    ) {
        let sizes = self.sizes(grad_x.len() / self.image_len(), c_out);
        let u = self.transform_weight(w, c_out, Use::InputGradient, self.layout);
        grad_x.par_chunks_mut(sizes.chunk * sizes.in_len).zip(g.par_chunks(sizes.chunk * sizes.out_len)).for_each(
            |(gx_c, g_c)| {
                with_scratch(|s| {
                    let cols = self.transform_chunk_gradients(g_c, c_out, s, self.layout);
                    self.products(Use::InputGradient, &u, c_out, cols, s, self.layout);
                    self.write_input_gradients(cols, gx_c, s, epilogue);
                })
            },
        );
    }

    /// The gradient with respect to the weight of [`Winograd::forward`], `[c_out, c_in·16]`
    /// (row `o`, column `(ci, ki, kj)`), from the images `x` and the output gradient `g`.
    pub(super) fn backward_weight(&self, x: &[f32], g: &[f32], c_out: usize) -> Array2<f32> {
        self.weight_gradient_with(x, g, c_out, Companion::None)
    }

    /// The weight gradient ([`Winograd::backward_weight`]) and, from the same transformed
    /// operands, what `companion` asks for on the way:
    /// - [`Companion::Forward`]: the forward convolution of `x`, a transposed convolution's input
    ///   gradient (its input gradient is that forward pass of its output gradient);
    /// - [`Companion::InputGradient`]: the gradient with respect to `x`, a convolution's: the
    ///   input gradient's products read the `dM` the weight products read, as rows, so the
    ///   output gradient is transformed once instead of twice.
    ///
    /// Either companion computes the same bits as its own pass ([`Winograd::forward`],
    /// [`Winograd::backward_input`]): every element of a product is the same chain of
    /// multiply-adds whichever layout its right operand is read from. The input-gradient
    /// companion made the conv autoencoder's 32→64-channel layer's backward pass (batch 128) run
    /// at 136 against 120 GFLOP/s on one thread, 242 against 218 on two (`cargo xtask bench
    /// --only micro`, direct-convolution FLOPs); it had been slower (35.5 against 33.6 ms on
    /// DCGAN's 64→128-channel layer) when the input gradient's products still went through GEMM.
    pub(super) fn weight_gradient_with(&self, x: &[f32], g: &[f32], c_out: usize, companion: Companion) -> Array2<f32> {
        let n = x.len() / self.image_len();
        let sizes = self.sizes(n, c_out);
        let (in_len, out_len, chunk) = (sizes.in_len, sizes.out_len, sizes.chunk);
        let chunks = n.div_ceil(chunk);
        let per_group = chunks.div_ceil(WEIGHT_GROUPS);
        let group_images = per_group * chunk;
        // The companion's weight transform, its output and that output's length per image.
        let (u, out, target_len): (_, &mut [MaybeUninit<f32>], _) = match companion {
            Companion::None => (None, &mut [], 1),
            Companion::Forward { w, out } => {
                (Some((Use::Forward, self.transform_weight(w, c_out, Use::Forward, self.layout))), out, out_len)
            }
            Companion::InputGradient { w, grad_x } => (
                Some((Use::InputGradient, self.transform_weight(w, c_out, Use::InputGradient, self.layout))),
                grad_x,
                in_len,
            ),
        };
        // The companion's images, cut like the groups (an empty slice per group without one).
        let mut targets: Vec<&mut [MaybeUninit<f32>]> = out.chunks_mut(group_images * target_len).collect();
        targets.resize_with(chunks.div_ceil(per_group), Default::default);
        let k = self.channel_phases();
        let mut partials: Vec<Pooled> = targets
            .into_par_iter()
            .enumerate()
            .map(|(group, target)| {
                let images = group * group_images..((group + 1) * group_images).min(n);
                let (x_g, g_g) =
                    (&x[images.start * in_len..images.end * in_len], &g[images.start * out_len..images.end * out_len]);
                // Every element read below is written by the first chunk's products (β = 0).
                let mut du = Pooled::take(POSITIONS * spaced(c_out * k));
                let mut target = target.chunks_mut(chunk * target_len);
                for (i, (x_c, g_c)) in x_g.chunks(chunk * in_len).zip(g_g.chunks(chunk * out_len)).enumerate() {
                    with_scratch(|s| {
                        // The weight products read V and dM as rows (`dU_ξ = dM_ξ·V_ξᵀ`).
                        let cols = self.transform_chunk_inputs(x_c, s, Layout::Rows);
                        self.transform_chunk_gradients(g_c, c_out, s, Layout::Rows);
                        self.weight_products(&mut du, c_out, cols, i > 0, s);
                        let (Some(target_c), Some((usage, u))) = (target.next(), &u) else { return };
                        // The companion's products, after the weight products: the input
                        // gradient's overwrite V.
                        self.products(*usage, u, c_out, cols, s, Layout::Rows);
                        match usage {
                            Use::Forward => {
                                self.write_outputs(&s.outputs, &mut s.lanes, (cols, c_out, Epilogue::NONE), target_c)
                            }
                            Use::InputGradient => self.write_input_gradients(cols, target_c, s, Epilogue::NONE),
                        }
                    });
                }
                du
            })
            .collect();
        // The later groups' sums added onto the first's in group order, one position per task
        // (summed on one thread, this was 1% of a 2-thread DCGAN step with the other one idle).
        let (du, rest) = partials.split_first_mut().expect("a non-empty batch has a group");
        let len = spaced(c_out * k);
        du.par_chunks_mut(len).enumerate().for_each(|(xi, d)| {
            for part in &*rest {
                for (d, p) in d[..c_out * k].iter_mut().zip(&part[xi * len..][..c_out * k]) {
                    *d += p;
                }
            }
        });
        self.weight_gradient(du, c_out)
    }

    /// Elements of one input image.
    fn image_len(&self) -> usize {
        self.c_in * self.h * self.w
    }

    /// The per-image lengths and the chunk size for `n` images and `c_out` outputs.
    fn sizes(&self, n: usize, c_out: usize) -> Sizes {
        Sizes { in_len: self.image_len(), out_len: c_out * self.oh * self.ow, chunk: self.chunk_images(n, c_out) }
    }

    /// Product columns of a chunk of `images` images.
    fn chunk_cols(&self, images: usize) -> usize {
        images.div_ceil(LANES) * self.tiles() * LANES
    }

    /// `V` of a chunk of input images `x_c` into `s.inputs` (`[ξ][k][cols]`); returns `cols`.
    fn transform_chunk_inputs(&self, x_c: &[f32], s: &mut Scratch, layout: Layout) -> usize {
        let cols = self.chunk_cols(x_c.len() / self.image_len());
        let planes = sized(&mut s.planes, self.planes_len());
        let lanes = sized(&mut s.lanes, LANES * self.image_len());
        let v = sized(&mut s.inputs, POSITIONS * spaced(self.channel_phases() * cols));
        // Once for the chunk: each block writes the same positions, the ones that hold pixels.
        self.zero_padding(planes);
        for (b, images) in x_c.chunks(LANES * self.image_len()).enumerate() {
            self.fill_planes(images, lanes, planes);
            self.transform_inputs(planes, v, cols, b, layout);
        }
        cols
    }

    /// `dM` of a chunk of output gradients `g_c` into `s.outputs` (`[ξ][c_out][cols]`); returns
    /// `cols`.
    fn transform_chunk_gradients(&self, g_c: &[f32], c_out: usize, s: &mut Scratch, layout: Layout) -> usize {
        let out_len = c_out * self.oh * self.ow;
        let cols = self.chunk_cols(g_c.len() / out_len);
        let dm = sized(&mut s.outputs, POSITIONS * spaced(c_out * cols));
        let lanes = sized(&mut s.lanes, LANES * out_len);
        for (b, images) in g_c.chunks(LANES * out_len).enumerate() {
            interleave(images, out_len, lanes);
            self.transform_gradients(lanes, c_out, dm, cols, b, layout);
        }
        cols
    }

    /// The 25 products of a chunk: for [`Use::Forward`], `M_ξ = U_ξ·V_ξ` from `s.inputs` into
    /// `s.outputs`; for [`Use::InputGradient`], `dV_ξ = U_ξᵀ·dM_ξ` from `s.outputs` into
    /// `s.inputs`. `u` is laid out for that use and for `self.layout`
    /// ([`Winograd::transform_weight`]); the right operands are in `layout`, which must be
    /// [`Layout::Rows`] unless `self.layout` is [`Layout::Panels`].
    fn products(&self, usage: Use, u: &[f32], c_out: usize, cols: usize, s: &mut Scratch, layout: Layout) {
        let k = self.channel_phases();
        if self.layout == Layout::Panels {
            // `u` is packed (transformed for `self.layout`); the right operands are in `layout`.
            let right = match layout {
                Layout::Panels => panels::Right::Panels,
                Layout::Rows => panels::Right::Rows(cols),
            };
            return self.panel_products(usage, u, c_out, cols, s, right);
        }
        let u_len = spaced(k * c_out);
        let (in_len, out_len) = (spaced(k * cols), spaced(c_out * cols));
        let inputs = sized(&mut s.inputs, POSITIONS * in_len);
        let outputs = sized(&mut s.outputs, POSITIONS * out_len);
        for xi in 0..POSITIONS {
            let u_xi = &u[xi * u_len..][..k * c_out];
            let (inputs_xi, outputs_xi) =
                (&mut inputs[xi * in_len..][..k * cols], &mut outputs[xi * out_len..][..c_out * cols]);
            match usage {
                Use::Forward => {
                    let u_xi = ArrayView2::from_shape((k, c_out), u_xi).expect("U shape");
                    let v_xi = ArrayView2::from_shape((k, cols), &*inputs_xi).expect("V shape");
                    let m_xi = ArrayViewMut2::from_shape((c_out, cols), outputs_xi).expect("M shape");
                    gemm(1.0, u_xi.t(), v_xi, 0.0, m_xi);
                }
                Use::InputGradient => {
                    let u_xi = ArrayView2::from_shape((c_out, k), u_xi).expect("U shape");
                    let dm_xi = ArrayView2::from_shape((c_out, cols), &*outputs_xi).expect("dM shape");
                    let dv_xi = ArrayViewMut2::from_shape((k, cols), inputs_xi).expect("dV shape");
                    gemm(1.0, u_xi.t(), dm_xi, 0.0, dv_xi);
                }
            }
        }
    }

    /// [`Winograd::products`] on the `panels` kernel: `u` packed, the right operands as `right`
    /// says.
    fn panel_products(&self, usage: Use, u: &[f32], c_out: usize, cols: usize, s: &mut Scratch, right: panels::Right) {
        let k = self.channel_phases();
        let (in_len, out_len) = (spaced(k * cols), spaced(c_out * cols));
        let inputs = sized(&mut s.inputs, POSITIONS * in_len);
        let outputs = sized(&mut s.outputs, POSITIONS * out_len);
        let (rows, inner) = match usage {
            Use::Forward => (c_out, k),
            Use::InputGradient => (k, c_out),
        };
        let u_len = spaced(panels::packed_len(rows, inner));
        for xi in 0..POSITIONS {
            let u_xi = &u[xi * u_len..][..panels::packed_len(rows, inner)];
            let (inputs_xi, outputs_xi) =
                (&mut inputs[xi * in_len..][..k * cols], &mut outputs[xi * out_len..][..c_out * cols]);
            match usage {
                Use::Forward => panels::product(u_xi, rows, inner, (inputs_xi, right), cols, (outputs_xi, cols)),
                Use::InputGradient => panels::product(u_xi, rows, inner, (outputs_xi, right), cols, (inputs_xi, cols)),
            }
        }
    }

    /// `dU_ξ = dM_ξ·V_ξᵀ` of a chunk (`s.outputs`, `s.inputs`), added to `du` if `accumulate`.
    fn weight_products(&self, du: &mut [f32], c_out: usize, cols: usize, accumulate: bool, s: &Scratch) {
        let k = self.channel_phases();
        for xi in 0..POSITIONS {
            let dm_xi = ArrayView2::from_shape((c_out, cols), &s.outputs[xi * spaced(c_out * cols)..][..c_out * cols])
                .expect("dM shape");
            let v_xi =
                ArrayView2::from_shape((k, cols), &s.inputs[xi * spaced(k * cols)..][..k * cols]).expect("V shape");
            let du_xi = ArrayViewMut2::from_shape((c_out, k), &mut du[xi * spaced(c_out * k)..][..c_out * k])
                .expect("dU shape");
            gemm(1.0, dm_xi, v_xi.t(), if accumulate { 1.0 } else { 0.0 }, du_xi);
        }
    }

    /// `Y = Aᵀ M A` of a chunk's products `m` (with the epilogue applied) into its output images
    /// `out_c`, through `lanes`.
    fn write_outputs(
        &self,
        m: &[f32],
        lanes: &mut Vec<f32>,
        (cols, c_out, epilogue): (usize, usize, Epilogue),
        out_c: &mut [MaybeUninit<f32>],
    ) {
        let out_len = c_out * self.oh * self.ow;
        let lanes = sized(lanes, LANES * out_len);
        for (b, images) in out_c.chunks_mut(LANES * out_len).enumerate() {
            self.transform_outputs(m, (cols, b, c_out, epilogue), lanes);
            deinterleave(lanes, out_len, images);
        }
    }

    /// `dD = B dV Bᵀ` of a chunk's products (`s.inputs`) into its input gradients `gx_c`, plus
    /// `epilogue` applied to each value.
    fn write_input_gradients(&self, cols: usize, gx_c: &mut [MaybeUninit<f32>], s: &mut Scratch, epilogue: Epilogue) {
        let planes = sized(&mut s.planes, self.planes_len());
        let lanes = sized(&mut s.lanes, LANES * self.image_len());
        for (b, images) in gx_c.chunks_mut(LANES * self.image_len()).enumerate() {
            self.add_input_gradients(&s.inputs, cols, b, planes);
            self.read_planes(planes, lanes, images, epilogue);
        }
    }

    /// `dg = Gᵀ dU G` for every output channel and channel-phase, in `f64`, laid out as the
    /// weight `[c_out, c_in·4·4]`.
    fn weight_gradient(&self, du: &[f32], c_out: usize) -> Array2<f32> {
        let k = self.channel_phases();
        let len = spaced(c_out * k);
        let mut grad = Array2::zeros((c_out, self.c_in * 16));
        let rows = grad.as_slice_mut().expect("fresh array is contiguous").par_chunks_mut(self.c_in * 16);
        rows.enumerate().for_each(|(o, row)| {
            for kk in 0..k {
                let (ci, r, s) = (kk / 4, kk / 2 % 2, kk % 2);
                // Gᵀ·dU, then (Gᵀ·dU)·G.
                let mut left = [[0.0f64; SPAN]; 2];
                for (p, gp) in G.iter().enumerate() {
                    for q in 0..SPAN {
                        let v = f64::from(du[(p * SPAN + q) * len + o * k + kk]);
                        left[0][q] += gp[0] * v;
                        left[1][q] += gp[1] * v;
                    }
                }
                for (a, l) in left.iter().enumerate() {
                    for b in 0..2 {
                        let sum: f64 = l.iter().zip(&G).map(|(v, gq)| v * gq[b]).sum();
                        row[ci * 16 + (2 * a + r) * 4 + 2 * b + s] = sum as f32;
                    }
                }
            }
        });
        grad
    }

    /// Writes the pixels of a block of up to [`LANES`] contiguous images (zeros in the lanes past
    /// the last image) into the phase planes `[k][y][x][lane]`, through `lanes`; the padding
    /// positions are left as they are ([`Winograd::zero_padding`]).
    fn fill_planes(&self, images: &[f32], lanes: &mut [f32], planes: &mut [f32]) {
        interleave(images, self.image_len(), lanes);
        self.for_each_line(|line, rows, columns| {
            let line = &lanes[line * LANES..][..columns.len() * LANES];
            for (&(s, x), value) in columns.iter().zip(line.chunks_exact(LANES)) {
                planes[rows[s] + x..][..LANES].copy_from_slice(value);
            }
        });
    }

    /// Zeroes the positions of the phase planes that hold no image pixel (the padding, and what
    /// the tiles read past the image), for [`Winograd::fill_planes`], which writes the others:
    /// the buffer is shared by every use and geometry on a thread, and zeroing all of it cost a
    /// memset of the whole planes per block. Once per chunk, since every block of a chunk leaves
    /// these positions alone.
    fn zero_padding(&self, planes: &mut [f32]) {
        // The plane rows (columns) of stride phase r that hold image rows (columns).
        let held = |len: usize, pad: usize, limit: usize, r: usize| {
            let positions = (0..len).filter(|i| (i + pad) % 2 == r).map(|i| (i + pad) / 2).filter(|&p| p < limit);
            // Increasing, so the first and the last make the range.
            positions
                .fold(None, |range: Option<std::ops::Range<usize>>, p| Some(range.map_or(p..p + 1, |q| q.start..p + 1)))
                .unwrap_or(0..0)
        };
        let row_len = self.plane_w * LANES;
        // By stride phase: computed per plane, these took most of this function's time.
        let rows = [0, 1].map(|r| held(self.h, self.ph, self.plane_h, r));
        let columns = [0, 1].map(|s| held(self.w, self.pw, self.plane_w, s));
        for (k, plane) in planes.chunks_exact_mut(self.plane_h * row_len).enumerate() {
            let (rows, cols) = (&rows[k / 2 % 2], &columns[k % 2]);
            for (py, row) in plane.chunks_exact_mut(row_len).enumerate() {
                if rows.contains(&py) && !cols.is_empty() {
                    row[..cols.start * LANES].fill(0.0);
                    row[cols.end * LANES..].fill(0.0);
                } else {
                    row.fill(0.0);
                }
            }
        }
    }

    /// The inverse of [`Winograd::fill_planes`] on the image pixels: writes the images of a
    /// block (up to [`LANES`], contiguous) from the phase planes, through `lanes`, plus
    /// `epilogue` applied to each value (channel `ci`'s bias, then the rectifier); pixels no tile
    /// reads are 0 (then the epilogue). Each value is the sum in the planes with the operations
    /// that applying the epilogue afterwards would make, so the bits are the same.
    fn read_planes(&self, planes: &[f32], lanes: &mut [f32], images: &mut [MaybeUninit<f32>], epilogue: Epilogue) {
        let in_len = self.image_len();
        let plane = self.h * self.w;
        vectorized(|| {
            if !self.planes_hold_every_pixel() {
                lanes[..LANES * in_len].fill(0.0);
                for (channel, values) in lanes[..LANES * in_len].chunks_exact_mut(LANES * plane).enumerate() {
                    epilogue.channel(channel).finish(values);
                }
            }
            self.for_each_line(|line, rows, columns| {
                let finish = epilogue.channel(line / plane);
                let line = &mut lanes[line * LANES..][..columns.len() * LANES];
                for (&(s, x), value) in columns.iter().zip(line.chunks_exact_mut(LANES)) {
                    value.copy_from_slice(&planes[rows[s] + x..][..LANES]);
                    finish.finish(value);
                }
            });
        });
        deinterleave(lanes, in_len, images);
    }

    /// Whether the phase planes hold every image pixel, so that [`Winograd::for_each_line`]
    /// visits them all (it skips the last rows or columns when a window never reaches them).
    fn planes_hold_every_pixel(&self) -> bool {
        (self.h + self.ph - 1) / 2 < self.plane_h && (self.w + self.pw - 1) / 2 < self.plane_w
    }

    /// Calls `f(start, rows, columns)` for each image line (channel `ci`, row `iy`) that the
    /// phase planes hold: `start` is the line's offset in an image; its pixel `ix` is at plane
    /// index ([`Winograd::plane_at`]) `rows[s] + x` for `(s, x) = columns[ix]`, for the pixels
    /// the planes hold (a prefix of the line): `s` is the column's stride phase, `x` its offset.
    fn for_each_line(&self, mut f: impl FnMut(usize, [usize; 2], &[(usize, usize)])) {
        let columns: Vec<(usize, usize)> = (0..self.w)
            .map(|ix| ((ix + self.pw) % 2, (ix + self.pw) / 2))
            .take_while(|&(_, px)| px < self.plane_w)
            .map(|(s, px)| (s, px * LANES))
            .collect();
        for ci in 0..self.c_in {
            for iy in 0..self.h {
                let (py, r) = ((iy + self.ph) / 2, (iy + self.ph) % 2);
                if py >= self.plane_h {
                    continue;
                }
                let rows = [self.plane_at(ci * 4 + r * 2, py, 0), self.plane_at(ci * 4 + r * 2 + 1, py, 0)];
                f((ci * self.h + iy) * self.w, rows, &columns);
            }
        }
    }

    /// Index of lane 0 of position `(y, x)` of channel-phase `k` in a block's phase planes.
    fn plane_at(&self, k: usize, y: usize, x: usize) -> usize {
        ((k * self.plane_h + y) * self.plane_w + x) * LANES
    }

    /// Where element `(row, col)` of a right operand `[rows, cols]` of the products lies in its
    /// `layout`.
    #[inline(always)]
    fn at(layout: Layout, row: usize, col: usize, rows: usize, cols: usize) -> usize {
        match layout {
            Layout::Rows => row * cols + col,
            Layout::Panels => panels::panel_offset(row, col, rows, cols),
        }
    }

    /// Index of lane 0 of block `b`, tile `(ty, tx)` in a row of `cols` product columns.
    fn column(&self, b: usize, ty: usize, tx: usize) -> usize {
        ((b * self.th + ty) * self.tw + tx) * LANES
    }

    /// `V = Bᵀ d B` of every input tile of block `b`'s phase planes, into `v` (`[ξ][k][cols]`).
    fn transform_inputs(&self, planes: &[f32], v: &mut [f32], cols: usize, b: usize, layout: Layout) {
        let k_all = self.channel_phases();
        vectorized(|| {
            for k in 0..k_all {
                for ty in 0..self.th {
                    for tx in 0..self.tw {
                        let mut d: Block<SPAN, SPAN> = [[[0.0; LANES]; SPAN]; SPAN];
                        for (i, row) in d.iter_mut().enumerate() {
                            let at = self.plane_at(k, TILE * ty + i, TILE * tx);
                            for (j, value) in row.iter_mut().enumerate() {
                                *value = planes[at + j * LANES..][..LANES].try_into().expect("8 lanes");
                            }
                        }
                        let t = both_axes::<SPAN, SPAN, Input>(&d);
                        let at = Self::at(layout, k, self.column(b, ty, tx), k_all, cols);
                        store_positions(&t, v, k_all * cols, at);
                    }
                }
            }
        });
    }

    /// `Y = Aᵀ M A` of every tile of block `b` from `m` (`[ξ][c_out][cols]`), with `epilogue`
    /// applied to each value, written into `lanes`, the block's output images side by side
    /// ([`interleave`]); outputs past the image are dropped.
    fn transform_outputs(
        &self,
        m: &[f32],
        (cols, b, c_out, epilogue): (usize, usize, usize, Epilogue),
        lanes: &mut [f32],
    ) {
        vectorized(|| {
            for o in 0..c_out {
                let finish = epilogue.channel(o);
                for ty in 0..self.th {
                    for tx in 0..self.tw {
                        let mt = load_positions(m, c_out * cols, o * cols + self.column(b, ty, tx));
                        let y = both_axes::<SPAN, TILE, Output>(&mt);
                        for (i, row) in y.iter().enumerate() {
                            let oy = TILE * ty + i;
                            if oy >= self.oh {
                                break;
                            }
                            for (j, value) in row.iter().enumerate() {
                                let ox = TILE * tx + j;
                                if ox >= self.ow {
                                    break;
                                }
                                let at = ((o * self.oh + oy) * self.ow + ox) * LANES;
                                let lanes = &mut lanes[at..at + LANES];
                                lanes.copy_from_slice(value);
                                finish.finish(lanes);
                            }
                        }
                    }
                }
            }
        });
    }

    /// `dM = A dY Aᵀ` of every tile of block `b`'s output gradients, `lanes` (its images
    /// `[c_out, oh, ow]` side by side, [`interleave`]; zero past the image), into `dm`
    /// (`[ξ][c_out][cols]`).
    fn transform_gradients(&self, lanes: &[f32], c_out: usize, dm: &mut [f32], cols: usize, b: usize, layout: Layout) {
        vectorized(|| {
            for o in 0..c_out {
                for ty in 0..self.th {
                    for tx in 0..self.tw {
                        let mut dy: Block<TILE, TILE> = [[[0.0; LANES]; TILE]; TILE];
                        for (i, row) in dy.iter_mut().enumerate().take(self.oh - TILE * ty) {
                            let line = (o * self.oh + TILE * ty + i) * self.ow + TILE * tx;
                            for (j, value) in row.iter_mut().enumerate().take(self.ow - TILE * tx) {
                                *value = lanes[(line + j) * LANES..][..LANES].try_into().expect("8 lanes");
                            }
                        }
                        let t = both_axes::<TILE, SPAN, OutputAdjoint>(&dy);
                        let at = Self::at(layout, o, self.column(b, ty, tx), c_out, cols);
                        store_positions(&t, dm, c_out * cols, at);
                    }
                }
            }
        });
    }

    /// `dD = B dV Bᵀ` of every tile of block `b` from `dv` (`[ξ][k][cols]`), summed into the
    /// block's phase planes, whose previous contents are overwritten. The tiles cover every
    /// plane position (`plane_h = 4·th + 1`), and neighbours share their edge row or column: in
    /// the order below, a tile's first row (column) was written by the tile above (to the left)
    /// unless it is in the first tile row (column), so each position's first value is stored,
    /// plus zero (so that a −0 becomes +0, the bits of a sum from zeroed planes), and later ones
    /// added. (Zeroing the planes for each block first was 1.7% of a conv-AE training step.)
    fn add_input_gradients(&self, dv: &[f32], cols: usize, b: usize, planes: &mut [f32]) {
        let k_all = self.channel_phases();
        vectorized(|| {
            for k in 0..k_all {
                for ty in 0..self.th {
                    for tx in 0..self.tw {
                        let t = load_positions(dv, k_all * cols, k * cols + self.column(b, ty, tx));
                        let dd = both_axes::<SPAN, SPAN, InputAdjoint>(&t);
                        for (i, row) in dd.iter().enumerate() {
                            for (j, value) in row.iter().enumerate() {
                                let at = self.plane_at(k, TILE * ty + i, TILE * tx + j);
                                let dst: &mut Lanes = (&mut planes[at..at + LANES]).try_into().expect("8 lanes");
                                let first = (i > 0 || ty == 0) && (j > 0 || tx == 0);
                                *dst = add(if first { [0.0; LANES] } else { *dst }, *value);
                            }
                        }
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array4, ArrayView4};

    use super::super::{
        ConvOptions, Geometry, backward_input_in_chunks, backward_weight_in_chunks, conv_transpose2d_backward, conv2d,
        conv2d_backward, conv2d_backward_input, conv2d_backward_weight, conv2d_in_chunks, winograd_gradients,
        written_by,
    };
    use super::*;
    use crate::kernels::test_util::Lcg;

    /// `(c_in, c_out, (h, w), padding)`: DCGAN's 64→128-channel layer, odd and uneven sides, no
    /// padding, padding 2, and a side that leaves image pixels no window reads.
    const GEOS: &[(usize, usize, (usize, usize), usize)] = &[
        (64, 128, (14, 14), 1),
        (8, 32, (28, 28), 1),
        (9, 33, (15, 13), 1),
        (8, 32, (10, 12), 0),
        (8, 32, (9, 11), 2),
        (12, 40, (7, 9), 1),
    ];

    fn setup(c_in: usize, c_out: usize, hw: (usize, usize), pad: usize) -> (Geometry, Winograd, ConvOptions) {
        let spec = ConvOptions::new(2, pad);
        let geo = Geometry::new(c_in, hw, (4, 4), spec).expect("geometry");
        let fast = Winograd::new(&geo, c_out).expect("the Winograd path applies");
        (geo, fast, spec)
    }

    /// The three passes through the Winograd path of `geo`.
    fn passes(
        fast: &Winograd,
        geo: &Geometry,
        x: ArrayView4<f32>,
        w: ArrayView4<f32>,
        g: ArrayView4<f32>,
    ) -> (Array4<f32>, Array4<f32>, Array2<f32>) {
        let (n, c_out) = (x.dim().0, w.dim().0);
        let (x_s, w_s, g_s) = (x.as_slice().unwrap(), w.as_slice().unwrap(), g.as_slice().unwrap());
        // SAFETY: both passes write every element of their output.
        let y =
            unsafe { written_by((n, c_out, geo.oh, geo.ow), |out| fast.forward(x_s, w_s, Epilogue::NONE, c_out, out)) };
        let gx = unsafe { written_by(x.dim(), |out| fast.backward_input(w_s, g_s, Epilogue::NONE, c_out, out)) };
        let gw = fast.backward_weight(x.as_slice().unwrap(), g.as_slice().unwrap(), c_out);
        (y, gx, gw)
    }

    /// Asserts that `got` is within rounding of `want`: every difference at most `2·10⁻⁵` of
    /// the root mean square of `want` (the size of the sums' terms sets their rounding, not each
    /// output's own size).
    fn assert_near(got: &[f32], want: &[f32], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        let rms = (want.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / want.len().max(1) as f64).sqrt();
        let worst = got.iter().zip(want).map(|(&a, &b)| f64::from(a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= 5e-5 * rms, "{what}: a difference of {worst} against an rms of {rms}");
    }

    #[test]
    fn transforms_compute_a_two_tap_correlation() {
        // y = Aᵀ[(G g) ⊙ (Bᵀ d)] must be y_i = g_0·d_i + g_1·d_(i+1), for each basis g and d.
        for (gi, di) in (0..2).flat_map(|gi| (0..SPAN).map(move |di| (gi, di))) {
            let (g, d) = (
                [f64::from(u8::from(gi == 0)), f64::from(u8::from(gi == 1))],
                std::array::from_fn::<f64, SPAN, _>(|j| f64::from(u8::from(j == di))),
            );
            for (i, at) in AT.iter().enumerate() {
                let got: f64 = (0..SPAN)
                    .map(|p| {
                        let gp = G[p][0] * g[0] + G[p][1] * g[1];
                        let dp: f64 = (0..SPAN).map(|l| f64::from(BT[p][l]) * d[l]).sum();
                        f64::from(at[p]) * gp * dp
                    })
                    .sum();
                let want = g[0] * d[i] + g[1] * d[i + 1];
                assert!((got - want).abs() < 1e-12, "g{gi} d{di} y{i}: {got} vs {want}");
            }
        }
    }

    /// `m · x` for a matrix and a vector of lanes (lane 0 only is compared).
    fn times<const R: usize, const C: usize>(m: &[[f32; C]; R], column: usize) -> [f32; R] {
        std::array::from_fn(|i| m[i][column])
    }

    #[test]
    fn written_out_transforms_are_the_matrices() {
        fn unit<const N: usize>(l: usize) -> [Lanes; N] {
            std::array::from_fn(|i| [if i == l { 1.0 } else { 0.0 }; LANES])
        }
        fn lane0<const N: usize>(x: [Lanes; N]) -> [f32; N] {
            x.map(|v| v[0])
        }
        for l in 0..SPAN {
            assert_eq!(lane0(input_1d(unit(l))), times(&BT, l), "Bᵀ column {l}");
            assert_eq!(lane0(input_1d_adjoint(unit(l))), times(&B, l), "B column {l}");
            assert_eq!(lane0(output_1d(unit(l))), times(&AT, l), "Aᵀ column {l}");
        }
        for l in 0..TILE {
            assert_eq!(lane0(output_1d_adjoint(unit(l))), times(&A, l), "A column {l}");
        }
    }

    /// Both layouts of the products (GEMM on rows, and the `panels` kernel where it runs), in
    /// every pass, against im2col.
    #[test]
    fn matches_im2col_in_every_pass() {
        let mut rng = Lcg::new(11);
        let layouts = if panels::available() { vec![Layout::Rows, Layout::Panels] } else { vec![Layout::Rows] };
        for (&(c_in, c_out, hw, pad), layout) in GEOS.iter().flat_map(|geo| layouts.iter().map(move |&l| (geo, l))) {
            for n in [1, 5, 8, 13, 17] {
                let (geo, fast, _) = setup(c_in, c_out, hw, pad);
                let fast = Winograd { layout, ..fast };
                let x = rng.array4((n, c_in, hw.0, hw.1));
                let w = rng.array4((c_out, c_in, 4, 4));
                let g = rng.array4((n, c_out, geo.oh, geo.ow));
                let (y, gx, gw) = passes(&fast, &geo, x.view(), w.view(), g.view());
                let what = format!("{c_in}→{c_out} {hw:?} pad {pad} n {n} {layout:?}");
                let chunk = geo.chunk_items(n, c_out);
                let y_ref = conv2d_in_chunks(x.view(), w.view(), &geo, chunk);
                assert_near(y.as_slice().unwrap(), y_ref.as_slice().unwrap(), &format!("forward {what}"));
                let gx_ref = backward_input_in_chunks(w.view(), g.view(), &geo, chunk);
                assert_near(gx.as_slice().unwrap(), gx_ref.as_slice().unwrap(), &format!("grad x {what}"));
                let gw_ref = backward_weight_in_chunks(x.view(), g.view(), &geo, chunk);
                assert_near(gw.as_slice().unwrap(), gw_ref.as_slice().unwrap(), &format!("grad w {what}"));
                // Either companion of the weight-gradient pass gives its own pass's bits.
                let operands = (x.view(), g.view(), w.view());
                let (gx_fused, with_gx) = winograd_gradients(&fast, operands, c_out, x.dim(), |w, grad_x| {
                    Companion::InputGradient { w, grad_x }
                });
                let (y_fused, with_y) =
                    winograd_gradients(&fast, operands, c_out, y.dim(), |w, out| Companion::Forward { w, out });
                assert_eq!(gx_fused, gx, "input-gradient companion {what}");
                assert_eq!(y_fused, y, "forward companion {what}");
                assert_eq!(with_gx, gw, "weight gradient with the input gradient {what}");
                assert_eq!(with_y, gw, "weight gradient with the forward pass {what}");
            }
        }
    }

    #[test]
    fn public_functions_take_this_path() {
        let (c_in, c_out, hw, pad) = GEOS[2];
        let (geo, fast, spec) = setup(c_in, c_out, hw, pad);
        let mut rng = Lcg::new(5);
        let x = rng.array4((3, c_in, hw.0, hw.1));
        let w = rng.array4((c_out, c_in, 4, 4));
        let g = rng.array4((3, c_out, geo.oh, geo.ow));
        let (y, gx, gw) = passes(&fast, &geo, x.view(), w.view(), g.view());
        assert_eq!(conv2d(x.view(), w.view(), spec), y);
        assert_eq!(conv2d_backward_input(w.view(), g.view(), hw, spec), gx);
        assert_eq!(
            conv2d_backward_weight(x.view(), g.view(), (4, 4), spec).into_shape_with_order(gw.dim()).unwrap(),
            gw
        );
    }

    #[test]
    fn reused_scratch_leaves_no_trace() {
        // On one thread every call reuses the same scratch buffers, and every call the pooled
        // ones, left dirty by the previous geometry's passes: the results must not depend on
        // the order of the calls.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let mut rng = Lcg::new(3);
        let cases: Vec<_> = GEOS
            .iter()
            .map(|&(c_in, c_out, hw, pad)| {
                let (geo, fast, _) = setup(c_in, c_out, hw, pad);
                let x = rng.array4((9, c_in, hw.0, hw.1));
                let w = rng.array4((c_out, c_in, 4, 4));
                let g = rng.array4((9, c_out, geo.oh, geo.ow));
                (geo, fast, x, w, g)
            })
            .collect();
        let run = |order: Vec<usize>| {
            let mut results: Vec<_> = (0..cases.len()).map(|_| None).collect();
            pool.install(|| {
                for i in order {
                    let (geo, fast, x, w, g) = &cases[i];
                    results[i] = Some(passes(fast, geo, x.view(), w.view(), g.view()));
                }
            });
            results
        };
        let forward = run((0..cases.len()).collect());
        let backward = run((0..cases.len()).rev().collect());
        assert_eq!(forward, backward);
    }

    #[test]
    fn fused_gradients_equal_the_separate_passes() {
        let (c_in, c_out, hw, pad) = GEOS[2];
        let (geo, _, spec) = setup(c_in, c_out, hw, pad);
        let mut rng = Lcg::new(9);
        let n = 21; // several chunks, and a partial block
        let x = rng.array4((n, c_in, hw.0, hw.1));
        let w = rng.array4((c_out, c_in, 4, 4));
        let g = rng.array4((n, c_out, geo.oh, geo.ow));
        let (gx, gw) = conv2d_backward(x.view(), w.view(), g.view(), spec);
        assert_eq!(gx, conv2d_backward_input(w.view(), g.view(), hw, spec));
        assert_eq!(gw, conv2d_backward_weight(x.view(), g.view(), (4, 4), spec));
        // The transposed convolution with the same weight maps g-shaped inputs to x-shaped outputs
        // (odd sides: with an output padding of 1).
        let (gx, gw) = conv_transpose2d_backward(g.view(), w.view(), x.view(), spec.output_padding(1));
        assert_eq!(gx, conv2d(x.view(), w.view(), spec));
        assert_eq!(gw, conv2d_backward_weight(x.view(), g.view(), (4, 4), spec));
    }

    #[test]
    fn results_do_not_depend_on_threads_or_batch_mates() {
        let (c_in, c_out, hw, pad) = GEOS[1];
        let (geo, fast, _) = setup(c_in, c_out, hw, pad);
        let n = 40; // several chunks and weight groups
        assert!(fast.chunk_images(n, c_out) < n);
        let mut rng = Lcg::new(7);
        let x = rng.array4((n, c_in, hw.0, hw.1));
        let w = rng.array4((c_out, c_in, 4, 4));
        let g = rng.array4((n, c_out, geo.oh, geo.ow));
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| passes(&fast, &geo, x.view(), w.view(), g.view()))
        };
        let one = run(1);
        for threads in [2, 3] {
            let other = run(threads);
            let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits());
            assert!(same(one.0.as_slice().unwrap(), other.0.as_slice().unwrap()), "forward, {threads} threads");
            assert!(same(one.1.as_slice().unwrap(), other.1.as_slice().unwrap()), "grad x, {threads} threads");
            assert!(same(one.2.as_slice().unwrap(), other.2.as_slice().unwrap()), "grad w, {threads} threads");
        }
        // An image's output and input gradient alone equal its share of the batch's.
        let b = 21;
        let (x1, g1) = (
            x.slice(ndarray::s![b..b + 1, .., .., ..]).to_owned(),
            g.slice(ndarray::s![b..b + 1, .., .., ..]).to_owned(),
        );
        let alone = passes(&fast, &geo, x1.view(), w.view(), g1.view());
        let bits =
            |a: ArrayView4<f32>, b: ArrayView4<f32>| a.iter().zip(b.iter()).all(|(p, q)| p.to_bits() == q.to_bits());
        assert!(bits(alone.0.view(), one.0.slice(ndarray::s![b..b + 1, .., .., ..])));
        assert!(bits(alone.1.view(), one.1.slice(ndarray::s![b..b + 1, .., .., ..])));
    }

    #[test]
    fn applies_only_to_wide_four_by_four_stride_two_layers() {
        let geo = |c_in, k, s| Geometry::new(c_in, (14, 14), (k, k), ConvOptions::new(s, 1)).unwrap();
        assert!(Winograd::new(&geo(8, 4, 2), 32).is_some());
        assert!(Winograd::new(&geo(1, 4, 2), 64).is_none(), "one input channel");
        assert!(Winograd::new(&geo(64, 4, 2), 1).is_none(), "one output channel");
        assert!(Winograd::new(&geo(64, 3, 2), 64).is_none(), "3×3 kernel");
        assert!(Winograd::new(&geo(64, 4, 1), 64).is_none(), "stride 1");
    }
}
