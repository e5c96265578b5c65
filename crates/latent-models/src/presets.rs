//! Named configurations: the architectures users ask for, with training defaults.
//!
//! `latent train <model> --preset <name>` picks one; every preset's fields can then be changed
//! by flags. The first preset listed for a model is its default.

use latent_data::NoiseSpec;

use crate::config::{
    Activation, AutoencoderConfig, ConvAutoencoderConfig, ConvVaeConfig, CvaeConfig, Likelihood, ModelConfig,
    Regularizer, VaeConfig,
};
use crate::dcgan::DcganConfig;
use crate::error::{ModelError, Result};
use crate::gan::{GanConfig, GanTraining};
use crate::train::TrainOptions;

/// A named model configuration with its training defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    /// The model family (`ae`, `dae`, `sparse`, `contractive`, `vae`).
    pub model: &'static str,
    /// The preset's name within the family.
    pub name: &'static str,
    /// One line on what it is.
    pub summary: &'static str,
    /// The model.
    pub config: ModelConfig,
    /// Training defaults.
    pub train: TrainOptions,
}

/// The model families that have presets.
pub const MODELS: &[&str] =
    &["ae", "dae", "sparse", "contractive", "vae", "conv-ae", "conv-vae", "cvae", "gan", "dcgan", "cgan"];

fn ae(hidden: &[usize], latent: usize, code: Option<Activation>, regularizer: Regularizer, noise: &str) -> ModelConfig {
    ModelConfig::Autoencoder(AutoencoderConfig {
        input_dim: 784,
        hidden: hidden.to_vec(),
        latent_dim: latent,
        activation: Activation::Relu,
        code_activation: code,
        likelihood: Likelihood::Bernoulli,
        regularizer,
        noise: noise.parse::<NoiseSpec>().expect("preset noise specs are valid"),
    })
}

fn vae(hidden: &[usize], latent: usize, beta: f32) -> ModelConfig {
    ModelConfig::Vae(VaeConfig {
        input_dim: 784,
        hidden: hidden.to_vec(),
        latent_dim: latent,
        activation: Activation::Relu,
        beta,
    })
}

fn conv_ae(channels: &[usize], latent: usize) -> ModelConfig {
    ModelConfig::ConvAutoencoder(ConvAutoencoderConfig {
        image_size: 28,
        channels: channels.to_vec(),
        latent_dim: latent,
        noise: NoiseSpec::None,
    })
}

fn conv_vae(channels: &[usize], latent: usize, beta: f32) -> ModelConfig {
    ModelConfig::ConvVae(ConvVaeConfig { image_size: 28, channels: channels.to_vec(), latent_dim: latent, beta })
}

fn cvae(hidden: &[usize], latent: usize) -> ModelConfig {
    ModelConfig::Cvae(CvaeConfig {
        input_dim: 784,
        classes: 10,
        hidden: hidden.to_vec(),
        latent_dim: latent,
        activation: Activation::Relu,
        beta: 1.0,
    })
}

/// Every preset, in the order `latent train --help` lists them.
pub fn all() -> Vec<Preset> {
    let train = TrainOptions::default();
    let p = |model, name, summary, config| Preset { model, name, summary, config, train: train.clone() };
    let sigmoid = Some(Activation::Sigmoid);
    vec![
        p(
            "ae",
            "deep",
            "784-512-128-32-128-512-784, ReLU, linear 32-d code, BCE (the reference torch_ae.py)",
            ae(&[512, 128], 32, None, Regularizer::None, "none"),
        ),
        p(
            "ae",
            "shallow",
            "784-32-784 undercomplete, ReLU code",
            ae(&[], 32, Some(Activation::Relu), Regularizer::None, "none"),
        ),
        p("ae", "2d", "784-512-128-2-..., a 2-D code to plot", ae(&[512, 128], 2, None, Regularizer::None, "none")),
        p(
            "ae",
            "overcomplete",
            "784-1024-784 with no regulariser: reconstructs well, learns little (compare dae, sparse)",
            ae(&[], 1024, Some(Activation::Relu), Regularizer::None, "none"),
        ),
        p(
            "dae",
            "deep",
            "the deep autoencoder trained on masked inputs (mask:0.5) against clean targets",
            ae(&[512, 128], 32, None, Regularizer::None, "mask:0.5"),
        ),
        p(
            "dae",
            "overcomplete",
            "784-1024-784 sigmoid code, masking noise 0.25: noise makes overcompleteness useful",
            ae(&[], 1024, sigmoid, Regularizer::None, "mask:0.25"),
        ),
        p(
            "sparse",
            "kl",
            "784-1024-784 sigmoid code, KL sparsity rho=0.05, weight 1",
            ae(&[], 1024, sigmoid, Regularizer::KlSparsity { rho: 0.05, weight: 1.0 }, "none"),
        ),
        p(
            "sparse",
            "l1",
            "784-1024-784 ReLU code, L1 activity penalty 0.01",
            ae(&[], 1024, Some(Activation::Relu), Regularizer::L1 { weight: 0.01 }, "none"),
        ),
        p(
            "contractive",
            "sigmoid",
            "784-512-784, sigmoid code, contractive penalty weight 1",
            ae(&[], 512, sigmoid, Regularizer::Contractive { weight: 1.0 }, "none"),
        ),
        p("vae", "pytorch-examples", "784-400-20 VAE of pytorch/examples, beta=1", vae(&[400], 20, 1.0)),
        p("vae", "2d", "784-400-2 VAE, a 2-D latent to plot", vae(&[400], 2, 1.0)),
        p("vae", "beta4", "784-400-20 beta-VAE with beta=4", vae(&[400], 20, 4.0)),
        p(
            "conv-ae",
            "standard",
            "conv 1-32-64 (kernel 4, stride 2) to a linear 32-d code, transposed convs back, BCE",
            conv_ae(&[32, 64], 32),
        ),
        p("conv-ae", "2d", "the same convolutions to a 2-D code to plot", conv_ae(&[32, 64], 2)),
        p(
            "conv-vae",
            "standard",
            "conv 1-32-64 (kernel 4, stride 2) to a 20-d Gaussian latent, transposed convs back, beta=1",
            conv_vae(&[32, 64], 20, 1.0),
        ),
        p("conv-vae", "2d", "the same convolutions to a 2-D latent to plot", conv_vae(&[32, 64], 2, 1.0)),
        p(
            "cvae",
            "2d",
            "784+10-400-2 conditional VAE, the label one-hot into both halves: z holds the style, the label the digit",
            cvae(&[400], 2),
        ),
        p(
            "cvae",
            "20d",
            "784+10-400-20: better reconstructions, but z also carries the digit, so samples follow the label less",
            cvae(&[400], 20),
        ),
    ]
    .into_iter()
    .chain(gan_presets())
    .collect()
}

/// The GANs, with the training options of their reference scripts: Adam 2e-4 with betas
/// (0.5, 0.999) for both networks, the non-saturating loss, one D step per G step; the MLP
/// GANs batch 64 for 30 epochs (`torch_gan.py`, the evaluation point), the DCGAN batch
/// 128 for 10 epochs (`reference/torch_dcgan.py`).
fn gan_presets() -> Vec<Preset> {
    let mlp = |classes| GanConfig {
        latent_dim: 100,
        output_dim: 784,
        generator_hidden: vec![256, 512, 1024],
        discriminator_hidden: vec![512, 256],
        classes,
        training: GanTraining::default(),
    };
    let train =
        |epochs, batch_size| TrainOptions { epochs, batch_size, learning_rate: 2e-4, ..TrainOptions::default() };
    vec![
        Preset {
            model: "gan",
            name: "mlp",
            summary: "G 100-256-512-1024-784, D 784-512-256-1, LeakyReLU(0.2), tanh out (the reference torch_gan.py)",
            config: ModelConfig::Gan(mlp(0)),
            train: train(30, 64),
        },
        Preset {
            model: "dcgan",
            name: "28",
            summary: "DCGAN for 28x28: G ConvT 100-128-64-1 (7, 14, 28) BN+ReLU, tanh; D Conv 1-64-128 LeakyReLU, BN after the first, 7x7 conv to a logit",
            config: ModelConfig::Dcgan(DcganConfig {
                image_size: 28,
                latent_dim: 100,
                generator_channels: vec![128, 64],
                discriminator_channels: vec![64, 128],
                training: GanTraining::default(),
            }),
            train: train(10, 128),
        },
        Preset {
            model: "cgan",
            name: "mlp",
            summary: "the MLP GAN with the digit label one-hot beside G's noise and D's image",
            config: ModelConfig::Cgan(mlp(10)),
            train: train(30, 64),
        },
    ]
}

/// The preset `name` of `model`, or the model's default (its first preset) when `name` is
/// `None`.
///
/// # Errors
/// If the model or preset is unknown (the message lists the choices).
pub fn preset(model: &str, name: Option<&str>) -> Result<Preset> {
    let of_model: Vec<Preset> = all().into_iter().filter(|p| p.model == model).collect();
    if of_model.is_empty() {
        return Err(ModelError::UnknownPreset { name: model.to_string(), choices: MODELS.join(", ") });
    }
    match name {
        None => Ok(of_model[0].clone()),
        Some(n) => of_model.iter().find(|p| p.name == n).cloned().ok_or_else(|| ModelError::UnknownPreset {
            name: format!("{model} --preset {n}"),
            choices: of_model.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid_and_every_model_has_one() {
        for p in all() {
            p.config.validate().unwrap_or_else(|e| panic!("{} {}: {e}", p.model, p.name));
        }
        for m in MODELS {
            preset(m, None).unwrap();
        }
    }

    #[test]
    fn unknown_names_list_the_choices() {
        let e = preset("vae", Some("huge")).unwrap_err().to_string();
        assert!(e.contains("pytorch-examples") && e.contains("huge"), "{e}");
        let e = preset("transformer", None).unwrap_err().to_string();
        assert!(e.contains("contractive"), "{e}");
    }
}
