//! Named configurations: the architectures users ask for, with training defaults.
//!
//! `latent train <model> --preset <name>` picks one; every preset's fields can then be changed
//! by flags. The first preset listed for a model is its default.

use latent_data::NoiseSpec;

use crate::config::{Activation, AutoencoderConfig, Likelihood, ModelConfig, Regularizer, VaeConfig};
use crate::error::{ModelError, Result};
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
pub const MODELS: &[&str] = &["ae", "dae", "sparse", "contractive", "vae"];

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
