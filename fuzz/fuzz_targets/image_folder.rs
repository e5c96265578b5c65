//! An image (any bytes) in a one-class image folder, read as the folder reader reads it:
//! every header first, then decoded (`latent_data::images`).

#![no_main]

#[path = "../../crates/latent-data/tests/entries/mod.rs"]
mod entries;

use std::path::Path;
use std::sync::OnceLock;

/// One scratch directory for the whole run (in /dev/shm where there is one).
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(latent_testkit::files::scratch_dir).path()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = entries::image_folder(data, &scratch().join("folder"));
});
