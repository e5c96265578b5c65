//! Atomic file writes for downloads: a temporary file in the destination directory, fsync,
//! rename, fsync of the directory.
//!
//! Readers see either the old file or the complete new one, never a half-written file. A write
//! that is abandoned (an error, a panic, a failed check) removes its temporary file when the
//! [`AtomicFile`] is dropped. Temporary names are hidden, carry the writing process's id and end
//! in `.tmp` (`.NAME.<pid>-<n>.tmp`), so that two cleanups are possible where drop never runs:
//!
//! - every temporary file of this process is registered until it is committed or dropped, and
//!   [`remove_pending`] deletes them all, for a signal handler to call before exiting
//!   ([`super::remove_temp_files_on_signal`]);
//! - [`sweep_stale`] deletes the temporary files in a directory whose process no longer runs
//!   (killed, or crashed), and the fetcher calls it before each file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The temporary files this process has open, and whether new ones are refused (after
/// [`remove_pending`]).
struct Pending {
    paths: Vec<PathBuf>,
    closed: bool,
}

static PENDING: Mutex<Pending> = Mutex::new(Pending { paths: Vec::new(), closed: false });

fn pending() -> MutexGuard<'static, Pending> {
    PENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn forget(path: &Path) {
    pending().paths.retain(|p| p != path);
}

/// A file being written under a temporary name, renamed into place by [`commit`](Self::commit).
#[derive(Debug)]
pub struct AtomicFile {
    tmp: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    /// Creates a fresh temporary file in `dir` for a file to be called `name`.
    ///
    /// # Errors
    /// The error of creating the file; [`io::ErrorKind::Interrupted`] once [`remove_pending`]
    /// has run (the process is exiting).
    pub fn create(dir: &Path, name: &str) -> io::Result<Self> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let mut pending = pending();
        if pending.closed {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted: the process is exiting"));
        }
        let tmp = dir.join(temp_name(name, std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        pending.paths.push(tmp.clone());
        Ok(AtomicFile { tmp, file: Some(file) })
    }

    /// The temporary file's path (readable once written and synced).
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Flushes and fsyncs what was written, keeping the file open.
    ///
    /// # Errors
    /// The operating system's error.
    pub fn sync(&mut self) -> io::Result<()> {
        let file = self.file_mut()?;
        file.flush()?;
        file.sync_all()
    }

    fn file_mut(&mut self) -> io::Result<&mut File> {
        self.file.as_mut().ok_or_else(|| io::Error::other("temporary file already closed"))
    }

    /// Syncs, renames the temporary file to `dest` (replacing any file there) and syncs the
    /// directory so the rename is durable.
    ///
    /// # Errors
    /// The operating system's error; the temporary file is removed.
    pub fn commit(mut self, dest: &Path) -> io::Result<()> {
        self.sync()?;
        self.file = None;
        std::fs::rename(&self.tmp, dest)?;
        // The rename happened: nothing to clean up any more.
        forget(&self.tmp);
        self.tmp = PathBuf::new();
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Best effort: not every platform can open a directory.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Writes `bytes` to `dir/name` atomically.
    ///
    /// # Errors
    /// The operating system's error; nothing is left behind.
    pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
        let mut f = AtomicFile::create(dir, name)?;
        f.write_all(bytes)?;
        f.commit(&dir.join(name))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file_mut()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file_mut()?.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        self.file = None;
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
            forget(&self.tmp);
        }
    }
}

/// The temporary name of the `n`-th file process `pid` writes for `name`: `.NAME.<pid>-<n>.tmp`.
pub fn temp_name(name: &str, pid: u32, n: usize) -> String {
    format!(".{name}.{pid}-{n}.tmp")
}

/// Reads a temporary name made by [`temp_name`]: the final name and the writer's process id.
pub fn parse_temp_name(file_name: &str) -> Option<(&str, u32)> {
    let inner = file_name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (name, tag) = inner.rsplit_once('.')?;
    let (pid, n) = tag.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if name.is_empty() || !digits(pid) || !digits(n) {
        return None;
    }
    Some((name, pid.parse().ok()?))
}

/// Removes every temporary file this process has open and refuses new ones, returning how many
/// were removed. For a signal handler about to exit: whatever the interrupted writes were doing,
/// no partial file stays behind.
pub fn remove_pending() -> usize {
    let mut pending = pending();
    pending.closed = true;
    let paths = std::mem::take(&mut pending.paths);
    paths.iter().filter(|p| std::fs::remove_file(p).is_ok()).count()
}

/// Removes the temporary files in `dir` ([`temp_name`]) left by processes that no longer run,
/// and returns their paths. Files of running processes (a concurrent fetch) and all other files
/// are left alone. A missing directory has nothing to sweep.
///
/// On Unix a process is alive if it can be signalled; elsewhere, where that cannot be asked, a
/// temporary file counts as stale once it has not been written for a day.
///
/// # Errors
/// The error of reading the directory or removing a stale file.
pub fn sweep_stale(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let own = std::process::id();
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some((_, pid)) = parse_temp_name(&file_name.to_string_lossy()) else { continue };
        if pid == own || !is_stale(pid, &entry) {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => removed.push(entry.path()),
            // Its owner finished with it meanwhile.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

#[cfg(unix)]
fn is_stale(pid: u32, _entry: &std::fs::DirEntry) -> bool {
    // Not a process id at all (0 or beyond pid_t): nobody owns it. Never signal a group.
    let Ok(pid) = libc::pid_t::try_from(pid) else { return true };
    if pid <= 0 {
        return true;
    }
    // SAFETY: signal 0 only asks whether `pid` exists and may be signalled; nothing is sent.
    let alive = unsafe { libc::kill(pid, 0) } == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    !alive
}

#[cfg(not(unix))]
fn is_stale(_pid: u32, entry: &std::fs::DirEntry) -> bool {
    const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
    entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age > DAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::download::tests::Scratch;

    #[test]
    fn commit_replaces_and_drop_cleans_up() {
        let dir = Scratch::new("atomic");
        let dest = dir.path().join("f.bin");
        std::fs::write(&dest, b"old").unwrap();
        {
            let mut f = AtomicFile::create(dir.path(), "f.bin").unwrap();
            f.write_all(b"abandoned").unwrap();
            assert!(f.path().exists());
        }
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        AtomicFile::write(dir.path(), "f.bin", b"new").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        assert_eq!(dir.entries(), vec!["f.bin".to_string()]);
    }

    #[test]
    fn temporary_names_round_trip() {
        let name = temp_name("train-images-idx3-ubyte.gz", 4242, 7);
        assert_eq!(name, ".train-images-idx3-ubyte.gz.4242-7.tmp");
        assert_eq!(parse_temp_name(&name), Some(("train-images-idx3-ubyte.gz", 4242)));
        for other in [".x.tmp", "x.1-2.tmp", ".x.1-2", ".x.a-2.tmp", ".x.1-.tmp", "..1-2.tmp", ".x.99999999999-1.tmp"] {
            assert_eq!(parse_temp_name(other), None, "{other}");
        }
    }

    /// Issue 17, item 10: temporary files of dead processes are swept, those of live ones and
    /// every other file are kept.
    #[test]
    fn stale_temporary_files_are_swept_and_live_ones_kept() {
        let dir = Scratch::new("sweep");
        let dead = dir.path().join(temp_name("a.gz", 2_147_483_646, 0));
        let not_a_pid = dir.path().join(temp_name("a.gz", 0, 1));
        let mine = dir.path().join(temp_name("a.gz", std::process::id(), 99));
        // The parent of the test runner (cargo, or a shell) outlives the test.
        let live = dir.path().join(temp_name("b.gz", parent_pid(), 0));
        let other = dir.path().join(".b.gz.tmp");
        for p in [&dead, &not_a_pid, &mine, &live, &other] {
            std::fs::write(p, b"partial").unwrap();
        }
        let mut removed = sweep_stale(dir.path()).unwrap();
        removed.sort();
        let mut expected = vec![dead, not_a_pid];
        expected.sort();
        if cfg!(unix) {
            assert_eq!(removed, expected);
        }
        for kept in [&mine, &live, &other] {
            assert!(kept.exists(), "{}", kept.display());
        }
        assert_eq!(sweep_stale(&dir.path().join("missing")).unwrap(), Vec::<PathBuf>::new());
    }

    fn parent_pid() -> u32 {
        #[cfg(unix)]
        {
            std::os::unix::process::parent_id()
        }
        #[cfg(not(unix))]
        {
            std::process::id()
        }
    }
}
