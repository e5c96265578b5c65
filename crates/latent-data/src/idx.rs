//! Reading and writing IDX files, the format of MNIST and its relatives.
//!
//! An IDX file is a magic number `00 00 <type> <rank>`, then `rank` big-endian `u32`
//! dimensions, then the elements in row-major order. MNIST-format data sets use the
//! unsigned-byte type (`0x08`) only, and this reader accepts only that type.
//!
//! Files may be gzip-compressed or raw; which one is decided by the content (the gzip magic
//! `1f 8b`), never by the name. Before allocating room for the data the reader checks the magic
//! number, the element type, the rank, that the product of the dimensions neither overflows nor
//! exceeds a size limit, and, for a raw file, that it equals the bytes the file holds. A
//! compressed file's decompressed size is unknown in advance, so its buffer grows only as real
//! data arrives, up to what the header promises. A corrupted, truncated or hostile file therefore
//! gets a typed [`DataError`] naming the file and the problem, never a panic or a huge
//! allocation. Bytes left after the data are an error too, so a valid file has exactly one
//! reading.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::bufread::MultiGzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::error::DataError;

/// The IDX element-type code of unsigned bytes, the only type this reader accepts.
pub const TYPE_U8: u8 = 0x08;

/// The default limit on the data bytes one file may describe: 2 GiB.
///
/// The full MNIST training images are 47 MB; EMNIST's largest split is under 700 MB.
pub const DEFAULT_MAX_DATA_BYTES: u64 = 2 << 30;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// An IDX array of unsigned bytes: its dimensions and its elements in row-major order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    dims: Vec<usize>,
    data: Vec<u8>,
}

impl IdxArray {
    /// Builds an array from dimensions and row-major data.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if there are no dimensions, a dimension exceeds
    /// `u32::MAX` (IDX cannot store it), or the product of the dimensions is not `data.len()`.
    pub fn new(dims: Vec<usize>, data: Vec<u8>) -> Result<Self, DataError> {
        if dims.is_empty() || dims.len() > 255 {
            return Err(DataError::InvalidParameter {
                what: "IDX rank",
                expected: "1 to 255 dimensions".into(),
                found: dims.len().to_string(),
            });
        }
        if let Some(d) = dims.iter().find(|&&d| u32::try_from(d).is_err()) {
            return Err(DataError::InvalidParameter {
                what: "IDX dimension",
                expected: format!("at most {}", u32::MAX),
                found: d.to_string(),
            });
        }
        let product = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if product != Some(data.len()) {
            return Err(DataError::InvalidParameter {
                what: "IDX data length",
                expected: format!(
                    "the product of the dimensions {dims:?} ({})",
                    product.map_or_else(|| "overflows".to_string(), |p| p.to_string())
                ),
                found: data.len().to_string(),
            });
        }
        Ok(IdxArray { dims, data })
    }

    /// The dimensions, outermost first (`[60000, 28, 28]` for the MNIST training images).
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Gives up the elements, in row-major order.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// The file content this array is read from or written to: header, then data, uncompressed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = header_bytes(&self.dims);
        out.extend_from_slice(&self.data);
        out
    }

    /// The content as a gzip stream, compressed at the best level with a zero timestamp, so the
    /// same array always gives the same bytes.
    pub fn to_gzip(&self) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        // Writing to a Vec cannot fail.
        let _ = enc.write_all(&header_bytes(&self.dims));
        let _ = enc.write_all(&self.data);
        enc.finish().unwrap_or_default()
    }

    /// The SHA-256 of [`to_bytes`](Self::to_bytes), which is the digest of the decompressed
    /// file this array was read from (a valid file has no bytes beyond header and data).
    pub fn content_sha256(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(header_bytes(&self.dims));
        h.update(&self.data);
        h.finalize().into()
    }
}

/// The header of a `u8` IDX file with these dimensions (each must fit in `u32`; callers check).
fn header_bytes(dims: &[usize]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * dims.len());
    out.extend_from_slice(&[0, 0, TYPE_U8, dims.len() as u8]);
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out
}

/// How to read an IDX file: the rank it must have and the most data it may describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdxOptions {
    /// The rank the file must have, or `None` for any rank from 1 to 255.
    pub rank: Option<usize>,
    /// The most data bytes the file may describe; larger headers are rejected before reading.
    pub max_data_bytes: u64,
}

impl Default for IdxOptions {
    fn default() -> Self {
        IdxOptions { rank: None, max_data_bytes: DEFAULT_MAX_DATA_BYTES }
    }
}

impl IdxOptions {
    /// Options requiring this rank, with the default size limit.
    pub fn with_rank(rank: usize) -> Self {
        IdxOptions { rank: Some(rank), ..IdxOptions::default() }
    }

    /// Reads an IDX file, compressed or raw, with these options.
    ///
    /// # Errors
    /// Any [`DataError`] about the file: I/O, gzip, magic, element type, rank, dimensions,
    /// size limit, truncation, trailing bytes.
    pub fn read(&self, path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
        let path = path.as_ref();
        let mut file = File::open(path).map_err(|e| DataError::io(path, e))?;
        let len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
        let mut start = [0u8; 2];
        let got = read_up_to(&mut file, &mut start).map_err(|e| DataError::io(path, e))?;
        if got == 2 && start == GZIP_MAGIC {
            // Compressed: the compressed bytes are bounded by the file itself.
            let mut compressed = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            compressed.extend_from_slice(&start);
            file.read_to_end(&mut compressed).map_err(|e| DataError::io(path, e))?;
            self.parse_gzip(&compressed, path)
        } else {
            let reader = io::Cursor::new(&start[..got]).chain(BufReader::new(file));
            self.parse_stream(reader, path, Size::Exact(len), len)
        }
    }

    /// Parses the content of an IDX file, compressed or raw, held in memory. `path` is used
    /// only to name the file in errors.
    ///
    /// # Errors
    /// As [`read`](Self::read), except I/O.
    pub fn parse(&self, bytes: &[u8], path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
        let path = path.as_ref();
        if is_gzip(bytes) {
            self.parse_gzip(bytes, path)
        } else {
            let len = bytes.len() as u64;
            self.parse_stream(bytes, path, Size::Exact(len), len)
        }
    }

    fn parse_gzip(&self, compressed: &[u8], path: &Path) -> Result<IdxArray, DataError> {
        let decoder = MultiGzDecoder::new(compressed);
        self.parse_stream(decoder, path, Size::Unknown, compressed.len() as u64)
    }

    /// Parses an IDX stream. `size` is the stream's exact length when known (raw files);
    /// `source_len` is the length of the file as stored, used to size the first allocation.
    fn parse_stream<R: Read>(&self, mut r: R, path: &Path, size: Size, source_len: u64) -> Result<IdxArray, DataError> {
        let stream_err = |e: io::Error| stream_error(path, e);

        let mut magic = [0u8; 4];
        let got = read_up_to(&mut r, &mut magic).map_err(stream_err)?;
        if got < 4 || magic[0] != 0 || magic[1] != 0 {
            return Err(DataError::BadMagic { path: path.to_path_buf(), found: magic[..got].to_vec() });
        }
        if magic[2] != TYPE_U8 {
            return Err(DataError::ElementType { path: path.to_path_buf(), found: magic[2] });
        }
        let rank = usize::from(magic[3]);
        if let Some(expected) = self.rank
            && rank != expected
        {
            return Err(DataError::Rank { path: path.to_path_buf(), expected, found: rank });
        }
        if rank == 0 {
            return Err(DataError::Dimensions {
                path: path.to_path_buf(),
                expected: "at least one dimension".into(),
                found: "rank 0".into(),
            });
        }

        // At most 255 * 4 bytes: a fixed, small allocation.
        let mut dim_bytes = vec![0u8; 4 * rank];
        let got = read_up_to(&mut r, &mut dim_bytes).map_err(stream_err)?;
        if got < dim_bytes.len() {
            return Err(DataError::Truncated {
                path: path.to_path_buf(),
                what: "dimensions",
                expected: dim_bytes.len() as u64,
                found: got as u64,
            });
        }
        let dims_u32: Vec<u32> =
            dim_bytes.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect();
        let data_len = dims_u32.iter().try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)));
        let data_len = match data_len {
            Some(n) if n <= self.max_data_bytes => n,
            bytes => {
                return Err(DataError::TooLarge {
                    path: path.to_path_buf(),
                    dims: dims_u32,
                    bytes,
                    limit: self.max_data_bytes,
                });
            }
        };
        let too_large_for_memory = || DataError::TooLarge {
            path: path.to_path_buf(),
            dims: dims_u32.clone(),
            bytes: Some(data_len),
            limit: usize::MAX as u64,
        };
        let data_usize = usize::try_from(data_len).map_err(|_| too_large_for_memory())?;
        let dims: Vec<usize> = dims_u32.iter().map(|&d| d as usize).collect();

        let header_len = 4 + 4 * rank as u64;
        let data = match size {
            Size::Exact(total) => {
                let available = total.saturating_sub(header_len);
                if available < data_len {
                    return Err(DataError::Truncated {
                        path: path.to_path_buf(),
                        what: "data",
                        expected: data_len,
                        found: available,
                    });
                }
                if available > data_len {
                    return Err(DataError::TrailingBytes {
                        path: path.to_path_buf(),
                        expected: data_len,
                        found: available,
                        exact: true,
                    });
                }
                let mut data = vec![0u8; data_usize];
                let got = read_up_to(&mut r, &mut data).map_err(stream_err)?;
                if got < data_usize {
                    // The file shrank while being read.
                    return Err(DataError::Truncated {
                        path: path.to_path_buf(),
                        what: "data",
                        expected: data_len,
                        found: got as u64,
                    });
                }
                data
            }
            Size::Unknown => {
                // Deflate rarely compresses image data more than 8:1 (MNIST: 5:1), so this
                // first allocation is usually exact; beyond it the buffer grows only as
                // decompressed bytes actually arrive.
                let first = source_len.saturating_mul(8).saturating_add(1 << 16);
                let cap = usize::try_from(data_len.min(first)).unwrap_or(data_usize);
                let mut data = Vec::with_capacity(cap);
                let res = (&mut r).take(data_len).read_to_end(&mut data);
                match res {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        return Err(DataError::Truncated {
                            path: path.to_path_buf(),
                            what: "data",
                            expected: data_len,
                            found: data.len() as u64,
                        });
                    }
                    Err(e) => return Err(stream_err(e)),
                }
                if data.len() < data_usize {
                    return Err(DataError::Truncated {
                        path: path.to_path_buf(),
                        what: "data",
                        expected: data_len,
                        found: data.len() as u64,
                    });
                }
                // Reading on to the end also checks the gzip trailer (CRC and length).
                let mut probe = [0u8; 1];
                let extra = read_up_to(&mut r, &mut probe).map_err(stream_err)?;
                if extra > 0 {
                    return Err(DataError::TrailingBytes {
                        path: path.to_path_buf(),
                        expected: data_len,
                        found: data_len + 1,
                        exact: false,
                    });
                }
                data
            }
        };
        Ok(IdxArray { dims, data })
    }
}

/// Whether the stream's length is known before reading it.
#[derive(Clone, Copy)]
enum Size {
    /// The whole stream, header included, is exactly this many bytes.
    Exact(u64),
    /// Unknown until read (a compressed stream).
    Unknown,
}

/// Reads an IDX file of any rank, compressed or raw, with the default size limit.
///
/// # Errors
/// See [`IdxOptions::read`].
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    IdxOptions::default().read(path)
}

/// Parses IDX content held in memory, compressed or raw, with the default size limit; `path`
/// only names the source in errors.
///
/// # Errors
/// See [`IdxOptions::parse`].
pub fn parse_idx(bytes: &[u8], path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    IdxOptions::default().parse(bytes, path)
}

/// Whether these bytes start like a gzip stream.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// The SHA-256 of a file's content, decompressed first if it is gzip (decided by content).
///
/// Streams the file: memory use does not depend on its size. The file need not be IDX.
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read, [`DataError::Gzip`] if it starts like gzip
/// but does not decompress.
pub fn content_sha256(path: impl AsRef<Path>) -> Result<[u8; 32], DataError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut start = [0u8; 2];
    let got = read_up_to(&mut reader, &mut start).map_err(|e| DataError::io(path, e))?;
    let mut hasher = Sha256::new();
    let chained = io::BufReader::new(io::Cursor::new(start[..got].to_vec()).chain(reader));
    if got == 2 && start == GZIP_MAGIC {
        let mut decoder = MultiGzDecoder::new(chained);
        copy_into_hasher(&mut decoder, &mut hasher).map_err(|e| stream_error(path, e))?;
    } else {
        let mut plain = chained;
        copy_into_hasher(&mut plain, &mut hasher).map_err(|e| DataError::io(path, e))?;
    }
    Ok(hasher.finalize().into())
}

/// The SHA-256 of a file's bytes exactly as stored (compressed or not).
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read.
pub fn file_sha256(path: impl AsRef<Path>) -> Result<[u8; 32], DataError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut hasher = Sha256::new();
    copy_into_hasher(&mut reader, &mut hasher).map_err(|e| DataError::io(path, e))?;
    Ok(hasher.finalize().into())
}

/// Checks a file's decompressed content against a SHA-256 given in hex.
///
/// # Errors
/// [`DataError::Checksum`] on a mismatch, or any error of [`content_sha256`].
pub fn verify_sha256(path: impl AsRef<Path>, expected_hex: &str) -> Result<(), DataError> {
    let path = path.as_ref();
    let found = hex(&content_sha256(path)?);
    if found.eq_ignore_ascii_case(expected_hex) {
        Ok(())
    } else {
        Err(DataError::Checksum { path: path.to_path_buf(), expected: expected_hex.to_ascii_lowercase(), found })
    }
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

fn copy_into_hasher(r: &mut impl Read, hasher: &mut Sha256) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Fills `buf` as far as the stream allows; returns how many bytes were read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// An error met while reading a (possibly compressed) stream: a bad gzip stream unless it is
/// plainly an I/O failure.
fn stream_error(path: &Path, e: io::Error) -> DataError {
    match e.kind() {
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            DataError::Gzip { path: PathBuf::from(path), detail: e.to_string() }
        }
        _ => DataError::io(path, e),
    }
}
