//! Layers, initialisers, optimisers and checkpoints on top of `latent-tensor`, with PyTorch's
//! layouts, names, defaults and arithmetic, so a model here and the same model in PyTorch start
//! alike, train alike and exchange weights.
//!
//! # The design in one paragraph
//! A [`Layer`] maps a tensor to a tensor ([`Layer::forward`]); every layer and model is a
//! [`Module`], which shows its parameters, buffers and sub-modules to a visitor under PyTorch
//! `state_dict` names ([`Module::visit_params`]; a Linear at `encoder.0` owns
//! `encoder.0.weight` and `encoder.0.bias`) and is derived from the struct's fields with
//! `#[derive(Module)]` ([`module`] has the field rules). Parameters are
//! [`Tensor::parameter`](latent_tensor::Tensor::parameter) leaves held by the layers, outside
//! any graph: a training step runs `forward`, which builds a fresh graph on the leaves, calls
//! `backward` on the loss, drops the graph, and lets an [`Optimizer`](optim::Optimizer) edit the
//! leaves in place, by name. Train/eval mode and the dropout generator travel in a [`Ctx`]
//! passed to `forward`: the mode belongs to the call, so nothing has to be switched back.
//! Everything that persists is a safetensors file: weights with PyTorch's names and layouts
//! ([`checkpoint`]), and the optimiser moments, generator states and epoch ([`train_state`]).
//!
//! # Who owns what
//! - [`module`]: the [`Module`] trait and its derive, the [`Layer`] trait, buffers, [`Ctx`],
//!   and name building ([`join`]).
//! - [`layers`]: one family per file: [`Linear`](layers::Linear), [`Conv2d`](layers::Conv2d) and
//!   [`ConvTranspose2d`](layers::ConvTranspose2d), [`BatchNorm1d`](layers::BatchNorm1d) and
//!   [`BatchNorm2d`](layers::BatchNorm2d), [`Dropout`](layers::Dropout), the activations,
//!   [`Flatten`](layers::Flatten)/[`Unflatten`](layers::Unflatten),
//!   [`Sequential`](layers::Sequential), and [`LayerSpec`](layers::LayerSpec) (a serialisable
//!   description that rebuilds a layer, for configurations).
//! - [`init`]: PyTorch's default initialisers, Xavier/Glorot, Kaiming/He, DCGAN's `N(0, 0.02²)`.
//! - [`optim`]: SGD (momentum, Nesterov, weight decay), Adam, AdamW, RMSprop; clipping by
//!   global norm; learning-rate schedules (step, exponential, cosine).
//! - [`checkpoint`]: saving and loading weights (+ configuration JSON in the metadata).
//! - [`train_state`]: the training-state file that makes resuming exact.
//! - [`store`]: safetensors encoding, checksums and atomic writes shared by both files.
//! - [`error`]: [`NnError`], which names the layer, file or tensor and what was expected.
//! - `gradcheck` (with the `gradcheck` feature, on in CI and tests): this crate's entries for
//!   `cargo xtask gradcheck`, each also a test in `tests/gradcheck.rs`.
//!
//! # A training step
//! ```
//! use latent_nn::layers::{Linear, Relu, Sequential};
//! use latent_nn::optim::{Adam, AdamConfig, Optimizer};
//! use latent_nn::{Ctx, Layer, Module};
//! use latent_tensor::{Tensor, TensorRng};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut rng = TensorRng::seed_from_u64(0);
//! let mut model = Sequential::new().with(Linear::new(4, 8, &mut rng)?).with(Relu).with(Linear::new(8, 1, &mut rng)?);
//! let mut opt = Adam::new(AdamConfig::adam(1e-2))?;
//! let mut ctx = Ctx::train(TensorRng::seed_from_u64(1));
//! let (x, y) = (rng.randn(&[16, 4]), rng.randn(&[16, 1]));
//! let loss = model.forward(&x, &mut ctx)?.sub(&y)?.square().mean_all()?;
//! let grads = loss.backward()?;
//! drop(loss); // the graph goes; the parameters stay in the model
//! opt.step(&mut model, &grads)?;
//! assert_eq!(model.parameter_count(), 4 * 8 + 8 + 8 + 1);
//! # Ok(())
//! # }
//! ```
//!
//! Parameters held in plain variables rather than a module train the same way through
//! [`Optimizer::step_tensors`](optim::Optimizer::step_tensors) (its docs fit a line with Adam).
//!
//! # Interoperability with PyTorch
//! A checkpoint written by [`checkpoint::save_checkpoint`] loads into the equivalent `torch.nn`
//! module with `strict=True` (the fixture script `tests/fixtures/make_fixtures.py` does exactly
//! this with a Conv2d/BatchNorm/ConvTranspose2d/Linear model):
//! ```python
//! import torch
//! from safetensors.torch import load_file
//! model = torch.nn.Sequential(torch.nn.Linear(784, 400), torch.nn.ReLU(), torch.nn.Linear(400, 20))
//! model.load_state_dict(load_file("model.safetensors"), strict=True)
//! ```

// The derive's generated code names this crate `::latent_nn`, here as everywhere else.
extern crate self as latent_nn;

pub mod checkpoint;
pub mod error;
#[cfg(feature = "gradcheck")]
pub mod gradcheck;
pub mod init;
pub mod layers;
pub mod module;
pub mod optim;
pub mod store;
pub mod train_state;

pub use checkpoint::{load_checkpoint, read_config, save_checkpoint};
pub use error::{NnError, Result};
#[cfg(feature = "gradcheck")]
pub use gradcheck::gradcheck_registry;
pub use module::{Buffer, BufferField, BufferMut, Ctx, Layer, Module, join};
pub use train_state::TrainingState;

// The README's example is compiled and run with the doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
