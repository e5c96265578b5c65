//! The library behind the `latent` command: commands only.
//!
//! [`main`] parses the command line ([`cli`]) and runs one subcommand ([`commands`]: one file
//! each); [`pictures`] says what a run draws each epoch. Around them:
//!
//! - [`progress`]: the training progress display (a bar on a terminal, plain lines in logs).
//! - [`interrupt`]: Ctrl-C: stop after this batch and save, or quit at once on the second press.
//! - [`error`]: [`CliError`], the error of the above.
//! - [`serve`]: the web server of `latent serve`: its page and JSON API.
//!
//! What the command writes comes from the library crates, every file atomically through
//! [`latent_fsio`]: pictures from [`latent_viz`], `.npy`/`.npz` arrays from
//! [`latent_data::npy`], run directories and checkpoints from `latent-models` and `latent-nn`.

//!
//! # Example
//! What `latent train vae --epochs 1 --out runs/vae` does, from a program:
//! ```no_run
//! use clap::Parser;
//! use latent_cli::{cli::Cli, commands};
//!
//! let cli = Cli::try_parse_from(["latent", "train", "vae", "--epochs", "1", "--out", "runs/vae"])?;
//! commands::run(cli)?; // writes runs/vae: config, weights, metrics.jsonl, pictures
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod cli;
pub mod commands;
pub mod error;
pub mod interrupt;
pub mod pictures;
pub mod progress;
pub mod serve;

pub use error::CliError;
pub use interrupt::StopFlag;
pub use progress::{Progress, ProgressMode};

/// Run the `latent` command: parse the arguments, run the subcommand, report any error (with
/// its chain of causes) on stderr. Exits 0 on success, 1 on an error, 2 on bad usage (clap).
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    restore_default_sigpipe();
    keep_freed_memory();
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // Ctrl-C: what was done is saved and said; the status says the run was interrupted.
        Err(e) if matches!(e.downcast_ref::<error::CliError>(), Some(error::CliError::Interrupted)) => {
            std::process::ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Let a closed pipe end the command quietly, as it ends other command-line tools
/// (`latent eval RUN | head -1`): Rust ignores SIGPIPE, which turns every later `println!` into a
/// panic; with the default action the process simply stops when its reader has gone.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread is started; SIG_DFL is a valid
    // action for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Let glibc's `malloc` keep freed memory for reuse instead of handing it back to the kernel at
/// once; returns whether every setting was accepted (always `true` off glibc, where nothing is
/// set).
///
/// A training step allocates and frees many arrays of megabytes (activations, gradients,
/// convolution scratch). By default glibc serves those from fresh `mmap`s, or trims the heap
/// when they are freed, so every step faulted the same pages in again, zeroed by the kernel:
/// 11% of a DCGAN step went to page faults, `brk` and `munmap`. With blocks up to 32 MiB (the
/// largest threshold glibc takes) kept on the heap and up to 256 MiB of free heap top kept, the
/// pages are reused; the peak memory is unchanged (the freed blocks had been in use), only its
/// release is deferred to the end of the process.
fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const SETTINGS: [(libc::c_int, libc::c_int); 3] =
            [(libc::M_MMAP_THRESHOLD, 32 << 20), (libc::M_TRIM_THRESHOLD, 256 << 20), (libc::M_TOP_PAD, 16 << 20)];
        SETTINGS.iter().all(|&(param, value)| {
            // SAFETY: mallopt only changes glibc malloc's tuning parameters, with values inside
            // their documented ranges (each checked by its return value, 1 on success); it takes
            // malloc's own lock, so it is safe at any time, and no pointer is involved.
            unsafe { libc::mallopt(param, value) == 1 }
        })
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn malloc_settings_are_accepted_and_allocation_still_works() {
        assert!(super::keep_freed_memory());
        // Blocks below and above the mmap threshold, freed and allocated again.
        for _ in 0..3 {
            let small = vec![1.0f32; 1 << 20];
            let large = vec![2.0f32; 10 << 20];
            assert_eq!(small.iter().sum::<f32>() as usize + large[large.len() - 1] as usize, (1 << 20) + 2);
        }
    }
}

// The README's example is compiled and run with the doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
