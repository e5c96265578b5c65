//! Atomic file writes: a temporary file in the destination directory, fsync, rename, fsync of
//! the directory.
//!
//! Readers see either the old file or the complete new one, never a half-written file, and a
//! write that is abandoned (an error, a panic, a failed check) removes its temporary file when
//! the [`AtomicFile`] is dropped. Temporary names are hidden and end in `.tmp`, which the
//! repository ignores.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A file being written under a temporary name, renamed into place by [`commit`](Self::commit).
#[derive(Debug)]
pub struct AtomicFile {
    tmp: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    /// Creates a fresh temporary file in `dir` for a file to be called `name`.
    pub fn create(dir: &Path, name: &str) -> io::Result<Self> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let tmp = dir.join(format!(".{name}.{}-{}.tmp", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        Ok(AtomicFile { tmp, file: Some(file) })
    }

    /// The temporary file's path (readable once written and synced).
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Flushes and fsyncs what was written, keeping the file open.
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
    pub fn commit(mut self, dest: &Path) -> io::Result<()> {
        self.sync()?;
        self.file = None;
        std::fs::rename(&self.tmp, dest)?;
        // The rename happened: nothing to clean up any more.
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch_mnist::tests::Scratch;

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
}
