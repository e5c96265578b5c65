//! `cargo xtask <chore>`: the project's chores, kept out of the library crates.
//!
//! One module per chore: [`fetch_mnist`] downloads and verifies MNIST, [`make_sample`] builds the
//! bundled sample from the full files, [`gradcheck`] runs the finite-difference suite over every
//! registered op, [`bench`](mod@bench) measures training throughput against PyTorch and the kernels'
//! GFLOP/s.

mod bench;
mod fetch_mnist;
mod gradcheck;
mod make_sample;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "latent's project chores")]
struct Cli {
    #[command(subcommand)]
    chore: Chore,
}

#[derive(Subcommand)]
enum Chore {
    /// Download the four MNIST files, verified by the SHA-256 of their decompressed content.
    FetchMnist(fetch_mnist::Args),
    /// Build `datasets/mnist-sample/` from the full MNIST files.
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
