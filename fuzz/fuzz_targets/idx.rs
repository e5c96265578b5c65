//! An IDX file, raw or gzip.

#![no_main]

#[path = "../../crates/latent-data/tests/entries/mod.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = entries::idx(data);
});
