//! The library behind the `latent` command.
//!
//! [`main`] parses the command line ([`cli`]) and runs one subcommand ([`commands`]: one file
//! each); [`pictures`] says what a run draws each epoch. The rest is the command's output
//! toolkit, everything it writes for a person or another tool:
//!
//! - [`fsio`]: atomic file writes, used by everything else here.
//! - [`npy`]: NumPy `.npy` arrays (samples, latent codes) and reading them back.
//! - [`mod@image`]: grids of images as PNG (originals above reconstructions, samples).
//! - [`plot`]: training curves as a line chart PNG.
//! - [`scatter`]: 2-D latent codes coloured by digit as a scatter PNG.
//! - [`canvas`]: the RGB raster that grids and charts are drawn on, and its PNG encoding.
//! - [`progress`]: the training progress display (a bar on a terminal, plain lines in logs).
//! - [`interrupt`]: Ctrl-C: stop after this batch and save, or quit at once on the second press.
//! - [`error`]: [`OutputError`], the error of the above.

mod axes;
pub mod canvas;
pub mod cli;
pub mod commands;
pub mod error;
pub mod fsio;
pub mod image;
pub mod interrupt;
pub mod npy;
pub mod pictures;
pub mod plot;
pub mod progress;
pub mod scatter;

pub use canvas::Canvas;
pub use error::OutputError;
pub use fsio::{write_atomic, write_bytes, write_json};
pub use image::{ImageGrid, ValueRange};
pub use interrupt::StopFlag;
pub use npy::{read_npy, read_npy_f32, write_npy};
pub use plot::LineChart;
pub use progress::{Progress, ProgressMode};
pub use scatter::ScatterPlot;

/// Run the `latent` command: parse the arguments, run the subcommand, report any error (with
/// its chain of causes) on stderr. Exits 0 on success, 1 on an error, 2 on bad usage (clap).
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

// The README's example is compiled and run with the doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
