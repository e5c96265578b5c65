//! Gradient checking: the analytic gradient of any function of tensors against central finite
//! differences, and a registry of checks that proptest walks over random shapes and values.
//!
//! # Method and tolerances
//! The engine is `f32` only, so the check is written for `f32` noise rather than run in `f64`.
//! A function with a non-scalar output is reduced to the scalar `L = Σ rᵢ yᵢ` with fixed random
//! weights `r` (so every output element matters and no two cancel by symmetry); `L` is summed in
//! `f64`. Each input element `x` is moved by `±h` (default `h = 1e-2`, absolute) and
//! `(L(x+h) - L(x-h)) / 2h` is compared with the analytic value `a` from
//! [`Tensor::backward_with`]. With `n` the numeric value, the reported error is
//! `|a - n| / max(|a|, |n|, floor)`; a check passes when every error is at most `rtol`
//! (default `1e-2`, with `floor = 0.1`, so a gradient below 0.1 may be off by 1e-3 absolute).
//! For `f32` this is tight enough to catch a wrong rule (a missing factor or sign is off by
//! 50% or more) yet loose enough for rounding in sums of a few hundred terms. Strategies keep
//! values at least `2h` away from kinks (relu and abs at 0, clamp's bounds, ties for max), so
//! finite differences never straddle one.
//!
//! # The registry
//! [`registry()`] lists one [`OpCheck`] per checked function of this crate (each op kind, plus
//! variants such as a transposed-operand matmul). [`run_check`] runs one through a proptest
//! runner with a fixed seed, and records which [`OpKind`]s its graphs exercised; a test asserts
//! that every kind in [`OpKind::ALL`] is exercised by some check. Crates above this one (layers,
//! losses) publish their own `Vec<OpCheck>`, and `cargo xtask gradcheck` runs them all.
//!
//! # Tests
//! Each crate's `tests/gradcheck.rs` turns every entry of its registry into a `#[test]` of the
//! same name with [`gradcheck_tests!`](crate::gradcheck_tests) (so `cargo test matmul` runs
//! the matmul checks), and that macro adds a test failing if the registry has an entry without
//! a test. This module exists only with the crate's `gradcheck` feature: proptest is a test
//! dependency, never part of a user's build.

mod registry;
pub mod strategies;

use std::cell::RefCell;
use std::collections::BTreeSet;

use ndarray::ArrayD;
use proptest::strategy::BoxedStrategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

pub use registry::registry;

use crate::backprop::graph_op_kinds;
use crate::error::Result;
use crate::op::OpKind;
use crate::random::TensorRng;
use crate::tensor::{Tensor, no_grad};

/// How strict a check is; see the module docs for the meaning of each field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// The finite-difference step `h`.
    pub step: f32,
    /// The largest accepted relative error.
    pub rtol: f64,
    /// The magnitude below which errors are measured absolutely (relative to `floor`).
    pub floor: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance { step: 1e-2, rtol: 1e-2, floor: 0.1 }
    }
}

/// The outcome of checking one function at one point.
#[derive(Clone, Debug, PartialEq)]
pub struct PointCheck {
    /// The largest error over all input elements (see the module docs).
    pub worst_error: f64,
    /// Where it was: (input index, flat element index, analytic, numeric).
    pub worst_at: Option<(usize, usize, f64, f64)>,
    /// The op kinds the function's graph used.
    pub kinds: BTreeSet<OpKind>,
}

/// Check the gradient of `f` at `inputs` by central finite differences.
///
/// # Errors
/// If `f` fails (for example, on a shape error).
pub fn check_point(
    f: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[ArrayD<f32>],
    tol: Tolerance,
) -> Result<PointCheck> {
    let leaves: Vec<Tensor> = inputs.iter().map(|a| Tensor::parameter(a.clone())).collect();
    let y = f(&leaves)?;
    let weights = TensorRng::seed_from_u64(0x5eed).uniform_array(y.shape(), -1.0, 1.0).expect("valid range");
    let kinds = graph_op_kinds(&y);
    let grads = y.backward_with(weights.clone())?;
    let objective = |xs: &[ArrayD<f32>]| -> Result<f64> {
        let _guard = no_grad();
        let consts: Vec<Tensor> = xs.iter().map(|a| Tensor::new(a.clone())).collect();
        let y = f(&consts)?;
        Ok(y.view().iter().zip(weights.iter()).map(|(&y, &r)| f64::from(y) * f64::from(r)).sum())
    };
    let mut worst = PointCheck { worst_error: 0.0, worst_at: None, kinds };
    let mut xs: Vec<ArrayD<f32>> = inputs.to_vec();
    for (i, leaf) in leaves.iter().enumerate() {
        let zeros = ArrayD::zeros(leaf.shape());
        let analytic = grads.get_array(leaf).unwrap_or(&zeros).as_standard_layout().into_owned();
        for (j, &a) in analytic.iter().enumerate() {
            let orig = *xs[i].as_slice_mut().expect("standard layout").get(j).expect("in range");
            xs[i].as_slice_mut().expect("standard layout")[j] = orig + tol.step;
            let up = objective(&xs)?;
            xs[i].as_slice_mut().expect("standard layout")[j] = orig - tol.step;
            let down = objective(&xs)?;
            xs[i].as_slice_mut().expect("standard layout")[j] = orig;
            let numeric = (up - down) / (2.0 * f64::from(tol.step));
            let a = f64::from(a);
            let err = (a - numeric).abs() / a.abs().max(numeric.abs()).max(tol.floor);
            if err > worst.worst_error || err.is_nan() {
                worst.worst_error = if err.is_nan() { f64::INFINITY } else { err };
                worst.worst_at = Some((i, j, a, numeric));
            }
        }
    }
    Ok(worst)
}

/// One point at which to check a function: its tensor inputs and any integer or real arguments.
#[derive(Clone, Debug)]
pub struct Case {
    /// The differentiable inputs.
    pub inputs: Vec<ArrayD<f32>>,
    /// Integer arguments (axes, sizes, indices), as the check's function reads them.
    pub ints: Vec<usize>,
    /// Real arguments (exponents, slopes, bounds).
    pub floats: Vec<f32>,
}

impl Case {
    /// A case with only tensor inputs.
    pub fn of(inputs: Vec<ArrayD<f32>>) -> Self {
        Case { inputs, ints: Vec::new(), floats: Vec::new() }
    }
}

/// A registered gradient check: a named function and the random cases to check it at.
pub struct OpCheck {
    /// The name printed in the gradcheck table.
    pub name: &'static str,
    /// Random cases (shapes and values).
    pub cases: fn() -> BoxedStrategy<Case>,
    /// The function under test, applied to the case's tensors and arguments.
    pub apply: fn(&[Tensor], &Case) -> Result<Tensor>,
    /// How strict the check is.
    pub tolerance: Tolerance,
}

/// The result of running one [`OpCheck`] over many random cases.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// The check's name.
    pub name: &'static str,
    /// How many cases ran.
    pub cases: u32,
    /// The largest error seen in any case.
    pub worst_error: f64,
    /// The op kinds exercised by the check's graphs.
    pub kinds: BTreeSet<OpKind>,
    /// Why it failed (with the minimal failing case), if it did.
    pub failure: Option<String>,
}

impl CheckReport {
    /// Whether every case passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// Run `check` over `cases` random cases drawn from a runner seeded with `seed`.
pub fn run_check(check: &OpCheck, cases: u32, seed: u64) -> CheckReport {
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 256, ..Config::default() };
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    seed_bytes[8..16].copy_from_slice(&(check.name.len() as u64).to_le_bytes());
    for (i, b) in check.name.bytes().enumerate() {
        seed_bytes[16 + i % 16] ^= b;
    }
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    let worst = RefCell::new(0.0f64);
    let kinds = RefCell::new(BTreeSet::new());
    let ran = RefCell::new(0u32);
    let tol = check.tolerance;
    let result = runner.run(&(check.cases)(), |case| {
        let f = |ts: &[Tensor]| (check.apply)(ts, &case);
        let point =
            check_point(&f, &case.inputs, tol).map_err(|e| TestCaseError::fail(format!("the op failed: {e}")))?;
        *ran.borrow_mut() += 1;
        kinds.borrow_mut().extend(point.kinds.iter().copied());
        let mut w = worst.borrow_mut();
        *w = w.max(point.worst_error);
        if point.worst_error > tol.rtol {
            let (i, j, a, n) = point.worst_at.expect("an error was measured");
            return Err(TestCaseError::fail(format!(
                "input {i} element {j}: analytic {a:.6}, numeric {n:.6} (error {:.3e} > {:.0e})",
                point.worst_error, tol.rtol
            )));
        }
        Ok(())
    });
    let failure = match result {
        Ok(()) => None,
        Err(TestError::Fail(reason, case)) => {
            let shapes: Vec<_> = case.inputs.iter().map(|a| a.shape().to_vec()).collect();
            Some(format!("{reason}; minimal case: shapes {shapes:?}, ints {:?}, floats {:?}", case.ints, case.floats))
        }
        Err(TestError::Abort(reason)) => Some(format!("aborted: {reason}")),
    };
    CheckReport {
        name: check.name,
        cases: ran.into_inner().min(cases),
        worst_error: worst.into_inner(),
        kinds: kinds.into_inner(),
        failure,
    }
}

/// Run the check named `name` of `registry` over `cases` cases from `seed`, and panic with its
/// failure (the minimal failing case) if it fails. What the tests made by
/// [`gradcheck_tests!`](crate::gradcheck_tests) call.
///
/// # Panics
/// If the registry has no such check, the check fails, or fewer cases ran than asked for.
pub fn assert_check_passes(registry: &[OpCheck], name: &str, cases: u32, seed: u64) {
    let Some(check) = registry.iter().find(|c| c.name == name) else {
        let names: Vec<&str> = registry.iter().map(|c| c.name).collect();
        panic!("no gradient check named `{name}` in the registry; it has {names:?}");
    };
    let report = run_check(check, cases, seed);
    if let Some(failure) = &report.failure {
        panic!("gradient check `{name}` failed: {failure}");
    }
    assert_eq!(report.cases, cases, "gradient check `{name}` ran {} of {cases} cases", report.cases);
}

/// Panic unless `tested` names every check of `registry` exactly once, and nothing else.
///
/// # Panics
/// If a check has no test, a test names no check, or two checks share a name.
pub fn assert_every_check_tested(registry: &[OpCheck], tested: &[&str]) {
    let names: BTreeSet<&str> = registry.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), registry.len(), "two gradient checks share a name");
    let tested_set: BTreeSet<&str> = tested.iter().copied().collect();
    assert_eq!(tested_set.len(), tested.len(), "a gradient check is listed twice in gradcheck_tests!");
    let untested: Vec<&str> = names.difference(&tested_set).copied().collect();
    assert!(untested.is_empty(), "registry entries without a test (add them to gradcheck_tests!): {untested:?}");
    let unknown: Vec<&str> = tested_set.difference(&names).copied().collect();
    assert!(unknown.is_empty(), "tests naming no registry entry: {unknown:?}");
}

/// One `#[test]` per gradient check of a registry, named after the check, plus
/// `every_registry_entry_has_a_test`, which fails if the registry has an entry missing here.
///
/// ```ignore
/// latent_tensor::gradcheck_tests! {
///     registry: latent_tensor::gradcheck::registry, cases: 12, seed: 1;
///     add, sub, matmul_batched,
/// }
/// // Checks named `nn::Linear`, `nn::Conv2d`: tests `nn::Linear`, `nn::Conv2d` in a module `nn`.
/// latent_tensor::gradcheck_tests! {
///     registry: latent_nn::gradcheck_registry, cases: 8, seed: 1;
///     mod nn { Linear, Conv2d }
/// }
/// ```
/// Each test runs [`assert_check_passes`] with the given cases and seed.
#[macro_export]
macro_rules! gradcheck_tests {
    (registry: $registry:path, cases: $cases:expr, seed: $seed:expr; mod $prefix:ident { $($name:ident),+ $(,)? }) => {
        #[allow(non_snake_case)]
        mod $prefix {
            $(
                #[test]
                fn $name() {
                    let name = concat!(stringify!($prefix), "::", stringify!($name));
                    $crate::gradcheck::assert_check_passes(&$registry(), name, $cases, $seed);
                }
            )+

            #[test]
            fn every_registry_entry_has_a_test() {
                let tested = [$(concat!(stringify!($prefix), "::", stringify!($name))),+];
                $crate::gradcheck::assert_every_check_tested(&$registry(), &tested);
            }
        }
    };
    (registry: $registry:path, cases: $cases:expr, seed: $seed:expr; $($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::gradcheck::assert_check_passes(&$registry(), stringify!($name), $cases, $seed);
            }
        )+

        #[test]
        fn every_registry_entry_has_a_test() {
            $crate::gradcheck::assert_every_check_tested(&$registry(), &[$(stringify!($name)),+]);
        }
    };
}

/// The op kinds of [`OpKind::ALL`] that no report exercised.
pub fn unexercised_kinds(reports: &[CheckReport]) -> Vec<OpKind> {
    let seen: BTreeSet<OpKind> = reports.iter().flat_map(|r| r.kinds.iter().copied()).collect();
    OpKind::ALL.iter().copied().filter(|k| !seen.contains(k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_rule_is_caught() {
        // A function whose "gradient" is deliberately wrong: y = x * stop_grad(x) has gradient x,
        // while the true derivative of x² is 2x.
        let f = |ts: &[Tensor]| ts[0].mul(&ts[0].detach());
        let x = ndarray::arr1(&[0.5f32, -1.0, 2.0]).into_dyn();
        let point = check_point(&f, &[x], Tolerance::default()).unwrap();
        assert!(point.worst_error > 0.3, "{point:?}");
    }

    #[test]
    fn a_right_rule_passes() {
        let f = |ts: &[Tensor]| ts[0].mul(&ts[0]);
        let x = ndarray::arr1(&[0.5f32, -1.0, 2.0]).into_dyn();
        let point = check_point(&f, &[x], Tolerance::default()).unwrap();
        assert!(point.worst_error < 1e-3, "{point:?}");
    }
}
