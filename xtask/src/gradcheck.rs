//! `cargo xtask gradcheck`: run every registered gradient check and print one row per check.
//!
//! The registries of the crates are concatenated here (tensor ops now; layers and losses add
//! theirs as those crates arrive). The run fails if any check fails or if an op kind of
//! `latent-tensor` is exercised by no check.

use std::process::ExitCode;
use std::time::Instant;

use latent_tensor::gradcheck::{OpCheck, registry, run_check, unexercised_kinds};

/// Options of `cargo xtask gradcheck`.
#[derive(clap::Args)]
pub struct Args {
    /// Random cases per check.
    #[arg(long, default_value_t = 64)]
    cases: u32,
    /// Seed of the case generator (the same seed gives the same cases).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run only the checks whose name contains this text.
    #[arg(long)]
    only: Option<String>,
}

/// Every registered check, from every crate.
fn all_checks() -> Vec<OpCheck> {
    let mut checks = registry();
    checks.extend(latent_losses::gradcheck_registry());
    checks.extend(latent_nn::gradcheck_registry());
    checks
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let checks: Vec<OpCheck> =
        all_checks().into_iter().filter(|c| args.only.as_deref().is_none_or(|s| c.name.contains(s))).collect();
    let start = Instant::now();
    println!("{:<24} {:>6} {:>12}  verdict", "check", "cases", "worst error");
    let mut reports = Vec::with_capacity(checks.len());
    for check in &checks {
        let report = run_check(check, args.cases, args.seed);
        let verdict = if report.passed() {
            "pass".to_string()
        } else {
            format!("FAIL: {}", report.failure.as_deref().unwrap_or(""))
        };
        println!("{:<24} {:>6} {:>12.3e}  {verdict}", report.name, report.cases, report.worst_error);
        reports.push(report);
    }
    let failed = reports.iter().filter(|r| !r.passed()).count();
    println!(
        "\n{} checks, {} passed, {} failed, {} cases each, tolerance {:.0e} ({:.1} s)",
        reports.len(),
        reports.len() - failed,
        failed,
        args.cases,
        checks.first().map_or(0.0, |c| c.tolerance.rtol),
        start.elapsed().as_secs_f64()
    );
    let missing = if args.only.is_none() { unexercised_kinds(&reports) } else { Vec::new() };
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|k| k.name()).collect();
        println!("op kinds with no gradient check: {}", names.join(", "));
    }
    Ok(if failed == 0 && missing.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
