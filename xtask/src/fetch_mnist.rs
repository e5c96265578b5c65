//! `cargo xtask fetch-mnist`: `latent fetch mnist` for a checkout, with the same options
//! ([`latent_cli::cli::FetchOptions`]): the four MNIST files, verified, into `mnist/` in the
//! user's data directory (or `--dest`). The work is `latent_cli::commands::fetch`'s.

use std::process::ExitCode;

/// Options of `cargo xtask fetch-mnist`: those of `latent fetch`.
pub type Args = latent_cli::cli::FetchOptions;

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    latent_cli::commands::fetch::fetch(&latent_data::catalog::MNIST, &args)?;
    Ok(ExitCode::SUCCESS)
}
