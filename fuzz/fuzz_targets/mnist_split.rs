//! An MNIST split: images and labels packed in one input.

#![no_main]

#[path = "../../crates/latent-data/tests/entries/mod.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = entries::mnist_split(data);
});
