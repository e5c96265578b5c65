//! The crate's one error type, [`DataError`].
//!
//! Every variant that concerns a file names that file and says what was expected and what was
//! found, so a message alone is enough to act on ("`mnist/train-images-idx3-ubyte.gz`:
//! truncated: the header promises 47040000 data bytes, the file holds 1234"). Nothing in this
//! crate panics on user input: a corrupted, truncated or hostile file, a bad manifest or a bad
//! parameter all come back as one of these variants.

use std::path::PathBuf;

/// Everything that can go wrong while locating, reading, verifying or batching data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The file looks gzip-compressed but its gzip stream is corrupt.
    #[error("{}: corrupt gzip stream: {detail}", path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// What the decompressor reported.
        detail: String,
    },

    /// The first four bytes are not an IDX magic number (`00 00 <type> <rank>`).
    #[error(
        "{}: not an IDX file: expected a magic number 00 00 <type> <rank>, found {}",
        path.display(),
        hex_bytes(found)
    )]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The bytes found where the magic number should be (fewer than four if the file is
        /// shorter than that).
        found: Vec<u8>,
    },

    /// The element-type byte of the magic number is unknown or not supported.
    #[error(
        "{}: unsupported IDX element type 0x{found:02x}: expected 0x08 (unsigned byte){}",
        path.display(),
        element_type_name(*found).map(|n| format!(", found {n}")).unwrap_or_default()
    )]
    ElementType {
        /// The file.
        path: PathBuf,
        /// The element-type byte found.
        found: u8,
    },

    /// The IDX rank (number of dimensions) is not the one this file must have.
    #[error("{}: wrong IDX rank: expected {expected}, found {found}", path.display())]
    Rank {
        /// The file.
        path: PathBuf,
        /// The rank required.
        expected: usize,
        /// The rank in the header.
        found: usize,
    },

    /// A dimension has a value this file cannot have (zero image rows, say).
    #[error("{}: bad dimensions: expected {expected}, found {found}", path.display())]
    Dimensions {
        /// The file.
        path: PathBuf,
        /// What was required, in words.
        expected: String,
        /// The dimensions in the header.
        found: String,
    },

    /// The product of the dimensions does not fit in 64 bits or exceeds the size limit.
    #[error(
        "{}: dimensions {dims:?} describe {} bytes, more than the limit of {limit} bytes",
        path.display(),
        bytes.map_or_else(|| "over 2^64".to_string(), |b| b.to_string())
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The dimensions in the header.
        dims: Vec<u32>,
        /// The number of data bytes the dimensions describe, `None` if it overflows `u64`.
        bytes: Option<u64>,
        /// The largest number of data bytes accepted here.
        limit: u64,
    },

    /// The file ends before the part of it its header promises.
    #[error(
        "{}: truncated {what}: expected {expected} bytes, found {found}",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Which part is cut short: `"dimensions"` (the header) or `"data"`.
        what: &'static str,
        /// Bytes promised (for data: by the dimensions in the header).
        expected: u64,
        /// Bytes present (for a compressed file: present after decompression).
        found: u64,
    },

    /// The file holds more bytes after the data than its header accounts for.
    #[error(
        "{}: trailing bytes: the header promises {expected} data bytes, found {}",
        path.display(),
        if *exact { format!("{found}") } else { format!("more than {expected}") }
    )]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// Data bytes promised by the header.
        expected: u64,
        /// Data bytes present; for a compressed file, where reading stops at the first extra
        /// byte, only a lower bound (see `exact`).
        found: u64,
        /// Whether `found` is the exact count (raw files) or a lower bound (compressed files).
        exact: bool,
    },

    /// An images file and its labels file disagree on the number of items.
    #[error(
        "{} holds {images} images but {} holds {labels} labels: expected equal counts",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// The labels file.
        labels_path: PathBuf,
        /// Number of images.
        images: usize,
        /// Number of labels.
        labels: usize,
    },

    /// The SHA-256 of a file's decompressed content is not the recorded one.
    #[error(
        "{}: checksum mismatch: expected SHA-256 {expected} of the decompressed content, found {found}",
        path.display()
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The recorded digest (lowercase hex).
        expected: String,
        /// The digest computed (lowercase hex).
        found: String,
    },

    /// A file checked against the digest of the file as its publisher serves it (a data set
    /// whose publisher gives no digest of the decompressed content) does not match it.
    #[error(
        "{}: checksum mismatch: expected SHA-256 {expected} of the file as served (the official .gz), found {found}",
        path.display()
    )]
    ServedChecksum {
        /// The file.
        path: PathBuf,
        /// The published digest (lowercase hex).
        expected: String,
        /// The digest computed (lowercase hex).
        found: String,
    },

    /// A data set verifiable only through its served `.gz` files was given decompressed.
    #[error(
        "{}: {dataset} is verified by the SHA-256 of its official .gz files, and this copy is not the \
         .gz as served: keep the files as `latent fetch {dataset}` downloads them, or load the \
         directory unverified with --data DIR",
        path.display()
    )]
    NotAsServed {
        /// The file.
        path: PathBuf,
        /// The data set's name.
        dataset: &'static str,
    },

    /// None of the accepted spellings of a data file exists in a directory.
    #[error(
        "{}: no {what} file: expected one of {}",
        dir.display(),
        tried.join(", ")
    )]
    MissingFile {
        /// The directory searched.
        dir: PathBuf,
        /// Which file was looked for ("training images", say).
        what: String,
        /// The file names tried, in order.
        tried: Vec<String>,
    },

    /// No MNIST data was found anywhere it is looked for (and the sample is not built in).
    #[error(
        "no MNIST data: expected the four MNIST files in {}, and this build has no built-in \
         sample; run `latent fetch mnist`, or point `--data-dir` or LATENT_DATA_DIR at a directory \
         holding them",
        if tried.is_empty() {
            "the user's data directory (none found: no home directory)".to_string()
        } else {
            tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        }
    )]
    NoData {
        /// The directories searched, in order.
        tried: Vec<PathBuf>,
    },

    /// A named data set is not in its directory under the user's data directory.
    #[error(
        "{name} is not in {}: the four files were not all found there; fetch it with `latent fetch {name}`, \
         or give its directory with --data-dir",
        dir.display()
    )]
    NotFetched {
        /// The data set's name (`fashion-mnist`).
        name: &'static str,
        /// Where it was looked for.
        dir: PathBuf,
    },

    /// The user's data directory is unknown (no home directory), so a named data set cannot be
    /// looked for.
    #[error(
        "{name}: cannot tell where the user's data directory is (no home directory); give the data's directory with --data-dir"
    )]
    NoDataHome {
        /// The data set asked for.
        name: &'static str,
    },

    /// The MNIST sample was asked for, but this build does not contain it.
    #[error(
        "the MNIST sample is not built into this program (latent-data was built without its \
         `embedded-sample` feature); fetch MNIST with `latent fetch mnist`, or give --data-dir"
    )]
    NoSample,

    /// A manifest file is malformed or does not list a file it must.
    #[error("{}: bad manifest: expected {expected}, found {found}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What was required.
        expected: String,
        /// What the manifest holds instead.
        found: String,
    },

    /// A `.npy` file, or an array in an `.npz` archive, is malformed or holds another element
    /// type than the one asked for.
    #[error("{}{}: {problem}", path.display(), member.as_ref().map(|m| format!(", member {m}")).unwrap_or_default())]
    Npy {
        /// The `.npy` file or `.npz` archive.
        path: PathBuf,
        /// The archive member (`None` for a `.npy` file).
        member: Option<String>,
        /// What is wrong, with what was expected and what was found (part of the message, so
        /// not also reported as the error's source).
        problem: crate::npy::NpyError,
    },

    /// An `.npz` archive holds no array of the name asked for.
    #[error(
        "{}: no array '{key}': the archive holds {}",
        path.display(),
        if present.is_empty() { "none".to_string() } else { present.join(", ") }
    )]
    NpzMissingKey {
        /// The archive.
        path: PathBuf,
        /// The name asked for.
        key: String,
        /// The names of the arrays it holds, in archive order.
        present: Vec<String>,
    },

    /// An `.npz` archive cannot be read or written as a zip archive.
    #[error("{}: {reason}", path.display())]
    Npz {
        /// The archive.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },

    /// A file or folder of an image folder is not what it must be ([`crate::images`]).
    #[error("{}: {problem}", path.display())]
    ImageFolder {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong, with what was expected and what was found.
        problem: crate::images::ImageProblem,
    },

    /// Writing a file failed (atomically: the previous file, if any, is intact).
    #[error(transparent)]
    Write(#[from] latent_fsio::WriteError),

    /// A parameter passed to this crate is out of range (a batch size of zero, say).
    #[error("invalid {what}: expected {expected}, found {found}")]
    InvalidParameter {
        /// The parameter.
        what: &'static str,
        /// The range accepted.
        expected: String,
        /// The value given.
        found: String,
    },

    /// A table (a CSV file) is malformed, or a row, column or cell of it is not what is expected.
    #[error("{}{}: expected {expected}, found {found}", path.display(), table_place(*line, column.as_deref()))]
    Table {
        /// The file.
        path: PathBuf,
        /// The line of the file (1-based, as an editor shows it) the problem is on, if one.
        line: Option<u64>,
        /// The column concerned, by its header name, if one.
        column: Option<String>,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },

    /// An array (a `.npy` file, or an array in an `.npz` archive) does not hold examples as
    /// expected: another shape or element type, labels that do not match, keys missing.
    #[error("{}{}: expected {expected}, found {found}", path.display(), key.as_ref().map(|k| format!(", array '{k}'")).unwrap_or_default())]
    Array {
        /// The `.npy` file or `.npz` archive.
        path: PathBuf,
        /// The array's name in an archive, if one.
        key: Option<String>,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
}

impl DataError {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io { path: path.into(), source }
    }
}

/// The name of an IDX element-type code, if it is one the format defines.
pub(crate) fn element_type_name(code: u8) -> Option<&'static str> {
    match code {
        0x08 => Some("unsigned byte"),
        0x09 => Some("signed byte"),
        0x0B => Some("16-bit integer"),
        0x0C => Some("32-bit integer"),
        0x0D => Some("32-bit float"),
        0x0E => Some("64-bit float"),
        _ => None,
    }
}

/// `: line L, column 'C'` (either part only when known).
fn table_place(line: Option<u64>, column: Option<&str>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(": line {l}, column '{c}'"),
        (Some(l), None) => format!(": line {l}"),
        (None, Some(c)) => format!(": column '{c}'"),
        (None, None) => String::new(),
    }
}

/// Bytes as space-separated hex pairs, `(empty)` for none.
fn hex_bytes(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "(empty file)".to_string();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}
