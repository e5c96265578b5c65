//! The MNIST sample built into this crate: the first 10,000 training and 2,000 test digits of
//! the real MNIST, in their original order, so every program using latent-data trains without a
//! download, wherever it is installed.
//!
//! The four gzip IDX files and their `MANIFEST` live in the crate's `sample/` directory (made by
//! `cargo xtask make-sample`; see the README there for provenance and licence) and are compiled
//! in with the default feature `embedded-sample` (about 1.9 MB). [`load`] reads them with the
//! same IDX reader as files on disk and checks each against the manifest, so a build with
//! damaged sample files fails loudly rather than training on them. Without the feature,
//! [`load`] returns [`DataError::NoSample`].
//!
//! ```
//! # #[cfg(feature = "embedded-sample")] {
//! let data = latent_data::sample::load()?;
//! assert_eq!((data.train.len(), data.test.len()), (10_000, 2_000));
//! assert_eq!(&data.train.labels()[..5], &[5, 0, 4, 1, 9]);
//! # }
//! # Ok::<(), latent_data::DataError>(())
//! ```

use std::path::PathBuf;

use crate::error::DataError;
use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::mnist::{Part, Split, Verification, file_name, parse_split};
use crate::source::{Data, Source};
use crate::spec::digit_names;

/// The sample's name on the command line and in run records.
pub const NAME: &str = "mnist-sample";

/// Whether this build contains the sample (the `embedded-sample` feature).
pub const BUILT_IN: bool = cfg!(feature = "embedded-sample");

/// The files, by their served names.
#[cfg(feature = "embedded-sample")]
const FILES: [(&str, &[u8]); 4] = [
    ("train-images-idx3-ubyte.gz", include_bytes!("../sample/train-images-idx3-ubyte.gz")),
    ("train-labels-idx1-ubyte.gz", include_bytes!("../sample/train-labels-idx1-ubyte.gz")),
    ("t10k-images-idx3-ubyte.gz", include_bytes!("../sample/t10k-images-idx3-ubyte.gz")),
    ("t10k-labels-idx1-ubyte.gz", include_bytes!("../sample/t10k-labels-idx1-ubyte.gz")),
];

#[cfg(feature = "embedded-sample")]
const MANIFEST_TEXT: &str = include_str!("../sample/MANIFEST");

/// The path that names a built-in file in messages: `(built-in mnist-sample)/NAME`. Nothing is
/// read from it.
pub fn display_path(file: &str) -> PathBuf {
    PathBuf::from(format!("(built-in {NAME})")).join(file)
}

/// The path that names the built-in manifest in messages.
pub fn manifest_path() -> PathBuf {
    display_path(MANIFEST_FILE)
}

/// The bytes of a built-in file by its served name (`train-images-idx3-ubyte.gz`), if this
/// build has the sample.
pub fn file(name: &str) -> Option<&'static [u8]> {
    #[cfg(feature = "embedded-sample")]
    {
        FILES.iter().find(|(n, _)| *n == name).map(|&(_, bytes)| bytes)
    }
    #[cfg(not(feature = "embedded-sample"))]
    {
        let _ = name;
        None
    }
}

/// The sample's manifest.
///
/// # Errors
/// [`DataError::NoSample`] without the sample; [`DataError::Manifest`] if it is malformed.
pub fn manifest() -> Result<Manifest, DataError> {
    #[cfg(feature = "embedded-sample")]
    {
        Manifest::parse(MANIFEST_TEXT, manifest_path())
    }
    #[cfg(not(feature = "embedded-sample"))]
    {
        Err(DataError::NoSample)
    }
}

/// Loads the sample, every file checked against its manifest.
///
/// # Errors
/// [`DataError::NoSample`] in a build without it; any [`DataError`] of parsing or verifying
/// (which would mean the build's sample files are damaged).
pub fn load() -> Result<Data, DataError> {
    let verify = Verification::Manifest(manifest_path(), manifest()?);
    let split = |split: Split| {
        let part = |part: Part| {
            let name = file_name(split, part);
            file(name).map(|bytes| (display_path(name), bytes)).ok_or(DataError::NoSample)
        };
        let (images, labels) = (part(Part::Images)?, part(Part::Labels)?);
        parse_split((&images.0, images.1), (&labels.0, labels.1), &verify)
    };
    let (train, test) = (split(Split::Train)?, split(Split::Test)?);
    Ok(Data {
        train: train.with_class_names(digit_names(10))?,
        test: test.with_class_names(digit_names(10))?,
        source: Source::Sample,
        dropped_rows: 0,
    })
}

#[cfg(all(test, feature = "embedded-sample"))]
mod tests {
    use super::*;
    use crate::mnist::{COLS, ROWS, SAMPLE_TEST_ITEMS, SAMPLE_TRAIN_ITEMS};

    #[test]
    fn the_sample_loads_verified_and_is_the_head_of_mnist() {
        let data = load().unwrap();
        assert!(data.is_sample());
        assert_eq!((data.train.len(), data.test.len()), (SAMPLE_TRAIN_ITEMS, SAMPLE_TEST_ITEMS));
        assert_eq!((data.train.rows(), data.train.cols()), (ROWS, COLS));
        // The first training digits of MNIST are 5, 0, 4, 1, 9; the first test digits 7, 2, 1, 0, 4.
        assert_eq!(&data.train.labels()[..5], &[5, 0, 4, 1, 9]);
        assert_eq!(&data.test.labels()[..5], &[7, 2, 1, 0, 4]);
        assert_eq!(data.source.name(), NAME);
        assert_eq!(data.source.path(), None);
    }

    #[test]
    fn every_file_is_listed_in_the_manifest_with_its_stored_digest() {
        let m = manifest().unwrap();
        assert_eq!(m.entries.len(), 4);
        for (name, bytes) in FILES {
            let entry = m.get(name).unwrap();
            assert_eq!(entry.file_sha256, crate::idx::hex(&<sha2::Sha256 as sha2::Digest>::digest(bytes)));
        }
    }

    #[test]
    fn a_damaged_file_is_refused_by_the_manifest() {
        let verify = Verification::Manifest(manifest_path(), manifest().unwrap());
        let mut labels = crate::idx::parse_idx(FILES[3].1, "x").unwrap().into_data();
        labels.swap(0, 1);
        let tampered = crate::IdxArray::new(vec![labels.len()], labels).unwrap().to_gzip();
        let (images_path, labels_path) = (display_path(FILES[2].0), display_path(FILES[3].0));
        let err = parse_split((&images_path, FILES[2].1), (&labels_path, &tampered), &verify).unwrap_err();
        assert!(matches!(err, DataError::Checksum { ref path, .. } if path == &labels_path), "{err}");
        assert!(err.to_string().contains("(built-in mnist-sample)/t10k-labels-idx1-ubyte.gz"), "{err}");
    }
}
