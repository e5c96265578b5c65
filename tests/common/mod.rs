//! What the end-to-end tests share: running the `latent` binary hermetically (without the
//! caller's `LATENT_DATA_DIR` or `LATENT_MAX_MEMORY`) and checking how it ended.

#![allow(dead_code)] // each test file uses its own part

use std::path::Path;
use std::process::{Command, Output};

/// Runs `latent args` and returns how it ended.
pub fn latent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latent"))
        .args(args)
        .env_remove("LATENT_DATA_DIR")
        .env_remove("LATENT_MAX_MEMORY")
        .output()
        .expect("the latent binary runs")
}

/// Runs `latent args`, which must succeed; returns its stdout followed by its stderr.
pub fn ok(args: &[&str]) -> String {
    let out = latent(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "latent {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned() + &stderr
}

/// Runs `latent args`, which must fail with `expected` in its error.
pub fn fails(args: &[&str], expected: &str) {
    let out = latent(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "latent {args:?} should fail");
    assert!(stderr.contains(expected), "latent {args:?}: expected `{expected}` in:\n{stderr}");
}

/// A path as the `&str` an argument list takes.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
