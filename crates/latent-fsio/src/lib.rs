//! Atomic file writes, shared by every `latent` crate that writes files.
//!
//! A write goes to a temporary file in the target's directory (named `.NAME.XXXXXX.tmp`, created
//! by [`tempfile`]), is flushed and fsynced, then renamed over the target with
//! [`tempfile::NamedTempFile::persist`]; on Unix the directory is fsynced afterwards so the
//! rename itself survives a crash. A reader therefore sees either the old file or the complete
//! new one, never a torn one, even if the process is killed or the disk fills up half-way. If
//! anything fails before the rename, or the code producing the bytes panics, the temporary file
//! is removed and the old file is left exactly as it was.
//!
//! - [`write_atomic`]: write a file from a closure that streams into a buffered writer.
//! - [`write_bytes`]: write a file from bytes already in memory.
//! - [`AtomicFile`]: the same as a value (`Write` + `Seek`), for writers that must look at the
//!   finished temporary file before committing it (a download checked against its digest).
//! - [`WriteError`]: the one error type, naming the file and the step that failed.
//! - [`available_space`]: the bytes a file written at a path may take, to refuse a file that
//!   cannot fit before writing any of it.
//!
//! A new file gets the permissions `0o666` less the process's umask, as `File::create` gives.
//!
//! ```
//! use std::io::Write;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("notes.txt");
//! latent_fsio::write_bytes(&path, b"first\n")?;
//! latent_fsio::write_atomic(&path, |w| writeln!(w, "second"))?;
//! assert_eq!(std::fs::read_to_string(&path)?, "second\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// Suffix of every temporary file this crate creates (`.NAME.XXXXXX.tmp`).
pub const TEMP_SUFFIX: &str = ".tmp";

/// Why an atomic write failed: the file, the step, and the operating system's reason.
///
/// In every case the previous contents of the file are untouched and the temporary file is gone.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}: {source}", .path.display())]
pub struct WriteError {
    /// The step that failed, phrased to follow "cannot": `"create a temporary file for"`,
    /// `"write"`, `"sync"`, `"rename the temporary file onto"`.
    pub action: &'static str,
    /// The file that was being written (the target, not the temporary file).
    pub path: PathBuf,
    /// The operating system's reason (for a path that names no file, an
    /// [`io::ErrorKind::InvalidInput`] error).
    #[source]
    pub source: io::Error,
}

impl WriteError {
    fn new(action: &'static str, path: &Path, source: io::Error) -> Self {
        WriteError { action, path: path.to_path_buf(), source }
    }
}

/// A file being written under a temporary name beside its target, put in place by
/// [`commit`](Self::commit). Dropping it without committing removes the temporary file.
///
/// Writes are buffered. [`Seek`] is supported (a zip archive seeks back to patch its headers).
///
/// ```
/// use std::io::Write;
/// use latent_fsio::AtomicFile;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("download.bin");
/// let mut out = AtomicFile::create(&path)?;
/// out.write_all(b"payload")?;
/// out.sync()?; // the temporary file can now be read back and checked
/// assert_eq!(std::fs::read(out.temp_path())?, b"payload");
/// assert!(!path.exists());
/// out.commit()?;
/// assert_eq!(std::fs::read(&path)?, b"payload");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AtomicFile {
    dest: PathBuf,
    dir: PathBuf,
    temp: BufWriter<NamedTempFile>,
}

impl AtomicFile {
    /// Creates a fresh temporary file in `dest`'s directory for a file to be called `dest`.
    ///
    /// # Errors
    /// [`WriteError`] ("create a temporary file for") if `dest` names no file (`/`, `..`) or
    /// the temporary file cannot be created (a missing directory, no permission).
    pub fn create(dest: impl AsRef<Path>) -> Result<Self, WriteError> {
        let dest = dest.as_ref();
        const ACTION: &str = "create a temporary file for";
        let Some(name) = dest.file_name() else {
            let reason = io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file");
            return Err(WriteError::new(ACTION, dest, reason));
        };
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut prefix = OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(TEMP_SUFFIX);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // As `File::create`: the umask still applies.
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let temp = builder.tempfile_in(&dir).map_err(|e| WriteError::new(ACTION, dest, e))?;
        Ok(AtomicFile { dest: dest.to_path_buf(), dir, temp: BufWriter::new(temp) })
    }

    /// The file this will become.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The temporary file's path; what was written is readable there after [`sync`](Self::sync).
    pub fn temp_path(&self) -> &Path {
        self.temp.get_ref().path()
    }

    /// Flushes the buffer and fsyncs the temporary file, keeping it open for more writes.
    ///
    /// # Errors
    /// [`WriteError`] ("write" or "sync") naming the target.
    pub fn sync(&mut self) -> Result<(), WriteError> {
        self.temp.flush().map_err(|e| WriteError::new("write", &self.dest, e))?;
        self.temp.get_ref().as_file().sync_all().map_err(|e| WriteError::new("sync", &self.dest, e))
    }

    /// Flushes and fsyncs the temporary file, renames it over the target (replacing any file
    /// there), and on Unix fsyncs the directory so the rename is durable.
    ///
    /// # Errors
    /// [`WriteError`] ("write", "sync" or "rename the temporary file onto") naming the target;
    /// the temporary file is removed and the target is untouched.
    pub fn commit(mut self) -> Result<(), WriteError> {
        self.sync()?;
        let AtomicFile { dest, dir, temp } = self;
        let temp = temp.into_inner().map_err(|e| WriteError::new("write", &dest, e.into_error()))?;
        // On failure the returned `PersistError` still owns the temporary file, and dropping it
        // removes the file.
        temp.persist(&dest).map_err(|e| WriteError::new("rename the temporary file onto", &dest, e.error))?;
        sync_dir(&dir);
        Ok(())
    }
}

/// Makes a rename in `dir` durable. Best effort: the new file is already complete, and not every
/// file system allows syncing a directory, so a failure is not reported.
#[cfg(unix)]
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Directories cannot be opened (nor synced) as files on this platform; the rename is as durable
/// as the file system makes it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.temp.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.temp.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.temp.flush()
    }
}

impl Seek for AtomicFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.temp.seek(pos)
    }
}

/// Writes `path` atomically with the bytes that `write` produces (buffered, so many small
/// writes are cheap).
///
/// # Errors
/// [`WriteError`] naming `path` and the failed step if the temporary file cannot be created,
/// `write` fails (its error is the source), or the sync or rename fails. In every error case
/// (and if `write` panics) the previous contents of `path` are untouched and the temporary file
/// is gone.
pub fn write_atomic<F>(path: impl AsRef<Path>, write: F) -> Result<(), WriteError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let mut file = AtomicFile::create(path)?;
    write(&mut file).map_err(|e| WriteError::new("write", &file.dest, e))?;
    file.commit()
}

/// The bytes an unprivileged process may still write on the file system where a file at `path`
/// would go (its directory's), or `None` where that is not known (another platform, a directory
/// that does not exist).
///
/// ```
/// let dir = tempfile::tempdir()?;
/// # #[cfg(unix)]
/// assert!(latent_fsio::available_space(dir.path().join("new.npy")).is_some_and(|b| b > 0));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn available_space(path: impl AsRef<Path>) -> Option<u64> {
    let dir = match path.as_ref().parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    free_bytes(dir)
}

#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

/// Writes `bytes` to `path` atomically (see [`write_atomic`]).
///
/// # Errors
/// As [`write_atomic`].
pub fn write_bytes(path: impl AsRef<Path>, bytes: &[u8]) -> Result<(), WriteError> {
    write_atomic(path, |w| w.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn writes_and_replaces_leaving_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_bytes(&p, b"first").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"first");
        write_atomic(&p, |w| (0..1000).try_for_each(|i| write!(w, "{i} "))).unwrap();
        assert!(fs::read_to_string(&p).unwrap().starts_with("0 1 2 "));
        assert_eq!(entries(dir.path()), vec!["a.txt"]);
    }

    #[test]
    fn a_failing_writer_keeps_the_old_file_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.json");
        write_bytes(&p, b"old contents").unwrap();
        let err = write_atomic(&p, |w| {
            w.write_all(b"half of the new")?;
            Err(io::Error::other("disk on fire"))
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("cannot write") && msg.contains("model.json") && msg.contains("disk on fire"), "{msg}");
        assert_eq!(err.path, p);
        assert_eq!(fs::read(&p).unwrap(), b"old contents");
        assert_eq!(entries(dir.path()), vec!["model.json"]);
    }

    #[test]
    fn a_panicking_writer_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.bin");
        let r = std::panic::catch_unwind(|| write_atomic(&p, |_| panic!("boom")));
        assert!(r.is_err());
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("no/such/dir/out.png");
        let err = write_bytes(&p, b"x").unwrap_err();
        assert_eq!(err.action, "create a temporary file for");
        assert!(err.to_string().contains("no/such/dir/out.png"), "{err}");
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        for p in ["/", ".."] {
            let err = write_bytes(p, b"x").unwrap_err();
            assert_eq!(err.source.kind(), io::ErrorKind::InvalidInput, "{p}: {err}");
        }
    }

    #[test]
    fn a_failed_rename_keeps_the_target_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory cannot be replaced by a file.
        let blocked = dir.path().join("blocked");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("inside"), b"x").unwrap();
        let err = write_bytes(&blocked, b"new").unwrap_err();
        assert_eq!(err.action, "rename the temporary file onto", "{err}");
        assert_eq!(entries(dir.path()), vec!["blocked"]);
        assert_eq!(entries(&blocked), vec!["inside"]);
    }

    #[test]
    fn the_temporary_is_hidden_beside_the_target_and_nothing_shows_before_commit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("samples.png");
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"partial").unwrap();
        let temp = f.temp_path().to_path_buf();
        assert_eq!(temp.parent(), Some(dir.path()));
        let name = temp.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(".samples.png.") && name.ends_with(TEMP_SUFFIX), "{name}");
        assert!(!p.exists());
        f.commit().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"partial");
        assert!(!temp.exists());
    }

    #[test]
    fn dropping_an_uncommitted_file_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.bin");
        fs::write(&p, b"old").unwrap();
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.write_all(b"abandoned").unwrap();
            f.sync().unwrap();
            assert_eq!(fs::read(f.temp_path()).unwrap(), b"abandoned");
        }
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(entries(dir.path()), vec!["f.bin"]);
    }

    #[test]
    fn seeking_back_patches_earlier_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("patched.bin");
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"xxxx-body").unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write_all(b"head").unwrap();
        f.seek(SeekFrom::End(0)).unwrap();
        f.write_all(b"!").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"head-body!");
    }

    #[cfg(unix)]
    #[test]
    fn a_new_file_is_readable_by_others_as_with_file_create() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (ours, reference) = (dir.path().join("ours"), dir.path().join("reference"));
        write_bytes(&ours, b"x").unwrap();
        File::create(&reference).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&ours), mode(&reference));
    }
}
