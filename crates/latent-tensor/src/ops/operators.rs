//! `std::ops` operators on tensors: `+ - * /` between tensors (broadcasting) and with `f32`
//! scalars on either side, and unary `-`, for owned tensors and references alike.
//!
//! Each operator calls the method of the same name ([`Tensor::add`], [`Tensor::add_scalar`], ...)
//! and records the same op, so gradients are exactly those of the methods. The tensor-tensor
//! methods return a [`Result`] because shapes may not broadcast; an operator has no
//! way to return an error, so it panics instead, with the message the method's error carries.
//! Use the methods where a shape error is data (say, a user's input), the operators where it
//! would be a bug.
//!
//! ```
//! use latent_tensor::Tensor;
//!
//! let x = Tensor::from_vec(&[2, 2], vec![1.0, 2.0, 3.0, 4.0])?;
//! let b = Tensor::from_vec(&[2], vec![10.0, 20.0])?;
//! let y = 2.0 * &x + &b - 1.0; // b broadcasts over the rows
//! assert_eq!(y.to_vec(), [11.0, 23.0, 15.0, 27.0]);
//! assert_eq!((-&y / 2.0).to_vec(), [-5.5, -11.5, -7.5, -13.5]);
//! # Ok::<(), latent_tensor::TensorError>(())
//! ```
//!
//! A shape error panics with the method's message:
//! ```should_panic
//! # use latent_tensor::Tensor;
//! let _ = Tensor::zeros(&[2, 3]) + Tensor::zeros(&[4]); // add: shapes [2, 3] and [4] do not broadcast
//! ```

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::error::Result;
use crate::tensor::Tensor;

/// The tensor, or a panic with the error's message (what an operator does with a shape error).
#[track_caller]
fn or_panic(result: Result<Tensor>) -> Tensor {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// `impl Trait<Rhs> for Lhs` for every owned/borrowed pairing of two tensors.
macro_rules! tensor_tensor {
    ($trait:ident, $method:ident) => {
        tensor_tensor!(@one $trait, $method, &Tensor, &Tensor);
        tensor_tensor!(@one $trait, $method, Tensor, Tensor);
        tensor_tensor!(@one $trait, $method, Tensor, &Tensor);
        tensor_tensor!(@one $trait, $method, &Tensor, Tensor);
    };
    (@one $trait:ident, $method:ident, $lhs:ty, $rhs:ty) => {
        impl $trait<$rhs> for $lhs {
            type Output = Tensor;

            #[doc = concat!("[`Tensor::", stringify!($method), "`], panicking if the shapes do not broadcast.")]
            #[track_caller]
            fn $method(self, rhs: $rhs) -> Tensor {
                or_panic(Tensor::$method(&self, &rhs))
            }
        }
    };
}

tensor_tensor!(Add, add);
tensor_tensor!(Sub, sub);
tensor_tensor!(Mul, mul);
tensor_tensor!(Div, div);

/// `impl Trait<f32> for Tensor / &Tensor` through a scalar method.
macro_rules! tensor_scalar {
    ($trait:ident, $method:ident, $scalar_method:ident) => {
        impl $trait<f32> for &Tensor {
            type Output = Tensor;

            #[doc = concat!("[`Tensor::", stringify!($scalar_method), "`].")]
            fn $method(self, s: f32) -> Tensor {
                self.$scalar_method(s)
            }
        }

        impl $trait<f32> for Tensor {
            type Output = Tensor;

            #[doc = concat!("[`Tensor::", stringify!($scalar_method), "`].")]
            fn $method(self, s: f32) -> Tensor {
                self.$scalar_method(s)
            }
        }
    };
}

tensor_scalar!(Add, add, add_scalar);
tensor_scalar!(Sub, sub, sub_scalar);
tensor_scalar!(Mul, mul, mul_scalar);
tensor_scalar!(Div, div, div_scalar);

/// `impl Trait<Tensor / &Tensor> for f32`: `s ∘ tensor` as `$body(tensor, s)`.
macro_rules! scalar_tensor {
    ($trait:ident, $method:ident, $doc:literal, |$t:ident, $s:ident| $body:expr) => {
        impl $trait<&Tensor> for f32 {
            type Output = Tensor;

            #[doc = $doc]
            fn $method(self, $t: &Tensor) -> Tensor {
                let $s = self;
                $body
            }
        }

        impl $trait<Tensor> for f32 {
            type Output = Tensor;

            #[doc = $doc]
            fn $method(self, $t: Tensor) -> Tensor {
                let ($s, $t) = (self, &$t);
                $body
            }
        }
    };
}

scalar_tensor!(Add, add, "[`Tensor::add_scalar`] (addition commutes).", |t, s| t.add_scalar(s));
scalar_tensor!(Sub, sub, "[`Tensor::rsub_scalar`]: `s - t`.", |t, s| t.rsub_scalar(s));
scalar_tensor!(Mul, mul, "[`Tensor::mul_scalar`] (multiplication commutes).", |t, s| t.mul_scalar(s));
scalar_tensor!(
    Div,
    div,
    "`s / t`: [`Tensor::div`] of a 0-D constant `s` by `t` (never fails: a 0-D tensor broadcasts to any shape).",
    |t, s| or_panic(Tensor::div(&Tensor::scalar(s), t))
);

impl Neg for &Tensor {
    type Output = Tensor;

    /// [`Tensor::neg`].
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}

impl Neg for Tensor {
    type Output = Tensor;

    /// [`Tensor::neg`].
    fn neg(self) -> Tensor {
        Tensor::neg(&self)
    }
}

#[cfg(test)]
mod tests {
    // Not `super::*`: with `std::ops::Add` in scope, `a.add(&b)` on an owned `a` would call the
    // operator, not the fallible method.
    use crate::tensor::Tensor;

    fn t(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::from_vec(shape, v.to_vec()).unwrap()
    }

    #[test]
    fn operators_match_the_methods_for_every_ownership() {
        let (a, b) = (t(&[2, 2], &[1.0, -2.0, 3.0, 0.5]), t(&[2], &[4.0, 8.0]));
        assert_eq!((&a + &b).to_vec(), a.add(&b).unwrap().to_vec());
        assert_eq!((a.clone() - b.clone()).to_vec(), a.sub(&b).unwrap().to_vec());
        assert_eq!((a.clone() * &b).to_vec(), a.mul(&b).unwrap().to_vec());
        assert_eq!((&a / b.clone()).to_vec(), a.div(&b).unwrap().to_vec());
        assert_eq!((-&a).to_vec(), a.neg().to_vec());
        assert_eq!((-a.clone()).to_vec(), a.neg().to_vec());
    }

    #[test]
    fn scalars_work_on_either_side() {
        let a = t(&[3], &[1.0, 2.0, 4.0]);
        assert_eq!((&a + 1.0).to_vec(), [2.0, 3.0, 5.0]);
        assert_eq!((1.0 + &a).to_vec(), [2.0, 3.0, 5.0]);
        assert_eq!((a.clone() - 1.0).to_vec(), [0.0, 1.0, 3.0]);
        assert_eq!((1.0 - a.clone()).to_vec(), [0.0, -1.0, -3.0]);
        assert_eq!((&a * 2.0).to_vec(), [2.0, 4.0, 8.0]);
        assert_eq!((2.0 * &a).to_vec(), [2.0, 4.0, 8.0]);
        assert_eq!((&a / 2.0).to_vec(), [0.5, 1.0, 2.0]);
        assert_eq!((4.0 / &a).to_vec(), [4.0, 2.0, 1.0]);
        assert_eq!((4.0 / a).shape(), [3]);
    }

    #[test]
    fn gradients_flow_through_operators() {
        let x = Tensor::parameter(ndarray::arr1(&[1.0f32, 2.0]));
        // y = Σ (3x - x·x + 2/x): dy/dx = 3 - 2x - 2/x².
        let y = (3.0 * &x - &x * &x + 2.0 / &x).sum_all();
        let g = y.backward().unwrap().get(&x).unwrap();
        assert_eq!(g.to_vec(), [-1.0, -1.5]);
    }

    #[test]
    fn a_shape_error_panics_with_the_methods_message() {
        let (a, b) = (Tensor::zeros(&[2, 3]), Tensor::zeros(&[4]));
        let expected = a.add(&b).unwrap_err().to_string();
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| &a + &b)).unwrap_err();
        let message = panic.downcast_ref::<String>().expect("a formatted message");
        assert_eq!(*message, expected);
    }
}
