//! Ctrl-C handling for training: [`install`] returns the process's [`StopFlag`].
//!
//! The first Ctrl-C sets the flag and prints a one-line notice; the training loop checks
//! [`StopFlag::is_set`] after each batch, saves a resumable checkpoint and exits. A second
//! Ctrl-C exits at once with status 130 (128 + SIGINT), as shells expect; files being written at
//! that moment are left as they were, since every write here is atomic.
//!
//! The handler is installed once per process (the `ctrlc` crate allows only one); calling
//! [`install`] again returns the same flag.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::CliError;

/// The exit status after a second Ctrl-C: 128 + SIGINT.
pub const EXIT_INTERRUPTED: i32 = 130;

/// A flag that asks a training loop to stop after the current batch. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// A flag that nothing but [`StopFlag::set`] sets (for tests and for stopping a loop from
    /// code); use [`install`] for one set by Ctrl-C.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a stop was requested.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Requests a stop.
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether `self` and `other` are the same flag.
    pub fn same_as(&self, other: &StopFlag) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

static INSTALLED: Mutex<Option<StopFlag>> = Mutex::new(None);

/// Installs the Ctrl-C handler (once per process) and returns its flag; later calls return the
/// same flag.
///
/// # Errors
/// [`CliError::Signal`] if the handler cannot be installed, e.g. because other code in the
/// process already installed a `ctrlc` handler.
pub fn install() -> Result<StopFlag, CliError> {
    let mut installed = INSTALLED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(flag) = installed.as_ref() {
        return Ok(flag.clone());
    }
    let flag = StopFlag::new();
    let handler_flag = flag.clone();
    let mut presses = 0u32;
    ctrlc::set_handler(move || {
        presses += 1;
        if presses == 1 {
            handler_flag.set();
            eprintln!("\nInterrupted: finishing this batch and saving a checkpoint. Press Ctrl-C again to quit now.");
        } else {
            eprintln!("\nInterrupted again: quitting without saving.");
            std::process::exit(EXIT_INTERRUPTED);
        }
    })
    .map_err(CliError::Signal)?;
    *installed = Some(flag.clone());
    Ok(flag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    const CHILD: &str = "LATENT_CLI_INTERRUPT_CHILD";

    fn send_sigint() {
        let pid = std::process::id().to_string();
        let ok = Command::new("kill").args(["-INT", &pid]).status().map(|s| s.success()).unwrap_or(false);
        assert!(ok, "kill -INT {pid} failed");
    }

    fn wait_for(flag: &StopFlag) -> bool {
        let start = Instant::now();
        while !flag.is_set() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        flag.is_set()
    }

    #[test]
    fn a_plain_flag_is_set_by_code() {
        let f = StopFlag::new();
        let g = f.clone();
        assert!(!f.is_set());
        g.set();
        assert!(f.is_set() && f.same_as(&g));
        assert!(!f.same_as(&StopFlag::new()));
    }

    #[test]
    fn installing_twice_returns_the_same_flag() {
        let a = install().unwrap();
        let b = install().unwrap();
        assert!(a.same_as(&b));
    }

    /// Runs this test binary again as a child (only this test, with CHILD set): the child
    /// installs the handler and sends itself SIGINT twice.
    #[test]
    fn first_interrupt_sets_the_flag_second_exits_130() {
        if std::env::var_os(CHILD).is_some() {
            let flag = install().unwrap();
            send_sigint();
            assert!(wait_for(&flag), "the first SIGINT did not set the flag");
            eprintln!("child: flag set");
            send_sigint();
            std::thread::sleep(Duration::from_secs(10));
            eprintln!("child: still alive after the second SIGINT");
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let out = Command::new(exe)
            .args(["--exact", "interrupt::tests::first_interrupt_sets_the_flag_second_exits_130", "--nocapture"])
            .env(CHILD, "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(EXIT_INTERRUPTED), "child stderr:\n{stderr}");
        assert!(stderr.contains("child: flag set"), "{stderr}");
        assert!(stderr.contains("Press Ctrl-C again to quit now."), "{stderr}");
        assert!(stderr.contains("quitting without saving"), "{stderr}");
    }
}
