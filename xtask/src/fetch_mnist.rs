//! `cargo xtask fetch-mnist [--dataset NAME]`: `latent fetch NAME` for a checkout, with the same
//! options ([`latent_cli::cli::FetchOptions`]): the four files of a named data set (MNIST unless
//! `--dataset` says otherwise), verified, into its directory in the user's data directory (or
//! `--dest`). The work is `latent_cli::commands::fetch`'s.

use std::process::ExitCode;

/// Options of `cargo xtask fetch-mnist`: the data set, and those of `latent fetch`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The named MNIST-format data set to fetch (mnist, fashion-mnist, kmnist).
    #[arg(long, default_value = "mnist")]
    dataset: String,
    #[command(flatten)]
    options: latent_cli::cli::FetchOptions,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dataset = latent_data::catalog::find(&args.dataset).map_err(|e| anyhow::anyhow!("--dataset: {e}"))?;
    latent_cli::commands::fetch::fetch(dataset, &args.options)?;
    Ok(ExitCode::SUCCESS)
}
