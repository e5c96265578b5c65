//! The gradient checks of this crate: one [`OpCheck`] per loss, plus variants where a reduction
//! or an input regime reaches the loss by another path (`bce_logits_sum`, extreme logits, a
//! homoscedastic variance). `cargo xtask gradcheck` runs them with the ops of `latent-tensor`.
//!
//! Conventions of the cases: `ints[0]` is a [`Reduction`] index into [`Reduction::ALL`] for the
//! losses that take one (so one check covers all four reductions); further `ints` and `floats`
//! are documented beside each entry. Every tensor in `Case::inputs` is differentiated, targets
//! included, so their gradients are checked too. Values are kept where finite differences are
//! meaningful: probabilities in `(0.05, 0.95)`, variances from 0.2, and at least 0.05 away from
//! the kinks of `abs` (0) and of the hinge (`r = 1`, `f = -1`).

use latent_tensor::gradcheck::strategies::{array, array_away_from, shape};
use latent_tensor::gradcheck::{Case, OpCheck, Tolerance};
use latent_tensor::{Tensor, TensorRng};
use ndarray::ArrayD;
use proptest::prelude::*;

use crate::adversarial::{
    hinge_discriminator_loss, hinge_generator_loss, least_squares_discriminator_loss, least_squares_generator_loss,
    minimax_discriminator_loss, minimax_generator_loss, non_saturating_generator_loss, wasserstein_critic_loss,
    wasserstein_generator_loss,
};
use crate::classification::cross_entropy;
use crate::contractive::contractive_sigmoid;
use crate::divergence::{gaussian_kl_standard_normal, reparameterize_with_noise};
use crate::reconstruction::{
    GaussianNllOptions, binary_cross_entropy, binary_cross_entropy_with_logits, gaussian_nll_loss, mse_loss,
};
use crate::reduction::Reduction;
use crate::sparsity::{kl_sparsity, l1_activity};

type Apply = fn(&[Tensor], &Case) -> latent_tensor::Result<Tensor>;

fn check(name: &'static str, cases: fn() -> BoxedStrategy<Case>, apply: Apply) -> OpCheck {
    OpCheck { name, cases, apply, tolerance: Tolerance::default() }
}

/// For losses with `ln p` or `1/v` near small `p` or `v`: the default step of 1e-2 would cost a
/// truncation error of `h²/6 · f'''` of a few percent there.
const SMALL_STEP: Tolerance = Tolerance { step: 2e-3, rtol: 1e-2, floor: 0.1 };

/// For the Gaussian NLL (see its entry).
const NLL_STEP: Tolerance = Tolerance { step: 5e-3, rtol: 1e-2, floor: 0.1 };

/// For logits up to ±100: losses of ~100 per element make the f32 rounding of the summed loss
/// ~1e-5, which a step of 0.1 keeps far below the gradient; the curvature of softplus and
/// log-softmax is at most ¼, so the truncation error stays ~1e-4.
const EXTREME_STEP: Tolerance = Tolerance { step: 0.1, rtol: 1e-2, floor: 0.1 };

/// The reduction a case asks for (`ints[0]`).
fn reduction(c: &Case) -> Reduction {
    Reduction::ALL[c.ints[0]]
}

/// A batch-first shape: rank 1..=3, axes of size 1..=3 (at most 27 elements, so f32 rounding of
/// a summed loss stays well below the finite differences).
fn batch_shape() -> BoxedStrategy<Vec<usize>> {
    shape(1..=3, 3)
}

/// Arrays of one random shape, one per `(lo, hi)` range, with `ints = [reduction]` drawn from
/// `reductions` (indices into [`Reduction::ALL`]).
fn same_shape_case(ranges: &'static [(f32, f32)], reductions: &'static [usize]) -> BoxedStrategy<Case> {
    (batch_shape(), prop::sample::select(reductions))
        .prop_flat_map(move |(s, r)| {
            let arrays: Vec<BoxedStrategy<ArrayD<f32>>> =
                ranges.iter().map(|&(lo, hi)| array(s.clone(), lo, hi)).collect();
            arrays.prop_map(move |inputs| Case { inputs, ints: vec![r], floats: vec![] })
        })
        .boxed()
}

const ALL_REDUCTIONS: &[usize] = &[0, 1, 2, 3];
const MEAN: &[usize] = &[2];
const SUM: &[usize] = &[1];
const NONE: &[usize] = &[0];

/// One array of a random batch shape with values in `[lo, hi)` at least 0.05 from `kinks`.
fn logits(lo: f32, hi: f32, kinks: &'static [f32]) -> BoxedStrategy<ArrayD<f32>> {
    batch_shape().prop_flat_map(move |s| array_away_from(s, lo, hi, kinks, 0.05)).boxed()
}

/// Real and fake logits of independent shapes (`[r, f]`), away from `real_kinks` / `fake_kinks`.
fn gan_pair(real_kinks: &'static [f32], fake_kinks: &'static [f32]) -> BoxedStrategy<Case> {
    (logits(-4.0, 4.0, real_kinks), logits(-4.0, 4.0, fake_kinks)).prop_map(|(r, f)| Case::of(vec![r, f])).boxed()
}

/// Fake logits alone.
fn gan_fake() -> BoxedStrategy<Case> {
    logits(-4.0, 4.0, &[]).prop_map(|f| Case::of(vec![f])).boxed()
}

/// `[input, target, var]` for the Gaussian NLL with `ints = [reduction, full, var_form]`:
/// `var_form` 0 is a full variance, 1 the input's shape without its last axis, 2 the input's
/// shape with one axis of size 1 (the homoscedastic forms PyTorch accepts).
fn gaussian_nll_case(var_forms: &'static [usize]) -> BoxedStrategy<Case> {
    (batch_shape(), 0..4usize, any::<bool>(), prop::sample::select(var_forms), any::<usize>())
        .prop_flat_map(|(s, r, full, form, axis)| {
            let var_shape = match form {
                0 => s.clone(),
                1 => s[..s.len() - 1].to_vec(),
                _ => {
                    let mut v = s.clone();
                    v[axis % s.len()] = 1;
                    v
                }
            };
            (array(s.clone(), -1.0, 1.0), array(s, -1.0, 1.0), array(var_shape, 0.2, 3.0)).prop_map(move |(x, t, v)| {
                Case { inputs: vec![x, t, v], ints: vec![r, usize::from(full), form], floats: vec![] }
            })
        })
        .boxed()
}

fn gaussian_nll_apply(t: &[Tensor], c: &Case) -> latent_tensor::Result<Tensor> {
    let options = GaussianNllOptions { full: c.ints[1] == 1, ..GaussianNllOptions::default() };
    Ok(gaussian_nll_loss(&t[0], &t[1], &t[2], options, reduction(c))?)
}

/// `[logits [N, C]]` with `ints = [reduction, labels...]`, values in `[-bound, bound)`.
fn cross_entropy_case(bound: f32) -> BoxedStrategy<Case> {
    (1..=5usize, 1..=5usize, 0..4usize)
        .prop_flat_map(move |(n, c, r)| {
            (array(vec![n, c], -bound, bound), proptest::collection::vec(0..c, n)).prop_map(move |(x, labels)| {
                let mut ints = vec![r];
                ints.extend(labels);
                Case { inputs: vec![x], ints, floats: vec![] }
            })
        })
        .boxed()
}

/// Every loss of this crate as a gradient check, for `cargo xtask gradcheck`.
pub fn gradcheck_registry() -> Vec<OpCheck> {
    vec![
        check(
            "mse",
            || same_shape_case(&[(-2.0, 2.0), (-2.0, 2.0)], ALL_REDUCTIONS),
            |t, c| Ok(mse_loss(&t[0], &t[1], reduction(c))?),
        ),
        // The log's curvature near p = 0.05 needs a smaller step than the default 1e-2 (the
        // central difference's error is h²/6 · 2/p³ against a gradient of 1/p).
        OpCheck {
            name: "bce_prob",
            cases: || same_shape_case(&[(0.05, 0.95), (0.0, 1.0)], ALL_REDUCTIONS),
            apply: |t, c| Ok(binary_cross_entropy(&t[0], &t[1], reduction(c))?),
            tolerance: SMALL_STEP,
        },
        check(
            "bce_logits_mean",
            || same_shape_case(&[(-5.0, 5.0), (0.0, 1.0)], MEAN),
            |t, c| Ok(binary_cross_entropy_with_logits(&t[0], &t[1], reduction(c))?),
        ),
        check(
            "bce_logits_sum",
            || same_shape_case(&[(-5.0, 5.0), (0.0, 1.0)], SUM),
            |t, c| Ok(binary_cross_entropy_with_logits(&t[0], &t[1], reduction(c))?),
        ),
        check(
            "bce_logits_none",
            || same_shape_case(&[(-5.0, 5.0), (0.0, 1.0)], NONE),
            |t, c| Ok(binary_cross_entropy_with_logits(&t[0], &t[1], reduction(c))?),
        ),
        OpCheck {
            name: "bce_logits_extreme",
            cases: || same_shape_case(&[(-100.0, 100.0), (0.0, 1.0)], ALL_REDUCTIONS),
            apply: |t, c| Ok(binary_cross_entropy_with_logits(&t[0], &t[1], reduction(c))?),
            tolerance: EXTREME_STEP,
        },
        // 1/var is curved near var = 0.2, while (x - t)²/var reaches 10 per element, whose f32
        // rounding (in a sum) a too-small step would magnify: 5e-3 balances the two.
        OpCheck {
            name: "gaussian_nll",
            cases: || gaussian_nll_case(&[0]),
            apply: gaussian_nll_apply,
            tolerance: NLL_STEP,
        },
        OpCheck {
            name: "gaussian_nll_shared_var",
            cases: || gaussian_nll_case(&[1, 2]),
            apply: gaussian_nll_apply,
            tolerance: NLL_STEP,
        },
        check(
            "gaussian_kl",
            || same_shape_case(&[(-2.0, 2.0), (-2.0, 2.0)], ALL_REDUCTIONS),
            |t, c| Ok(gaussian_kl_standard_normal(&t[0], &t[1], reduction(c))?),
        ),
        // ints = [reduction (unused), noise seed]: ε is fixed per case.
        check(
            "reparameterize",
            || {
                (same_shape_case(&[(-2.0, 2.0), (-2.0, 2.0)], NONE), any::<u64>())
                    .prop_map(|(c, seed)| Case { ints: vec![c.ints[0], seed as usize], ..c })
                    .boxed()
            },
            |t, c| {
                let eps = TensorRng::seed_from_u64(c.ints[1] as u64).randn(t[0].shape());
                Ok(reparameterize_with_noise(&t[0], &t[1], &eps)?)
            },
        ),
        check(
            "l1_activity",
            || {
                (logits(-3.0, 3.0, &[0.0]), 0..4usize)
                    .prop_map(|(h, r)| Case { inputs: vec![h], ints: vec![r], floats: vec![] })
                    .boxed()
            },
            |t, c| Ok(l1_activity(&t[0], reduction(c))?),
        ),
        // floats = [rho]; activations in (0.05, 0.95), so ρ̂ is far from the clamp.
        OpCheck {
            name: "kl_sparsity",
            cases: || {
                (shape(2..=3, 4), 0.02f32..0.5)
                    .prop_flat_map(|(s, rho)| {
                        array(s, 0.05, 0.95).prop_map(move |h| Case {
                            inputs: vec![h],
                            ints: vec![],
                            floats: vec![rho],
                        })
                    })
                    .boxed()
            },
            apply: |t, c| Ok(kl_sparsity(&t[0], c.floats[0])?),
            tolerance: SMALL_STEP,
        },
        // inputs = [x [N, D], W [H, D], b [H]]: the penalty of h = σ(x Wᵀ + b), reaching x, W
        // and b through h and W directly.
        check(
            "contractive_sigmoid",
            || {
                (1..=4usize, 1..=4usize, 1..=4usize, 0..4usize)
                    .prop_flat_map(|(n, d, h, r)| {
                        (array(vec![n, d], -2.0, 2.0), array(vec![h, d], -1.5, 1.5), array(vec![h], -1.0, 1.0))
                            .prop_map(move |(x, w, b)| Case { inputs: vec![x, w, b], ints: vec![r], floats: vec![] })
                    })
                    .boxed()
            },
            |t, c| {
                let h = t[0].linear(&t[1], Some(&t[2]))?.sigmoid();
                Ok(contractive_sigmoid(&h, &t[1], reduction(c))?)
            },
        ),
        check("gan_minimax_d", || gan_pair(&[], &[]), |t, _| Ok(minimax_discriminator_loss(&t[0], &t[1])?)),
        check("gan_minimax_g", gan_fake, |t, _| Ok(minimax_generator_loss(&t[0])?)),
        check("gan_nonsaturating_g", gan_fake, |t, _| Ok(non_saturating_generator_loss(&t[0])?)),
        check("lsgan_d", || gan_pair(&[], &[]), |t, _| Ok(least_squares_discriminator_loss(&t[0], &t[1])?)),
        check("lsgan_g", gan_fake, |t, _| Ok(least_squares_generator_loss(&t[0])?)),
        check("wgan_critic", || gan_pair(&[], &[]), |t, _| Ok(wasserstein_critic_loss(&t[0], &t[1])?)),
        check("wgan_g", gan_fake, |t, _| Ok(wasserstein_generator_loss(&t[0])?)),
        check("hinge_d", || gan_pair(&[1.0], &[-1.0]), |t, _| Ok(hinge_discriminator_loss(&t[0], &t[1])?)),
        check("hinge_g", gan_fake, |t, _| Ok(hinge_generator_loss(&t[0])?)),
        check(
            "cross_entropy",
            || cross_entropy_case(3.0),
            |t, c| Ok(cross_entropy(&t[0], &c.ints[1..], reduction(c))?),
        ),
        OpCheck {
            name: "cross_entropy_extreme",
            cases: || cross_entropy_case(100.0),
            apply: |t, c| Ok(cross_entropy(&t[0], &c.ints[1..], reduction(c))?),
            tolerance: EXTREME_STEP,
        },
    ]
}
