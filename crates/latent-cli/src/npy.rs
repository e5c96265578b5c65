//! NumPy `.npy` files: arrays for other tools (samples, latent codes) and back.
//!
//! [`write_npy`] writes format version 1.0 in C order for `f32` (`'<f4'`), `u8` (`'|u1'`) and
//! `i64` (`'<i8'`) arrays of any rank, with the header padded with spaces and a newline so that
//! the data starts at a multiple of 64 bytes, as NumPy does. [`read_npy`] reads versions 1.0,
//! 2.0 and 3.0 of those element types in either byte order and either memory order, and checks
//! the header against the file's size before trusting it.
//!
//! Checked once by hand with NumPy 2.4.6: files written by [`write_npy`] for f32 shapes `()`,
//! `(5,)`, `(3, 4)`, `(2, 1, 3, 2)`, u8 `(4,)` and i64 `(2, 2)` load with `numpy.load` with the
//! right dtype, shape and values; the 128-byte header of the `(3, 4)` f32 file is byte for byte
//! the one `numpy.save` writes; and `numpy.save` of a Fortran-ordered big-endian `'>f4'` array
//! reads back here as the right row-major values. The unit tests need no Python.

use std::io::{self, Write};
use std::path::Path;

use ndarray::{ArrayBase, ArrayD, Data, Dimension, IxDyn, ShapeBuilder};

use crate::error::OutputError;

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// NumPy aligns the start of the data to this many bytes.
const ALIGN: usize = 64;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for u8 {}
    impl Sealed for i64 {}
}

/// An element type that `.npy` files of this crate can hold: `f32`, `u8` or `i64`.
pub trait NpyElement: Copy + sealed::Sealed {
    /// The NumPy type string this crate writes, e.g. `'<f4'`.
    const DESCR: &'static str;
    /// Size of one element in bytes.
    const SIZE: usize;
    /// Appends the little-endian bytes of `self` to `out`.
    fn push_le(self, out: &mut Vec<u8>);
    /// Decodes one element; `bytes` has exactly [`Self::SIZE`] bytes.
    fn from_bytes(bytes: &[u8], big_endian: bool) -> Self;
    /// Whether `descr` (a NumPy type string) is this type; if so, whether it is big-endian.
    fn accepts(descr: &str) -> Option<bool>;
}

macro_rules! npy_element {
    ($t:ty, $descr:literal, $size:literal, $kind:literal) => {
        impl NpyElement for $t {
            const DESCR: &'static str = $descr;
            const SIZE: usize = $size;
            fn push_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn from_bytes(bytes: &[u8], big_endian: bool) -> Self {
                let mut b = [0u8; $size];
                b.copy_from_slice(bytes);
                if big_endian { <$t>::from_be_bytes(b) } else { <$t>::from_le_bytes(b) }
            }
            fn accepts(descr: &str) -> Option<bool> {
                let (order, rest) = descr.split_at_checked(1)?;
                if rest != $kind {
                    return None;
                }
                match order {
                    "<" | "|" => Some(false),
                    ">" => Some(true),
                    "=" => Some(cfg!(target_endian = "big")),
                    _ => None,
                }
            }
        }
    };
}

npy_element!(f32, "<f4", 4, "f4");
npy_element!(u8, "|u1", 1, "u1");
npy_element!(i64, "<i8", 8, "i8");

/// Writes `array` to `path` as a `.npy` file (version 1.0, C order), atomically.
///
/// Any memory layout is accepted (views, transposes); the elements are written in logical
/// row-major order.
///
/// # Errors
/// [`OutputError::Write`] naming `path` if the file cannot be written; [`OutputError::InvalidInput`]
/// if the array has so many axes that the header does not fit version 1.0 (over 6000 or so).
pub fn write_npy<A, S, D>(path: impl AsRef<Path>, array: &ArrayBase<S, D>) -> Result<(), OutputError>
where
    A: NpyElement,
    S: Data<Elem = A>,
    D: Dimension,
{
    let header = header_v1::<A>(array.shape())?;
    latent_fsio::write_atomic(path, |w| {
        w.write_all(&header)?;
        write_elements(w, array)
    })?;
    Ok(())
}

/// Encodes `array` as the bytes of a `.npy` file (version 1.0, C order).
///
/// # Errors
/// [`OutputError::InvalidInput`] as for [`write_npy`].
pub fn encode_npy<A, S, D>(array: &ArrayBase<S, D>) -> Result<Vec<u8>, OutputError>
where
    A: NpyElement,
    S: Data<Elem = A>,
    D: Dimension,
{
    let mut out = header_v1::<A>(array.shape())?;
    out.reserve(array.len() * A::SIZE);
    write_elements(&mut out, array).map_err(|e| OutputError::invalid("npy array", e.to_string()))?;
    Ok(out)
}

/// Reads an `f32` `.npy` file (see [`read_npy`]).
///
/// # Errors
/// As [`read_npy`].
pub fn read_npy_f32(path: impl AsRef<Path>) -> Result<ArrayD<f32>, OutputError> {
    read_npy(path)
}

/// Reads a `.npy` file of element type `A` into a row-major array.
///
/// # Errors
/// [`OutputError::Io`] if the file cannot be read; [`OutputError::Format`] naming the file if it
/// is not a `.npy` file, holds another element type, or its size does not match its header.
pub fn read_npy<A: NpyElement>(path: impl AsRef<Path>) -> Result<ArrayD<A>, OutputError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| OutputError::io("read", path, e))?;
    decode_npy(&bytes).map_err(|reason| OutputError::Format { path: path.to_path_buf(), reason })
}

/// Decodes the bytes of a `.npy` file; the error says what was expected and what was found.
///
/// # Errors
/// A description of the problem, as in [`read_npy`].
pub fn decode_npy<A: NpyElement>(bytes: &[u8]) -> Result<ArrayD<A>, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (the magic string \\x93NUMPY is missing)".into());
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            let Some(len) = bytes.get(8..12) else {
                return Err("the file ends inside the header".into());
            };
            (u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize, 12)
        }
        _ => return Err(format!(".npy format version 1.0, 2.0 or 3.0 expected, found {major}.{minor}")),
    };
    let Some(header) = bytes.get(start..start + header_len) else {
        return Err(format!("the header claims {header_len} bytes but the file has only {}", bytes.len()));
    };
    let header = std::str::from_utf8(header).map_err(|_| "the header is not text".to_string())?;
    let header = parse_header(header)?;
    let Some(big_endian) = A::accepts(&header.descr) else {
        return Err(format!("element type '{}' expected, found '{}'", A::DESCR, header.descr));
    };
    let count = header.shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let data = &bytes[start + header_len..];
    let expected = count.and_then(|c| c.checked_mul(A::SIZE));
    if expected != Some(data.len()) {
        return Err(format!(
            "shape {:?} of '{}' needs {} bytes of data, found {}",
            header.shape,
            header.descr,
            expected.map_or("more than usize::MAX".to_string(), |e| e.to_string()),
            data.len()
        ));
    }
    let values: Vec<A> = data.chunks_exact(A::SIZE).map(|b| A::from_bytes(b, big_endian)).collect();
    let shape = IxDyn(&header.shape);
    let array = if header.fortran_order {
        ArrayD::from_shape_vec(shape.f(), values).map(|a| a.as_standard_layout().into_owned())
    } else {
        ArrayD::from_shape_vec(shape, values)
    };
    array.map_err(|e| format!("cannot build the array: {e}"))
}

/// The header of a version 1.0 file: magic, version, length, dict, padding and newline.
fn header_v1<A: NpyElement>(shape: &[usize]) -> Result<Vec<u8>, OutputError> {
    let dims = match shape {
        [d] => format!("({d},)"),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut dict = format!("{{'descr': '{}', 'fortran_order': False, 'shape': {dims}, }}", A::DESCR);
    // Pad with spaces so that magic (6) + version (2) + length (2) + dict + '\n' is aligned.
    let unpadded = 10 + dict.len() + 1;
    dict.extend(std::iter::repeat_n(' ', unpadded.next_multiple_of(ALIGN) - unpadded));
    dict.push('\n');
    let Ok(len) = u16::try_from(dict.len()) else {
        return Err(OutputError::invalid("npy array", format!("{} axes do not fit a version 1.0 header", shape.len())));
    };
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    Ok(out)
}

fn write_elements<A, S, D>(w: &mut dyn Write, array: &ArrayBase<S, D>) -> io::Result<()>
where
    A: NpyElement,
    S: Data<Elem = A>,
    D: Dimension,
{
    const CHUNK: usize = 8192;
    let mut buf = Vec::with_capacity(CHUNK * A::SIZE);
    for &v in array.iter() {
        v.push_le(&mut buf);
        if buf.len() >= CHUNK * A::SIZE {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)
}

/// The three keys of a `.npy` header.
#[derive(Debug, PartialEq)]
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Parses the Python dict literal of a `.npy` header, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_header(text: &str) -> Result<Header, String> {
    let mut p = Parser { s: text.as_bytes(), i: 0 };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    p.expect(b'{')?;
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.skip_ws();
        p.expect(b':')?;
        p.skip_ws();
        match key.as_str() {
            "descr" => descr = Some(p.string()?),
            "fortran_order" => fortran = Some(p.boolean()?),
            "shape" => shape = Some(p.tuple()?),
            other => return Err(format!("unexpected key '{other}' in the header")),
        }
        p.skip_ws();
        if !p.eat(b',') {
            p.skip_ws();
            p.expect(b'}')?;
            break;
        }
    }
    match (descr, fortran, shape) {
        (Some(descr), Some(fortran_order), Some(shape)) => Ok(Header { descr, fortran_order, shape }),
        _ => Err(format!("the header must have 'descr', 'fortran_order' and 'shape', found {}", text.trim_end())),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            let found = self.peek().map_or("the end".to_string(), |f| format!("'{}'", f as char));
            Err(format!("header: '{}' expected at byte {}, found {found}", c as char, self.i))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(format!("header: a quoted string expected at byte {}", self.i)),
        };
        self.i += 1;
        let start = self.i;
        while self.peek().is_some_and(|c| c != quote) {
            self.i += 1;
        }
        let s = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        self.expect(quote)?;
        Ok(s)
    }

    fn boolean(&mut self) -> Result<bool, String> {
        for (word, value) in [("True", true), ("False", false)] {
            if self.s[self.i..].starts_with(word.as_bytes()) {
                self.i += word.len();
                return Ok(value);
            }
        }
        Err(format!("header: True or False expected at byte {}", self.i))
    }

    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                return Ok(dims);
            }
            let start = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
            let d = digits.parse::<usize>().map_err(|_| format!("header: a dimension expected at byte {start}"))?;
            dims.push(d);
            self.eat(b'L'); // Python 2 long suffix
            self.skip_ws();
            if !self.eat(b',') {
                self.skip_ws();
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, Array2, ArrayD, arr0, arr1};

    #[test]
    fn header_is_aligned_like_numpy() {
        let h = header_v1::<f32>(&[3, 4]).unwrap();
        assert_eq!(h.len() % 64, 0);
        let text = std::str::from_utf8(&h[10..]).unwrap();
        assert!(text.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"));
        assert!(text.ends_with(" \n"));
        assert_eq!(u16::from_le_bytes([h[8], h[9]]) as usize, h.len() - 10);
        assert!(std::str::from_utf8(&header_v1::<u8>(&[5]).unwrap()[10..]).unwrap().contains("'shape': (5,)"));
        assert!(std::str::from_utf8(&header_v1::<i64>(&[]).unwrap()[10..]).unwrap().contains("'shape': ()"));
    }

    #[test]
    fn f32_round_trips_for_several_ranks() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let cases: Vec<ArrayD<f32>> = vec![
            arr0(1.5f32).into_dyn(),
            arr1(&[1.0f32, -2.0, f32::NAN, f32::INFINITY, 0.25]).into_dyn(),
            Array::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as f32 / 7.0).into_dyn(),
            Array::from_shape_fn((2, 1, 3, 2), |(a, b, c, d)| (a + b + c * 2 + d) as f32 - 3.5).into_dyn(),
            ArrayD::<f32>::zeros(IxDyn(&[0, 3])),
        ];
        for (i, a) in cases.iter().enumerate() {
            let p = dir.join(format!("a{i}.npy"));
            write_npy(&p, a).unwrap();
            let b = read_npy_f32(&p).unwrap();
            assert_eq!(a.shape(), b.shape());
            let same = a.iter().zip(b.iter()).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "case {i}");
        }
    }

    #[test]
    fn views_are_written_in_logical_order() {
        let a = Array2::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as f32);
        let t = a.t();
        let back: ArrayD<f32> = decode_npy(&encode_npy(&t).unwrap()).unwrap();
        assert_eq!(back.shape(), &[3, 2]);
        assert_eq!(back.into_raw_vec_and_offset().0, vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }

    #[test]
    fn u8_and_i64_round_trip() {
        let u = arr1(&[0u8, 7, 255, 9]);
        assert_eq!(decode_npy::<u8>(&encode_npy(&u).unwrap()).unwrap(), u.into_dyn());
        let i = ndarray::arr2(&[[-1i64, i64::MAX], [i64::MIN, 42]]);
        assert_eq!(decode_npy::<i64>(&encode_npy(&i).unwrap()).unwrap(), i.into_dyn());
    }

    #[test]
    fn reads_fortran_order_big_endian_and_version_2() {
        // What numpy.save writes for np.asfortranarray(np.arange(6, dtype='>f4').reshape(2, 3)).
        let dict = "{'descr': '>f4', 'fortran_order': True, 'shape': (2, 3), }";
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[2, 0]);
        bytes.extend_from_slice(&(dict.len() as u32 + 1).to_le_bytes());
        bytes.extend_from_slice(dict.as_bytes());
        bytes.push(b'\n');
        for v in [0.0f32, 3.0, 1.0, 4.0, 2.0, 5.0] {
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        let a: ArrayD<f32> = decode_npy(&bytes).unwrap();
        assert_eq!(a, Array::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as f32).into_dyn());
        assert!(a.is_standard_layout());
    }

    #[test]
    fn rejects_bad_files_with_reasons() {
        let good = encode_npy(&arr1(&[1.0f32, 2.0])).unwrap();
        let err = |bytes: &[u8]| decode_npy::<f32>(bytes).unwrap_err();
        assert!(err(b"hello").contains("not a .npy"));
        assert!(err(&good[..good.len() - 1]).contains("needs 8 bytes of data, found 7"));
        assert!(err(&good[..20]).contains("header claims"));
        assert!(decode_npy::<i64>(&good).unwrap_err().contains("'<i8' expected, found '<f4'"));
        let mut v9 = good.clone();
        v9[6] = 9;
        assert!(err(&v9).contains("version"));
        let huge = "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }\n";
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&(huge.len() as u16).to_le_bytes());
        b.extend_from_slice(huge.as_bytes());
        assert!(err(&b).contains("more than usize::MAX"));
        assert!(parse_header("{'descr': '<f4'}").is_err());
        assert!(parse_header("{'descr': '<f4', 'fortran_order': Maybe, 'shape': ()}").is_err());
    }

    #[test]
    fn read_errors_name_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let p = dir.join("codes.npy");
        std::fs::write(&p, b"not numpy").unwrap();
        let e = read_npy_f32(&p).unwrap_err().to_string();
        assert!(e.contains("codes.npy") && e.contains("not a .npy"), "{e}");
        assert!(read_npy_f32(dir.join("missing.npy")).unwrap_err().to_string().contains("missing.npy"));
    }
}
