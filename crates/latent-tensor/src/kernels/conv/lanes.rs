//! Eight images side by side, one per vector lane — the layout the Winograd transforms work in
//! (`[i][lane]`: element `i` of every image, then element `i + 1`) — to and from the images'
//! own layout (`[image][i]`).
//!
//! # Why
//! The transforms load and store an element of eight images as one vector. Gathering those
//! eight values one at a time (and scattering them back) took ~2.4 cycles an element: 77 µs a
//! block of eight images of DCGAN's 64→128-channel layer, 1.2 ms of its 14 ms forward pass on
//! one thread, and as much again on the output side.
//!
//! # How
//! An 8×8 block (8 consecutive elements of the 8 images) is loaded as 8 vectors, transposed in
//! registers (three rounds of AVX shuffles) and stored as 8 vectors, on x86-64 CPUs with AVX;
//! elements past the last whole block, and other CPUs, go one at a time. Only values move, so
//! both ways give the same bits; the tests check them against each other.

use std::mem::MaybeUninit;

/// Images side by side: the lanes of a vector of `f32` with AVX.
pub(super) const LANES: usize = 8;

/// `lanes[i·8 + z] = images[z·len + i]` for the `images.len() / len` (at most 8) contiguous
/// images `z` of `len` elements, and 0 in the lanes past them.
///
/// # Panics
/// If there are more than 8 images, `images` is not whole images, or `lanes` is shorter than
/// `8·len`.
pub(super) fn interleave(images: &[f32], len: usize, lanes: &mut [f32]) {
    let count = check(images.len(), len, lanes.len());
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX; `check` bounded every index the function uses.
        unsafe { avx::interleave(images, len, count, lanes) };
        return;
    }
    interleave_from(0, images, len, count, lanes);
}

/// `images[z·len + i] = lanes[i·8 + z]` for the `images.len() / len` (at most 8) contiguous
/// images `z` of `len` elements: the inverse of [`interleave`]. Every element of `images` is
/// written (so it may be uninitialised memory).
///
/// # Panics
/// As [`interleave`].
pub(super) fn deinterleave(lanes: &[f32], len: usize, images: &mut [MaybeUninit<f32>]) {
    let count = check(images.len(), len, lanes.len());
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX; `check` bounded every index the function uses.
        unsafe { avx::deinterleave(lanes, len, count, images) };
        return;
    }
    deinterleave_from(0, lanes, len, count, images);
}

/// The image count, after checking the lengths (see [`interleave`]).
fn check(images: usize, len: usize, lanes: usize) -> usize {
    let count = images.checked_div(len).unwrap_or(0);
    assert!(count <= LANES && count * len == images, "lanes: {images} values are not up to 8 images of {len}");
    assert!(lanes >= LANES * len, "lanes: a buffer of {lanes} for 8 images of {len}");
    count
}

/// [`interleave`] one element at a time, from element `start` on.
fn interleave_from(start: usize, images: &[f32], len: usize, count: usize, lanes: &mut [f32]) {
    for (i, element) in lanes[..LANES * len].chunks_exact_mut(LANES).enumerate().skip(start) {
        for (z, lane) in element.iter_mut().enumerate() {
            *lane = if z < count { images[z * len + i] } else { 0.0 };
        }
    }
}

/// [`deinterleave`] one element at a time, from element `start` on.
fn deinterleave_from(start: usize, lanes: &[f32], len: usize, count: usize, images: &mut [MaybeUninit<f32>]) {
    for (i, element) in lanes[..LANES * len].chunks_exact(LANES).enumerate().skip(start) {
        for (z, &lane) in element.iter().enumerate().take(count) {
            images[z * len + i].write(lane);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use super::{LANES, deinterleave_from, interleave_from};

    /// The transpose of the 8×8 matrix whose rows are `r`.
    #[target_feature(enable = "avx")]
    fn transpose(r: [__m256; 8]) -> [__m256; 8] {
        // Pairs of rows interleaved, then pairs of pairs, then the 128-bit halves swapped.
        let t = [
            _mm256_unpacklo_ps(r[0], r[1]),
            _mm256_unpackhi_ps(r[0], r[1]),
            _mm256_unpacklo_ps(r[2], r[3]),
            _mm256_unpackhi_ps(r[2], r[3]),
            _mm256_unpacklo_ps(r[4], r[5]),
            _mm256_unpackhi_ps(r[4], r[5]),
            _mm256_unpacklo_ps(r[6], r[7]),
            _mm256_unpackhi_ps(r[6], r[7]),
        ];
        let s = [
            _mm256_shuffle_ps::<0x44>(t[0], t[2]),
            _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
            _mm256_shuffle_ps::<0x44>(t[1], t[3]),
            _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
            _mm256_shuffle_ps::<0x44>(t[4], t[6]),
            _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
            _mm256_shuffle_ps::<0x44>(t[5], t[7]),
            _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
        ];
        [
            _mm256_permute2f128_ps::<0x20>(s[0], s[4]),
            _mm256_permute2f128_ps::<0x20>(s[1], s[5]),
            _mm256_permute2f128_ps::<0x20>(s[2], s[6]),
            _mm256_permute2f128_ps::<0x20>(s[3], s[7]),
            _mm256_permute2f128_ps::<0x31>(s[0], s[4]),
            _mm256_permute2f128_ps::<0x31>(s[1], s[5]),
            _mm256_permute2f128_ps::<0x31>(s[2], s[6]),
            _mm256_permute2f128_ps::<0x31>(s[3], s[7]),
        ]
    }

    /// [`super::interleave`] with AVX.
    ///
    /// # Safety
    /// The CPU must have AVX; `count ≤ 8`, `images.len() ≥ count·len`, `lanes.len() ≥ 8·len`.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn interleave(images: &[f32], len: usize, count: usize, lanes: &mut [f32]) {
        let blocks = len / LANES;
        for block in 0..blocks {
            let i = block * LANES;
            // SAFETY: rows z < count read images[z·len + i .. + 8] with i + 8 ≤ len; the
            // stores write lanes[(i + j)·8 .. + 8] with i + j < len.
            unsafe {
                let rows = std::array::from_fn(|z| {
                    if z < count { _mm256_loadu_ps(images.as_ptr().add(z * len + i)) } else { _mm256_setzero_ps() }
                });
                for (j, column) in transpose(rows).into_iter().enumerate() {
                    _mm256_storeu_ps(lanes.as_mut_ptr().add((i + j) * LANES), column);
                }
            }
        }
        interleave_from(blocks * LANES, images, len, count, lanes);
    }

    /// [`super::deinterleave`] with AVX.
    ///
    /// # Safety
    /// As [`interleave`], with `images` written.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn deinterleave(lanes: &[f32], len: usize, count: usize, images: &mut [MaybeUninit<f32>]) {
        let blocks = len / LANES;
        for block in 0..blocks {
            let i = block * LANES;
            // SAFETY: as in `interleave`, with the loads and stores exchanged.
            unsafe {
                let columns = std::array::from_fn(|j| _mm256_loadu_ps(lanes.as_ptr().add((i + j) * LANES)));
                for (z, row) in transpose(columns).into_iter().enumerate().take(count) {
                    _mm256_storeu_ps(images.as_mut_ptr().add(z * len + i).cast::<f32>(), row);
                }
            }
        }
        deinterleave_from(blocks * LANES, lanes, len, count, images);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ways_match_the_definition_and_the_scalar_path() {
        for len in [0, 1, 7, 8, 9, 23, 64] {
            for count in 0..=LANES {
                let images: Vec<f32> = (0..count * len).map(|i| i as f32 + 0.5).collect();
                let mut lanes = vec![f32::NAN; LANES * len + 3];
                interleave(&images, len, &mut lanes);
                let mut scalar = vec![f32::NAN; LANES * len + 3];
                interleave_from(0, &images, len, count, &mut scalar);
                for i in 0..len {
                    for z in 0..LANES {
                        let want = if z < count { images[z * len + i] } else { 0.0 };
                        assert_eq!(lanes[i * LANES + z], want, "len {len}, count {count}, ({i}, {z})");
                        assert_eq!(scalar[i * LANES + z], want);
                    }
                }
                assert!(lanes[LANES * len..].iter().all(|v| v.is_nan()), "wrote past 8·len");
                // SAFETY: every element of `back` was initialised (with −1).
                let values =
                    |back: &[MaybeUninit<f32>]| back.iter().map(|v| unsafe { v.assume_init() }).collect::<Vec<_>>();
                let mut back = vec![MaybeUninit::new(-1.0); count * len];
                deinterleave(&lanes, len, &mut back);
                assert_eq!(values(&back), images, "len {len}, count {count}");
                let mut back = vec![MaybeUninit::new(-1.0); count * len];
                deinterleave_from(0, &lanes, len, count, &mut back);
                assert_eq!(values(&back), images);
            }
        }
    }

    #[test]
    #[should_panic(expected = "not up to 8 images")]
    fn rejects_more_than_eight_images() {
        interleave(&[0.0; 9], 1, &mut [0.0; 8]);
    }

    #[test]
    #[should_panic(expected = "a buffer of")]
    fn rejects_a_short_buffer() {
        interleave(&[0.0; 4], 2, &mut [0.0; 15]);
    }
}
