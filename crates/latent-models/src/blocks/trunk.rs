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
//! - Convolutional, channels `[c1, c2]` on `C × H × W` images: body `Conv(C, c1, 4, s2, p1) →
//!   ReLU → Conv(c1, c2, 4, s2, p1) → ReLU → Flatten` (each layer halves both sides, which must
//!   divide exactly); decoder `Linear(latent, c2·h·w) → ReLU → Unflatten → ConvT(c2, c1, 4, s2,
//!   p1) → ReLU → ConvT(c1, C, 4, s2, p1)`. The rest of latent sees images flat: the models
//!   reshape at the trunk's ends.

use latent_nn::layers::{Conv2dConfig, ConvTranspose2dConfig, LayerSpec, LinearConfig};
use latent_tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::architecture::{Graph, Op};
use crate::blocks::mlp::{mlp, widths};
use crate::config::{Activation, Likelihood, positive};
use crate::error::{ModelError, Result};

fn one() -> usize {
    1
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_one(n: &usize) -> bool {
    *n == 1
}

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
    /// Stride-2 convolutions (kernel 4, padding 1) on images.
    Conv {
        /// The input image's height (28 for MNIST), and its width unless `image_width` says.
        image_size: usize,
        /// The input image's width, when it differs from its height.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image_width: Option<usize>,
        /// The input image's channels (1 grey, 3 RGB).
        #[serde(default = "one", skip_serializing_if = "is_one")]
        image_channels: usize,
        /// The channels of the encoder's convolutions, input side first; the decoder mirrors
        /// them.
        channels: Vec<usize>,
    },
}

impl Trunk {
    /// A convolutional trunk with `channels` on images of `dims` (`[C, H, W]`).
    pub fn conv(dims: [usize; 3], channels: Vec<usize>) -> Self {
        let mut t = Trunk::Conv { image_size: 0, image_width: None, image_channels: 1, channels };
        t.set_image(dims);
        t
    }

    /// Adopts images of `dims` (`[C, H, W]`) as the convolutional trunk's input; an MLP trunk
    /// takes any input and is left alone.
    pub fn set_image(&mut self, [c, h, w]: [usize; 3]) {
        if let Trunk::Conv { image_size, image_width, image_channels, .. } = self {
            *image_size = h;
            *image_width = (w != h).then_some(w);
            *image_channels = c;
        }
    }

    /// `[C, H, W]` of a convolutional trunk's images.
    pub fn image_dims(&self) -> Option<[usize; 3]> {
        match self {
            Trunk::Conv { image_size, image_width, image_channels, .. } => {
                Some([*image_channels, *image_size, image_width.unwrap_or(*image_size)])
            }
            Trunk::Mlp { .. } => None,
        }
    }

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
            Trunk::Conv { channels, .. } => {
                let [c, h, w] = self.image_dims().expect("a convolutional trunk");
                positive("image_size", h)?;
                positive("image_width", w)?;
                positive("image_channels", c)?;
                if channels.is_empty() {
                    return Err(ModelError::config("channels", "needs at least one convolution"));
                }
                channels.iter().try_for_each(|&c| positive("channels", c))?;
                if h == 1 {
                    return Err(ModelError::config(
                        "data",
                        format!(
                            "convolutional models take images, and this data's examples are rows of {w} values: use an MLP model (ae, vae, ...)"
                        ),
                    ));
                }
                let halvings = u32::try_from(channels.len()).ok().and_then(|n| 1usize.checked_shl(n)).unwrap_or(0);
                for (side, name) in [(h, "height"), (w, "width")] {
                    if halvings == 0 || side % halvings != 0 {
                        return Err(ModelError::config(
                            "channels",
                            format!(
                                "{} stride-2 convolutions need an image {name} divisible by 2^{}, and {side} is not (resize the images, e.g. --image-size, or use fewer convolutions with --hidden)",
                                channels.len(),
                                channels.len()
                            ),
                        ));
                    }
                }
                if c.checked_mul(h).and_then(|n| n.checked_mul(w)) != Some(input_dim) {
                    return Err(ModelError::config(
                        "image_size",
                        format!("{c}×{h}×{w} images do not have the input's {input_dim} values"),
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
            Trunk::Conv { channels, .. } => {
                let [c0, h, w] = self.image_dims().expect("a convolutional trunk");
                let mut layers = Vec::new();
                let mut in_channels = c0;
                for &c in channels {
                    layers.push(LayerSpec::Conv2d(Conv2dConfig::new(in_channels, c, 4).stride(2).padding(1)));
                    layers.push(LayerSpec::Relu);
                    in_channels = c;
                }
                layers.push(LayerSpec::Flatten { start_dim: 1 });
                let n = channels.len();
                // Saturating: an absurd width is refused by its memory estimate, not overflowed.
                (layers, in_channels.saturating_mul(h >> n).saturating_mul(w >> n))
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
            Trunk::Conv { channels, .. } => {
                let [c0, h, w] = self.image_dims().expect("a convolutional trunk");
                let last = *channels.last().expect("validated: at least one convolution");
                let (h, w) = (h >> channels.len(), w >> channels.len());
                let mut layers = vec![
                    LayerSpec::Linear(LinearConfig {
                        in_features: latent,
                        out_features: last.saturating_mul(h).saturating_mul(w),
                        bias: true,
                    }),
                    LayerSpec::Relu,
                    LayerSpec::Unflatten { dim: 1, sizes: vec![last, h, w] },
                ];
                let mut outs: Vec<usize> = channels.iter().rev().skip(1).copied().collect();
                outs.push(c0);
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

    /// The shape of one example as the body reads it: `[input]` for an MLP, `[C, H, W]` for
    /// convolutions.
    pub fn input_shape(&self, input: usize) -> Vec<usize> {
        match self.image_dims() {
            None => vec![input],
            Some(dims) => dims.to_vec(),
        }
    }

    /// Flat rows `[N, C·H·W]` as the body's input: unchanged for an MLP, `[N, C, H, W]` for
    /// convolutions.
    ///
    /// # Errors
    /// If the rows do not have `C·H·W` values.
    pub fn to_input(&self, x: &Tensor) -> Result<Tensor> {
        match self.image_dims() {
            None => Ok(x.clone()),
            Some([c, h, w]) => {
                let n = x.shape().first().copied().unwrap_or(0);
                Ok(x.reshape(&[n, c, h, w])?)
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

    /// In graph `g`, the value `x` (flat rows) as the body reads it: `x` itself for an MLP, a
    /// new value `image` of shape `[C, H, W]` for convolutions. Returns the value's name.
    pub fn graph_input(&self, g: &mut Graph, x: &str) -> String {
        match self.image_dims() {
            None => x.to_string(),
            Some(dims) => g.push("image", Op::Reshape(dims.to_vec()), &[x]),
        }
    }

    /// In graph `g`, apply the decoder (sub-module `module`) to `input` and bring its output to
    /// flat rows of `width` values, then to data space as `likelihood` reads it; the result is
    /// the value `x`, the graph's output.
    pub fn graph_decode(&self, g: &mut Graph, module: &str, input: &str, width: usize, likelihood: Likelihood) {
        let bernoulli = likelihood == Likelihood::Bernoulli;
        let raw = if bernoulli { "logits" } else { "x" };
        let out = match self {
            Trunk::Mlp { .. } => g.push(raw, Op::Module(module.into()), &[input]),
            Trunk::Conv { .. } => {
                let h = g.push("h", Op::Module(module.into()), &[input]);
                g.push(raw, Op::Reshape(vec![width]), &[&h])
            }
        };
        if bernoulli {
            g.push_data_map("x", Op::Sigmoid, &[&out]);
            g.output("x", "the mean of p(x|z) in model units: pixel probabilities σ(logits) in [0, 1]");
        } else {
            g.output("x", "the mean of p(x|z) in model units (standardised values)");
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
