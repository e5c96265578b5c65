//! [`Linear`]: `y = x·wᵀ + b` with PyTorch's layout (`weight [out, in]`, `bias [out]`) and
//! default initialisation.

use latent_tensor::{Rectifier, Tensor, TensorRng};
use serde::{Deserialize, Serialize};

use crate::error::{NnError, Result};
use crate::init::{torch_default_bias, torch_default_weight};
use crate::module::{Ctx, Layer, Module};

/// The shape of a [`Linear`] layer (PyTorch's `nn.Linear(in_features, out_features, bias)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinearConfig {
    /// The size of the input's last axis.
    pub in_features: usize,
    /// The size of the output's last axis.
    pub out_features: usize,
    /// Whether the layer adds a bias.
    #[serde(default = "yes")]
    pub bias: bool,
}

fn yes() -> bool {
    true
}

impl LinearConfig {
    /// `in_features → out_features` with a bias.
    pub fn new(in_features: usize, out_features: usize) -> Self {
        LinearConfig { in_features, out_features, bias: true }
    }
}

/// A fully connected layer on the last axis: `[..., in] → [..., out]`.
#[derive(Clone, Debug, Module)]
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// `in_features → out_features` with a bias, initialised as PyTorch does.
    ///
    /// # Errors
    /// If a size is zero.
    pub fn new(in_features: usize, out_features: usize, rng: &mut TensorRng) -> Result<Self> {
        Self::from_config(&LinearConfig::new(in_features, out_features), rng)
    }

    /// A layer of the given shape, initialised as PyTorch does (weight and bias
    /// `U(-1/√in, 1/√in)`).
    ///
    /// # Errors
    /// If a size is zero.
    pub fn from_config(config: &LinearConfig, rng: &mut TensorRng) -> Result<Self> {
        let LinearConfig { in_features, out_features, bias } = *config;
        if in_features == 0 || out_features == 0 {
            return Err(NnError::config(
                "Linear",
                format!("sizes must be positive, found {in_features} → {out_features}"),
            ));
        }
        let weight = Tensor::parameter(torch_default_weight(&[out_features, in_features], rng)?);
        let bias =
            if bias { Some(Tensor::parameter(torch_default_bias(out_features, in_features, rng)?)) } else { None };
        Ok(Linear { weight, bias })
    }

    /// A layer using the given tensors as its parameters, as they are (pass
    /// [`Tensor::parameter`] leaves to train them).
    ///
    /// # Errors
    /// If the weight is not 2-D or the bias is not `[out]`.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>) -> Result<Self> {
        if weight.ndim() != 2 {
            return Err(NnError::config("Linear", format!("weight must be [out, in], found {:?}", weight.shape())));
        }
        if let Some(b) = &bias
            && b.shape() != [weight.shape()[0]]
        {
            return Err(NnError::config(
                "Linear",
                format!("bias must be [{}] for weight {:?}, found {:?}", weight.shape()[0], weight.shape(), b.shape()),
            ));
        }
        Ok(Linear { weight, bias })
    }

    /// The layer's shape.
    pub fn config(&self) -> LinearConfig {
        LinearConfig {
            in_features: self.weight.shape()[1],
            out_features: self.weight.shape()[0],
            bias: self.bias.is_some(),
        }
    }

    /// The weight `[out, in]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias `[out]`, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }
}

impl Linear {
    /// The layer's map followed by `rectifier`, if given, as one op.
    fn apply(&self, x: &Tensor, rectifier: Option<Rectifier>) -> Result<Tensor> {
        let in_features = self.weight.shape()[1];
        if x.shape().last() != Some(&in_features) {
            return Err(NnError::input(
                "Linear",
                format!("expected input [..., {in_features}], found {:?}", x.shape()),
            ));
        }
        Ok(x.linear_rectified(&self.weight, self.bias.as_ref(), rectifier)?)
    }
}

impl Layer for Linear {
    fn forward(&mut self, x: &Tensor, _ctx: &mut Ctx) -> Result<Tensor> {
        self.apply(x, None)
    }

    fn forward_rectified(&mut self, x: &Tensor, rectifier: Rectifier, _ctx: &mut Ctx) -> Result<Tensor> {
        self.apply(x, Some(rectifier))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn computes_x_wt_plus_b_with_named_parameters() {
        let w = Tensor::parameter(array![[1.0f32, 2.0], [0.0, -1.0], [0.5, 0.5]]);
        let b = Tensor::parameter(array![1.0f32, 0.0, -1.0]);
        let mut layer = Linear::from_tensors(w, Some(b)).unwrap();
        let y = layer.forward(&Tensor::new(array![[1.0f32, 1.0]]), &mut Ctx::eval()).unwrap();
        assert_eq!(y.to_vec(), vec![4.0, -1.0, 0.0]);
        let names: Vec<String> = layer.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias"]);
        assert_eq!(layer.parameter_count(), 9);
        assert_eq!(layer.config(), LinearConfig::new(2, 3));
    }

    #[test]
    fn default_init_is_bounded_by_one_over_sqrt_fan_in() {
        let layer = Linear::new(16, 8, &mut TensorRng::seed_from_u64(0)).unwrap();
        assert_eq!(layer.weight().shape(), [8, 16]);
        assert!(layer.weight().to_vec().iter().all(|v| v.abs() <= 0.25));
        assert!(layer.bias().unwrap().to_vec().iter().all(|v| v.abs() <= 0.25));
        assert!(layer.weight().is_leaf());
    }

    #[test]
    fn wrong_input_and_config_are_errors() {
        let mut layer = Linear::new(3, 2, &mut TensorRng::seed_from_u64(0)).unwrap();
        let err = layer.forward(&Tensor::zeros(&[4, 5]), &mut Ctx::eval()).unwrap_err();
        assert!(err.to_string().contains("[..., 3]"), "{err}");
        assert!(Linear::new(0, 2, &mut TensorRng::seed_from_u64(0)).is_err());
        assert!(Linear::from_tensors(Tensor::zeros(&[2, 3]), Some(Tensor::zeros(&[3]))).is_err());
    }
}
