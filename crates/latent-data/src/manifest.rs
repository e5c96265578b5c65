//! The manifest of a data directory: each file's item count and SHA-256 digests.
//!
//! The built-in sample's (`sample/MANIFEST` in this crate) is one, written by `cargo xtask
//! make-sample`. It is plain text: `#` lines are comments, and every other line is
//!
//! ```text
//! <file name>  <items>  <SHA-256 of the decompressed content>  <SHA-256 of the file as stored>
//! ```
//!
//! with digests in lowercase hex. Loading a directory that has a manifest checks every data file
//! against it by its decompressed content; the digest of the stored file is there for checking
//! by hand (`sha256sum`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::DataError;

/// The manifest's file name inside a data directory.
pub const MANIFEST_FILE: &str = "MANIFEST";

/// One file's line of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// The file name, without directory.
    pub file: String,
    /// The number of items (the first IDX dimension).
    pub items: usize,
    /// SHA-256 of the decompressed content, lowercase hex.
    pub content_sha256: String,
    /// SHA-256 of the file as stored (compressed), lowercase hex.
    pub file_sha256: String,
}

/// A parsed manifest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// Comment lines, without their leading `# `.
    pub comments: Vec<String>,
    /// The files, in the order listed.
    pub entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// Reads and parses a manifest file.
    ///
    /// # Errors
    /// [`DataError::Io`] if it cannot be read, [`DataError::Manifest`] if it is malformed.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        let text = String::from_utf8(bytes).map_err(|_| DataError::Manifest {
            path: path.to_path_buf(),
            expected: "UTF-8 text".into(),
            found: "bytes that are not UTF-8".into(),
        })?;
        Self::parse(&text, path)
    }

    /// Parses manifest text; `path` only names it in errors.
    ///
    /// # Errors
    /// [`DataError::Manifest`] naming the first bad line.
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref();
        let bad = |line_no: usize, expected: &str, found: &str| DataError::Manifest {
            path: path.to_path_buf(),
            expected: format!("{expected} on line {line_no}"),
            found: format!("`{found}`"),
        };
        let mut manifest = Manifest::default();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            if let Some(comment) = trimmed.strip_prefix('#') {
                manifest.comments.push(comment.trim().to_string());
                continue;
            }
            let fields: Vec<&str> = trimmed.split_whitespace().collect();
            let [file, items, content, stored] = fields[..] else {
                return Err(bad(line_no, "four fields: file, items, content SHA-256, file SHA-256", trimmed));
            };
            let items = items.parse::<usize>().map_err(|_| bad(line_no, "an item count", items))?;
            for digest in [content, stored] {
                if !is_sha256_hex(digest) {
                    return Err(bad(line_no, "a SHA-256 as 64 hex digits", digest));
                }
            }
            if manifest.entries.iter().any(|e| e.file == file) {
                return Err(bad(line_no, "each file listed once", file));
            }
            manifest.entries.push(ManifestEntry {
                file: file.to_string(),
                items,
                content_sha256: content.to_ascii_lowercase(),
                file_sha256: stored.to_ascii_lowercase(),
            });
        }
        Ok(manifest)
    }

    /// The entry for this file name, if listed.
    pub fn get(&self, file: &str) -> Option<&ManifestEntry> {
        self.entries.iter().find(|e| e.file == file)
    }

    /// The manifest as text, in the format [`parse`](Self::parse) reads.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for c in &self.comments {
            let _ = writeln!(out, "# {c}");
        }
        let _ = writeln!(out, "# file  items  sha256-of-decompressed-content  sha256-of-file");
        for e in &self.entries {
            let _ = writeln!(out, "{}  {}  {}  {}", e.file, e.items, e.content_sha256, e.file_sha256);
        }
        out
    }

    /// Checks a parsed file against its entry: the entry must exist and its item count and
    /// content digest must match.
    ///
    /// # Errors
    /// [`DataError::Manifest`] if the file is not listed or its item count differs,
    /// [`DataError::Checksum`] if its digest differs.
    pub fn check(
        &self,
        manifest_path: &Path,
        file_path: &Path,
        items: usize,
        content_sha256_hex: &str,
    ) -> Result<(), DataError> {
        let name = file_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let entry = self.get(&name).ok_or_else(|| DataError::Manifest {
            path: manifest_path.to_path_buf(),
            expected: format!("an entry for {name}"),
            found: format!(
                "entries for {}",
                self.entries.iter().map(|e| e.file.as_str()).collect::<Vec<_>>().join(", ")
            ),
        })?;
        if entry.items != items {
            return Err(DataError::Manifest {
                path: manifest_path.to_path_buf(),
                expected: format!("{} items in {}", entry.items, file_path.display()),
                found: format!("{items} items"),
            });
        }
        if entry.content_sha256 != content_sha256_hex {
            return Err(DataError::Checksum {
                path: PathBuf::from(file_path),
                expected: entry.content_sha256.clone(),
                found: content_sha256_hex.to_string(),
            });
        }
        Ok(())
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db";
    const D2: &str = "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5";

    #[test]
    fn round_trips_through_text() {
        let m = Manifest {
            comments: vec!["made by a test".into()],
            entries: vec![ManifestEntry {
                file: "a.gz".into(),
                items: 3,
                content_sha256: D1.into(),
                file_sha256: D2.into(),
            }],
        };
        let text = m.to_text();
        let back = Manifest::parse(&text, "MANIFEST").unwrap();
        assert_eq!(back.entries, m.entries);
        assert_eq!(back.comments[0], "made by a test");
        assert_eq!(back.get("a.gz").unwrap().items, 3);
        assert!(back.get("b.gz").is_none());
    }

    #[test]
    fn malformed_lines_are_typed_errors_naming_the_line() {
        for (text, needle) in [
            ("a.gz 3 abc", "four fields"),
            (&format!("a.gz x {D1} {D2}") as &str, "item count"),
            (&format!("a.gz 3 {D1} nothex"), "64 hex digits"),
            (&format!("a.gz 3 {D1} {D2}\na.gz 3 {D1} {D2}"), "once on line 2"),
        ] {
            let err = Manifest::parse(text, "M").unwrap_err();
            assert!(matches!(err, DataError::Manifest { .. }));
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    #[test]
    fn check_reports_missing_entries_counts_and_digests() {
        let m = Manifest::parse(&format!("a.gz 3 {D1} {D2}"), "M").unwrap();
        let mp = Path::new("M");
        assert!(m.check(mp, Path::new("dir/a.gz"), 3, D1).is_ok());
        assert!(matches!(m.check(mp, Path::new("dir/b.gz"), 3, D1), Err(DataError::Manifest { .. })));
        assert!(matches!(m.check(mp, Path::new("dir/a.gz"), 4, D1), Err(DataError::Manifest { .. })));
        assert!(matches!(m.check(mp, Path::new("dir/a.gz"), 3, D2), Err(DataError::Checksum { .. })));
    }
}
