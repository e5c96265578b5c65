//! Examples from NumPy arrays: a `.npy` file of samples, or an `.npz` archive of samples and
//! labels (and, in Keras's layout, a test split), read into [`Dataset`]s.
//!
//! The bytes are read by [`crate::npy`], which checks every header against the file's size
//! before allocating. This module decides what the arrays mean:
//!
//! - **Shape.** The first axis counts examples. `[N, D]` is a table of `D` features;
//!   `[N, H, W]` grey images; `[N, C, H, W]` images channel-first (PyTorch's layout), unless the
//!   last axis is 1 or 3 and the second is not, as in Keras's `[N, H, W, C]` (channel-last),
//!   which is then transposed to channel-first. Other ranks, and an empty first axis, are
//!   refused.
//! - **Values.** `uint8` arrays are pixels ([`ValueKind::Pixels`](crate::ValueKind::Pixels),
//!   presented to models in [0, 1]); `float32`, `float64` and `int64` arrays are real values
//!   ([`ValueKind::Real`](crate::ValueKind::Real)), standardised later with the training
//!   split's statistics. A non-finite value is an error naming the example and position. Other
//!   element types (`int32`, `float16`, `bool`, ...) are refused with the type found: convert
//!   them with `astype` first.
//! - **Labels.** A `uint8` or `int64` array of `N` labels (`[N]` or `[N, 1]`); the classes are
//!   the distinct values in numerical order, at most [`MAX_CLASSES`], named by their value.
//!   Without labels every example has label 0 and the data names no classes.
//! - **Keys of an `.npz`** ([`ArrayOptions`]): the samples are the array named by
//!   [`ArrayOptions::data_key`] if given; else Keras's `x_train` (with `y_train`, and `x_test`
//!   / `y_test` as the test split when present, as in `mnist.npz`); else Pythae's `data` (with
//!   `labels` if present); else the archive's only array. A missing key is an error listing the
//!   keys the archive holds.
//! - **Memory bounded before reading**: an array whose header describes more than
//!   [`MAX_ARRAY_BYTES`] is refused from its header alone.
//!
//! ```
//! use latent_data::arrays::{ArrayOptions, read_npz};
//! use latent_data::npy::NpzWriter;
//! use ndarray::{Array, Array1};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("mnist.npz");
//! let mut npz = NpzWriter::create(&path)?;
//! npz.add("x_train", &Array::from_shape_fn((6, 4, 4), |(n, y, x)| (n * 16 + y * 4 + x) as u8))?;
//! npz.add("y_train", &Array1::from(vec![3u8, 1, 3, 1, 1, 3]))?;
//! npz.add("x_test", &Array::from_shape_fn((2, 4, 4), |(n, _, _)| n as u8))?;
//! npz.add("y_test", &Array1::from(vec![1u8, 3]))?;
//! npz.finish()?;
//!
//! let (train, test) = read_npz(&path, &ArrayOptions::default())?;
//! let test = test.expect("Keras's layout has a test split");
//! assert_eq!((train.len(), test.len()), (6, 2));
//! assert_eq!(train.shape().to_string(), "1×4×4 images");
//! assert_eq!(train.spec().class_names.as_deref(), Some(&["1".to_string(), "3".to_string()][..]));
//! assert_eq!(test.labels(), [0, 1]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;

use ndarray::{ArrayD, IxDyn};

use crate::dataset::Dataset;
use crate::error::DataError;
use crate::npy::{self, NpyElement, NpyInfo, NpzReader};
use crate::spec::{MAX_CLASSES, SampleShape};

/// The most data bytes an array of samples may describe (2 GiB), checked from its header before
/// anything is read.
pub const MAX_ARRAY_BYTES: u64 = 2 << 30;

/// Which arrays of an `.npz` archive hold the samples and the labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArrayOptions {
    /// The array of samples; `None` to look for `x_train`, then `data`, then the only array.
    pub data_key: Option<String>,
    /// The array of labels; `None` for `y_train` with `x_train`, `labels` with `data`, or none.
    pub label_key: Option<String>,
}

/// Where one array is: a `.npy` file, or an array of an open `.npz` archive.
enum Location<'a> {
    Npy(&'a Path),
    Npz(&'a mut NpzReader, &'a str),
}

impl Location<'_> {
    fn path(&self) -> &Path {
        match self {
            Location::Npy(p) => p,
            Location::Npz(r, _) => r.path(),
        }
    }

    fn key(&self) -> Option<String> {
        match self {
            Location::Npy(_) => None,
            Location::Npz(_, k) => Some(k.to_string()),
        }
    }

    fn info(&mut self) -> Result<NpyInfo, DataError> {
        match self {
            Location::Npy(p) => npy::read_npy_info(p),
            Location::Npz(r, k) => r.info(k),
        }
    }

    fn read<A: NpyElement>(&mut self) -> Result<ArrayD<A>, DataError> {
        match self {
            Location::Npy(p) => npy::read_npy(p),
            Location::Npz(r, k) => r.read(k),
        }
    }

    fn error(&self, expected: impl Into<String>, found: impl Into<String>) -> DataError {
        DataError::Array {
            path: self.path().to_path_buf(),
            key: self.key(),
            expected: expected.into(),
            found: found.into(),
        }
    }
}

/// The element types read, by what they become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    U8,
    F32,
    F64,
    I64,
}

impl Element {
    fn of(info: &NpyInfo) -> Option<Element> {
        [
            (info.is::<u8>(), Element::U8),
            (info.is::<f32>(), Element::F32),
            (info.is::<f64>(), Element::F64),
            (info.is::<i64>(), Element::I64),
        ]
        .into_iter()
        .find_map(|(is, e)| is.then_some(e))
    }

    fn size(self) -> u64 {
        match self {
            Element::U8 => 1,
            Element::F32 => 4,
            Element::F64 | Element::I64 => 8,
        }
    }
}

/// Reads a `.npy` file of samples (no labels): see the [module documentation](self).
///
/// # Errors
/// [`DataError::Io`] and [`DataError::Npy`] for an unreadable or malformed file;
/// [`DataError::Array`] naming the file for a shape, element type or value that does not make
/// examples, or an array over [`MAX_ARRAY_BYTES`].
pub fn read_npy(path: impl AsRef<Path>) -> Result<Dataset, DataError> {
    samples(&mut Location::Npy(path.as_ref()), None)
}

/// Reads the samples, and labels if any, of an `.npz` archive: the training split, and the test
/// split when the archive has Keras's `x_test`. See the [module documentation](self).
///
/// # Errors
/// As [`read_npy`]; [`DataError::NpzMissingKey`] listing the archive's keys when a named array
/// is missing, [`DataError::Array`] when no array can be chosen or the labels do not fit the
/// samples; [`DataError::Npz`] for an archive that is not a zip file.
pub fn read_npz(path: impl AsRef<Path>, options: &ArrayOptions) -> Result<(Dataset, Option<Dataset>), DataError> {
    let path = path.as_ref();
    let mut archive = NpzReader::open(path)?;
    let names = archive.names();
    let has = |k: &str| names.iter().any(|n| n == k);
    let (data_key, label_key, test) = match &options.data_key {
        Some(k) => (k.clone(), options.label_key.clone(), None),
        None if has("x_train") => {
            let labels = options.label_key.clone().or_else(|| has("y_train").then(|| "y_train".to_string()));
            let test_labels = labels.as_ref().map(|_| "y_test".to_string());
            ("x_train".to_string(), labels, has("x_test").then(|| ("x_test".to_string(), test_labels)))
        }
        None if has("data") => {
            let labels = options.label_key.clone().or_else(|| has("labels").then(|| "labels".to_string()));
            ("data".to_string(), labels, None)
        }
        None if names.len() == 1 => (names[0].clone(), options.label_key.clone(), None),
        None => {
            return Err(DataError::Array {
                path: path.to_path_buf(),
                key: None,
                expected: "an array named 'x_train' (Keras) or 'data' (Pythae), or the one named by --data-key".into(),
                found: if names.is_empty() {
                    "an empty archive".into()
                } else {
                    format!("the arrays {}", names.join(", "))
                },
            });
        }
    };
    let train_labels = label_key.as_deref().map(|k| labels(&mut Location::Npz(&mut archive, k))).transpose()?;
    let test_labels = match &test {
        Some((_, Some(k))) => Some(labels(&mut Location::Npz(&mut archive, k))?),
        _ => None,
    };
    let classes = class_values(path, train_labels.iter().chain(&test_labels))?;
    let train = samples(&mut Location::Npz(&mut archive, &data_key), train_labels.map(|l| (l, &classes[..])))?;
    let test = match &test {
        Some((key, _)) => {
            let test = samples(&mut Location::Npz(&mut archive, key), test_labels.map(|l| (l, &classes[..])))?;
            if test.shape() != train.shape() || test.spec().values != train.spec().values {
                return Err(DataError::Array {
                    path: path.to_path_buf(),
                    key: Some(key.clone()),
                    expected: format!("test examples like the training ones ({})", train.shape()),
                    found: test.shape().to_string(),
                });
            }
            Some(test)
        }
        None => None,
    };
    Ok((train, test))
}

/// A labels array's values, with its header.
type Labels = (Vec<i64>, NpyInfo);

/// A labels array as `i64`s, checked to be one label per example.
fn labels(at: &mut Location<'_>) -> Result<Labels, DataError> {
    let info = at.info()?;
    if !matches!(info.shape[..], [_] | [_, 1]) {
        return Err(at.error("labels of shape [N] or [N, 1]", format!("shape {:?}", info.shape)));
    }
    check_size(at, &info)?;
    let values = match Element::of(&info) {
        Some(Element::U8) => at.read::<u8>()?.iter().map(|&v| i64::from(v)).collect(),
        Some(Element::I64) => at.read::<i64>()?.into_raw_vec_and_offset().0,
        _ => {
            return Err(at.error(
                "integer labels of element type uint8 or int64 (convert others with astype)",
                format!("element type {}", info.descr),
            ));
        }
    };
    Ok((values, info))
}

/// The distinct label values of all the label arrays, in numerical order.
fn class_values<'a>(path: &Path, arrays: impl Iterator<Item = &'a (Vec<i64>, NpyInfo)>) -> Result<Vec<i64>, DataError> {
    let mut values: Vec<i64> = arrays.flat_map(|(v, _)| v.iter().copied()).collect();
    values.sort_unstable();
    values.dedup();
    if values.len() > MAX_CLASSES {
        return Err(DataError::Array {
            path: path.to_path_buf(),
            key: None,
            expected: format!("at most {MAX_CLASSES} distinct labels"),
            found: values.len().to_string(),
        });
    }
    Ok(values)
}

/// Checks an array's data size, from its header, against [`MAX_ARRAY_BYTES`].
fn check_size(at: &Location<'_>, info: &NpyInfo) -> Result<(), DataError> {
    let bytes = info
        .shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .and_then(|n| n.checked_mul(Element::of(info).map_or(1, Element::size)));
    match bytes {
        Some(b) if b <= MAX_ARRAY_BYTES => Ok(()),
        _ => Err(at.error(
            format!("an array of at most {MAX_ARRAY_BYTES} bytes"),
            format!(
                "shape {:?} of {}, {} bytes",
                info.shape,
                info.descr,
                bytes.map_or_else(|| "over 2^64".to_string(), |b| b.to_string())
            ),
        )),
    }
}

/// Reads an array of samples, with its labels and the classes they index, into a data set.
fn samples(at: &mut Location<'_>, labels: Option<(Labels, &[i64])>) -> Result<Dataset, DataError> {
    let info = at.info()?;
    let Some(element) = Element::of(&info) else {
        return Err(at.error(
            "samples of element type uint8 (pixels), float32, float64 or int64 (real values)",
            format!("element type {} (convert it with astype)", info.descr),
        ));
    };
    let (shape, channel_last) = sample_shape(at, &info.shape)?;
    check_size(at, &info)?;
    let n = info.shape[0];
    let labels = match labels {
        Some(((values, label_info), classes)) => {
            if values.len() != n {
                return Err(at.error(
                    format!("as many labels as the {n} examples"),
                    format!("{} labels (shape {:?})", values.len(), label_info.shape),
                ));
            }
            let names = classes.iter().map(i64::to_string).collect::<Vec<_>>();
            let labels = values.iter().map(|v| classes.binary_search(v).map_or(0, |i| i as u8)).collect::<Vec<u8>>();
            Some((labels, names))
        }
        None => None,
    };
    let (labels, names) = match labels {
        Some((l, names)) => (l, Some(names)),
        None => (vec![0u8; n], None),
    };
    let dataset = if element == Element::U8 {
        let pixels = layout(at.read::<u8>()?, channel_last);
        Dataset::from_pixels(pixels, labels, shape)?
    } else {
        let values: Vec<f32> = match element {
            Element::F32 => layout(at.read::<f32>()?, channel_last),
            Element::F64 => layout(at.read::<f64>()?.mapv(|v| v as f32), channel_last),
            _ => layout(at.read::<i64>()?.mapv(|v| v as f32), channel_last),
        };
        let per = shape.len().max(1);
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(at.error(
                "finite values",
                format!("{} at example {}, value {} (or out of float32's range)", values[i], i / per, i % per),
            ));
        }
        Dataset::from_reals(values, labels, shape)?
    };
    match names {
        Some(names) => dataset.with_class_names(names),
        None => Ok(dataset),
    }
}

/// What an array's shape makes of its examples, and whether it is channel-last.
fn sample_shape(at: &Location<'_>, dims: &[usize]) -> Result<(SampleShape, bool), DataError> {
    let (shape, channel_last) = match *dims {
        [_, d] => (SampleShape::Features { features: d }, false),
        [_, h, w] => (SampleShape::image(1, h, w), false),
        [_, a, h, c] if matches!(c, 1 | 3) && !matches!(a, 1 | 3) => (SampleShape::image(c, a, h), true),
        [_, c, h, w] => (SampleShape::image(c, h, w), false),
        _ => {
            return Err(at.error(
                "examples along the first axis: [N, D] features, [N, H, W] or [N, C, H, W] / [N, H, W, C] images",
                format!("shape {dims:?}"),
            ));
        }
    };
    if dims[0] == 0 || shape.validate().is_err() {
        return Err(at.error("at least one example of at least one value", format!("shape {dims:?}")));
    }
    Ok((shape, channel_last))
}

/// The array's values in channel-first order.
fn layout<A: Clone>(array: ArrayD<A>, channel_last: bool) -> Vec<A> {
    if channel_last {
        let permuted = array.permuted_axes(IxDyn(&[0, 3, 1, 2]));
        permuted.as_standard_layout().into_owned().into_raw_vec_and_offset().0
    } else {
        array.into_raw_vec_and_offset().0
    }
}
