//! A run directory's weights, state and metrics (packed), read as eval and --resume read them.

#![no_main]

#[path = "../../crates/latent-models/tests/entries/mod.rs"]
mod entries;

use std::path::Path;
use std::sync::OnceLock;

/// One scratch directory for the whole run (in /dev/shm where there is one).
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(latent_testkit::files::scratch_dir).path()
}

/// A valid `config.json` (of a VAE trained for one epoch on tiny data).
fn config() -> &'static [u8] {
    static CONFIG: OnceLock<Vec<u8>> = OnceLock::new();
    CONFIG.get_or_init(|| entries::inputs::run("vae").swap_remove(0))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = entries::run_dir(data, config(), scratch());
    // The same files resealed, so damage behind the checksums is reached too.
    let files = latent_testkit::files::unpack(data, 3);
    let (model, state) = (latent_testkit::reseal(files[0]), latent_testkit::reseal(files[1]));
    let _ = entries::run_dir(&latent_testkit::files::pack(&[&model, &state, files[2]]), config(), scratch());
});
