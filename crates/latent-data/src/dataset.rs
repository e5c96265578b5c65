//! An in-memory data set: examples of one [`SampleShape`], stored as bytes (pixels) or as
//! standardised `f32` values (real data), with a `u8` label each, turned into `f32` batches on
//! demand.
//!
//! Pixels stay as bytes (the 60,000 MNIST training images are 47 MB, not 188 MB as `f32`);
//! [`Dataset::gather`] and the batch iterator ([`crate::batch`]) produce `f32` arrays, flat
//! `[B, C·H·W]` (or `[B, D]` for table rows), pixels scaled to [0, 1] or [-1, 1] ([`Scale`]).
//! Real values are stored already standardised ([`Dataset::standardize`]); the [`DataSpec`] a
//! data set carries records the statistics, its shape, and its class names.

use ndarray::{Array2, Array4};

use crate::error::DataError;
use crate::spec::{DataSpec, MAX_CLASSES, SampleShape, Standardization, ValueKind};

/// The range `f32` pixels are mapped to: byte 0 to the minimum, byte 255 to the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    /// `v / 255`, in [0, 1].
    #[default]
    ZeroOne,
    /// `2 v / 255 - 1`, in [-1, 1].
    MinusOneOne,
}

impl Scale {
    /// The value of a black (0) pixel.
    pub fn min(self) -> f32 {
        match self {
            Scale::ZeroOne => 0.0,
            Scale::MinusOneOne => -1.0,
        }
    }

    /// The value of a white (255) pixel.
    pub fn max(self) -> f32 {
        1.0
    }

    /// `max - min`: 1 or 2.
    pub fn width(self) -> f32 {
        self.max() - self.min()
    }

    /// The value of a byte pixel on this scale.
    pub fn apply(self, v: u8) -> f32 {
        self.min() + self.width() * (f32::from(v) / 255.0)
    }

    /// The value of each of the 256 byte pixels, for fast conversion.
    pub fn table(self) -> [f32; 256] {
        std::array::from_fn(|v| self.apply(v as u8))
    }
}

/// How a data set stores its values.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// Pixels, one byte each.
    Bytes(Vec<u8>),
    /// Real values, standardised when the spec has statistics.
    Reals(Vec<f32>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Bytes(v) => v.len(),
            Values::Reals(v) => v.len(),
        }
    }
}

/// Examples of one shape with one `u8` label each, and the [`DataSpec`] that describes them.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    values: Values,
    labels: Vec<u8>,
    spec: DataSpec,
}

impl Dataset {
    /// Builds a data set of grey `rows x cols` images from row-major pixels
    /// (`labels.len()` images) and labels; the spec has no class names.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if `rows` or `cols` is zero or the pixel count is not
    /// `labels.len() * rows * cols`.
    pub fn new(images: Vec<u8>, labels: Vec<u8>, rows: usize, cols: usize) -> Result<Self, DataError> {
        if rows == 0 || cols == 0 {
            return Err(DataError::InvalidParameter {
                what: "image size",
                expected: "at least 1 x 1".into(),
                found: format!("{rows} x {cols}"),
            });
        }
        Self::from_pixels(images, labels, SampleShape::image(1, rows, cols))
    }

    /// Builds a data set of byte pixels, `labels.len()` examples of `shape` (channel-major for
    /// images), presented to models on a [`Scale`].
    ///
    /// ```
    /// use latent_data::{Dataset, SampleShape, Scale};
    /// let rgb = Dataset::from_pixels(vec![0, 255, 0, 255, 255, 0], vec![1], SampleShape::image(3, 1, 2))?;
    /// assert_eq!(rgb.gather(&[0], Scale::ZeroOne)?.row(0).to_vec(), [0.0, 1.0, 0.0, 1.0, 1.0, 0.0]);
    /// # Ok::<(), latent_data::DataError>(())
    /// ```
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if the shape is empty or the value count is not
    /// `labels.len()` times the shape's size.
    pub fn from_pixels(pixels: Vec<u8>, labels: Vec<u8>, shape: SampleShape) -> Result<Self, DataError> {
        Self::build(Values::Bytes(pixels), labels, DataSpec::new(shape, ValueKind::Pixels))
    }

    /// Builds a data set of real values, `labels.len()` examples of `shape`, stored as given
    /// (call [`standardize`](Self::standardize) to standardise them).
    ///
    /// ```
    /// use latent_data::{Dataset, SampleShape, ValueKind};
    /// let rows = Dataset::from_reals(vec![1.5, -2.0, 0.0, 8.0], vec![0, 1], SampleShape::Features { features: 2 })?;
    /// assert_eq!((rows.len(), rows.spec().values), (2, ValueKind::Real));
    /// assert!(Dataset::from_reals(vec![f32::NAN, 0.0], vec![0], SampleShape::Features { features: 2 }).is_err());
    /// # Ok::<(), latent_data::DataError>(())
    /// ```
    ///
    /// # Errors
    /// As [`from_pixels`](Self::from_pixels), and [`DataError::InvalidParameter`] naming the
    /// first example and feature whose value is not finite.
    pub fn from_reals(values: Vec<f32>, labels: Vec<u8>, shape: SampleShape) -> Result<Self, DataError> {
        let per = shape.checked_len().unwrap_or(0).max(1);
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(DataError::InvalidParameter {
                what: "value",
                expected: "finite numbers".into(),
                found: format!("{} at example {}, feature {}", values[i], i / per, i % per),
            });
        }
        Self::build(Values::Reals(values), labels, DataSpec::new(shape, ValueKind::Real))
    }

    fn build(values: Values, labels: Vec<u8>, spec: DataSpec) -> Result<Self, DataError> {
        spec.shape.validate()?;
        let per = spec.shape.len();
        if labels.len().checked_mul(per) != Some(values.len()) {
            return Err(DataError::InvalidParameter {
                what: "value count",
                expected: format!("{} examples x {per} values ({})", labels.len(), spec.shape),
                found: values.len().to_string(),
            });
        }
        Ok(Dataset { values, labels, spec })
    }

    /// The same data with class names (label `i` is class `names[i]`).
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if there are more than [`MAX_CLASSES`] names or a label
    /// has no name.
    pub fn with_class_names(mut self, names: Vec<String>) -> Result<Self, DataError> {
        if names.is_empty() || names.len() > MAX_CLASSES {
            return Err(DataError::InvalidParameter {
                what: "number of classes",
                expected: format!("between 1 and {MAX_CLASSES}"),
                found: names.len().to_string(),
            });
        }
        if let Some(&bad) = self.labels.iter().find(|&&l| usize::from(l) >= names.len()) {
            return Err(DataError::InvalidParameter {
                what: "label",
                expected: format!("below the number of classes ({})", names.len()),
                found: bad.to_string(),
            });
        }
        self.spec.class_names = Some(names);
        Ok(self)
    }

    /// The same data with the names of its features (table columns), one per value.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if the count differs from the example size.
    pub fn with_feature_names(mut self, names: Vec<String>) -> Result<Self, DataError> {
        if names.len() != self.sample_len() {
            return Err(DataError::InvalidParameter {
                what: "feature names",
                expected: format!("one per feature ({})", self.sample_len()),
                found: names.len().to_string(),
            });
        }
        self.spec.feature_names = Some(names);
        Ok(self)
    }

    /// The statistics of this data set's real values, for [`standardize`](Self::standardize);
    /// `None` for pixels.
    pub fn fit_standardization(&self) -> Option<Standardization> {
        match &self.values {
            Values::Reals(v) => Some(Standardization::fit(v, self.sample_len())),
            Values::Bytes(_) => None,
        }
    }

    /// Standardises real values in place with `stats` (fitted on the training split) and
    /// records them in the spec. Pixel data is left alone.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if the data is already standardised or the statistics
    /// do not fit it.
    pub fn standardize(&mut self, stats: &Standardization) -> Result<(), DataError> {
        let Values::Reals(values) = &mut self.values else {
            return Ok(());
        };
        if self.spec.standardization.is_some() {
            return Err(DataError::InvalidParameter {
                what: "standardisation",
                expected: "raw values".into(),
                found: "values already standardised".into(),
            });
        }
        stats.validate(self.spec.shape.len())?;
        stats.apply(values);
        self.spec.standardization = Some(stats.clone());
        Ok(())
    }

    /// A SHA-256 (lowercase hex) of everything that defines this data set: its spec (shape,
    /// value kind, class names, statistics), its labels and its values. Equal data give equal
    /// digests wherever they were read from; caches (a judge classifier per data set) are
    /// keyed by it.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(serde_json::to_vec(&self.spec).unwrap_or_default());
        h.update((self.labels.len() as u64).to_le_bytes());
        h.update(&self.labels);
        match &self.values {
            Values::Bytes(v) => h.update(v),
            Values::Reals(v) => v.iter().for_each(|x| h.update(x.to_le_bytes())),
        }
        crate::idx::hex(&h.finalize())
    }

    /// The description of this data: shape, value kind, classes, statistics.
    pub fn spec(&self) -> &DataSpec {
        &self.spec
    }

    /// The shape of one example.
    pub fn shape(&self) -> SampleShape {
        self.spec.shape
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image channels (1 for table rows).
    pub fn channels(&self) -> usize {
        self.spec.shape.dims()[0]
    }

    /// Image height (1 for table rows).
    pub fn rows(&self) -> usize {
        self.spec.shape.dims()[1]
    }

    /// Image width (the number of features for table rows).
    pub fn cols(&self) -> usize {
        self.spec.shape.dims()[2]
    }

    /// Values per example: `C·H·W` (784 for MNIST), or the number of features.
    pub fn sample_len(&self) -> usize {
        self.spec.shape.len()
    }

    /// The pixels of every example, one after the other; `None` for real-valued data.
    pub fn pixel_bytes(&self) -> Option<&[u8]> {
        match &self.values {
            Values::Bytes(v) => Some(v),
            Values::Reals(_) => None,
        }
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The pixels of image `i`, or `None` past the end or for real-valued data.
    pub fn image(&self, i: usize) -> Option<&[u8]> {
        let p = self.sample_len();
        self.pixel_bytes()?.get(i.checked_mul(p)?..i.checked_add(1)?.checked_mul(p)?)
    }

    /// The first `n` examples (all of them if there are fewer), as a new data set.
    pub fn take(&self, n: usize) -> Dataset {
        let indices: Vec<usize> = (0..n.min(self.len())).collect();
        self.subset_unchecked(&indices)
    }

    /// The examples at `indices`, in that order, as a new dataset.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if an index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset, DataError> {
        self.check_indices(indices)?;
        Ok(self.subset_unchecked(indices))
    }

    fn check_indices(&self, indices: &[usize]) -> Result<(), DataError> {
        match indices.iter().find(|&&i| i >= self.len()) {
            Some(&bad) => Err(DataError::InvalidParameter {
                what: "example index",
                expected: format!("below {}", self.len()),
                found: bad.to_string(),
            }),
            None => Ok(()),
        }
    }

    fn subset_unchecked(&self, indices: &[usize]) -> Dataset {
        fn pick<T: Copy>(all: &[T], p: usize, indices: &[usize]) -> Vec<T> {
            let mut out = Vec::with_capacity(indices.len() * p);
            for &i in indices {
                out.extend_from_slice(&all[i * p..(i + 1) * p]);
            }
            out
        }
        let p = self.sample_len();
        let values = match &self.values {
            Values::Bytes(v) => Values::Bytes(pick(v, p, indices)),
            Values::Reals(v) => Values::Reals(pick(v, p, indices)),
        };
        let labels = indices.iter().map(|&i| self.labels[i]).collect();
        Dataset { values, labels, spec: self.spec.clone() }
    }

    /// The examples of `self` followed by those of `other`, with `self`'s spec.
    ///
    /// ```
    /// use latent_data::Dataset;
    /// let a = Dataset::new(vec![1, 2], vec![0, 1], 1, 1)?;
    /// let b = Dataset::new(vec![3], vec![1], 1, 1)?;
    /// let both = a.concat(&b)?;
    /// assert_eq!((both.len(), both.labels()), (3, &[0, 1, 1][..]));
    /// # Ok::<(), latent_data::DataError>(())
    /// ```
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if the two differ in shape, kind of values or class
    /// names.
    pub fn concat(&self, other: &Dataset) -> Result<Dataset, DataError> {
        let (a, b) = (&self.spec, &other.spec);
        if a.shape != b.shape || a.values != b.values || a.class_names != b.class_names {
            return Err(DataError::InvalidParameter {
                what: "data sets to join",
                expected: format!("{} of {} values, as the first", a.shape, a.values.as_str()),
                found: format!("{} of {} values (or other class names)", b.shape, b.values.as_str()),
            });
        }
        let values = match (&self.values, &other.values) {
            (Values::Bytes(x), Values::Bytes(y)) => Values::Bytes([x.as_slice(), y.as_slice()].concat()),
            (Values::Reals(x), Values::Reals(y)) => Values::Reals([x.as_slice(), y.as_slice()].concat()),
            _ => unreachable!("the value kinds were compared"),
        };
        let labels = [self.labels.as_slice(), other.labels.as_slice()].concat();
        Ok(Dataset { values, labels, spec: self.spec.clone() })
    }

    /// The examples whose label is in `keep`, in order (how a one-class training set for
    /// anomaly detection is made).
    pub fn filter_labels(&self, keep: &[u8]) -> Dataset {
        let indices: Vec<usize> = (0..self.len()).filter(|&i| keep.contains(&self.labels[i])).collect();
        self.subset_unchecked(&indices)
    }

    /// A seeded split into `(kept, held_out)`: `held_out` has `round(fraction · len)` examples
    /// chosen by a permutation drawn from `seed` (ChaCha8), both parts keep the original order.
    /// The same seed and dataset always give the same split.
    ///
    /// ```
    /// use latent_data::Dataset;
    /// let d = Dataset::new((0..10).collect(), vec![0; 10], 1, 1).unwrap();
    /// let (train, val) = d.split(0.2, 7).unwrap();
    /// assert_eq!((train.len(), val.len()), (8, 2));
    /// ```
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] unless `fraction` is in `[0, 1)` and both parts are
    /// non-empty.
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Dataset, Dataset), DataError> {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        let held = (fraction * self.len() as f64).round() as usize;
        if !(0.0..1.0).contains(&fraction) || held == 0 || held >= self.len() {
            return Err(DataError::InvalidParameter {
                what: "held-out fraction",
                expected: format!("a fraction in (0, 1) leaving both parts non-empty (of {} examples)", self.len()),
                found: fraction.to_string(),
            });
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        let mut out: Vec<usize> = order[..held].to_vec();
        let mut kept: Vec<usize> = order[held..].to_vec();
        out.sort_unstable();
        kept.sort_unstable();
        Ok((self.subset_unchecked(&kept), self.subset_unchecked(&out)))
    }

    /// The examples at `indices`, in that order, as `f32` rows of a `[indices.len(),
    /// sample_len]` array: pixels on `scale`, real values as stored.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if an index is out of range.
    pub fn gather(&self, indices: &[usize], scale: Scale) -> Result<Array2<f32>, DataError> {
        self.check_indices(indices)?;
        Ok(self.gather_unchecked(indices, scale))
    }

    /// [`gather`](Self::gather) for indices known to be in range.
    pub(crate) fn gather_unchecked(&self, indices: &[usize], scale: Scale) -> Array2<f32> {
        let p = self.sample_len();
        let mut out = Vec::with_capacity(indices.len() * p);
        match &self.values {
            Values::Bytes(v) => {
                let table = scale.table();
                for &i in indices {
                    out.extend(v[i * p..(i + 1) * p].iter().map(|&b| table[usize::from(b)]));
                }
            }
            Values::Reals(v) => {
                for &i in indices {
                    out.extend_from_slice(&v[i * p..(i + 1) * p]);
                }
            }
        }
        Array2::from_shape_vec((indices.len(), p), out).expect("one row of `p` per index")
    }

    /// Every example as `f32`, flat: `[N, sample_len]`.
    pub fn to_flat(&self, scale: Scale) -> Array2<f32> {
        let data: Vec<f32> = match &self.values {
            Values::Bytes(v) => {
                let table = scale.table();
                v.iter().map(|&b| table[usize::from(b)]).collect()
            }
            Values::Reals(v) => v.clone(),
        };
        Array2::from_shape_vec((self.len(), self.sample_len()), data).expect("the constructor checked the value count")
    }

    /// Every example as `f32` images: `[N, C, H, W]` (`[N, 1, 1, D]` for table rows).
    pub fn to_nchw(&self, scale: Scale) -> Array4<f32> {
        let [c, h, w] = self.spec.shape.dims();
        let n = self.len();
        self.to_flat(scale).into_shape_with_order((n, c, h, w)).expect("the constructor checked the value count")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        // Three 1x2 images.
        Dataset::new(vec![0, 255, 51, 102, 204, 153], vec![7, 8, 9], 1, 2).unwrap()
    }

    #[test]
    fn new_rejects_inconsistent_sizes() {
        assert!(matches!(
            Dataset::new(vec![0; 5], vec![0; 3], 1, 2),
            Err(DataError::InvalidParameter { what: "value count", .. })
        ));
        assert!(matches!(
            Dataset::new(vec![], vec![], 0, 2),
            Err(DataError::InvalidParameter { what: "image size", .. })
        ));
    }

    #[test]
    fn scales_map_the_byte_range() {
        assert_eq!(Scale::ZeroOne.apply(0), 0.0);
        assert_eq!(Scale::ZeroOne.apply(255), 1.0);
        assert_eq!(Scale::MinusOneOne.apply(0), -1.0);
        assert_eq!(Scale::MinusOneOne.apply(255), 1.0);
        assert!((Scale::ZeroOne.apply(51) - 0.2).abs() < 1e-6);
    }

    #[test]
    fn gather_picks_rows_in_order_and_checks_indices() {
        let d = tiny();
        let g = d.gather(&[2, 0], Scale::ZeroOne).unwrap();
        assert_eq!(g.shape(), &[2, 2]);
        assert!((g[[0, 0]] - 0.8).abs() < 1e-6 && (g[[0, 1]] - 0.6).abs() < 1e-6);
        assert_eq!((g[[1, 0]], g[[1, 1]]), (0.0, 1.0));
        assert!(matches!(
            d.gather(&[3], Scale::ZeroOne),
            Err(DataError::InvalidParameter { what: "example index", .. })
        ));
    }

    #[test]
    fn accessors_and_whole_set_conversions_agree() {
        let d = tiny();
        assert_eq!((d.len(), d.rows(), d.cols(), d.sample_len()), (3, 1, 2, 2));
        assert_eq!(d.image(1), Some(&[51u8, 102][..]));
        assert_eq!(d.image(3), None);
        let flat = d.to_flat(Scale::MinusOneOne);
        let nchw = d.to_nchw(Scale::MinusOneOne);
        assert_eq!(nchw.shape(), &[3, 1, 1, 2]);
        assert_eq!(flat.iter().collect::<Vec<_>>(), nchw.iter().collect::<Vec<_>>());
        let t = d.take(2);
        assert_eq!((t.len(), t.labels()), (2, &[7u8, 8][..]));
        assert_eq!(d.take(10).len(), 3);
    }
}
