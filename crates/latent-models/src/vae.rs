//! [`Vae`]: the variational autoencoder of Kingma & Welling, as pytorch/examples builds it.
//!
//! `q(z|x) = N(μ(x), diag σ²(x))` from an MLP trunk and two linear heads (`fc_mu`,
//! `fc_logvar`); the prior is `N(0, I)`; the decoder gives Bernoulli logits. The objective per
//! example is `BCE(x̂, x) + β·KL(q(z|x) ‖ p(z))` with `z` reparameterised, which for `β = 1` is
//! the negative ELBO. [`Vae::importance_weighted_log_likelihood`] estimates `log p(x)` with `K`
//! importance samples (Burda et al.), the literature's test metric.
//!
//! Names: `encoder.*` (the trunk, as `nn.Sequential`), `fc_mu.*`, `fc_logvar.*`, `decoder.*`.

use latent_data::Batch;
use latent_losses::{Reduction, binary_cross_entropy_with_logits, gaussian_kl_standard_normal, reparameterize};
use latent_nn::layers::{Linear, Sequential};
use latent_nn::{Ctx, Layer, Module};
use latent_tensor::{Tensor, TensorRng, no_grad};
use ndarray::{Array2, ArrayView1, Axis};

use crate::config::{ModelConfig, VaeConfig};
use crate::error::{ModelError, Result};
use crate::mlp::{mlp, widths};
use crate::model::{Model, Objective, Parts, data_tensor};

/// `ln(2π)`.
const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// A variational autoencoder (see the module docs).
#[derive(Module)]
pub struct Vae {
    #[module(skip)]
    config: VaeConfig,
    encoder: Sequential,
    fc_mu: Linear,
    fc_logvar: Linear,
    decoder: Sequential,
}

impl Vae {
    /// A new VAE with PyTorch's default initial weights drawn from `rng`.
    ///
    /// # Errors
    /// If the configuration is invalid.
    pub fn new(config: VaeConfig, rng: &mut TensorRng) -> Result<Self> {
        ModelConfig::Vae(config.clone()).validate()?;
        let mut trunk_dims = vec![config.input_dim];
        trunk_dims.extend_from_slice(&config.hidden);
        let encoder = Sequential::from_specs(&mlp(&trunk_dims, config.activation, Some(config.activation)), rng)?;
        let last = *trunk_dims.last().expect("input_dim");
        let fc_mu = Linear::new(last, config.latent_dim, rng)?;
        let fc_logvar = Linear::new(last, config.latent_dim, rng)?;
        let mut back = config.hidden.clone();
        back.reverse();
        let decoder = Sequential::from_specs(
            &mlp(&widths(config.latent_dim, &back, config.input_dim), config.activation, None),
            rng,
        )?;
        Ok(Vae { config, encoder, fc_mu, fc_logvar, decoder })
    }

    /// `(μ, log σ²)` of `q(z|x)`.
    fn posterior(&mut self, x: &Tensor, ctx: &mut Ctx) -> Result<(Tensor, Tensor)> {
        let h = self.encoder.forward(x, ctx)?;
        Ok((self.fc_mu.forward(&h, ctx)?, self.fc_logvar.forward(&h, ctx)?))
    }

    /// The ELBO's parts on `batch` with one sample of `z` per example (as in training), summed
    /// over the batch: `recon` (BCE), `kl`, `loss` (`recon + β·kl`) and `elbo` (`-(recon + kl)`).
    ///
    /// # Errors
    /// If the batch does not fit the model.
    pub fn elbo(&mut self, batch: &Batch, rng: TensorRng) -> Result<Parts> {
        let _guard = no_grad();
        let mut ctx = Ctx::eval();
        *ctx.rng() = rng;
        Ok(self.objective(batch, &mut ctx)?.parts)
    }

    /// Estimate `log p(x)` of each row of `x` (values in [0, 1]) with `k` importance samples from
    /// `q(z|x)`: `log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x)`, computed with log-sum-exp in `f64`.
    /// The decoder runs on up to `chunk` samples at a time.
    ///
    /// # Errors
    /// If `k` or `chunk` is 0, or `x` does not fit the model.
    pub fn importance_weighted_log_likelihood(
        &mut self,
        x: &Array2<f32>,
        k: usize,
        chunk: usize,
        rng: &mut TensorRng,
    ) -> Result<Vec<f64>> {
        if k == 0 || chunk == 0 {
            return Err(ModelError::config("iw-samples", "the number of importance samples must be at least 1"));
        }
        let _guard = no_grad();
        let mut ctx = Ctx::eval();
        let (mu, logvar) = self.posterior(&data_tensor(x), &mut ctx)?;
        let (mu, logvar) = (mu.to_array(), logvar.to_array());
        let latent = self.config.latent_dim;
        let mut out = Vec::with_capacity(x.nrows());
        for (i, xi) in x.outer_iter().enumerate() {
            let (mu_i, logvar_i) = (mu.index_axis(Axis(0), i), logvar.index_axis(Axis(0), i));
            let log_det: f64 = logvar_i.iter().map(|&v| f64::from(v)).sum();
            let mut weights = Vec::with_capacity(k);
            let mut done = 0;
            while done < k {
                let s = chunk.min(k - done);
                let eps = rng.normal_array(&[s, latent], 0.0, 1.0)?.into_dimensionality::<ndarray::Ix2>().expect("2-D");
                let z = Array2::from_shape_fn((s, latent), |(r, c)| mu_i[c] + eps[[r, c]] * (0.5 * logvar_i[c]).exp());
                let logits = self.decoder.forward(&Tensor::new(z.clone()), &mut ctx)?;
                let target = Tensor::new(xi.broadcast((s, xi.len())).expect("row broadcasts").to_owned());
                let nll = binary_cross_entropy_with_logits(&logits, &target, Reduction::None)?.sum_axes(&[1], false)?;
                for (r, &nll_r) in nll.to_vec().iter().enumerate() {
                    let log_pz = -0.5 * (sq_norm(z.index_axis(Axis(0), r)) + latent as f64 * LN_2PI);
                    // z = μ + σ·ε, so log q(z|x) = -½(‖ε‖² + Σ log σ² + L·ln 2π).
                    let log_qz = -0.5 * (sq_norm(eps.index_axis(Axis(0), r)) + log_det + latent as f64 * LN_2PI);
                    weights.push(-f64::from(nll_r) + log_pz - log_qz);
                }
                done += s;
            }
            out.push(log_mean_exp(&weights));
        }
        Ok(out)
    }
}

/// The objective of a VAE with a Gaussian posterior `N(μ, exp(logvar))`, a standard normal
/// prior and a Bernoulli decoder, shared by every VAE of the crate: one `z` per example drawn
/// with the generator of `ctx`, decoded to logits by `decode`, then `BCE(logits, target) +
/// β·KL`, summed over the batch. Parts: `recon`, `kl`, `elbo` (`-(recon + kl)`) and `loss`.
///
/// # Errors
/// If the shapes do not fit, or `decode` fails.
pub(crate) fn gaussian_elbo(
    mu: &Tensor,
    logvar: &Tensor,
    target: &Tensor,
    beta: f32,
    ctx: &mut Ctx,
    decode: impl FnOnce(&Tensor, &mut Ctx) -> Result<Tensor>,
) -> Result<Objective> {
    let z = reparameterize(mu, logvar, ctx.rng())?;
    let logits = decode(&z, ctx)?;
    let recon = binary_cross_entropy_with_logits(&logits, target, Reduction::Sum)?;
    let kl = gaussian_kl_standard_normal(mu, logvar, Reduction::Sum)?;
    let loss = recon.add(&kl.mul_scalar(beta))?;
    let mut parts = Parts::default();
    let (r, k) = (f64::from(recon.item()?), f64::from(kl.item()?));
    parts.set("recon", r);
    parts.set("kl", k);
    parts.set("elbo", -(r + k));
    parts.set("loss", f64::from(loss.item()?));
    Ok(Objective { loss, parts })
}

fn sq_norm(v: ArrayView1<f32>) -> f64 {
    v.iter().map(|&x| f64::from(x) * f64::from(x)).sum()
}

/// `log (1/n) Σ e^{w_i}`, stable.
fn log_mean_exp(w: &[f64]) -> f64 {
    let m = w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + (w.iter().map(|&x| (x - m).exp()).sum::<f64>() / w.len() as f64).ln()
}

impl Model for Vae {
    fn config(&self) -> ModelConfig {
        ModelConfig::Vae(self.config.clone())
    }

    /// One sample of `z` per example, in train and eval mode alike (as pytorch/examples, whose
    /// test loss also samples).
    fn objective(&mut self, batch: &Batch, ctx: &mut Ctx) -> Result<Objective> {
        let input = data_tensor(batch.input());
        let target = data_tensor(&batch.images);
        let (mu, logvar) = self.posterior(&input, ctx)?;
        let decoder = &mut self.decoder;
        gaussian_elbo(&mu, &logvar, &target, self.config.beta, ctx, |z, ctx| Ok(decoder.forward(z, ctx)?))
    }

    fn encode(&mut self, x: &Tensor) -> Result<Tensor> {
        let _guard = no_grad();
        Ok(self.posterior(x, &mut Ctx::eval())?.0)
    }

    fn decode(&mut self, z: &Tensor) -> Result<Tensor> {
        let _guard = no_grad();
        Ok(self.decoder.forward(z, &mut Ctx::eval())?.sigmoid())
    }

    fn sample(&mut self, n: usize, rng: &mut TensorRng) -> Result<Tensor> {
        let z = rng.randn(&[n, self.config.latent_dim]);
        self.decode(&z)
    }

    fn is_generative(&self) -> bool {
        true
    }
}
