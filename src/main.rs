//! The `latent` command. Everything it does lives in the `latent-cli` crate.

fn main() -> std::process::ExitCode {
    latent_cli::main()
}
