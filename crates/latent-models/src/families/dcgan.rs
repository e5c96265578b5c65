//! [`DcganConfig`]: the DCGAN of Radford et al. for small one-channel images, as the PyTorch
//! DCGAN example builds it, scaled to 28×28 (`dcgan` on the command line). The model is a
//! [`crate::Gan`] (built by [`crate::Gan::dcgan`]), which owns the adversarial training step.
//!
//! With the defaults of the `dcgan` preset (`generator_channels = [128, 64]`,
//! `discriminator_channels = [64, 128]`, `latent_dim = 100`):
//!
//! ```text
//! G: z [N,100] → [N,100,1,1] → ConvT(100→128, k7)      → BN → ReLU   7×7
//!                            → ConvT(128→64, k4 s2 p1) → BN → ReLU  14×14
//!                            → ConvT(64→1,   k4 s2 p1) → tanh       28×28 → [N,784]
//! D: x [N,784] → [N,1,28,28] → Conv(1→64,   k4 s2 p1)      → LeakyReLU(0.2)  14×14
//!                            → Conv(64→128, k4 s2 p1) → BN → LeakyReLU(0.2)   7×7
//!                            → Conv(128→1,  k7)                               1×1 → [N,1]
//! ```
//!
//! Every convolution is bias-free (the BatchNorm after it has the bias; the output layers
//! follow the example). The first layer of `G` projects the noise to the smallest feature map
//! (side `image_size / 2^len(generator_channels)`), each further layer doubles the side; `D`
//! halves the side with each of its stride-2 convolutions, with BatchNorm after every one but
//! the first, and its last convolution covers the whole remaining map (a linear layer to one
//! logit, written as a convolution as the example does). Weights are drawn by
//! [`latent_nn::init::dcgan`]: convolutions `N(0, 0.02²)`, BatchNorm weights `N(1, 0.02²)`,
//! BatchNorm biases 0.

use latent_nn::layers::{BatchNormConfig, Conv2dConfig, ConvTranspose2dConfig, LayerSpec};
use serde::{Deserialize, Serialize};

use latent_data::Scale;
use latent_tensor::TensorRng;

use crate::config::positive;
use crate::error::{ModelError, Result};
use crate::families::gan::{GAN_FLAGS, Gan, GanTraining, apply_gan_flags, gan_train, refuse_real_values};
use crate::family::{Description, FamilyConfig, ModelConfig, ModelFlags, Preset};
use crate::memory::Footprint;
use crate::model::Model;

/// LeakyReLU's slope in the discriminator.
const LEAKY_SLOPE: f32 = 0.2;

/// A DCGAN on `C × H × W` images (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DcganConfig {
    /// The image's height (28 for MNIST), and its width unless `image_width` says.
    pub image_size: usize,
    /// The image's width, when it differs from its height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_width: Option<usize>,
    /// The image's channels (1 grey, 3 RGB).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub image_channels: usize,
    /// The size of the noise `z`.
    pub latent_dim: usize,
    /// The generator's feature channels, smallest map first (`[128, 64]`: 128 at 7×7, 64 at
    /// 14×14 for 28×28 images).
    pub generator_channels: Vec<usize>,
    /// The discriminator's feature channels, image side first (`[64, 128]`).
    pub discriminator_channels: Vec<usize>,
    /// How it trains.
    #[serde(default)]
    pub training: GanTraining,
}

fn one() -> usize {
    1
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_one(n: &usize) -> bool {
    *n == 1
}

impl DcganConfig {
    /// `[C, H, W]` of the images.
    pub fn image_dims(&self) -> [usize; 3] {
        [self.image_channels, self.image_size, self.image_width.unwrap_or(self.image_size)]
    }

    /// The generator's first map size and the discriminator's last, `(h, w)` divided by
    /// `2^layers`, if both are whole numbers of at least 1.
    fn start(&self, layers: usize) -> Option<(usize, usize)> {
        let [_, h, w] = self.image_dims();
        Some((start_side(h, layers)?, start_side(w, layers)?))
    }

    /// Check every field.
    ///
    /// # Errors
    /// On the first invalid field: a zero size, an empty channel list, or an image side that
    /// the stride-2 layers do not halve exactly.
    pub fn validate(&self) -> Result<()> {
        positive("latent_dim", self.latent_dim)?;
        positive("image_size", self.image_size)?;
        positive("image_width", self.image_width.unwrap_or(self.image_size))?;
        positive("image_channels", self.image_channels)?;
        positive("image values", self.image_dims().iter().fold(1usize, |a, &b| a.saturating_mul(b)))?;
        for (field, channels) in
            [("generator_channels", &self.generator_channels), ("discriminator_channels", &self.discriminator_channels)]
        {
            if channels.is_empty() || channels.contains(&0) {
                return Err(ModelError::config(field, "needs at least one layer, each of at least 1 channel"));
            }
            channels.iter().try_for_each(|&c| positive(field, c))?;
            self.start(channels.len()).ok_or_else(|| {
                let [_, h, w] = self.image_dims();
                ModelError::config(
                    field,
                    format!(
                        "{} stride-2 layers need an image height and width divisible by 2^{} (and at least that), and {h}×{w} is not (resize the images, e.g. --image-size)",
                        channels.len(),
                        channels.len(),
                    ),
                )
            })?;
        }
        self.training.validate()
    }

    /// The generator's layers (see the module docs).
    pub fn generator_specs(&self) -> Vec<LayerSpec> {
        let ch = &self.generator_channels;
        let (h0, w0) = self.start(ch.len()).unwrap_or((1, 1));
        let mut first = ConvTranspose2dConfig::new(self.latent_dim, ch[0], h0).bias(false);
        first.kernel_size = (h0, w0);
        let mut layers = vec![
            LayerSpec::Unflatten { dim: 1, sizes: vec![self.latent_dim, 1, 1] },
            LayerSpec::ConvTranspose2d(first),
            LayerSpec::BatchNorm2d(BatchNormConfig::new(ch[0])),
            LayerSpec::Relu,
        ];
        for pair in ch.windows(2) {
            layers.push(LayerSpec::ConvTranspose2d(up(pair[0], pair[1])));
            layers.push(LayerSpec::BatchNorm2d(BatchNormConfig::new(pair[1])));
            layers.push(LayerSpec::Relu);
        }
        layers.push(LayerSpec::ConvTranspose2d(up(ch[ch.len() - 1], self.image_channels)));
        layers.push(LayerSpec::Tanh);
        layers.push(LayerSpec::Flatten { start_dim: 1 });
        layers
    }

    /// The discriminator's layers (see the module docs).
    pub fn discriminator_specs(&self) -> Vec<LayerSpec> {
        let ch = &self.discriminator_channels;
        let (h_last, w_last) = self.start(ch.len()).unwrap_or((1, 1));
        let [c, h, w] = self.image_dims();
        let mut layers = vec![LayerSpec::Unflatten { dim: 1, sizes: vec![c, h, w] }];
        let mut in_channels = c;
        for (i, &c) in ch.iter().enumerate() {
            layers.push(LayerSpec::Conv2d(Conv2dConfig::new(in_channels, c, 4).stride(2).padding(1).bias(false)));
            if i > 0 {
                layers.push(LayerSpec::BatchNorm2d(BatchNormConfig::new(c)));
            }
            layers.push(LayerSpec::LeakyRelu { negative_slope: LEAKY_SLOPE });
            in_channels = c;
        }
        let mut last = Conv2dConfig::new(in_channels, 1, h_last).bias(false);
        last.kernel_size = (h_last, w_last);
        layers.push(LayerSpec::Conv2d(last));
        layers.push(LayerSpec::Flatten { start_dim: 1 });
        layers
    }
}

/// A transposed convolution that doubles the side: kernel 4, stride 2, padding 1, no bias.
impl FamilyConfig for DcganConfig {
    const KINDS: &'static [&'static str] = &["dcgan"];

    fn flags(_model: &str) -> &'static [&'static str] {
        GAN_FLAGS
    }

    fn validate(&self) -> Result<()> {
        DcganConfig::validate(self)
    }

    fn describe(&self) -> Description {
        Description {
            kind: "dcgan".to_string(),
            input_dim: self.image_dims().iter().product(),
            latent_dim: self.latent_dim,
            scale: Scale::MinusOneOne,
            noise: latent_data::NoiseSpec::None,
            classes: None,
        }
    }

    /// The discriminator, then the generator (the data's input is D's).
    fn footprint(&self) -> Footprint {
        Footprint::of_layers(
            &self.discriminator_specs(),
            &[self.image_dims().iter().fold(1usize, |a, &b| a.saturating_mul(b))],
        )
        .plus(Footprint::of_layers(&self.generator_specs(), &[self.latent_dim]))
    }

    fn apply_flags(&mut self, flags: &ModelFlags) -> Result<()> {
        refuse_real_values(flags)?;
        if let Some([c, h, w]) = flags.data_shape {
            (self.image_channels, self.image_size, self.image_width) = (c, h, (w != h).then_some(w));
        }
        if let Some(v) = flags.get("latent-dim")? {
            self.latent_dim = v;
        }
        apply_gan_flags(&mut self.training, flags)
    }

    /// The DCGAN of `reference/torch_dcgan.py`: batch 128 for 10 epochs.
    fn presets() -> Vec<Preset> {
        vec![Preset {
            model: "dcgan",
            name: "28",
            summary: "DCGAN for 28x28: G ConvT 100-128-64-1 (7, 14, 28) BN+ReLU, tanh; D Conv 1-64-128 LeakyReLU, BN after the first, 7x7 conv to a logit",
            config: ModelConfig::new(&DcganConfig {
                image_size: 28,
                image_width: None,
                image_channels: 1,
                latent_dim: 100,
                generator_channels: vec![128, 64],
                discriminator_channels: vec![64, 128],
                training: GanTraining::default(),
            }),
            train: gan_train(10, 128),
        }]
    }

    fn build(&self, rng: &mut TensorRng) -> Result<Box<dyn Model>> {
        Ok(Box::new(Gan::dcgan(self.clone(), rng)?))
    }
}

fn up(in_channels: usize, out_channels: usize) -> ConvTranspose2dConfig {
    ConvTranspose2dConfig::new(in_channels, out_channels, 4).stride(2).padding(1).bias(false)
}

/// `image_size / 2^layers`, if that is a whole number of at least 1.
fn start_side(image_size: usize, layers: usize) -> Option<usize> {
    let factor = 1usize.checked_shl(u32::try_from(layers).ok()?)?;
    (image_size >= factor && image_size.is_multiple_of(factor)).then_some(image_size / factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::gan::Gan;
    use crate::model::Model;
    use latent_nn::{Ctx, Module};
    use latent_tensor::TensorRng;

    fn config() -> DcganConfig {
        DcganConfig {
            image_size: 28,
            image_width: None,
            image_channels: 1,
            latent_dim: 100,
            generator_channels: vec![128, 64],
            discriminator_channels: vec![64, 128],
            training: GanTraining::default(),
        }
    }

    #[test]
    fn shapes_parameters_and_initialisation_follow_the_example() {
        let mut gan = Gan::dcgan(config(), &mut TensorRng::seed_from_u64(0)).unwrap();
        let z = TensorRng::seed_from_u64(1).randn(&[3, 100]);
        let images = gan.generate(&z, None, &mut Ctx::eval()).unwrap();
        assert_eq!(images.shape(), [3, 784]);
        let logits = gan.discriminate(&images, None, &mut Ctx::eval()).unwrap();
        assert_eq!(logits.shape(), [3, 1]);
        // As torch counts: G 100·128·49 + 2·128 + 128·64·16 + 2·64 + 64·16; D 64·16 + 64·128·16
        // + 2·128 + 128·49.
        let g = 100 * 128 * 49 + 256 + 128 * 64 * 16 + 128 + 64 * 16;
        let d = 64 * 16 + 64 * 128 * 16 + 256 + 128 * 49;
        assert_eq!(gan.parameter_count(), g + d);
        let params = gan.named_parameters();
        let std = |name: &str| {
            let v = params.iter().find(|(n, _)| n == name).unwrap().1.to_vec();
            let mean = v.iter().sum::<f32>() / v.len() as f32;
            ((v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / v.len() as f32).sqrt(), mean)
        };
        let (s, m) = std("generator.1.weight");
        assert!((s - 0.02).abs() < 0.001 && m.abs() < 0.001, "{s} {m}");
        let (s, m) = std("discriminator.4.weight");
        assert!((s - 0.02).abs() < 0.005 && (m - 1.0).abs() < 0.01, "BatchNorm weight: {s} {m}");
        assert_eq!(gan.config().kind(), "dcgan");
    }

    #[test]
    fn sides_that_do_not_halve_are_refused() {
        let mut c = config();
        c.image_size = 30;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("generator_channels") && e.contains("30"), "{e}");
        assert_eq!(start_side(28, 2), Some(7));
        assert_eq!(start_side(4, 3), None);
    }
}
