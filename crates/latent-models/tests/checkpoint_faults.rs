//! A checkpoint replaces the weights and the training state as a unit: with a failure (a full
//! disk) or a crash (a killed process) injected at every step of a save, the run always holds a
//! consistent pair — the previous one, or the new one when the save got far enough to be rolled
//! forward — and resuming from it ends bit-exactly where an uninterrupted run ends.

mod common;

use latent_models::run_dir::fault::{self, Fault, Step};
use latent_models::run_dir::{NEXT_MODEL_FILE, NEXT_STATE_FILE, RunDir};
use latent_models::train::{Silent, TrainOutcome, Trainer};

#[test]
fn every_interrupted_save_leaves_a_resumable_consistent_pair() {
    let data = common::sample(Some(100));
    let dir = tempfile::tempdir().unwrap();
    let config = common::config("vae", Some("2d"), 2, 3);
    let (_, straight) = common::train(&dir.path().join("straight"), config.clone(), &data);

    let steps = [Step::WriteState, Step::WriteModel, Step::RenameModel, Step::RenameState];
    for fault in steps.iter().flat_map(|&s| [Fault::Fail(s), Fault::Crash(s)]) {
        let path = dir.path().join(format!("{fault:?}"));
        let mut one = config.clone();
        one.train.epochs = 1;
        common::train(&path, one, &data);

        // Epoch 2's checkpoint is interrupted.
        let mut trainer = Trainer::resume(RunDir::open(&path).unwrap(), Some(2)).unwrap();
        fault::inject(Some(fault));
        let err = trainer.fit(&data.train, &data.test, &mut Silent).unwrap_err();
        fault::inject(None);
        assert!(err.to_string().contains("injected"), "{fault:?}: {err}");
        drop(trainer);

        // What remains is a consistent pair: the previous one, or the new one rolled forward
        // once the new weights were in place (a failure or crash at renaming the state).
        let run = RunDir::open(&path).unwrap();
        let state = run.load_state().unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        let rolled_forward = matches!(fault, Fault::Crash(Step::RenameState) | Fault::Fail(Step::RenameState));
        let expected = if rolled_forward { 2 } else { 1 };
        assert_eq!(state.epoch, expected, "{fault:?}");
        assert!(!run.file(NEXT_MODEL_FILE).exists() && !run.file(NEXT_STATE_FILE).exists(), "{fault:?}: leftovers");

        // Resumed, the run ends as the uninterrupted one does, bit for bit.
        let mut resumed = Trainer::resume(run, Some(2)).unwrap();
        assert_eq!(resumed.fit(&data.train, &data.test, &mut Silent).unwrap(), TrainOutcome::Completed { epochs: 2 });
        let metrics = resumed.run_dir().read_metrics().unwrap();
        assert_eq!(metrics.len(), 2, "{fault:?}");
        assert_eq!(metrics[1].test, straight[1].test, "{fault:?}");
        assert_eq!(metrics[1].train, straight[1].train, "{fault:?}");
    }
}
