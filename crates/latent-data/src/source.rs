//! Where data comes from and how it becomes a training and a test split.
//!
//! A [`Source`] says where the data was found: a directory of MNIST-format IDX files given by
//! flag or environment, a named data set in the user's data directory, the built-in sample, or a
//! file or folder of one of the [`Format`]s. [`load`] reads any of them into [`Data`], then
//! [`Data::prepare`] applies what every source shares, in this order:
//!
//! 1. a source without a test split is split by a seeded permutation
//!    ([`LoadOptions::test_fraction`], seed [`SPLIT_SEED`]), so a run and its later `eval` see the
//!    same test examples;
//! 2. [`LoadOptions::classes`] keeps only the examples of the named classes (a one-class training
//!    set for anomaly detection);
//! 3. real values are standardised with the training split's statistics, or with statistics
//!    given (a run's, so new data is mapped the way its training data was).
//!
//! ```
//! use latent_data::source::{Data, LoadOptions, Source};
//! use latent_data::{Dataset, SampleShape};
//!
//! // Ten table rows of two features, no test split of their own.
//! let values: Vec<f32> = (0..20).map(|i| i as f32).collect();
//! let rows = Dataset::from_reals(values, vec![0; 10], SampleShape::Features { features: 2 })?;
//! let options = LoadOptions { test_fraction: 0.3, ..LoadOptions::default() };
//! let data = Data::from_parts(rows, None, Source::Sample, &options)?.prepare(&options, None)?;
//! assert_eq!((data.train.len(), data.test.len()), (7, 3));
//! let stats = data.spec().standardization.clone().expect("real values are standardised");
//! assert_eq!(stats.features(), 2);
//! # Ok::<(), latent_data::DataError>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::catalog::NamedDataset;
use crate::dataset::Dataset;
use crate::error::DataError;
use crate::mnist::{self, Verification};
use crate::spec::{DataSpec, Standardization};
use crate::{manifest, sample};

/// The seed of the permutation that splits a source without a test split.
pub const SPLIT_SEED: u64 = 0x5eed;

/// The default fraction of a source without a test split held out for testing.
pub const DEFAULT_TEST_FRACTION: f64 = 0.2;

/// The file formats a path may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Format {
    /// A directory of the four MNIST-format IDX files.
    Idx,
    /// A CSV table with a header row ([`crate::csv`]).
    Csv,
    /// A NumPy `.npy` array of samples ([`crate::arrays`]).
    Npy,
    /// A NumPy `.npz` archive of samples and labels ([`crate::arrays`]).
    Npz,
    /// A folder of PNG or JPEG images, one subfolder per class ([`crate::images`]).
    Images,
}

impl Format {
    /// Every format, in the order [`Format::detect`] considers them.
    pub const ALL: [Format; 5] = [Format::Idx, Format::Csv, Format::Npy, Format::Npz, Format::Images];

    /// The name `--data-format` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Idx => "idx",
            Format::Csv => "csv",
            Format::Npy => "npy",
            Format::Npz => "npz",
            Format::Images => "images",
        }
    }

    /// The format a path holds, by its extension or, for a directory, its contents.
    ///
    /// # Errors
    /// [`DataError::Io`] if the path does not exist; [`DataError::InvalidParameter`] if no
    /// format fits (the message lists what is accepted).
    pub fn detect(path: &Path) -> Result<Format, DataError> {
        let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
        if meta.is_dir() && mnist::has_any_idx(path) {
            return Ok(Format::Idx);
        }
        if meta.is_dir() && crate::images::looks_like_image_folder(path) {
            return Ok(Format::Images);
        }
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if meta.is_file()
            && let Some(format) =
                [Format::Csv, Format::Npy, Format::Npz].into_iter().find(|f| extension.as_deref() == Some(f.as_str()))
        {
            return Ok(format);
        }
        Err(DataError::InvalidParameter {
            what: "data format",
            expected: format!(
                "one of: {} (a directory of MNIST-format IDX files; a folder of class subfolders of PNG or JPEG images; a .csv, .npy or .npz file); or name it with --data-format",
                Format::ALL.map(Format::as_str).join(", ")
            ),
            found: format!("{} (format not recognised)", path.display()),
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| DataError::InvalidParameter {
            what: "data format",
            expected: format!("one of: {}", Format::ALL.map(Format::as_str).join(", ")),
            found: s.to_string(),
        })
    }
}

/// How to read and prepare a source: the options of `--data` and its companions. A run records
/// them, so that reading its data again gives the same splits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadOptions {
    /// The format, when it must be forced rather than detected.
    pub format: Option<Format>,
    /// The fraction held out for testing when the source has no test split, in (0, 1).
    pub test_fraction: f64,
    /// Keep only the examples of these classes, by name (or number, for unnamed classes).
    pub classes: Option<Vec<String>>,
    /// A table's label column, by header name ([`crate::csv::CsvOptions::label_column`]).
    pub label_column: Option<String>,
    /// A table's feature columns, by header name; `None` for all but the label column.
    pub columns: Option<Vec<String>>,
    /// Skip a table's incomplete rows (counted in [`Data::dropped_rows`]) rather than refuse them.
    pub drop_incomplete: bool,
    /// The `.npz` array of samples ([`crate::arrays::ArrayOptions::data_key`]).
    pub data_key: Option<String>,
    /// The `.npz` array of labels ([`crate::arrays::ArrayOptions::label_key`]).
    pub label_key: Option<String>,
    /// Image folders: resize every image to this size (else all must share the first's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_size: Option<crate::images::ImageSize>,
    /// Image folders: 1 (grey) or 3 (RGB) channels (else grey only if every image is grey).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<usize>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            format: None,
            test_fraction: DEFAULT_TEST_FRACTION,
            classes: None,
            label_column: None,
            columns: None,
            drop_incomplete: false,
            data_key: None,
            label_key: None,
            image_size: None,
            channels: None,
        }
    }
}

/// Where a data set was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A directory given explicitly (the CLI's `--data-dir`).
    Flag(PathBuf),
    /// The directory in the environment variable [`mnist::DATA_DIR_ENV`].
    Env(PathBuf),
    /// A named data set in its directory under the user's data directory
    /// ([`mnist::data_home`]).
    Named {
        /// Which data set.
        dataset: &'static NamedDataset,
        /// Its directory.
        path: PathBuf,
    },
    /// The MNIST sample built into this crate ([`crate::sample`]).
    Sample,
    /// The colour shapes drawn by [`crate::shapes`] (`--dataset shapes`).
    Shapes,
    /// A file or folder given with `--data`, in a format.
    Path {
        /// The file or folder.
        path: PathBuf,
        /// Its format.
        format: Format,
    },
}

impl Source {
    /// The file or directory read, if the data comes from one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Flag(p) | Source::Env(p) | Source::Named { path: p, .. } | Source::Path { path: p, .. } => Some(p),
            Source::Sample | Source::Shapes => None,
        }
    }

    /// How runs and reports name the data: the data set's name (`mnist`, `fashion-mnist`,
    /// `mnist-sample`), or the path given.
    pub fn name(&self) -> String {
        match self {
            Source::Flag(p) | Source::Env(p) | Source::Path { path: p, .. } => p.display().to_string(),
            Source::Named { dataset, .. } => dataset.name.to_string(),
            Source::Sample => sample::NAME.to_string(),
            Source::Shapes => crate::shapes::NAME.to_string(),
        }
    }

    /// The format of the source.
    pub fn format(&self) -> Format {
        match self {
            Source::Path { format, .. } => *format,
            _ => Format::Idx,
        }
    }

    /// A `--data` path, its format detected unless `forced`.
    ///
    /// # Errors
    /// As [`Format::detect`].
    pub fn from_path(path: &Path, forced: Option<Format>) -> Result<Source, DataError> {
        let format = match forced {
            Some(f) => f,
            None => Format::detect(path)?,
        };
        Ok(Source::Path { path: path.to_path_buf(), format })
    }

    /// The verification loading this source applies: a directory's manifest if it has one, else
    /// the named data set's digests, else none; the built-in sample's own manifest.
    ///
    /// # Errors
    /// Errors reading or parsing a manifest; [`DataError::NoSample`] for the sample in a build
    /// without it.
    pub fn verification(&self) -> Result<Verification, DataError> {
        let dir = match self {
            Source::Sample => {
                return Ok(Verification::Manifest(sample::manifest_path(), sample::manifest()?));
            }
            Source::Shapes => return Ok(Verification::None),
            Source::Flag(p) | Source::Env(p) | Source::Named { path: p, .. } | Source::Path { path: p, .. } => p,
        };
        let manifest_path = dir.join(manifest::MANIFEST_FILE);
        Ok(match self {
            _ if manifest_path.is_file() => {
                Verification::Manifest(manifest_path.clone(), manifest::Manifest::read(&manifest_path)?)
            }
            Source::Named { dataset, .. } => Verification::Named(dataset),
            _ => Verification::None,
        })
    }
}

/// Both splits of a data set and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    /// The training split.
    pub train: Dataset,
    /// The test split.
    pub test: Dataset,
    /// Where the data was read from.
    pub source: Source,
    /// Rows of a table skipped as incomplete ([`LoadOptions::drop_incomplete`]); 0 for other
    /// sources.
    pub dropped_rows: usize,
}

impl Data {
    /// Whether this is the built-in sample rather than a full data set.
    pub fn is_sample(&self) -> bool {
        self.source == Source::Sample
    }

    /// The description of the data (the training split's).
    pub fn spec(&self) -> &DataSpec {
        self.train.spec()
    }

    /// Joins a source's splits; one without a test split is split by
    /// [`LoadOptions::test_fraction`] with [`SPLIT_SEED`].
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if the fraction leaves either part empty, or the splits'
    /// shapes or kinds differ.
    pub fn from_parts(
        train: Dataset,
        test: Option<Dataset>,
        source: Source,
        options: &LoadOptions,
    ) -> Result<Data, DataError> {
        let (train, test) = match test {
            Some(test) => (train, test),
            None => train.split(options.test_fraction, SPLIT_SEED).map_err(|_| DataError::InvalidParameter {
                what: "test fraction",
                expected: format!(
                    "a fraction in (0, 1) leaving examples in both splits (the data has {} examples)",
                    train.len()
                ),
                found: options.test_fraction.to_string(),
            })?,
        };
        if train.shape() != test.shape() || train.spec().values != test.spec().values {
            return Err(DataError::InvalidParameter {
                what: "test split",
                expected: format!(
                    "{} of {} values like the training split",
                    train.shape(),
                    train.spec().values.as_str()
                ),
                found: format!("{} of {} values", test.shape(), test.spec().values.as_str()),
            });
        }
        Ok(Data { train, test, source, dropped_rows: 0 })
    }

    /// Keeps the classes asked for and standardises real values, with `stats` if given (a
    /// run's) or else the training split's. See the [module documentation](self).
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] for a class the data does not have, a class filter
    /// leaving a split empty, or statistics that do not fit.
    pub fn prepare(mut self, options: &LoadOptions, stats: Option<&Standardization>) -> Result<Data, DataError> {
        if let Some(names) = &options.classes {
            let keep = names.iter().map(|n| class_label(self.spec(), n)).collect::<Result<Vec<u8>, _>>()?;
            self.train = self.train.filter_labels(&keep);
            self.test = self.test.filter_labels(&keep);
            for (split, data) in [("training", &self.train), ("test", &self.test)] {
                if data.is_empty() {
                    return Err(DataError::InvalidParameter {
                        what: "classes",
                        expected: format!("classes with examples in the {split} split"),
                        found: names.join(","),
                    });
                }
            }
        }
        let fitted = match stats {
            Some(s) => Some(s.clone()),
            None => self.train.fit_standardization(),
        };
        if let Some(stats) = fitted {
            self.train.standardize(&stats)?;
            self.test.standardize(&stats)?;
        }
        Ok(self)
    }
}

/// The label of the class named `name`: by class name when the data names its classes, else
/// the label number itself.
fn class_label(spec: &DataSpec, name: &str) -> Result<u8, DataError> {
    let found = match &spec.class_names {
        Some(names) => names.iter().position(|n| n == name),
        None => name.parse::<u8>().ok().map(usize::from),
    };
    found.and_then(|i| u8::try_from(i).ok()).ok_or_else(|| DataError::InvalidParameter {
        what: "class",
        expected: match &spec.class_names {
            Some(names) => format!("one of the data's classes: {}", names.join(", ")),
            None => "a label number (the data names no classes)".into(),
        },
        found: name.to_string(),
    })
}

/// Reads a located source into its two splits (not yet [prepared](Data::prepare)).
///
/// # Errors
/// Any [`DataError`] of reading or verifying the source; [`DataError::InvalidParameter`] for
/// image options ([`LoadOptions::image_size`], [`LoadOptions::channels`]) with a source that
/// is not an image folder.
pub fn load(source: Source, options: &LoadOptions) -> Result<Data, DataError> {
    check_options(&source, options)?;
    if source == Source::Shapes {
        return Ok(crate::shapes::load());
    }
    let path = source.path().map(Path::to_path_buf);
    let path = match (source.format(), path) {
        (Format::Idx, _) | (_, None) => return mnist::load_from(source),
        (_, Some(path)) => path,
    };
    match source.format() {
        Format::Csv => {
            let table = crate::csv::read_csv(&path, &csv_options(options))?;
            let mut data = Data::from_parts(table.dataset, None, source, options)?;
            data.dropped_rows = table.dropped;
            Ok(data)
        }
        Format::Npy => Data::from_parts(crate::arrays::read_npy(&path)?, None, source, options),
        Format::Npz => {
            let (train, test) = crate::arrays::read_npz(&path, &array_options(options))?;
            Data::from_parts(train, test, source, options)
        }
        Format::Idx => mnist::load_from(source),
        Format::Images => crate::images::load(source, options),
    }
}

/// Every example of a located source as one data set, unsplit, with the count of incomplete
/// rows dropped ([`LoadOptions::drop_incomplete`]): a source without a test split of its own (a
/// table, an array, an image folder without `train/` and `test/`) in its own order, row `i` of
/// the file being example `i`; a source with its own test split (MNIST, a Keras `.npz`, a split
/// folder) as its training examples followed by its test examples. Classes are not filtered
/// and values not standardised. This is how new data is read to be scored by a trained model.
///
/// # Errors
/// As [`load`].
pub fn load_all(source: Source, options: &LoadOptions) -> Result<(Dataset, usize), DataError> {
    check_options(&source, options)?;
    let join = |train: Dataset, test: Option<Dataset>| match test {
        Some(test) => train.concat(&test),
        None => Ok(train),
    };
    match (source.format(), source.path()) {
        (Format::Csv, Some(path)) => {
            let table = crate::csv::read_csv(path, &csv_options(options))?;
            Ok((table.dataset, table.dropped))
        }
        (Format::Npy, Some(path)) => Ok((crate::arrays::read_npy(path)?, 0)),
        (Format::Npz, Some(path)) => {
            let (train, test) = crate::arrays::read_npz(path, &array_options(options))?;
            Ok((join(train, test)?, 0))
        }
        (Format::Images, Some(path)) => {
            let (train, test) = crate::images::read_folder(path, &crate::images::ImageOptions::from_load(options))?;
            Ok((join(train, test)?, 0))
        }
        _ => {
            let data = load(source, options)?;
            Ok((join(data.train, Some(data.test))?, data.dropped_rows))
        }
    }
}

fn csv_options(options: &LoadOptions) -> crate::csv::CsvOptions {
    crate::csv::CsvOptions {
        label_column: options.label_column.clone(),
        columns: options.columns.clone(),
        drop_incomplete: options.drop_incomplete,
    }
}

fn array_options(options: &LoadOptions) -> crate::arrays::ArrayOptions {
    crate::arrays::ArrayOptions { data_key: options.data_key.clone(), label_key: options.label_key.clone() }
}

/// Refuses options that do not apply to the source (image options without an image folder,
/// array keys without an `.npz`, table options without a CSV).
fn check_options(source: &Source, options: &LoadOptions) -> Result<(), DataError> {
    let is_folder = source.format() == Format::Images && source.path().is_some();
    if !is_folder && (options.image_size.is_some() || options.channels.is_some()) {
        return Err(DataError::InvalidParameter {
            what: "image options",
            expected: "--image-size and --channels only with an image folder (--data DIR)".into(),
            found: format!("them with {}", source.name()),
        });
    }
    // MNIST-format directories, the sample and the shapes ignore the file options.
    let path = match source.path() {
        Some(path) if source.format() != Format::Idx && *source != Source::Shapes => path,
        _ => return Ok(()),
    };
    if source.format() != Format::Npz && (options.data_key.is_some() || options.label_key.is_some()) {
        return Err(DataError::InvalidParameter {
            what: "data key",
            expected: "an .npz archive (--data-key and --label-key name arrays in one)".into(),
            found: format!("{} ({} data)", path.display(), source.format()),
        });
    }
    if source.format() != Format::Csv
        && (options.label_column.is_some() || options.columns.is_some() || options.drop_incomplete)
    {
        return Err(DataError::InvalidParameter {
            what: "table option",
            expected: "a CSV table (--label-column, --columns and --drop-incomplete choose its columns and rows)"
                .into(),
            found: format!("{} ({} data)", path.display(), source.format()),
        });
    }
    Ok(())
}

/// [`load`], then [`Data::prepare`] with the training split's statistics.
///
/// # Errors
/// As [`load`] and [`Data::prepare`].
pub fn load_prepared(source: Source, options: &LoadOptions) -> Result<Data, DataError> {
    load(source, options)?.prepare(options, None)
}
