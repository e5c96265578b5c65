//! A CSV table on disk with a label column (`latent_data::csv`).

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
    let _ = entries::csv_file(data, scratch());
});
