//! Learning-rate schedules as pure functions of the epoch, in closed form as PyTorch's
//! `StepLR`, `ExponentialLR` and `CosineAnnealingLR` (`_get_closed_form_lr`). Being functions
//! of the epoch, they need no state of their own: a resumed run sets the rate from the epoch it
//! resumes at.

use serde::{Deserialize, Serialize};

use super::Optimizer;

/// How the learning rate depends on the epoch (counted from 0).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// The base rate throughout.
    Constant,
    /// `base · γ^⌊epoch / step_size⌋` (PyTorch's `StepLR`).
    Step {
        /// Epochs between decays.
        step_size: u64,
        /// The decay factor.
        gamma: f64,
    },
    /// `base · γ^epoch` (PyTorch's `ExponentialLR`).
    Exponential {
        /// The decay factor per epoch.
        gamma: f64,
    },
    /// `η_min + (base − η_min)·(1 + cos(π·epoch / t_max)) / 2` (PyTorch's `CosineAnnealingLR`;
    /// like PyTorch's formula, it rises again after `t_max`).
    Cosine {
        /// The half-period in epochs.
        t_max: u64,
        /// The minimum rate.
        eta_min: f64,
    },
    /// A linear warm-up: `base · (epoch + 1) / epochs` for the first `epochs` epochs, then the
    /// base rate (the warm-up of Goyal et al. 2017, per epoch).
    Warmup {
        /// Epochs of warm-up.
        epochs: u64,
    },
}

impl LrSchedule {
    /// The learning rate at `epoch` for a base rate `base_lr`.
    pub fn lr(&self, base_lr: f64, epoch: u64) -> f64 {
        match *self {
            LrSchedule::Constant => base_lr,
            LrSchedule::Step { step_size, gamma } => base_lr * gamma.powf((epoch / step_size.max(1)) as f64),
            LrSchedule::Exponential { gamma } => base_lr * gamma.powf(epoch as f64),
            LrSchedule::Cosine { t_max, eta_min } => {
                let phase = std::f64::consts::PI * epoch as f64 / t_max.max(1) as f64;
                eta_min + (base_lr - eta_min) * (1.0 + phase.cos()) / 2.0
            }
            LrSchedule::Warmup { epochs } => {
                if epoch < epochs {
                    base_lr * (epoch + 1) as f64 / epochs as f64
                } else {
                    base_lr
                }
            }
        }
    }

    /// Set `optimizer`'s learning rate for `epoch`.
    pub fn apply(&self, optimizer: &mut dyn Optimizer, base_lr: f64, epoch: u64) {
        optimizer.set_learning_rate(self.lr(base_lr, epoch));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_rises_linearly_then_holds() {
        let w = LrSchedule::Warmup { epochs: 4 };
        let got: Vec<f64> = (0..6).map(|e| w.lr(1.0, e)).collect();
        assert_eq!(got, vec![0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
        assert_eq!(LrSchedule::Warmup { epochs: 0 }.lr(0.1, 0), 0.1);
    }

    #[test]
    fn closed_forms() {
        let step = LrSchedule::Step { step_size: 2, gamma: 0.5 };
        let rates: Vec<f64> = (0..5).map(|e| step.lr(1.0, e)).collect();
        assert_eq!(rates, [1.0, 1.0, 0.5, 0.5, 0.25]);
        assert!((LrSchedule::Exponential { gamma: 0.9 }.lr(2.0, 2) - 1.62).abs() < 1e-12);
        let cosine = LrSchedule::Cosine { t_max: 4, eta_min: 0.1 };
        assert!((cosine.lr(1.0, 0) - 1.0).abs() < 1e-12);
        assert!((cosine.lr(1.0, 2) - 0.55).abs() < 1e-12);
        assert!((cosine.lr(1.0, 4) - 0.1).abs() < 1e-12);
        assert_eq!(LrSchedule::Constant.lr(0.3, 100), 0.3);
        let json = serde_json::to_string(&cosine).unwrap();
        assert_eq!(json, r#"{"kind":"cosine","t_max":4,"eta_min":0.1}"#);
    }
}
