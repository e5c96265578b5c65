//! latent-ml: train, evaluate and study autoencoders and generative models on the CPU.
//!
//! This crate is the `latent` command (`cargo install latent-ml` installs it under that name)
//! and re-exports the workspace's layers, lowest first, so a user can depend on one crate and
//! still see the design:

/// n-d `f32` tensors, reverse-mode autodiff and parallel SIMD kernels (and, with its `gradcheck`
/// feature, the gradient checker).
pub use latent_tensor as tensor;

/// Layers (PyTorch layouts and names), initialisers, optimisers (SGD, Adam/AdamW, RMSprop),
/// learning-rate schedules, and safetensors checkpoints that load into `torch.nn` modules.
pub use latent_nn as nn;

/// Loss functions: reconstruction, VAE (KL, reparameterisation), sparsity, contractive, GAN and
/// classification losses, checked against PyTorch.
pub use latent_losses as losses;

/// MNIST-format (IDX) loading, batching, transforms, the built-in MNIST sample, NumPy
/// `.npy`/`.npz` arrays, and verified downloads of named data sets.
pub use latent_data as data;

/// The models (autoencoder family, VAE, the 8-3-8 network), presets, and the training loop.
pub use latent_models as models;

/// Pictures from arrays as PNG: image grids, line charts, scatter plots.
pub use latent_viz as viz;

/// Exports to other engines: ONNX graphs and self-contained PyTorch modules, with a JSON
/// description of the data.
pub use latent_export as export;

/// The `latent` command's library: subcommands, what a run draws, progress, Ctrl-C.
pub use latent_cli as cli;

// The README's library example is compiled and run with the doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
