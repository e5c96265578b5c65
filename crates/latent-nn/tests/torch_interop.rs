//! Checkpoints cross between this crate and PyTorch in both directions.
//!
//! `write_rust_fixtures` (ignored; run once with `--ignored`) writes `rust_model.safetensors`
//! and `interop_input.safetensors`; `make_fixtures.py` loads the checkpoint into the same
//! `torch.nn.Sequential` with `load_state_dict(strict=True)`, runs it on the input and saves
//! the output, and also saves a checkpoint of its own model (`torch_model.safetensors`) with
//! that model's output. The tests here load both checkpoints and match PyTorch's outputs.

mod common;

use common::{fixture, read_f32, rel_err, write_f32};
use latent_nn::layers::{BatchNormConfig, Conv2dConfig, ConvTranspose2dConfig, LayerSpec, LinearConfig, Sequential};
use latent_nn::{Ctx, Layer, load_checkpoint, read_config, save_checkpoint};
use latent_tensor::{Tensor, TensorRng};

/// The interop model; `make_fixtures.py` builds the same `torch.nn.Sequential`.
fn specs() -> Vec<LayerSpec> {
    vec![
        LayerSpec::Conv2d(Conv2dConfig::new(1, 4, 3).stride(2).padding(1)),
        LayerSpec::BatchNorm2d(BatchNormConfig::new(4)),
        LayerSpec::Relu,
        LayerSpec::Dropout { p: 0.25 },
        LayerSpec::ConvTranspose2d(ConvTranspose2dConfig::new(4, 2, 4).stride(2).padding(1)),
        LayerSpec::LeakyRelu { negative_slope: 0.2 },
        LayerSpec::Flatten { start_dim: 1 },
        LayerSpec::Linear(LinearConfig::new(128, 6)),
        LayerSpec::BatchNorm1d(BatchNormConfig::new(6)),
        LayerSpec::Elu { alpha: 1.0 },
        LayerSpec::Linear(LinearConfig::new(6, 8)),
        LayerSpec::Unflatten { dim: 1, sizes: vec![2, 2, 2] },
        LayerSpec::Softplus { beta: 2.0 },
        LayerSpec::Tanh,
    ]
}

/// The model on `x` in evaluation mode.
fn eval(model: &mut Sequential, x: &ndarray::ArrayD<f32>) -> ndarray::ArrayD<f32> {
    model.forward(&Tensor::new(x.clone()), &mut Ctx::eval()).unwrap().to_array()
}

#[test]
#[ignore = "writes the Rust side of the interop fixtures; run once, then run make_fixtures.py"]
fn write_rust_fixtures() {
    let mut rng = TensorRng::seed_from_u64(2024);
    let mut model = Sequential::from_specs(&specs(), &mut rng).unwrap();
    // Two training batches, so the BatchNorm statistics are not their initial values.
    let mut ctx = Ctx::train(TensorRng::seed_from_u64(7));
    for _ in 0..2 {
        model.forward(&rng.randn(&[5, 1, 8, 8]), &mut ctx).unwrap();
    }
    save_checkpoint(fixture("rust_model.safetensors"), &model, &specs()).unwrap();
    let input = rng.normal_array(&[3, 1, 8, 8], 0.0, 1.0).unwrap();
    write_f32(&fixture("interop_input.safetensors"), &[("input", &input)]);
}

#[test]
fn pytorch_loads_our_checkpoint_strictly_and_computes_the_same_output() {
    let path = fixture("rust_model.safetensors");
    // The configuration in the metadata rebuilds the model (with other initial weights).
    let config: Vec<LayerSpec> = read_config(&path).unwrap();
    assert_eq!(config, specs());
    let mut model = Sequential::from_specs(&config, &mut TensorRng::seed_from_u64(1)).unwrap();
    load_checkpoint(&path, &mut model).unwrap();
    let (inputs, _) = read_f32(&fixture("interop_input.safetensors"));
    let (torch, meta) = read_f32(&fixture("torch_outputs.safetensors"));
    assert_eq!(meta.get("strict_load").map(String::as_str), Some("ok"));
    let ours = eval(&mut model, &inputs["input"]);
    let err = rel_err(&ours, &torch["output_of_rust_model"]);
    println!("rust checkpoint in torch: max relative error {err:.2e}");
    assert!(err < 1e-5, "{err}");
}

#[test]
fn we_load_a_pytorch_checkpoint_and_compute_the_same_output() {
    let mut model = Sequential::from_specs(&specs(), &mut TensorRng::seed_from_u64(3)).unwrap();
    load_checkpoint(fixture("torch_model.safetensors"), &mut model).unwrap();
    let (inputs, _) = read_f32(&fixture("interop_input.safetensors"));
    let (torch, _) = read_f32(&fixture("torch_outputs.safetensors"));
    let ours = eval(&mut model, &inputs["input"]);
    let err = rel_err(&ours, &torch["output_of_torch_model"]);
    println!("torch checkpoint here: max relative error {err:.2e}");
    assert!(err < 1e-5, "{err}");
}
