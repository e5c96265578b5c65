//! Running one benchmark process: its output, exit status, wall time and peak resident memory.
//!
//! The peak RSS is the kernel's own account of the child, `ru_maxrss` of the `rusage` that
//! `wait4` returns when it reaps that one process (not `getrusage(RUSAGE_CHILDREN)`, which is the
//! maximum over every child waited for so far). Linux reports it in KiB, macOS in bytes; both are
//! returned in KiB. Where there is no `wait4` (not Unix) the figure is `None`.
//!
//! A caveat of the kernel's accounting: when the child calls `exec`, Linux folds the peak RSS
//! of the image it replaces (the spawning parent's, shared until then) into the child's figure,
//! so a child never reports less than this process's own peak at the time it was spawned.
//! [`own_peak_rss_kib`] gives that floor; the benchmark records it, and keeps it small by running
//! the training processes before anything large is allocated here.
//!
//! stdout and stderr are drained by two threads while the child runs, so a chatty child never
//! blocks on a full pipe.

use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::Instant;

/// What a finished child left behind.
#[derive(Debug)]
pub struct Finished {
    /// How it ended.
    pub status: ExitStatus,
    /// Everything it wrote to stdout (lossily decoded).
    pub stdout: String,
    /// Everything it wrote to stderr (lossily decoded).
    pub stderr: String,
    /// Its peak resident set size in KiB, if the platform reports it.
    pub max_rss_kib: Option<u64>,
    /// Seconds from spawning to reaping.
    pub wall_s: f64,
}

impl Finished {
    /// The last `n` lines of stderr, for error messages.
    pub fn stderr_tail(&self, n: usize) -> String {
        let lines: Vec<&str> = self.stderr.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// Runs `cmd` to completion with stdin closed and stdout and stderr captured.
///
/// # Errors
/// If the process cannot be started or waited for.
pub fn run(cmd: &mut Command) -> io::Result<Finished> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                // A read error only truncates what is shown; the exit status still tells.
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let (status, max_rss_kib) = wait(&mut child)?;
    let wall_s = start.elapsed().as_secs_f64();
    let stdout = out.join().map_err(|_| io::Error::other("the stdout reader panicked"))?;
    let stderr = err.join().map_err(|_| io::Error::other("the stderr reader panicked"))?;
    Ok(Finished { status, stdout, stderr, max_rss_kib, wall_s })
}

/// Reaps `child` with `wait4`, returning its status and peak RSS in KiB.
#[cfg(unix)]
fn wait(child: &mut Child) -> io::Result<(ExitStatus, Option<u64>)> {
    use std::os::unix::process::ExitStatusExt;
    let pid = libc::pid_t::try_from(child.id()).map_err(io::Error::other)?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain integers, for which all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live, writable locals of the types wait4 expects, and
        // `pid` is our own unreaped child (std has not waited for it).
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok((ExitStatus::from_raw(status), Some(rss_kib(usage.ru_maxrss))))
}

/// Waits for `child`; no peak RSS without `wait4`.
#[cfg(not(unix))]
fn wait(child: &mut Child) -> io::Result<(ExitStatus, Option<u64>)> {
    Ok((child.wait()?, None))
}

/// This process's own peak RSS in KiB: `VmHWM` of `/proc/self/status`, the high-water mark of
/// the memory image children are spawned from (Linux only; `getrusage(RUSAGE_SELF)` would not
/// do, as it includes what cargo's image folded into this process when it was started).
pub fn own_peak_rss_kib() -> Option<u64> {
    vm_hwm_kib(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// The `VmHWM` line of a `/proc/PID/status` text, in KiB.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// `ru_maxrss` in KiB: Linux and the BSDs report KiB, macOS bytes.
#[cfg(unix)]
fn rss_kib(ru_maxrss: libc::c_long) -> u64 {
    let v = u64::try_from(ru_maxrss).unwrap_or(0);
    if cfg!(target_os = "macos") { v / 1024 } else { v }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn captures_output_status_and_peak_rss() {
        let done = run(Command::new("sh").args(["-c", "echo out; echo one >&2; echo two >&2; exit 3"])).unwrap();
        assert_eq!(done.stdout, "out\n");
        assert_eq!(done.stderr, "one\ntwo\n");
        assert_eq!(done.stderr_tail(1), "two");
        assert_eq!(done.status.code(), Some(3));
        // Any process has some resident memory; a shell has well over 100 KiB.
        assert!(done.max_rss_kib.unwrap() > 100, "{:?}", done.max_rss_kib);
    }

    #[test]
    fn peak_rss_is_the_childs_own() {
        // dd fills a 200 MiB buffer, so it peaks above that; a later small child reports its
        // own peak, not the maximum over all children so far. (Its figure is not tiny: Linux
        // counts the parent's image it was spawned from, see the module docs.)
        let big = run(Command::new("dd").args(["if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"])).unwrap();
        let small = run(&mut Command::new("true")).unwrap();
        assert!(big.status.success(), "{}", big.stderr);
        assert!(big.max_rss_kib.unwrap() >= 200 * 1024, "{:?}", big.max_rss_kib);
        assert!(small.max_rss_kib.unwrap() < 200 * 1024, "{:?}", small.max_rss_kib);
        if let Some(floor) = own_peak_rss_kib() {
            assert!(small.max_rss_kib.unwrap() <= floor.max(8 * 1024), "{:?} > {floor}", small.max_rss_kib);
        }
    }

    #[test]
    fn reads_vm_hwm() {
        let status = "Name:\tx\nVmPeak:\t  20000 kB\nVmHWM:\t    5120 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(5120));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
    }

    #[test]
    fn a_missing_program_is_an_error() {
        assert!(run(&mut Command::new("/nonexistent/latent-bench-no-such-program")).is_err());
    }
}
