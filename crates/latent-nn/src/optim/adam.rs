//! [`Adam`] and AdamW (Kingma & Ba; Loshchilov & Hutter), step for step as `torch.optim.Adam`
//! and `torch.optim.AdamW` (single-tensor implementation, `amsgrad = False`).
//!
//! For each parameter `p` with gradient `g`, at its step `t`:
//! ```text
//! AdamW only:  p ← p·(1 − lr·λ)
//! Adam only:   g ← g + λ·p                  (if λ ≠ 0)
//! m ← m + (1 − β₁)·(g − m)                  (torch's lerp_)
//! v ← v·β₂ + (1 − β₂)·g²
//! p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
//! ```
//! Slots: `exp_avg` (m) and `exp_avg_sq` (v).

use latent_tensor::Tensor;
use ndarray::ArrayViewD;
use serde::{Deserialize, Serialize};

use super::{Optimizer, OptimizerState, SlotStore, check_grad, check_hyper, zip_update2};
use crate::error::Result;

const SLOTS: &[&str] = &["exp_avg", "exp_avg_sq"];

/// Adam's hyper-parameters (PyTorch's names and defaults).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// The learning rate (default 1e-3).
    pub lr: f64,
    /// The moment decay rates `(β₁, β₂)` (default `(0.9, 0.999)`).
    pub betas: (f64, f64),
    /// Added to the denominator (default 1e-8).
    pub eps: f64,
    /// The weight decay λ (default 0 for Adam, 1e-2 for AdamW).
    pub weight_decay: f64,
    /// AdamW: decay the weights directly instead of adding `λ·p` to the gradient.
    pub decoupled_weight_decay: bool,
}

impl AdamConfig {
    /// `torch.optim.Adam(lr=lr)` defaults.
    pub fn adam(lr: f64) -> Self {
        AdamConfig { lr, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0, decoupled_weight_decay: false }
    }

    /// `torch.optim.AdamW(lr=lr)` defaults (weight decay 1e-2, decoupled).
    pub fn adamw(lr: f64) -> Self {
        AdamConfig { weight_decay: 1e-2, decoupled_weight_decay: true, ..Self::adam(lr) }
    }

    /// The same with other betas.
    pub fn betas(self, beta1: f64, beta2: f64) -> Self {
        AdamConfig { betas: (beta1, beta2), ..self }
    }

    /// The same with another epsilon.
    pub fn eps(self, eps: f64) -> Self {
        AdamConfig { eps, ..self }
    }

    /// The same with another weight decay.
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        AdamConfig { weight_decay, ..self }
    }
}

/// The Adam (or AdamW) optimiser.
#[derive(Clone, Debug)]
pub struct Adam {
    config: AdamConfig,
    store: SlotStore,
}

impl Adam {
    /// An optimiser with the given hyper-parameters and no state yet.
    ///
    /// # Errors
    /// If a hyper-parameter is out of PyTorch's accepted range.
    pub fn new(config: AdamConfig) -> Result<Self> {
        let what = if config.decoupled_weight_decay { "AdamW" } else { "Adam" };
        check_hyper(what, "lr", config.lr, 0.0..=f64::MAX)?;
        check_hyper(what, "beta1", config.betas.0, 0.0..=0.999_999_999)?;
        check_hyper(what, "beta2", config.betas.1, 0.0..=0.999_999_999)?;
        check_hyper(what, "eps", config.eps, 0.0..=f64::MAX)?;
        check_hyper(what, "weight_decay", config.weight_decay, 0.0..=f64::MAX)?;
        Ok(Adam { config, store: SlotStore::new(SLOTS) })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }
}

impl Optimizer for Adam {
    fn kind(&self) -> &'static str {
        if self.config.decoupled_weight_decay { "adamw" } else { "adam" }
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    fn update(&mut self, name: &str, param: &mut Tensor, grad: ArrayViewD<'_, f32>) -> Result<()> {
        check_grad(name, param, &grad)?;
        let c = self.config;
        let slots = self.store.advance(name, param.shape());
        let t = slots.step as f64;
        // Scalars as PyTorch computes them: in double precision, cast to f32 when applied.
        let bias_correction1 = 1.0 - c.betas.0.powf(t);
        let bias_correction2 = 1.0 - c.betas.1.powf(t);
        let neg_step_size = (-(c.lr / bias_correction1)) as f32;
        let bias_correction2_sqrt = bias_correction2.sqrt() as f32;
        let one_minus_beta1 = (1.0 - c.betas.0) as f32;
        let beta2 = c.betas.1 as f32;
        let one_minus_beta2 = (1.0 - c.betas.1) as f32;
        let eps = c.eps as f32;
        let (coupled_decay, decoupled_factor) = match (c.decoupled_weight_decay, c.weight_decay != 0.0) {
            (false, true) => (c.weight_decay as f32, 1.0),
            (true, true) => (0.0, (1.0 - c.lr * c.weight_decay) as f32),
            (_, false) => (0.0, 1.0),
        };
        let [m, v] = slots.slots.as_mut_slice() else { unreachable!("Adam keeps two slots") };
        zip_update2(
            param.value_mut(),
            grad,
            m,
            v,
            #[inline(always)]
            move |p, g, m, v| {
                let g = if coupled_decay != 0.0 { g + coupled_decay * *p } else { g };
                if decoupled_factor != 1.0 {
                    *p *= decoupled_factor;
                }
                *m += one_minus_beta1 * (g - *m);
                *v = *v * beta2 + one_minus_beta2 * (g * g);
                let denom = v.sqrt() / bias_correction2_sqrt + eps;
                *p += neg_step_size * (*m / denom);
            },
        );
        Ok(())
    }

    fn state(&self) -> OptimizerState {
        self.store.export(self.kind(), self.config.lr)
    }

    fn set_state(&mut self, state: OptimizerState) -> Result<()> {
        self.store = SlotStore::import(SLOTS, self.kind(), &state)?;
        self.config.lr = state.learning_rate;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn first_step_moves_each_weight_by_about_lr_against_the_gradient_sign() {
        let mut adam = Adam::new(AdamConfig::adam(0.1)).unwrap();
        let mut p = Tensor::parameter(ndarray::array![1.0f32, -1.0, 0.5]);
        let g = ArrayD::from_shape_vec(IxDyn(&[3]), vec![0.3f32, -2.0, 1e-3]).unwrap();
        adam.update("p", &mut p, g.view()).unwrap();
        let after = p.to_vec();
        assert!(
            (after[0] - 0.9).abs() < 1e-5 && (after[1] + 0.9).abs() < 1e-5 && (after[2] - 0.4).abs() < 1e-4,
            "{after:?}"
        );
        let state = adam.state();
        assert_eq!(state.kind, "adam");
        assert_eq!(state.steps["p"], 1);
        assert!(state.tensors.contains_key("p.exp_avg") && state.tensors.contains_key("p.exp_avg_sq"));
        let wrong = ArrayD::zeros(IxDyn(&[2]));
        assert!(adam.update("p", &mut p, wrong.view()).is_err());
        assert!(Adam::new(AdamConfig::adam(-1.0)).is_err());
        assert_eq!(Adam::new(AdamConfig::adamw(1e-3)).unwrap().kind(), "adamw");
    }
}
