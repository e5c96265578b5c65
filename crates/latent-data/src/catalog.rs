//! The named data sets latent knows by name: their files, the digests that prove a copy is the
//! real thing, where to download them, and their licences.
//!
//! Each is a set of four MNIST-format IDX files under the standard names ([`FILE_NAMES`]). A
//! named data set lives in its own directory under the user's data directory
//! ([`crate::mnist::data_home`]), where `latent fetch NAME` puts it, and loads through the same
//! reader as any other directory, checked against the digests listed here. Digests are of the
//! decompressed content, because mirrors compress the same files differently.
//!
//! ```
//! use latent_data::catalog;
//!
//! let fashion = catalog::find("fashion-mnist")?;
//! assert_eq!(fashion.title, "Fashion-MNIST");
//! assert_eq!(fashion.files.len(), 4);
//! assert!(catalog::find("cifar").is_err());
//! # Ok::<(), latent_data::DataError>(())
//! ```

use crate::error::DataError;
use crate::mnist::{CANONICAL_SHA256, FILE_NAMES};

/// A data set known by name.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NamedDataset {
    /// The name on the command line and of its directory (`fashion-mnist`).
    pub name: &'static str,
    /// The name people write (`Fashion-MNIST`).
    pub title: &'static str,
    /// What the images show, in a few words.
    pub about: &'static str,
    /// Each file's served name and the SHA-256 of its decompressed content (lowercase hex), in
    /// the order of [`FILE_NAMES`].
    pub files: [(&'static str, &'static str); 4],
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
    /// The expected decompressed SHA-256 of one of the four files, by any accepted spelling of
    /// its name (`train-images-idx3-ubyte.gz`, `train-images.idx3-ubyte`, ...).
    pub fn sha256_of(&self, file_name: &str) -> Option<&'static str> {
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
    files: CANONICAL_SHA256,
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
        (FILE_NAMES[0], "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        (FILE_NAMES[1], "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        (FILE_NAMES[2], "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        (FILE_NAMES[3], "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    ],
    items: (60_000, 10_000),
    mirrors: &[
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
    homepage: "https://github.com/zalandoresearch/fashion-mnist",
    licence: "H. Xiao, K. Rasul, R. Vollgraf (Zalando Research); MIT",
};

/// Every named data set, in the order listed to users.
pub const ALL: [&NamedDataset; 2] = [&MNIST, &FASHION_MNIST];

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
                assert!(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()), "{digest}");
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
            assert_eq!(FASHION_MNIST.sha256_of(name), Some(d), "{name}");
        }
        assert_eq!(MNIST.sha256_of("other.gz"), None);
        let err = find("kmnist").unwrap_err().to_string();
        assert!(err.contains("mnist, fashion-mnist"), "{err}");
    }
}
