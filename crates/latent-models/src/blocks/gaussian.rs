//! The Gaussian posterior of the VAEs: the reparameterised objective (`−log p(x|z) + β·KL` with
//! its parts, the likelihood Bernoulli or Gaussian) and the importance-weighted estimate of
//! `log p(x)`.

use latent_losses::{Reduction, gaussian_kl_standard_normal, reparameterize};
use latent_nn::Ctx;
use latent_tensor::{Tensor, TensorRng};
use ndarray::{Array2, ArrayView1, Axis};

use crate::config::Likelihood;
use crate::error::{ModelError, Result};
use crate::model::{Objective, Parts};

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// `−log p(target | decode(z)) + β·KL(N(μ, σ²) ‖ N(0, I))` summed over the batch, one
/// reparameterised `z` per example drawn from `ctx`'s generator, with the parts `recon`, `kl`,
/// `elbo` (= −(recon + kl)) and `loss`.
///
/// # Errors
/// If the shapes do not fit.
pub fn gaussian_elbo(
    mu: &Tensor,
    logvar: &Tensor,
    target: &Tensor,
    beta: f32,
    likelihood: Likelihood,
    ctx: &mut Ctx,
    decode: impl FnOnce(&Tensor, &mut Ctx) -> Result<Tensor>,
) -> Result<Objective> {
    let z = reparameterize(mu, logvar, ctx.rng())?;
    let output = decode(&z, ctx)?;
    let recon = likelihood.nll_sum(&output, target)?;
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

/// Per row of `x`: `log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x)` with `z_k ~ q(z|x) = N(μ, σ²)`
/// (Burda et al. 2016), `k` samples drawn `chunk` at a time. `(mu, logvar)` are the
/// posterior's `[N, latent]`; `decode(z, i)` decodes a `[s, latent]` block of codes for row `i`
/// to the decoder's output `[s, D]` (logits or means, as `likelihood` reads them).
///
/// # Errors
/// If `k` or `chunk` is 0, or decoding fails.
pub fn importance_weighted_log_likelihood(
    x: &Array2<f32>,
    (mu, logvar): (&Array2<f32>, &Array2<f32>),
    k: usize,
    chunk: usize,
    rng: &mut TensorRng,
    likelihood: Likelihood,
    mut logits: impl FnMut(&Tensor, usize) -> Result<Tensor>,
) -> Result<Vec<f64>> {
    if k == 0 || chunk == 0 {
        return Err(ModelError::config("iw-samples", "the number of importance samples must be at least 1"));
    }
    let latent = mu.ncols();
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
            let l = logits(&Tensor::new(z.clone()), i)?;
            let target = Tensor::new(xi.broadcast((s, xi.len())).expect("row broadcasts").to_owned());
            let nll = likelihood.nll_rows(&l, &target)?;
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

fn sq_norm(v: ArrayView1<f32>) -> f64 {
    v.iter().map(|&x| f64::from(x) * f64::from(x)).sum()
}

/// `log mean exp(w)`, stable for large magnitudes.
pub fn log_mean_exp(w: &[f64]) -> f64 {
    let m = w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + (w.iter().map(|&x| (x - m).exp()).sum::<f64>() / w.len() as f64).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_mean_exp_is_stable() {
        assert!((log_mean_exp(&[1000.0, 1000.0]) - 1000.0).abs() < 1e-12);
        assert!((log_mean_exp(&[0.0, (3.0f64).ln()]) - 2.0f64.ln()).abs() < 1e-12);
        assert_eq!(log_mean_exp(&[f64::NEG_INFINITY]), f64::NEG_INFINITY);
    }
}
