//! Every loss against PyTorch: values and gradients on the committed fixtures of
//! `tests/fixtures/pytorch_losses.json` (made once by `tests/fixtures/make_fixtures.py`; no
//! Python is needed here).
//!
//! # Tolerance
//! Both sides compute in `f32`. An element agrees when `|ours - torch| ≤ 1e-5 · max(|torch|,
//! 0.01)`: relative `1e-5`, with an absolute floor of `1e-7` for values below 0.01 in magnitude
//! (sums whose terms cancel, such as a KL near zero or the BCE of a confident correct logit,
//! `ln(1 + e^-100) ≈ 4e-44`, which both sides round differently at the last bit of the terms).

use std::collections::{BTreeMap, BTreeSet};

use latent_losses::{
    GaussianNllOptions, LossError, Reduction, binary_cross_entropy, binary_cross_entropy_with_logits,
    contractive_sigmoid, cross_entropy, gaussian_kl_standard_normal, gaussian_nll_loss, hinge_discriminator_loss,
    hinge_generator_loss, kl_sparsity, l1_activity, least_squares_discriminator_loss, least_squares_generator_loss,
    minimax_discriminator_loss, minimax_generator_loss, mse_loss, non_saturating_generator_loss,
    reparameterize_with_noise, wasserstein_critic_loss, wasserstein_generator_loss,
};
use latent_tensor::Tensor;
use ndarray::{ArrayD, IxDyn};
use serde::Deserialize;

const RTOL: f64 = 1e-5;
const FLOOR: f64 = 0.01;

#[derive(Deserialize)]
struct Fixtures {
    torch_version: String,
    dtype: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    loss: String,
    reduction: Option<String>,
    params: Params,
    inputs: BTreeMap<String, Array>,
    output: Array,
    grad_output: Array,
    grads: BTreeMap<String, Array>,
}

#[derive(Deserialize, Default)]
struct Params {
    full: Option<bool>,
    eps: Option<f32>,
    rho: Option<f32>,
    labels: Option<Vec<usize>>,
}

#[derive(Deserialize)]
struct Array {
    shape: Vec<usize>,
    data: Vec<f64>,
}

impl Array {
    fn to_ndarray(&self) -> ArrayD<f32> {
        let data = self.data.iter().map(|&v| v as f32).collect();
        ArrayD::from_shape_vec(IxDyn(&self.shape), data).expect("fixture shape matches its data")
    }
}

fn load() -> Fixtures {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pytorch_losses.json");
    let text = std::fs::read_to_string(path).expect("fixture file is committed");
    serde_json::from_str(&text).expect("fixture file parses")
}

/// Our loss for a case, with its inputs as tensors (leaves for the ones with recorded gradients).
fn compute(case: &Case, t: &BTreeMap<String, Tensor>) -> Result<Tensor, LossError> {
    let reduction = case.reduction.as_deref().map_or(Ok(Reduction::Mean), str::parse)?;
    let p = &case.params;
    match case.loss.as_str() {
        "mse_loss" => mse_loss(&t["input"], &t["target"], reduction),
        "binary_cross_entropy" => binary_cross_entropy(&t["input"], &t["target"], reduction),
        "binary_cross_entropy_with_logits" => binary_cross_entropy_with_logits(&t["input"], &t["target"], reduction),
        "gaussian_nll_loss" => {
            let options = GaussianNllOptions { full: p.full.expect("full"), eps: p.eps.expect("eps") };
            gaussian_nll_loss(&t["input"], &t["target"], &t["var"], options, reduction)
        }
        "gaussian_kl_standard_normal" => gaussian_kl_standard_normal(&t["mu"], &t["logvar"], reduction),
        "reparameterize_with_noise" => reparameterize_with_noise(&t["mu"], &t["logvar"], &t["eps"]),
        "l1_activity" => l1_activity(&t["h"], reduction),
        "kl_sparsity" => kl_sparsity(&t["h"], p.rho.expect("rho")),
        "contractive_sigmoid" => {
            let h = t["x"].linear(&t["w"], Some(&t["b"]))?.sigmoid();
            contractive_sigmoid(&h, &t["w"], reduction)
        }
        "minimax_discriminator_loss" => minimax_discriminator_loss(&t["real_logits"], &t["fake_logits"]),
        "least_squares_discriminator_loss" => least_squares_discriminator_loss(&t["real_logits"], &t["fake_logits"]),
        "wasserstein_critic_loss" => wasserstein_critic_loss(&t["real_logits"], &t["fake_logits"]),
        "hinge_discriminator_loss" => hinge_discriminator_loss(&t["real_logits"], &t["fake_logits"]),
        "minimax_generator_loss" => minimax_generator_loss(&t["fake_logits"]),
        "non_saturating_generator_loss" => non_saturating_generator_loss(&t["fake_logits"]),
        "least_squares_generator_loss" => least_squares_generator_loss(&t["fake_logits"]),
        "wasserstein_generator_loss" => wasserstein_generator_loss(&t["fake_logits"]),
        "hinge_generator_loss" => hinge_generator_loss(&t["fake_logits"]),
        "cross_entropy" => cross_entropy(&t["logits"], p.labels.as_deref().expect("labels"), reduction),
        other => panic!("fixture case {} names an unknown loss {other}", case.name),
    }
}

/// The worst `|ours - torch| / max(|torch|, FLOOR)` over two arrays of the same shape.
fn worst_error(what: &str, ours: &ArrayD<f32>, torch: &Array) -> f64 {
    assert_eq!(ours.shape(), torch.shape.as_slice(), "{what}: shape");
    ours.iter()
        .zip(&torch.data)
        .map(|(&a, &e)| {
            let a = f64::from(a);
            assert!(a.is_finite(), "{what}: ours is {a}, torch {e}");
            (a - e).abs() / e.abs().max(FLOOR)
        })
        .fold(0.0, f64::max)
}

/// `(value error, gradient error)` of one case.
fn check_case(case: &Case) -> (f64, f64) {
    let tensors: BTreeMap<String, Tensor> = case
        .inputs
        .iter()
        .map(|(k, a)| {
            let t = if case.grads.contains_key(k) {
                Tensor::parameter(a.to_ndarray())
            } else {
                Tensor::new(a.to_ndarray())
            };
            (k.clone(), t)
        })
        .collect();
    let out = compute(case, &tensors).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let value_error = worst_error(&format!("{} value", case.name), &out.to_array(), &case.output);
    let grads = out.backward_with(case.grad_output.to_ndarray()).unwrap();
    let grad_error = case
        .grads
        .iter()
        .map(|(k, expected)| {
            let ours = grads.get_array(&tensors[k]).unwrap_or_else(|| panic!("{}: no gradient for {k}", case.name));
            worst_error(&format!("{} gradient of {k}", case.name), ours, expected)
        })
        .fold(0.0, f64::max);
    (value_error, grad_error)
}

#[test]
fn every_loss_matches_pytorch_in_value_and_gradient() {
    let fixtures = load();
    assert_eq!(fixtures.dtype, "float32");
    let mut worst_by_loss: BTreeMap<&str, (f64, f64, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in &fixtures.cases {
        let (v, g) = check_case(case);
        if v > RTOL || g > RTOL {
            failures.push(format!("{}: value error {v:.2e}, gradient error {g:.2e}", case.name));
        }
        let entry = worst_by_loss.entry(case.loss.as_str()).or_default();
        *entry = (entry.0.max(v), entry.1.max(g), entry.2 + 1);
    }
    println!(
        "against torch {} ({} cases); error = |ours - torch| / max(|torch|, {FLOOR})",
        fixtures.torch_version,
        fixtures.cases.len()
    );
    println!("{:<34} {:>5} {:>12} {:>12}", "loss", "cases", "value", "gradient");
    for (loss, (v, g, n)) in &worst_by_loss {
        println!("{loss:<34} {n:>5} {v:>12.2e} {g:>12.2e}");
    }
    assert!(failures.is_empty(), "disagreements with PyTorch beyond {RTOL:e}:\n{}", failures.join("\n"));
}

#[test]
fn the_fixtures_cover_every_loss_and_reduction() {
    let fixtures = load();
    let losses: BTreeSet<&str> = fixtures.cases.iter().map(|c| c.loss.as_str()).collect();
    let expected: BTreeSet<&str> = [
        "mse_loss",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        "gaussian_nll_loss",
        "gaussian_kl_standard_normal",
        "reparameterize_with_noise",
        "l1_activity",
        "kl_sparsity",
        "contractive_sigmoid",
        "minimax_discriminator_loss",
        "least_squares_discriminator_loss",
        "wasserstein_critic_loss",
        "hinge_discriminator_loss",
        "minimax_generator_loss",
        "non_saturating_generator_loss",
        "least_squares_generator_loss",
        "wasserstein_generator_loss",
        "hinge_generator_loss",
        "cross_entropy",
    ]
    .into_iter()
    .collect();
    assert_eq!(losses, expected);
    // Every loss that takes a reduction is compared under all four.
    for loss in ["mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "gaussian_nll_loss"]
        .into_iter()
        .chain(["gaussian_kl_standard_normal", "l1_activity", "contractive_sigmoid", "cross_entropy"])
    {
        let seen: BTreeSet<&str> =
            fixtures.cases.iter().filter(|c| c.loss == loss).filter_map(|c| c.reduction.as_deref()).collect();
        assert_eq!(seen, ["batchmean", "mean", "none", "sum"].into_iter().collect(), "{loss}");
    }
}

#[test]
fn extreme_inputs_are_in_the_fixtures() {
    let fixtures = load();
    let has = |loss: &str, input: &str, pred: &dyn Fn(f64) -> bool| {
        fixtures.cases.iter().any(|c| c.loss == loss && c.inputs[input].data.iter().any(|&v| pred(v)))
    };
    assert!(has("binary_cross_entropy", "input", &|v| v == 0.0));
    assert!(has("binary_cross_entropy", "input", &|v| v == 1.0));
    assert!(has("binary_cross_entropy_with_logits", "input", &|v| v.abs() == 100.0));
    assert!(has("cross_entropy", "logits", &|v| v.abs() == 100.0));
    assert!(has("minimax_discriminator_loss", "real_logits", &|v| v.abs() == 100.0));
}
