//! latent's model families, one file each: the configuration, its presets and flags, and the
//! model it builds (see [`crate::family`] for what a family declares).
//!
//! - [`autoencoder`]: `ae`, `dae`, `sparse`, `contractive`, `conv-ae` — one autoencoder type on
//!   an MLP or convolutional trunk.
//! - [`vae`]: `vae`, `conv-vae`, `cvae` — one Gaussian VAE type on either trunk, optionally
//!   conditioned on labels.
//! - [`gan`]: `gan`, `cgan` — the MLP GANs and the adversarial step every GAN shares.
//! - [`dcgan`]: `dcgan` — the convolutional GAN's architecture.
//! - [`classifier`]: `classifier` — the judge of generated samples, trained like any model.
//!
//! Adding a family: one new file implementing [`crate::FamilyConfig`] (with its presets) and
//! one line in [`BUILTIN`].

pub mod autoencoder;
pub mod classifier;
pub mod dcgan;
pub mod gan;
pub mod vae;

use crate::family::{Family, FamilyOf};

/// The built-in families, in the order `latent train --help` lists their models.
pub static BUILTIN: &[&dyn Family] = &[
    &FamilyOf::<autoencoder::AutoencoderConfig>::NEW,
    &FamilyOf::<vae::VaeConfig>::NEW,
    &FamilyOf::<gan::GanConfig>::NEW,
    &FamilyOf::<dcgan::DcganConfig>::NEW,
    &FamilyOf::<classifier::ClassifierConfig>::NEW,
];
