//! [`RmsProp`] (Hinton), step for step as `torch.optim.RMSprop`.
//!
//! ```text
//! g ← g + λ·p                                          (if λ ≠ 0)
//! s ← s·α + (1 − α)·g²
//! centred: a ← a + (1 − α)·(g − a);  d ← √(s − a²) + ε
//! else:    d ← √s + ε
//! momentum μ > 0: b ← b·μ + g/d;  p ← p − lr·b
//! else:           p ← p − lr·g/d
//! ```
//! Slots: `square_avg` (s), `momentum_buffer` (b, when μ > 0), `grad_avg` (a, when centred).

use latent_tensor::Tensor;
use ndarray::{ArrayViewD, Zip};
use serde::{Deserialize, Serialize};

use super::{Optimizer, OptimizerState, SlotStore, check_grad, check_hyper, zip_update1, zip_update2};
use crate::error::Result;

/// RMSprop's hyper-parameters (PyTorch's names and defaults).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RmsPropConfig {
    /// The learning rate (default 1e-2).
    pub lr: f64,
    /// The smoothing constant α (default 0.99).
    pub alpha: f64,
    /// Added to the denominator (default 1e-8).
    pub eps: f64,
    /// The weight decay λ (default 0).
    pub weight_decay: f64,
    /// The momentum μ (default 0).
    pub momentum: f64,
    /// Normalise by the variance estimate instead of the raw second moment (default false).
    pub centered: bool,
}

impl RmsPropConfig {
    /// `torch.optim.RMSprop(lr=lr)` defaults.
    pub fn new(lr: f64) -> Self {
        RmsPropConfig { lr, alpha: 0.99, eps: 1e-8, weight_decay: 0.0, momentum: 0.0, centered: false }
    }

    /// The same with smoothing constant `alpha`.
    pub fn alpha(self, alpha: f64) -> Self {
        RmsPropConfig { alpha, ..self }
    }

    /// The same with momentum `momentum`.
    pub fn momentum(self, momentum: f64) -> Self {
        RmsPropConfig { momentum, ..self }
    }

    /// The same, centred or not.
    pub fn centered(self, centered: bool) -> Self {
        RmsPropConfig { centered, ..self }
    }

    /// The same with weight decay `weight_decay`.
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        RmsPropConfig { weight_decay, ..self }
    }
}

/// The RMSprop optimiser.
#[derive(Clone, Debug)]
pub struct RmsProp {
    config: RmsPropConfig,
    store: SlotStore,
}

impl RmsProp {
    /// An optimiser with the given hyper-parameters and no state yet.
    ///
    /// # Errors
    /// If a hyper-parameter is out of PyTorch's accepted range.
    pub fn new(config: RmsPropConfig) -> Result<Self> {
        check_hyper("RMSprop", "lr", config.lr, 0.0..=f64::MAX)?;
        check_hyper("RMSprop", "alpha", config.alpha, 0.0..=1.0)?;
        check_hyper("RMSprop", "eps", config.eps, 0.0..=f64::MAX)?;
        check_hyper("RMSprop", "momentum", config.momentum, 0.0..=f64::MAX)?;
        check_hyper("RMSprop", "weight_decay", config.weight_decay, 0.0..=f64::MAX)?;
        Ok(RmsProp { config, store: SlotStore::new(Self::slot_names(&config)) })
    }

    fn slot_names(c: &RmsPropConfig) -> &'static [&'static str] {
        match (c.momentum > 0.0, c.centered) {
            (false, false) => &["square_avg"],
            (true, false) => &["square_avg", "momentum_buffer"],
            (false, true) => &["square_avg", "grad_avg"],
            (true, true) => &["square_avg", "momentum_buffer", "grad_avg"],
        }
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &RmsPropConfig {
        &self.config
    }
}

impl Optimizer for RmsProp {
    fn kind(&self) -> &'static str {
        "rmsprop"
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
        let neg_lr = (-c.lr) as f32;
        let decay = c.weight_decay as f32;
        let alpha = c.alpha as f32;
        let one_minus_alpha = (1.0 - c.alpha) as f32;
        let momentum = c.momentum as f32;
        let eps = c.eps as f32;
        let with_decay = move |g: f32, p: f32| if decay != 0.0 { g + decay * p } else { g };
        let square = move |s: &mut f32, g: f32| *s = *s * alpha + one_minus_alpha * (g * g);
        match slots.slots.as_mut_slice() {
            [s] => zip_update1(param.value_mut(), grad, s, move |p, g, s| {
                let g = with_decay(g, *p);
                square(s, g);
                *p += neg_lr * (g / (s.sqrt() + eps));
            }),
            [s, b] if !c.centered => zip_update2(param.value_mut(), grad, s, b, move |p, g, s, b| {
                let g = with_decay(g, *p);
                square(s, g);
                *b = *b * momentum + g / (s.sqrt() + eps);
                *p += neg_lr * *b;
            }),
            [s, a] => zip_update2(param.value_mut(), grad, s, a, move |p, g, s, a| {
                let g = with_decay(g, *p);
                square(s, g);
                *a += one_minus_alpha * (g - *a);
                *p += neg_lr * (g / ((*s - *a * *a).sqrt() + eps));
            }),
            [s, b, a] => {
                Zip::from(param.value_mut()).and(&grad).and(s).and(b).and(a).for_each(|p, &g, s, b, a| {
                    let g = with_decay(g, *p);
                    square(s, g);
                    *a += one_minus_alpha * (g - *a);
                    *b = *b * momentum + g / ((*s - *a * *a).sqrt() + eps);
                    *p += neg_lr * *b;
                });
            }
            _ => unreachable!("RMSprop keeps one to three slots"),
        }
        Ok(())
    }

    fn state(&self) -> OptimizerState {
        self.store.export(self.kind(), self.config.lr)
    }

    fn set_state(&mut self, state: OptimizerState) -> Result<()> {
        self.store = SlotStore::import(Self::slot_names(&self.config), self.kind(), &state)?;
        self.config.lr = state.learning_rate;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_divides_by_the_root_mean_square() {
        let mut opt = RmsProp::new(RmsPropConfig::new(0.01)).unwrap();
        let mut p = Tensor::parameter(ndarray::arr1(&[1.0f32]));
        let g = ndarray::arr1(&[2.0f32]).into_dyn();
        opt.update("p", &mut p, g.view()).unwrap();
        // s = 0.01·4, step = 0.01·2/√0.04 = 0.1.
        assert!((p.to_vec()[0] - 0.9).abs() < 1e-5);
        let names: Vec<_> =
            RmsProp::new(RmsPropConfig::new(0.01).momentum(0.9).centered(true)).unwrap().store.slot_names.to_vec();
        assert_eq!(names, ["square_avg", "momentum_buffer", "grad_avg"]);
    }
}
