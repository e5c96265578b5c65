//! The runs a server explores: each opened once at start, with its data, the codes of its test
//! set and the plane of its latent map, then shared read-only by every request. Requests name a
//! run by its name here, never by a path.
//!
//! Values cross the API in the data's own units: pixels in [0, 1] (channel-major for colour
//! images), table rows in the units of the table. [`ServedRun::rows_in`] turns them into what the
//! model reads, [`ServedRun::rows_out`] turns the model's answers back.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use latent_data::{Data, DataSpec, Scale, ValueKind};
use latent_models::run_dir::RunConfig;
use latent_models::{Description, Model, RunDir};
use ndarray::Array2;
use serde::Serialize;

use super::error::ApiError;
use super::projection::Projection;
use crate::cli::DataArgs;
use crate::commands::anomaly::DefaultFit;
use crate::commands::{Split, check_request, load_data_for_run, require_images};

/// The most test codes the latent map shows (the first ones of a larger test set).
pub const MAX_MAP_POINTS: usize = 10_000;

/// What a run's model can do, as the page and scripts see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// It has an encoder: encode, reconstruct, denoise, the map of test codes.
    pub encode: bool,
    /// It has a decoder (every model here): decode, the sliders, the map's clicks.
    pub decode: bool,
    /// It has a prior to sample from (VAEs and GANs).
    pub sample: bool,
    /// The number of labels a conditional model needs with every code, else `None`.
    pub classes: Option<usize>,
    /// It scores how anomalous examples are (autoencoders and VAEs).
    pub anomaly: bool,
}

/// The test codes of the latent map, and its plane.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatentMap {
    /// How codes land on the map.
    pub projection: Projection,
    /// Each test example's point (the first [`MAX_MAP_POINTS`]; none without an encoder).
    pub points: Vec<[f32; 2]>,
    /// Each point's label.
    pub labels: Vec<u8>,
    /// For each code dimension, the range the page's slider spans: the test codes' with a
    /// margin, and at least the prior's likely -3..3.
    pub ranges: Vec<[f32; 2]>,
}

/// One run, ready to serve.
pub struct ServedRun {
    /// The name requests use (its directory's name, made unique).
    pub name: String,
    /// The run directory, for the workers' copies of the model.
    pub dir: RunDir,
    /// What the run was trained as.
    pub config: RunConfig,
    /// What the model reads and offers.
    pub description: Description,
    /// The data's description (shape, units, class and feature names).
    pub spec: DataSpec,
    /// What the model can do.
    pub can: Capabilities,
    /// The run's data, prepared as the model saw it.
    pub data: Data,
    /// The map of its test codes.
    pub map: LatentMap,
    /// What `latent info --json` says of it (without its path).
    pub info: serde_json::Value,
    /// The training split in model space, for the nearest-neighbour search of real-valued data
    /// (pixels are searched in place, as bytes).
    pub train_reals: Option<Array2<f32>>,
    /// The anomaly score and its threshold, found on the first request that needs them
    /// ([`crate::commands::anomaly::default_fit`]: the run's `anomaly.json`, else fitted then).
    pub anomaly_fit: tokio::sync::OnceCell<Arc<DefaultFit>>,
}

impl ServedRun {
    /// Open the run in `path`, served as `name`: its model, its data (as `data` says, else what
    /// it was trained on) and the codes of its test set.
    ///
    /// # Errors
    /// If the run or its data cannot be loaded, or the data has no test examples.
    pub fn load(path: &Path, name: String, data: &DataArgs) -> anyhow::Result<Self> {
        let dir = RunDir::open(path)?;
        let (mut model, config) = dir.load_model()?;
        let description = config.model.describe()?;
        let data = load_data_for_run(data, &config)?;
        require_images(&data, Split::Test, "to show")?;
        let can = Capabilities {
            encode: model.encoder().is_some(),
            decode: model.decoder().is_some(),
            sample: model.generator().is_some(),
            classes: model.classes(),
            anomaly: model.example_scores().is_some(),
        };
        let map = map_of(&mut *model, &config, &data, description.latent_dim)?;
        let mut info = crate::commands::info::describe(&dir, &*model, &config)?;
        info["name"] = serde_json::json!(name);
        let train_reals = (data.spec().values == ValueKind::Real).then(|| data.train.to_flat(Scale::ZeroOne));
        let spec = data.spec().clone();
        let anomaly_fit = tokio::sync::OnceCell::new();
        Ok(Self { name, dir, config, description, spec, can, data, map, info, train_reals, anomaly_fit })
    }

    /// A fresh copy of the run's model, for one worker.
    ///
    /// # Errors
    /// If the run's files cannot be read.
    pub fn load_model(&self) -> anyhow::Result<Box<dyn Model>> {
        Ok(self.dir.load_model()?.0)
    }

    /// Values per example.
    pub fn width(&self) -> usize {
        self.description.input_dim
    }

    /// Whether examples are pixels (in [0, 1]) rather than real values.
    pub fn pixels(&self) -> bool {
        self.spec.values == ValueKind::Pixels
    }

    /// Examples sent by a client (`field` names them in errors), checked and made what the
    /// model reads: each of [`width`](Self::width) values, pixels in [0, 1], real values
    /// standardised with the training statistics.
    ///
    /// # Errors
    /// A 422 naming the example and value that do not fit.
    pub fn rows_in(&self, rows: &[Vec<f32>], field: &str) -> Result<Array2<f32>, ApiError> {
        let width = self.width();
        let mut flat = Vec::with_capacity(rows.len() * width);
        for (i, row) in rows.iter().enumerate() {
            if row.len() != width {
                return Err(ApiError::unprocessable(format!(
                    "{field}[{i}] has {} values; this run's examples have {width} ({})",
                    row.len(),
                    self.spec.shape
                )));
            }
            if self.pixels()
                && let Some(j) = row.iter().position(|v| !(0.0..=1.0).contains(v))
            {
                return Err(ApiError::unprocessable(format!(
                    "{field}[{i}][{j}] is {}: pixel values are in [0, 1]",
                    row[j]
                )));
            }
            if let Some(j) = row.iter().position(|v| !v.is_finite()) {
                return Err(ApiError::unprocessable(format!("{field}[{i}][{j}] is not a finite number")));
            }
            flat.extend_from_slice(row);
        }
        if let (ValueKind::Real, Some(stats)) = (self.spec.values, &self.spec.standardization) {
            stats.apply(&mut flat);
        }
        Ok(Array2::from_shape_vec((rows.len(), width), flat).expect("every row was checked"))
    }

    /// The model's output rows in the data's own units: real values de-standardised, pixels
    /// clamped to [0, 1] and rounded to 4 decimals (1/255 is 0.0039), which keeps answers short.
    pub fn rows_out(&self, rows: Array2<f32>) -> Vec<Vec<f32>> {
        let mut rows = rows.as_standard_layout().into_owned();
        if self.pixels() {
            rows.mapv_inplace(|v| (v.clamp(0.0, 1.0) * 1e4).round() / 1e4);
        }
        self.data_out(rows)
    }

    /// Rows of data (examples of the data set, or sent by a client) in the data's own units,
    /// exactly: encoding them again gives the codes of the examples themselves.
    pub fn data_out(&self, rows: Array2<f32>) -> Vec<Vec<f32>> {
        let mut rows = rows.as_standard_layout().into_owned();
        if !self.pixels() {
            self.spec.to_user_units(rows.as_slice_mut().expect("a standard-layout array"));
        }
        rows.rows().into_iter().map(|r| r.to_vec()).collect()
    }

    /// The test examples at `indices`, in model space.
    ///
    /// # Errors
    /// A 422 naming the first index past the end.
    pub fn test_rows(&self, indices: &[usize], field: &str) -> Result<Array2<f32>, ApiError> {
        let n = self.data.test.len();
        if let Some(bad) = indices.iter().find(|&&i| i >= n) {
            return Err(ApiError::unprocessable(format!(
                "{field} {bad}: the test set has {n} examples (indices 0 to {})",
                n - 1
            )));
        }
        Ok(self.data.test.gather(indices, Scale::ZeroOne).expect("indices checked above"))
    }

    /// The labels a conditional model is asked with for `rows` examples: `labels` (one per
    /// example) or `label` (for all), checked against the class count; `None` for an
    /// unconditional model, which refuses them. `fallback` supplies them when neither is given
    /// (the test examples' own labels), else a conditional model needs one.
    ///
    /// # Errors
    /// A 422 when labels are missing, extra, of the wrong count or out of range.
    pub fn labels(
        &self,
        rows: usize,
        label: Option<u8>,
        labels: Option<&[u8]>,
        fallback: Option<&[u8]>,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let Some(classes) = self.can.classes else {
            if label.is_some() || labels.is_some() {
                return Err(ApiError::unprocessable(format!(
                    "run `{}` is a {} ({}), which is not conditioned on labels: send no label",
                    self.name, self.description.kind, self.config.preset
                )));
            }
            return Ok(None);
        };
        let given: Vec<u8> = match (label, labels, fallback) {
            (Some(_), Some(_), _) => {
                return Err(ApiError::bad_request("send either `label` (for every example) or `labels`, not both"));
            }
            (Some(k), None, _) => vec![k; rows],
            (None, Some(l), _) => l.to_vec(),
            (None, None, Some(l)) => l.to_vec(),
            (None, None, None) => {
                return Err(ApiError::unprocessable(format!(
                    "run `{}` is conditional: send `label` (0 to {}) or `labels`, one per example",
                    self.name,
                    classes - 1
                )));
            }
        };
        if given.len() != rows {
            return Err(ApiError::unprocessable(format!(
                "`labels` has {} labels for {rows} examples: send one per example",
                given.len()
            )));
        }
        if let Some(bad) = given.iter().find(|&&k| usize::from(k) >= classes) {
            return Err(ApiError::unprocessable(format!(
                "label {bad} is out of range: run `{}` knows labels 0 to {}",
                self.name,
                classes - 1
            )));
        }
        Ok(Some(given))
    }

    /// Refuse a request for `rows` examples at once that would need more memory than the limit
    /// ([`latent_models::memory`]).
    ///
    /// # Errors
    /// A 422 with the estimate.
    pub fn check_rows(&self, rows: usize) -> Result<(), ApiError> {
        check_request(&self.config, || format!("a request of {rows} examples"), rows, rows * self.width() * 3)
            .map_err(|e| ApiError::unprocessable(format!("{e:#}")))
    }
}

/// The latent map of a run: its test codes on their plane, or the prior's plane for a model
/// without an encoder.
fn map_of(model: &mut dyn Model, config: &RunConfig, data: &Data, latent_dim: usize) -> anyhow::Result<LatentMap> {
    let conditional = model.classes().is_some();
    let Some(encoder) = model.encoder() else {
        let ranges = vec![[-3.0, 3.0]; latent_dim];
        return Ok(LatentMap { projection: Projection::prior(latent_dim), points: vec![], labels: vec![], ranges });
    };
    let test = data.test.take(MAX_MAP_POINTS);
    let n = test.len();
    check_request(config, || format!("encoding {n} test examples for the map"), n.min(1000), n * latent_dim)?;
    let labels = test.labels().to_vec();
    let codes =
        crate::commands::embed::encode_rows(encoder, &test.to_flat(Scale::ZeroOne), conditional.then_some(&labels))
            .context("encoding the test set for the map")?;
    let projection = match Projection::fit(&codes) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("warning: the map shows the first two code dimensions: no principal axes ({e})");
            Projection::prior(latent_dim)
        }
    };
    let points =
        codes.rows().into_iter().map(|c| projection.project(c.as_slice().expect("a standard-layout row"))).collect();
    Ok(LatentMap { projection, points, labels, ranges: ranges(&codes) })
}

/// Each column's range with a quarter of its width added on both sides, and at least -3..3.
fn ranges(codes: &Array2<f32>) -> Vec<[f32; 2]> {
    codes
        .columns()
        .into_iter()
        .map(|c| {
            let (lo, hi) = c.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                if v.is_finite() { (lo.min(v), hi.max(v)) } else { (lo, hi) }
            });
            let margin = if hi >= lo { (hi - lo) / 4.0 } else { 0.0 };
            [(lo - margin).min(-3.0), (hi + margin).max(3.0)]
        })
        .collect()
}

/// A name for each run: its directory's name, with `-2`, `-3`, ... after repeats.
pub fn names(paths: &[PathBuf]) -> Vec<String> {
    let mut taken: Vec<String> = Vec::new();
    for path in paths {
        let full = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        let base = full.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
        let mut name = base.clone();
        let mut k = 2;
        while taken.contains(&name) {
            name = format!("{base}-{k}");
            k += 1;
        }
        taken.push(name);
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_directory_names_get_numbers() {
        let paths = [PathBuf::from("a/vae"), PathBuf::from("b/vae"), PathBuf::from("gan"), PathBuf::from("c/vae")];
        assert_eq!(names(&paths), ["vae", "vae-2", "gan", "vae-3"]);
    }
}
