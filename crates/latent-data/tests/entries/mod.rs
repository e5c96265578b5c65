//! The entry points of latent-data's parsers for hostile-input testing, and small valid inputs
//! to mutate. Shared, file for file, by the mutation tests (`tests/mutation.rs`) and the
//! cargo-fuzz targets (`fuzz/fuzz_targets/`), which include this file by path: it uses only
//! latent-data, its dependencies, latent-testkit and std.
//!
//! Each entry takes the bytes of one input (several files packed by
//! [`latent_testkit::files::pack`]) and returns the parser's own `Result`.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::Path;

use latent_data::npy::{self, NpyError, NpzReader, NpzWriter};
use latent_data::{DataError, IdxArray, IdxOptions, Manifest, mnist};
use latent_testkit::files::{pack, unpack};
use ndarray::{Array, ArrayD};

/// The name mutated IDX content is parsed under; errors must name it.
pub const IDX_NAME: &str = "t10k-images-idx3-ubyte";
/// The name of a mutated `.npy` file written to disk.
pub const NPY_NAME: &str = "codes.npy";
/// The name of a mutated `.npz` archive written to disk.
pub const NPZ_NAME: &str = "arrays.npz";
/// The name mutated manifests are parsed under.
pub const MANIFEST_NAME: &str = "MANIFEST";

/// The name mutated CSV tables are written under; errors must name it.
pub const CSV_NAME: &str = "table.csv";
/// The name of a mutated image in an image folder; errors must name it.
pub const IMAGE_NAME: &str = "x.png";

/// A CSV table on disk with a `label` column (`latent_data::csv`).
pub fn csv_file(bytes: &[u8], scratch: &Path) -> Result<latent_data::csv::Table, DataError> {
    let path = scratch.join(CSV_NAME);
    std::fs::write(&path, bytes).expect("writing the scratch file");
    let options = latent_data::csv::CsvOptions { label_column: Some("label".into()), ..Default::default() };
    latent_data::csv::read_csv(&path, &options)
}

/// The bytes as image `a/x.png` of the image folder `root` (whatever else `root` holds), read
/// as a folder: every header first, sizes compared, then decoded.
pub fn image_folder(
    bytes: &[u8],
    root: &Path,
) -> Result<(latent_data::Dataset, Option<latent_data::Dataset>), DataError> {
    let class = root.join("a");
    std::fs::create_dir_all(&class).expect("making the class folder");
    std::fs::write(class.join(IMAGE_NAME), bytes).expect("writing the scratch image");
    latent_data::images::read_folder(root, &latent_data::images::ImageOptions::default())
}

/// An IDX file, raw or gzip (decided by content), of any rank.
pub fn idx(bytes: &[u8]) -> Result<IdxArray, DataError> {
    latent_data::parse_idx(bytes, IDX_NAME)
}

/// The bytes gzip-compressed, then parsed as an IDX file: a mutated header reaches the checks
/// behind decompression (sizes unknown in advance) instead of stopping at a damaged stream.
pub fn idx_gzipped(bytes: &[u8]) -> Result<IdxArray, DataError> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("writing to a Vec");
    let gz = enc.finish().expect("finishing into a Vec");
    latent_data::parse_idx(&gz, IDX_NAME)
}

/// An MNIST split from two files (images, labels), as the loader reads a data directory.
pub fn mnist_split(bytes: &[u8]) -> Result<latent_data::Dataset, DataError> {
    let files = unpack(bytes, 2);
    mnist::parse_split(
        (Path::new("train-images-idx3-ubyte.gz"), files[0]),
        (Path::new("train-labels-idx1-ubyte.gz"), files[1]),
        &mnist::Verification::None,
    )
}

/// A `.npy` file's bytes decoded as each element type in turn, until one is the file's.
pub fn npy(bytes: &[u8]) -> Result<(), NpyError> {
    fn or_next<A: npy::NpyElement>(previous: Result<(), NpyError>, bytes: &[u8]) -> Result<(), NpyError> {
        match previous {
            Err(NpyError::ElementType { .. }) => npy::decode_npy::<A>(bytes).map(drop),
            other => other,
        }
    }
    let r = npy::decode_npy::<f32>(bytes).map(drop);
    let r = or_next::<u8>(r, bytes);
    let r = or_next::<f64>(r, bytes);
    or_next::<i64>(r, bytes)
}

/// A `.npy` file framed around a mutated header: `bytes` packs the header's dictionary text and
/// the data, and the magic string, version, header length and final newline are written to
/// match, so a mutated dictionary reaches the header parser instead of stopping at the framing.
pub fn npy_framed(bytes: &[u8]) -> Result<(), NpyError> {
    let files = unpack(bytes, 2);
    let (dict, data) = (files[0], files[1]);
    let mut file = b"\x93NUMPY".to_vec();
    match u16::try_from(dict.len() + 1) {
        Ok(len) => {
            file.extend_from_slice(&[1, 0]);
            file.extend_from_slice(&len.to_le_bytes());
        }
        Err(_) => {
            file.extend_from_slice(&[2, 0]);
            file.extend_from_slice(&((dict.len() + 1) as u32).to_le_bytes());
        }
    }
    file.extend_from_slice(dict);
    file.push(b'\n');
    file.extend_from_slice(data);
    npy(&file)
}

/// A `.npy` file on disk (in `scratch`): its header alone, then its data as each element type
/// in turn.
pub fn npy_file(bytes: &[u8], scratch: &Path) -> Result<(), DataError> {
    let path = scratch.join(NPY_NAME);
    std::fs::write(&path, bytes).expect("writing the scratch file");
    let info = npy::read_npy_info(&path)?;
    if info.is::<u8>() {
        npy::read_npy::<u8>(&path).map(drop)
    } else if info.is::<f64>() {
        npy::read_npy::<f64>(&path).map(drop)
    } else if info.is::<i64>() {
        npy::read_npy::<i64>(&path).map(drop)
    } else {
        npy::read_npy::<f32>(&path).map(drop)
    }
}

/// An `.npz` archive on disk (in `scratch`): its names, then each member's header and data as
/// the element type its header names.
pub fn npz(bytes: &[u8], scratch: &Path) -> Result<(), DataError> {
    let path = scratch.join(NPZ_NAME);
    std::fs::write(&path, bytes).expect("writing the scratch file");
    let mut archive = NpzReader::open(&path)?;
    for name in archive.names() {
        let info = archive.info(&name)?;
        if info.is::<u8>() {
            archive.read::<u8>(&name)?;
        } else if info.is::<f64>() {
            archive.read::<f64>(&name)?;
        } else if info.is::<i64>() {
            archive.read::<i64>(&name)?;
        } else {
            archive.read::<f32>(&name)?;
        }
    }
    Ok(())
}

/// A data directory's manifest (text, read lossily as the loader would see it if it were UTF-8).
pub fn manifest(bytes: &[u8]) -> Result<Manifest, DataError> {
    Manifest::parse(&String::from_utf8_lossy(bytes), MANIFEST_NAME)
}

/// Small valid inputs for each entry.
pub mod inputs {
    /// Small valid CSV tables with a `label` column: names and integers as labels, a quoted
    /// header with a comma, CRLF line ends, a byte-order mark.
    pub fn csv() -> Vec<Vec<u8>> {
        vec![
            b"a,b,label\n1.5,2,x\n-3e2,0.25,y\n4,5,x\n".to_vec(),
            b"\xef\xbb\xbfradius,\"tex,ture\",label\r\n1,2,0\r\n3,4,1\r\n".to_vec(),
            b"f1,label,f2\n0.1,7,3\n0.2,9,4\n".to_vec(),
        ]
    }

    use super::*;

    fn pixels(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 37 % 256) as u8).collect()
    }

    /// Raw IDX files: images `[3, 4, 5]`, labels `[3]`, a rank-4 array and an empty one.
    pub fn idx_raw() -> Vec<Vec<u8>> {
        vec![
            IdxArray::new(vec![3, 4, 5], pixels(60)).unwrap().to_bytes(),
            IdxArray::new(vec![3], vec![7, 0, 9]).unwrap().to_bytes(),
            IdxArray::new(vec![2, 1, 2, 3], pixels(12)).unwrap().to_bytes(),
            IdxArray::new(vec![0], Vec::new()).unwrap().to_bytes(),
        ]
    }

    /// The same, gzip-compressed.
    pub fn idx_gzip() -> Vec<Vec<u8>> {
        idx_raw().iter().map(|raw| IdxOptions::default().parse(raw, IDX_NAME).unwrap().to_gzip()).collect()
    }

    /// An MNIST-format split (images and labels), raw and compressed.
    pub fn mnist_split() -> Vec<Vec<u8>> {
        let images = IdxArray::new(vec![3, 4, 4], pixels(48)).unwrap();
        let labels = IdxArray::new(vec![3], vec![1, 2, 3]).unwrap();
        vec![
            pack(&[&images.to_bytes(), &labels.to_bytes()]),
            pack(&[&images.to_gzip(), &labels.to_gzip()]),
            pack(&[&images.to_gzip(), &labels.to_bytes()]),
        ]
    }

    /// `.npy` files of each element type, shape and layout the reader handles: versions 1 to 3,
    /// big-endian, Fortran order, a scalar, an empty array.
    pub fn npy() -> Vec<Vec<u8>> {
        let raw = |major: u8, dict: &str, data: &[u8]| {
            let mut b = b"\x93NUMPY".to_vec();
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
        };
        let be: Vec<u8> = [1.5f32, -2.0, 0.25, 8.0, 3.0, 4.0].iter().flat_map(|v| v.to_be_bytes()).collect();
        vec![
            npy::encode_npy(&Array::from_shape_fn((2, 3), |(i, j)| i as f32 - j as f32 / 4.0)).unwrap(),
            npy::encode_npy(&Array::from_shape_fn((2, 2, 2), |(a, b, c)| (a * 4 + b * 2 + c) as u8)).unwrap(),
            npy::encode_npy(&ndarray::arr1(&[0.5f64, -1e300, 7.0])).unwrap(),
            npy::encode_npy(&ndarray::arr0(-3i64)).unwrap(),
            npy::encode_npy(&ArrayD::<f32>::zeros(ndarray::IxDyn(&[0, 4]))).unwrap(),
            raw(2, "{'descr': '>f4', 'fortran_order': True, 'shape': (2, 3), }", &be),
            raw(3, "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", &5i64.to_le_bytes()),
        ]
    }

    /// The dictionaries and data of [`npy`](fn@npy)'s files, packed for [`npy_framed`].
    pub fn npy_framed() -> Vec<Vec<u8>> {
        npy()
            .iter()
            .map(|file| {
                let (start, len) = match file[6] {
                    1 => (10, u16::from_le_bytes([file[8], file[9]]) as usize),
                    _ => (12, u32::from_le_bytes([file[8], file[9], file[10], file[11]]) as usize),
                };
                // The dictionary without its final newline, then the data.
                pack(&[&file[start..start + len - 1], &file[start + len..]])
            })
            .collect()
    }

    /// `.npz` archives: stored and deflated, several members of several types.
    pub fn npz() -> Vec<Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        for compressed in [false, true] {
            let path = dir.path().join("a.npz");
            let mut w =
                if compressed { NpzWriter::create_compressed(&path) } else { NpzWriter::create(&path) }.unwrap();
            w.add("images", &Array::from_shape_fn((2, 3, 3), |(a, b, c)| (a * 9 + b * 3 + c) as u8)).unwrap();
            w.add("labels", &ndarray::arr1(&[4i64, 2])).unwrap();
            w.add("codes", &ndarray::arr2(&[[0.5f32, -1.0], [2.0, 0.125]])).unwrap();
            w.finish().unwrap();
            out.push(std::fs::read(&path).unwrap());
        }
        out
    }

    /// A manifest like the built-in sample's.
    pub fn manifest() -> Vec<Vec<u8>> {
        let d1 = "2889698e6bc3614913e76901316712919d1998fc2b44512451bfe65bc1e668b1";
        let d2 = "133669005bf949407adea84ee37f318fb6f07131eccb1afc499e5e8eac7e5fd6";
        vec![
            format!(
                "# made by a test\n# file  items  sha256-of-decompressed-content  sha256-of-file\n\
                 train-images-idx3-ubyte.gz  10000  {d1}  {d2}\nt10k-labels-idx1-ubyte.gz  2000  {d2}  {d1}\n"
            )
            .into_bytes(),
        ]
    }
}
