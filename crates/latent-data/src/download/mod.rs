//! Fetching the named data sets ([`crate::catalog`]) from their mirrors, verified (feature
//! `download`): what `latent fetch NAME` and `cargo xtask fetch-mnist` run.
//!
//! Each file is taken from the first mirror that serves it intact ([`mirror`], [`Fetcher`]),
//! written atomically ([`atomic`]) and checked by the SHA-256 of its decompressed content before
//! it is put in place; files already present and valid are skipped. Transfers are bounded: a
//! timeout on every wait, a minimum transfer rate, a size limit, a bounded number of retries,
//! and host names that do not resolve are not retried. Progress is shown on stderr
//! ([`progress`]), and each attempt is announced as it starts.
//!
//! Partial files never stay behind: an abandoned attempt removes its temporary file, a program
//! that calls [`remove_temp_files_on_signal`] removes them on Ctrl-C or SIGTERM, and temporary
//! files of fetches that were killed outright are swept before the next fetch into the same
//! directory.
//!
//! ```no_run
//! use latent_data::catalog::MNIST;
//! use latent_data::download::{FetchConfig, Fetcher, FileSpec, fetch_all, mirror::mirror_list};
//!
//! let dest = latent_data::mnist::data_home().unwrap().join(MNIST.name);
//! let fetcher = Fetcher::new(FetchConfig::default());
//! let mirrors = mirror_list(&[], MNIST.mirrors);
//! for (name, outcome) in fetch_all(&fetcher, &FileSpec::of(&MNIST), &dest, &mirrors) {
//!     match outcome {
//!         Ok(fetched) => println!("{name}: {fetched:?}"),
//!         Err(failure) => eprintln!("{failure}"),
//!     }
//! }
//! ```

pub mod atomic;
mod fetcher;
pub mod mirror;
pub mod progress;
#[cfg(test)]
mod test_server;
#[cfg(test)]
pub(crate) mod tests;

use std::path::Path;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use fetcher::{
    Attempt, DEFAULT_MAX_BYTES, DEFAULT_MIN_RATE, Failure, FetchConfig, Fetched, Fetcher, FileSpec, FileState,
    check_file,
};
pub use mirror::Mirror;
pub use progress::ProgressMode;

/// Fetches every file in turn (each on its own: one failing does not stop the others), and
/// returns each file's outcome in order.
pub fn fetch_all(
    fetcher: &Fetcher,
    specs: &[FileSpec],
    dest: &Path,
    mirrors: &[Mirror],
) -> Vec<(String, Result<Fetched, Failure>)> {
    specs.iter().map(|spec| (spec.name.clone(), fetcher.fetch(spec, dest, mirrors))).collect()
}

/// Checks the files in `dest` without fetching anything: each file's state, in order.
pub fn verify_dir(dest: &Path, specs: &[FileSpec]) -> Vec<(String, FileState)> {
    specs.iter().map(|spec| (spec.name.clone(), check_file(&dest.join(&spec.name), spec))).collect()
}

/// Installs handlers for Ctrl-C and SIGTERM (and SIGHUP on Unix) that remove this process's
/// partial downloads ([`atomic::remove_pending`]), say so on stderr, and exit with status 128 +
/// the signal's number (130 for Ctrl-C, 143 for SIGTERM), as shells expect. Installed once per
/// process; later calls do nothing.
///
/// For a program's `main` before it fetches: it replaces the signals' default action for the
/// whole process, which a library should not do behind its caller's back. A watcher thread
/// notices a signal within 50 ms.
///
/// # Errors
/// The error of registering a handler.
pub fn remove_temp_files_on_signal() -> std::io::Result<()> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    #[cfg(unix)]
    let signals = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP];
    #[cfg(not(unix))]
    let signals = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];
    let mut flags = Vec::new();
    for signal in signals {
        let flag = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal, Arc::clone(&flag))?;
        flags.push((signal, flag));
    }
    std::thread::Builder::new().name("latent-fetch-signals".into()).spawn(move || {
        loop {
            if let Some((signal, _)) = flags.iter().find(|(_, flag)| flag.load(Ordering::SeqCst)) {
                let removed = atomic::remove_pending();
                let what = if removed == 1 { "file" } else { "files" };
                eprintln!("\ninterrupted: removed {removed} partial download {what}");
                std::process::exit(128 + signal);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })?;
    let _ = INSTALLED.set(());
    Ok(())
}
