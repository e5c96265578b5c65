//! The vocabulary family configurations share: activations, likelihoods, noise specs in JSON,
//! and the validation helpers whose errors name the field.
//!
//! Each family's own configuration lives in its file under [`crate::families`]; the
//! family-neutral form that travels in `config.json` is [`crate::ModelConfig`].

use std::fmt;
use std::str::FromStr;

use latent_data::NoiseSpec;
use latent_losses::{Reduction, binary_cross_entropy_with_logits, mse_loss};
use latent_nn::layers::LayerSpec;
use latent_tensor::Tensor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ModelError, Result};

/// A hidden-layer activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `x` or `0.2·x` below zero.
    LeakyRelu,
    /// `x` or `e^x - 1` below zero.
    Elu,
    /// The logistic function.
    Sigmoid,
    /// The hyperbolic tangent.
    Tanh,
    /// `ln(1 + e^x)`.
    Softplus,
    /// `x`: no activation, so Linear layers joined by it make a linear map (a linear
    /// autoencoder, which reaches PCA's reconstruction error).
    Identity,
}

impl Activation {
    /// Every activation, for help texts.
    pub const ALL: &'static [Activation] = &[
        Activation::Relu,
        Activation::LeakyRelu,
        Activation::Elu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softplus,
        Activation::Identity,
    ];

    /// The layer that applies it.
    pub fn layer(self) -> LayerSpec {
        match self {
            Activation::Relu => LayerSpec::Relu,
            Activation::LeakyRelu => LayerSpec::LeakyRelu { negative_slope: 0.2 },
            Activation::Elu => LayerSpec::Elu { alpha: 1.0 },
            Activation::Sigmoid => LayerSpec::Sigmoid,
            Activation::Tanh => LayerSpec::Tanh,
            Activation::Softplus => LayerSpec::Softplus { beta: 1.0 },
            Activation::Identity => LayerSpec::Identity,
        }
    }

    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Elu => "elu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softplus => "softplus",
            Activation::Identity => "identity",
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase().replace('-', "_");
        Activation::ALL.iter().copied().find(|a| a.name() == key).ok_or_else(|| {
            let names: Vec<&str> = Activation::ALL.iter().map(|a| a.name()).collect();
            ModelError::config("activation", format!("unknown activation `{s}`; choose one of: {}", names.join(", ")))
        })
    }
}

/// How the decoder's output is read, and so which reconstruction loss trains it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Likelihood {
    /// The decoder emits logits; pixels are Bernoulli probabilities; the loss is binary
    /// cross-entropy on logits summed over pixels (needs data in [0, 1]).
    #[default]
    Bernoulli,
    /// The decoder's output is the pixel value itself; the loss is the squared error summed
    /// over pixels (a Gaussian of fixed variance).
    Gaussian,
}

/// Whether a likelihood is the default (Bernoulli), for `skip_serializing_if`.
pub fn is_bernoulli(l: &Likelihood) -> bool {
    *l == Likelihood::Bernoulli
}

impl Likelihood {
    /// The likelihood that fits data of this kind: Bernoulli for pixels in [0, 1], Gaussian for
    /// standardised real values.
    pub fn for_values(values: latent_data::ValueKind) -> Self {
        match values {
            latent_data::ValueKind::Pixels => Likelihood::Bernoulli,
            latent_data::ValueKind::Real => Likelihood::Gaussian,
        }
    }

    /// The decoder's output mapped to data space: `σ(logits)` for Bernoulli, the output itself
    /// for Gaussian.
    pub fn mean(self, output: &Tensor) -> Tensor {
        match self {
            Likelihood::Bernoulli => output.sigmoid(),
            Likelihood::Gaussian => output.clone(),
        }
    }

    /// `−log p(target | output)` per example (`[N]`), in nats: binary cross-entropy on logits
    /// summed over values, or for the Gaussian of unit variance (in standardised units)
    /// `½‖x − μ‖² + ½·D·ln 2π`.
    ///
    /// # Errors
    /// If the shapes differ.
    pub fn nll_rows(self, output: &Tensor, target: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Likelihood::Bernoulli => {
                binary_cross_entropy_with_logits(output, target, Reduction::None)?.sum_axes(&[1], false)?
            }
            Likelihood::Gaussian => {
                let d = target.shape().get(1).copied().unwrap_or(1) as f32;
                mse_loss(output, target, Reduction::None)?
                    .sum_axes(&[1], false)?
                    .mul_scalar(0.5)
                    .add_scalar(0.5 * d * LN_2PI)
            }
        })
    }

    /// The reconstruction error per example (`[N]`) in the units the autoencoders train in:
    /// binary cross-entropy on logits summed over values (Bernoulli), or the squared error
    /// summed over values (Gaussian; without the ½ and the constant of [`nll_rows`](Self::nll_rows)).
    ///
    /// # Errors
    /// If the shapes differ.
    pub fn reconstruction_error_rows(self, output: &Tensor, target: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Likelihood::Bernoulli => {
                binary_cross_entropy_with_logits(output, target, Reduction::None)?.sum_axes(&[1], false)?
            }
            Likelihood::Gaussian => mse_loss(output, target, Reduction::None)?.sum_axes(&[1], false)?,
        })
    }

    /// [`nll_rows`](Self::nll_rows) summed over the batch.
    ///
    /// # Errors
    /// If the shapes differ.
    pub fn nll_sum(self, output: &Tensor, target: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Likelihood::Bernoulli => binary_cross_entropy_with_logits(output, target, Reduction::Sum)?,
            Likelihood::Gaussian => {
                let n = target.len() as f32;
                mse_loss(output, target, Reduction::Sum)?.mul_scalar(0.5).add_scalar(0.5 * n * LN_2PI)
            }
        })
    }
}

/// `ln 2π`.
const LN_2PI: f32 = 1.837_877;

impl FromStr for Likelihood {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bce" | "bernoulli" => Ok(Likelihood::Bernoulli),
            "mse" | "gaussian" => Ok(Likelihood::Gaussian),
            _ => Err(ModelError::config("loss", format!("unknown loss `{s}`; choose bce or mse"))),
        }
    }
}

/// Serialise a noise spec as its text (`mask:0.5`); for `#[serde(serialize_with)]`.
///
/// # Errors
/// As the serializer.
pub fn noise_to_str<S: Serializer>(noise: &NoiseSpec, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&noise.to_string())
}

/// Read a noise spec from its text; for `#[serde(deserialize_with)]`.
///
/// # Errors
/// If the text is not a noise spec.
pub fn noise_from_str<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<NoiseSpec, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// The largest size of any input, layer or code: 2^40, more values than any memory holds (a
/// layer that wide is refused by [`crate::memory`] long before), and small enough that sums and
/// products of a few sizes stay in range.
pub const MAX_SIZE: u64 = 1 << 40;

/// `Ok` if `v` is 1 to [`MAX_SIZE`]; otherwise an error naming `field`.
///
/// # Errors
/// If `v` is 0 or above [`MAX_SIZE`].
pub fn positive(field: &str, v: usize) -> Result<()> {
    if v == 0 {
        Err(ModelError::config(field, "must be at least 1"))
    } else if v as u64 > MAX_SIZE {
        Err(ModelError::config(field, format!("{v} is more than any memory can hold (at most 2^40 = {MAX_SIZE})")))
    } else {
        Ok(())
    }
}

/// `Ok` if `v` is finite and not negative; otherwise an error naming `field`.
///
/// # Errors
/// If `v` is negative, infinite or NaN.
pub fn finite_non_negative(field: &str, v: f32) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(ModelError::config(field, format!("must be a finite number >= 0, found {v}")))
    }
}

/// `Ok` if `classes` is 1 to 256 (labels are bytes); otherwise an error.
///
/// # Errors
/// If it is out of range.
pub fn check_classes(classes: usize) -> Result<()> {
    if (1..=256).contains(&classes) {
        Ok(())
    } else {
        Err(ModelError::config("classes", format!("must be 1 to 256 (labels are bytes), found {classes}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_errors_list_the_choices() {
        assert_eq!("leaky-relu".parse::<Activation>().unwrap(), Activation::LeakyRelu);
        assert!("swish".parse::<Activation>().unwrap_err().to_string().contains("relu"));
        assert_eq!("mse".parse::<Likelihood>().unwrap(), Likelihood::Gaussian);
        assert!(positive("latent_dim", 0).unwrap_err().to_string().contains("latent_dim"));
        assert!(positive("hidden", usize::MAX).unwrap_err().to_string().contains("at most 2^40"));
        assert!(check_classes(0).is_err() && check_classes(256).is_ok());
    }
}
