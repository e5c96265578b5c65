//! Helpers shared by the integration tests: scratch directories and small IDX files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use latent_data::IdxArray;

/// A fresh directory under the system temp dir, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "latent-data-test-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `n` images of `rows x cols`, pixel values a simple function of position.
pub fn images(n: usize, rows: usize, cols: usize) -> IdxArray {
    let data = (0..n * rows * cols).map(|k| (k * 7 % 256) as u8).collect();
    IdxArray::new(vec![n, rows, cols], data).unwrap()
}

/// `n` labels `i % 10`.
pub fn labels(n: usize) -> IdxArray {
    IdxArray::new(vec![n], (0..n).map(|i| (i % 10) as u8).collect()).unwrap()
}

/// A raw IDX header: magic `00 00 type rank`, then the dimensions.
pub fn header(ty: u8, dims: &[u32]) -> Vec<u8> {
    let mut h = vec![0, 0, ty, dims.len() as u8];
    for d in dims {
        h.extend_from_slice(&d.to_be_bytes());
    }
    h
}

/// Gzip-compresses bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
