//! Element-wise maps of one, two or three same-shaped arrays into a new array: vectorised, and
//! parallel when the array is large and the pool has more than one thread.
//!
//! Every element-wise op and most backward rules are such a map, so this is where they get fast:
//! - Contiguous inputs (the usual case) are walked as slices by a loop compiled twice, for the
//!   baseline instruction set and with AVX2 enabled, chosen at run time; with the branch-free
//!   functions of [`super::vmath`] inside, the AVX2 loop works on 8 elements per instruction.
//!   Both compilations perform the same IEEE operations, so they give the same bits.
//! - The output is written once, never zero-filled first.
//! - Arrays of at least [`PARALLEL_MIN_LEN`] elements are cut into fixed-size chunks over the
//!   rayon pool, but only if the pool has more than one thread (with one, handing the work to
//!   the pool would only add a thread switch). Each element is computed the same way wherever it
//!   runs, so results do not depend on the thread count.
//! - Other layouts (transposed or broadcast views) fall back to an `ndarray::Zip`.
//!
//! For the element function to be inlined into the AVX2 loop (and so vectorised), pass a closure
//! marked `#[inline(always)]` when its body is more than a few operations: the compiler declines
//! to inline a large closure, or a function item called through the `Fn` trait, on its own, and
//! the loop then makes one scalar call per element.

use std::mem::MaybeUninit;

use ndarray::{ArrayD, ArrayViewD, IxDyn, Zip};
use rayon::prelude::*;

/// Element counts at or above this are mapped in parallel (below it, rayon costs more than it saves).
pub const PARALLEL_MIN_LEN: usize = 1 << 15;

/// Elements per parallel task.
const CHUNK: usize = 1 << 14;

/// Whether an array of `len` elements is worth splitting over the current pool.
pub fn worth_parallel(len: usize) -> bool {
    len >= PARALLEL_MIN_LEN && rayon::current_num_threads() > 1
}

/// `f` applied to every element of `a`.
pub fn map1(a: &ArrayViewD<f32>, f: impl Fn(f32) -> f32 + Sync + Send) -> ArrayD<f32> {
    match a.as_slice() {
        Some(x) => from_slices(
            a.shape(),
            x.len(),
            #[inline(always)]
            |start, out| {
                let x = &x[start..start + out.len()];
                dispatch(
                    out,
                    #[inline(always)]
                    |o: &mut [MaybeUninit<f32>]| {
                        for (o, &x) in o.iter_mut().zip(x) {
                            o.write(f(x));
                        }
                    },
                )
            },
        ),
        None => {
            let zip = Zip::from(a);
            if worth_parallel(a.len()) { zip.par_map_collect(|&x| f(x)) } else { zip.map_collect(|&x| f(x)) }
        }
    }
}

/// `f` applied element-wise to `a` and `b`, which have the same shape.
///
/// # Panics
/// If the shapes differ.
pub fn map2(a: &ArrayViewD<f32>, b: &ArrayViewD<f32>, f: impl Fn(f32, f32) -> f32 + Sync + Send) -> ArrayD<f32> {
    assert_eq!(a.shape(), b.shape(), "map2: shapes differ");
    match (a.as_slice(), b.as_slice()) {
        (Some(x), Some(y)) => from_slices(
            a.shape(),
            x.len(),
            #[inline(always)]
            |start, out| {
                let (x, y) = (&x[start..start + out.len()], &y[start..start + out.len()]);
                dispatch(
                    out,
                    #[inline(always)]
                    |o: &mut [MaybeUninit<f32>]| {
                        for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
                            o.write(f(x, y));
                        }
                    },
                )
            },
        ),
        _ => {
            let zip = Zip::from(a).and(b);
            if worth_parallel(a.len()) {
                zip.par_map_collect(|&x, &y| f(x, y))
            } else {
                zip.map_collect(|&x, &y| f(x, y))
            }
        }
    }
}

/// `f` applied element-wise to `a`, `b` and `c`, which have the same shape.
///
/// # Panics
/// If the shapes differ.
pub fn map3(
    a: &ArrayViewD<f32>,
    b: &ArrayViewD<f32>,
    c: &ArrayViewD<f32>,
    f: impl Fn(f32, f32, f32) -> f32 + Sync + Send,
) -> ArrayD<f32> {
    assert!(a.shape() == b.shape() && a.shape() == c.shape(), "map3: shapes differ");
    match (a.as_slice(), b.as_slice(), c.as_slice()) {
        (Some(x), Some(y), Some(z)) => from_slices(
            a.shape(),
            x.len(),
            #[inline(always)]
            |start, out| {
                let end = start + out.len();
                let (x, y, z) = (&x[start..end], &y[start..end], &z[start..end]);
                dispatch(
                    out,
                    #[inline(always)]
                    |o: &mut [MaybeUninit<f32>]| {
                        for (((o, &x), &y), &z) in o.iter_mut().zip(x).zip(y).zip(z) {
                            o.write(f(x, y, z));
                        }
                    },
                )
            },
        ),
        _ => {
            let zip = Zip::from(a).and(b).and(c);
            if worth_parallel(a.len()) {
                zip.par_map_collect(|&x, &y, &z| f(x, y, z))
            } else {
                zip.map_collect(|&x, &y, &z| f(x, y, z))
            }
        }
    }
}

/// `a[i] = f(a[i])` for every element of `a`, in place: [`map1`]'s values without a new array.
pub fn update1(a: &mut ArrayD<f32>, f: impl Fn(f32) -> f32 + Sync + Send) {
    let parallel = worth_parallel(a.len());
    match a.as_slice_mut() {
        Some(x) if parallel => x.par_chunks_mut(CHUNK).for_each(|x| update_slice1(x, &f)),
        Some(x) => update_slice1(x, &f),
        None if parallel => a.par_mapv_inplace(f),
        None => a.mapv_inplace(f),
    }
}

/// `a[i] = f(a[i], b[i])` for every element of `a`, in place, where `b` has `a`'s shape:
/// [`map2`]'s values without a new array. Backward rules use it to scale the output's gradient,
/// which they own, by a local derivative.
///
/// # Panics
/// If the shapes differ.
pub fn update2(a: &mut ArrayD<f32>, b: &ArrayViewD<f32>, f: impl Fn(f32, f32) -> f32 + Sync + Send) {
    assert_eq!(a.shape(), b.shape(), "update2: shapes differ");
    let parallel = worth_parallel(a.len());
    if let (Some(x), Some(y)) = (a.as_slice_mut(), b.as_slice()) {
        if parallel {
            x.par_chunks_mut(CHUNK).zip(y.par_chunks(CHUNK)).for_each(|(x, y)| update_slice2(x, y, &f));
        } else {
            update_slice2(x, y, &f);
        }
        return;
    }
    let zip = Zip::from(a).and(b);
    if parallel {
        zip.par_for_each(|x, &y| *x = f(*x, y));
    } else {
        zip.for_each(|x, &y| *x = f(*x, y));
    }
}

/// The loop of [`update1`] over a slice, vectorised.
#[inline(always)]
fn update_slice1(x: &mut [f32], f: &impl Fn(f32) -> f32) {
    vectorized(
        #[inline(always)]
        || x.iter_mut().for_each(|x| *x = f(*x)),
    )
}

/// The loop of [`update2`] over slices of equal length, vectorised.
#[inline(always)]
fn update_slice2(x: &mut [f32], y: &[f32], f: &impl Fn(f32, f32) -> f32) {
    vectorized(
        #[inline(always)]
        || {
            for (x, &y) in x.iter_mut().zip(y) {
                *x = f(*x, y);
            }
        },
    )
}

/// Shortest run worth [`map_runs`] (shorter runs cost more in loop overhead than they save).
pub const MIN_RUN: usize = 8;

/// `f(a, s)` element-wise where the standard-layout array `a` is `scalars.len()` equal
/// contiguous runs and `s` is the scalar of each run (a per-channel bias on `[n, c, h, w]`:
/// one scalar per `(n, c)`). `None` if `a` is not in standard layout or does not split into
/// that many runs.
pub fn map_runs(
    a: &ArrayViewD<f32>,
    scalars: &[f32],
    f: &(impl Fn(f32, f32) -> f32 + Sync + Send),
) -> Option<ArrayD<f32>> {
    let x = a.as_slice()?;
    if scalars.is_empty() || x.len() % scalars.len() != 0 {
        return None;
    }
    let run = (x.len() / scalars.len()).max(1);
    Some(from_runs(
        a.shape(),
        x.len(),
        run,
        #[inline(always)]
        |start, out| {
            let (x, s) = (&x[start..start + out.len()], scalars[start / run]);
            dispatch(
                out,
                #[inline(always)]
                |o: &mut [MaybeUninit<f32>]| {
                    for (o, &x) in o.iter_mut().zip(x) {
                        o.write(f(x, s));
                    }
                },
            )
        },
    ))
}

/// Runs the loop `body` over `out`, compiled with AVX2 when the CPU has it.
#[inline(always)]
fn dispatch(out: &mut [MaybeUninit<f32>], body: impl FnOnce(&mut [MaybeUninit<f32>])) {
    vectorized(
        #[inline(always)]
        move || body(out),
    )
}

/// Runs `f`, compiled with AVX2 enabled when the CPU has it (else as is), and returns its result.
///
/// The general mechanism behind the maps here, for loops elsewhere (an optimiser's update):
/// pass a closure marked `#[inline(always)]` whose body is the loop over slices, with the
/// element function inlined too, and the loop is vectorised 8 lanes wide. Same IEEE operations
/// either way, so the same bits.
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, the only requirement of `with_avx2`.
            return unsafe { with_avx2(f) };
        }
    }
    f()
}

/// `f()` compiled with AVX2 enabled, so that the loop inlined into it is vectorised 8-wide.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// A new standard-layout array of `shape` (`len` elements) whose contents `fill(start, out)`
/// writes, one chunk `out = [start, start + out.len())` at a time, in parallel when worth it.
fn from_slices(
    shape: &[usize],
    len: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync + Send,
) -> ArrayD<f32> {
    from_runs(shape, len, CHUNK, fill)
}

/// [`from_slices`] with chunks of `chunk` elements (the last may be shorter) when parallel, and
/// of `chunk` elements too when serial, so `fill` always sees whole chunks. `fill(start, out)`
/// must write every element of `out` (the output is never zeroed). Batch norm's passes use it
/// with one chunk per image.
pub(super) fn from_runs(
    shape: &[usize],
    len: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync + Send,
) -> ArrayD<f32> {
    let mut data: Vec<f32> = Vec::with_capacity(len);
    let out = &mut data.spare_capacity_mut()[..len];
    let chunk = chunk.max(1);
    if worth_parallel(len) {
        out.par_chunks_mut(chunk).enumerate().for_each(|(i, c)| fill(i * chunk, c));
    } else {
        out.chunks_mut(chunk).enumerate().for_each(|(i, c)| fill(i * chunk, c));
    }
    // SAFETY: `fill` wrote every element of the first `len` (each chunk covers its range once).
    unsafe { data.set_len(len) };
    ArrayD::from_shape_vec(IxDyn(shape), data).expect("length matches the shape")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, ArrayD, ShapeBuilder};

    fn ramp(shape: &[usize], scale: f32) -> ArrayD<f32> {
        let n: usize = shape.iter().product();
        Array::from_iter((0..n).map(|i| (i as f32 * 0.37).sin() * scale)).into_shape_with_order(IxDyn(shape)).unwrap()
    }

    #[test]
    fn contiguous_and_strided_inputs_give_the_same_values() {
        for shape in [vec![0], vec![7], vec![3, 5], vec![300, 257]] {
            let a = ramp(&shape, 3.0);
            let b = ramp(&shape, -2.0);
            let c = ramp(&shape, 0.5);
            let f1 = |x: f32| super::super::vmath::sigmoid(x) * 2.0;
            let want1 = a.mapv(f1);
            assert_eq!(map1(&a.view(), f1), want1);
            let want2 = Zip::from(&a).and(&b).map_collect(|&x, &y| x * y - y);
            assert_eq!(map2(&a.view(), &b.view(), |x, y| x * y - y), want2);
            let mut updated = a.clone();
            update1(&mut updated, f1);
            assert_eq!(updated, want1);
            let mut updated = a.clone();
            update2(&mut updated, &b.view(), |x, y| x * y - y);
            assert_eq!(updated, want2);
            let want3 = Zip::from(&a).and(&b).and(&c).map_collect(|&x, &y, &z| x + y * z);
            assert_eq!(map3(&a.view(), &b.view(), &c.view(), |x, y, z| x + y * z), want3);
            if shape.len() == 2 {
                // A transposed view takes the Zip path and must agree element by element.
                let t = map1(&a.t(), f1);
                assert_eq!(t, want1.t());
                let t2 = map2(&a.t(), &b.t(), |x, y| x * y - y);
                assert_eq!(t2, want2.t());
                // In place over an array in column-major order: the Zip path, element by element.
                let fortran = || {
                    let mut t = ArrayD::zeros(IxDyn(&[shape[1], shape[0]]).f());
                    t.assign(&a.t());
                    t
                };
                let mut updated = fortran();
                update1(&mut updated, f1);
                assert_eq!(updated, want1.t());
                let mut updated = fortran();
                update2(&mut updated, &b.t(), |x, y| x * y - y);
                assert_eq!(updated, want2.t());
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_the_pool_size() {
        let a = ramp(&[PARALLEL_MIN_LEN * 2 + 3], 10.0);
        let f = |x: f32| super::super::vmath::softplus(x);
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| map1(&a.view(), f))
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
        assert_eq!(one, a.mapv(f));
        let b = ramp(&[PARALLEL_MIN_LEN * 2 + 3], -1.0);
        let in_place = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let (mut x, mut y) = (a.clone(), a.clone());
            pool.install(|| {
                update1(&mut x, f);
                update2(&mut y, &b.view(), |x, y| f(x) * y);
            });
            (x, y)
        };
        let (x1, y1) = in_place(1);
        assert_eq!(x1, one);
        assert_eq!(y1, map2(&a.view(), &b.view(), |x, y| f(x) * y));
        assert_eq!((x1, y1), in_place(2));
    }
}
