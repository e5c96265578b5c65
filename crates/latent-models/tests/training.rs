//! End to end on the bundled sample: every model family learns, checkpoints round-trip, an
//! interrupted run resumes exactly, and a diverging run stops with its last checkpoint intact.

mod common;

use latent_data::{Data, Scale};
use latent_models::ModelError;
use latent_models::run_dir::RunDir;
use latent_models::train::{Silent, TrainOutcome, Trainer};
use latent_tensor::Tensor;

fn first_test_images(data: &Data, n: usize) -> Tensor {
    Tensor::new(data.test.take(n).to_flat(Scale::ZeroOne))
}

/// Each family, 2 epochs of 40 batches (10,240 images): the test objective per image (penalty
/// included) falls well below that of an untrained decoder (784·ln 2 ≈ 543 nats for BCE),
/// below a bound per model (seed 1 measured 194.5, 195.0, 253.0, 119.5, 181.6, 189.7; the
/// bounds add about 10%), and below the first epoch's.
#[test]
fn every_family_learns_on_the_sample() {
    let data = common::sample(None);
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Option<&str>, f64); 6] = [
        ("ae", None, 215.0),
        ("dae", None, 215.0),
        ("sparse", Some("kl"), 280.0),
        ("sparse", Some("l1"), 135.0),
        ("contractive", None, 200.0),
        ("vae", None, 210.0),
    ];
    for (model, p, bound) in cases {
        let (_, metrics) = common::train(
            &dir.path().join(format!("{model}-{}", p.unwrap_or("default"))),
            common::config(model, p, 2, 40),
            &data,
        );
        let (first, last) = (metrics[0].test["loss"], metrics[1].test["loss"]);
        assert!(last < bound, "{model}/{p:?}: test loss {last:.1} is not below {bound}");
        assert!(last < first, "{model}/{p:?}: test loss rose from {first:.1} to {last:.1}");
    }
}

#[test]
fn a_checkpoint_round_trips() {
    let data = common::sample(None);
    let dir = tempfile::tempdir().unwrap();
    let (mut trainer, _) = common::train(dir.path(), common::config("vae", None, 1, 10), &data);
    let x = first_test_images(&data, 8);
    let before = latent_models::reconstruct(trainer.model_mut(), &x, None).unwrap().to_vec();
    let (mut loaded, run) = RunDir::open(dir.path()).unwrap().load_model().unwrap();
    assert_eq!(run.model, trainer.config().model);
    assert_eq!(latent_models::reconstruct(&mut *loaded, &x, None).unwrap().to_vec(), before);
}

#[test]
fn an_interrupted_run_resumes_exactly() {
    let data = common::sample(None);
    let dir = tempfile::tempdir().unwrap();
    for model in ["dae", "vae"] {
        let straight = dir.path().join(format!("{model}-straight"));
        let (mut uninterrupted, full_metrics) = common::train(&straight, common::config(model, None, 2, 12), &data);

        let split = dir.path().join(format!("{model}-split"));
        let mut first =
            Trainer::new(RunDir::create(&split, false).unwrap(), common::config(model, None, 2, 12)).unwrap();
        let outcome = first.fit(&data.train, &data.test, &mut common::StopAt { at: 7, seen: 0 }).unwrap();
        assert_eq!(outcome, TrainOutcome::Stopped { epoch: 1, batch: 7 });
        drop(first);
        let mut resumed = Trainer::resume(RunDir::open(&split).unwrap(), None).unwrap();
        assert_eq!(resumed.fit(&data.train, &data.test, &mut Silent).unwrap(), TrainOutcome::Completed { epochs: 2 });

        let x = first_test_images(&data, 16);
        assert_eq!(
            latent_models::reconstruct(resumed.model_mut(), &x, None).unwrap().to_vec(),
            latent_models::reconstruct(uninterrupted.model_mut(), &x, None).unwrap().to_vec(),
            "{model}: resumed weights differ"
        );
        let resumed_metrics = resumed.run_dir().read_metrics().unwrap();
        assert_eq!(resumed_metrics.len(), 2);
        assert_eq!(resumed_metrics[1].test, full_metrics[1].test, "{model}");
        assert_eq!(resumed_metrics[1].train, full_metrics[1].train, "{model}");
    }
}

/// A diverging run stops with an error naming the epoch and batch; what it leaves is the
/// initial checkpoint (epoch 0), written before training, so the message's "last checkpoint is
/// intact" is true and the run can be resumed (with other settings in a new run) or inspected.
#[test]
fn a_diverging_run_stops_with_a_clear_error_and_keeps_the_initial_checkpoint() {
    let data = common::sample(None);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config("ae", Some("shallow"), 3, 10);
    cfg.train.learning_rate = 1e30;
    let mut trainer = Trainer::new(RunDir::create(dir.path(), false).unwrap(), cfg).unwrap();
    let initial = trainer.model_mut().named_parameters().into_iter().map(|(n, p)| (n, p.to_vec())).collect::<Vec<_>>();
    let err = trainer.fit(&data.train, &data.test, &mut Silent).unwrap_err();
    assert!(matches!(err, ModelError::NonFinite { .. }), "{err}");
    assert!(err.to_string().contains("lower learning rate"), "{err}");
    let ModelError::NonFinite { epoch, last_good, .. } = err else { unreachable!() };
    assert_eq!((epoch, last_good), (1, 0));
    // The initial checkpoint, and nothing half-written.
    let mut files: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["config.json", "model.safetensors", "training_state.safetensors"], "{files:?}");
    let (loaded, _) = RunDir::open(dir.path()).unwrap().load_model().unwrap();
    let saved = loaded.named_parameters().into_iter().map(|(n, p)| (n, p.to_vec())).collect::<Vec<_>>();
    assert_eq!(saved, initial, "the checkpoint holds the initial weights");
    assert_eq!(Trainer::resume(RunDir::open(dir.path()).unwrap(), None).unwrap().epochs_done(), 0);
}

#[test]
fn a_run_directory_is_not_overwritten_by_accident() {
    let data = common::sample(None);
    let dir = tempfile::tempdir().unwrap();
    common::train(dir.path(), common::config("ae", Some("shallow"), 1, 2), &data);
    let err = RunDir::create(dir.path(), false).unwrap_err().to_string();
    assert!(err.contains("--resume"), "{err}");
    let err = RunDir::open(dir.path().join("nope")).err().unwrap().to_string();
    assert!(err.contains("no such directory"), "{err}");
}

/// Weights that are not finite are never trained further: a run whose checkpoint holds a NaN
/// (written here by hand) is refused on resume, naming the parameter.
#[test]
fn a_checkpoint_with_non_finite_weights_is_not_resumed() {
    let data = common::sample(Some(100));
    let dir = tempfile::tempdir().unwrap();
    common::train(dir.path(), common::config("ae", Some("shallow"), 1, 2), &data);
    let run = RunDir::open(dir.path()).unwrap();
    let (mut model, config) = run.load_model().unwrap();
    let state = run.load_state().unwrap();
    model.visit_params_mut("", &mut |name, p| {
        if name == "decoder.0.bias" {
            p.value_mut()[[0]] = f32::NAN;
        }
    });
    run.save_checkpoint(&*model, &config, &state).unwrap();
    let err = Trainer::resume(RunDir::open(dir.path()).unwrap(), Some(2)).err().expect("refused").to_string();
    assert!(err.contains("decoder.0.bias") && err.contains("NaN"), "{err}");
}

/// The address of each parameter's values, by name.
fn param_addresses(model: &dyn latent_models::Model) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    model.visit_params("", &mut |name, t| out.push((name.to_string(), t.view().as_ptr() as usize)));
    out
}

/// One training step of every family updates the weights where they are. A weight still
/// shared when the optimiser runs (by a graph, or by a list of parameter handles kept alive) is
/// copied first (copy-on-write) and the copy updated: the same numbers, but a whole copy of the
/// model per step (4% of the MLP GAN's time before the G step let go of its handles). Such a
/// copy lives at a new address while the old one is still held, so comparing addresses after
/// one step sees it.
#[test]
fn every_family_updates_its_weights_in_place() {
    let data = common::sample(Some(64));
    let dir = tempfile::tempdir().unwrap();
    for model in [
        "ae",
        "dae",
        "sparse",
        "contractive",
        "vae",
        "conv-ae",
        "conv-vae",
        "cvae",
        "gan",
        "dcgan",
        "cgan",
        "classifier",
    ] {
        let mut trainer =
            Trainer::new(RunDir::create(dir.path().join(model), false).unwrap(), common::config(model, None, 1, 1))
                .unwrap();
        let before = param_addresses(trainer.model_mut());
        assert!(!before.is_empty(), "{model} has parameters");
        trainer.fit(&data.train, &data.test, &mut Silent).unwrap();
        assert_eq!(param_addresses(trainer.model_mut()), before, "{model}: a weight was copied, not updated in place");
    }
}
