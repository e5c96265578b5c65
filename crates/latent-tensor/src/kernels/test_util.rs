//! Helpers shared by the kernel tests: a tiny seeded generator and a tolerance check.

use ndarray::{Array2, Array4, ArrayViewD, Dimension};

/// A 64-bit linear congruential generator: reproducible test data without a dependency.
pub(crate) struct Lcg(u64);

impl Lcg {
    /// A generator with the given seed.
    pub(crate) fn new(seed: u64) -> Self {
        Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1))
    }

    /// The next value, uniform in [-1, 1).
    pub(crate) fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// A uniform integer in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (((self.next() + 1.0) * 0.5 * n as f32) as usize).min(n - 1)
    }

    /// A `[rows, cols]` array of values in [-1, 1).
    pub(crate) fn array2(&mut self, rows: usize, cols: usize) -> Array2<f32> {
        Array2::from_shape_simple_fn((rows, cols), || self.next())
    }

    /// A 4-D array of values in [-1, 1).
    pub(crate) fn array4(&mut self, shape: (usize, usize, usize, usize)) -> Array4<f32> {
        Array4::from_shape_simple_fn(shape, || self.next())
    }
}

/// Asserts equal shapes and `|x - y| <= tol * (1 + |y|)` element-wise, naming the first offender.
pub(crate) fn assert_close(actual: ArrayViewD<f32>, expected: ArrayViewD<f32>, tol: f32, what: &str) {
    assert_eq!(actual.shape(), expected.shape(), "{what}: shapes differ");
    for ((idx, &x), &y) in actual.indexed_iter().zip(expected.iter()) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{what}: at {:?} got {x}, expected {y}", idx.slice());
    }
}
