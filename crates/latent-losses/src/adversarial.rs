//! GAN losses, all on the discriminator's raw outputs (logits; a critic's scores for WGAN).
//!
//! With `r = D(x)` on real data and `f = D(G(z))` on generated data, `E` the mean over the batch
//! and `σ` the logistic function (so `-ln σ(t) = softplus(-t)` and `-ln(1 - σ(t)) = softplus(t)`,
//! both evaluated stably):
//!
//! | [`GanLoss`]       | discriminator / critic loss               | generator loss          |
//! |-------------------|-------------------------------------------|-------------------------|
//! | `Minimax`         | `E[softplus(-r)] + E[softplus(f)]`        | `-E[softplus(f)]`       |
//! | `NonSaturating`   | as `Minimax`                              | `E[softplus(-f)]`       |
//! | `LeastSquares`    | `½E[(r - 1)²] + ½E[f²]`                   | `½E[(f - 1)²]`          |
//! | `Wasserstein`     | `E[f] - E[r]`                             | `-E[f]`                 |
//! | `Hinge`           | `E[relu(1 - r)] + E[relu(1 + f)]`         | `-E[f]`                 |
//!
//! The minimax discriminator loss is `BCE(D(x), 1) + BCE(D(G(z)), 0)` (Goodfellow et al., 2014);
//! its generator minimises `E[ln(1 - σ(f))] = -BCE(D(G(z)), 0)`, which saturates when the
//! discriminator wins, hence the non-saturating `BCE(D(G(z)), 1)`. LSGAN is Mao et al. (2017)
//! with targets 0 and 1, the WGAN critic is Arjovsky et al. (2017) (its Lipschitz constraint,
//! weight clipping or a gradient penalty, is the trainer's business), and the hinge loss is that
//! of SAGAN/BigGAN. Every loss is finite, with finite gradients, for any finite logit.
//! Real and fake batches may differ in size and shape; each mean is over its own batch.

use std::fmt;
use std::str::FromStr;

use latent_tensor::Tensor;

use crate::error::{LossError, Result};

/// The mean of `t`, which must not be empty.
fn mean(loss: &'static str, name: &'static str, t: &Tensor) -> Result<Tensor> {
    if t.is_empty() {
        return Err(LossError::BadShape { loss, name, shape: t.shape().to_vec(), why: "needs at least one logit" });
    }
    Ok(t.mean_all()?)
}

/// `E[softplus(-r)] + E[softplus(f)]`: the discriminator's loss of the original minimax game,
/// `BCE(D(x), 1) + BCE(D(G(z)), 0)` on logits.
///
/// # Errors
/// If either batch is empty.
pub fn minimax_discriminator_loss(real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
    const LOSS: &str = "minimax_discriminator_loss";
    let real = mean(LOSS, "real_logits", &real_logits.neg().softplus())?;
    Ok(real.add(&mean(LOSS, "fake_logits", &fake_logits.softplus())?)?)
}

/// `-E[softplus(f)] = E[ln(1 - σ(f))]`: the generator's loss of the original minimax game,
/// `-BCE(D(G(z)), 0)`. Its gradient vanishes when the discriminator confidently rejects the
/// fakes; prefer [`non_saturating_generator_loss`].
///
/// # Errors
/// If the batch is empty.
pub fn minimax_generator_loss(fake_logits: &Tensor) -> Result<Tensor> {
    Ok(mean("minimax_generator_loss", "fake_logits", &fake_logits.softplus())?.neg())
}

/// `E[softplus(-f)] = -E[ln σ(f)]`: the non-saturating generator loss, `BCE(D(G(z)), 1)`.
///
/// # Errors
/// If the batch is empty.
pub fn non_saturating_generator_loss(fake_logits: &Tensor) -> Result<Tensor> {
    mean("non_saturating_generator_loss", "fake_logits", &fake_logits.neg().softplus())
}

/// `½E[(r - 1)²] + ½E[f²]`: the LSGAN discriminator loss (targets 1 for real, 0 for fake).
///
/// # Errors
/// If either batch is empty.
pub fn least_squares_discriminator_loss(real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
    const LOSS: &str = "least_squares_discriminator_loss";
    let real = mean(LOSS, "real_logits", &real_logits.sub_scalar(1.0).square())?;
    Ok(real.add(&mean(LOSS, "fake_logits", &fake_logits.square())?)?.mul_scalar(0.5))
}

/// `½E[(f - 1)²]`: the LSGAN generator loss.
///
/// # Errors
/// If the batch is empty.
pub fn least_squares_generator_loss(fake_logits: &Tensor) -> Result<Tensor> {
    Ok(mean("least_squares_generator_loss", "fake_logits", &fake_logits.sub_scalar(1.0).square())?.mul_scalar(0.5))
}

/// `E[f] - E[r]`: the Wasserstein critic loss (the negated estimate of the Wasserstein-1
/// distance; the critic must be kept Lipschitz by the trainer).
///
/// # Errors
/// If either batch is empty.
pub fn wasserstein_critic_loss(real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
    const LOSS: &str = "wasserstein_critic_loss";
    Ok(mean(LOSS, "fake_logits", fake_logits)?.sub(&mean(LOSS, "real_logits", real_logits)?)?)
}

/// `-E[f]`: the generator loss of WGAN and of the hinge GAN.
///
/// # Errors
/// If the batch is empty.
pub fn wasserstein_generator_loss(fake_logits: &Tensor) -> Result<Tensor> {
    Ok(mean("wasserstein_generator_loss", "fake_logits", fake_logits)?.neg())
}

/// `E[relu(1 - r)] + E[relu(1 + f)]`: the hinge discriminator loss.
///
/// # Errors
/// If either batch is empty.
pub fn hinge_discriminator_loss(real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
    const LOSS: &str = "hinge_discriminator_loss";
    let real = mean(LOSS, "real_logits", &real_logits.rsub_scalar(1.0).relu())?;
    Ok(real.add(&mean(LOSS, "fake_logits", &fake_logits.add_scalar(1.0).relu())?)?)
}

/// `-E[f]`: the hinge generator loss (the same as [`wasserstein_generator_loss`]).
///
/// # Errors
/// If the batch is empty.
pub fn hinge_generator_loss(fake_logits: &Tensor) -> Result<Tensor> {
    Ok(mean("hinge_generator_loss", "fake_logits", fake_logits)?.neg())
}

/// A GAN objective: which discriminator and generator losses to train with (see the module docs
/// for the formulas). Parse one from the command line with [`str::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum GanLoss {
    /// The original minimax game, generator included (saturates; for study).
    Minimax,
    /// The minimax discriminator with the non-saturating generator: the usual choice.
    #[default]
    NonSaturating,
    /// LSGAN: least squares against targets 0 and 1.
    LeastSquares,
    /// WGAN: critic scores, no sigmoid.
    Wasserstein,
    /// Hinge loss (SAGAN, BigGAN).
    Hinge,
}

impl GanLoss {
    /// Every GAN loss, in declaration order.
    pub const ALL: [GanLoss; 5] =
        [GanLoss::Minimax, GanLoss::NonSaturating, GanLoss::LeastSquares, GanLoss::Wasserstein, GanLoss::Hinge];

    /// The canonical name (`minimax`, `non-saturating`, `least-squares`, `wasserstein`, `hinge`),
    /// which [`str::parse`] reads back.
    pub fn name(self) -> &'static str {
        match self {
            GanLoss::Minimax => "minimax",
            GanLoss::NonSaturating => "non-saturating",
            GanLoss::LeastSquares => "least-squares",
            GanLoss::Wasserstein => "wasserstein",
            GanLoss::Hinge => "hinge",
        }
    }

    /// The discriminator's (critic's) loss on real and generated logits.
    ///
    /// # Errors
    /// If either batch is empty.
    pub fn discriminator_loss(self, real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
        match self {
            GanLoss::Minimax | GanLoss::NonSaturating => minimax_discriminator_loss(real_logits, fake_logits),
            GanLoss::LeastSquares => least_squares_discriminator_loss(real_logits, fake_logits),
            GanLoss::Wasserstein => wasserstein_critic_loss(real_logits, fake_logits),
            GanLoss::Hinge => hinge_discriminator_loss(real_logits, fake_logits),
        }
    }

    /// The generator's loss on the discriminator's logits for generated data.
    ///
    /// # Errors
    /// If the batch is empty.
    pub fn generator_loss(self, fake_logits: &Tensor) -> Result<Tensor> {
        match self {
            GanLoss::Minimax => minimax_generator_loss(fake_logits),
            GanLoss::NonSaturating => non_saturating_generator_loss(fake_logits),
            GanLoss::LeastSquares => least_squares_generator_loss(fake_logits),
            GanLoss::Wasserstein => wasserstein_generator_loss(fake_logits),
            GanLoss::Hinge => hinge_generator_loss(fake_logits),
        }
    }
}

impl fmt::Display for GanLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for GanLoss {
    type Err = LossError;

    /// The canonical names and common short forms, ignoring case, `-` and `_`: `minimax`,
    /// `non-saturating` (`ns`), `least-squares` (`lsgan`, `ls`), `wasserstein` (`wgan`), `hinge`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "minimax" => Ok(GanLoss::Minimax),
            "nonsaturating" | "ns" => Ok(GanLoss::NonSaturating),
            "leastsquares" | "lsgan" | "ls" => Ok(GanLoss::LeastSquares),
            "wasserstein" | "wgan" => Ok(GanLoss::Wasserstein),
            "hinge" => Ok(GanLoss::Hinge),
            _ => Err(LossError::UnknownName {
                kind: "GAN loss",
                found: s.to_string(),
                expected: "minimax, non-saturating (ns), least-squares (lsgan), wasserstein (wgan), hinge",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr1;

    fn t(v: &[f32]) -> Tensor {
        Tensor::parameter(arr1(v))
    }

    #[test]
    fn values_by_hand() {
        let (r, f) = (t(&[2.0, 0.0]), t(&[-1.0, 0.5]));
        let close = |a: Tensor, b: f32| assert!((a.item().unwrap() - b).abs() < 1e-6, "{a:?} vs {b}");
        let sp = |x: f32| (1.0 + x.exp()).ln();
        close(minimax_discriminator_loss(&r, &f).unwrap(), (sp(-2.0) + sp(0.0)) / 2.0 + (sp(-1.0) + sp(0.5)) / 2.0);
        close(minimax_generator_loss(&f).unwrap(), -(sp(-1.0) + sp(0.5)) / 2.0);
        close(non_saturating_generator_loss(&f).unwrap(), (sp(1.0) + sp(-0.5)) / 2.0);
        close(least_squares_discriminator_loss(&r, &f).unwrap(), 0.5 * (1.0 + 1.0) / 2.0 + 0.5 * (1.0 + 0.25) / 2.0);
        close(least_squares_generator_loss(&f).unwrap(), 0.5 * (4.0 + 0.25) / 2.0);
        close(wasserstein_critic_loss(&r, &f).unwrap(), -0.25 - 1.0);
        close(wasserstein_generator_loss(&f).unwrap(), 0.25);
        close(hinge_discriminator_loss(&r, &f).unwrap(), (0.0 + 1.0) / 2.0 + (0.0 + 1.5) / 2.0);
        close(hinge_generator_loss(&f).unwrap(), 0.25);
    }

    #[test]
    fn every_loss_is_finite_with_finite_gradients_at_extreme_logits() {
        let (r, f) = (t(&[100.0, -100.0, 0.0]), t(&[-100.0, 100.0]));
        for loss in GanLoss::ALL {
            for l in [loss.discriminator_loss(&r, &f).unwrap(), loss.generator_loss(&f).unwrap()] {
                assert!(l.item().unwrap().is_finite(), "{loss}: {l:?}");
                let g = l.backward().unwrap();
                for x in [&r, &f] {
                    if let Some(g) = g.get(x) {
                        assert!(g.to_vec().iter().all(|v| v.is_finite()), "{loss}: {g}");
                    }
                }
            }
        }
        // A confident, correct discriminator: minimax D loss ≈ 0; the saturating generator's
        // gradient vanishes while the non-saturating one's does not.
        let d = minimax_discriminator_loss(&t(&[100.0]), &t(&[-100.0])).unwrap().item().unwrap();
        assert!(d < 1e-30, "{d}");
        let f = t(&[-100.0]);
        let g_sat = minimax_generator_loss(&f).unwrap().backward().unwrap();
        let g_ns = non_saturating_generator_loss(&f).unwrap().backward().unwrap();
        assert!(g_sat.get_array(&f).unwrap()[[0]].abs() < 1e-30);
        assert_eq!(g_ns.get_array(&f).unwrap()[[0]], -1.0);
    }

    #[test]
    fn names_parse_and_round_trip() {
        for loss in GanLoss::ALL {
            assert_eq!(loss.to_string().parse::<GanLoss>().unwrap(), loss);
        }
        assert_eq!("WGAN".parse::<GanLoss>().unwrap(), GanLoss::Wasserstein);
        assert_eq!("non_saturating".parse::<GanLoss>().unwrap(), GanLoss::NonSaturating);
        assert_eq!("lsgan".parse::<GanLoss>().unwrap(), GanLoss::LeastSquares);
        let e = "vanilla".parse::<GanLoss>().unwrap_err().to_string();
        assert!(e.starts_with("unknown GAN loss \"vanilla\"; expected one of: minimax,"), "{e}");
    }

    #[test]
    fn empty_batches_are_errors() {
        let empty = Tensor::zeros(&[0]);
        for loss in GanLoss::ALL {
            assert!(matches!(loss.generator_loss(&empty), Err(LossError::BadShape { .. })));
            assert!(loss.discriminator_loss(&t(&[1.0]), &empty).is_err());
        }
    }
}
