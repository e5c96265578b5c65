//! IDX content gzip-compressed first, so a mutated header reaches the checks behind decompression.

#![no_main]

#[path = "../../crates/latent-data/tests/entries/mod.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = entries::idx_gzipped(data);
});
