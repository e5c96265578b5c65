//! latent: train, evaluate and study autoencoders and generative models on the CPU.
//!
//! This root crate re-exports the workspace's layers so a user can depend on one crate:
//! [`tensor`] (n-d tensors and reverse-mode autodiff), [`losses`] (reconstruction, divergence,
//! regulariser, adversarial and classification losses) and [`data`] (MNIST-format loading,
//! batching and transforms).

pub use latent_data as data;
pub use latent_losses as losses;
pub use latent_tensor as tensor;
