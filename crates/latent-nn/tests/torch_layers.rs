//! Layers against `torch.nn` on the fixtures of `make_fixtures.py`: outputs, and gradients of
//! `sum(output * r)` with respect to the input and every parameter; BatchNorm also in training
//! mode with its running statistics after the step.

mod common;

use std::collections::BTreeMap;

use common::{fixture, read_f32, rel_err};
use latent_nn::layers::{
    BatchNorm1d, BatchNorm2d, BatchNormConfig, Conv2d, ConvTranspose2d, Elu, LeakyRelu, Linear, Relu, Sigmoid,
    Softplus, Tanh,
};
use latent_nn::{BufferMut, Ctx, Layer, Module};
use latent_tensor::{ConvOptions, Tensor, TensorRng};
use ndarray::ArrayD;

const TOLERANCE: f64 = 1e-5;

type Fixtures = BTreeMap<String, ArrayD<f32>>;

fn load() -> Fixtures {
    read_f32(&fixture("layers.safetensors")).0
}

fn param(fx: &Fixtures, tag: &str, name: &str) -> Tensor {
    Tensor::parameter(fx[&format!("{tag}.{name}")].clone())
}

fn close(what: &str, ours: &ArrayD<f32>, torch: &ArrayD<f32>) -> f64 {
    let err = rel_err(ours, torch);
    assert!(err < TOLERANCE, "{what}: relative error {err:.2e}");
    err
}

/// Run `layer` on the fixture input, compare the output and the gradients of the input and of
/// `params` (fixture names) with PyTorch's; the worst relative error.
fn compare(fx: &Fixtures, tag: &str, layer: &mut dyn Layer, params: &[(&str, &Tensor)], training: bool) -> f64 {
    let x = Tensor::parameter(fx[&format!("{tag}.input")].clone());
    let mut ctx = if training { Ctx::train(TensorRng::seed_from_u64(0)) } else { Ctx::eval() };
    let y = layer.forward(&x, &mut ctx).unwrap();
    let r = Tensor::new(fx[&format!("{tag}.r")].clone());
    let grads = y.mul(&r).unwrap().sum_all().backward().unwrap();
    let mut worst = close(&format!("{tag} output"), &y.to_array(), &fx[&format!("{tag}.out")]);
    worst =
        worst.max(close(&format!("{tag} grad input"), grads.get_array(&x).unwrap(), &fx[&format!("{tag}.grad.input")]));
    for (name, p) in params {
        let err = close(&format!("{tag} grad {name}"), grads.get_array(p).unwrap(), &fx[&format!("{tag}.grad.{name}")]);
        worst = worst.max(err);
    }
    println!("{tag:<18} max relative error {worst:.2e}");
    worst
}

#[test]
fn linear_matches_torch() {
    let fx = load();
    let (w, b) = (param(&fx, "linear", "weight"), param(&fx, "linear", "bias"));
    let mut layer = Linear::from_tensors(w.clone(), Some(b.clone())).unwrap();
    compare(&fx, "linear", &mut layer, &[("weight", &w), ("bias", &b)], false);
}

#[test]
fn conv2d_matches_torch() {
    let fx = load();
    let (w, b) = (param(&fx, "conv2d", "weight"), param(&fx, "conv2d", "bias"));
    let mut layer = Conv2d::from_tensors(w.clone(), Some(b.clone()), ConvOptions::new(2, 1)).unwrap();
    compare(&fx, "conv2d", &mut layer, &[("weight", &w), ("bias", &b)], false);
}

#[test]
fn conv_transpose2d_matches_torch() {
    let fx = load();
    let (w, b) = (param(&fx, "conv_transpose2d", "weight"), param(&fx, "conv_transpose2d", "bias"));
    let options = ConvOptions { stride: (2, 2), padding: (1, 1), output_padding: (1, 1) };
    let mut layer = ConvTranspose2d::from_tensors(w.clone(), Some(b.clone()), options).unwrap();
    compare(&fx, "conv_transpose2d", &mut layer, &[("weight", &w), ("bias", &b)], false);
}

/// Put the fixture's initial running statistics into a BatchNorm layer.
fn set_running_stats(fx: &Fixtures, tag: &str, layer: &mut dyn Layer) {
    layer.visit_buffers_mut("", &mut |name, b| {
        if let BufferMut::F32(a) = b {
            a.assign(&fx[&format!("{tag}.{name}")]);
        }
    });
}

fn batch_norm(tag: &str, momentum: f32, two_d: bool, training: bool) {
    let fx = load();
    let (w, b) = (param(&fx, tag, "weight"), param(&fx, tag, "bias"));
    let config = BatchNormConfig { momentum: Some(momentum), ..BatchNormConfig::new(w.len()) };
    let mut layer: Box<dyn Layer> = if two_d {
        Box::new(BatchNorm2d::from_tensors(&config, w.clone(), b.clone()).unwrap())
    } else {
        Box::new(BatchNorm1d::from_tensors(&config, w.clone(), b.clone()).unwrap())
    };
    set_running_stats(&fx, tag, &mut *layer);
    compare(&fx, tag, &mut *layer, &[("weight", &w), ("bias", &b)], training);
    let mut stats = BTreeMap::new();
    layer.visit_buffers("", &mut |name, b| {
        if let latent_nn::Buffer::F32(a) = b {
            stats.insert(name.to_string(), a.clone());
        }
    });
    close(&format!("{tag} running_mean"), &stats["running_mean"], &fx[&format!("{tag}.running_mean_after")]);
    close(&format!("{tag} running_var"), &stats["running_var"], &fx[&format!("{tag}.running_var_after")]);
}

#[test]
fn batch_norm_1d_training_matches_torch() {
    batch_norm("batchnorm1d", 0.1, false, true);
}

#[test]
fn batch_norm_1d_on_sequences_matches_torch() {
    batch_norm("batchnorm1d_3d", 0.3, false, true);
}

#[test]
fn batch_norm_2d_training_matches_torch() {
    batch_norm("batchnorm2d", 0.1, true, true);
}

#[test]
fn batch_norm_2d_evaluation_matches_torch() {
    batch_norm("batchnorm2d_eval", 0.1, true, false);
}

#[test]
fn activations_match_torch() {
    let fx = load();
    let x = Tensor::new(fx["activation.input"].clone());
    let layers: Vec<(&str, Box<dyn Layer>)> = vec![
        ("relu", Box::new(Relu)),
        ("leaky_relu", Box::new(LeakyRelu::new(0.2).unwrap())),
        ("elu", Box::new(Elu::new(0.7).unwrap())),
        ("sigmoid", Box::new(Sigmoid)),
        ("tanh", Box::new(Tanh)),
        ("softplus", Box::new(Softplus::default())),
        ("softplus_beta", Box::new(Softplus::new(2.5).unwrap())),
    ];
    let mut worst = 0f64;
    for (name, mut layer) in layers {
        let y = layer.forward(&x, &mut Ctx::eval()).unwrap();
        worst = worst.max(close(name, &y.to_array(), &fx[&format!("activation.{name}")]));
    }
    println!("activations        max relative error {worst:.2e}");
}
