//! [`Trunk`]: the body an autoencoder or VAE is built on — a stack of Linear layers (MLP) or of
//! stride-2 convolutions — and the mirrored decoder.
//!
//! Both families build the same way from a trunk: the encoder is the trunk's body (giving
//! `features` values per example) followed by the family's head (an autoencoder's code layer,
//! a VAE's `fc_mu` and `fc_logvar`), and the decoder mirrors the body back to the data. The
//! layer lists are exactly the PyTorch `nn.Sequential`s of the reference models, so parameter
//! names (`encoder.0.weight`, `decoder.3.bias`, ...) match theirs.
//!
//! - MLP, hidden widths `[h1, h2]`: body `Linear(in, h1) → act → Linear(h1, h2) → act`; decoder
//!   `Linear(latent, h2) → act → Linear(h2, h1) → act → Linear(h1, in)`.
//! - Convolutional, channels `[c1, c2]` on `side × side` images: body `Conv(1, c1, 4, s2, p1) → ReLU →
//!   Conv(c1, c2, 4, s2, p1) → ReLU → Flatten` (each layer halves the side); decoder
//!   `Linear(latent, c2·s·s) → ReLU → Unflatten → ConvT(c2, c1, 4, s2, p1) → ReLU → ConvT(c1, 1, 4,
//!   s2, p1)`. The rest of latent sees images flat: the models reshape at the trunk's ends.

use latent_nn::layers::{Conv2dConfig, ConvTranspose2dConfig, LayerSpec, LinearConfig};
use latent_tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::blocks::mlp::{mlp, widths};
use crate::config::{Activation, positive};
use crate::error::{ModelError, Result};

/// The body of an encoder and the shape of the decoder that mirrors it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "trunk", rename_all = "snake_case")]
pub enum Trunk {
    /// Linear layers.
    Mlp {
        /// Hidden widths, input side first; the decoder mirrors them.
        hidden: Vec<usize>,
        /// The hidden layers' activation.
        activation: Activation,
    },
    /// Stride-2 convolutions (kernel 4, padding 1) on square one-channel images.
    Conv {
        /// The side of the square input image (28 for MNIST).
        image_size: usize,
        /// The channels of the encoder's convolutions, input side first; the decoder mirrors
        /// them.
        channels: Vec<usize>,
    },
}

impl Trunk {
    /// Whether this is the convolutional trunk.
    pub fn is_conv(&self) -> bool {
        matches!(self, Trunk::Conv { .. })
    }

    /// Check the trunk against an input of `input_dim` values.
    ///
    /// # Errors
    /// A zero width or channel count, no convolution, or an image side the convolutions cannot
    /// halve exactly.
    pub fn validate(&self, input_dim: usize) -> Result<()> {
        match self {
            Trunk::Mlp { hidden, .. } => hidden.iter().try_for_each(|&h| positive("hidden", h)),
            Trunk::Conv { image_size, channels } => {
                positive("image_size", *image_size)?;
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
                if image_size.checked_mul(*image_size) != Some(input_dim) {
                    return Err(ModelError::config(
                        "image_size",
                        format!("{image_size}×{image_size} images do not have the input's {input_dim} values"),
                    ));
                }
                Ok(())
            }
        }
    }

    /// The encoder's body for inputs of `input` values (`extra` more for a label one-hot, MLP
    /// only), and the number of features it gives.
    pub fn body(&self, input: usize, extra: usize) -> (Vec<LayerSpec>, usize) {
        match self {
            Trunk::Mlp { hidden, activation } => {
                let mut dims = vec![input + extra];
                dims.extend_from_slice(hidden);
                let features = *dims.last().expect("the input width");
                (mlp(&dims, *activation, Some(*activation)), features)
            }
            Trunk::Conv { image_size, channels } => {
                let mut layers = Vec::new();
                let mut in_channels = 1;
                for &c in channels {
                    layers.push(LayerSpec::Conv2d(Conv2dConfig::new(in_channels, c, 4).stride(2).padding(1)));
                    layers.push(LayerSpec::Relu);
                    in_channels = c;
                }
                layers.push(LayerSpec::Flatten { start_dim: 1 });
                let side = image_size >> channels.len();
                // Saturating: an absurd width is refused by its memory estimate, not overflowed.
                (layers, in_channels.saturating_mul(side).saturating_mul(side))
            }
        }
    }

    /// The encoder of an autoencoder: the body and a code layer of `latent` units with an
    /// optional activation.
    pub fn encoder_with_code(&self, input: usize, latent: usize, code: Option<Activation>) -> Vec<LayerSpec> {
        match self {
            // One list, so the MLP's indices stay those of a single `nn.Sequential`.
            Trunk::Mlp { hidden, activation } => mlp(&widths(input, hidden, latent), *activation, code),
            Trunk::Conv { .. } => {
                let (mut layers, features) = self.body(input, 0);
                layers.push(LayerSpec::Linear(LinearConfig {
                    in_features: features,
                    out_features: latent,
                    bias: true,
                }));
                layers.extend(code.map(Activation::layer));
                layers
            }
        }
    }

    /// The decoder from `latent` inputs (codes, plus a label one-hot) back to `output` values
    /// per example (logits or values; the model maps them to data space).
    pub fn decoder(&self, latent: usize, output: usize) -> Vec<LayerSpec> {
        match self {
            Trunk::Mlp { hidden, activation } => {
                let back: Vec<usize> = hidden.iter().rev().copied().collect();
                mlp(&widths(latent, &back, output), *activation, None)
            }
            Trunk::Conv { image_size, channels } => {
                let last = *channels.last().expect("validated: at least one convolution");
                let side = image_size >> channels.len();
                let mut layers = vec![
                    LayerSpec::Linear(LinearConfig {
                        in_features: latent,
                        out_features: last.saturating_mul(side).saturating_mul(side),
                        bias: true,
                    }),
                    LayerSpec::Relu,
                    LayerSpec::Unflatten { dim: 1, sizes: vec![last, side, side] },
                ];
                let mut outs: Vec<usize> = channels.iter().rev().skip(1).copied().collect();
                outs.push(1);
                let mut input = last;
                for (i, &out) in outs.iter().enumerate() {
                    layers.push(LayerSpec::ConvTranspose2d(
                        ConvTranspose2dConfig::new(input, out, 4).stride(2).padding(1),
                    ));
                    if i + 1 < outs.len() {
                        layers.push(LayerSpec::Relu);
                    }
                    input = out;
                }
                layers
            }
        }
    }

    /// The shape of one example as the body reads it: `[input]` for an MLP, `[1, side, side]`
    /// for convolutions.
    pub fn input_shape(&self, input: usize) -> Vec<usize> {
        match self {
            Trunk::Mlp { .. } => vec![input],
            Trunk::Conv { image_size, .. } => vec![1, *image_size, *image_size],
        }
    }

    /// Flat rows `[N, side²]` as the body's input: unchanged for an MLP, `[N, 1, side, side]`
    /// for convolutions.
    ///
    /// # Errors
    /// If the rows do not have `side²` values.
    pub fn to_input(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Trunk::Mlp { .. } => Ok(x.clone()),
            Trunk::Conv { image_size, .. } => {
                let n = x.shape().first().copied().unwrap_or(0);
                Ok(x.reshape(&[n, 1, *image_size, *image_size])?)
            }
        }
    }

    /// The decoder's output as flat rows `[N, values]`.
    ///
    /// # Errors
    /// Never for a decoder built by [`Trunk::decoder`].
    pub fn to_rows(&self, y: &Tensor) -> Result<Tensor> {
        match self {
            Trunk::Mlp { .. } => Ok(y.clone()),
            Trunk::Conv { .. } => {
                let n = y.shape().first().copied().unwrap_or(0);
                Ok(y.reshape(&[n, y.len() / n.max(1)])?)
            }
        }
    }

    /// A short description (`mlp 512,128 relu`, `conv 32,64`).
    pub fn summary(&self) -> String {
        let join = |v: &[usize]| v.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        match self {
            Trunk::Mlp { hidden, activation } => format!("mlp {} {activation}", join(hidden)),
            Trunk::Conv { channels, .. } => format!("conv {}", join(channels)),
        }
    }
}
