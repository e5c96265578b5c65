//! [`Autoencoder`]: the MLP autoencoder family in one type.
//!
//! The configuration chooses the member: widths below the input size make it undercomplete,
//! above it overcomplete; a [`Regularizer`] makes it sparse (L1 or KL on the code) or
//! contractive; input noise makes it denoising. An overcomplete autoencoder with neither a
//! regulariser nor noise can copy its input through and learns little of use: its
//! reconstructions are good but its code is not a summary. Add noise (`dae`) or a penalty
//! (`sparse`, `contractive`) to make it learn structure.
//!
//! Parameter names follow PyTorch: `encoder.0.weight`, `encoder.0.bias`, ..., `decoder.N.bias`
//! (the indices of `nn.Sequential`, activations included).

use latent_data::Batch;
use latent_losses::{
    Reduction, binary_cross_entropy_with_logits, contractive_sigmoid, kl_sparsity, l1_activity, mse_loss,
};
use latent_nn::layers::Sequential;
use latent_nn::{Ctx, Layer, Module};
use latent_tensor::{Tensor, TensorRng, no_grad};

use crate::config::{AutoencoderConfig, Likelihood, ModelConfig, Regularizer};
use crate::error::Result;
use crate::mlp::{mlp, widths};
use crate::model::{Model, Objective, Parts, data_tensor};

/// An MLP autoencoder (see the module docs).
#[derive(Module)]
pub struct Autoencoder {
    #[module(skip)]
    config: AutoencoderConfig,
    encoder: Sequential,
    decoder: Sequential,
}

impl Autoencoder {
    /// A new autoencoder with PyTorch's default initial weights drawn from `rng`.
    ///
    /// # Errors
    /// If the configuration is invalid.
    pub fn new(config: AutoencoderConfig, rng: &mut TensorRng) -> Result<Self> {
        ModelConfig::Autoencoder(config.clone()).validate()?;
        let enc = widths(config.input_dim, &config.hidden, config.latent_dim);
        let mut back = config.hidden.clone();
        back.reverse();
        let dec = widths(config.latent_dim, &back, config.input_dim);
        let encoder = Sequential::from_specs(&mlp(&enc, config.activation, config.code_activation), rng)?;
        let decoder = Sequential::from_specs(&mlp(&dec, config.activation, None), rng)?;
        Ok(Autoencoder { config, encoder, decoder })
    }

    /// The configuration.
    pub fn autoencoder_config(&self) -> &AutoencoderConfig {
        &self.config
    }

    /// The first encoder layer's weight (the contractive penalty's `W`).
    fn first_encoder_weight(&self) -> Option<Tensor> {
        let mut found = None;
        self.encoder.visit_params("", &mut |name, t| {
            if name == "0.weight" {
                found = Some(t.clone());
            }
        });
        found
    }

    /// Decoder outputs in data space: probabilities for a Bernoulli output.
    fn to_data_space(&self, out: Tensor) -> Tensor {
        match self.config.likelihood {
            Likelihood::Bernoulli => out.sigmoid(),
            Likelihood::Gaussian => out,
        }
    }
}

impl Model for Autoencoder {
    fn config(&self) -> ModelConfig {
        ModelConfig::Autoencoder(self.config.clone())
    }

    fn objective(&mut self, batch: &Batch, ctx: &mut Ctx) -> Result<Objective> {
        let input = data_tensor(batch.input());
        let target = data_tensor(&batch.images);
        let code = self.encoder.forward(&input, ctx)?;
        let out = self.decoder.forward(&code, ctx)?;
        let recon = match self.config.likelihood {
            Likelihood::Bernoulli => binary_cross_entropy_with_logits(&out, &target, Reduction::Sum)?,
            Likelihood::Gaussian => mse_loss(&out, &target, Reduction::Sum)?,
        };
        let n = batch.len() as f32;
        let penalty = match self.config.regularizer {
            Regularizer::None => None,
            Regularizer::L1 { weight } => Some(l1_activity(&code, Reduction::Sum)?.mul_scalar(weight)),
            // A statistic of the batch, counted once per example so it scales like the sum.
            Regularizer::KlSparsity { rho, weight } => Some(kl_sparsity(&code, rho)?.mul_scalar(weight * n)),
            Regularizer::Contractive { weight } => {
                let w = self.first_encoder_weight().expect("a one-layer encoder has a weight");
                Some(contractive_sigmoid(&code, &w, Reduction::Sum)?.mul_scalar(weight))
            }
        };
        let mut parts = Parts::default();
        parts.set("recon", f64::from(recon.item()?));
        let loss = match penalty {
            Some(p) => {
                parts.set("penalty", f64::from(p.item()?));
                recon.add(&p)?
            }
            None => recon,
        };
        parts.set("loss", f64::from(loss.item()?));
        Ok(Objective { loss, parts })
    }

    fn encode(&mut self, x: &Tensor) -> Result<Tensor> {
        let _guard = no_grad();
        Ok(self.encoder.forward(x, &mut Ctx::eval())?)
    }

    fn decode(&mut self, z: &Tensor) -> Result<Tensor> {
        let _guard = no_grad();
        let out = self.decoder.forward(z, &mut Ctx::eval())?;
        Ok(self.to_data_space(out))
    }
}
