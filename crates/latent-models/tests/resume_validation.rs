//! What a resumed run reads is checked before it is trusted (issue 17, items 4 and 5): a
//! `config.json` or training state that no run of latent writes, and data with an empty split,
//! give a clear error instead of a panic or a "done" with nothing trained.

mod common;

use std::path::Path;

use latent_models::run_dir::{CONFIG_FILE, RunDir, STATE_FILE};
use latent_models::train::{Silent, Trainer};
use latent_nn::TrainingState;

/// A finished 1-epoch run of the shallow autoencoder (3 batches) in `dir`.
fn finished_run(dir: &Path) -> RunDir {
    let data = common::sample(Some(50));
    let (trainer, _) = common::train(dir, common::config("ae", Some("shallow"), 1, 3), &data);
    trainer.run_dir().clone()
}

/// Resume `run` to 2 epochs and train: the error, which there must be.
fn resume_error(run: &RunDir) -> String {
    let data = common::sample(Some(50));
    match Trainer::resume(run.clone(), Some(2)) {
        Err(e) => e.to_string(),
        Ok(mut trainer) => match trainer.fit(&data.train, &data.test, &mut Silent) {
            Err(e) => e.to_string(),
            Ok(outcome) => panic!("resumed and ended {outcome:?} instead of refusing"),
        },
    }
}

fn edit_config(run: &RunDir, from: &str, to: &str) {
    let path = run.file(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{text}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
}

fn edit_state(run: &RunDir, change: impl FnOnce(&mut TrainingState)) {
    let path = run.file(STATE_FILE);
    let mut state = TrainingState::load(&path).unwrap();
    change(&mut state);
    state.save(&path).unwrap();
}

/// `batch_size: 0` used to divide by zero on `--resume`; `limit_batches: 0` trained nothing.
#[test]
fn resume_revalidates_a_config_with_batch_size_or_limit_batches_0() {
    let dir = tempfile::tempdir().unwrap();
    let run = finished_run(&dir.path().join("batch"));
    edit_config(&run, "\"batch_size\": 128", "\"batch_size\": 0");
    let e = resume_error(&run);
    assert!(e.contains("config.json") && e.contains("--batch-size") && e.contains("at least 1"), "{e}");

    let run = finished_run(&dir.path().join("limit"));
    edit_config(&run, "\"limit_batches\": 3", "\"limit_batches\": 0");
    let e = resume_error(&run);
    assert!(e.contains("config.json") && e.contains("--limit-batches"), "{e}");
}

/// A state claiming 10^15 batches of the epoch under way, or 10^6 epochs, in a run of 3 steps.
#[test]
fn resume_refuses_a_state_claiming_more_batches_or_epochs_than_its_steps() {
    let dir = tempfile::tempdir().unwrap();
    let run = finished_run(&dir.path().join("batches"));
    edit_state(&run, |s| {
        s.extra =
            serde_json::json!({"batches_done": 1_000_000_000_000_000u64, "examples": 0, "seconds": 0.0, "sums": {}});
    });
    let e = resume_error(&run);
    assert!(e.contains("training_state") && e.contains("1000000000000000 batches"), "{e}");

    let run = finished_run(&dir.path().join("epochs"));
    edit_state(&run, |s| s.epoch = 1_000_000);
    let e = resume_error(&run);
    assert!(e.contains("training_state") && e.contains("1000000 epochs") && e.contains("3 optimiser steps"), "{e}");
}

/// An empty training split used to train nothing and end "done"; an empty test split ended
/// "done" with a test loss of NaN.
#[test]
fn training_on_an_empty_split_is_an_error_not_done() {
    let data = common::sample(Some(50));
    let dir = tempfile::tempdir().unwrap();
    let fit = |name: &str, train: &latent_data::Dataset, test: &latent_data::Dataset| {
        let config = common::config("ae", Some("shallow"), 1, 3);
        let mut trainer = Trainer::new(RunDir::create(dir.path().join(name), false).unwrap(), config).unwrap();
        trainer.fit(train, test, &mut Silent).map(|o| format!("{o:?}")).unwrap_err().to_string()
    };
    let e = fit("no-train", &data.train.take(0), &data.test);
    assert!(e.contains("training data") && e.contains("no examples"), "{e}");
    let e = fit("no-test", &data.train, &data.test.take(0));
    assert!(e.contains("test data") && e.contains("no examples"), "{e}");
}
