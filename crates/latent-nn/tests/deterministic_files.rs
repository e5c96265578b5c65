//! The files this crate writes are a function of their contents: saving the same model (or
//! training state) twice gives the same bytes, so identical runs give identical files.

mod common;

use std::collections::BTreeMap;

use common::temp_dir;
use latent_nn::TrainingState;
use latent_nn::layers::{BatchNorm1d, Linear, Relu, Sequential};
use latent_nn::optim::OptimizerState;
use latent_nn::save_checkpoint;
use latent_tensor::TensorRng;

fn model() -> Sequential {
    let mut rng = TensorRng::seed_from_u64(3);
    Sequential::new()
        .with(Linear::new(3, 4, &mut rng).unwrap())
        .with(BatchNorm1d::new(4).unwrap())
        .with(Relu)
        .with(Linear::new(4, 2, &mut rng).unwrap())
}

/// The checkpoint metadata has three entries; before the header was written in sorted order,
/// their order followed a `HashMap`'s random seed, so eight saves were almost never (1 in 6^7)
/// all alike.
#[test]
fn saving_the_same_model_twice_gives_identical_bytes() {
    let dir = temp_dir("deterministic-checkpoint");
    let m = model();
    let config = serde_json::json!({"hidden": 4, "latent": 2});
    let files: Vec<Vec<u8>> = (0..8)
        .map(|i| {
            let path = dir.join(format!("model-{i}.safetensors"));
            save_checkpoint(&path, &m, &config).unwrap();
            std::fs::read(&path).unwrap()
        })
        .collect();
    for (i, f) in files.iter().enumerate().skip(1) {
        assert!(f == &files[0], "save {i} differs from save 0");
    }
}

#[test]
fn saving_the_same_training_state_twice_gives_identical_bytes() {
    let dir = temp_dir("deterministic-state");
    let slots = BTreeMap::from([("0.weight.m".to_string(), ndarray::arr1(&[1.0f32, -2.0]).into_dyn())]);
    let optimizer = OptimizerState {
        kind: "adam".into(),
        learning_rate: 1e-3,
        steps: BTreeMap::from([("0.weight".to_string(), 7)]),
        tensors: slots,
    };
    let state = TrainingState {
        epoch: 2,
        global_step: 7,
        rngs: BTreeMap::from([("shuffle".to_string(), TensorRng::seed_from_u64(9).state())]),
        optimizers: BTreeMap::from([("model".to_string(), optimizer)]),
        extra: serde_json::json!({"best": 1.5}),
    };
    let files: Vec<Vec<u8>> = (0..8)
        .map(|i| {
            let path = dir.join(format!("state-{i}.safetensors"));
            state.save(&path).unwrap();
            std::fs::read(&path).unwrap()
        })
        .collect();
    for (i, f) in files.iter().enumerate().skip(1) {
        assert!(f == &files[0], "save {i} differs from save 0");
    }
}
