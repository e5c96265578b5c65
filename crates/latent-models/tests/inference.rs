//! Evaluation and sampling build no graph: for every preset of every model family, the test-set
//! evaluation and every inference method (encode, decode, reconstruct, sample, and their
//! labelled forms) record no op, so no input is kept alive for a backward pass and no gradient
//! can be allocated. A training step of the same model does record ops (the counter works).

mod common;

use latent_data::BatchConfig;
use latent_models::presets::all;
use latent_models::train::evaluate;
use latent_models::{Model, build_model, reconstruct};
use latent_tensor::{Tensor, TensorRng, recorded_ops};
use ndarray::Array2;

/// Runs `f` and returns how many ops it recorded on this thread.
fn ops_recorded_by(f: impl FnOnce()) -> u64 {
    let before = recorded_ops();
    f();
    recorded_ops() - before
}

/// Calls every capability the model has on a few test digits (with their labels for a
/// conditional model).
fn infer(model: &mut dyn Model, images: &Tensor, labels: &[u8], rng: &mut TensorRng) {
    let n = labels.len();
    let labels = model.classes().map(|_| labels);
    if let Some(g) = model.generator() {
        let z = g.sample(n, labels, rng).expect("sample");
        assert_eq!(z.shape()[0], n);
    }
    if let Some(e) = model.encoder() {
        let code = e.encode(images, labels).expect("encode");
        model.decoder().expect("an encoder comes with a decoder").decode(&code, labels).expect("decode");
        reconstruct(model, images, labels).expect("reconstruct");
    }
    if let Some(l) = model.likelihood() {
        let x: Array2<f32> = images.to_array().into_dimensionality().expect("rows");
        l.log_likelihood(&x, labels, 3, 2, rng).expect("log-likelihood");
    }
}

#[test]
fn evaluation_and_inference_record_no_graph_for_every_preset() {
    let data = common::sample(Some(64));
    let mut checked = 0;
    for preset in all() {
        if preset.model == "identity" {
            continue;
        }
        let name = format!("{}/{}", preset.model, preset.name);
        let mut rng = TensorRng::seed_from_u64(7);
        let mut model = build_model(&preset.config, &mut rng).unwrap_or_else(|e| panic!("{name}: {e}"));
        let batches = BatchConfig::new(32).scale(preset.config.describe().unwrap().scale);
        let mut eval_result = None;
        let during_eval = ops_recorded_by(|| eval_result = Some(evaluate(&mut *model, &data.test, &batches, 3)));
        eval_result.expect("evaluate ran").unwrap_or_else(|e| panic!("{name}: evaluate: {e}"));
        assert_eq!(during_eval, 0, "{name}: evaluation recorded {during_eval} ops");

        let batch = data.test.batches(&batches, 0).unwrap().next().expect("one batch");
        let images = Tensor::new(Array2::clone(batch.input()));
        let labels: Vec<u8> = batch.labels.to_vec();
        let during_inference = ops_recorded_by(|| infer(&mut *model, &images, &labels, &mut rng));
        assert_eq!(during_inference, 0, "{name}: inference recorded {during_inference} ops");

        // The counter is live: the training objective of the same model records its graph.
        let mut ctx = latent_nn::Ctx::train(TensorRng::seed_from_u64(1));
        let during_objective = ops_recorded_by(|| {
            model.objective(&batch, &mut ctx).unwrap_or_else(|e| panic!("{name}: objective: {e}"));
        });
        assert!(during_objective > 0, "{name}: the training objective recorded no op");
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} presets checked");
}
