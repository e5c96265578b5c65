//! The variational autoencoder's latent terms: the KL divergence of a diagonal Gaussian
//! `q(z|x) = N(μ, diag σ²)` from the prior `N(0, I)` in closed form, and the reparameterised
//! sample `z = μ + σ ⊙ ε` through which gradients reach `μ` and `σ`.
//!
//! Both take the encoder's log-variance `log σ²` rather than `σ`: it is unconstrained, so the
//! encoder can output it from a linear layer, and `σ = exp(½ log σ²)` is always positive.

use latent_tensor::{Tensor, TensorRng};

use crate::error::{Result, same_shape};
use crate::reduction::{Reduction, per_example};

/// `KL(N(μ, diag σ²) ‖ N(0, I))` per example, in closed form (Kingma & Welling, appendix B):
///
/// `KLₙ = -½ Σⱼ (1 + log σ²ₙⱼ - μ²ₙⱼ - σ²ₙⱼ)`, with `σ² = exp(logvar)`,
///
/// summed over every axis of `mu` but the first (the latent dimensions), so the loss tensor has
/// shape `[N]`. `Reduction::None` returns it; `Sum` gives the batch total (the `KLD` of
/// `pytorch/examples`' VAE); `Mean` (= `BatchMean`) the average KL per example. A 1-dimensional
/// `mu` is a batch of 1-dimensional latents.
///
/// # Errors
/// If `mu` and `logvar` differ in shape or are 0-dimensional, or the reduction fails.
pub fn gaussian_kl_standard_normal(mu: &Tensor, logvar: &Tensor, reduction: Reduction) -> Result<Tensor> {
    const LOSS: &str = "gaussian_kl_standard_normal";
    same_shape(LOSS, ("mu", mu.shape()), ("logvar", logvar.shape()))?;
    let terms = logvar.add_scalar(1.0).sub(&mu.square())?.sub(&logvar.exp())?.mul_scalar(-0.5);
    reduction.apply(LOSS, &per_example(LOSS, "mu", &terms)?)
}

/// A sample `z = μ + ε ⊙ exp(½ logvar)` with `ε ~ N(0, I)` drawn from `rng` (the
/// reparameterisation trick): `z` is distributed as `N(μ, diag exp(logvar))`, and is a
/// differentiable function of `mu` and `logvar`, with `∂z/∂μ = 1` and
/// `∂z/∂logvar = ½ ε exp(½ logvar)`.
///
/// # Errors
/// If `mu` and `logvar` differ in shape.
pub fn reparameterize(mu: &Tensor, logvar: &Tensor, rng: &mut TensorRng) -> Result<Tensor> {
    same_shape("reparameterize", ("mu", mu.shape()), ("logvar", logvar.shape()))?;
    let eps = rng.randn(mu.shape());
    reparameterize_with_noise(mu, logvar, &eps)
}

/// [`reparameterize`] with the noise `ε` given: `z = μ + ε ⊙ exp(½ logvar)`. For tests, and for
/// sampling with noise shared between calls.
///
/// # Errors
/// If `mu`, `logvar` and `eps` do not all have the same shape.
pub fn reparameterize_with_noise(mu: &Tensor, logvar: &Tensor, eps: &Tensor) -> Result<Tensor> {
    const LOSS: &str = "reparameterize";
    same_shape(LOSS, ("mu", mu.shape()), ("logvar", logvar.shape()))?;
    same_shape(LOSS, ("mu", mu.shape()), ("eps", eps.shape()))?;
    Ok(mu.add(&eps.mul(&logvar.mul_scalar(0.5).exp())?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    #[test]
    fn kl_is_zero_at_the_prior_and_known_elsewhere() {
        let zeros = Tensor::zeros(&[3, 4]);
        let kl = gaussian_kl_standard_normal(&zeros, &zeros, Reduction::None).unwrap();
        assert_eq!(kl.to_vec(), vec![0.0; 3]);
        // One latent: μ = 1, σ² = e: -½ (1 + 1 - 1 - e) = (e - 1) / 2.
        let mu = Tensor::new(arr2(&[[1.0f32], [0.0]]));
        let lv = Tensor::new(arr2(&[[1.0f32], [0.0]]));
        let kl = gaussian_kl_standard_normal(&mu, &lv, Reduction::None).unwrap().to_vec();
        assert!((kl[0] - (std::f32::consts::E - 1.0) / 2.0).abs() < 1e-6, "{kl:?}");
        let total = gaussian_kl_standard_normal(&mu, &lv, Reduction::Sum).unwrap().item().unwrap();
        let mean = gaussian_kl_standard_normal(&mu, &lv, Reduction::Mean).unwrap().item().unwrap();
        assert!((total - 2.0 * mean).abs() < 1e-6);
    }

    #[test]
    fn kl_gradient_vanishes_at_the_prior() {
        let mu = Tensor::parameter(ndarray::ArrayD::zeros(ndarray::IxDyn(&[2, 3])));
        let lv = Tensor::parameter(ndarray::ArrayD::zeros(ndarray::IxDyn(&[2, 3])));
        let g = gaussian_kl_standard_normal(&mu, &lv, Reduction::Sum).unwrap().backward().unwrap();
        assert!(g.get_array(&mu).unwrap().iter().chain(g.get_array(&lv).unwrap().iter()).all(|&v| v == 0.0));
    }

    #[test]
    fn reparameterised_samples_have_the_right_moments() {
        let n = 20_000;
        let mu = Tensor::full(&[n, 1], 2.0);
        let lv = Tensor::full(&[n, 1], (0.25f32).ln()); // σ = 0.5
        let z = reparameterize(&mu, &lv, &mut TensorRng::seed_from_u64(11)).unwrap().to_vec();
        let mean = z.iter().sum::<f32>() / n as f32;
        let var = z.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n as f32;
        assert!((mean - 2.0).abs() < 0.02, "{mean}");
        assert!((var - 0.25).abs() < 0.02, "{var}");
    }

    #[test]
    fn gradients_reach_mu_and_logvar() {
        let mu = Tensor::parameter(arr2(&[[0.5f32, -1.0]]));
        let lv = Tensor::parameter(arr2(&[[0.0f32, 2.0]]));
        let eps = Tensor::new(arr2(&[[1.5f32, -0.5]]));
        let z = reparameterize_with_noise(&mu, &lv, &eps).unwrap();
        assert_eq!(z.to_vec(), vec![2.0, -1.0 - 0.5 * 1f32.exp()]);
        let g = z.sum_all().backward().unwrap();
        assert_eq!(g.get_array(&mu).unwrap().as_slice().unwrap(), &[1.0, 1.0]);
        let glv = g.get_array(&lv).unwrap();
        assert!((glv[[0, 0]] - 0.75).abs() < 1e-6 && (glv[[0, 1]] + 0.25 * 1f32.exp()).abs() < 1e-6, "{glv}");
        assert!(reparameterize_with_noise(&mu, &lv, &Tensor::zeros(&[2, 1])).is_err());
    }
}
