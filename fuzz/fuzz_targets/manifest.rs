//! A data directory's MANIFEST.

#![no_main]

#[path = "../../crates/latent-data/tests/entries/mod.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = entries::manifest(data);
});
