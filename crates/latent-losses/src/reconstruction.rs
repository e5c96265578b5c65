//! Reconstruction losses: how far a decoder's output is from its target.
//!
//! - [`mse_loss`]: squared error, for real-valued data.
//! - [`binary_cross_entropy`]: Bernoulli likelihood on probabilities, with PyTorch's log clamp.
//! - [`binary_cross_entropy_with_logits`]: the same on logits, stable for any logit; prefer it.
//! - [`gaussian_nll_loss`]: Gaussian likelihood with a predicted variance.
//!
//! Each computes an element-wise loss tensor of the input's shape and applies a [`Reduction`]
//! to it, with `torch.nn.functional`'s semantics and default `Mean`. Input and target must have
//! the same shape (PyTorch's MSE merely warns when they broadcast; here it is an error).

use latent_tensor::Tensor;

use crate::custom_grad::clamp_value_only;
use crate::error::{LossError, Result, same_shape, values_within};
use crate::reduction::Reduction;
use latent_tensor::LocalGrad;
use latent_tensor::{elementwise, vmath};

/// PyTorch's floor for the logs of [`binary_cross_entropy`]: `log(0) = -∞` becomes `-100`.
pub const BCE_LOG_FLOOR: f32 = -100.0;

/// The floor of `p (1 - p)` in the gradient of [`binary_cross_entropy`] (PyTorch's `EPSILON`).
pub const BCE_GRAD_EPSILON: f32 = 1e-12;

/// Mean squared error: `ℓ = (input - target)²` element-wise, then `reduction`
/// (`torch.nn.functional.mse_loss`).
///
/// # Errors
/// If the shapes differ, or the reduction fails (see [`Reduction::apply`]).
pub fn mse_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    const LOSS: &str = "mse_loss";
    same_shape(LOSS, ("input", input.shape()), ("target", target.shape()))?;
    reduction.apply(LOSS, &input.sub(target)?.square())
}

/// Binary cross-entropy on probabilities `p` with targets `y` in `[0, 1]`
/// (`torch.nn.functional.binary_cross_entropy`):
///
/// `ℓ = -(y · max(ln p, -100) + (1 - y) · max(ln(1 - p), -100))`, then `reduction`.
///
/// The clamp makes `p = 0` and `p = 1` give a finite loss (at most 100 per element), exactly as
/// PyTorch. The gradient is PyTorch's own backward formula, `∂ℓ/∂p = (p - y) / max(p (1 - p),
/// 1e-12)`, which is finite at `p = 0` and `p = 1` (±1e12 when the target disagrees, 0 when it
/// agrees). The gradient with respect to `y` is the derivative of the clamped value,
/// `max(ln(1 - p), -100) - max(ln p, -100)`; it is PyTorch's `-logit(p) = -ln(p / (1 - p))`
/// wherever neither log is clamped (every normal `f32` in `(0, 1)`), and stays at ±100 at the
/// ends, where PyTorch's is infinite. On logits, use [`binary_cross_entropy_with_logits`], which needs no clamp.
///
/// # Errors
/// If the shapes differ, if any probability is outside `[0, 1]` or NaN (PyTorch refuses these
/// too), or the reduction fails.
pub fn binary_cross_entropy(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    const LOSS: &str = "binary_cross_entropy";
    same_shape(LOSS, ("input", input.shape()), ("target", target.shape()))?;
    values_within(LOSS, "input", input, 0.0, 1.0)?;
    let (p, y) = (input.view(), target.view());
    let clamped_logs = |p: f32| (p.ln().max(BCE_LOG_FLOOR), (-p).ln_1p().max(BCE_LOG_FLOOR));
    // PyTorch's own expression (Loss.cpp), so the values agree to the last bit where possible.
    let value = ndarray::Zip::from(&p).and(&y).map_collect(|&p, &y| {
        let (log_p, log_1mp) = clamped_logs(p);
        (y - 1.0) * log_1mp - y * log_p
    });
    let d_input = || {
        LocalGrad::Values(
            ndarray::Zip::from(&p).and(&y).map_collect(|&p, &y| (p - y) / ((1.0 - p) * p).max(BCE_GRAD_EPSILON)),
        )
    };
    let d_target = || {
        LocalGrad::Values(p.mapv(|p| {
            let (log_p, log_1mp) = clamped_logs(p);
            if log_p > BCE_LOG_FLOOR && log_1mp > BCE_LOG_FLOOR {
                // PyTorch's -logit(p): one log of a ratio, without the cancellation of two logs.
                -(p / (1.0 - p)).ln()
            } else {
                log_1mp - log_p
            }
        }))
    };
    let loss = Tensor::fused_elementwise(value, &[(input, &d_input), (target, &d_target)])?;
    reduction.apply(LOSS, &loss)
}

/// Binary cross-entropy on logits `x` with targets `y` (`torch.nn.functional.
/// binary_cross_entropy_with_logits`): the BCE of `σ(x)`, computed without forming `σ(x)`:
///
/// `ℓ = (1 - y) · x + softplus(-x)`, then `reduction`,
///
/// which equals `max(x, 0) - x·y + ln(1 + e^-|x|)` and is PyTorch's own expression
/// (`(1 - y)·x - log_sigmoid(x)`). `softplus` is evaluated stably, so `ℓ` and its gradients
/// `∂ℓ/∂x = σ(x) - y` and `∂ℓ/∂y = -x` are finite for any finite logit (|x| = 100 included).
///
/// # Errors
/// If the shapes differ, or the reduction fails.
pub fn binary_cross_entropy_with_logits(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    const LOSS: &str = "binary_cross_entropy_with_logits";
    same_shape(LOSS, ("input", input.shape()), ("target", target.shape()))?;
    reduction.apply(LOSS, &bce_logits_elementwise(input, target)?)
}

/// `(1 - y)·x + softplus(-x)` element-wise, shapes already checked (or broadcasting on purpose).
///
/// Same shapes (the usual case) make one fused op: the value in one vectorised pass, and
/// `σ(x) - y` (resp. `-x`) computed only if the logits (resp. targets) need a gradient, instead
/// of five ops each allocating and keeping an array for the backward pass.
pub(crate) fn bce_logits_elementwise(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    if x.shape() != y.shape() {
        return Ok(y.rsub_scalar(1.0).mul(x)?.add(&x.neg().softplus())?);
    }
    // `inline(always)` so the vectorised loop inlines the softplus (see `elementwise`).
    let (xv, yv) = (x.view(), y.view());
    let loss = elementwise::map2(
        &xv,
        &yv,
        #[inline(always)]
        |x, y| (1.0 - y) * x + vmath::softplus(-x),
    );
    let d_logits = || {
        LocalGrad::Values(elementwise::map2(
            &xv,
            &yv,
            #[inline(always)]
            |x, y| vmath::sigmoid(x) - y,
        ))
    };
    let d_target = || LocalGrad::Values(elementwise::map1(&xv, |x| -x));
    Ok(Tensor::fused_elementwise(loss, &[(x, &d_logits), (y, &d_target)])?)
}

/// The options of [`gaussian_nll_loss`], with PyTorch's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussianNllOptions {
    /// Add the constant `½ ln 2π` to every element, so the loss is the full negative
    /// log-likelihood (default `false`).
    pub full: bool,
    /// The variance is clamped below at `eps` (default `1e-6`); must be positive.
    pub eps: f32,
}

impl Default for GaussianNllOptions {
    fn default() -> Self {
        GaussianNllOptions { full: false, eps: 1e-6 }
    }
}

/// Gaussian negative log-likelihood of `target` under `N(input, var)`
/// (`torch.nn.functional.gaussian_nll_loss`):
///
/// `ℓ = ½ (ln max(var, eps) + (input - target)² / max(var, eps))` (`+ ½ ln 2π` if `full`),
/// then `reduction` over `ℓ`, which has the input's shape.
///
/// As in PyTorch, the clamp at `eps` changes the value only: the gradient with respect to `var`
/// is the derivative at the clamped value and flows even where the clamp is active.
///
/// `var` may have the input's shape (one variance per element), or be homoscedastic along one
/// axis as PyTorch allows: the input's shape without its last axis (`[N, D] → [N]`), or the
/// input's shape with exactly one axis of size 1 (`[N, D] → [N, 1]`). A 0-dimensional `var`
/// is one variance for every element (PyTorch's `float` variance).
///
/// # Errors
/// If input and target shapes differ, `var`'s shape is none of the above, any variance is
/// negative or NaN, `eps` is not positive and finite, or the reduction fails.
pub fn gaussian_nll_loss(
    input: &Tensor,
    target: &Tensor,
    var: &Tensor,
    options: GaussianNllOptions,
    reduction: Reduction,
) -> Result<Tensor> {
    const LOSS: &str = "gaussian_nll_loss";
    same_shape(LOSS, ("input", input.shape()), ("target", target.shape()))?;
    if !(options.eps > 0.0 && options.eps.is_finite()) {
        return Err(LossError::InvalidParameter {
            loss: LOSS,
            message: format!("eps must be positive and finite, found {}", options.eps),
        });
    }
    let var = homoscedastic_var(LOSS, input.shape(), var)?;
    values_within(LOSS, "var", &var, 0.0, f32::INFINITY)?;
    let var = clamp_value_only(&var, options.eps, f32::INFINITY)?;
    let sq = input.sub(target)?.square();
    let mut loss = var.log().add(&sq.div(&var)?)?.mul_scalar(0.5);
    if options.full {
        loss = loss.add_scalar(0.5 * (2.0 * std::f32::consts::PI).ln());
    }
    reduction.apply(LOSS, &loss)
}

/// `var` reshaped to broadcast against `input_shape` under PyTorch's rules (see
/// [`gaussian_nll_loss`]).
fn homoscedastic_var(loss: &'static str, input_shape: &[usize], var: &Tensor) -> Result<Tensor> {
    let vs = var.shape();
    if vs == input_shape || vs.is_empty() {
        return Ok(var.clone());
    }
    if input_shape.split_last().is_some_and(|(_, lead)| lead == vs) {
        return Ok(var.unsqueeze(vs.len())?);
    }
    let differing: Vec<usize> = (0..vs.len()).filter(|&i| input_shape.get(i) != Some(&vs[i])).collect();
    if vs.len() == input_shape.len() && differing.len() == 1 && vs[differing[0]] == 1 {
        return Ok(var.clone());
    }
    Err(LossError::ShapeMismatch {
        loss,
        left_name: "input",
        left: input_shape.to_vec(),
        right_name: "var",
        right: vs.to_vec(),
        why: "do not fit: var must have the input's shape, drop its last axis, have one axis of size 1, or be 0-dimensional",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, arr2};

    fn t1(v: &[f32]) -> Tensor {
        Tensor::new(arr1(v))
    }

    #[test]
    fn mse_by_hand() {
        let l = mse_loss(&t1(&[1.0, 2.0, 4.0]), &t1(&[0.0, 2.0, 1.0]), Reduction::Mean).unwrap();
        assert!((l.item().unwrap() - 10.0 / 3.0).abs() < 1e-6);
        let e = mse_loss(&t1(&[1.0]), &t1(&[1.0, 2.0]), Reduction::Sum).unwrap_err();
        assert!(matches!(e, LossError::ShapeMismatch { loss: "mse_loss", .. }), "{e}");
    }

    #[test]
    fn bce_on_probabilities_is_clamped_at_the_ends_like_pytorch() {
        // p = 0 and p = 1 against agreeing and disagreeing targets: 0 or 100, as PyTorch.
        let p = Tensor::parameter(arr1(&[0.0f32, 0.0, 1.0, 1.0, 0.5]));
        let y = t1(&[0.0, 1.0, 0.0, 1.0, 0.2]);
        let l = binary_cross_entropy(&p, &y, Reduction::None).unwrap();
        let v = l.to_vec();
        assert_eq!(&v[..4], &[0.0, 100.0, 100.0, 0.0]);
        assert!((v[4] - std::f32::consts::LN_2).abs() < 1e-6);
        let g = l.sum_all().backward().unwrap();
        let g = g.get_array(&p).unwrap();
        assert_eq!(g.as_slice().unwrap()[..4], [0.0, -1e12, 1e12, 0.0]);
        assert!((g[[4]] - 1.2).abs() < 1e-6, "{g}");
    }

    #[test]
    fn bce_on_probabilities_rejects_values_outside_the_unit_interval() {
        let e = binary_cross_entropy(&t1(&[0.5, 1.5]), &t1(&[0.0, 1.0]), Reduction::Mean).unwrap_err();
        assert!(matches!(e, LossError::InvalidInput { .. }), "{e}");
        assert!(binary_cross_entropy(&t1(&[f32::NAN]), &t1(&[0.0]), Reduction::Mean).is_err());
    }

    #[test]
    fn bce_with_logits_is_finite_and_right_at_extreme_logits() {
        let x = Tensor::parameter(arr1(&[100.0f32, -100.0, 100.0, -100.0, 0.0]));
        let y = Tensor::parameter(arr1(&[1.0f32, 1.0, 0.0, 0.0, 1.0]));
        let l = binary_cross_entropy_with_logits(&x, &y, Reduction::None).unwrap();
        let v = l.to_vec();
        assert!(v.iter().all(|v| v.is_finite()), "{v:?}");
        // ln(1 + e^-100) ≈ 3.7e-44 where target and logit agree, 100 where they disagree.
        assert!(v[0] > 0.0 && v[0] < 1e-40 && v[3] == 0.0, "{v:?}");
        assert_eq!(&v[1..3], &[100.0, 100.0]);
        assert!((v[4] - std::f32::consts::LN_2).abs() < 1e-7);
        let g = l.sum_all().backward().unwrap();
        let gx = g.get_array(&x).unwrap();
        for (a, b) in gx.iter().zip([0.0, -1.0, 1.0, 0.0, -0.5]) {
            assert!((a - b).abs() < 1e-30, "{gx}");
        }
        assert_eq!(g.get_array(&y).unwrap().as_slice().unwrap(), &[-100.0, 100.0, -100.0, 100.0, -0.0]);
    }

    #[test]
    fn bce_on_logits_agrees_with_bce_on_their_sigmoid() {
        let x = t1(&[-3.0, -0.5, 0.0, 0.7, 2.5]);
        let y = t1(&[0.0, 1.0, 0.3, 1.0, 0.9]);
        let a = binary_cross_entropy_with_logits(&x, &y, Reduction::None).unwrap().to_vec();
        let b = binary_cross_entropy(&x.sigmoid(), &y, Reduction::None).unwrap().to_vec();
        for (a, b) in a.iter().zip(&b) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn gaussian_nll_clamps_var_in_value_only() {
        let mu = t1(&[0.0, 1.0]);
        let target = t1(&[1.0, 1.0]);
        let var = Tensor::parameter(arr1(&[0.0f32, 4.0]));
        let opts = GaussianNllOptions { full: false, eps: 0.5 };
        let l = gaussian_nll_loss(&mu, &target, &var, opts, Reduction::None).unwrap();
        let v = l.to_vec();
        assert!((v[0] - 0.5 * (0.5f32.ln() + 2.0)).abs() < 1e-6);
        assert!((v[1] - 0.5 * 4.0f32.ln()).abs() < 1e-6);
        // d/dvar at the clamped value 0.5: ½ (1/0.5 - 1/0.25) = -1, passed through the clamp.
        let g = l.sum_all().backward().unwrap();
        assert!((g.get_array(&var).unwrap()[[0]] + 1.0).abs() < 1e-6);
        let full = gaussian_nll_loss(&mu, &target, &var, GaussianNllOptions { full: true, eps: 0.5 }, Reduction::None);
        assert!((full.unwrap().to_vec()[1] - v[1] - 0.918_938_5).abs() < 1e-6);
    }

    #[test]
    fn gaussian_nll_accepts_pytorchs_homoscedastic_shapes_only() {
        let x = Tensor::new(arr2(&[[0.0f32, 1.0, 2.0], [1.0, 1.0, 1.0]]));
        let opts = GaussianNllOptions::default();
        for var in [
            Tensor::ones(&[2, 3]),
            Tensor::ones(&[2]),
            Tensor::ones(&[2, 1]),
            Tensor::ones(&[1, 3]),
            Tensor::scalar(1.0),
        ] {
            let l = gaussian_nll_loss(&x, &Tensor::zeros(x.shape()), &var, opts, Reduction::None).unwrap();
            assert_eq!(l.shape(), &[2, 3]);
        }
        for var in [Tensor::ones(&[3]), Tensor::ones(&[1, 1]), Tensor::ones(&[2, 3, 1])] {
            let e = gaussian_nll_loss(&x, &x, &var, opts, Reduction::Mean).unwrap_err();
            assert!(matches!(e, LossError::ShapeMismatch { right_name: "var", .. }), "{e}");
        }
        let e = gaussian_nll_loss(&x, &x, &Tensor::full(&[2], -1.0), opts, Reduction::Mean).unwrap_err();
        assert!(matches!(e, LossError::InvalidInput { .. }), "{e}");
        let bad_eps = GaussianNllOptions { full: false, eps: 0.0 };
        assert!(matches!(
            gaussian_nll_loss(&x, &x, &Tensor::ones(&[2]), bad_eps, Reduction::Mean),
            Err(LossError::InvalidParameter { .. })
        ));
    }
}
