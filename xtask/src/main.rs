//! `cargo xtask <chore>`: the project's chores, kept out of the library crates.
//!
//! One module per chore: [`gradcheck`] runs the finite-difference suite over every registered op.

mod gradcheck;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "latent's project chores")]
struct Cli {
    #[command(subcommand)]
    chore: Chore,
}

#[derive(Subcommand)]
enum Chore {
    /// Check every registered op's gradient against central finite differences.
    Gradcheck(gradcheck::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.chore {
        Chore::Gradcheck(args) => gradcheck::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
