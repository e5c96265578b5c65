//! Several files in one mutable input, for parsers that read more than one file (a data set's
//! images and labels, a run directory's configuration, weights and state); and a fast scratch
//! directory for parsers that read paths.
//!
//! [`pack`] joins files, each after its length as a little-endian `u32`; [`unpack`] splits any
//! bytes back into the same number of files, so every mutant of a packed input is still a set
//! of files: most mutations land inside one file, and a mutated length moves the boundary
//! between two (a truncated file and a file with trailing bytes). Lengths past the end are
//! clamped, and missing files are empty.
//!
//! ```
//! use latent_testkit::files::{pack, unpack};
//!
//! let packed = pack(&[b"images", b"labels"]);
//! assert_eq!(unpack(&packed, 2), [&b"images"[..], &b"labels"[..]]);
//! let cut = &packed[..packed.len() - 3];
//! assert_eq!(unpack(cut, 2), [&b"images"[..], &b"lab"[..]]);
//! assert_eq!(unpack(b"", 2), [&b""[..], &b""[..]]);
//! ```

/// The files joined, each after its length.
///
/// # Panics
/// If a file is 4 GiB or longer.
pub fn pack(files: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(files.iter().map(|f| f.len() + 4).sum());
    for f in files {
        let len = u32::try_from(f.len()).expect("a packed file is under 4 GiB");
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

/// `n` files from any bytes: each takes the length before it, clamped to what is left; the last
/// also takes every byte after it (so bytes appended by a mutation stay in the input).
pub fn unpack(bytes: &[u8], n: usize) -> Vec<&[u8]> {
    let mut files = Vec::with_capacity(n);
    let mut rest = bytes;
    for i in 0..n {
        let (len, body) = match rest {
            [a, b, c, d, body @ ..] => (u32::from_le_bytes([*a, *b, *c, *d]) as usize, body),
            _ => (0, &[][..]),
        };
        let take = if i + 1 == n { body.len() } else { len.min(body.len()) };
        files.push(&body[..take]);
        rest = &body[take..];
    }
    files
}

/// A fresh scratch directory, removed when dropped, for writing mutants to files: in memory
/// (`/dev/shm`) where there is one, since overwriting small files on a disk mounted with
/// `discard` takes milliseconds each, else in the system's temporary directory.
///
/// # Panics
/// If no directory can be created.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let in_memory =
        if shm.is_dir() { tempfile::Builder::new().prefix("latent-testkit-").tempdir_in(shm).ok() } else { None };
    in_memory.unwrap_or_else(|| {
        tempfile::Builder::new().prefix("latent-testkit-").tempdir().expect("creating a scratch directory")
    })
}
