//! [`ConvAutoencoder`] and [`ConvVae`]: autoencoders whose encoder is a stack of stride-2
//! convolutions and whose decoder mirrors it with transposed convolutions.
//!
//! # Design
//! - One trunk for both. With the default channels `[32, 64]` on 28×28 digits:
//!   encoder `Conv2d(1, 32, 4, s2, p1) → ReLU → Conv2d(32, 64, 4, s2, p1) → ReLU → Flatten`
//!   (64·7·7 features), then `Linear(3136, latent)` for the autoencoder, or two linear heads
//!   `fc_mu`, `fc_logvar` for the VAE; decoder `Linear(latent, 3136) → ReLU → Unflatten(64, 7, 7)
//!   → ConvTranspose2d(64, 32, 4, s2, p1) → ReLU → ConvTranspose2d(32, 1, 4, s2, p1)`, giving
//!   Bernoulli logits. Each kernel-4, stride-2, padding-1 layer halves the side exactly (the
//!   configuration checks the side is divisible by `2^layers`), and each transposed one doubles
//!   it back.
//! - The rest of the crate and the CLI see images flat, `[N, side²]`, as for the MLP models: the
//!   models reshape their input to `[N, 1, side, side]` and their output back, so pictures,
//!   evaluation and `reconstruct` need nothing new.
//! - The VAE's objective is the MLP VAE's ([`crate::vae`]'s `gaussian_elbo`): one reparameterised
//!   `z` per example, `BCE + β·KL` summed over the batch, with the same parts.
//!
//! Parameter names follow the equivalent PyTorch `nn.Sequential` modules: `encoder.0.weight`
//! (the first convolution), `encoder.2.*`, `encoder.5.*` (the autoencoder's code layer),
//! `fc_mu.*`, `fc_logvar.*` (the VAE's heads), `decoder.0.*`, `decoder.3.*`, `decoder.5.*`.

use latent_data::Batch;
use latent_losses::{Reduction, binary_cross_entropy_with_logits};
use latent_nn::layers::{Conv2dConfig, ConvTranspose2dConfig, LayerSpec, Linear, LinearConfig, Sequential};
use latent_nn::{Ctx, Layer, Module};
use latent_tensor::{Tensor, TensorRng, no_grad};

use crate::config::{ConvAutoencoderConfig, ConvVaeConfig, ModelConfig};
use crate::error::Result;
use crate::model::{Model, Objective, Parts, data_tensor};
use crate::vae::gaussian_elbo;

/// The stride-2 convolutions and ReLUs of the encoder, then a flatten: `[N, 1, s, s]` →
/// `[N, channels.last() · (s / 2^layers)²]`. Returns the specs and the flat width.
fn encoder_trunk(image_size: usize, channels: &[usize]) -> (Vec<LayerSpec>, usize) {
    let mut layers = Vec::new();
    let mut input = 1;
    for &c in channels {
        layers.push(LayerSpec::Conv2d(Conv2dConfig::new(input, c, 4).stride(2).padding(1)));
        layers.push(LayerSpec::Relu);
        input = c;
    }
    layers.push(LayerSpec::Flatten { start_dim: 1 });
    let side = image_size >> channels.len();
    (layers, input * side * side)
}

/// The decoder: `Linear(latent, flat) → ReLU → Unflatten`, then one transposed convolution per
/// encoder convolution (ReLU between them), ending in one channel of logits.
fn decoder(image_size: usize, channels: &[usize], latent: usize) -> Vec<LayerSpec> {
    let last = *channels.last().expect("validated: at least one convolution");
    let side = image_size >> channels.len();
    let mut layers = vec![
        LayerSpec::Linear(LinearConfig { in_features: latent, out_features: last * side * side, bias: true }),
        LayerSpec::Relu,
        LayerSpec::Unflatten { dim: 1, sizes: vec![last, side, side] },
    ];
    let mut outs: Vec<usize> = channels.iter().rev().skip(1).copied().collect();
    outs.push(1);
    let mut input = last;
    for (i, &out) in outs.iter().enumerate() {
        layers.push(LayerSpec::ConvTranspose2d(ConvTranspose2dConfig::new(input, out, 4).stride(2).padding(1)));
        if i + 1 < outs.len() {
            layers.push(LayerSpec::Relu);
        }
        input = out;
    }
    layers
}

/// Flat rows `[N, s²]` as images `[N, 1, s, s]`.
fn to_images(x: &Tensor, image_size: usize) -> Result<Tensor> {
    let n = x.shape().first().copied().unwrap_or(0);
    Ok(x.reshape(&[n, 1, image_size, image_size])?)
}

/// Images `[N, C, H, W]` as flat rows `[N, C·H·W]`.
fn to_rows(x: &Tensor) -> Result<Tensor> {
    let n = x.shape().first().copied().unwrap_or(0);
    Ok(x.reshape(&[n, x.len() / n.max(1)])?)
}

/// A convolutional autoencoder (see the module docs).
#[derive(Module)]
pub struct ConvAutoencoder {
    #[module(skip)]
    config: ConvAutoencoderConfig,
    encoder: Sequential,
    decoder: Sequential,
}

impl ConvAutoencoder {
    /// A new convolutional autoencoder with PyTorch's default initial weights drawn from `rng`.
    ///
    /// # Errors
    /// If the configuration is invalid.
    pub fn new(config: ConvAutoencoderConfig, rng: &mut TensorRng) -> Result<Self> {
        ModelConfig::ConvAutoencoder(config.clone()).validate()?;
        let (mut specs, flat) = encoder_trunk(config.image_size, &config.channels);
        specs.push(LayerSpec::Linear(LinearConfig { in_features: flat, out_features: config.latent_dim, bias: true }));
        let encoder = Sequential::from_specs(&specs, rng)?;
        let decoder = Sequential::from_specs(&decoder(config.image_size, &config.channels, config.latent_dim), rng)?;
        Ok(ConvAutoencoder { config, encoder, decoder })
    }

    fn code(&mut self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        Ok(self.encoder.forward(&to_images(x, self.config.image_size)?, ctx)?)
    }

    fn logits(&mut self, z: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        to_rows(&self.decoder.forward(z, ctx)?)
    }
}

impl Model for ConvAutoencoder {
    fn config(&self) -> ModelConfig {
        ModelConfig::ConvAutoencoder(self.config.clone())
    }

    /// BCE on logits, summed over pixels and the batch (parts `recon` and `loss`).
    fn objective(&mut self, batch: &Batch, ctx: &mut Ctx) -> Result<Objective> {
        let input = data_tensor(batch.input());
        let target = data_tensor(&batch.images);
        let code = self.code(&input, ctx)?;
        let logits = self.logits(&code, ctx)?;
        let loss = binary_cross_entropy_with_logits(&logits, &target, Reduction::Sum)?;
        let mut parts = Parts::default();
        let value = f64::from(loss.item()?);
        parts.set("recon", value);
        parts.set("loss", value);
        Ok(Objective { loss, parts })
    }

    fn encode(&mut self, x: &Tensor) -> Result<Tensor> {
        let _guard = no_grad();
        self.code(x, &mut Ctx::eval())
    }

    fn decode(&mut self, z: &Tensor) -> Result<Tensor> {
        let _guard = no_grad();
        Ok(self.logits(z, &mut Ctx::eval())?.sigmoid())
    }
}

/// A convolutional VAE (see the module docs).
#[derive(Module)]
pub struct ConvVae {
    #[module(skip)]
    config: ConvVaeConfig,
    encoder: Sequential,
    fc_mu: Linear,
    fc_logvar: Linear,
    decoder: Sequential,
}

impl ConvVae {
    /// A new convolutional VAE with PyTorch's default initial weights drawn from `rng`.
    ///
    /// # Errors
    /// If the configuration is invalid.
    pub fn new(config: ConvVaeConfig, rng: &mut TensorRng) -> Result<Self> {
        ModelConfig::ConvVae(config.clone()).validate()?;
        let (specs, flat) = encoder_trunk(config.image_size, &config.channels);
        let encoder = Sequential::from_specs(&specs, rng)?;
        let fc_mu = Linear::new(flat, config.latent_dim, rng)?;
        let fc_logvar = Linear::new(flat, config.latent_dim, rng)?;
        let decoder = Sequential::from_specs(&decoder(config.image_size, &config.channels, config.latent_dim), rng)?;
        Ok(ConvVae { config, encoder, fc_mu, fc_logvar, decoder })
    }

    /// `(μ, log σ²)` of `q(z|x)` for flat inputs.
    fn posterior(&mut self, x: &Tensor, ctx: &mut Ctx) -> Result<(Tensor, Tensor)> {
        let h = self.encoder.forward(&to_images(x, self.config.image_size)?, ctx)?;
        Ok((self.fc_mu.forward(&h, ctx)?, self.fc_logvar.forward(&h, ctx)?))
    }
}

impl Model for ConvVae {
    fn config(&self) -> ModelConfig {
        ModelConfig::ConvVae(self.config.clone())
    }

    /// As [`crate::Vae`]: one sample of `z` per example, in train and eval mode alike.
    fn objective(&mut self, batch: &Batch, ctx: &mut Ctx) -> Result<Objective> {
        let input = data_tensor(batch.input());
        let target = data_tensor(&batch.images);
        let (mu, logvar) = self.posterior(&input, ctx)?;
        let decoder = &mut self.decoder;
        gaussian_elbo(&mu, &logvar, &target, self.config.beta, ctx, |z, ctx| to_rows(&decoder.forward(z, ctx)?))
    }

    fn encode(&mut self, x: &Tensor) -> Result<Tensor> {
        let _guard = no_grad();
        Ok(self.posterior(x, &mut Ctx::eval())?.0)
    }

    fn decode(&mut self, z: &Tensor) -> Result<Tensor> {
        let _guard = no_grad();
        Ok(to_rows(&self.decoder.forward(z, &mut Ctx::eval())?)?.sigmoid())
    }

    fn sample(&mut self, n: usize, rng: &mut TensorRng) -> Result<Tensor> {
        let z = rng.randn(&[n, self.config.latent_dim]);
        self.decode(&z)
    }

    fn is_generative(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(m: &dyn Module) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        m.visit_params("", &mut |name, t| out.push((name.to_string(), t.shape().to_vec())));
        out
    }

    #[test]
    fn the_autoencoder_has_pytorch_names_and_keeps_images_flat() {
        let config = ConvAutoencoderConfig {
            image_size: 28,
            channels: vec![32, 64],
            latent_dim: 16,
            noise: latent_data::NoiseSpec::None,
        };
        let mut model = ConvAutoencoder::new(config, &mut TensorRng::seed_from_u64(0)).unwrap();
        let got = names(&model);
        let want: Vec<(String, Vec<usize>)> = [
            ("encoder.0.weight", vec![32, 1, 4, 4]),
            ("encoder.0.bias", vec![32]),
            ("encoder.2.weight", vec![64, 32, 4, 4]),
            ("encoder.2.bias", vec![64]),
            ("encoder.5.weight", vec![16, 3136]),
            ("encoder.5.bias", vec![16]),
            ("decoder.0.weight", vec![3136, 16]),
            ("decoder.0.bias", vec![3136]),
            ("decoder.3.weight", vec![64, 32, 4, 4]),
            ("decoder.3.bias", vec![32]),
            ("decoder.5.weight", vec![32, 1, 4, 4]),
            ("decoder.5.bias", vec![1]),
        ]
        .into_iter()
        .map(|(n, s)| (n.to_string(), s))
        .collect();
        assert_eq!(got, want);
        let x = TensorRng::seed_from_u64(1).uniform(&[3, 784], 0.0, 1.0).unwrap();
        assert_eq!(model.encode(&x).unwrap().shape(), &[3, 16]);
        let r = model.reconstruct(&x).unwrap();
        assert_eq!(r.shape(), &[3, 784]);
        assert!(r.to_vec().iter().all(|&p| (0.0..=1.0).contains(&p)));
    }

    #[test]
    fn the_vae_has_two_heads_and_samples_flat_images() {
        let config = ConvVaeConfig { image_size: 28, channels: vec![8, 16], latent_dim: 4, beta: 1.0 };
        let mut model = ConvVae::new(config, &mut TensorRng::seed_from_u64(0)).unwrap();
        let got: Vec<String> = names(&model).into_iter().map(|(n, _)| n).collect();
        assert!(got.contains(&"fc_mu.weight".to_string()) && got.contains(&"fc_logvar.bias".to_string()), "{got:?}");
        assert!(got.contains(&"decoder.5.weight".to_string()), "{got:?}");
        let s = model.sample(5, &mut TensorRng::seed_from_u64(2)).unwrap();
        assert_eq!(s.shape(), &[5, 784]);
    }

    #[test]
    fn a_side_the_convolutions_cannot_halve_is_refused() {
        let config = ConvAutoencoderConfig {
            image_size: 28,
            channels: vec![8, 16, 32],
            latent_dim: 4,
            noise: latent_data::NoiseSpec::None,
        };
        let e = ConvAutoencoder::new(config, &mut TensorRng::seed_from_u64(0)).err().unwrap().to_string();
        assert!(e.contains("channels") && e.contains("divisible by 2^3"), "{e}");
    }
}
