//! `cargo xtask <chore>`: the project's chores, kept out of the library crates.
//!
//! One module per chore: [`fetch_mnist`] downloads and verifies MNIST (as `latent fetch mnist`), [`make_sample`] builds the
//! bundled sample from the full files, [`gradcheck`] runs the finite-difference suite over every
//! registered op, [`bench`](mod@bench) measures training throughput against PyTorch and the kernels'
//! GFLOP/s.

mod bench;
mod fetch_mnist;
mod gradcheck;
mod make_sample;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

/// The workspace root: the parent of the xtask crate.
pub fn workspace_root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

#[derive(Parser)]
#[command(name = "cargo xtask", about = "latent's project chores")]
struct Cli {
    #[command(subcommand)]
    chore: Chore,
}

#[derive(Subcommand)]
enum Chore {
    /// Download the four files of MNIST (or `--dataset fashion-mnist|kmnist`), verified.
    FetchMnist(fetch_mnist::Args),
    /// Build the MNIST sample built into latent-data from the full MNIST files.
    MakeSample(make_sample::Args),
    /// Check every registered op's gradient against central finite differences.
    Gradcheck(gradcheck::Args),
    /// Benchmark end-to-end training (optionally against PyTorch) and the GEMM/conv kernels.
    Bench(bench::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.chore {
        Chore::FetchMnist(args) => fetch_mnist::run(args),
        Chore::MakeSample(args) => make_sample::run(args),
        Chore::Gradcheck(args) => gradcheck::run(args),
        Chore::Bench(args) => bench::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
