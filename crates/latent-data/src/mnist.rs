//! MNIST-format data sets: the four files, their accepted spellings, where the data lives, and
//! the digests that prove it is the real MNIST.
//!
//! A data directory holds four IDX files, training and test images and labels, compressed or
//! raw; both common spellings are accepted (`train-images-idx3-ubyte` and
//! `train-images.idx3-ubyte`, with or without `.gz`). Any such directory loads the same way, so
//! Fashion-MNIST and KMNIST work too.
//!
//! [`load`] finds the data in this order ([`locate`]):
//! 1. the directory given (the CLI's `--data-dir`);
//! 2. the directory in the environment variable `LATENT_DATA_DIR`;
//! 3. `mnist/` in the user's data directory ([`data_home`]: `~/.local/share/latent` on Linux),
//!    where `latent fetch mnist` puts the full data;
//! 4. the MNIST sample built into this crate ([`crate::sample`]: the first 10,000 training and
//!    2,000 test digits; the default feature `embedded-sample`), with a notice on stderr, once
//!    per process, naming `latent fetch mnist`.
//!
//! Nothing depends on where the program was built or is run from, so an installed binary finds
//! the same data anywhere. A directory given by flag or variable must hold the data: there is no
//! falling back from it. Other named data sets ([`crate::catalog`]) are found by name in the
//! user's data directory ([`locate_named`]).
//!
//! Verification: a directory with a [`MANIFEST`](crate::manifest) is checked against it, and so
//! is the built-in sample against its own; a named data set in the user's data directory is
//! checked against its digests in the catalog ([`CANONICAL_SHA256`] for MNIST); other
//! directories get the structural checks of [`crate::idx`] only.

use std::path::{Path, PathBuf};
use std::sync::Once;

use crate::catalog::{self, NamedDataset};
use crate::dataset::Dataset;
use crate::error::DataError;
use crate::idx::{self, IdxArray, IdxOptions};
use crate::manifest::Manifest;
use crate::sample;
use crate::source::{Data, Format, LoadOptions, Source};
use crate::spec::{SampleShape, digit_names};

/// Image height of MNIST and its relatives.
pub const ROWS: usize = 28;
/// Image width of MNIST and its relatives.
pub const COLS: usize = 28;

/// The environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "LATENT_DATA_DIR";

/// The four file names as the mirrors serve them, in the order train images, train labels,
/// test images, test labels.
pub const FILE_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// The SHA-256 of each canonical MNIST file's decompressed content, by served file name.
///
/// Mirrors may compress differently, so only the decompressed content is compared.
pub const CANONICAL_SHA256: [(&str, &str); 4] = [
    ("train-images-idx3-ubyte.gz", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    ("train-labels-idx1-ubyte.gz", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    ("t10k-images-idx3-ubyte.gz", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    ("t10k-labels-idx1-ubyte.gz", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
];

/// The number of training images in the full MNIST.
pub const TRAIN_ITEMS: usize = 60_000;
/// The number of test images in the full MNIST.
pub const TEST_ITEMS: usize = 10_000;
/// The number of training images in the bundled sample.
pub const SAMPLE_TRAIN_ITEMS: usize = 10_000;
/// The number of test images in the bundled sample.
pub const SAMPLE_TEST_ITEMS: usize = 2_000;

/// Training or test data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training split (`train-*`).
    Train,
    /// The test split (`t10k-*`).
    Test,
}

/// Images or labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// The images file (`*-images-idx3-ubyte`).
    Images,
    /// The labels file (`*-labels-idx1-ubyte`).
    Labels,
}

impl Split {
    /// Both splits, training first.
    pub const ALL: [Split; 2] = [Split::Train, Split::Test];

    fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Split::Train => "training",
            Split::Test => "test",
        }
    }
}

impl Part {
    fn stem(self) -> (&'static str, &'static str) {
        match self {
            Part::Images => ("images", "idx3-ubyte"),
            Part::Labels => ("labels", "idx1-ubyte"),
        }
    }

    fn rank(self) -> usize {
        match self {
            Part::Images => 3,
            Part::Labels => 1,
        }
    }
}

/// The served (canonical) name of a file: `train-images-idx3-ubyte.gz`, say.
pub fn file_name(split: Split, part: Part) -> &'static str {
    match (split, part) {
        (Split::Train, Part::Images) => FILE_NAMES[0],
        (Split::Train, Part::Labels) => FILE_NAMES[1],
        (Split::Test, Part::Images) => FILE_NAMES[2],
        (Split::Test, Part::Labels) => FILE_NAMES[3],
    }
}

/// The names a file may have, in the order they are looked for: dashed and dotted spellings,
/// each compressed then raw (`train-images-idx3-ubyte.gz`, `train-images-idx3-ubyte`,
/// `train-images.idx3-ubyte.gz`, `train-images.idx3-ubyte`).
pub fn accepted_names(split: Split, part: Part) -> [String; 4] {
    let (what, kind) = part.stem();
    let dashed = format!("{}-{what}-{kind}", split.prefix());
    let dotted = format!("{}-{what}.{kind}", split.prefix());
    [format!("{dashed}.gz"), dashed, format!("{dotted}.gz"), dotted]
}

/// The canonical decompressed SHA-256 of a file, by any accepted spelling of its name.
pub fn canonical_sha256(name: &str) -> Option<&'static str> {
    catalog::MNIST.digest_of(name).map(catalog::Digest::hex)
}

/// Checks a file against [`CANONICAL_SHA256`], by the SHA-256 of its decompressed content.
///
/// # Errors
/// [`DataError::InvalidParameter`] if the file name is not one of the four MNIST names,
/// [`DataError::Checksum`] on a mismatch, I/O and gzip errors as [`idx::content_sha256`].
pub fn verify_canonical(path: impl AsRef<Path>) -> Result<(), DataError> {
    let path = path.as_ref();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let expected = canonical_sha256(&name).ok_or_else(|| DataError::InvalidParameter {
        what: "MNIST file name",
        expected: FILE_NAMES.join(", "),
        found: path.display().to_string(),
    })?;
    idx::verify_sha256(path, expected)
}

/// The path of a file in `dir` under the first accepted spelling that exists. An images file may
/// also be named for rank 2 or 4 (`train-images-idx2-ubyte`, `train-images.idx4-ubyte.gz`, ...):
/// its name says the rank it must have.
///
/// # Errors
/// [`DataError::MissingFile`] listing the names tried.
pub fn find_file(dir: &Path, split: Split, part: Part) -> Result<PathBuf, DataError> {
    let mut names = accepted_names(split, part).to_vec();
    if part == Part::Images {
        // Examples of other ranks: `[N, D]` feature rows (idx2), `[N, C, H, W]` images (idx4).
        for rank in ["idx2", "idx4"] {
            names.extend(accepted_names(split, part).map(|n| n.replace("idx3", rank)));
        }
    }
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file()).ok_or_else(|| DataError::MissingFile {
        dir: dir.to_path_buf(),
        what: format!(
            "{} {}",
            split.words(),
            match part {
                Part::Images => "images",
                Part::Labels => "labels",
            }
        ),
        tried: names.to_vec(),
    })
}

/// Whether `dir` holds all four files under accepted names.
pub fn is_complete(dir: &Path) -> bool {
    Split::ALL.iter().all(|&s| find_file(dir, s, Part::Images).is_ok() && find_file(dir, s, Part::Labels).is_ok())
}

/// Which digests a load checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Structural checks only.
    None,
    /// Each file's decompressed content against a named data set's digests ([`CANONICAL_SHA256`]
    /// for MNIST).
    Named(&'static NamedDataset),
    /// Each file against a manifest (read from the given path).
    Manifest(PathBuf, Manifest),
}

impl Verification {
    /// Checks one parsed file, read from `path`, as this verification says.
    ///
    /// # Errors
    /// [`DataError::Checksum`] on a digest mismatch, [`DataError::Manifest`] if a manifest does
    /// not list the file or gives another item count.
    pub fn check(&self, path: &Path, array: &IdxArray) -> Result<(), DataError> {
        match self {
            Verification::None => Ok(()),
            Verification::Named(dataset) => {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let Some(digest) = dataset.digest_of(&name) else {
                    return Ok(());
                };
                digest.verify(path, dataset.name, Some(array))
            }
            Verification::Manifest(manifest_path, manifest) => manifest.check(
                manifest_path,
                path,
                array.dims().first().copied().unwrap_or(0),
                &idx::hex(&array.content_sha256()),
            ),
        }
    }
}

/// Loads one split from `dir`: images and labels, checked against each other and as `verify`
/// says.
///
/// # Errors
/// Any [`DataError`] about either file; [`DataError::CountMismatch`] if they disagree.
pub fn load_split(dir: &Path, split: Split, verify: &Verification) -> Result<Dataset, DataError> {
    let images_path = find_file(dir, split, Part::Images)?;
    let labels_path = find_file(dir, split, Part::Labels)?;
    let images = IdxOptions::with_rank(images_rank(&images_path)).read(&images_path)?;
    verify.check(&images_path, &images)?;
    let labels = IdxOptions::with_rank(Part::Labels.rank()).read(&labels_path)?;
    verify.check(&labels_path, &labels)?;
    assemble(images_path, images, labels_path, labels)
}

/// Parses one split held in memory (`images` and `labels` are the bytes of IDX files, compressed
/// or raw), checked against each other and as `verify` says; the paths only name the files in
/// errors and in `verify`'s lookups.
///
/// # Errors
/// As [`load_split`].
pub fn parse_split(
    images: (&Path, &[u8]),
    labels: (&Path, &[u8]),
    verify: &Verification,
) -> Result<Dataset, DataError> {
    let (images_path, labels_path) = (images.0.to_path_buf(), labels.0.to_path_buf());
    let images = IdxOptions::with_rank(images_rank(&images_path)).parse(images.1, &images_path)?;
    verify.check(&images_path, &images)?;
    let labels = IdxOptions::with_rank(Part::Labels.rank()).parse(labels.1, &labels_path)?;
    verify.check(&labels_path, &labels)?;
    assemble(images_path, images, labels_path, labels)
}

/// The rank an images file must have, by its name: 2 for `idx2` (`[N, D]` feature rows), 4 for
/// `idx4` (`[N, C, H, W]` images), else 3 (`[N, H, W]`, MNIST's).
fn images_rank(path: &Path) -> usize {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.contains("idx2") {
        2
    } else if name.contains("idx4") {
        4
    } else {
        Part::Images.rank()
    }
}

/// Images (or feature rows) and labels as one [`Dataset`], once their shapes agree: `[N, D]`
/// byte features, `[N, H, W]` grey images or `[N, C, H, W]` images.
fn assemble(
    images_path: PathBuf,
    images: IdxArray,
    labels_path: PathBuf,
    labels: IdxArray,
) -> Result<Dataset, DataError> {
    let (n, shape) = match *images.dims() {
        [n, features] => (n, SampleShape::Features { features }),
        [n, rows, cols] => (n, SampleShape::image(1, rows, cols)),
        [n, channels, rows, cols] => (n, SampleShape::image(channels, rows, cols)),
        ref other => {
            return Err(DataError::Rank { path: images_path, expected: 3, found: other.len() });
        }
    };
    if images.dims()[1..].contains(&0) {
        return Err(DataError::Dimensions {
            path: images_path,
            expected: "examples of at least one value (images of at least 1 x 1 pixels)".into(),
            found: images.dims().iter().map(usize::to_string).collect::<Vec<_>>().join(" x "),
        });
    }
    let n_labels = labels.dims().first().copied().unwrap_or(0);
    if n != n_labels {
        return Err(DataError::CountMismatch { images_path, labels_path, images: n, labels: n_labels });
    }
    Dataset::from_pixels(images.into_data(), labels.into_data(), shape)
}

/// The user's data directory for latent, where downloads land: `latent/` in the platform's
/// data directory (`$XDG_DATA_HOME/latent`, by default `~/.local/share/latent`, on Linux;
/// `~/Library/Application Support/latent` on macOS; `%APPDATA%\latent` on Windows). `None`
/// if the platform gives no home directory.
pub fn data_home() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("latent"))
}

/// The directory of a named data set under a data home: `home/NAME`.
pub fn named_dir(dataset: &NamedDataset, home: &Path) -> PathBuf {
    home.join(dataset.name)
}

static SAMPLE_NOTICE: Once = Once::new();

/// Finds the data: `flag`, else `LATENT_DATA_DIR`, else the full MNIST in the user's data
/// directory, else the built-in sample (with a one-time notice on stderr).
///
/// # Errors
/// [`DataError::MissingFile`] if the directory given by flag or variable lacks a file,
/// [`DataError::NoData`] if there is no full MNIST and the sample is not built in.
pub fn locate(flag: Option<&Path>) -> Result<Source, DataError> {
    let env = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty());
    locate_with(flag, env.as_deref().map(Path::new), data_home().as_deref())
}

/// [`locate`] with the variable's value and the data home given, for tests and tools.
///
/// # Errors
/// As [`locate`].
pub fn locate_with(flag: Option<&Path>, env: Option<&Path>, home: Option<&Path>) -> Result<Source, DataError> {
    if let Some(path) = flag.or(env) {
        // Report the first missing file rather than falling back.
        for split in Split::ALL {
            find_file(path, split, Part::Images)?;
            find_file(path, split, Part::Labels)?;
        }
        let path = path.to_path_buf();
        return Ok(if flag.is_some() { Source::Flag(path) } else { Source::Env(path) });
    }
    let full = home.map(|h| named_dir(&catalog::MNIST, h));
    if let Some(path) = full.as_ref().filter(|d| is_complete(d)) {
        return Ok(Source::Named { dataset: &catalog::MNIST, path: path.clone() });
    }
    if !sample::BUILT_IN {
        return Err(DataError::NoData { tried: full.into_iter().collect() });
    }
    SAMPLE_NOTICE.call_once(|| {
        let looked = full.as_ref().map_or_else(|| "no user data directory".to_string(), |d| d.display().to_string());
        eprintln!(
            "note: using the MNIST sample built into latent (the first {SAMPLE_TRAIN_ITEMS} training and \
             {SAMPLE_TEST_ITEMS} test digits); the full MNIST was not found ({looked}). \
             Run `latent fetch mnist` to get all of it."
        );
    });
    Ok(Source::Sample)
}

/// Finds a named data set in its directory under `home` (the user's data directory,
/// [`data_home`]); the built-in sample for [`sample::NAME`], the generated shapes for
/// [`crate::shapes::NAME`].
///
/// # Errors
/// [`DataError::NotFetched`] if the directory lacks a file, [`DataError::NoDataHome`] without a
/// home, [`DataError::InvalidParameter`] for an unknown name.
pub fn locate_named(name: &str, home: Option<&Path>) -> Result<Source, DataError> {
    if name == sample::NAME {
        return Ok(Source::Sample);
    }
    if name == crate::shapes::NAME {
        return Ok(Source::Shapes);
    }
    let dataset = catalog::find(name)?;
    let home = home.ok_or(DataError::NoDataHome { name: dataset.name })?;
    let path = named_dir(dataset, home);
    if !is_complete(&path) {
        return Err(DataError::NotFetched { name: dataset.name, dir: path });
    }
    Ok(Source::Named { dataset, path })
}

/// Locates ([`locate`]) and loads the data, verified as [`Source::verification`] says.
///
/// # Errors
/// Any [`DataError`] of locating, reading or verifying.
pub fn load(flag: Option<&Path>) -> Result<Data, DataError> {
    load_from(locate(flag)?)
}

/// Loads a located directory or the built-in sample, verified as [`Source::verification`]
/// says; a file source of another format loads through [`crate::source::load`].
///
/// # Errors
/// Any [`DataError`] of reading or verifying.
pub fn load_from(source: Source) -> Result<Data, DataError> {
    if source == Source::Shapes {
        return Ok(crate::shapes::load());
    }
    let Some(dir) = source.path() else {
        return sample::load();
    };
    if source.format() != Format::Idx {
        return crate::source::load(source, &LoadOptions::default());
    }
    let (train, test) = load_splits(dir, &source.verification()?)?;
    let names = match &source {
        Source::Named { dataset, .. } => dataset.class_names.iter().map(|n| n.to_string()).collect(),
        _ => numbered_classes(&train, &test),
    };
    Ok(Data {
        train: train.with_class_names(names.clone())?,
        test: test.with_class_names(names)?,
        source,
        dropped_rows: 0,
    })
}

/// Both splits of an IDX directory, verified as `verify` says; without class names.
///
/// # Errors
/// Any [`DataError`] about the files.
pub fn load_splits(dir: &Path, verify: &Verification) -> Result<(Dataset, Dataset), DataError> {
    let (train, test) = (load_split(dir, Split::Train, verify)?, load_split(dir, Split::Test, verify)?);
    if train.shape() != test.shape() {
        return Err(DataError::Dimensions {
            path: find_file(dir, Split::Test, Part::Images)?,
            expected: format!("test examples like the training ones ({})", train.shape()),
            found: test.shape().to_string(),
        });
    }
    Ok((train, test))
}

/// Class names `0`..`K-1` for labels up to `K - 1` in either split (at least ten, MNIST's).
pub(crate) fn numbered_classes(train: &Dataset, test: &Dataset) -> Vec<String> {
    let top = train.labels().iter().chain(test.labels()).copied().max().map_or(0, usize::from);
    digit_names((top + 1).max(10))
}

/// Whether `dir` holds any file under an accepted IDX name (the sign of an IDX directory).
pub fn has_any_idx(dir: &Path) -> bool {
    Split::ALL.iter().any(|&s| find_file(dir, s, Part::Images).is_ok() || find_file(dir, s, Part::Labels).is_ok())
}

/// Loads a named data set ([`crate::catalog`], or [`sample::NAME`]) from the user's data
/// directory, verified against its digests.
///
/// # Errors
/// As [`locate_named`] and [`load_from`].
pub fn load_named(name: &str) -> Result<Data, DataError> {
    load_from(locate_named(name, data_home().as_deref())?)
}

/// Loads any directory of MNIST-format files (Fashion-MNIST, KMNIST, ...), checked against its
/// manifest if it has one.
///
/// # Errors
/// Any [`DataError`] of reading or verifying.
pub fn load_dir(dir: impl AsRef<Path>) -> Result<Data, DataError> {
    load_from(Source::Flag(dir.as_ref().to_path_buf()))
}
