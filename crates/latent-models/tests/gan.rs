//! The GANs end to end on the bundled sample: each learns (D separates real from fake early on,
//! and G's samples move toward the data), a checkpoint round-trips, and an interrupted run
//! resumes bit for bit with both optimisers and D's BatchNorm statistics.
//!
//! "Moves toward the data" is measured on the mean image: the distance (root mean square over
//! pixels) between the mean of 500 generated images and the mean of the test images, in [0, 1]
//! pixel units. An untrained generator's tanh outputs are all near 0, so its mean image is a
//! flat grey (about 0.5) at a distance of about 0.4 from MNIST's (mostly black, about 0.13 on
//! average); a generator that has learnt black backgrounds and bright strokes in the middle is
//! far closer. It is a coarse check, but an honest one: it needs G's weights to have followed
//! D's gradients toward the data, and it does not depend on D's opinion.

mod common;

use latent_data::{Data, Scale};
use latent_models::Model;
use latent_models::run_dir::{RunConfig, RunDir};
use latent_models::train::{Silent, TrainOutcome, Trainer};
use latent_nn::{Buffer, Module};
use latent_tensor::TensorRng;

/// A preset's default run configuration with the given batch size.
fn config(model: &str, epochs: u64, limit: usize, batch_size: usize) -> RunConfig {
    let mut config = common::config(model, None, epochs, limit);
    config.train.batch_size = batch_size;
    config
}

/// RMS distance between the mean of 500 samples and the mean test image, in [0, 1] units.
fn mean_image_distance(model: &mut dyn Model, data: &Data) -> f64 {
    let samples = model.generator().unwrap().sample(500, None, &mut TensorRng::seed_from_u64(7)).unwrap().to_array();
    let real = data.test.to_flat(Scale::ZeroOne);
    let (n_fake, n_real) = (samples.shape()[0] as f64, real.nrows() as f64);
    let mut sq = 0.0;
    for j in 0..real.ncols() {
        let fake_mean: f64 = (0..samples.shape()[0]).map(|i| f64::from(samples[[i, j]])).sum::<f64>() / n_fake;
        let real_mean: f64 = real.column(j).iter().map(|&v| f64::from(v)).sum::<f64>() / n_real;
        sq += (fake_mean - real_mean).powi(2);
    }
    (sq / real.ncols() as f64).sqrt()
}

/// Each GAN, one short epoch with the preset's optimiser (Adam 2e-4, betas 0.5, 0.999) and small
/// batches, so that there are many steps for few images: over the epoch D tells real from fake
/// (its mean `σ(D(x))` on real images exceeds that on fakes by `margin`, averaged over the
/// epoch's D steps), and G's mean image moves from the untrained grey (distance ≈ 0.41) to below
/// `factor` times that distance. Seed 1 measured, for (gan, cgan, dcgan): separation 0.117,
/// 0.116, 0.687 and distances 0.412 → 0.156, 0.412 → 0.156, 0.413 → 0.333. The DCGAN is
/// sampled in eval mode, with BatchNorm running statistics that 40 steps have only begun to
/// fill, hence its smaller move.
#[test]
fn every_gan_learns_on_the_sample() {
    let data = common::sample(Some(500));
    let dir = tempfile::tempdir().unwrap();
    for (model, limit, batch, margin, factor) in
        [("gan", 100, 32, 0.06, 0.6), ("cgan", 100, 32, 0.06, 0.6), ("dcgan", 40, 16, 0.3, 0.9)]
    {
        let cfg = config(model, 1, limit, batch);
        let mut fresh = latent_models::build_model(&cfg.model, &mut TensorRng::seed_from_u64(cfg.train.seed)).unwrap();
        let before = mean_image_distance(&mut *fresh, &data);
        let (mut trainer, metrics) = common::train(&dir.path().join(model), cfg, &data);
        let m = &metrics[0];
        let separation = m.train["d_real"] - m.train["d_fake"];
        let after = mean_image_distance(trainer.model_mut(), &data);
        assert!(separation > margin, "{model}: D does not separate real from fake: {:?}", m.train);
        assert!(before > 0.3, "{model}: the untrained generator is already close to the data ({before:.3})?");
        assert!(
            after < factor * before,
            "{model}: G's mean image is {after:.3} from the data's, not below {factor} x the untrained {before:.3}"
        );
        for part in ["d_loss", "g_loss", "d_real", "d_fake", "loss"] {
            assert!(m.test[part].is_finite(), "{model}: test {part} missing or not finite: {:?}", m.test);
        }
    }
}

#[test]
fn a_gan_checkpoint_round_trips() {
    let data = common::sample(Some(100));
    let dir = tempfile::tempdir().unwrap();
    let (mut trainer, _) = common::train(dir.path(), config("cgan", 1, 3, 16), &data);
    let sevens = Some(&[7u8; 8][..]);
    let before =
        trainer.model_mut().generator().unwrap().sample(8, sevens, &mut TensorRng::seed_from_u64(3)).unwrap().to_vec();
    let (mut loaded, run) = RunDir::open(dir.path()).unwrap().load_model().unwrap();
    assert_eq!(run.model, trainer.config().model);
    assert_eq!(
        loaded.generator().unwrap().sample(8, sevens, &mut TensorRng::seed_from_u64(3)).unwrap().to_vec(),
        before
    );
    assert!(loaded.encoder().is_none(), "a GAN has no encoder");
    let zeros = latent_tensor::Tensor::zeros(&[1, 784]);
    assert!(latent_models::reconstruct(&mut *loaded, &zeros, Some(&[0])).is_err());
}

/// Every parameter and buffer, as bits.
fn bits(m: &dyn Module) -> Vec<(String, Vec<u32>)> {
    let mut out = Vec::new();
    m.visit_params("", &mut |n, p| out.push((n.to_string(), p.to_vec().iter().map(|v| v.to_bits()).collect())));
    m.visit_buffers("", &mut |n, b| {
        let v = match b {
            Buffer::F32(a) => a.iter().map(|v| v.to_bits()).collect(),
            Buffer::I64(v) => vec![v as u32],
        };
        out.push((n.to_string(), v));
    });
    out
}

/// Stopped mid-epoch and resumed, a GAN ends with the weights, BatchNorm statistics and
/// metrics of the uninterrupted run, bit for bit: both Adams' moments, the noise generator and
/// (with 2 D steps per G step) the position in the D/G schedule all come back. Stopping after
/// an odd number of batches puts the stop between a D-only step and a D+G step.
#[test]
fn an_interrupted_gan_resumes_exactly() {
    let data = common::sample(Some(100));
    let dir = tempfile::tempdir().unwrap();
    for (model, batch) in [("gan", 16), ("dcgan", 8)] {
        let mut cfg = config(model, 2, 5, batch);
        if model == "dcgan" {
            let mut c: latent_models::DcganConfig = cfg.model.typed().unwrap();
            c.training.d_steps = 2;
            cfg.model = latent_models::ModelConfig::new(&c);
        }
        let (mut straight, full_metrics) =
            common::train(&dir.path().join(format!("{model}-straight")), cfg.clone(), &data);

        let split = dir.path().join(format!("{model}-split"));
        let mut first = Trainer::new(RunDir::create(&split, false).unwrap(), cfg).unwrap();
        assert_eq!(
            first.fit(&data.train, &data.test, &mut common::StopAt { at: 3, seen: 0 }).unwrap(),
            TrainOutcome::Stopped { epoch: 1, batch: 3 }
        );
        drop(first);
        let mut resumed = Trainer::resume(RunDir::open(&split).unwrap(), None).unwrap();
        assert_eq!(resumed.fit(&data.train, &data.test, &mut Silent).unwrap(), TrainOutcome::Completed { epochs: 2 });

        assert!(bits(resumed.model_mut()) == bits(straight.model_mut()), "{model}: resumed weights differ");
        let resumed_metrics = resumed.run_dir().read_metrics().unwrap();
        assert_eq!(resumed_metrics[1].train, full_metrics[1].train, "{model}");
        assert_eq!(resumed_metrics[1].test, full_metrics[1].test, "{model}");
    }
}

/// A DCGAN's test figures are measured with BatchNorm as it trains: each batch normalised by its
/// own statistics. With D's running statistics, an average of real and fake batches that D never
/// judged, its mean D(x) on real test digits fell far below the training figure (0.0013 against
/// 0.886 after one epoch on the sample; 0.54 against 0.86 after 15 batches). Evaluating leaves
/// the running statistics untouched.
#[test]
fn a_dcgans_test_figures_normalise_batches_as_training_does() {
    let data = common::sample(Some(256));
    let dir = tempfile::tempdir().unwrap();
    let (mut trainer, metrics) = common::train(dir.path(), config("dcgan", 1, 20, 64), &data);
    let (train, test) = (&metrics[0].train, &metrics[0].test);
    assert!(train["d_real"] > 0.7, "D has learnt to accept real digits: {train:?}");
    assert!((test["d_real"] - train["d_real"]).abs() < 0.1, "test D(x) far from training's: {test:?} {train:?}");
    assert!(test["d_real"] > test["d_fake"] + 0.2, "D tells test digits from fakes: {test:?}");

    let before = bits(trainer.model_mut());
    let bcfg = trainer.batch_config();
    let again = latent_models::train::evaluate(trainer.model_mut(), &data.test, &bcfg, 3).unwrap();
    assert!((again["d_real"] - test["d_real"]).abs() < 0.05, "{again:?}");
    assert_eq!(bits(trainer.model_mut()), before, "evaluation changed the weights or running statistics");
}
