//! Loss functions for autoencoders and generative models, on [`latent_tensor`] tensors.
//!
//! # What is here
//! One module per family of losses, each a set of plain functions of tensors returning a
//! differentiable [`Tensor`](latent_tensor::Tensor):
//! - [`reconstruction`]: [`mse_loss`], [`binary_cross_entropy`] on probabilities (logs clamped
//!   at -100 as PyTorch does), [`binary_cross_entropy_with_logits`] (stable for any logit),
//!   [`gaussian_nll_loss`].
//! - [`divergence`]: the VAE's closed-form [`gaussian_kl_standard_normal`] and the
//!   reparameterised sample [`reparameterize`].
//! - [`sparsity`]: the sparse autoencoder's [`l1_activity`] and [`kl_sparsity`] penalties.
//! - [`contractive`]: [`contractive_sigmoid`], the squared Frobenius norm of a sigmoid encoder's
//!   Jacobian in closed form.
//! - [`adversarial`]: the GAN losses on logits, chosen by [`GanLoss`] (minimax, non-saturating,
//!   least squares, Wasserstein, hinge).
//! - [`classification`]: [`cross_entropy`] with integer labels and [`accuracy`], for probes on
//!   latent codes.
//! - [`reduction`]: [`Reduction`] (`None`, `Sum`, `Mean` with PyTorch's meaning, and `BatchMean`,
//!   the sum per example averaged over the batch) and [`sum_per_example`].
//! - [`error`]: [`LossError`], which names the loss and what it expected.
//! - `gradcheck_registry` (with the `gradcheck` feature, on in CI and tests): one gradient
//!   check per loss, run by `cargo xtask gradcheck` and, each as its own test, by
//!   `tests/gradcheck.rs`.
//!
//! # Example
//! A VAE's loss on a batch of two: Bernoulli reconstruction on logits plus the KL divergence of
//! the posterior from the prior, each summed, and the gradient reaching the encoder's outputs.
//! ```
//! use latent_losses::{Reduction, binary_cross_entropy_with_logits, gaussian_kl_standard_normal};
//! use latent_tensor::Tensor;
//!
//! let target = Tensor::from_vec(&[2, 3], vec![0.0, 1.0, 1.0, 0.0, 0.0, 1.0])?;
//! let logits = Tensor::from_vec(&[2, 3], vec![-2.0, 1.5, 0.5, -1.0, 0.0, 3.0])?.to_leaf();
//! let (mu, logvar) = (Tensor::zeros(&[2, 2]).to_leaf(), Tensor::zeros(&[2, 2]).to_leaf());
//! let recon = binary_cross_entropy_with_logits(&logits, &target, Reduction::Sum)?;
//! let kl = gaussian_kl_standard_normal(&mu, &logvar, Reduction::Sum)?;
//! assert_eq!(kl.item()?, 0.0); // the posterior is the prior
//! let loss = &recon + &kl;
//! let grads = loss.backward()?;
//! assert_eq!(grads.get(&logits).map(|g| g.shape().to_vec()), Some(vec![2, 3]));
//! # Ok::<(), latent_losses::LossError>(())
//! ```
//!
//! # Semantics
//! - **PyTorch is the reference.** Where `torch.nn.functional` has the loss, the function has
//!   its name, its formula, its reduction semantics and its treatment of edge cases (the -100
//!   log clamp of BCE and its finite gradient at `p = 0, 1`; the `eps` clamp of the Gaussian
//!   NLL's variance, which leaves the gradient flowing). The tests compare values *and*
//!   gradients with PyTorch on committed fixtures (`tests/fixtures/`). Losses PyTorch lacks are
//!   written from the formula in their docs, and the fixtures do the same in PyTorch.
//! - **Loss tensor, then reduction.** Each loss documents its loss tensor's shape: element-wise
//!   (the input's shape) for reconstruction and L1, per example (`[N]`) for the KL, contractive
//!   and cross-entropy losses. The [`Reduction`] applies to that tensor. GAN losses are means
//!   over their batches (the expectations in their formulas), and the KL sparsity penalty is a
//!   statistic of the batch; neither takes a reduction.
//! - **The batch is axis 0.** Shapes are checked and a mismatch is a [`LossError`], never a
//!   silent broadcast.
//! - **Stable on logits.** Everything that takes logits goes through the stable `softplus` and
//!   `log_softmax` of `latent-tensor`, so values and gradients are finite for |logit| = 100.
//! - **Composed from ops.** Losses are built from the differentiable ops of `latent-tensor`, so
//!   their gradients come from its backward rules (the gradient checks confirm the composition).
//!   Where PyTorch's gradient is not the derivative of a composition of ops (BCE on
//!   probabilities at 0 and 1, the value-only clamps), the value and the gradient are given
//!   separately through latent-tensor's fused element-wise op (`Tensor::fused_elementwise`).
//! - **Weights are the caller's.** Every function returns the bare loss or penalty; `β`, `λ`
//!   and friends are multiplied in by the model that combines them.

pub mod adversarial;
pub mod classification;
pub mod contractive;
mod custom_grad;
pub mod divergence;
pub mod error;
pub mod reconstruction;
pub mod reduction;
#[cfg(feature = "gradcheck")]
mod registry;
pub mod sparsity;

pub use adversarial::{
    GanLoss, hinge_discriminator_loss, hinge_generator_loss, least_squares_discriminator_loss,
    least_squares_generator_loss, minimax_discriminator_loss, minimax_generator_loss, non_saturating_generator_loss,
    wasserstein_critic_loss, wasserstein_generator_loss,
};
pub use classification::{accuracy, cross_entropy};
pub use contractive::contractive_sigmoid;
pub use divergence::{gaussian_kl_standard_normal, reparameterize, reparameterize_with_noise};
pub use error::{LossError, Result};
pub use reconstruction::{
    GaussianNllOptions, binary_cross_entropy, binary_cross_entropy_with_logits, gaussian_nll_loss, mse_loss,
};
pub use reduction::{Reduction, sum_per_example};
#[cfg(feature = "gradcheck")]
pub use registry::gradcheck_registry;
pub use sparsity::{kl_sparsity, l1_activity};

// The README's example is compiled and run with the doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
