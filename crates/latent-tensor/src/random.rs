//! Seeded random construction: uniform, normal and Bernoulli tensors, and permutations.
//!
//! [`TensorRng`] wraps ChaCha8, whose output is fixed by the seed on every platform, and whose
//! whole state ([`RngState`]) can be saved and restored, so a resumed training run draws exactly
//! the numbers the uninterrupted run would have drawn.

use ndarray::{ArrayD, IxDyn};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Result, TensorError};
use crate::tensor::Tensor;

/// A seeded random number generator for tensors.
#[derive(Clone, Debug)]
pub struct TensorRng {
    rng: ChaCha8Rng,
}

/// The complete state of a [`TensorRng`], for checkpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngState {
    /// The 32-byte ChaCha seed.
    pub seed: [u8; 32],
    /// The stream number.
    pub stream: u64,
    /// The position in the stream, in 32-bit words.
    pub word_pos: u128,
}

impl TensorRng {
    /// A generator seeded from a `u64`.
    pub fn seed_from_u64(seed: u64) -> Self {
        TensorRng { rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// The generator's full state.
    pub fn state(&self) -> RngState {
        RngState { seed: self.rng.get_seed(), stream: self.rng.get_stream(), word_pos: self.rng.get_word_pos() }
    }

    /// A generator in exactly the given state.
    pub fn from_state(state: RngState) -> Self {
        let mut rng = ChaCha8Rng::from_seed(state.seed);
        rng.set_stream(state.stream);
        rng.set_word_pos(state.word_pos);
        TensorRng { rng }
    }

    /// The underlying generator, for draws this type does not offer.
    pub fn inner(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Values uniform in `[low, high)`.
    ///
    /// # Errors
    /// If `low >= high` or either is not finite.
    pub fn uniform_array(&mut self, shape: &[usize], low: f32, high: f32) -> Result<ArrayD<f32>> {
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(TensorError::invalid("uniform", format!("need finite low < high, found [{low}, {high})")));
        }
        Ok(ArrayD::from_shape_simple_fn(IxDyn(shape), || self.rng.random_range(low..high)))
    }

    /// Values from a normal distribution with the given mean and standard deviation.
    ///
    /// # Errors
    /// If `std` is negative or either parameter is not finite.
    pub fn normal_array(&mut self, shape: &[usize], mean: f32, std: f32) -> Result<ArrayD<f32>> {
        if !(mean.is_finite() && std.is_finite() && std >= 0.0) {
            return Err(TensorError::invalid("normal", format!("need finite mean and std >= 0, found {mean}, {std}")));
        }
        Ok(ArrayD::from_shape_simple_fn(IxDyn(shape), || {
            let z: f32 = StandardNormal.sample(&mut self.rng);
            mean + std * z
        }))
    }

    /// Values that are 1 with probability `p`, else 0.
    ///
    /// # Errors
    /// If `p` is not in `[0, 1]`.
    pub fn bernoulli_array(&mut self, shape: &[usize], p: f32) -> Result<ArrayD<f32>> {
        if !(0.0..=1.0).contains(&p) {
            return Err(TensorError::invalid("bernoulli", format!("probability must be in [0, 1], found {p}")));
        }
        Ok(ArrayD::from_shape_simple_fn(IxDyn(shape), || if self.rng.random::<f32>() < p { 1.0 } else { 0.0 }))
    }

    /// A constant tensor uniform in `[low, high)`.
    ///
    /// # Errors
    /// As [`TensorRng::uniform_array`].
    pub fn uniform(&mut self, shape: &[usize], low: f32, high: f32) -> Result<Tensor> {
        self.uniform_array(shape, low, high).map(Tensor::new)
    }

    /// A constant tensor of standard normal values.
    pub fn randn(&mut self, shape: &[usize]) -> Tensor {
        Tensor::new(self.normal_array(shape, 0.0, 1.0).expect("valid parameters"))
    }

    /// A constant tensor from `N(mean, std²)`.
    ///
    /// # Errors
    /// As [`TensorRng::normal_array`].
    pub fn normal(&mut self, shape: &[usize], mean: f32, std: f32) -> Result<Tensor> {
        self.normal_array(shape, mean, std).map(Tensor::new)
    }

    /// A constant tensor of Bernoulli(`p`) draws.
    ///
    /// # Errors
    /// As [`TensorRng::bernoulli_array`].
    pub fn bernoulli(&mut self, shape: &[usize], p: f32) -> Result<Tensor> {
        self.bernoulli_array(shape, p).map(Tensor::new)
    }

    /// A uniformly random permutation of `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(&mut self.rng);
        idx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers_and_state_round_trips() {
        let mut a = TensorRng::seed_from_u64(7);
        let mut b = TensorRng::seed_from_u64(7);
        assert_eq!(a.randn(&[5]).to_vec(), b.randn(&[5]).to_vec());
        let saved = a.state();
        let next = a.uniform_array(&[4], 0.0, 1.0).unwrap();
        let mut c = TensorRng::from_state(saved);
        assert_eq!(c.uniform_array(&[4], 0.0, 1.0).unwrap(), next);
    }

    #[test]
    fn bad_parameters_are_errors() {
        let mut r = TensorRng::seed_from_u64(0);
        assert!(r.uniform_array(&[2], 1.0, 1.0).is_err());
        assert!(r.normal_array(&[2], 0.0, -1.0).is_err());
        assert!(r.bernoulli_array(&[2], 1.5).is_err());
    }

    #[test]
    fn bernoulli_frequency_is_close_to_p() {
        let mut r = TensorRng::seed_from_u64(3);
        let m = r.bernoulli_array(&[100_000], 0.3).unwrap().mean().unwrap();
        assert!((m - 0.3).abs() < 0.01, "{m}");
    }
}
