//! Sparsity penalties on a sparse autoencoder's hidden activations `h` (shape `[N, H, ...]`,
//! the batch first).
//!
//! - [`l1_activity`]: `|h|`, pulling every activation towards zero (any activation function).
//! - [`kl_sparsity`]: the KL divergence between a target firing rate `ρ` and each unit's mean
//!   firing rate over the batch (Ng's sparse autoencoder notes); for activations in `[0, 1]`
//!   (sigmoid units).
//!
//! Both return the bare penalty; the caller multiplies it by its weight (`λ`, `β`).

use latent_tensor::Tensor;

use crate::custom_grad::clamp_value_only;
use crate::error::{LossError, Result, values_within};
use crate::reduction::{Reduction, batch_size};

/// How far [`kl_sparsity`] keeps the mean activation `ρ̂` from 0 and 1: it is clamped to
/// `[KL_SPARSITY_CLAMP, 1 - KL_SPARSITY_CLAMP]` (in value only, see there).
pub const KL_SPARSITY_CLAMP: f32 = 1e-6;

/// The L1 activity penalty: `ℓ = |h|` element-wise, then `reduction`. `Reduction::BatchMean`
/// gives the usual `(1/N) Σₙ ‖hₙ‖₁`. The gradient is `sign(h)` (0 at 0, as PyTorch's `abs`).
///
/// # Errors
/// If the reduction fails.
pub fn l1_activity(h: &Tensor, reduction: Reduction) -> Result<Tensor> {
    reduction.apply("l1_activity", &h.abs())
}

/// The KL sparsity penalty of activations `h` in `[0, 1]` (shape `[N, ...]`) for a target
/// firing rate `ρ` in `(0, 1)`:
///
/// `Σⱼ ρ ln(ρ / ρ̂ⱼ) + (1 - ρ) ln((1 - ρ) / (1 - ρ̂ⱼ))`, with `ρ̂ⱼ = (1/N) Σₙ hₙⱼ`,
///
/// summed over every unit `j` (every position of the non-batch axes). It is 0 when every unit's
/// mean activation over the batch is `ρ`. A scalar: the penalty is a property of the batch, not
/// of an example, so it takes no [`Reduction`].
///
/// **Stability.** A unit that never fires in the batch has `ρ̂ = 0`, and the penalty would be
/// infinite. So `ρ̂` is clamped to `[1e-6, 1 - 1e-6]` ([`KL_SPARSITY_CLAMP`]) *in value only*, as
/// PyTorch's `gaussian_nll_loss` clamps its variance: the gradient is the derivative at the
/// clamped value, `∂/∂ρ̂ = (1 - ρ)/(1 - ρ̂) - ρ/ρ̂`, and still flows, so a dead unit gets a large
/// finite push back towards `ρ` (about `-ρ · 10⁶`) rather than `∞` (the unclamped formula) or
/// 0 (an ordinary clamp). With `ρ` in `(0, 1)` every term is then finite.
///
/// # Errors
/// If `ρ` is not in `(0, 1)`, `h` has no batch axis or an empty batch, or any activation is
/// outside `[0, 1]` or NaN.
pub fn kl_sparsity(h: &Tensor, rho: f32) -> Result<Tensor> {
    const LOSS: &str = "kl_sparsity";
    if !(rho > 0.0 && rho < 1.0) {
        return Err(LossError::InvalidParameter {
            loss: LOSS,
            message: format!("the target activation rho must be in (0, 1), found {rho}"),
        });
    }
    batch_size(LOSS, "activations", h)?;
    values_within(LOSS, "activation", h, 0.0, 1.0)?;
    let rho_hat = clamp_value_only(&h.mean_axes(&[0], false)?, KL_SPARSITY_CLAMP, 1.0 - KL_SPARSITY_CLAMP)?;
    // ρ ln ρ - ρ ln ρ̂ + (1-ρ) ln(1-ρ) - (1-ρ) ln(1-ρ̂), with the constants summed once per unit.
    let constant = rho * rho.ln() + (1.0 - rho) * (1.0 - rho).ln();
    let per_unit = rho_hat
        .log()
        .mul_scalar(-rho)
        .add(&rho_hat.rsub_scalar(1.0).log().mul_scalar(-(1.0 - rho)))?
        .add_scalar(constant);
    Ok(per_unit.sum_all())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    #[test]
    fn l1_by_hand() {
        let h = Tensor::new(arr2(&[[1.0f32, -2.0], [0.0, 3.0]]));
        assert_eq!(l1_activity(&h, Reduction::BatchMean).unwrap().item().unwrap(), 3.0);
        assert_eq!(l1_activity(&h, Reduction::None).unwrap().to_vec(), vec![1.0, 2.0, 0.0, 3.0]);
    }

    #[test]
    fn kl_sparsity_is_zero_at_the_target_and_positive_elsewhere() {
        let h = Tensor::new(arr2(&[[0.1f32, 0.0], [0.1, 0.2]]));
        let at_target = kl_sparsity(&h, 0.1).unwrap().item().unwrap();
        assert!(at_target.abs() < 1e-6, "{at_target}");
        // Unit 0 at ρ, unit 1 at ρ̂ = 0.3: 0.1 ln(0.1/0.3) + 0.9 ln(0.9/0.7).
        let h = Tensor::new(arr2(&[[0.1f32, 0.5], [0.1, 0.1]]));
        let expected = 0.1 * (0.1f32 / 0.3).ln() + 0.9 * (0.9f32 / 0.7).ln();
        assert!((kl_sparsity(&h, 0.1).unwrap().item().unwrap() - expected).abs() < 1e-6);
    }

    #[test]
    fn dead_and_saturated_units_give_finite_values_and_gradients_that_push_back() {
        let h = Tensor::parameter(arr2(&[[0.0f32, 1.0, 0.3], [0.0, 1.0, 0.2]]));
        let l = kl_sparsity(&h, 0.05).unwrap();
        assert!(l.item().unwrap().is_finite());
        let g = l.backward().unwrap();
        let g = g.get_array(&h).unwrap();
        assert!(g.iter().all(|v| v.is_finite()), "{g}");
        assert!(g[[0, 0]] < -1e3, "a dead unit is pushed up: {g}");
        assert!(g[[0, 1]] > 1e3, "a saturated unit is pushed down: {g}");
    }

    #[test]
    fn bad_arguments_are_errors() {
        let h = Tensor::full(&[2, 3], 0.5);
        for rho in [0.0, 1.0, -0.1, f32::NAN] {
            assert!(matches!(kl_sparsity(&h, rho), Err(LossError::InvalidParameter { .. })), "{rho}");
        }
        let relu_like = Tensor::new(arr2(&[[2.0f32]]));
        assert!(matches!(kl_sparsity(&relu_like, 0.1), Err(LossError::InvalidInput { .. })));
        assert!(matches!(kl_sparsity(&Tensor::zeros(&[0, 3]), 0.1), Err(LossError::BadShape { .. })));
    }
}
