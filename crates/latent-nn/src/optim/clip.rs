//! Gradient clipping by global norm, as `torch.nn.utils.clip_grad_norm_`.

use super::NamedGrads;
use crate::error::{NnError, Result};

/// Scale all gradients by `min(1, max_norm / (‖g‖ + 1e-6))`, where `‖g‖` is the L2 norm of all
/// gradients taken together, and return `‖g‖` (before clipping), as PyTorch does. The norm is
/// accumulated in `f64`. A non-finite norm is returned as it is and the gradients become
/// non-finite too (PyTorch's default `error_if_nonfinite = False`); check the returned norm to
/// skip such a step.
///
/// # Errors
/// If `max_norm` is not positive and finite.
pub fn clip_grad_norm(grads: &mut NamedGrads, max_norm: f32) -> Result<f32> {
    if !(max_norm.is_finite() && max_norm > 0.0) {
        return Err(NnError::config("clip_grad_norm", format!("max_norm must be positive, found {max_norm}")));
    }
    let total = global_norm(grads);
    let coef = max_norm / (total + 1e-6);
    let coef = if coef.is_nan() { coef } else { coef.min(1.0) };
    if coef != 1.0 {
        for g in grads.values_mut() {
            g.mapv_inplace(|v| v * coef);
        }
    }
    Ok(total)
}

/// The L2 norm of all gradients taken together (accumulated in `f64`).
pub fn global_norm(grads: &NamedGrads) -> f32 {
    let sum: f64 = grads.iter().map(|(_, g)| g.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>()).sum();
    sum.sqrt() as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr1;

    #[test]
    fn clips_only_above_the_limit_and_reports_the_norm() {
        let mut grads = NamedGrads::default();
        grads.insert("a", arr1(&[3.0f32]).into_dyn());
        grads.insert("b", arr1(&[0.0f32, 4.0]).into_dyn());
        let norm = clip_grad_norm(&mut grads, 10.0).unwrap();
        assert_eq!(norm, 5.0);
        assert_eq!(grads.get("a").unwrap()[[0]], 3.0);
        let norm = clip_grad_norm(&mut grads, 1.0).unwrap();
        assert_eq!(norm, 5.0);
        assert!((global_norm(&grads) - 1.0).abs() < 1e-5);
        assert!((grads.get("b").unwrap()[[1]] - 0.8).abs() < 1e-5);
        assert!(clip_grad_norm(&mut grads, 0.0).is_err());
    }
}
