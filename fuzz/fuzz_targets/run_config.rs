//! A run's `config.json` as `latent info` reads it.

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

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = entries::run_config(data, scratch());
});
