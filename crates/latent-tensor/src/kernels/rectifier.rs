//! [`Rectifier`]: a ReLU or leaky ReLU that the op producing a tensor applies as it writes it.
//!
//! A convolution, linear layer or batch norm followed by a rectifier wrote its output, and the
//! rectifier then read it back and wrote a second array of the same size: 5% of a one-thread
//! conv-VAE step went to those passes. An op given a rectifier applies it to each value as it
//! finishes it instead (the Winograd, shallow and batch-norm kernels while the values are in
//! registers or cache; the other paths in place over their fresh output).
//!
//! The backward rule then needs the rectifier's derivative, and reads it from the *output*:
//! `y > 0` exactly when `x > 0`, for a ReLU and for a leaky ReLU with a slope of 0 or more (not
//! for a negative slope, which [`Rectifier::leaky`] refuses). The values and gradients are those
//! of the op followed by [`Tensor::relu`](crate::Tensor::relu) or
//! [`Tensor::leaky_relu`](crate::Tensor::leaky_relu), bit for bit: the same operations on the
//! same numbers.

use ndarray::ArrayD;

use super::elementwise::{update1, update2};

/// A ReLU, or a leaky ReLU with a slope of 0 or more: what an op can apply to its output as it
/// writes it (see [`Tensor::conv2d_rectified`](crate::Tensor::conv2d_rectified)).
///
/// ```
/// use latent_tensor::Rectifier;
///
/// assert_eq!(Rectifier::RELU.apply(-2.0), 0.0);
/// assert_eq!(Rectifier::leaky(0.2).unwrap().apply(-2.0), -0.4);
/// assert!(Rectifier::leaky(-1.0).is_none()); // its gradient could not be read from the output
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rectifier(Kind);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Relu,
    Leaky(f32),
}

impl Rectifier {
    /// `max(x, 0)`, as [`Tensor::relu`](crate::Tensor::relu).
    pub const RELU: Rectifier = Rectifier(Kind::Relu);

    /// `x` for `x > 0`, else `slope · x`, as [`Tensor::leaky_relu`](crate::Tensor::leaky_relu);
    /// `None` unless `slope` is 0 or more (a negative or NaN slope gives outputs whose sign does
    /// not tell which side of 0 the input was on).
    pub fn leaky(slope: f32) -> Option<Rectifier> {
        (slope >= 0.0).then_some(Rectifier(Kind::Leaky(slope)))
    }

    /// The leaky ReLU's slope, `None` for a ReLU.
    pub fn slope(self) -> Option<f32> {
        match self.0 {
            Kind::Relu => None,
            Kind::Leaky(slope) => Some(slope),
        }
    }

    /// The rectifier at `x` (the expressions of `relu` and `leaky_relu`, so the same bits).
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self.0 {
            Kind::Relu => x.max(0.0),
            Kind::Leaky(slope) => leaky(x, slope),
        }
    }

    /// Rectifies every value of `values` in place. Meant for short runs inside a kernel's
    /// vectorised loop (the choice of rectifier is made once per run).
    #[inline(always)]
    pub fn rectify(self, values: &mut [f32]) {
        match self.0 {
            Kind::Relu => values.iter_mut().for_each(|v| *v = v.max(0.0)),
            Kind::Leaky(slope) => values.iter_mut().for_each(|v| *v = leaky(*v, slope)),
        }
    }

    /// Rectifies a whole array in place, vectorised and parallel when large: for the kernels
    /// that cannot do it as they write.
    pub fn rectify_array(self, values: &mut ArrayD<f32>) {
        match self.0 {
            Kind::Relu => update1(values, |v| v.max(0.0)),
            Kind::Leaky(slope) => update1(values, move |v| leaky(v, slope)),
        }
    }

    /// `g ← g · f'(x)` in place, with `f'` read from the outputs `y` (`y > 0` exactly where
    /// `x > 0`): the products that `relu`'s and `leaky_relu`'s backward rules make.
    ///
    /// # Panics
    /// If the shapes differ.
    pub fn backward_in_place(self, g: &mut ArrayD<f32>, y: &ndarray::ArrayViewD<f32>) {
        let slope = self.slope().unwrap_or(0.0);
        update2(g, y, move |g, y| g * derivative(y, slope));
    }
}

/// The leaky ReLU's expression, `x` for `x > 0`, else `slope · x` (any slope: `leaky_relu` also
/// takes negative ones).
#[inline(always)]
pub(crate) fn leaky(x: f32, slope: f32) -> f32 {
    if x > 0.0 { x } else { slope * x }
}

/// The derivative of a ReLU (`slope` 0) or leaky ReLU at an input `x`, or at its output where
/// that has the input's sign: 1 for `x > 0`, else `slope`.
#[inline(always)]
pub(crate) fn derivative(x: f32, slope: f32) -> f32 {
    if x > 0.0 { 1.0 } else { slope }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_tells_the_side_of_zero_for_every_allowed_rectifier() {
        let inputs = [-f32::INFINITY, -3.0, -1e-45, -0.0, 0.0, 1e-45, 2.5, f32::INFINITY, f32::NAN];
        for r in [Rectifier::RELU, Rectifier::leaky(0.0).unwrap(), Rectifier::leaky(0.2).unwrap()] {
            for x in inputs {
                assert_eq!(r.apply(x) > 0.0, x > 0.0, "{r:?} at {x}");
            }
        }
        assert!(Rectifier::leaky(f32::NAN).is_none());
        assert!(Rectifier::leaky(-0.1).is_none());
        assert_eq!(Rectifier::leaky(0.3).unwrap().slope(), Some(0.3));
        assert_eq!(Rectifier::RELU.slope(), None);
    }

    #[test]
    fn slices_and_arrays_are_rectified_as_one_value_is() {
        let values: Vec<f32> = (0..70_000).map(|i| ((i * 7919) % 201) as f32 - 100.5).collect();
        for r in [Rectifier::RELU, Rectifier::leaky(0.01).unwrap()] {
            let want: Vec<u32> = values.iter().map(|&v| r.apply(v).to_bits()).collect();
            let mut slice = values.clone();
            r.rectify(&mut slice);
            assert_eq!(slice.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want);
            let mut array = ArrayD::from_shape_vec(ndarray::IxDyn(&[values.len()]), values.clone()).unwrap();
            r.rectify_array(&mut array);
            assert_eq!(array.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want);
        }
    }
}
