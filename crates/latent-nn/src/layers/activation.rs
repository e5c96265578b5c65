//! The activation functions as layers: [`Relu`], [`LeakyRelu`], [`Elu`], [`Sigmoid`], [`Tanh`],
//! [`Softplus`] and [`Identity`] (PyTorch's `nn.ReLU`, `nn.LeakyReLU`, ..., `nn.Identity`). None
//! has parameters.

use latent_tensor::{Rectifier, Tensor};

use crate::error::{NnError, Result};
use crate::module::{Ctx, Layer, Module};

/// `impl Layer` for a layer whose output depends on its input and options only.
macro_rules! stateless_layer {
    ($name:ident, |$s:ident, $x:ident| $body:expr) => {
        impl Layer for $name {
            fn forward(&mut self, $x: &Tensor, _ctx: &mut Ctx) -> Result<Tensor> {
                let $s = &*self;
                Ok($body)
            }
        }
    };
    // A rectifier: also says which, for the layer before to apply (see `Layer::as_rectifier`).
    ($name:ident, |$s:ident, $x:ident| $body:expr, $rectifier:expr) => {
        impl Layer for $name {
            fn forward(&mut self, $x: &Tensor, _ctx: &mut Ctx) -> Result<Tensor> {
                let $s = &*self;
                Ok($body)
            }

            fn as_rectifier(&self) -> Option<Rectifier> {
                let $s = self;
                $rectifier
            }
        }
    };
}
pub(crate) use stateless_layer;

/// `max(x, 0)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Module)]
pub struct Relu;

/// `x` for `x > 0`, else `negative_slope · x` (PyTorch's default slope is 0.01).
#[derive(Clone, Copy, Debug, PartialEq, Module)]
pub struct LeakyRelu {
    #[module(skip)]
    negative_slope: f32,
}

/// `x` for `x > 0`, else `alpha · (eᵡ - 1)` (PyTorch's default alpha is 1).
#[derive(Clone, Copy, Debug, PartialEq, Module)]
pub struct Elu {
    #[module(skip)]
    alpha: f32,
}

/// The logistic function `1 / (1 + e⁻ˣ)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Module)]
pub struct Sigmoid;

/// The hyperbolic tangent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Module)]
pub struct Tanh;

/// `x` itself: no activation (PyTorch's `nn.Identity`). A network of Linear layers joined by it
/// is linear, as a linear autoencoder (the neural form of PCA) needs; keeping it as a layer
/// keeps the `nn.Sequential` indices, and so the parameter names, of the other activations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Module)]
pub struct Identity;

/// `ln(1 + e^(β·x)) / β`, computed stably (PyTorch's default β is 1; PyTorch switches to the
/// identity above `β·x > 20`, where the two differ by less than 3e-9).
#[derive(Clone, Copy, Debug, PartialEq, Module)]
pub struct Softplus {
    #[module(skip)]
    beta: f32,
}

fn finite(what: &'static str, name: &str, v: f32) -> Result<f32> {
    if v.is_finite() { Ok(v) } else { Err(NnError::config(what, format!("{name} must be finite, found {v}"))) }
}

impl LeakyRelu {
    /// A leaky ReLU with the given negative slope.
    ///
    /// # Errors
    /// If the slope is not finite.
    pub fn new(negative_slope: f32) -> Result<Self> {
        Ok(LeakyRelu { negative_slope: finite("LeakyRelu", "negative_slope", negative_slope)? })
    }

    /// The negative slope.
    pub fn negative_slope(&self) -> f32 {
        self.negative_slope
    }
}

impl Default for LeakyRelu {
    fn default() -> Self {
        LeakyRelu { negative_slope: 0.01 }
    }
}

impl Elu {
    /// An ELU with the given alpha.
    ///
    /// # Errors
    /// If alpha is not finite.
    pub fn new(alpha: f32) -> Result<Self> {
        Ok(Elu { alpha: finite("Elu", "alpha", alpha)? })
    }

    /// The alpha.
    pub fn alpha(&self) -> f32 {
        self.alpha
    }
}

impl Default for Elu {
    fn default() -> Self {
        Elu { alpha: 1.0 }
    }
}

impl Softplus {
    /// A softplus with sharpness `beta`.
    ///
    /// # Errors
    /// If beta is not positive and finite.
    pub fn new(beta: f32) -> Result<Self> {
        if !(beta.is_finite() && beta > 0.0) {
            return Err(NnError::config("Softplus", format!("beta must be positive, found {beta}")));
        }
        Ok(Softplus { beta })
    }

    /// The sharpness.
    pub fn beta(&self) -> f32 {
        self.beta
    }
}

impl Default for Softplus {
    fn default() -> Self {
        Softplus { beta: 1.0 }
    }
}

stateless_layer!(Relu, |_s, x| x.relu(), Some(Rectifier::RELU));
stateless_layer!(LeakyRelu, |s, x| x.leaky_relu(s.negative_slope), Rectifier::leaky(s.negative_slope));
stateless_layer!(Elu, |s, x| x.elu(s.alpha));
stateless_layer!(Sigmoid, |_s, x| x.sigmoid());
stateless_layer!(Tanh, |_s, x| x.tanh());
stateless_layer!(Identity, |_s, x| x.clone());
stateless_layer!(Softplus, |s, x| if s.beta == 1.0 {
    x.softplus()
} else {
    x.mul_scalar(s.beta).softplus().mul_scalar(1.0 / s.beta)
});

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(m: &mut dyn Layer, v: f32) -> f32 {
        m.forward(&Tensor::full(&[1], v), &mut Ctx::eval()).unwrap().to_vec()[0]
    }

    #[test]
    fn each_activation_computes_its_function() {
        assert_eq!(apply(&mut Relu, -2.0), 0.0);
        assert_eq!(apply(&mut LeakyRelu::default(), -2.0), -0.02);
        assert_eq!(apply(&mut LeakyRelu::new(0.2).unwrap(), -1.0), -0.2);
        assert!((apply(&mut Elu::default(), -1.0) - (-1f32).exp_m1()).abs() < 1e-7);
        assert!((apply(&mut Sigmoid, 0.0) - 0.5).abs() < 1e-7);
        assert!((apply(&mut Tanh, 1.0) - 1f32.tanh()).abs() < 1e-7);
        assert!((apply(&mut Softplus::default(), 0.0) - 2f32.ln()).abs() < 1e-7);
        assert!((apply(&mut Softplus::new(2.0).unwrap(), 0.0) - 2f32.ln() / 2.0).abs() < 1e-7);
        assert_eq!(apply(&mut Identity, -2.5), -2.5);
        assert_eq!(Relu.parameter_count(), 0);
        assert!(Softplus::new(0.0).is_err());
        assert!(LeakyRelu::new(f32::NAN).is_err());
    }
}
