//! MNIST-format data sets: the four files, their accepted spellings, where the data lives, and
//! the digests that prove it is the real MNIST.
//!
//! A data directory holds four IDX files, training and test images and labels, compressed or
//! raw; both common spellings are accepted (`train-images-idx3-ubyte` and
//! `train-images.idx3-ubyte`, with or without `.gz`). Any such directory loads the same way, so
//! Fashion-MNIST and KMNIST work too.
//!
//! [`load`] finds the data in this order:
//! 1. the directory given (the CLI's `--data-dir`);
//! 2. the directory in the environment variable `LATENT_DATA_DIR`;
//! 3. `datasets/mnist`, where `cargo xtask fetch-mnist` puts the full data;
//! 4. `datasets/mnist-sample`, the bundled sample (the first 10,000 training and 2,000 test
//!    digits), with a notice on stderr, once per process, naming `cargo xtask fetch-mnist`.
//!
//! `datasets/` is looked for in the current directory first, then in the workspace this crate
//! was built in, so `cargo run` and the tests find it from any directory. A directory given by
//! flag or variable must hold the data: there is no falling back from it.
//!
//! Verification: a directory with a [`MANIFEST`](crate::manifest) is checked against it (the
//! sample always is); the full data in `datasets/mnist` is checked against
//! [`CANONICAL_SHA256`]; other directories get the structural checks of [`crate::idx`] only.

use std::path::{Path, PathBuf};
use std::sync::Once;

use crate::dataset::Dataset;
use crate::error::DataError;
use crate::idx::{self, IdxOptions};
use crate::manifest::{MANIFEST_FILE, Manifest};

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
    let base = name.strip_suffix(".gz").unwrap_or(name);
    let dashed = base.replacen(".idx", "-idx", 1);
    CANONICAL_SHA256.iter().find(|(n, _)| n.strip_suffix(".gz") == Some(dashed.as_str())).map(|&(_, d)| d)
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

/// The path of a file in `dir` under the first accepted spelling that exists.
///
/// # Errors
/// [`DataError::MissingFile`] listing the names tried.
pub fn find_file(dir: &Path, split: Split, part: Part) -> Result<PathBuf, DataError> {
    let names = accepted_names(split, part);
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
    /// Each file's decompressed content against [`CANONICAL_SHA256`].
    Canonical,
    /// Each file against a manifest (read from the given path).
    Manifest(PathBuf, Manifest),
}

/// Loads one split from `dir`: images and labels, checked against each other and as `verify`
/// says.
///
/// # Errors
/// Any [`DataError`] about either file; [`DataError::CountMismatch`] if they disagree.
pub fn load_split(dir: &Path, split: Split, verify: &Verification) -> Result<Dataset, DataError> {
    let images_path = find_file(dir, split, Part::Images)?;
    let labels_path = find_file(dir, split, Part::Labels)?;
    let images = IdxOptions::with_rank(Part::Images.rank()).read(&images_path)?;
    check(&images_path, &images, verify)?;
    let labels = IdxOptions::with_rank(Part::Labels.rank()).read(&labels_path)?;
    check(&labels_path, &labels, verify)?;
    let (n, rows, cols) = match *images.dims() {
        [n, rows, cols] => (n, rows, cols),
        ref other => {
            return Err(DataError::Rank { path: images_path, expected: 3, found: other.len() });
        }
    };
    if rows == 0 || cols == 0 {
        return Err(DataError::Dimensions {
            path: images_path,
            expected: "images of at least 1 x 1 pixels".into(),
            found: format!("{n} x {rows} x {cols}"),
        });
    }
    let n_labels = labels.dims().first().copied().unwrap_or(0);
    if n != n_labels {
        return Err(DataError::CountMismatch { images_path, labels_path, images: n, labels: n_labels });
    }
    Dataset::new(images.into_data(), labels.into_data(), rows, cols)
}

fn check(path: &Path, array: &idx::IdxArray, verify: &Verification) -> Result<(), DataError> {
    match verify {
        Verification::None => Ok(()),
        Verification::Canonical => {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let Some(expected) = canonical_sha256(&name) else {
                return Ok(());
            };
            let found = idx::hex(&array.content_sha256());
            if found == expected {
                Ok(())
            } else {
                Err(DataError::Checksum { path: path.to_path_buf(), expected: expected.to_string(), found })
            }
        }
        Verification::Manifest(manifest_path, manifest) => manifest.check(
            manifest_path,
            path,
            array.dims().first().copied().unwrap_or(0),
            &idx::hex(&array.content_sha256()),
        ),
    }
}

/// Where a data directory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Given explicitly (the CLI's `--data-dir`).
    Flag,
    /// From the environment variable [`DATA_DIR_ENV`].
    Env,
    /// The full data in `datasets/mnist`.
    Full,
    /// The bundled sample in `datasets/mnist-sample`.
    Sample,
}

/// A located data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    /// The directory.
    pub path: PathBuf,
    /// How it was found.
    pub origin: Origin,
}

impl DataDir {
    /// The verification loading this directory applies: its manifest if it has one (required
    /// for the sample), else the canonical digests for `datasets/mnist`, else none.
    ///
    /// # Errors
    /// Errors reading or parsing the manifest.
    pub fn verification(&self) -> Result<Verification, DataError> {
        let manifest_path = self.path.join(MANIFEST_FILE);
        let has_manifest = manifest_path.is_file();
        Ok(match self.origin {
            _ if has_manifest => Verification::Manifest(manifest_path.clone(), Manifest::read(&manifest_path)?),
            // Reading reports the sample's missing manifest.
            Origin::Sample => Verification::Manifest(manifest_path.clone(), Manifest::read(&manifest_path)?),
            Origin::Full => Verification::Canonical,
            Origin::Flag | Origin::Env => Verification::None,
        })
    }
}

/// The `datasets/` directories searched, in order: under the current directory, then in the
/// workspace this crate was built in.
pub fn datasets_roots() -> Vec<PathBuf> {
    let local = PathBuf::from("datasets");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
    let mut roots = vec![local];
    let same = match (roots[0].canonicalize(), workspace.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same {
        roots.push(workspace);
    }
    roots
}

static SAMPLE_NOTICE: Once = Once::new();

/// Finds the data directory: `flag`, else `LATENT_DATA_DIR`, else `datasets/mnist`, else the
/// bundled `datasets/mnist-sample` (with a one-time notice on stderr).
///
/// # Errors
/// [`DataError::MissingFile`] if the directory given by flag or variable lacks a file,
/// [`DataError::NoData`] if neither the full data nor the sample is found.
pub fn locate(flag: Option<&Path>) -> Result<DataDir, DataError> {
    let env = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty());
    locate_with(flag, env.as_deref().map(Path::new), &datasets_roots())
}

/// [`locate`] with the variable's value and the `datasets/` roots given, for tests and tools.
///
/// # Errors
/// As [`locate`].
pub fn locate_with(flag: Option<&Path>, env: Option<&Path>, roots: &[PathBuf]) -> Result<DataDir, DataError> {
    let explicit = flag.map(|p| (p, Origin::Flag)).or_else(|| env.map(|p| (p, Origin::Env)));
    if let Some((path, origin)) = explicit {
        // Report the first missing file rather than falling back.
        for split in Split::ALL {
            find_file(path, split, Part::Images)?;
            find_file(path, split, Part::Labels)?;
        }
        return Ok(DataDir { path: path.to_path_buf(), origin });
    }
    let full: Vec<PathBuf> = roots.iter().map(|r| r.join("mnist")).collect();
    if let Some(path) = full.iter().find(|d| is_complete(d)) {
        return Ok(DataDir { path: path.clone(), origin: Origin::Full });
    }
    let samples: Vec<PathBuf> = roots.iter().map(|r| r.join("mnist-sample")).collect();
    if let Some(path) = samples.iter().find(|d| is_complete(d)) {
        SAMPLE_NOTICE.call_once(|| {
            eprintln!(
                "note: the full MNIST was not found in {}; using the bundled sample in {} \
                 (the first {SAMPLE_TRAIN_ITEMS} training and {SAMPLE_TEST_ITEMS} test digits). \
                 Run `cargo xtask fetch-mnist` to get all of it.",
                full[0].display(),
                path.display()
            );
        });
        return Ok(DataDir { path: path.clone(), origin: Origin::Sample });
    }
    Err(DataError::NoData { tried: full.into_iter().chain(samples).collect() })
}

/// Both splits of an MNIST-format data set and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mnist {
    /// The training split.
    pub train: Dataset,
    /// The test split.
    pub test: Dataset,
    /// Where the files were read from.
    pub dir: DataDir,
}

impl Mnist {
    /// Whether this is the bundled sample rather than the full data.
    pub fn is_sample(&self) -> bool {
        self.dir.origin == Origin::Sample
    }
}

/// Locates ([`locate`]) and loads the data, verified as [`DataDir::verification`] says.
///
/// # Errors
/// Any [`DataError`] of locating, reading or verifying.
pub fn load(flag: Option<&Path>) -> Result<Mnist, DataError> {
    load_from(locate(flag)?)
}

/// Loads a located data directory, verified as [`DataDir::verification`] says.
///
/// # Errors
/// Any [`DataError`] of reading or verifying.
pub fn load_from(dir: DataDir) -> Result<Mnist, DataError> {
    let verify = dir.verification()?;
    let train = load_split(&dir.path, Split::Train, &verify)?;
    let test = load_split(&dir.path, Split::Test, &verify)?;
    Ok(Mnist { train, test, dir })
}

/// Loads any directory of MNIST-format files (Fashion-MNIST, KMNIST, ...), checked against its
/// manifest if it has one.
///
/// # Errors
/// Any [`DataError`] of reading or verifying.
pub fn load_dir(dir: impl AsRef<Path>) -> Result<Mnist, DataError> {
    load_from(DataDir { path: dir.as_ref().to_path_buf(), origin: Origin::Flag })
}
