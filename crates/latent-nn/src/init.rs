//! Weight initialisers: PyTorch's defaults for Linear and convolutions, Xavier/Glorot and
//! Kaiming/He (uniform and normal), constants, and DCGAN's `N(0, 0.02)`.
//!
//! Fans follow `torch.nn.init._calculate_fan_in_and_fan_out` exactly: for a weight of shape
//! `[d0, d1, k...]`, `fan_in = d1 · Πk` and `fan_out = d0 · Πk`. So a Linear `[out, in]` has
//! `fan_in = in`, a Conv2d `[out, in, kh, kw]` has `fan_in = in·kh·kw`, and a ConvTranspose2d
//! `[in, out, kh, kw]` has `fan_in = out·kh·kw` (PyTorch reads dimension 1, whatever it means).
//!
//! PyTorch's default for Linear and convolutions is `kaiming_uniform_(w, a=√5)`, which is
//! `U(-1/√fan_in, 1/√fan_in)`, and a bias `U(-1/√fan_in, 1/√fan_in)` with the weight's fan_in.
//! [`torch_default_weight`] and [`torch_default_bias`] draw exactly those, so a model built here
//! starts from the same distribution as the same model in PyTorch (not the same numbers: the
//! generators differ).

use std::any::Any;

use latent_tensor::{Tensor, TensorRng};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

use crate::error::{NnError, Result};
use crate::layers::{BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d};
use crate::module::Module;

/// Which fan Kaiming initialisation preserves the variance of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FanMode {
    /// The forward pass (PyTorch's default).
    FanIn,
    /// The backward pass.
    FanOut,
}

/// The nonlinearity that follows a layer, for [`gain`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Nonlinearity {
    /// Identity (also any convolution or linear map): gain 1.
    Linear,
    /// Logistic sigmoid: gain 1.
    Sigmoid,
    /// Hyperbolic tangent: gain 5/3.
    Tanh,
    /// ReLU: gain √2.
    Relu,
    /// Leaky ReLU with the given negative slope: gain √(2 / (1 + slope²)).
    LeakyRelu(f32),
    /// SELU: gain 3/4.
    Selu,
}

/// PyTorch's `torch.nn.init.calculate_gain`.
pub fn gain(nonlinearity: Nonlinearity) -> f32 {
    match nonlinearity {
        Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => 2f32.sqrt(),
        Nonlinearity::LeakyRelu(slope) => (2.0 / (1.0 + slope * slope)).sqrt(),
        Nonlinearity::Selu => 0.75,
    }
}

/// `(fan_in, fan_out)` of a weight of `shape`, as PyTorch computes them (see the module docs).
///
/// # Errors
/// If the shape has fewer than two axes (PyTorch refuses those too).
pub fn fans(shape: &[usize]) -> Result<(usize, usize)> {
    if shape.len() < 2 {
        return Err(NnError::config("init", format!("fan in and fan out need at least 2 axes, found shape {shape:?}")));
    }
    let receptive: usize = shape[2..].iter().product();
    Ok((shape[1] * receptive, shape[0] * receptive))
}

/// How to fill a parameter. Serialisable, so a configuration can name its initialiser.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Init {
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// Every element `value`.
    Constant {
        /// The value.
        value: f32,
    },
    /// `U(low, high)`.
    Uniform {
        /// Lower bound (inclusive).
        low: f32,
        /// Upper bound (exclusive).
        high: f32,
    },
    /// `N(mean, std²)`; DCGAN uses `N(0, 0.02²)` ([`Init::DCGAN`]).
    Normal {
        /// The mean.
        mean: f32,
        /// The standard deviation.
        std: f32,
    },
    /// Glorot & Bengio: `U(-a, a)` with `a = gain·√(6 / (fan_in + fan_out))`.
    XavierUniform {
        /// The gain (1 for linear, see [`gain`]).
        gain: f32,
    },
    /// Glorot & Bengio: `N(0, std²)` with `std = gain·√(2 / (fan_in + fan_out))`.
    XavierNormal {
        /// The gain.
        gain: f32,
    },
    /// He et al.: `U(-b, b)` with `b = gain·√(3 / fan)`.
    KaimingUniform {
        /// Which fan to use.
        mode: FanMode,
        /// The nonlinearity whose gain applies.
        nonlinearity: Nonlinearity,
    },
    /// He et al.: `N(0, std²)` with `std = gain / √fan`.
    KaimingNormal {
        /// Which fan to use.
        mode: FanMode,
        /// The nonlinearity whose gain applies.
        nonlinearity: Nonlinearity,
    },
}

impl Init {
    /// DCGAN's initialiser for convolution weights: `N(0, 0.02²)`.
    pub const DCGAN: Init = Init::Normal { mean: 0.0, std: 0.02 };

    /// PyTorch's default weight initialiser for Linear and convolutions:
    /// `kaiming_uniform_(a = √5)`, i.e. `U(-1/√fan_in, 1/√fan_in)`.
    pub const TORCH_DEFAULT_WEIGHT: Init =
        Init::KaimingUniform { mode: FanMode::FanIn, nonlinearity: Nonlinearity::LeakyRelu(2.236_068) };

    /// An array of `shape` drawn from this initialiser.
    ///
    /// # Errors
    /// If a fan-based initialiser gets a shape with fewer than 2 axes or a zero fan, or the
    /// parameters are invalid (`low >= high`, negative `std`).
    pub fn array(&self, shape: &[usize], rng: &mut TensorRng) -> Result<ArrayD<f32>> {
        let fan = |mode: FanMode| -> Result<f32> {
            let (fan_in, fan_out) = fans(shape)?;
            let f = if mode == FanMode::FanIn { fan_in } else { fan_out };
            if f == 0 {
                return Err(NnError::config("init", format!("zero fan for shape {shape:?}")));
            }
            Ok(f as f32)
        };
        let xavier_std = |g: f32| -> Result<f32> {
            let (fan_in, fan_out) = fans(shape)?;
            if fan_in + fan_out == 0 {
                return Err(NnError::config("init", format!("zero fans for shape {shape:?}")));
            }
            Ok(g * (2.0 / (fan_in + fan_out) as f32).sqrt())
        };
        let symmetric = |rng: &mut TensorRng, bound: f32| -> Result<ArrayD<f32>> {
            if bound > 0.0 { Ok(rng.uniform_array(shape, -bound, bound)?) } else { Ok(ArrayD::zeros(IxDyn(shape))) }
        };
        match *self {
            Init::Zeros => Ok(ArrayD::zeros(IxDyn(shape))),
            Init::Ones => Ok(ArrayD::ones(IxDyn(shape))),
            Init::Constant { value } => Ok(ArrayD::from_elem(IxDyn(shape), value)),
            Init::Uniform { low, high } => Ok(rng.uniform_array(shape, low, high)?),
            Init::Normal { mean, std } => Ok(rng.normal_array(shape, mean, std)?),
            Init::XavierUniform { gain } => symmetric(rng, 3f32.sqrt() * xavier_std(gain)?),
            Init::XavierNormal { gain } => Ok(rng.normal_array(shape, 0.0, xavier_std(gain)?)?),
            Init::KaimingUniform { mode, nonlinearity } => {
                symmetric(rng, 3f32.sqrt() * gain(nonlinearity) / fan(mode)?.sqrt())
            }
            Init::KaimingNormal { mode, nonlinearity } => {
                Ok(rng.normal_array(shape, 0.0, gain(nonlinearity) / fan(mode)?.sqrt())?)
            }
        }
    }
}

/// PyTorch's default Linear/convolution weight: `U(-1/√fan_in, 1/√fan_in)` with `fan_in` from
/// [`fans`] (so a ConvTranspose2d weight `[in, out, kh, kw]` uses `out·kh·kw`).
///
/// # Errors
/// If the shape has fewer than 2 axes or a zero fan.
pub fn torch_default_weight(shape: &[usize], rng: &mut TensorRng) -> Result<ArrayD<f32>> {
    let (fan_in, _) = fans(shape)?;
    if fan_in == 0 {
        return Err(NnError::config("init", format!("zero fan_in for shape {shape:?}")));
    }
    let bound = 1.0 / (fan_in as f32).sqrt();
    Ok(rng.uniform_array(shape, -bound, bound)?)
}

/// PyTorch's default bias for a layer whose weight has fan_in `fan_in`:
/// `U(-1/√fan_in, 1/√fan_in)` (zeros when `fan_in` is 0, as PyTorch).
///
/// # Errors
/// Never for valid lengths; the `Result` carries the generator's argument checks.
pub fn torch_default_bias(len: usize, fan_in: usize, rng: &mut TensorRng) -> Result<ArrayD<f32>> {
    if fan_in == 0 {
        return Ok(ArrayD::zeros(IxDyn(&[len])));
    }
    let bound = 1.0 / (fan_in as f32).sqrt();
    Ok(rng.uniform_array(&[len], -bound, bound)?)
}

/// Re-draw parameters of `model`: `choose(name, shape)` returns the initialiser for a
/// parameter, or `None` to leave it as it is. Parameters are visited in the model's order, so
/// the result is fixed by the generator's seed.
///
/// # Errors
/// If an initialiser fails for its parameter's shape; parameters before it are already
/// re-drawn.
pub fn reinitialise(
    model: &mut dyn Module,
    rng: &mut TensorRng,
    choose: &mut dyn FnMut(&str, &[usize]) -> Option<Init>,
) -> Result<()> {
    let mut result = Ok(());
    model.visit_params_mut("", &mut |name, p| {
        if result.is_err() {
            return;
        }
        if let Some(init) = choose(name, p.shape()) {
            result = init.array(p.shape(), rng).and_then(|a| Ok(p.set_value(a)?));
        }
    });
    result
}

/// DCGAN's initialisation (Radford et al., and the PyTorch DCGAN example): the weights of every
/// [`Conv2d`] and [`ConvTranspose2d`] from `N(0, 0.02²)`; the weights of every
/// [`BatchNorm1d`]/[`BatchNorm2d`] from `N(1, 0.02²)` and their biases zero. Other parameters
/// (Linear layers, convolution biases) keep their values. Layers are found by type with the
/// typed walk ([`Module::visit_modules_mut`]) and drawn in its order.
///
/// # Errors
/// As [`reinitialise`].
pub fn dcgan(model: &mut dyn Module, rng: &mut TensorRng) -> Result<()> {
    let mut result = Ok(());
    model.visit_modules_mut("", &mut |_, m| {
        if result.is_ok() {
            result = dcgan_layer(m, rng);
        }
    });
    result
}

/// [`dcgan`] for one module (nothing for a module of another type).
fn dcgan_layer(m: &mut dyn Any, rng: &mut TensorRng) -> Result<()> {
    let redraw = |p: &mut Tensor, init: Init, rng: &mut TensorRng| -> Result<()> {
        let value = init.array(p.shape(), rng)?;
        Ok(p.set_value(value)?)
    };
    let norm = |affine: Option<(&mut Tensor, &mut Tensor)>, rng: &mut TensorRng| -> Result<()> {
        match affine {
            Some((weight, bias)) => {
                redraw(weight, Init::Normal { mean: 1.0, std: 0.02 }, rng)?;
                redraw(bias, Init::Zeros, rng)
            }
            None => Ok(()),
        }
    };
    if let Some(conv) = m.downcast_mut::<Conv2d>() {
        redraw(conv.weight_mut(), Init::DCGAN, rng)
    } else if let Some(conv) = m.downcast_mut::<ConvTranspose2d>() {
        redraw(conv.weight_mut(), Init::DCGAN, rng)
    } else if let Some(bn) = m.downcast_mut::<BatchNorm1d>() {
        norm(bn.affine_mut(), rng)
    } else if let Some(bn) = m.downcast_mut::<BatchNorm2d>() {
        norm(bn.affine_mut(), rng)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_abs(a: &ArrayD<f32>) -> f32 {
        a.iter().fold(0.0f32, |m, v| m.max(v.abs()))
    }

    fn std(a: &ArrayD<f32>) -> f32 {
        let n = a.len() as f32;
        let mean = a.sum() / n;
        (a.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n).sqrt()
    }

    #[test]
    fn fans_match_torch() {
        assert_eq!(fans(&[400, 784]).unwrap(), (784, 400));
        assert_eq!(fans(&[32, 3, 4, 4]).unwrap(), (48, 512));
        // ConvTranspose2d [in=64, out=32, 4, 4]: fan_in from dimension 1.
        assert_eq!(fans(&[64, 32, 4, 4]).unwrap(), (512, 1024));
        assert!(fans(&[5]).is_err());
    }

    #[test]
    fn gains_match_torch() {
        assert!((gain(Nonlinearity::Relu) - std::f32::consts::SQRT_2).abs() < 1e-6);
        assert!((gain(Nonlinearity::Tanh) - 5.0 / 3.0).abs() < 1e-6);
        assert!((gain(Nonlinearity::LeakyRelu(0.2)) - (2.0f32 / 1.04).sqrt()).abs() < 1e-6);
    }

    #[test]
    fn torch_default_is_uniform_with_bound_one_over_sqrt_fan_in() {
        let mut rng = TensorRng::seed_from_u64(1);
        let w = torch_default_weight(&[50, 100], &mut rng).unwrap();
        let bound = 0.1;
        assert!(max_abs(&w) <= bound);
        assert!(max_abs(&w) > 0.95 * bound);
        // U(-b, b) has standard deviation b/√3.
        assert!((std(&w) - bound / 3f32.sqrt()).abs() < 0.003, "{}", std(&w));
        // The named initialiser is the same distribution.
        let w2 = Init::TORCH_DEFAULT_WEIGHT.array(&[50, 100], &mut rng).unwrap();
        assert!(max_abs(&w2) <= bound * 1.000_01 && max_abs(&w2) > 0.95 * bound);
    }

    #[test]
    fn xavier_and_kaiming_have_the_documented_spread() {
        let mut rng = TensorRng::seed_from_u64(2);
        let shape = [200, 300];
        let xn = Init::XavierNormal { gain: 1.0 }.array(&shape, &mut rng).unwrap();
        assert!((std(&xn) - (2.0f32 / 500.0).sqrt()).abs() < 0.002);
        let xu = Init::XavierUniform { gain: 1.0 }.array(&shape, &mut rng).unwrap();
        assert!(max_abs(&xu) <= (6.0f32 / 500.0).sqrt());
        let kn = Init::KaimingNormal { mode: FanMode::FanIn, nonlinearity: Nonlinearity::Relu }
            .array(&shape, &mut rng)
            .unwrap();
        assert!((std(&kn) - (2.0f32 / 300.0).sqrt()).abs() < 0.002);
        let ku = Init::KaimingUniform { mode: FanMode::FanOut, nonlinearity: Nonlinearity::Relu }
            .array(&shape, &mut rng)
            .unwrap();
        assert!(max_abs(&ku) <= (6.0f32 / 200.0).sqrt());
        let d = Init::DCGAN.array(&[100, 100], &mut rng).unwrap();
        assert!((std(&d) - 0.02).abs() < 0.001);
    }

    #[test]
    fn dcgan_redraws_conv_and_batch_norm_parameters_only() {
        use crate::layers::{BatchNorm2d, Conv2d, Conv2dConfig, Flatten, Linear, Sequential};
        let mut rng = TensorRng::seed_from_u64(4);
        let mut model = Sequential::new()
            .with(Conv2d::new(&Conv2dConfig::new(8, 16, 4), &mut rng).unwrap())
            .with(BatchNorm2d::new(16).unwrap())
            .with(Flatten::default())
            .with(Linear::new(16, 2, &mut rng).unwrap());
        let before: std::collections::HashMap<String, Vec<f32>> =
            model.named_parameters().into_iter().map(|(n, p)| (n, p.to_vec())).collect();
        dcgan(&mut model, &mut rng).unwrap();
        let after: std::collections::HashMap<String, ArrayD<f32>> =
            model.named_parameters().into_iter().map(|(n, p)| (n, p.to_array())).collect();
        assert!((std(&after["0.weight"]) - 0.02).abs() < 0.002, "{}", std(&after["0.weight"]));
        assert!(after["1.weight"].iter().all(|w| (w - 1.0).abs() < 0.1));
        assert!(after["1.weight"].iter().any(|&w| w != 1.0));
        assert!(after["1.bias"].iter().all(|&b| b == 0.0));
        for unchanged in ["0.bias", "3.weight", "3.bias"] {
            assert_eq!(after[unchanged].iter().copied().collect::<Vec<_>>(), before[unchanged], "{unchanged}");
        }
    }

    /// A module that merely looks like a convolution and a BatchNorm by its names and shapes.
    #[derive(crate::Module)]
    struct LookAlike {
        weight: latent_tensor::Tensor,
        #[module(buffer)]
        running_mean: ArrayD<f32>,
        #[module(rename = "norm")]
        inner: Option<crate::layers::BatchNorm1d>,
    }

    #[test]
    fn dcgan_matches_layer_types_not_names() {
        let mut rng = TensorRng::seed_from_u64(5);
        let mut model = LookAlike {
            weight: latent_tensor::Tensor::parameter(ArrayD::from_elem(IxDyn(&[2, 2, 2, 2]), 0.5)),
            running_mean: ArrayD::zeros(IxDyn(&[2])),
            inner: Some(crate::layers::BatchNorm1d::new(64).unwrap()),
        };
        dcgan(&mut model, &mut rng).unwrap();
        assert!(model.weight.to_vec().iter().all(|&w| w == 0.5));
        let params: std::collections::HashMap<String, ArrayD<f32>> =
            model.named_parameters().into_iter().map(|(n, p)| (n, p.to_array())).collect();
        assert!(params["norm.weight"].iter().any(|&w| w != 1.0));
        assert!((std(&params["norm.weight"]) - 0.02).abs() < 0.01);
        assert!(params["norm.bias"].iter().all(|&b| b == 0.0));
    }

    #[test]
    fn fan_based_initialisers_reject_vectors() {
        let mut rng = TensorRng::seed_from_u64(3);
        assert!(Init::XavierUniform { gain: 1.0 }.array(&[5], &mut rng).is_err());
        assert!(Init::Zeros.array(&[5], &mut rng).is_ok());
    }
}
