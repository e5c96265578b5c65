//! The contractive autoencoder's penalty (Rifai et al., 2011): the squared Frobenius norm of the
//! encoder's Jacobian `‖∂h/∂x‖²_F`, which is small when the code is insensitive to small moves
//! of the input.
//!
//! For a sigmoid layer `h = σ(x Wᵀ + b)` (`W` as `[H, D]`, PyTorch's `nn.Linear` layout) the
//! Jacobian is `diag(h ⊙ (1 - h)) W`, so its squared norm has the closed form
//! `Σⱼ (hⱼ (1 - hⱼ))² ‖Wⱼ‖²` (`Wⱼ` the `j`-th row), costing `O(H·D + N·H)` for a batch instead
//! of the `O(N·H·D)` of forming every example's Jacobian. It is written with ordinary ops, so it
//! is differentiable with respect to `h` (hence `x` and `b`) and `W`.

use latent_tensor::Tensor;

use crate::error::{LossError, Result};
use crate::reduction::Reduction;

/// The squared Frobenius norm of the Jacobian of a sigmoid encoder layer, per example:
///
/// `ℓₙ = Σⱼ (hₙⱼ (1 - hₙⱼ))² ‖Wⱼ‖²`, with `‖Wⱼ‖² = Σₖ Wⱼₖ²`,
///
/// where `h = σ(x Wᵀ + b)` is the layer's output (`[N, H]`) and `w` its weight (`[H, D]`). Pass
/// `h` as computed from `w` (not detached), so the penalty's gradient reaches `x`, `b` and `W`
/// through `h` as well as `W` directly. The loss tensor has shape `[N]`; `Reduction::None`
/// returns it, `Mean` (= `BatchMean`) averages over the batch, `Sum` totals it.
///
/// The closed form holds for a sigmoid layer only (`σ' = σ (1 - σ)`); for another element-wise
/// activation `f`, replace `h (1 - h)` with `f'(a)`.
///
/// # Errors
/// If `h` is not `[N, H]`, `w` is not `[H, D]` with the same `H`, or the reduction fails.
pub fn contractive_sigmoid(h: &Tensor, w: &Tensor, reduction: Reduction) -> Result<Tensor> {
    const LOSS: &str = "contractive_sigmoid";
    if h.ndim() != 2 || w.ndim() != 2 || h.shape()[1] != w.shape()[0] {
        return Err(LossError::ShapeMismatch {
            loss: LOSS,
            left_name: "h",
            left: h.shape().to_vec(),
            right_name: "w",
            right: w.shape().to_vec(),
            why: "must be [N, H] (the layer's output) and [H, D] (its weight)",
        });
    }
    let row_norms = w.square().sum_axes(&[1], false)?; // [H]
    let slope = h.mul(&h.rsub_scalar(1.0))?; // σ'(a) = h (1 - h), [N, H]
    let per_example = slope.square().mul(&row_norms)?.sum_axes(&[1], false)?; // [N]
    reduction.apply(LOSS, &per_example)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, arr1, arr2};

    /// The encoder `h = σ(x Wᵀ + b)` of one example, in `f64`.
    fn encode(x: &[f64], w: &Array2<f64>, b: &[f64]) -> Vec<f64> {
        (0..w.nrows())
            .map(|j| {
                let a: f64 = b[j] + (0..x.len()).map(|k| w[[j, k]] * x[k]).sum::<f64>();
                1.0 / (1.0 + (-a).exp())
            })
            .collect()
    }

    /// `‖∂h/∂x‖²_F` by central differences of the `f64` encoder.
    fn finite_difference_jacobian_norm(x: &[f64], w: &Array2<f64>, b: &[f64]) -> f64 {
        let step = 1e-6;
        let mut total = 0.0;
        for k in 0..x.len() {
            let (mut up, mut down) = (x.to_vec(), x.to_vec());
            up[k] += step;
            down[k] -= step;
            let (hu, hd) = (encode(&up, w, b), encode(&down, w, b));
            total += hu.iter().zip(&hd).map(|(u, d)| ((u - d) / (2.0 * step)).powi(2)).sum::<f64>();
        }
        total
    }

    #[test]
    fn closed_form_matches_a_finite_difference_jacobian() {
        let mut rng = latent_tensor::TensorRng::seed_from_u64(5);
        let (n, d, hdim) = (4, 6, 5);
        let x = rng.normal_array(&[n, d], 0.0, 1.0).unwrap();
        let w = rng.normal_array(&[hdim, d], 0.0, 0.7).unwrap();
        let b = rng.normal_array(&[hdim], 0.0, 0.5).unwrap();
        let (xt, wt, bt) = (Tensor::new(x.clone()), Tensor::new(w.clone()), Tensor::new(b.clone()));
        let h = xt.linear(&wt, Some(&bt)).unwrap().sigmoid();
        let closed = contractive_sigmoid(&h, &wt, Reduction::None).unwrap().to_vec();
        let w64 = w.into_dimensionality::<ndarray::Ix2>().unwrap().mapv(f64::from);
        let b64: Vec<f64> = b.iter().map(|&v| f64::from(v)).collect();
        for (i, &c) in closed.iter().enumerate() {
            let xi: Vec<f64> = (0..d).map(|k| f64::from(x[[i, k]])).collect();
            let fd = finite_difference_jacobian_norm(&xi, &w64, &b64);
            assert!(
                (f64::from(c) - fd).abs() <= 1e-5 * fd.max(1e-3),
                "example {i}: closed {c}, finite differences {fd}"
            );
        }
        let mean = contractive_sigmoid(&h, &wt, Reduction::Mean).unwrap().item().unwrap();
        assert!((mean - closed.iter().sum::<f32>() / n as f32).abs() < 1e-6);
    }

    #[test]
    fn one_unit_by_hand() {
        // h = 0.5 → (h(1-h))² = 1/16; ‖W₀‖² = 9 + 16 = 25.
        let h = Tensor::new(arr2(&[[0.5f32]]));
        let w = Tensor::new(arr2(&[[3.0f32, 4.0]]));
        assert_eq!(contractive_sigmoid(&h, &w, Reduction::Sum).unwrap().item().unwrap(), 25.0 / 16.0);
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let h = Tensor::zeros(&[2, 3]);
        let e = contractive_sigmoid(&h, &Tensor::zeros(&[4, 5]), Reduction::Mean).unwrap_err();
        assert!(e.to_string().contains("[2, 3]") && e.to_string().contains("[4, 5]"), "{e}");
        assert!(contractive_sigmoid(&Tensor::new(arr1(&[0.5f32])), &Tensor::zeros(&[1, 5]), Reduction::Mean).is_err());
    }
}
