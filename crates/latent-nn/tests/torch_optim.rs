//! Optimisers, clipping and schedules against `torch.optim` on the fixtures of
//! `make_fixtures.py`: the same gradients, five steps, parameters compared after every step.

mod common;

use std::collections::BTreeMap;

use common::{fixture, read_f32, rel_err};
use latent_nn::optim::{
    Adam, AdamConfig, LrSchedule, NamedGrads, Optimizer, RmsProp, RmsPropConfig, Sgd, SgdConfig, clip_grad_norm,
};
use latent_tensor::Tensor;
use ndarray::ArrayD;

const PARAMS: [&str; 2] = ["p0", "p1"];
const STEPS: usize = 5;
const TOLERANCE: f64 = 1e-5;

fn optimizer(name: &str) -> Box<dyn Optimizer> {
    match name {
        "adam" => Box::new(Adam::new(AdamConfig::adam(0.01)).unwrap()),
        "adam_l2" => Box::new(Adam::new(AdamConfig::adam(0.01).betas(0.8, 0.99).eps(1e-6).weight_decay(0.1)).unwrap()),
        "adamw" => Box::new(Adam::new(AdamConfig::adamw(0.01).weight_decay(0.1)).unwrap()),
        "sgd_momentum" => {
            Box::new(Sgd::new(SgdConfig::new(0.1).momentum(0.9).dampening(0.1).weight_decay(0.01)).unwrap())
        }
        "sgd_nesterov" => Box::new(Sgd::new(SgdConfig::new(0.1).momentum(0.9).nesterov(true)).unwrap()),
        "rmsprop" => Box::new(RmsProp::new(RmsPropConfig::new(0.01)).unwrap()),
        "rmsprop_centered_momentum" => Box::new(
            RmsProp::new(RmsPropConfig::new(0.01).alpha(0.9).momentum(0.5).centered(true).weight_decay(0.01)).unwrap(),
        ),
        other => panic!("no optimiser {other}"),
    }
}

/// Run `name` for five steps on the fixture gradients; the worst relative error over all steps.
fn worst_error(name: &str, fx: &BTreeMap<String, ArrayD<f32>>) -> f64 {
    let mut opt = optimizer(name);
    let mut params: Vec<Tensor> = PARAMS.iter().map(|p| Tensor::parameter(fx[&format!("init.{p}")].clone())).collect();
    let mut worst = 0f64;
    for t in 0..STEPS {
        for (p, tensor) in PARAMS.iter().zip(params.iter_mut()) {
            opt.update(p, tensor, fx[&format!("grad.{t}.{p}")].view()).unwrap();
            let err = rel_err(&tensor.to_array(), &fx[&format!("{name}.{t}.{p}")]);
            assert!(err < TOLERANCE, "{name} step {t} {p}: relative error {err:.2e}");
            worst = worst.max(err);
        }
    }
    worst
}

#[test]
fn optimisers_match_torch_step_for_step() {
    let (fx, _) = read_f32(&fixture("optim.safetensors"));
    for name in ["adam", "adam_l2", "adamw", "sgd_momentum", "sgd_nesterov", "rmsprop", "rmsprop_centered_momentum"] {
        let err = worst_error(name, &fx);
        println!("{name:<28} max relative error over {STEPS} steps: {err:.2e}");
    }
}

#[test]
fn adam_state_round_trip_continues_identically() {
    // Three steps, export the state into a fresh optimiser, two more steps: bit-identical to
    // five uninterrupted steps (and so also to torch).
    let (fx, _) = read_f32(&fixture("optim.safetensors"));
    let init = || Tensor::parameter(fx["init.p0"].clone());
    let grad = |t: usize| fx[&format!("grad.{t}.p0")].view();
    let (mut straight, mut resumed) = (init(), init());
    let mut a = Adam::new(AdamConfig::adam(0.01)).unwrap();
    for t in 0..STEPS {
        a.update("p0", &mut straight, grad(t)).unwrap();
    }
    let mut b = Adam::new(AdamConfig::adam(0.01)).unwrap();
    for t in 0..3 {
        b.update("p0", &mut resumed, grad(t)).unwrap();
    }
    let mut c = Adam::new(AdamConfig::adam(0.5)).unwrap();
    c.set_state(b.state()).unwrap();
    assert_eq!(c.learning_rate(), 0.01);
    for t in 3..STEPS {
        c.update("p0", &mut resumed, grad(t)).unwrap();
    }
    assert_eq!(straight.to_vec(), resumed.to_vec());
}

#[test]
fn clip_grad_norm_matches_torch() {
    let (fx, _) = read_f32(&fixture("optim.safetensors"));
    for max_norm in [0.5f32, 100.0] {
        let tag = format!("clip_{max_norm}");
        let mut grads = NamedGrads::default();
        for p in PARAMS {
            grads.insert(p, fx[&format!("grad.0.{p}")].clone());
        }
        let norm = clip_grad_norm(&mut grads, max_norm).unwrap();
        let torch_norm = fx[&format!("{tag}.norm")][[0]];
        assert!(((norm - torch_norm) / torch_norm).abs() < 1e-6, "{norm} vs {torch_norm}");
        for p in PARAMS {
            let err = rel_err(grads.get(p).unwrap(), &fx[&format!("{tag}.{p}")]);
            assert!(err < TOLERANCE, "{tag} {p}: {err:.2e}");
        }
    }
}

#[test]
fn schedules_match_torch() {
    let (_, meta) = read_f32(&fixture("optim.safetensors"));
    let torch: BTreeMap<String, Vec<f64>> = serde_json::from_str(&meta["lr_schedules"]).unwrap();
    let ours = [
        ("step", LrSchedule::Step { step_size: 3, gamma: 0.5 }),
        ("exponential", LrSchedule::Exponential { gamma: 0.9 }),
        ("cosine", LrSchedule::Cosine { t_max: 5, eta_min: 0.001 }),
    ];
    for (name, schedule) in ours {
        for (epoch, &expected) in torch[name].iter().enumerate() {
            let lr = schedule.lr(0.1, epoch as u64);
            assert!(((lr - expected) / expected).abs() < 1e-9, "{name} epoch {epoch}: {lr} vs {expected}");
        }
    }
}
