//! latent-nn's file parsers on thousands of seeded mutants of valid files: the checkpoint
//! (`model.safetensors`) and the training state, each with bytes damaged anywhere (so the
//! safetensors parser and the checksum see the damage) and with the header's JSON (and the JSON
//! inside its metadata) or the tensor data mutated and the checksum rewritten to match, so the
//! damage reaches the configuration, state, names, dtypes and shapes behind the checksum. No panic, no
//! allocation over 256 MiB, a typed error naming the file, and a refused checkpoint leaves the
//! model as it was (issue 17, "Fuzzing in CI").
//!
//! A failure names the mutant's seed: replay it alone with `LATENT_MUTANT_SEED=<seed> cargo
//! test --release -p latent-nn --test mutation <test>` (see latent-testkit's docs).

mod entries;

use entries::{MODEL_NAME, STATE_NAME, inputs};
use latent_testkit::Campaign;
use latent_testkit::files::scratch_dir;

latent_testkit::cap_allocations!();

/// Tokens of safetensors headers and latent's metadata.
const DICTIONARY: [&str; 16] = [
    "__metadata__",
    "\"dtype\"",
    "\"shape\"",
    "\"data_offsets\"",
    "\"F32\"",
    "\"I64\"",
    "\"F16\"",
    "\"BOOL\"",
    "latent.sha256",
    "latent.config",
    "latent.training_state",
    "\"version\"",
    "\"optimizers\"",
    "\"word_pos\"",
    "[]",
    "{}",
];

#[test]
fn resealing_an_intact_file_changes_nothing() {
    // The kit computes latent-nn's checksum itself; this pins the two together.
    for file in inputs::checkpoints().into_iter().chain(inputs::train_states()) {
        assert_eq!(latent_testkit::reseal(&file), file);
    }
}

#[test]
fn checkpoint_mutants() {
    let dir = scratch_dir();
    let s = Campaign::new("checkpoint", inputs::checkpoints())
        .dictionary(DICTIONARY)
        .errors_mention(MODEL_NAME)
        .run(|b| entries::checkpoint(b, dir.path()));
    assert!(s.errors.contains_key("Corrupt"), "{s}");
}

#[test]
fn resealed_checkpoint_mutants() {
    let dir = scratch_dir();
    let s = Campaign::new("checkpoint resealed", inputs::checkpoints())
        .mutation(latent_testkit::reseal::mutate_file)
        .errors_mention(MODEL_NAME)
        .run(|b| entries::checkpoint_resealed(b, dir.path()));
    assert!(s.accepted > 0 && s.errors.len() >= 4, "{s}");
}

#[test]
fn train_state_mutants() {
    let dir = scratch_dir();
    let s = Campaign::new("training state", inputs::train_states())
        .dictionary(DICTIONARY)
        .errors_mention(STATE_NAME)
        .run(|b| entries::train_state(b, dir.path()));
    assert!(s.errors.contains_key("Corrupt"), "{s}");
}

#[test]
fn resealed_train_state_mutants() {
    let dir = scratch_dir();
    // Optimiser-state errors name the parameter and slot, not the file (the state was read
    // already), so no file name is required here.
    let s = Campaign::new("training state resealed", inputs::train_states())
        .mutation(latent_testkit::reseal::mutate_file)
        .run(|b| entries::train_state_resealed(b, dir.path()));
    assert!(s.accepted > 0 && s.errors.len() >= 3, "{s}");
}
