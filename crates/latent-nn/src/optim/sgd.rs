//! [`Sgd`]: stochastic gradient descent with momentum, dampening, Nesterov momentum and weight
//! decay, step for step as `torch.optim.SGD`.
//!
//! ```text
//! g ← g + λ·p                                    (if λ ≠ 0)
//! b ← g on the first step, else b·μ + (1 − τ)·g  (if μ ≠ 0; τ is the dampening)
//! g ← g + μ·b if Nesterov, else b                (if μ ≠ 0)
//! p ← p − lr·g
//! ```
//! Slot: `momentum_buffer` (b), only when μ ≠ 0.

use latent_tensor::Tensor;
use ndarray::ArrayViewD;
use serde::{Deserialize, Serialize};

use super::{Optimizer, OptimizerState, SlotStore, check_grad, check_hyper, zip_update0, zip_update1};
use crate::error::{NnError, Result};

/// SGD's hyper-parameters (PyTorch's names and defaults).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SgdConfig {
    /// The learning rate.
    pub lr: f64,
    /// The momentum μ (default 0).
    pub momentum: f64,
    /// The dampening τ of the momentum (default 0).
    pub dampening: f64,
    /// The weight decay λ (default 0).
    pub weight_decay: f64,
    /// Nesterov momentum (needs μ > 0 and τ = 0).
    pub nesterov: bool,
}

impl SgdConfig {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        SgdConfig { lr, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false }
    }

    /// The same with momentum `momentum`.
    pub fn momentum(self, momentum: f64) -> Self {
        SgdConfig { momentum, ..self }
    }

    /// The same with Nesterov momentum on or off.
    pub fn nesterov(self, nesterov: bool) -> Self {
        SgdConfig { nesterov, ..self }
    }

    /// The same with dampening `dampening`.
    pub fn dampening(self, dampening: f64) -> Self {
        SgdConfig { dampening, ..self }
    }

    /// The same with weight decay `weight_decay`.
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        SgdConfig { weight_decay, ..self }
    }
}

/// The SGD optimiser.
#[derive(Clone, Debug)]
pub struct Sgd {
    config: SgdConfig,
    store: SlotStore,
}

impl Sgd {
    /// An optimiser with the given hyper-parameters and no state yet.
    ///
    /// # Errors
    /// If a hyper-parameter is negative, or Nesterov is asked for without momentum or with
    /// dampening (PyTorch refuses those too).
    pub fn new(config: SgdConfig) -> Result<Self> {
        check_hyper("SGD", "lr", config.lr, 0.0..=f64::MAX)?;
        check_hyper("SGD", "momentum", config.momentum, 0.0..=f64::MAX)?;
        check_hyper("SGD", "dampening", config.dampening, 0.0..=1.0)?;
        check_hyper("SGD", "weight_decay", config.weight_decay, 0.0..=f64::MAX)?;
        if config.nesterov && (config.momentum <= 0.0 || config.dampening != 0.0) {
            return Err(NnError::config("SGD", "Nesterov momentum requires a momentum and zero dampening"));
        }
        Ok(Sgd { config, store: SlotStore::new(Self::slot_names(&config)) })
    }

    fn slot_names(config: &SgdConfig) -> &'static [&'static str] {
        if config.momentum != 0.0 { &["momentum_buffer"] } else { &[] }
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }
}

impl Optimizer for Sgd {
    fn kind(&self) -> &'static str {
        "sgd"
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
        let first = slots.step == 1;
        let neg_lr = (-c.lr) as f32;
        let decay = c.weight_decay as f32;
        let momentum = c.momentum as f32;
        let one_minus_dampening = (1.0 - c.dampening) as f32;
        let nesterov = c.nesterov;
        let with_decay = move |g: f32, p: f32| if decay != 0.0 { g + decay * p } else { g };
        match slots.slots.as_mut_slice() {
            [buf] => zip_update1(param.value_mut(), grad, buf, move |p, g, b| {
                let g = with_decay(g, *p);
                *b = if first { g } else { *b * momentum + one_minus_dampening * g };
                let g = if nesterov { g + momentum * *b } else { *b };
                *p += neg_lr * g;
            }),
            _ => zip_update0(param.value_mut(), grad, move |p, g| {
                let g = with_decay(g, *p);
                *p += neg_lr * g;
            }),
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
    fn plain_and_momentum_steps() {
        let g = ndarray::arr1(&[1.0f32, -2.0]).into_dyn();
        let mut p = Tensor::parameter(ndarray::arr1(&[0.0f32, 0.0]));
        let mut sgd = Sgd::new(SgdConfig::new(0.1)).unwrap();
        sgd.update("p", &mut p, g.view()).unwrap();
        assert_eq!(p.to_vec(), vec![-0.1, 0.2]);
        let mut p = Tensor::parameter(ndarray::arr1(&[0.0f32, 0.0]));
        let mut sgd = Sgd::new(SgdConfig::new(1.0).momentum(0.5)).unwrap();
        sgd.update("p", &mut p, g.view()).unwrap();
        sgd.update("p", &mut p, g.view()).unwrap();
        // Buffers 1 then 1.5: total displacement 2.5 per unit gradient.
        assert_eq!(p.to_vec(), vec![-2.5, 5.0]);
        assert!(Sgd::new(SgdConfig::new(0.1).nesterov(true)).is_err());
        assert!(sgd.state().tensors.contains_key("p.momentum_buffer"));
    }
}
