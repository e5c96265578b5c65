//! `cargo xtask fetch-mnist`: download the four MNIST files, verified, into `mnist/` in the
//! user's data directory.
//!
//! Each file is taken from the first mirror that serves it intact ([`mirror`]), written
//! atomically ([`atomic`]) and checked by the SHA-256 of its decompressed content before it is
//! put in place ([`download`]); files already present and valid are skipped. `--verify` only
//! checks what is there. On failure the command exits non-zero, saying which file failed on which
//! mirror and why, and how to fetch the files by hand.

pub mod atomic;
pub mod download;
pub mod mirror;
pub mod progress;
#[cfg(test)]
mod test_server;
#[cfg(test)]
pub(crate) mod tests;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use download::{FetchConfig, Fetched, Fetcher, FileSpec, FileState, check_file};
use mirror::{DEFAULT_MIRRORS, Mirror, mirror_list};

/// Options of `cargo xtask fetch-mnist`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Destination directory [default: mnist/ in the user's data directory].
    #[arg(long, value_name = "DIR")]
    pub dest: Option<PathBuf>,
    /// A mirror to try before the defaults: an http(s) base URL, a directory, or a file:// URL.
    /// Repeatable; tried in the order given.
    #[arg(long = "mirror", value_name = "URL_OR_DIR")]
    pub mirrors: Vec<String>,
    /// Do not fall back to the public mirrors.
    #[arg(long)]
    pub no_default_mirrors: bool,
    /// Only check the files already in the destination; download nothing.
    #[arg(long)]
    pub verify: bool,
    /// Seconds to wait to connect, for an answer, and for each read before giving up.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
    /// Retries per mirror after a timeout, a cut transfer or a server error.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub retries: u32,
}

/// `mnist/` in the user's data directory, where the data is looked for.
pub fn default_dest() -> PathBuf {
    latent_data::mnist::data_home().map_or_else(
        || PathBuf::from("mnist"),
        |home| latent_data::mnist::named_dir(&latent_data::catalog::MNIST, &home),
    )
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dest = args.dest.clone().unwrap_or_else(default_dest);
    let specs = FileSpec::mnist();
    if args.verify {
        return Ok(verify_dir(&dest, &specs));
    }
    let mirrors = mirror_list(&args.mirrors, !args.no_default_mirrors);
    let config = FetchConfig {
        timeout: Duration::from_secs(args.timeout.max(1)),
        retries: args.retries,
        ..FetchConfig::default()
    };
    Ok(fetch_all(&specs, &dest, &mirrors, config))
}

/// Fetches every file, prints what happened, and returns success only if all are in place.
pub fn fetch_all(specs: &[FileSpec], dest: &Path, mirrors: &[Mirror], config: FetchConfig) -> ExitCode {
    let fetcher = Fetcher::new(config);
    let mut failures = Vec::new();
    let mut present = 0;
    for spec in specs {
        match fetcher.fetch(spec, dest, mirrors) {
            Ok(Fetched::Present) => {
                present += 1;
                println!("present   {} (verified)", spec.name);
            }
            Ok(Fetched::Fetched { mirror, replaced }) => {
                let verb = if replaced { "replaced" } else { "fetched " };
                println!("{verb}  {} from {mirror} (verified)", spec.name);
            }
            Err(failure) => {
                println!("FAILED    {}", spec.name);
                failures.push(failure);
            }
        }
    }
    if failures.is_empty() {
        if present == specs.len() {
            println!("all {} files already present and valid in {}; nothing downloaded", specs.len(), dest.display());
        } else {
            println!("all {} files in place and verified in {}", specs.len(), dest.display());
        }
        return ExitCode::SUCCESS;
    }
    eprintln!();
    for f in &failures {
        eprintln!("error: {f}");
    }
    eprintln!("{}", by_hand(&failures.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), specs, dest));
    ExitCode::FAILURE
}

/// How to fetch the named files by hand.
fn by_hand(names: &[&str], specs: &[FileSpec], dest: &Path) -> String {
    let mut s = format!(
        "\nTo fetch by hand, download each file from one of {} into {}, e.g.\n",
        DEFAULT_MIRRORS.join(" or "),
        dest.display()
    );
    for name in names {
        s.push_str(&format!("  curl -fL -o {}/{name} {}{name}\n", dest.display(), DEFAULT_MIRRORS[0]));
    }
    let dest_flag = if dest == default_dest() { String::new() } else { format!(" --dest {}", dest.display()) };
    s.push_str(&format!(
        "then check them with `cargo xtask fetch-mnist --verify{dest_flag}`. \
         Expected SHA-256 of the decompressed files (`gunzip -c FILE | sha256sum`):\n"
    ));
    for spec in specs.iter().filter(|s| names.contains(&s.name.as_str())) {
        s.push_str(&format!("  {}  {}\n", spec.sha256, spec.name));
    }
    s
}

/// Checks the files in `dest` without fetching; success only if all are valid.
pub fn verify_dir(dest: &Path, specs: &[FileSpec]) -> ExitCode {
    let mut bad = Vec::new();
    for spec in specs {
        match check_file(&dest.join(&spec.name), &spec.sha256) {
            FileState::Valid => println!("ok       {}", spec.name),
            FileState::Missing => {
                println!("MISSING  {}", spec.name);
                bad.push(spec.name.as_str());
            }
            FileState::Invalid(reason) => {
                println!("INVALID  {}: {reason}", spec.name);
                bad.push(spec.name.as_str());
            }
        }
    }
    if bad.is_empty() {
        println!("all {} files valid in {}", specs.len(), dest.display());
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "error: {} of {} files missing or invalid in {}; run `cargo xtask fetch-mnist` to fetch them",
            bad.len(),
            specs.len(),
            dest.display()
        );
        ExitCode::FAILURE
    }
}
