//! A run directory's files on thousands of seeded mutants: `config.json` as `latent info` reads
//! it, and the weights, training state and metrics as `latent eval` and `--resume` read them
//! (issue 17, "Fuzzing in CI"). No panic, no allocation over 256 MiB, a typed error.
//!
//! A failure names the mutant's seed: replay it alone with `LATENT_MUTANT_SEED=<seed> cargo
//! test --release -p latent-models --test mutation <test>` (see latent-testkit's docs).

mod entries;

use entries::inputs;
use latent_testkit::Campaign;
use latent_testkit::files::{pack, scratch_dir};

latent_testkit::cap_allocations!();

/// Each model's weights, state and metrics, packed, with its `config.json`.
fn runs() -> Vec<(Vec<u8>, Vec<u8>)> {
    inputs::MODELS
        .iter()
        .map(|m| {
            let files = inputs::run(m);
            (files[0].clone(), pack(&[&files[1], &files[2], &files[3]]))
        })
        .collect()
}

#[test]
fn config_json_mutants() {
    let dir = scratch_dir();
    let s = Campaign::new("config.json", inputs::configs())
        .dictionary([
            "\"kind\"",
            "\"hidden\"",
            "\"batch_size\"",
            "\"epochs\"",
            "null",
            "[]",
            "{}",
            "\"gan\"",
            "\"vae\"",
        ])
        .run(|b| entries::run_config(b, dir.path()));
    assert!(s.accepted > 0 && s.refused_with("Json") && s.refused_with("Config"), "{s}");
}

#[test]
fn config_json_structural_mutants() {
    let dir = scratch_dir();
    let s = Campaign::new("config.json structure", inputs::configs())
        .mutation(|m, input, _| latent_testkit::json::mutate_text(m, input))
        .run(|b| entries::run_config(b, dir.path()));
    assert!(s.accepted > 0 && s.refused_with("Json") && s.refused_with("Config"), "{s}");
}

#[test]
fn run_dir_mutants() {
    let dir = scratch_dir();
    for (config, packed) in runs() {
        let s =
            Campaign::new("run directory", [packed]).mutants(1500).run(|b| entries::run_dir(b, &config, dir.path()));
        assert!(s.refused_with("Nn/Corrupt") && s.refused_with("Json"), "{s}");
    }
}

#[test]
fn resealed_run_dir_mutants() {
    let dir = scratch_dir();
    for (config, packed) in runs() {
        let s = Campaign::new("run directory resealed", [packed])
            .mutants(1500)
            .mutation(entries::mutate_run)
            .run(|b| entries::run_dir(b, &config, dir.path()));
        assert!(s.accepted > 0 && s.refused_with("Run") && s.refused_with("Json"), "{s}");
    }
}

/// The models `config.json` mutants describe, built: a mutant asking for hidden layers of 10^9
/// units used to pass validation and make `build_model` ask for 32 TB, aborting the process;
/// the memory estimate (issue 17 item 6) now refuses it first.
#[test]
fn config_json_built_mutants() {
    let dir = scratch_dir();
    let s = Campaign::new("config.json built", inputs::configs())
        .mutation(|m, input, _| latent_testkit::json::mutate_text(m, input))
        .run(|b| entries::run_config_built(b, dir.path()));
    assert!(s.accepted > 0 && s.refused_with("Config"), "{s}");
}
