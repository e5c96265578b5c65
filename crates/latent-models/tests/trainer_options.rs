//! The trainer's choices beyond the defaults, end to end on the bundled sample: the optimiser
//! (SGD, RMSprop), learning-rate schedules, the seeded validation split, early stopping, and
//! their state across a resume.

mod common;

use latent_models::OptimizerKind;
use latent_models::run_dir::RunDir;
use latent_models::train::{Silent, TrainOutcome, Trainer, parse_schedule};

/// Each optimiser trains the shallow autoencoder: the test loss falls over two short epochs,
/// and the three end in different places (the choice reaches the update rule).
#[test]
fn every_optimizer_trains_and_they_differ() {
    let data = common::sample(Some(300));
    let dir = tempfile::tempdir().unwrap();
    let mut finals = Vec::new();
    for (kind, lr, momentum) in
        [(OptimizerKind::Adam, 1e-3, 0.0), (OptimizerKind::Sgd, 1e-3, 0.9), (OptimizerKind::Rmsprop, 1e-4, 0.0)]
    {
        let mut cfg = common::config("ae", Some("shallow"), 2, 20);
        cfg.train.optimizer = kind;
        cfg.train.learning_rate = lr;
        cfg.train.momentum = momentum;
        let (_, metrics) = common::train(&dir.path().join(kind.name()), cfg, &data);
        let (first, last) = (metrics[0].test["loss"], metrics[1].test["loss"]);
        assert!(last < first, "{kind}: test loss rose from {first} to {last}");
        finals.push(last);
    }
    assert!(finals[0] != finals[1] && finals[1] != finals[2], "{finals:?}");
}

/// A schedule sets each epoch's rate, as the metrics record it.
#[test]
fn a_schedule_sets_each_epochs_rate() {
    let data = common::sample(Some(100));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config("ae", Some("shallow"), 4, 2);
    cfg.train.lr_schedule = parse_schedule("step:2:0.5", 4).unwrap();
    let (_, metrics) = common::train(&dir.path().join("step"), cfg.clone(), &data);
    let rates: Vec<f64> = metrics.iter().map(|m| m.learning_rate).collect();
    assert_eq!(rates, vec![1e-3, 1e-3, 5e-4, 5e-4]);
    cfg.train.lr_schedule = parse_schedule("warmup:2", 4).unwrap();
    let (_, metrics) = common::train(&dir.path().join("warmup"), cfg, &data);
    let rates: Vec<f64> = metrics.iter().map(|m| m.learning_rate).collect();
    assert_eq!(rates, vec![5e-4, 1e-3, 1e-3, 1e-3]);
}

/// With a validation fraction, every epoch reports the held-out loss; the split is seeded, so
/// two runs agree, and the model trains on fewer batches.
#[test]
fn a_validation_split_is_reported_and_reproducible() {
    let data = common::sample(Some(100));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config("ae", Some("shallow"), 2, 1000);
    cfg.train.val_fraction = 0.2;
    let (_, a) = common::train(&dir.path().join("a"), cfg.clone(), &data);
    let (_, b) = common::train(&dir.path().join("b"), cfg, &data);
    let val: Vec<f64> = a.iter().map(|m| m.val.as_ref().expect("val reported")["loss"]).collect();
    assert_eq!(val, b.iter().map(|m| m.val.as_ref().unwrap()["loss"]).collect::<Vec<_>>());
    // 8,000 of the 10,000 training digits remain: 63 batches of 128 per epoch.
    assert_eq!(a[0].global_step, 63);
}

/// Early stopping ends the run when the validation loss stops improving. With Adam at 0.2
/// the shallow autoencoder's validation loss flattens out within 20 short epochs (measured,
/// seed 1: it last improves at epoch 17 and the run stops after epoch 19); whatever the exact
/// epochs, the run must stop exactly `patience` epochs after its best one, which must hold the
/// lowest validation loss. The best so far travels in the training state: resumed, the run
/// has no patience left and stays stopped.
#[test]
fn early_stopping_stops_on_a_stalled_validation_loss_and_survives_a_resume() {
    let data = common::sample(Some(100));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config("ae", Some("shallow"), 20, 5);
    cfg.train.learning_rate = 0.2;
    cfg.train.val_fraction = 0.1;
    cfg.train.early_stop = Some(2);
    let path = dir.path().join("es");
    let mut trainer = Trainer::new(RunDir::create(&path, false).unwrap(), cfg).unwrap();
    let outcome = trainer.fit(&data.train, &data.test, &mut Silent).unwrap();
    let metrics = trainer.run_dir().read_metrics().unwrap();
    let val: Vec<f64> = metrics.iter().map(|m| m.val.as_ref().unwrap()["loss"]).collect();
    let lowest = val.iter().copied().fold(f64::INFINITY, f64::min);
    let TrainOutcome::EarlyStopped { epochs, best_epoch, best_val_loss } = outcome else {
        panic!("expected an early stop, got {outcome:?} with validation losses {val:?}");
    };
    assert!(epochs < 20 && epochs == best_epoch + 2, "{outcome:?} {val:?}");
    assert_eq!(best_val_loss, lowest);
    assert_eq!(val[best_epoch as usize - 1], lowest);
    assert_eq!(metrics.len() as u64, epochs);
    drop(trainer);

    let mut resumed = Trainer::resume(RunDir::open(&path).unwrap(), Some(30)).unwrap();
    assert_eq!(resumed.fit(&data.train, &data.test, &mut Silent).unwrap(), outcome, "no patience left");
    assert_eq!(resumed.run_dir().read_metrics().unwrap().len() as u64, epochs, "nothing more was trained");
}

/// Options that cannot work are refused before anything is trained, naming the flag.
#[test]
fn bad_options_name_their_flag() {
    let mut cfg = common::config("ae", Some("shallow"), 2, 2);
    cfg.train.early_stop = Some(3);
    let err = cfg.train.validate().unwrap_err().to_string();
    assert!(err.contains("--early-stop") && err.contains("--val-fraction"), "{err}");
    cfg.train.early_stop = None;
    cfg.train.val_fraction = 1.0;
    assert!(cfg.train.validate().unwrap_err().to_string().contains("--val-fraction"));
    cfg.train.val_fraction = 0.0;
    cfg.train.momentum = 0.9;
    assert!(cfg.train.validate().unwrap_err().to_string().contains("--momentum"));
    for bad in ["step:0:0.5", "warmup:0", "cosine:x", "linear"] {
        assert!(parse_schedule(bad, 10).unwrap_err().to_string().contains("--lr-schedule"), "{bad}");
    }
}
