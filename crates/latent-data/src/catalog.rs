//! The named data sets latent knows by name: their files, the digests that prove a copy is the
//! real thing, where to download them, and their licences.
//!
//! Each is a set of four MNIST-format IDX files under the standard names ([`FILE_NAMES`]). A
//! named data set lives in its own directory under the user's data directory
//! ([`crate::mnist::data_home`]), where `latent fetch NAME` puts it, and loads through the same
//! reader as any other directory, checked against the digests listed here. Digests are of the
//! decompressed content where they are known ([`Digest::Content`]), because mirrors compress the
//! same files differently; a set whose publisher gives digests of its `.gz` files only is checked
//! against those ([`Digest::Served`]), and then only its `.gz` files, as served, can be verified.
//!
//! ```
//! use latent_data::catalog;
//!
//! let fashion = catalog::find("fashion-mnist")?;
//! assert_eq!(fashion.title, "Fashion-MNIST");
//! assert_eq!(fashion.files.len(), 4);
//! assert!(catalog::find("cifar").is_err());
//! assert!(matches!(catalog::find("kmnist")?.files[0].1, catalog::Digest::Served(_)));
//! # Ok::<(), latent_data::DataError>(())
//! ```

use std::path::Path;

use crate::error::DataError;
use crate::idx::{self, IdxArray};
use crate::mnist::{CANONICAL_SHA256, FILE_NAMES};

/// How a file of a named data set is recognised as the real thing: a SHA-256, lowercase hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Digest {
    /// Of the decompressed content: any compression of the right bytes passes.
    Content(&'static str),
    /// Of the `.gz` file exactly as its publisher serves it, for sets whose publisher gives no
    /// digest of the content: only that file, not a decompressed copy, can be verified.
    Served(&'static str),
}

impl Digest {
    /// The digest in hex.
    pub fn hex(self) -> &'static str {
        match self {
            Digest::Content(h) | Digest::Served(h) => h,
        }
    }

    /// Whether the digest is of the bytes as served (so the served `.gz` must be kept).
    pub fn is_served(self) -> bool {
        matches!(self, Digest::Served(_))
    }

    /// Checks the file at `path`, of data set `dataset`; `parsed` is its content when it has
    /// been read already (saves decompressing it again for a [`Digest::Content`]).
    ///
    /// # Errors
    /// [`DataError::Checksum`] or [`DataError::ServedChecksum`] on a mismatch,
    /// [`DataError::NotAsServed`] for a [`Digest::Served`] file that is not a `.gz`, and the I/O
    /// and gzip errors of reading it.
    pub fn verify(self, path: &Path, dataset: &'static str, parsed: Option<&IdxArray>) -> Result<(), DataError> {
        match self {
            Digest::Content(expected) => {
                let found = match parsed {
                    Some(array) => idx::hex(&array.content_sha256()),
                    None => idx::hex(&idx::content_sha256(path)?),
                };
                if found == expected {
                    Ok(())
                } else {
                    Err(DataError::Checksum { path: path.to_path_buf(), expected: expected.to_string(), found })
                }
            }
            Digest::Served(expected) => {
                if path.extension().is_none_or(|e| e != "gz") {
                    return Err(DataError::NotAsServed { path: path.to_path_buf(), dataset });
                }
                let found = idx::hex(&idx::file_sha256(path)?);
                if found == expected {
                    Ok(())
                } else {
                    Err(DataError::ServedChecksum { path: path.to_path_buf(), expected: expected.to_string(), found })
                }
            }
        }
    }
}

/// A data set known by name.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NamedDataset {
    /// The name on the command line and of its directory (`fashion-mnist`).
    pub name: &'static str,
    /// The name people write (`Fashion-MNIST`).
    pub title: &'static str,
    /// What the images show, in a few words.
    pub about: &'static str,
    /// Each file's served name and its digest, in the order of [`FILE_NAMES`].
    pub files: [(&'static str, Digest); 4],
    /// The number of training and test items.
    pub items: (usize, usize),
    /// Public mirrors serving the four files under their names, tried in order.
    pub mirrors: &'static [&'static str],
    /// Where the data set is described.
    pub homepage: &'static str,
    /// Its authors and licence.
    pub licence: &'static str,
    /// The names of its classes, in label order.
    pub class_names: &'static [&'static str],
}

impl NamedDataset {
    /// The digest of one of the four files, by any accepted spelling of its name
    /// (`train-images-idx3-ubyte.gz`, `train-images.idx3-ubyte`, ...).
    pub fn digest_of(&self, file_name: &str) -> Option<Digest> {
        let base = file_name.strip_suffix(".gz").unwrap_or(file_name);
        let dashed = base.replacen(".idx", "-idx", 1);
        self.files.iter().find(|(n, _)| n.strip_suffix(".gz") == Some(dashed.as_str())).map(|&(_, d)| d)
    }
}

/// MNIST: 70,000 handwritten digits.
pub const MNIST: NamedDataset = NamedDataset {
    class_names: &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    name: "mnist",
    title: "MNIST",
    about: "handwritten digits 0-9",
    files: [
        (CANONICAL_SHA256[0].0, Digest::Content(CANONICAL_SHA256[0].1)),
        (CANONICAL_SHA256[1].0, Digest::Content(CANONICAL_SHA256[1].1)),
        (CANONICAL_SHA256[2].0, Digest::Content(CANONICAL_SHA256[2].1)),
        (CANONICAL_SHA256[3].0, Digest::Content(CANONICAL_SHA256[3].1)),
    ],
    items: (60_000, 10_000),
    mirrors: &["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"],
    homepage: "http://yann.lecun.com/exdb/mnist/",
    licence: "Y. LeCun, C. Cortes, C. J. C. Burges; CC BY-SA 3.0",
};

/// Fashion-MNIST: 70,000 pictures of clothing in ten classes, MNIST's format and sizes.
///
/// The digests are those of the decompressed official files (the `.gz` MD5s Zalando publishes
/// are of one particular compression).
pub const FASHION_MNIST: NamedDataset = NamedDataset {
    class_names: &[
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    name: "fashion-mnist",
    title: "Fashion-MNIST",
    about: "clothing: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt, 7 sneaker, 8 bag, 9 ankle boot",
    files: [
        (FILE_NAMES[0], Digest::Content("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888")),
        (FILE_NAMES[1], Digest::Content("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9")),
        (FILE_NAMES[2], Digest::Content("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b")),
        (FILE_NAMES[3], Digest::Content("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34")),
    ],
    items: (60_000, 10_000),
    mirrors: &[
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
    homepage: "https://github.com/zalandoresearch/fashion-mnist",
    licence: "H. Xiao, K. Rasul, R. Vollgraf (Zalando Research); MIT",
};

/// Kuzushiji-MNIST: 70,000 handwritten cursive Japanese (kuzushiji) characters, one for each of
/// ten hiragana, in MNIST's format and sizes.
///
/// Its publisher gives digests of the `.gz` files only, so these are [`Digest::Served`]: the
/// SHA-256 of the official `.gz` files (as also listed by torchvision-ruby's KMNIST loader; the
/// MD5s torchvision checks are of the same files). Class names are the characters' romanisations.
pub const KMNIST: NamedDataset = NamedDataset {
    class_names: &["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
    name: "kmnist",
    title: "Kuzushiji-MNIST",
    about: "cursive Japanese characters: 0 o, 1 ki, 2 su, 3 tsu, 4 na, 5 ha, 6 ma, 7 ya, 8 re, 9 wo",
    files: [
        (FILE_NAMES[0], Digest::Served("51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4")),
        (FILE_NAMES[1], Digest::Served("e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17")),
        (FILE_NAMES[2], Digest::Served("edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5")),
        (FILE_NAMES[3], Digest::Served("20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c")),
    ],
    items: (60_000, 10_000),
    mirrors: &["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"],
    homepage: "https://github.com/rois-codh/kmnist",
    licence: "T. Clanuwat, M. Bober-Irizar, A. Kitamoto, A. Lamb, K. Yamamoto, D. Ha (ROIS-DS CODH, NIJL); CC BY-SA 4.0",
};

/// Every named data set, in the order listed to users.
pub const ALL: [&NamedDataset; 3] = [&MNIST, &FASHION_MNIST, &KMNIST];

/// The named data set called `name`.
///
/// # Errors
/// [`DataError::InvalidParameter`] listing the known names.
pub fn find(name: &str) -> Result<&'static NamedDataset, DataError> {
    ALL.iter().copied().find(|d| d.name == name).ok_or_else(|| DataError::InvalidParameter {
        what: "data set name",
        expected: format!("one of {}", names().join(", ")),
        found: name.to_string(),
    })
}

/// The names of [`ALL`].
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|d| d.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_files_standard() {
        let mut names = names();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for d in ALL {
            let served: Vec<&str> = d.files.iter().map(|f| f.0).collect();
            assert_eq!(served, FILE_NAMES, "{}", d.name);
            for (_, digest) in d.files {
                let hex = digest.hex();
                assert!(
                    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                    "{hex}"
                );
            }
            assert!(d.mirrors.iter().all(|m| m.ends_with('/')), "{}", d.name);
        }
    }

    #[test]
    fn digests_are_found_by_any_spelling() {
        let d = FASHION_MNIST.files[1].1;
        for name in [
            "train-labels-idx1-ubyte.gz",
            "train-labels-idx1-ubyte",
            "train-labels.idx1-ubyte.gz",
            "train-labels.idx1-ubyte",
        ] {
            assert_eq!(FASHION_MNIST.digest_of(name), Some(d), "{name}");
        }
        assert_eq!(MNIST.digest_of("other.gz"), None);
        let err = find("emnist").unwrap_err().to_string();
        assert!(err.contains("mnist, fashion-mnist, kmnist"), "{err}");
    }

    #[test]
    fn served_digests_check_the_gz_as_served_and_refuse_decompressed_copies() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("train-labels-idx1-ubyte.gz");
        std::fs::write(&gz, b"abc").unwrap();
        // SHA-256("abc").
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        Digest::Served(abc).verify(&gz, "kmnist", None).unwrap();
        let other = "0000000000000000000000000000000000000000000000000000000000000000";
        let err = Digest::Served(other).verify(&gz, "kmnist", None).unwrap_err();
        assert!(matches!(&err, DataError::ServedChecksum { found, .. } if found == abc), "{err}");
        assert!(err.to_string().contains("as served"), "{err}");
        let plain = dir.path().join("train-labels-idx1-ubyte");
        std::fs::write(&plain, b"abc").unwrap();
        let err = Digest::Served(abc).verify(&plain, "kmnist", None).unwrap_err().to_string();
        assert!(
            err.contains("kmnist is verified by the SHA-256 of its official .gz") && err.contains("--data"),
            "{err}"
        );
    }
}
