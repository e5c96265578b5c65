//! A `.npy` header dictionary and data, framed with a matching magic, version and length.

#![no_main]

#[path = "../../crates/latent-data/tests/entries/mod.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = entries::npy_framed(data);
});
