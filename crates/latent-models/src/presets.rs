//! Named configurations: the architectures users ask for, with training defaults, gathered from
//! every built-in family ([`crate::families`]); each family declares its own in its file.
//!
//! `latent train <model> --preset <name>` picks one; every preset's fields can then be changed
//! by flags. The first preset listed for a model is its default.

use crate::error::Result;
pub use crate::family::Preset;
use crate::family::Registry;

/// Every built-in preset, in the order `latent train --help` lists them.
pub fn all() -> Vec<Preset> {
    Registry::builtin().presets()
}

/// The command-line model names of the built-in families.
pub fn models() -> Vec<&'static str> {
    Registry::builtin().model_names()
}

/// The preset `name` of `model`, or the model's default (its first preset) when `name` is
/// `None`.
///
/// # Errors
/// If the model or preset is unknown (the message lists the choices).
pub fn preset(model: &str, name: Option<&str>) -> Result<Preset> {
    Registry::builtin().preset(model, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid_and_every_model_has_one() {
        for p in all() {
            p.config.validate().unwrap_or_else(|e| panic!("{} {}: {e}", p.model, p.name));
            p.train.validate().unwrap_or_else(|e| panic!("{} {}: {e}", p.model, p.name));
        }
        let names = models();
        for m in ["ae", "dae", "sparse", "contractive", "vae", "conv-ae", "conv-vae", "cvae", "gan", "dcgan", "cgan"] {
            assert!(names.contains(&m), "{m} missing from {names:?}");
            preset(m, None).unwrap();
        }
    }

    #[test]
    fn unknown_names_list_the_choices() {
        let e = preset("vae", Some("huge")).unwrap_err().to_string();
        assert!(e.contains("pytorch-examples") && e.contains("huge"), "{e}");
        let e = preset("transformer", None).unwrap_err().to_string();
        assert!(e.contains("contractive"), "{e}");
    }
}
