//! Model configurations: plain data, serialisable to JSON, validated before a model is built.
//!
//! A configuration travels in the checkpoint's metadata and in the run directory's
//! `config.json`, and is enough to rebuild the model (weights come from the checkpoint).

use std::fmt;
use std::str::FromStr;

use latent_data::{NoiseSpec, Scale};
use latent_nn::layers::LayerSpec;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::dcgan::DcganConfig;
use crate::error::{ModelError, Result};
pub use crate::gan::{GanConfig, GanTraining};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Likelihood {
    /// The decoder emits logits; pixels are Bernoulli probabilities; the loss is binary
    /// cross-entropy on logits summed over pixels (needs data in [0, 1]).
    Bernoulli,
    /// The decoder's output is the pixel value itself; the loss is the squared error summed
    /// over pixels (a Gaussian of fixed variance).
    Gaussian,
}

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

/// A penalty added to an autoencoder's reconstruction loss, per example.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Regularizer {
    /// No penalty.
    None,
    /// `weight · Σ_j |h_j|` on the code (sparse autoencoder, L1 form).
    L1 {
        /// The penalty's weight.
        weight: f32,
    },
    /// `weight · Σ_j KL(ρ ‖ ρ̂_j)` with `ρ̂_j` the code unit's mean activation over the batch
    /// (sparse autoencoder, KL form; needs a sigmoid code).
    KlSparsity {
        /// The target mean activation ρ, in (0, 1).
        rho: f32,
        /// The penalty's weight.
        weight: f32,
    },
    /// `weight · ‖∂h/∂x‖²_F` of a one-layer sigmoid encoder, in closed form (contractive
    /// autoencoder).
    Contractive {
        /// The penalty's weight.
        weight: f32,
    },
}

/// An MLP autoencoder, with every member of the family as a choice of options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderConfig {
    /// Input size (784 for MNIST).
    pub input_dim: usize,
    /// Encoder hidden widths, input side first; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// The code size (below the input size: undercomplete; above: overcomplete).
    pub latent_dim: usize,
    /// The hidden layers' activation.
    pub activation: Activation,
    /// The code's activation; `None` for a linear code.
    pub code_activation: Option<Activation>,
    /// How outputs are read and trained.
    pub likelihood: Likelihood,
    /// A penalty on the code.
    pub regularizer: Regularizer,
    /// Corruption of the inputs during training (a denoising autoencoder); the target stays
    /// clean.
    #[serde(serialize_with = "noise_to_str", deserialize_with = "noise_from_str")]
    pub noise: NoiseSpec,
}

/// A variational autoencoder: a Gaussian encoder `q(z|x) = N(μ, σ²)`, a standard normal prior,
/// and a Bernoulli decoder on logits; trained on `-ELBO = BCE + β·KL` per example.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VaeConfig {
    /// Input size (784 for MNIST).
    pub input_dim: usize,
    /// Encoder hidden widths, input side first; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// The size of `z`.
    pub latent_dim: usize,
    /// The hidden layers' activation.
    pub activation: Activation,
    /// The weight of the KL term (1: the VAE; other values: a β-VAE).
    pub beta: f32,
}

/// A convolutional autoencoder on square one-channel images: stride-2 convolutions (kernel 4,
/// padding 1, each halving the side) and a linear code; the decoder mirrors them with
/// transposed convolutions and gives Bernoulli logits (trained on BCE).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvAutoencoderConfig {
    /// The side of the square input image (28 for MNIST); the input size is its square.
    pub image_size: usize,
    /// The channels of the encoder's convolutions, input side first; the decoder mirrors them.
    pub channels: Vec<usize>,
    /// The code size.
    pub latent_dim: usize,
    /// Corruption of the inputs during training (a denoising autoencoder); the target stays
    /// clean.
    #[serde(serialize_with = "noise_to_str", deserialize_with = "noise_from_str")]
    pub noise: NoiseSpec,
}

/// A convolutional VAE: the convolutional trunk of [`ConvAutoencoderConfig`] with two linear
/// heads (`μ`, `log σ²`) and the transposed-convolution decoder; trained on `BCE + β·KL` per
/// example like [`VaeConfig`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvVaeConfig {
    /// The side of the square input image (28 for MNIST); the input size is its square.
    pub image_size: usize,
    /// The channels of the encoder's convolutions, input side first; the decoder mirrors them.
    pub channels: Vec<usize>,
    /// The size of `z`.
    pub latent_dim: usize,
    /// The weight of the KL term.
    pub beta: f32,
}

/// A conditional VAE: the MLP VAE of [`VaeConfig`] whose encoder reads `[x, onehot(y)]` and
/// whose decoder reads `[z, onehot(y)]`, `y` being the digit label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CvaeConfig {
    /// Input size (784 for MNIST), without the label.
    pub input_dim: usize,
    /// The number of labels (10 digits).
    pub classes: usize,
    /// Encoder hidden widths, input side first; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// The size of `z`.
    pub latent_dim: usize,
    /// The hidden layers' activation.
    pub activation: Activation,
    /// The weight of the KL term.
    pub beta: f32,
}

/// A model's configuration, tagged by kind in JSON (`{"kind": "vae", ...}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelConfig {
    /// An [`crate::Autoencoder`].
    Autoencoder(AutoencoderConfig),
    /// A [`crate::Vae`].
    Vae(VaeConfig),
    /// A [`crate::ConvAutoencoder`].
    ConvAutoencoder(ConvAutoencoderConfig),
    /// A [`crate::ConvVae`].
    ConvVae(ConvVaeConfig),
    /// A [`crate::Cvae`].
    Cvae(CvaeConfig),
    /// An MLP [`crate::Gan`] (no classes).
    Gan(GanConfig),
    /// A conditional MLP [`crate::Gan`] (`classes > 0`).
    Cgan(GanConfig),
    /// A DCGAN, a convolutional [`crate::Gan`].
    Dcgan(DcganConfig),
}

fn noise_to_str<S: Serializer>(noise: &NoiseSpec, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&noise.to_string())
}

fn noise_from_str<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<NoiseSpec, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

fn positive(field: &str, v: usize) -> Result<()> {
    if v == 0 { Err(ModelError::config(field, "must be at least 1")) } else { Ok(()) }
}

fn finite_non_negative(field: &str, v: f32) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(ModelError::config(field, format!("must be a finite number >= 0, found {v}")))
    }
}

impl ModelConfig {
    /// The kind, as in `latent info` and the JSON tag.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Autoencoder(_) => "autoencoder",
            ModelConfig::Vae(_) => "vae",
            ModelConfig::ConvAutoencoder(_) => "conv_autoencoder",
            ModelConfig::ConvVae(_) => "conv_vae",
            ModelConfig::Cvae(_) => "cvae",
            ModelConfig::Gan(_) => "gan",
            ModelConfig::Cgan(_) => "cgan",
            ModelConfig::Dcgan(_) => "dcgan",
        }
    }

    /// The input size.
    pub fn input_dim(&self) -> usize {
        match self {
            ModelConfig::Autoencoder(c) => c.input_dim,
            ModelConfig::Vae(c) => c.input_dim,
            ModelConfig::ConvAutoencoder(c) => c.image_size * c.image_size,
            ModelConfig::ConvVae(c) => c.image_size * c.image_size,
            ModelConfig::Cvae(c) => c.input_dim,
            ModelConfig::Gan(c) | ModelConfig::Cgan(c) => c.output_dim,
            ModelConfig::Dcgan(c) => c.image_size * c.image_size,
        }
    }

    /// The code size.
    pub fn latent_dim(&self) -> usize {
        match self {
            ModelConfig::Autoencoder(c) => c.latent_dim,
            ModelConfig::Vae(c) => c.latent_dim,
            ModelConfig::ConvAutoencoder(c) => c.latent_dim,
            ModelConfig::ConvVae(c) => c.latent_dim,
            ModelConfig::Cvae(c) => c.latent_dim,
            ModelConfig::Gan(c) | ModelConfig::Cgan(c) => c.latent_dim,
            ModelConfig::Dcgan(c) => c.latent_dim,
        }
    }

    /// Check every field; the error names the field and what was expected.
    ///
    /// # Errors
    /// On the first invalid field.
    pub fn validate(&self) -> Result<()> {
        match self {
            ModelConfig::Autoencoder(c) => c.validate(),
            ModelConfig::Vae(c) => {
                positive("input_dim", c.input_dim)?;
                positive("latent_dim", c.latent_dim)?;
                c.hidden.iter().try_for_each(|&h| positive("hidden", h))?;
                finite_non_negative("beta", c.beta)
            }
            ModelConfig::ConvAutoencoder(c) => {
                conv_shape(c.image_size, &c.channels)?;
                positive("latent_dim", c.latent_dim)
            }
            ModelConfig::ConvVae(c) => {
                conv_shape(c.image_size, &c.channels)?;
                positive("latent_dim", c.latent_dim)?;
                finite_non_negative("beta", c.beta)
            }
            ModelConfig::Cvae(c) => {
                positive("input_dim", c.input_dim)?;
                positive("latent_dim", c.latent_dim)?;
                if !(1..=256).contains(&c.classes) {
                    return Err(ModelError::config(
                        "classes",
                        format!("must be 1 to 256 (labels are bytes), found {}", c.classes),
                    ));
                }
                c.hidden.iter().try_for_each(|&h| positive("hidden", h))?;
                finite_non_negative("beta", c.beta)
            }
            ModelConfig::Gan(c) => c.validate(false),
            ModelConfig::Cgan(c) => c.validate(true),
            ModelConfig::Dcgan(c) => c.validate(),
        }
    }

    /// The range training data are scaled to: [-1, 1] for the GANs (their generators end in
    /// tanh), [0, 1] for every other model.
    pub fn data_scale(&self) -> Scale {
        if self.is_gan() { Scale::MinusOneOne } else { Scale::ZeroOne }
    }

    /// Whether this is a GAN (two networks, no encoder: nothing to reconstruct or embed).
    pub fn is_gan(&self) -> bool {
        matches!(self, ModelConfig::Gan(_) | ModelConfig::Cgan(_) | ModelConfig::Dcgan(_))
    }
}

/// Check a convolutional trunk: at least one layer, positive channels, and a side that every
/// stride-2 layer halves exactly (so the transposed convolutions give the input size back).
fn conv_shape(image_size: usize, channels: &[usize]) -> Result<()> {
    positive("image_size", image_size)?;
    if channels.is_empty() {
        return Err(ModelError::config("channels", "needs at least one convolution"));
    }
    channels.iter().try_for_each(|&c| positive("channels", c))?;
    let halvings = u32::try_from(channels.len()).ok().and_then(|n| 1usize.checked_shl(n)).unwrap_or(0);
    if halvings == 0 || image_size % halvings != 0 {
        return Err(ModelError::config(
            "channels",
            format!(
                "{} stride-2 convolutions need an image side divisible by 2^{}, and {image_size} is not",
                channels.len(),
                channels.len()
            ),
        ));
    }
    Ok(())
}

impl AutoencoderConfig {
    fn validate(&self) -> Result<()> {
        positive("input_dim", self.input_dim)?;
        positive("latent_dim", self.latent_dim)?;
        self.hidden.iter().try_for_each(|&h| positive("hidden", h))?;
        match self.regularizer {
            Regularizer::None => {}
            Regularizer::L1 { weight } => finite_non_negative("sparsity weight", weight)?,
            Regularizer::KlSparsity { rho, weight } => {
                finite_non_negative("sparsity weight", weight)?;
                if !(rho > 0.0 && rho < 1.0) {
                    return Err(ModelError::config("sparsity target rho", format!("must be in (0, 1), found {rho}")));
                }
                if self.code_activation != Some(Activation::Sigmoid) {
                    return Err(ModelError::config(
                        "code_activation",
                        "the KL sparsity penalty needs a sigmoid code (mean activations in (0, 1))",
                    ));
                }
            }
            Regularizer::Contractive { weight } => {
                finite_non_negative("contractive weight", weight)?;
                if !self.hidden.is_empty() || self.code_activation != Some(Activation::Sigmoid) {
                    return Err(ModelError::config(
                        "regularizer",
                        "the contractive penalty's closed form needs a one-layer sigmoid encoder (no hidden layers, sigmoid code)",
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_round_trip_through_json() {
        let c = ModelConfig::Autoencoder(AutoencoderConfig {
            input_dim: 784,
            hidden: vec![512, 128],
            latent_dim: 32,
            activation: Activation::Relu,
            code_activation: None,
            likelihood: Likelihood::Bernoulli,
            regularizer: Regularizer::KlSparsity { rho: 0.05, weight: 1.0 },
            noise: "mask:0.5".parse().unwrap(),
        });
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"kind\":\"autoencoder\"") && json.contains("\"noise\":\"mask:0.5\""), "{json}");
        assert_eq!(serde_json::from_str::<ModelConfig>(&json).unwrap(), c);
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = AutoencoderConfig {
            input_dim: 784,
            hidden: vec![],
            latent_dim: 64,
            activation: Activation::Relu,
            code_activation: Some(Activation::Relu),
            likelihood: Likelihood::Bernoulli,
            regularizer: Regularizer::Contractive { weight: 0.1 },
            noise: NoiseSpec::None,
        };
        let e = ModelConfig::Autoencoder(c.clone()).validate().unwrap_err().to_string();
        assert!(e.contains("one-layer sigmoid encoder"), "{e}");
        c.code_activation = Some(Activation::Sigmoid);
        ModelConfig::Autoencoder(c.clone()).validate().unwrap();
        c.latent_dim = 0;
        assert!(ModelConfig::Autoencoder(c).validate().unwrap_err().to_string().contains("latent_dim"));
        assert!("swish".parse::<Activation>().unwrap_err().to_string().contains("relu"));
    }
}
