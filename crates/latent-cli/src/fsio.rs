//! Atomic file writes: every file this crate writes goes through [`write_atomic`].
//!
//! The data is written to a temporary file in the target's directory, flushed and synced to disk,
//! then renamed over the target, and the directory is synced (best effort). A reader therefore
//! sees either the old file or the complete new one, never a torn one, even if the process is
//! killed or the disk fills up half-way. If anything fails before the rename, the temporary file
//! is removed and the old file is left exactly as it was.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::error::OutputError;

/// Distinguishes temporary files of concurrent writes from the same process.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Writes `path` atomically with the bytes that `write` produces.
///
/// The temporary file is `.<name>.tmp-<pid>-<n>` beside `path` (the sequence number `n` keeps
/// two threads writing the same file from sharing one temporary). Writes are buffered, so
/// `write` may issue many small writes cheaply.
///
/// # Errors
/// [`OutputError::Io`] naming `path` and the failed step if the temporary file cannot be
/// created, `write` fails, or the sync or rename fails; [`OutputError::InvalidInput`] if `path`
/// has no file name. In every error case the previous contents of `path` are untouched and the
/// temporary file is gone.
pub fn write_atomic<F>(path: impl AsRef<Path>, write: F) -> Result<(), OutputError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let path = path.as_ref();
    let Some(name) = path.file_name() else {
        return Err(OutputError::invalid("output path", format!("{} does not name a file", path.display())));
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}-{}", std::process::id(), SEQUENCE.fetch_add(1, Ordering::Relaxed)));
    let tmp = dir.join(tmp_name);

    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| OutputError::io("create a temporary file for", path, e))?;
    // From here on the guard removes the temporary file on every early return (and on a panic
    // in `write`), until the rename has succeeded.
    let guard = TempGuard(Some(tmp));

    let mut out = BufWriter::new(file);
    write(&mut out).map_err(|e| OutputError::io("write", path, e))?;
    let file = out.into_inner().map_err(|e| OutputError::io("write", path, e.into_error()))?;
    file.sync_all().map_err(|e| OutputError::io("sync", path, e))?;
    drop(file);

    let tmp = guard.path();
    fs::rename(tmp, path).map_err(|e| OutputError::io("rename the temporary file onto", path, e))?;
    guard.disarm();

    // Make the rename itself durable. Not every platform or file system allows syncing a
    // directory, and the new file is already complete, so a failure here is not reported.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically (see [`write_atomic`]).
///
/// # Errors
/// As [`write_atomic`].
pub fn write_bytes(path: impl AsRef<Path>, bytes: &[u8]) -> Result<(), OutputError> {
    write_atomic(path, |w| w.write_all(bytes))
}

/// Writes `value` to `path` atomically as pretty-printed JSON followed by a newline.
///
/// # Errors
/// As [`write_atomic`]; a value that cannot be serialised (e.g. a map with non-string keys) is
/// reported as an [`OutputError::Io`] "write" error naming `path`.
pub fn write_json<T: Serialize + ?Sized>(path: impl AsRef<Path>, value: &T) -> Result<(), OutputError> {
    write_atomic(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value).map_err(io::Error::other)?;
        w.write_all(b"\n")
    })
}

/// Removes the temporary file when dropped, unless disarmed.
struct TempGuard(Option<PathBuf>);

impl TempGuard {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh, empty directory under the system temp dir for one test.
    pub(crate) fn scratch_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("latent-cli-test-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn writes_and_replaces() {
        let dir = scratch_dir("writes_and_replaces");
        let p = dir.join("a.txt");
        write_bytes(&p, b"first").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"first");
        write_atomic(&p, |w| {
            for i in 0..1000 {
                write!(w, "{i} ")?;
            }
            Ok(())
        })
        .unwrap();
        assert!(fs::read_to_string(&p).unwrap().starts_with("0 1 2 "));
        assert_eq!(leftovers(&dir), vec!["a.txt"]);
    }

    #[test]
    fn failing_writer_keeps_old_file_and_removes_temp() {
        let dir = scratch_dir("failing_writer");
        let p = dir.join("model.json");
        write_bytes(&p, b"old contents").unwrap();
        let err = write_atomic(&p, |w| {
            w.write_all(b"half of the new")?;
            Err(io::Error::other("disk on fire"))
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("model.json") && msg.contains("disk on fire"), "{msg}");
        assert_eq!(fs::read(&p).unwrap(), b"old contents");
        assert_eq!(leftovers(&dir), vec!["model.json"]);
    }

    #[test]
    fn panicking_writer_removes_temp() {
        let dir = scratch_dir("panicking_writer");
        let p = dir.join("x.bin");
        let r = std::panic::catch_unwind(|| write_atomic(&p, |_| panic!("boom")));
        assert!(r.is_err());
        assert!(leftovers(&dir).is_empty());
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_path() {
        let dir = scratch_dir("missing_dir");
        let p = dir.join("no/such/dir/out.png");
        let err = write_bytes(&p, b"x").unwrap_err();
        assert!(matches!(err, OutputError::Io { .. }));
        assert!(err.to_string().contains("no/such/dir/out.png"), "{err}");
    }

    #[test]
    fn path_without_file_name_is_rejected() {
        assert!(matches!(write_bytes("/", b"x"), Err(OutputError::InvalidInput { .. })));
        assert!(matches!(write_bytes("..", b"x"), Err(OutputError::InvalidInput { .. })));
    }

    #[test]
    fn json_is_pretty_with_newline() {
        let dir = scratch_dir("json");
        let p = dir.join("config.json");
        write_json(&p, &serde_json::json!({"latent": 2})).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "{\n  \"latent\": 2\n}\n");
    }
}
