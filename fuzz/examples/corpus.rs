//! Writes the seed corpus of every fuzz target: the valid inputs the mutation tests start from,
//! one file each, in `corpus/<target>/` (run from `fuzz/`: `cargo run --example corpus`).

#[allow(dead_code)]
#[path = "../../crates/latent-data/tests/entries/mod.rs"]
mod data;
#[allow(dead_code)]
#[path = "../../crates/latent-models/tests/entries/mod.rs"]
mod models;
#[allow(dead_code)]
#[path = "../../crates/latent-nn/tests/entries/mod.rs"]
mod nn;

use std::path::Path;

fn main() -> std::io::Result<()> {
    let vae = models::inputs::run("vae");
    let corpora: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("idx", data::inputs::idx_raw().into_iter().chain(data::inputs::idx_gzip()).collect()),
        ("idx_gzipped", data::inputs::idx_raw()),
        ("mnist_split", data::inputs::mnist_split()),
        ("npy", data::inputs::npy()),
        ("npy_header", data::inputs::npy_framed()),
        ("npz", data::inputs::npz()),
        ("manifest", data::inputs::manifest()),
        ("csv", data::inputs::csv()),
        ("checkpoint", nn::inputs::checkpoints()),
        ("train_state", nn::inputs::train_states()),
        ("run_config", models::inputs::configs()),
        ("run_dir", vec![latent_testkit::files::pack(&[&vae[1], &vae[2], &vae[3]])]),
    ];
    for (target, inputs) in corpora {
        let dir = Path::new("corpus").join(target);
        std::fs::create_dir_all(&dir)?;
        for (i, input) in inputs.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), input)?;
        }
        println!("{target}: {} seeds in {}", inputs.len(), dir.display());
    }
    Ok(())
}
