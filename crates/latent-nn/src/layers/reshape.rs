//! [`Flatten`] and [`Unflatten`]: reshapes as layers (PyTorch's `nn.Flatten`, `nn.Unflatten`).

use latent_tensor::Tensor;

use super::activation::stateless_layer;
use crate::error::{NnError, Result};
use crate::module::{Ctx, Layer, Module};

/// Merge the axes from `start_dim` to the last into one: `[n, c, h, w] → [n, c·h·w]` with the
/// default `start_dim = 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Module)]
pub struct Flatten {
    #[module(skip)]
    start_dim: usize,
}

impl Flatten {
    /// Flatten from `start_dim` on.
    pub fn new(start_dim: usize) -> Self {
        Flatten { start_dim }
    }

    /// The first merged axis.
    pub fn start_dim(&self) -> usize {
        self.start_dim
    }

    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        if x.ndim() <= self.start_dim {
            return Err(NnError::input(
                "Flatten",
                format!(
                    "start_dim {} needs at least {} axes, found {:?}",
                    self.start_dim,
                    self.start_dim + 1,
                    x.shape()
                ),
            ));
        }
        Ok(x.flatten(self.start_dim)?)
    }
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten { start_dim: 1 }
    }
}

/// Split axis `dim` into `sizes`: `Unflatten::new(1, vec![c, h, w])` maps `[n, c·h·w]` to
/// `[n, c, h, w]`.
#[derive(Clone, Debug, PartialEq, Eq, Module)]
pub struct Unflatten {
    #[module(skip)]
    dim: usize,
    #[module(skip)]
    sizes: Vec<usize>,
}

impl Unflatten {
    /// Split axis `dim` into `sizes`.
    ///
    /// # Errors
    /// If `sizes` is empty or has a zero.
    pub fn new(dim: usize, sizes: Vec<usize>) -> Result<Self> {
        if sizes.is_empty() || sizes.contains(&0) {
            return Err(NnError::config("Unflatten", format!("sizes must be non-empty and positive, found {sizes:?}")));
        }
        Ok(Unflatten { dim, sizes })
    }

    /// The axis that is split.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The sizes it is split into.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let product: usize = self.sizes.iter().product();
        if x.ndim() <= self.dim || x.shape()[self.dim] != product {
            return Err(NnError::input(
                "Unflatten",
                format!("axis {} must have size {product} (= {:?}), found input {:?}", self.dim, self.sizes, x.shape()),
            ));
        }
        let mut shape = x.shape()[..self.dim].to_vec();
        shape.extend(&self.sizes);
        shape.extend(&x.shape()[self.dim + 1..]);
        Ok(x.reshape(&shape)?)
    }
}

stateless_layer!(Flatten, |s, x| s.apply(x)?);
stateless_layer!(Unflatten, |s, x| s.apply(x)?);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatten_and_unflatten_are_inverse() {
        let x = Tensor::zeros(&[2, 3, 4, 5]);
        let mut ctx = Ctx::eval();
        let flat = Flatten::default().forward(&x, &mut ctx).unwrap();
        assert_eq!(flat.shape(), [2, 60]);
        let back = Unflatten::new(1, vec![3, 4, 5]).unwrap().forward(&flat, &mut ctx).unwrap();
        assert_eq!(back.shape(), [2, 3, 4, 5]);
        assert_eq!(Flatten::new(2).forward(&x, &mut ctx).unwrap().shape(), [2, 3, 20]);
    }

    #[test]
    fn mismatched_sizes_are_errors() {
        let mut ctx = Ctx::eval();
        let err = Unflatten::new(1, vec![2, 2]).unwrap().forward(&Tensor::zeros(&[2, 5]), &mut ctx).unwrap_err();
        assert!(err.to_string().contains("size 4"), "{err}");
        assert!(Flatten::new(3).forward(&Tensor::zeros(&[2, 5]), &mut ctx).is_err());
        assert!(Unflatten::new(0, vec![]).is_err());
    }
}
