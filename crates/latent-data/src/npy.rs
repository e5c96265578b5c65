//! NumPy arrays on disk: `.npy` files and `.npz` archives, read and written.
//!
//! The formats themselves are handled by the [`ndarray_npy`] crate (header parsing and writing,
//! element encoding) and the [`zip`] crate (archives). This module adds what a program reading
//! files it did not write needs:
//!
//! - **Errors that name the file** (and the archive member) and say what was expected and what
//!   was found: "`codes.npy`: element type '<f4' (float32) expected, found '|u1'".
//! - **Nothing is allocated on the word of a header.** The header's length is checked against
//!   the file's size (and capped at [`MAX_HEADER_LEN`]) before it is read, and the data size the
//!   shape implies against the bytes actually there before the array is allocated. A `.npz`
//!   member is trusted for no more than its stored size can hold: a stored member's size must
//!   equal its stored bytes, a deflated member's at most [`MAX_DEFLATE_RATIO`] times them (the
//!   most deflate can expand). So reading never allocates much more than the input's size,
//!   whatever the header claims.
//! - **One element-type vocabulary**: [`NpyElement`] is `f32`, `f64`, `u8` or `i64`, read in
//!   either byte order and either memory order (a Fortran-ordered file comes back row-major),
//!   written little-endian in C order.
//! - **Atomic writes** through [`latent_fsio`]: a reader sees the old file or the whole new one.
//!
//! Files written here load with `numpy.load`; `.npz` archives are what `numpy.savez` (stored
//! members, [`NpzWriter::create`]) or `numpy.savez_compressed` (deflated,
//! [`NpzWriter::create_compressed`]) write, and both kinds read back here.
//!
//! ```
//! use latent_data::npy::{self, NpzReader, NpzWriter};
//! use ndarray::{ArrayD, array};
//!
//! let dir = tempfile::tempdir()?;
//! let codes = array![[0.5f32, -1.0], [2.0, 0.25]];
//! npy::write_npy(dir.path().join("codes.npy"), &codes)?;
//! let back: ArrayD<f32> = npy::read_npy(dir.path().join("codes.npy"))?;
//! assert_eq!(back, codes.into_dyn());
//!
//! let mut npz = NpzWriter::create_compressed(dir.path().join("set.npz"))?;
//! npz.add("images", &array![[0u8, 255], [7, 9]])?;
//! npz.add("labels", &array![3i64, 4])?;
//! npz.finish()?;
//! let mut set = NpzReader::open(dir.path().join("set.npz"))?;
//! assert_eq!(set.names(), ["images", "labels"]);
//! let labels: ArrayD<i64> = set.read("labels")?;
//! assert_eq!(labels.into_raw_vec_and_offset().0, [3, 4]);
//! let missing = set.read::<f32>("codes").unwrap_err().to_string();
//! assert!(missing.contains("no array 'codes'") && missing.contains("images, labels"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ndarray::{ArrayBase, ArrayD, Data, Dimension};
use ndarray_npy::npy::header::{Header, Layout};
use ndarray_npy::{ReadNpyExt, ReadableElement, WritableElement, WriteNpyExt};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use crate::error::DataError;

/// The largest `.npy` header read, in bytes: 10 000, NumPy's own default (`max_header_size`).
/// A header is some 100 bytes; NumPy arrays have at most 64 axes. The limit also bounds the
/// time the header parser may take (see [`MAX_HEADER_DEPTH`]).
pub const MAX_HEADER_LEN: u64 = 10_000;

/// The most a deflated `.npz` member may expand: deflate's limit is about 1032 to 1, so a member
/// claiming more than this many times its compressed size is refused before it is read.
pub const MAX_DEFLATE_RATIO: u64 = 1032;

/// The deepest nesting of brackets (outside strings) a `.npy` header may have: NumPy writes a
/// dictionary holding a tuple (depth 2); a structured type (which this module does not read)
/// adds a list of tuples, still parsed so the error can name it. Deeper headers are refused
/// before parsing ([`NpyError::Header`]): the parser behind ndarray-npy backtracks, taking
/// time exponential in the depth, so with [`MAX_HEADER_LEN`] this bounds a hostile header's
/// cost to a fraction of a second.
pub const MAX_HEADER_DEPTH: usize = 3;

const MAGIC: &[u8; 6] = b"\x93NUMPY";

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for u8 {}
    impl Sealed for i64 {}
}

/// An element type of the arrays this module reads and writes: `f32`, `f64`, `u8` or `i64`.
pub trait NpyElement: ReadableElement + WritableElement + Copy + sealed::Sealed {
    /// The NumPy type string written for it, e.g. `'<f4'`.
    const DESCR: &'static str;
    /// The NumPy dtype name, e.g. `float32`.
    const NAME: &'static str;
    /// The type strings read as it (both byte orders).
    const ACCEPTS: &'static [&'static str];
}

macro_rules! npy_element {
    ($t:ty, $descr:literal, $name:literal, [$($accepts:literal),*]) => {
        impl NpyElement for $t {
            const DESCR: &'static str = $descr;
            const NAME: &'static str = $name;
            const ACCEPTS: &'static [&'static str] = &[$($accepts),*];
        }
    };
}

npy_element!(f32, "<f4", "float32", ["<f4", ">f4"]);
npy_element!(f64, "<f8", "float64", ["<f8", ">f8"]);
npy_element!(u8, "|u1", "uint8", ["|u1", "u1", "B"]);
npy_element!(i64, "<i8", "int64", ["<i8", ">i8"]);

/// What is wrong with the bytes of one `.npy` array (a file, or a member of an `.npz`
/// archive). [`DataError::Npy`] adds the file and member.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NpyError {
    /// The first bytes are not `\x93NUMPY` followed by a version and a header length.
    #[error("not a .npy file (the magic string \\x93NUMPY is missing)")]
    NotNpy,
    /// A format version other than 1.0, 2.0 or 3.0.
    #[error(".npy format version 1.0, 2.0 or 3.0 expected, found {major}.{minor}")]
    Version {
        /// The major version found.
        major: u8,
        /// The minor version found.
        minor: u8,
    },
    /// The header is longer than the bytes that follow it, or than [`MAX_HEADER_LEN`].
    #[error("the header claims {claimed} bytes but {}", if *claimed > MAX_HEADER_LEN && *available > MAX_HEADER_LEN {
        format!("at most {MAX_HEADER_LEN} are accepted")
    } else {
        format!("only {available} follow it")
    })]
    HeaderLength {
        /// The header length written in the file.
        claimed: u64,
        /// The bytes after the length field.
        available: u64,
    },
    /// The header is not a valid `.npy` header dictionary.
    #[error("bad header: {0}")]
    Header(String),
    /// The array holds another element type than the one asked for.
    #[error("element type '{expected}' ({name}) expected, found {found}")]
    ElementType {
        /// The type string of the type asked for, e.g. `<f4`.
        expected: &'static str,
        /// Its NumPy name, e.g. `float32`.
        name: &'static str,
        /// The header's type descriptor, as a Python literal (e.g. `'|u1'`).
        found: String,
    },
    /// The data is not as long as the shape and element type say.
    #[error(
        "shape {shape:?} of '{descr}' needs {} bytes of data, found {found}",
        expected.map_or("more than u64::MAX".to_string(), |e| e.to_string())
    )]
    DataLength {
        /// The shape in the header.
        shape: Vec<usize>,
        /// The element type string.
        descr: &'static str,
        /// The bytes the shape needs (`None` if that overflows).
        expected: Option<u64>,
        /// The bytes there are.
        found: u64,
    },
    /// An `.npz` member claims more bytes than its archive can hold: stored bytes beyond the
    /// archive's end, a stored member whose two sizes differ, or a deflated one expanding more
    /// than deflate can.
    #[error(
        "claims {size} bytes from {compressed} stored ones in an archive of {archive} bytes, more than it can hold \
         (deflate expands at most {MAX_DEFLATE_RATIO} to 1)"
    )]
    MemberSize {
        /// The uncompressed size the archive records.
        size: u64,
        /// The stored (compressed) size it records.
        compressed: u64,
        /// The archive's size.
        archive: u64,
    },
    /// The data could not be read (an I/O error, a corrupt compressed stream, a checksum).
    #[error("cannot read the data: {0}")]
    Data(String),
}

/// The shape and type of an array, from its `.npy` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyInfo {
    /// The type descriptor as a Python literal, e.g. `'<f4'`.
    pub descr: String,
    /// The shape.
    pub shape: Vec<usize>,
    /// Whether the data is stored in Fortran (column-major) order.
    pub fortran_order: bool,
}

impl NpyInfo {
    /// Whether the array holds elements of type `A`.
    pub fn is<A: NpyElement>(&self) -> bool {
        A::ACCEPTS.iter().any(|a| self.descr == format!("'{a}'"))
    }
}

/// Reads the header of a `.npy` stream of `len` bytes (a file or an archive member), checking
/// its length against `len` before reading it; returns it and the header's size in bytes.
fn read_header<R: Read>(reader: &mut R, len: u64) -> Result<(Header, u64), NpyError> {
    let mut prelude = [0u8; 12];
    let got = read_up_to(reader, &mut prelude[..10]).map_err(|e| NpyError::Data(e.to_string()))?;
    if got < 10 || &prelude[..6] != MAGIC {
        return Err(NpyError::NotNpy);
    }
    let (major, minor) = (prelude[6], prelude[7]);
    let (claimed, start) = match (major, minor) {
        (1, 0) => (u64::from(u16::from_le_bytes([prelude[8], prelude[9]])), 10),
        (2 | 3, 0) => {
            if read_up_to(reader, &mut prelude[10..12]).map_err(|e| NpyError::Data(e.to_string()))? < 2 {
                return Err(NpyError::HeaderLength { claimed: 0, available: len.saturating_sub(10) });
            }
            (u64::from(u32::from_le_bytes([prelude[8], prelude[9], prelude[10], prelude[11]])), 12)
        }
        _ => return Err(NpyError::Version { major, minor }),
    };
    let available = len.saturating_sub(start);
    if claimed > available || claimed > MAX_HEADER_LEN {
        return Err(NpyError::HeaderLength { claimed, available });
    }
    // At most MAX_HEADER_LEN, and no more than the stream holds.
    let mut text = Vec::with_capacity(claimed as usize);
    reader.take(claimed).read_to_end(&mut text).map_err(|e| NpyError::Data(e.to_string()))?;
    check_nesting(&text)?;
    let mut whole = io::Cursor::new(&prelude[..start as usize]).chain(&text[..]);
    let header = Header::from_reader(&mut whole).map_err(|e| NpyError::Header(e.to_string()))?;
    Ok((header, start + claimed))
}

/// Refuses a header whose brackets (outside quoted strings) nest deeper than
/// [`MAX_HEADER_DEPTH`]. The header parser behind `ndarray-npy` backtracks, taking time
/// exponential in the nesting depth: a 30-byte header of `[` or `{` would keep it busy for hours.
fn check_nesting(text: &[u8]) -> Result<(), NpyError> {
    let (mut depth, mut quote, mut escaped) = (0usize, None, false);
    for &b in text {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == q {
                    quote = None;
                }
            }
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_HEADER_DEPTH {
                        return Err(NpyError::Header(format!(
                            "brackets nested more than {MAX_HEADER_DEPTH} deep (a NumPy header nests 2)"
                        )));
                    }
                }
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    Ok(())
}

/// Reads into `buf` until it is full or the stream ends; the number of bytes read.
fn read_up_to<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn info_of(header: &Header) -> NpyInfo {
    let descr = header.type_descriptor.to_string();
    NpyInfo { descr, shape: header.shape.clone(), fortran_order: header.layout == Layout::Fortran }
}

/// Checks that `header` describes `A`s filling exactly `data_len` bytes.
fn check<A: NpyElement>(header: &Header, data_len: u64) -> Result<(), NpyError> {
    let info = info_of(header);
    if !info.is::<A>() {
        return Err(NpyError::ElementType { expected: A::DESCR, name: A::NAME, found: info.descr });
    }
    let expected = info
        .shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .and_then(|n| n.checked_mul(std::mem::size_of::<A>() as u64));
    if expected != Some(data_len) {
        return Err(NpyError::DataLength { shape: info.shape, descr: A::DESCR, expected, found: data_len });
    }
    Ok(())
}

/// Reads the array from a stream already checked by [`read_header`] and [`check`], returning
/// it in row-major (standard) layout.
fn read_checked<A: NpyElement, R: Read>(reader: R) -> Result<ArrayD<A>, NpyError> {
    let array = ArrayD::<A>::read_npy(reader).map_err(|e| NpyError::Data(e.to_string()))?;
    Ok(if array.is_standard_layout() { array } else { array.as_standard_layout().into_owned() })
}

/// Decodes the bytes of a `.npy` file.
///
/// # Errors
/// An [`NpyError`] saying what is wrong: not a `.npy`, a bad header, another element type, or
/// data of the wrong length.
pub fn decode_npy<A: NpyElement>(bytes: &[u8]) -> Result<ArrayD<A>, NpyError> {
    let (header, start) = read_header(&mut &bytes[..], bytes.len() as u64)?;
    check::<A>(&header, bytes.len() as u64 - start)?;
    read_checked(bytes)
}

/// Encodes `array` as the bytes of a `.npy` file (little-endian, C order; any memory layout
/// is accepted and written in logical row-major order).
///
/// # Errors
/// [`NpyError::Header`] if the header cannot be formatted (an array of some 400 000 axes).
pub fn encode_npy<A, S, D>(array: &ArrayBase<S, D>) -> Result<Vec<u8>, NpyError>
where
    A: NpyElement,
    S: Data<Elem = A>,
    D: Dimension,
{
    let mut out = Vec::with_capacity(128 + array.len() * std::mem::size_of::<A>());
    array.as_standard_layout().write_npy(&mut out).map_err(|e| NpyError::Header(e.to_string()))?;
    Ok(out)
}

/// Opens `path` for reading, with its size.
fn open(path: &Path) -> Result<(BufReader<File>, u64), DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    Ok((BufReader::new(file), len))
}

fn npy_error(path: &Path, member: Option<&str>) -> impl FnOnce(NpyError) -> DataError {
    let (path, member) = (path.to_path_buf(), member.map(str::to_string));
    move |problem| DataError::Npy { path, member, problem }
}

/// The shape and element type of the `.npy` file at `path`, from its header alone.
///
/// # Errors
/// [`DataError::Io`] if it cannot be read; [`DataError::Npy`] naming the file if its header is
/// invalid.
pub fn read_npy_info(path: impl AsRef<Path>) -> Result<NpyInfo, DataError> {
    let path = path.as_ref();
    let (mut reader, len) = open(path)?;
    let (header, _) = read_header(&mut reader, len).map_err(npy_error(path, None))?;
    Ok(info_of(&header))
}

/// Reads the `.npy` file at `path`, whose elements must be `A`s, into a row-major array.
///
/// # Errors
/// [`DataError::Io`] if it cannot be read; [`DataError::Npy`] naming the file if it is not a
/// `.npy` file, holds another element type, or its size does not match its header.
pub fn read_npy<A: NpyElement>(path: impl AsRef<Path>) -> Result<ArrayD<A>, DataError> {
    let path = path.as_ref();
    let (mut reader, len) = open(path)?;
    let fail = || npy_error(path, None);
    let (header, start) = read_header(&mut reader, len).map_err(fail())?;
    check::<A>(&header, len - start).map_err(fail())?;
    reader.seek(SeekFrom::Start(0)).map_err(|e| DataError::io(path, e))?;
    read_checked(reader.take(len)).map_err(fail())
}

/// Writes `array` to `path` as a `.npy` file (little-endian, C order), atomically. Any memory
/// layout is accepted (views, transposes); the elements are written in logical row-major order.
///
/// # Errors
/// [`DataError::Write`] naming `path` if the file cannot be written (the previous file, if any,
/// is then intact).
pub fn write_npy<A, S, D>(path: impl AsRef<Path>, array: &ArrayBase<S, D>) -> Result<(), DataError>
where
    A: NpyElement,
    S: Data<Elem = A>,
    D: Dimension,
{
    latent_fsio::write_atomic(path, |w| array.as_standard_layout().write_npy(w).map_err(io::Error::other))?;
    Ok(())
}

/// Reads the array `name` of the `.npz` archive at `path` (see [`NpzReader::read`]).
///
/// # Errors
/// As [`NpzReader::open`] and [`NpzReader::read`].
pub fn read_npz<A: NpyElement>(path: impl AsRef<Path>, name: &str) -> Result<ArrayD<A>, DataError> {
    NpzReader::open(path)?.read(name)
}

/// An `.npz` archive opened for reading: its array names, and each array by name.
pub struct NpzReader {
    path: PathBuf,
    len: u64,
    archive: zip::ZipArchive<BufReader<File>>,
}

impl std::fmt::Debug for NpzReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpzReader").field("path", &self.path).field("names", &self.names()).finish()
    }
}

impl NpzReader {
    /// Opens the archive at `path` and reads its directory.
    ///
    /// # Errors
    /// [`DataError::Io`] if it cannot be opened; [`DataError::Npz`] naming it if it is not a
    /// zip archive.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref().to_path_buf();
        let (reader, len) = open(&path)?;
        let archive = zip::ZipArchive::new(reader)
            .map_err(|e| DataError::Npz { path: path.clone(), reason: format!("not a readable zip archive: {e}") })?;
        Ok(NpzReader { path, len, archive })
    }

    /// The archive's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The names of the arrays, in archive order, without their `.npy` suffix (as
    /// `numpy.load(...).files` gives them).
    pub fn names(&self) -> Vec<String> {
        self.archive.file_names().map(|n| n.strip_suffix(".npy").unwrap_or(n).to_string()).collect()
    }

    /// The member holding array `name` (`name` or `name.npy`).
    fn member_name(&self, name: &str) -> Result<String, DataError> {
        let with_suffix = format!("{name}.npy");
        self.archive
            .file_names()
            .find(|&n| n == name)
            .or_else(|| self.archive.file_names().find(|&n| n == with_suffix))
            .map(str::to_string)
            .ok_or_else(|| DataError::NpzMissingKey {
                path: self.path.clone(),
                key: name.to_string(),
                present: self.names(),
            })
    }

    /// Opens member `member` with its uncompressed size, refusing sizes its stored bytes
    /// cannot hold.
    fn member(&mut self, member: &str) -> Result<(zip::read::ZipFile<'_, BufReader<File>>, u64), DataError> {
        let (path, archive) = (self.path.clone(), self.len);
        let file = self
            .archive
            .by_name(member)
            .map_err(|e| DataError::Npz { path: path.clone(), reason: format!("cannot read member {member}: {e}") })?;
        let (size, compressed) = (file.size(), file.compressed_size());
        let plausible = compressed <= archive
            && match file.compression() {
                CompressionMethod::Stored => size == compressed,
                _ => size <= compressed.saturating_mul(MAX_DEFLATE_RATIO).saturating_add(1024),
            };
        if !plausible {
            return Err(DataError::Npy {
                path,
                member: Some(member.to_string()),
                problem: NpyError::MemberSize { size, compressed, archive },
            });
        }
        Ok((file, size))
    }

    /// The shape and element type of array `name`, from its header alone.
    ///
    /// # Errors
    /// [`DataError::NpzMissingKey`] naming the key and the keys present; [`DataError::Npy`]
    /// naming the archive and member if the member's header is invalid.
    pub fn info(&mut self, name: &str) -> Result<NpyInfo, DataError> {
        let member = self.member_name(name)?;
        let path = self.path.clone();
        let (mut file, size) = self.member(&member)?;
        let (header, _) = read_header(&mut file, size).map_err(npy_error(&path, Some(&member)))?;
        Ok(info_of(&header))
    }

    /// Reads array `name` (the member `name` or `name.npy`), whose elements must be `A`s, into
    /// a row-major array. Stored and deflated members are read alike.
    ///
    /// # Errors
    /// [`DataError::NpzMissingKey`] naming the key and the keys present;
    /// [`DataError::Npy`] naming the archive and member if the member is not a valid `.npy`
    /// of `A`s (or its compressed data or checksum is bad); [`DataError::Npz`] if the archive
    /// cannot be read.
    pub fn read<A: NpyElement>(&mut self, name: &str) -> Result<ArrayD<A>, DataError> {
        let member = self.member_name(name)?;
        let path = self.path.clone();
        let fail = || npy_error(&path, Some(&member));
        let (header, start, size) = {
            let (mut file, size) = self.member(&member)?;
            let (header, start) = read_header(&mut file, size).map_err(fail())?;
            (header, start, size)
        };
        check::<A>(&header, size - start).map_err(fail())?;
        let (mut file, _) = self.member(&member)?;
        let array = read_checked(file.by_ref().take(size)).map_err(fail())?;
        // Read on to the end of the member: the zip reader checks its CRC there, and a member
        // longer than it declares is refused.
        let mut extra = [0u8; 1];
        match file.read(&mut extra) {
            Ok(0) => Ok(array),
            Ok(_) => Err(fail()(NpyError::Data(format!("the member holds more than the {size} bytes it declares")))),
            Err(e) => Err(fail()(NpyError::Data(e.to_string()))),
        }
    }
}

/// A 2-D `.npy` file written a block of rows at a time, for arrays too large to hold in memory
/// (a million samples are 3 GB): the header, with the final shape, first, then the rows in
/// order, little-endian. Nothing appears at the path until [`finish`](Self::finish) has
/// checked that every row was written and put the file in place atomically; dropped before
/// that, it leaves the previous file (if any) untouched and no temporary file behind. The bytes
/// are those [`write_npy`] writes for the whole array.
///
/// ```
/// use latent_data::npy::{NpyRowWriter, read_npy};
/// use ndarray::{ArrayD, array};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("rows.npy");
/// let mut out = NpyRowWriter::<f32>::create(&path, 3, 2)?;
/// out.write_rows(&array![[1.0, 2.0], [3.0, 4.0]])?;
/// assert!(!path.exists());
/// out.write_rows(&array![[5.0, 6.0]])?;
/// out.finish()?;
/// let back: ArrayD<f32> = read_npy(&path)?;
/// assert_eq!(back, array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]].into_dyn());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct NpyRowWriter<A> {
    path: PathBuf,
    file: latent_fsio::AtomicFile,
    rows: usize,
    cols: usize,
    written: usize,
    element: std::marker::PhantomData<A>,
}

impl<A> std::fmt::Debug for NpyRowWriter<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpyRowWriter")
            .field("path", &self.path)
            .field("shape", &(self.rows, self.cols))
            .field("written", &self.written)
            .finish()
    }
}

impl<A: NpyElement> NpyRowWriter<A> {
    /// Starts the file of a `rows` × `cols` array at `path` and writes its header.
    ///
    /// # Errors
    /// [`DataError::Write`] naming `path` if the temporary file cannot be created or written.
    pub fn create(path: impl AsRef<Path>, rows: usize, cols: usize) -> Result<Self, DataError> {
        let path = path.as_ref().to_path_buf();
        let mut file = latent_fsio::AtomicFile::create(&path)?;
        let header =
            Header { type_descriptor: A::type_descriptor(), layout: Layout::Standard, shape: vec![rows, cols] };
        let write_error = |source| latent_fsio::WriteError { action: "write", path: path.clone(), source };
        header.write(&mut file).map_err(|e| write_error(io::Error::other(e)))?;
        Ok(NpyRowWriter { path, file, rows, cols, written: 0, element: std::marker::PhantomData })
    }

    /// Appends the rows of `block` (which must have the file's number of columns, and not take
    /// it past its number of rows).
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] for a block of another width or one row too many;
    /// [`DataError::Write`] naming the file if the bytes cannot be written.
    pub fn write_rows<S: Data<Elem = A>>(&mut self, block: &ArrayBase<S, ndarray::Ix2>) -> Result<(), DataError> {
        let (n, cols) = block.dim();
        if cols != self.cols || n > self.rows - self.written {
            return Err(DataError::InvalidParameter {
                what: "block of rows",
                expected: format!("{} columns and at most {} more rows", self.cols, self.rows - self.written),
                found: format!("{n} rows of {cols} columns"),
            });
        }
        let block = block.as_standard_layout();
        let values = block.as_slice().expect("a standard-layout array is contiguous");
        A::write_slice(values, &mut self.file).map_err(|e| latent_fsio::WriteError {
            action: "write",
            path: self.path.clone(),
            source: io::Error::other(e),
        })?;
        self.written += n;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> usize {
        self.written
    }

    /// Puts the complete file in place atomically.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if fewer rows were written than the header says (nothing
    /// is then put in place); [`DataError::Write`] if the file cannot be synced or renamed.
    pub fn finish(self) -> Result<(), DataError> {
        if self.written != self.rows {
            return Err(DataError::InvalidParameter {
                what: "number of rows written",
                expected: self.rows.to_string(),
                found: self.written.to_string(),
            });
        }
        self.file.commit()?;
        Ok(())
    }
}

/// An `.npz` archive being written: add arrays by name, then [`finish`](Self::finish), which
/// puts the whole archive in place atomically (nothing appears at the path before that).
pub struct NpzWriter {
    path: PathBuf,
    zip: ndarray_npy::NpzWriter<latent_fsio::AtomicFile>,
    compression: CompressionMethod,
}

impl std::fmt::Debug for NpzWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpzWriter").field("path", &self.path).field("compression", &self.compression).finish()
    }
}

impl NpzWriter {
    /// Starts an archive of stored (uncompressed) members at `path`, as `numpy.savez` writes.
    ///
    /// # Errors
    /// [`DataError::Write`] if the temporary file cannot be created.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, DataError> {
        Self::with(path.as_ref(), CompressionMethod::Stored)
    }

    /// Starts an archive of deflated members at `path`, as `numpy.savez_compressed` writes.
    ///
    /// # Errors
    /// [`DataError::Write`] if the temporary file cannot be created.
    pub fn create_compressed(path: impl AsRef<Path>) -> Result<Self, DataError> {
        Self::with(path.as_ref(), CompressionMethod::Deflated)
    }

    fn with(path: &Path, compression: CompressionMethod) -> Result<Self, DataError> {
        let file = latent_fsio::AtomicFile::create(path)?;
        let options = Self::options(compression, false);
        Ok(NpzWriter {
            path: path.to_path_buf(),
            zip: ndarray_npy::NpzWriter::new_with_options(file, options),
            compression,
        })
    }

    /// Member options: the fixed 1980-01-01 timestamp (the same array gives the same bytes),
    /// zip64 only for a member of 4 GiB or more.
    fn options(compression: CompressionMethod, large: bool) -> SimpleFileOptions {
        SimpleFileOptions::default()
            .compression_method(compression)
            .last_modified_time(zip::DateTime::default())
            .large_file(large)
    }

    /// Adds `array` as member `name.npy` (read back as `name`), little-endian, C order.
    ///
    /// # Errors
    /// [`DataError::Npz`] naming the archive if the member cannot be added (a duplicate name,
    /// a write error).
    pub fn add<A, S, D>(&mut self, name: &str, array: &ArrayBase<S, D>) -> Result<(), DataError>
    where
        A: NpyElement,
        S: Data<Elem = A>,
        D: Dimension,
    {
        let bytes = (array.len() as u64).saturating_mul(std::mem::size_of::<A>() as u64);
        let options = Self::options(self.compression, bytes >= u64::from(u32::MAX) - 1024);
        self.zip
            .add_array_with_options(name, &array.as_standard_layout(), options)
            .map_err(|e| DataError::Npz { path: self.path.clone(), reason: format!("cannot add array '{name}': {e}") })
    }

    /// Writes the archive's directory and puts the archive in place atomically.
    ///
    /// # Errors
    /// [`DataError::Npz`] or [`DataError::Write`] naming the archive; the previous file at the
    /// path, if any, is then intact.
    pub fn finish(self) -> Result<(), DataError> {
        let NpzWriter { path, zip, .. } = self;
        let file =
            zip.finish().map_err(|e| DataError::Npz { path, reason: format!("cannot finish the archive: {e}") })?;
        file.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, Array2, IxDyn, arr0, arr1, arr2};
    use std::io::Write;

    /// A `.npy` file with this header dictionary (version `major`) and data.
    fn npy_bytes(major: u8, dict: &str, data: &[u8]) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[major, 0]);
        let len = dict.len() + 1;
        if major == 1 {
            b.extend_from_slice(&(len as u16).to_le_bytes());
        } else {
            b.extend_from_slice(&(len as u32).to_le_bytes());
        }
        b.extend_from_slice(dict.as_bytes());
        b.push(b'\n');
        b.extend_from_slice(data);
        b
    }

    fn same_bits(a: &ArrayD<f32>, b: &ArrayD<f32>) -> bool {
        a.shape() == b.shape() && a.iter().zip(b.iter()).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    #[test]
    fn header_is_aligned_like_numpy() {
        let bytes = encode_npy(&Array2::<f32>::zeros((3, 4))).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((bytes[6], bytes[7]), (1, 0));
        assert_eq!((10 + header_len) % 64, 0);
        let text = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(text.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)"), "{text}");
        assert!(text.ends_with(" \n"), "{text:?}");
        assert_eq!(bytes.len(), 10 + header_len + 12 * 4);
        let one = encode_npy(&arr1(&[5u8])).unwrap();
        assert!(String::from_utf8_lossy(&one).contains("'shape': (1,)"));
        let scalar = encode_npy(&arr0(1i64)).unwrap();
        assert!(String::from_utf8_lossy(&scalar).contains("'shape': ()"));
    }

    #[test]
    fn f32_round_trips_for_several_ranks() {
        let dir = tempfile::tempdir().unwrap();
        let cases: Vec<ArrayD<f32>> = vec![
            arr0(1.5f32).into_dyn(),
            arr1(&[1.0f32, -2.0, f32::NAN, f32::INFINITY, 0.25]).into_dyn(),
            Array::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as f32 / 7.0).into_dyn(),
            Array::from_shape_fn((2, 1, 3, 2), |(a, b, c, d)| (a + b + c * 2 + d) as f32 - 3.5).into_dyn(),
            ArrayD::<f32>::zeros(IxDyn(&[0, 3])),
        ];
        for (i, a) in cases.iter().enumerate() {
            let p = dir.path().join(format!("a{i}.npy"));
            write_npy(&p, a).unwrap();
            assert!(same_bits(a, &read_npy(&p).unwrap()), "case {i}");
            assert_eq!(read_npy_info(&p).unwrap().shape, a.shape());
        }
    }

    #[test]
    fn f64_u8_and_i64_round_trip() {
        let f = arr2(&[[0.1f64, -1e300], [f64::MIN_POSITIVE, 3.0]]);
        assert_eq!(decode_npy::<f64>(&encode_npy(&f).unwrap()).unwrap(), f.clone().into_dyn());
        let u = arr1(&[0u8, 7, 255, 9]);
        assert_eq!(decode_npy::<u8>(&encode_npy(&u).unwrap()).unwrap(), u.into_dyn());
        let i = arr2(&[[-1i64, i64::MAX], [i64::MIN, 42]]);
        assert_eq!(decode_npy::<i64>(&encode_npy(&i).unwrap()).unwrap(), i.into_dyn());
        let info = |bytes: &[u8]| info_of(&read_header(&mut &bytes[..], bytes.len() as u64).unwrap().0);
        let header = info(&encode_npy(&f).unwrap());
        assert!(header.is::<f64>() && !header.is::<f32>() && header.descr == "'<f8'", "{header:?}");
    }

    #[test]
    fn views_are_written_in_logical_c_order() {
        let a = Array2::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as f32);
        for view in [a.t(), a.view().reversed_axes(), a.slice(ndarray::s![.., ..;2])] {
            let bytes = encode_npy(&view).unwrap();
            assert!(String::from_utf8_lossy(&bytes).contains("'fortran_order': False"));
            let back: ArrayD<f32> = decode_npy(&bytes).unwrap();
            assert_eq!(back, view.to_owned().into_dyn());
        }
        let fortran = Array2::from_shape_vec((2, 3).f(), (0..6).map(|v| v as f32).collect()).unwrap();
        let back: ArrayD<f32> = decode_npy(&encode_npy(&fortran).unwrap()).unwrap();
        assert_eq!(back, fortran.into_dyn());
    }

    use ndarray::ShapeBuilder;

    #[test]
    fn reads_fortran_order_big_endian_and_versions_2_and_3() {
        // What numpy.save writes for np.asfortranarray(np.arange(6, dtype='>f4').reshape(2, 3)).
        let data: Vec<u8> = [0.0f32, 3.0, 1.0, 4.0, 2.0, 5.0].iter().flat_map(|v| v.to_be_bytes()).collect();
        let expected = Array::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as f32).into_dyn();
        for major in [1, 2, 3] {
            let bytes = npy_bytes(major, "{'descr': '>f4', 'fortran_order': True, 'shape': (2, 3), }", &data);
            let a: ArrayD<f32> = decode_npy(&bytes).unwrap();
            assert_eq!(a, expected, "version {major}");
            assert!(a.is_standard_layout());
        }
        let le: Vec<u8> = [1i64, -2].iter().flat_map(|v| v.to_le_bytes()).collect();
        let bytes = npy_bytes(1, "{'descr': '<i8', 'fortran_order': True, 'shape': (2,), }", &le);
        assert_eq!(decode_npy::<i64>(&bytes).unwrap(), arr1(&[1i64, -2]).into_dyn());
    }

    #[test]
    fn malformed_and_truncated_files_are_refused_with_reasons() {
        let good = encode_npy(&arr1(&[1.0f32, 2.0])).unwrap();
        let err = |bytes: &[u8]| decode_npy::<f32>(bytes).unwrap_err().to_string();
        assert!(err(b"").contains("not a .npy"));
        assert!(err(b"hello, world").contains("not a .npy"));
        assert!(err(&good[..9]).contains("not a .npy"));
        assert!(err(&good[..20]).contains("the header claims 118 bytes but only 10 follow it"), "{}", err(&good[..20]));
        assert!(
            err(&good[..good.len() - 1]).contains("needs 8 bytes of data, found 7"),
            "{}",
            err(&good[..good.len() - 1])
        );
        let mut longer = good.clone();
        longer.push(0);
        assert!(err(&longer).contains("needs 8 bytes of data, found 9"));
        assert!(decode_npy::<i64>(&good).unwrap_err().to_string().contains("'<i8' (int64) expected, found '<f4'"));
        let mut v9 = good.clone();
        v9[6] = 9;
        assert!(err(&v9).contains("version 1.0, 2.0 or 3.0 expected, found 9.0"));
        // Shapes whose size overflows, or is merely far larger than the file, are refused
        // before anything is allocated for them.
        let huge = npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", &[]);
        assert!(err(&huge).contains("more than u64::MAX"), "{}", err(&huge));
        let big = npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }", &[0; 8]);
        assert!(err(&big).contains("needs 4000000000000 bytes of data, found 8"), "{}", err(&big));
        // A version 2 header length of 4 GiB in a short file, and one over the cap.
        let mut long = npy_bytes(2, "{}", &[]);
        long[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(err(&long).contains("the header claims 4294967295 bytes but only 3 follow it"), "{}", err(&long));
        let e = read_header(&mut &long[..], 1 << 40).unwrap_err().to_string();
        assert!(e.contains("at most 10000 are accepted"), "{e}");
        for dict in [
            "{'descr': '<f4'}",
            "{'descr': '<f4', 'fortran_order': Maybe, 'shape': ()}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
            "not a dict",
            "((((((((((((((((((((((((((((((((((((((((",
        ] {
            assert!(
                err(&npy_bytes(1, dict, &[0; 8])).contains("bad header"),
                "{dict}: {}",
                err(&npy_bytes(1, dict, &[]))
            );
        }
    }

    /// Found by the mutation tests (`tests/mutation.rs`, `npy_header_mutants`): the header
    /// parser behind ndarray-npy backtracks exponentially in the nesting depth, so before the
    /// depth check `{` twelve times took 7 s and `[` twenty times 5 s, and a 40-byte header
    /// hung the reader for days; and a 1 MiB header (the former limit) nested 4 deep took a
    /// minute.
    #[test]
    fn deeply_nested_headers_are_refused_at_once() {
        let start = std::time::Instant::now();
        for open in ["{", "[", "(", "{'a': [", "[(", "{1: {"] {
            for rest in ["", "'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"] {
                // Thirteen: enough to take many seconds before the check, not hours.
                let dict = format!("{}{rest}", open.repeat(13));
                let e = decode_npy::<f32>(&npy_bytes(1, &dict, &[0; 8])).unwrap_err().to_string();
                assert!(e.contains("nested more than 3 deep"), "{dict}: {e}");
            }
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(2), "{:?}", start.elapsed());
        // Brackets inside strings do not count, and nesting up to the limit is parsed.
        let quoted = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'note': '[[[[[((({{{'}";
        assert!(decode_npy::<f32>(&npy_bytes(1, quoted, &[0; 8])).unwrap_err().to_string().contains("bad header"));
        let structured = "{'descr': [('x', '<f4'), ('y', '<i8')], 'fortran_order': False, 'shape': (1,), }";
        let e = decode_npy::<f32>(&npy_bytes(1, structured, &[0; 12])).unwrap_err().to_string();
        assert!(e.contains("'<f4' (float32) expected, found [('x', '<f4'), ('y', '<i8')]"), "{e}");
        // The longest header accepted, at the deepest nesting accepted, parses quickly too.
        let long = format!("{{'descr': [({}1,)], }}", "1, ".repeat(3300));
        assert!(long.len() < MAX_HEADER_LEN as usize);
        let started = std::time::Instant::now();
        assert!(decode_npy::<f32>(&npy_bytes(2, &long, &[])).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn every_prefix_of_a_file_is_refused_without_panicking() {
        let good = encode_npy(&arr2(&[[1.0f32, 2.0], [3.0, 4.0]])).unwrap();
        for n in 0..good.len() {
            assert!(decode_npy::<f32>(&good[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn file_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("codes.npy");
        std::fs::write(&p, b"not numpy").unwrap();
        let e = read_npy::<f32>(&p).unwrap_err();
        assert!(matches!(e, DataError::Npy { problem: NpyError::NotNpy, .. }), "{e}");
        assert!(e.to_string().contains("codes.npy") && e.to_string().contains("not a .npy"), "{e}");
        let missing = read_npy::<f32>(dir.path().join("missing.npy")).unwrap_err();
        assert!(matches!(missing, DataError::Io { .. }) && missing.to_string().contains("missing.npy"), "{missing}");
        write_npy(&p, &arr1(&[1u8, 2])).unwrap();
        let e = read_npy::<f32>(&p).unwrap_err().to_string();
        assert!(e.contains("codes.npy") && e.contains("'<f4' (float32) expected, found '|u1'"), "{e}");
    }

    #[test]
    fn npz_round_trips_stored_and_deflated() {
        let dir = tempfile::tempdir().unwrap();
        let images = Array::from_shape_fn((3, 2, 2), |(a, b, c)| (a * 4 + b * 2 + c) as u8);
        let codes = Array::from_shape_fn((3, 2), |(i, j)| i as f32 - j as f32 * 0.5);
        let labels = arr1(&[1i64, 2, 3]);
        let weights = arr1(&[0.5f64, 0.25, 0.125]);
        for (name, mut w) in [
            ("stored.npz", NpzWriter::create(dir.path().join("stored.npz")).unwrap()),
            ("deflated.npz", NpzWriter::create_compressed(dir.path().join("deflated.npz")).unwrap()),
        ] {
            w.add("images", &images).unwrap();
            w.add("codes", &codes.t()).unwrap();
            w.add("labels", &labels).unwrap();
            w.add("weights", &weights).unwrap();
            assert!(!dir.path().join(name).exists(), "nothing appears before finish");
            w.finish().unwrap();
            let mut r = NpzReader::open(dir.path().join(name)).unwrap();
            assert_eq!(r.names(), ["images", "codes", "labels", "weights"]);
            assert_eq!(r.read::<u8>("images").unwrap(), images.clone().into_dyn());
            assert_eq!(r.read::<f32>("codes").unwrap(), codes.t().to_owned().into_dyn());
            assert_eq!(r.read::<i64>("labels.npy").unwrap(), labels.clone().into_dyn());
            assert_eq!(r.read::<f64>("weights").unwrap(), weights.clone().into_dyn());
            assert_eq!(r.info("codes").unwrap().shape, [2, 3]);
            let e = r.read::<f32>("images").unwrap_err().to_string();
            assert!(e.contains(name) && e.contains("images.npy") && e.contains("'<f4' (float32) expected"), "{e}");
        }
        let stored = std::fs::metadata(dir.path().join("stored.npz")).unwrap().len();
        let deflated = std::fs::metadata(dir.path().join("deflated.npz")).unwrap().len();
        assert!(deflated < stored, "{deflated} < {stored}");
    }

    #[test]
    fn writing_the_same_arrays_gives_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<Vec<u8>> = (0..2)
            .map(|i| {
                let p = dir.path().join(format!("{i}.npz"));
                let mut w = NpzWriter::create_compressed(&p).unwrap();
                w.add("x", &arr1(&[1.0f32, 2.0])).unwrap();
                w.finish().unwrap();
                std::fs::read(&p).unwrap()
            })
            .collect();
        assert_eq!(files[0], files[1]);
    }

    #[test]
    fn a_missing_key_names_the_key_and_the_keys_present() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("data.npz");
        let mut w = NpzWriter::create(&p).unwrap();
        w.add("train_images", &arr1(&[1u8])).unwrap();
        w.add("train_labels", &arr1(&[1u8])).unwrap();
        w.finish().unwrap();
        let e = read_npz::<u8>(&p, "test_images").unwrap_err();
        match &e {
            DataError::NpzMissingKey { key, present, .. } => {
                assert_eq!(key, "test_images");
                assert_eq!(present, &["train_images", "train_labels"]);
            }
            other => panic!("expected a missing key, got {other}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains("data.npz") && msg.contains("'test_images'") && msg.contains("train_images, train_labels"),
            "{msg}"
        );
    }

    /// An archive written with the zip crate directly: members named like NumPy's, one stored
    /// and one deflated, plus the raw member bytes given.
    fn raw_npz(path: &Path, members: &[(&str, CompressionMethod, Vec<u8>)]) {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        for (name, method, bytes) in members {
            zip.start_file(*name, SimpleFileOptions::default().compression_method(*method)).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }

    #[test]
    fn bad_archives_and_members_are_refused_with_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let not_zip = dir.path().join("not.npz");
        std::fs::write(&not_zip, b"PK but not really a zip archive").unwrap();
        let e = NpzReader::open(&not_zip).unwrap_err();
        assert!(matches!(e, DataError::Npz { .. }) && e.to_string().contains("not.npz"), "{e}");

        let good = encode_npy(&arr1(&[1.0f32, 2.0, 3.0])).unwrap();
        let p = dir.path().join("members.npz");
        raw_npz(
            &p,
            &[
                ("arr_0.npy", CompressionMethod::Deflated, good.clone()),
                ("short.npy", CompressionMethod::Stored, good[..good.len() - 2].to_vec()),
                ("text.npy", CompressionMethod::Deflated, b"hello".to_vec()),
            ],
        );
        let mut r = NpzReader::open(&p).unwrap();
        assert_eq!(r.read::<f32>("arr_0").unwrap(), arr1(&[1.0f32, 2.0, 3.0]).into_dyn());
        let e = r.read::<f32>("short").unwrap_err().to_string();
        assert!(
            e.contains("members.npz") && e.contains("short.npy") && e.contains("needs 12 bytes of data, found 10"),
            "{e}"
        );
        let e = r.read::<f32>("text").unwrap_err().to_string();
        assert!(e.contains("text.npy") && e.contains("not a .npy"), "{e}");
    }

    #[test]
    fn a_member_claiming_more_than_it_can_hold_is_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bomb.npz");
        let good = encode_npy(&Array2::<f32>::zeros((64, 64))).unwrap();
        raw_npz(&p, &[("x.npy", CompressionMethod::Stored, good.clone())]);
        let original = std::fs::read(&p).unwrap();
        let central = original.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
        // Claim 1 GiB: as the uncompressed size only, then as both sizes of the stored member
        // (the sizes are at 18 and 22 in the local header, 20 and 24 in the central one).
        let claim = (1u32 << 30).to_le_bytes();
        for fields in [&[22usize][..], &[18, 22]] {
            let mut bytes = original.clone();
            for &at in fields {
                bytes[at..at + 4].copy_from_slice(&claim);
                bytes[central + at + 2..central + at + 6].copy_from_slice(&claim);
            }
            std::fs::write(&p, &bytes).unwrap();
            let e = read_npz::<f32>(&p, "x").unwrap_err();
            assert!(matches!(e, DataError::Npy { problem: NpyError::MemberSize { .. }, .. }), "{e}");
            assert!(e.to_string().contains("x.npy") && e.to_string().contains("claims 1073741824 bytes"), "{e}");
        }
    }

    #[test]
    fn a_corrupted_deflated_member_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("damaged.npz");
        let mut w = NpzWriter::create_compressed(&p).unwrap();
        w.add("x", &Array::from_shape_fn(4096, |i| (i % 251) as f32)).unwrap();
        w.finish().unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        // Flip bits in the middle of the compressed data (after the 30-byte local header and
        // the member name).
        let mid = 30 + "x.npy".len() + 200;
        bytes[mid] ^= 0x55;
        bytes[mid + 1] ^= 0xAA;
        std::fs::write(&p, &bytes).unwrap();
        let e = read_npz::<f32>(&p, "x").unwrap_err();
        assert!(matches!(e, DataError::Npy { .. }), "{e}");
        assert!(e.to_string().contains("damaged.npz"), "{e}");
    }

    /// Rows written in blocks give the very bytes of the whole array written at once; a file
    /// short of rows, or abandoned, never appears; a block of the wrong width is refused.
    #[test]
    fn rows_written_in_blocks_make_the_same_file_and_only_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let whole = Array2::from_shape_fn((1000, 7), |(r, c)| (r * 7 + c) as f32 / 3.0);
        let (a, b) = (dir.path().join("whole.npy"), dir.path().join("rows.npy"));
        write_npy(&a, &whole).unwrap();
        let mut out = NpyRowWriter::<f32>::create(&b, 1000, 7).unwrap();
        for block in whole.axis_chunks_iter(ndarray::Axis(0), 300) {
            out.write_rows(&block).unwrap();
        }
        assert_eq!(out.rows_written(), 1000);
        let e = out.write_rows(&whole.slice(ndarray::s![..1, ..])).unwrap_err().to_string();
        assert!(e.contains("at most 0 more rows"), "{e}");
        out.finish().unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

        let short = dir.path().join("short.npy");
        let mut out = NpyRowWriter::<f32>::create(&short, 10, 7).unwrap();
        assert!(out.write_rows(&Array2::<f32>::zeros((2, 6))).unwrap_err().to_string().contains("7 columns"));
        out.write_rows(&Array2::<f32>::zeros((2, 7))).unwrap();
        assert!(out.finish().unwrap_err().to_string().contains("expected 10, found 2"));
        drop(NpyRowWriter::<f32>::create(&short, 10, 7).unwrap());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 2, "only the two complete files: {left:?}");
    }
}
