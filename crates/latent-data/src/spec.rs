//! The description of a data set that travels with a run: the shape of one example, the kind of
//! its values (and the statistics fitted to map them back to the user's units), and the names of
//! its classes.
//!
//! Every source yields a [`DataSpec`] ([`crate::Dataset::spec`]); the trainer stores it in the run
//! directory so that `eval`, `sample`, `embed`, `reconstruct` and exports read new data the same
//! way and show results in the units the data came in.
//!
//! ```
//! use latent_data::{DataSpec, SampleShape, ValueKind};
//!
//! let image = SampleShape::image(3, 32, 32);
//! assert_eq!((image.len(), image.dims()), (3072, [3, 32, 32]));
//! let table = SampleShape::Features { features: 30 };
//! assert_eq!((table.len(), table.dims()), (30, [1, 1, 30]));
//!
//! let spec = DataSpec::new(table, ValueKind::Real).with_class_names(vec!["B".into(), "M".into()]);
//! let json = serde_json::to_string(&spec).unwrap();
//! assert_eq!(serde_json::from_str::<DataSpec>(&json).unwrap(), spec);
//! ```

use serde::{Deserialize, Serialize};

use crate::error::DataError;

/// The most classes a labelled data set may have: labels are stored as bytes.
pub const MAX_CLASSES: usize = 256;

/// The shape of one example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SampleShape {
    /// A vector of `features` values (a table row).
    Features {
        /// Values per example.
        features: usize,
    },
    /// An image of `channels × height × width` values, channel-major (`C, H, W`).
    Image {
        /// 1 for grey, 3 for RGB.
        channels: usize,
        /// Rows.
        height: usize,
        /// Columns.
        width: usize,
    },
}

impl SampleShape {
    /// An image shape.
    pub fn image(channels: usize, height: usize, width: usize) -> Self {
        SampleShape::Image { channels, height, width }
    }

    /// Values per example (saturating on absurd sizes; [`SampleShape::checked_len`] says so).
    pub fn len(&self) -> usize {
        self.checked_len().unwrap_or(usize::MAX)
    }

    /// Values per example, `None` if it overflows.
    pub fn checked_len(&self) -> Option<usize> {
        match *self {
            SampleShape::Features { features } => Some(features),
            SampleShape::Image { channels, height, width } => channels.checked_mul(height)?.checked_mul(width),
        }
    }

    /// Whether an example holds no value.
    pub fn is_empty(&self) -> bool {
        self.checked_len() == Some(0)
    }

    /// `[channels, height, width]`; `[1, 1, features]` for a table row.
    pub fn dims(&self) -> [usize; 3] {
        match *self {
            SampleShape::Features { features } => [1, 1, features],
            SampleShape::Image { channels, height, width } => [channels, height, width],
        }
    }

    /// Whether examples are images.
    pub fn is_image(&self) -> bool {
        matches!(self, SampleShape::Image { .. })
    }

    /// Checks the shape has at least one value per example and at most 2^32 of them.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] otherwise.
    pub fn validate(&self) -> Result<(), DataError> {
        match self.checked_len() {
            Some(n) if n > 0 && n <= 1 << 32 => Ok(()),
            _ => Err(DataError::InvalidParameter {
                what: "example shape",
                expected: "between 1 and 2^32 values per example".into(),
                found: self.to_string(),
            }),
        }
    }
}

impl std::fmt::Display for SampleShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            SampleShape::Features { features } => write!(f, "{features} features"),
            SampleShape::Image { channels, height, width } => write!(f, "{channels}×{height}×{width} images"),
        }
    }
}

/// What the values of a data set are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    /// Pixels stored as bytes, presented to models in [0, 1] (or [-1, 1]); a Bernoulli
    /// likelihood (binary cross-entropy) fits them.
    #[default]
    Pixels,
    /// Real numbers, standardised per feature with the training split's mean and standard
    /// deviation ([`Standardization`]); a Gaussian likelihood (squared error) fits them.
    Real,
}

impl ValueKind {
    /// `pixels` or `real`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueKind::Pixels => "pixels",
            ValueKind::Real => "real",
        }
    }
}

/// Per-feature mean and standard deviation of a training split: a model sees `(x - mean) / std`,
/// and [`Standardization::restore`] maps its outputs back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardization {
    /// The mean of each feature.
    pub mean: Vec<f32>,
    /// The standard deviation of each feature (1 where a feature is constant).
    pub std: Vec<f32>,
}

impl Standardization {
    /// Fits the statistics of `rows` examples of `features` values each (`values.len() ==
    /// rows * features`), in `f64`. A constant feature gets a standard deviation of 1, so it
    /// maps to 0 rather than to a division by zero.
    ///
    /// ```
    /// use latent_data::Standardization;
    /// let s = Standardization::fit(&[1.0, 10.0, 3.0, 10.0], 2);
    /// assert_eq!((s.mean.clone(), s.std.clone()), (vec![2.0, 10.0], vec![1.0, 1.0]));
    /// let mut x = vec![3.0, 10.0];
    /// s.apply(&mut x);
    /// assert_eq!(x, [1.0, 0.0]);
    /// s.restore(&mut x);
    /// assert_eq!(x, [3.0, 10.0]);
    /// ```
    pub fn fit(values: &[f32], features: usize) -> Self {
        let features = features.max(1);
        let rows = values.len() / features;
        let mut sum = vec![0f64; features];
        for row in values.chunks_exact(features) {
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += f64::from(v);
            }
        }
        let n = rows.max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let mut sq = vec![0f64; features];
        for row in values.chunks_exact(features) {
            for ((s, &v), m) in sq.iter_mut().zip(row).zip(&mean) {
                *s += (f64::from(v) - m).powi(2);
            }
        }
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| {
                let sd = (s / n).sqrt();
                // Relative to the mean's size: a constant column of large values has rounding
                // noise, not spread.
                if sd <= 1e-7 * m.abs().max(1.0) { 1.0 } else { sd as f32 }
            })
            .collect();
        Standardization { mean: mean.into_iter().map(|m| m as f32).collect(), std }
    }

    /// The number of features.
    pub fn features(&self) -> usize {
        self.mean.len()
    }

    /// Standardises rows in place: `(x - mean) / std`, feature by feature.
    pub fn apply(&self, values: &mut [f32]) {
        for row in values.chunks_exact_mut(self.features().max(1)) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
    }

    /// Maps standardised rows back to the data's units in place: `x · std + mean`.
    pub fn restore(&self, values: &mut [f32]) {
        for row in values.chunks_exact_mut(self.features().max(1)) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = *v * s + m;
            }
        }
    }

    /// Checks the statistics fit `features` values per example and are finite, with positive
    /// deviations (a run directory's copy may have been edited).
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] naming what is wrong.
    pub fn validate(&self, features: usize) -> Result<(), DataError> {
        if self.mean.len() != features || self.std.len() != features {
            return Err(DataError::InvalidParameter {
                what: "standardisation statistics",
                expected: format!("{features} means and standard deviations"),
                found: format!("{} means, {} standard deviations", self.mean.len(), self.std.len()),
            });
        }
        if let Some(i) =
            (0..features).find(|&i| !(self.mean[i].is_finite() && self.std[i] > 0.0 && self.std[i].is_finite()))
        {
            return Err(DataError::InvalidParameter {
                what: "standardisation statistics",
                expected: "finite means and positive finite standard deviations".into(),
                found: format!("feature {i}: mean {}, std {}", self.mean[i], self.std[i]),
            });
        }
        Ok(())
    }
}

/// A data set's description: see the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSpec {
    /// The shape of one example.
    pub shape: SampleShape,
    /// What the values are.
    pub values: ValueKind,
    /// The names of the classes, in label order, when the data is labelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_names: Option<Vec<String>>,
    /// For [`ValueKind::Real`] data: the training split's statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standardization: Option<Standardization>,
    /// For table rows: the names of the features (the CSV header), in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_names: Option<Vec<String>>,
}

impl DataSpec {
    /// A spec without classes, statistics or feature names.
    pub fn new(shape: SampleShape, values: ValueKind) -> Self {
        DataSpec { shape, values, class_names: None, standardization: None, feature_names: None }
    }

    /// The spec of 28×28 grey digits with the ten classes `0`..`9` (MNIST and its sample).
    pub fn mnist() -> Self {
        DataSpec::new(SampleShape::image(1, 28, 28), ValueKind::Pixels).with_class_names(digit_names(10))
    }

    /// Sets [`class_names`](Self::class_names).
    #[must_use]
    pub fn with_class_names(mut self, names: Vec<String>) -> Self {
        self.class_names = Some(names);
        self
    }

    /// Maps model-space rows (what a model reads and writes) back to the data's own units in
    /// place: real values are de-standardised with the recorded statistics; pixels stay on
    /// [0, 1].
    ///
    /// ```
    /// use latent_data::{DataSpec, SampleShape, Standardization, ValueKind};
    /// let mut spec = DataSpec::new(SampleShape::Features { features: 2 }, ValueKind::Real);
    /// spec.standardization = Some(Standardization { mean: vec![10.0, 0.0], std: vec![2.0, 1.0] });
    /// let mut rows = vec![1.0, -1.0, 0.0, 0.5];
    /// spec.to_user_units(&mut rows);
    /// assert_eq!(rows, [12.0, -1.0, 10.0, 0.5]);
    /// ```
    pub fn to_user_units(&self, rows: &mut [f32]) {
        if let (ValueKind::Real, Some(stats)) = (self.values, &self.standardization) {
            stats.restore(rows);
        }
    }

    /// The number of classes, when labelled.
    pub fn classes(&self) -> Option<usize> {
        self.class_names.as_ref().map(Vec::len)
    }

    /// The name of class `label`: its name when known, else the number.
    pub fn class_name(&self, label: u8) -> String {
        self.class_names.as_ref().and_then(|n| n.get(usize::from(label)).cloned()).unwrap_or_else(|| label.to_string())
    }

    /// Checks the spec is coherent: a valid shape, at most [`MAX_CLASSES`] classes, statistics
    /// matching the shape for real values (and none for pixels), feature names matching it.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] naming what is wrong.
    pub fn validate(&self) -> Result<(), DataError> {
        self.shape.validate()?;
        if let Some(names) = &self.class_names
            && (names.is_empty() || names.len() > MAX_CLASSES)
        {
            return Err(DataError::InvalidParameter {
                what: "number of classes",
                expected: format!("between 1 and {MAX_CLASSES}"),
                found: names.len().to_string(),
            });
        }
        match (&self.standardization, self.values) {
            (Some(s), ValueKind::Real) => s.validate(self.shape.len())?,
            (Some(_), ValueKind::Pixels) => {
                return Err(DataError::InvalidParameter {
                    what: "data spec",
                    expected: "no standardisation statistics for pixel data".into(),
                    found: "statistics".into(),
                });
            }
            _ => {}
        }
        if let Some(names) = &self.feature_names
            && names.len() != self.shape.len()
        {
            return Err(DataError::InvalidParameter {
                what: "feature names",
                expected: format!("one per feature ({})", self.shape.len()),
                found: names.len().to_string(),
            });
        }
        Ok(())
    }
}

/// The names `"0"`, `"1"`, … of `n` numbered classes.
pub fn digit_names(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardization_maps_and_restores_and_handles_constant_features() {
        let values = [1.0, 5.0, 3.0, 5.0, 5.0, 5.0];
        let s = Standardization::fit(&values, 2);
        assert!((s.mean[0] - 3.0).abs() < 1e-6 && (s.std[0] - (8.0f32 / 3.0).sqrt()).abs() < 1e-6);
        assert_eq!((s.mean[1], s.std[1]), (5.0, 1.0));
        let mut x = values.to_vec();
        s.apply(&mut x);
        assert!(x.iter().all(|v| v.is_finite()));
        assert_eq!(x[1], 0.0);
        s.restore(&mut x);
        for (a, b) in x.iter().zip(values) {
            assert!((a - b).abs() < 1e-5);
        }
        assert!(s.validate(2).is_ok());
        assert!(s.validate(3).is_err());
        let bad = Standardization { mean: vec![0.0], std: vec![0.0] };
        assert!(bad.validate(1).is_err());
    }

    #[test]
    fn specs_validate_their_parts() {
        assert!(DataSpec::mnist().validate().is_ok());
        assert_eq!(DataSpec::mnist().class_name(3), "3");
        let empty = DataSpec::new(SampleShape::Features { features: 0 }, ValueKind::Real);
        assert!(empty.validate().is_err());
        let huge = DataSpec::new(SampleShape::image(usize::MAX, 2, 2), ValueKind::Pixels);
        assert!(huge.validate().is_err());
        let mut stats_on_pixels = DataSpec::mnist();
        stats_on_pixels.standardization = Some(Standardization { mean: vec![0.0; 784], std: vec![1.0; 784] });
        assert!(stats_on_pixels.validate().is_err());
        let too_many = DataSpec::mnist().with_class_names(digit_names(300));
        assert!(too_many.validate().is_err());
    }
}
