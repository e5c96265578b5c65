//! [`DataClassifier`]: a classifier of any labelled data set (MNIST's digits, Fashion-MNIST's
//! clothes, a folder of colour images, a table's classes) trained with this library, and the
//! [`Judgement`] it passes on generated samples (how many of each class, how confidently, how
//! far from the nearest training example).
//!
//! # Design
//! - The network is the [`Classifier`] of the classifier family, shaped by the data's
//!   [`DataSpec`] (an MLP D-512-256-K by default, or a small CNN), trained through the one
//!   [`Trainer`] like every model: minibatch
//!   Adam on the cross-entropy, batches, weights and dropout masks all drawn from the one seed.
//!   After each epoch the test accuracy (the objective's `accuracy` part) is handed to an
//!   observer; the last one is recorded in the file ([`TrainingRecord`]).
//! - The file is a safetensors checkpoint of the network (names of the equivalent
//!   `torch.nn.Sequential`) whose metadata ([`ClassifierFile`]) carries the layer specs, the
//!   data's spec (its class names) and digest, and the training record.
//! - Prediction ([`DataClassifier::predict_proba`]) runs in evaluation mode (no dropout), under
//!   `no_grad`, in batches.
//! - [`Judgement::new`] turns class probabilities into the figures that say whether samples of
//!   a generative model look like the data and cover all its classes: per-class counts and fractions, the
//!   mean top probability, the fraction of confident samples (top probability ≥
//!   [`CONFIDENT`]), and the distance of the class histogram from uniform (max/min count ratio,
//!   KL divergence, total variation). With the labels a conditional model was asked for, it
//!   also gives the accuracy per requested label.
//! - [`nearest_train`] finds each image's nearest training image in pixel space with the GEMM
//!   identity `‖a − b‖² = ‖a‖² + ‖b‖² − 2a·b`, in chunks (so memory stays bounded), and then
//!   recomputes the winner's distance directly in `f64`, so an exact copy of a training digit
//!   measures 0 rather than float cancellation noise. [`DistanceSummary`] condenses the
//!   distances; comparing it with the same figures for real test digits tells whether a model
//!   copies its training set.

use std::path::Path;

use latent_data::{Data, DataSpec, Dataset, Scale};
use latent_nn::layers::{LayerSpec, Sequential};
use latent_nn::{Module, load_checkpoint, read_config, save_checkpoint};
use latent_tensor::TensorRng;
use latent_tensor::{Tensor, no_grad};
use ndarray::{Array2, Axis, s};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
pub use crate::families::classifier::{Classifier, ClassifierArch, ClassifierConfig, PREDICT_BATCH};
use crate::family::ModelConfig;
use crate::metrics::EpochMetrics;
use crate::model::Model;
use crate::train::{TrainObserver, TrainOptions, Trainer};

/// A sample is "confident" when its top class probability is at least this.
pub const CONFIDENT: f32 = 0.9;
/// The value of [`ClassifierFile::kind`], which identifies classifier files.
pub const KIND: &str = "data-classifier";
/// The kind of classifier files written before classifiers took any data: MNIST digits.
pub const DIGITS_KIND: &str = "digit-classifier";

/// How a classifier was trained, as recorded in its file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// The data: `"mnist"`, `"mnist-sample"` or a directory.
    pub data: String,
    /// Training images.
    pub train_examples: usize,
    /// Test images the accuracy was measured on.
    pub test_examples: usize,
    /// Epochs trained.
    pub epochs: usize,
    /// The seed.
    pub seed: u64,
    /// The accuracy on the test split after the last epoch, in [0, 1].
    pub test_accuracy: f64,
}
/// What a classifier file's metadata holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifierFile {
    /// Always [`KIND`].
    pub kind: String,
    /// The architecture.
    pub arch: ClassifierArch,
    /// The layers (enough to rebuild the network).
    pub layers: Vec<LayerSpec>,
    /// How it was trained, once it has been.
    pub trained: Option<TrainingRecord>,
    /// The data it classifies (shape, class names, statistics); MNIST's digits when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<DataSpec>,
    /// The [digest](Dataset::digest) of the training split it was trained on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_digest: Option<String>,
}

impl ClassifierFile {
    /// The data it classifies.
    pub fn spec(&self) -> DataSpec {
        self.spec.clone().unwrap_or_else(DataSpec::mnist)
    }
}

/// Training options of [`DataClassifier::train`].
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierOptions {
    /// The architecture.
    pub arch: ClassifierArch,
    /// Passes over the training split; at least 1.
    pub epochs: usize,
    /// Images per batch; at least 1.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// The seed of the weights, the batch order and the dropout masks.
    pub seed: u64,
    /// Train on at most this many batches per epoch (quick runs and tests).
    pub limit_batches: Option<usize>,
}

impl Default for ClassifierOptions {
    /// The MLP, 10 epochs of batches of 128, Adam at 1e-3, seed 1.
    fn default() -> Self {
        ClassifierOptions {
            arch: ClassifierArch::Mlp,
            epochs: 10,
            batch_size: 128,
            lr: 1e-3,
            seed: 1,
            limit_batches: None,
        }
    }
}

/// One epoch's figures, as [`DataClassifier::train`] reports them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochReport {
    /// The epoch, from 1.
    pub epoch: usize,
    /// The mean cross-entropy over the epoch's training batches.
    pub train_loss: f64,
    /// The accuracy on the test split after the epoch, in [0, 1].
    pub test_accuracy: f64,
}
fn check_rows(name: &str, images: &Array2<f32>, spec: &DataSpec) -> Result<()> {
    if images.ncols() != spec.shape.len() {
        return Err(ModelError::input(
            name,
            format!("expected rows of {} values ({}), found {} columns", spec.shape.len(), spec.shape, images.ncols()),
        ));
    }
    Ok(())
}

/// The classifier configuration for data of `spec`.
fn config_for(arch: ClassifierArch, spec: &DataSpec) -> Result<ClassifierConfig> {
    let classes = spec.classes().ok_or_else(|| {
        ModelError::input("data", "the data has no labels, so there is nothing to classify (give labelled data)")
    })?;
    Ok(ClassifierConfig { arch, input_shape: spec.shape.dims(), classes })
}

/// A classifier of a labelled data set, trained with this library.
pub struct DataClassifier {
    file: ClassifierFile,
    model: Classifier,
}

/// The trainer's observer for [`DataClassifier::train`]: reports each epoch.
struct Reporter<F: FnMut(EpochReport)>(F);

impl<F: FnMut(EpochReport)> TrainObserver for Reporter<F> {
    fn epoch_done(&mut self, m: &EpochMetrics, _model: &mut dyn Model) -> Result<()> {
        (self.0)(EpochReport {
            epoch: m.epoch as usize,
            train_loss: m.train.get("loss").copied().unwrap_or(f64::NAN),
            test_accuracy: m.test.get("accuracy").copied().unwrap_or(f64::NAN),
        });
        Ok(())
    }
}

impl DataClassifier {
    /// An untrained classifier of architecture `arch` for data of `spec`, with weights drawn
    /// from `rng`.
    ///
    /// # Errors
    /// If the data has no classes or a layer cannot be built.
    pub fn new(arch: ClassifierArch, spec: &DataSpec, rng: &mut TensorRng) -> Result<Self> {
        let config = config_for(arch, spec)?;
        let file = ClassifierFile {
            kind: KIND.to_string(),
            arch,
            layers: config.layers(),
            trained: None,
            spec: Some(spec.clone()),
            data_digest: None,
        };
        Ok(DataClassifier { file, model: Classifier::new(config, rng)? })
    }

    /// The data it classifies.
    pub fn spec(&self) -> DataSpec {
        self.file.spec()
    }

    /// Train a classifier on `data`'s training set with the [`Trainer`], measuring the test
    /// accuracy after every epoch (handed to `observer`).
    ///
    /// # Errors
    /// On invalid options, unlabelled data, or a diverging run.
    pub fn train(data: &Data, options: &ClassifierOptions, mut observer: impl FnMut(EpochReport)) -> Result<Self> {
        if options.epochs == 0 {
            return Err(ModelError::config("epochs", "must be at least 1"));
        }
        let spec = data.spec().clone();
        let shaped = config_for(options.arch, &spec)?;
        let train = TrainOptions {
            epochs: options.epochs as u64,
            batch_size: options.batch_size,
            learning_rate: options.lr,
            seed: options.seed,
            limit_batches: options.limit_batches,
            ..TrainOptions::default()
        };
        train.validate()?;
        let config = ModelConfig::new(&shaped);
        let fresh = Classifier::new(shaped, &mut TensorRng::seed_from_u64(options.seed))?;
        let mut trainer = Trainer::in_memory(Box::new(fresh), config.describe()?, train)?;
        let mut reporter = Reporter(&mut observer);
        trainer.fit(&data.train, &data.test, &mut reporter)?;
        let test_accuracy = trainer.history().last().and_then(|m| m.test.get("accuracy").copied()).unwrap_or(0.0);
        // The trained network moves into the classifier (the trainer holds it as a trait object;
        // the typed walk hands it back).
        let mut classifier = DataClassifier::new(options.arch, &spec, &mut TensorRng::seed_from_u64(0))?;
        classifier.file.data_digest = Some(data.train.digest());
        let mut trained = trainer.into_model();
        let mut moved = false;
        trained.visit_modules_mut("", &mut |_, module| {
            if !moved && let Some(c) = module.downcast_mut::<Classifier>() {
                std::mem::swap(&mut classifier.model, c);
                moved = true;
            }
        });
        if !moved {
            return Err(ModelError::input("classifier", "the trained model is not a classifier"));
        }
        let name = data.source.name();
        classifier.file.trained = Some(TrainingRecord {
            data: name,
            train_examples: data.train.len(),
            test_examples: data.test.len(),
            epochs: options.epochs,
            seed: options.seed,
            test_accuracy,
        });
        Ok(classifier)
    }

    /// What its file records.
    pub fn file(&self) -> &ClassifierFile {
        &self.file
    }

    /// The number of parameters.
    pub fn parameter_count(&self) -> usize {
        self.model.net().parameter_count()
    }

    /// Save weights and metadata to `path` (safetensors, written atomically).
    ///
    /// # Errors
    /// If the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        Ok(save_checkpoint(path, self.model.net(), &self.file)?)
    }

    /// Load a classifier saved by [`DataClassifier::save`] (or an MNIST digit classifier of an
    /// earlier version).
    ///
    /// # Errors
    /// If the file cannot be read, is not a classifier file, or its weights do not fit its
    /// configuration.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file: ClassifierFile = read_config(path)?;
        if file.kind != KIND && file.kind != DIGITS_KIND {
            return Err(ModelError::input(
                path.display().to_string(),
                format!("expected a classifier (kind `{KIND}`), found kind `{}`", file.kind),
            ));
        }
        file.spec().validate().map_err(|e| ModelError::input(path.display().to_string(), e.to_string()))?;
        let config = config_for(file.arch, &file.spec())?;
        if config.layers() != file.layers {
            return Err(ModelError::input(
                path.display().to_string(),
                "its layers are not those of its architecture; retrain it".to_string(),
            ));
        }
        let mut model = Classifier::new(config, &mut TensorRng::seed_from_u64(0))?;
        let net: &mut Sequential = model.net_mut();
        load_checkpoint(path, net)?;
        Ok(DataClassifier { file, model })
    }

    /// The class probabilities (`[N, K]`, rows summing to 1) of examples `[N, D]` as models
    /// see them (pixels in [0, 1], real values standardised), in evaluation mode.
    ///
    /// # Errors
    /// If `images` does not have the data's `D` columns.
    pub fn predict_proba(&mut self, images: &Array2<f32>) -> Result<Array2<f32>> {
        check_rows("images", images, &self.spec())?;
        self.model.predict_proba(images)
    }

    /// The most probable class of each image (ties go to the lower label).
    ///
    /// # Errors
    /// As [`DataClassifier::predict_proba`].
    pub fn predict(&mut self, images: &Array2<f32>) -> Result<Vec<u8>> {
        Ok(self.predict_proba(images)?.outer_iter().map(|row| argmax(row.as_slice().expect("contiguous")).0).collect())
    }

    /// The fraction of `data`'s images classified as their label.
    ///
    /// # Errors
    /// If the data set is empty or its examples have another size.
    pub fn test_accuracy(&mut self, data: &Dataset) -> Result<f64> {
        if data.is_empty() {
            return Err(ModelError::input("data", "the data set is empty: no accuracy to measure"));
        }
        let images = data.to_flat(Scale::ZeroOne);
        let predicted = self.predict(&images)?;
        let correct = predicted.iter().zip(data.labels()).filter(|(p, y)| p == y).count();
        Ok(correct as f64 / data.len() as f64)
    }

    /// The penultimate layer's activations of `images` (`[N, D]`, as
    /// [`predict_proba`](Self::predict_proba) takes them), in evaluation mode: `[N, F]` with
    /// `F` = [`feature_dim`](Self::feature_dim) (256 for the MLP, 128 for the CNN). Generated
    /// samples are compared with real ones in these features (the Fréchet distance, KID,
    /// precision and recall of `latent score`).
    ///
    /// # Errors
    /// As [`DataClassifier::predict_proba`].
    pub fn features(&mut self, images: &Array2<f32>) -> Result<Array2<f32>> {
        check_rows("images", images, &self.spec())?;
        self.model.features(images)
    }

    /// The width of [`features`](Self::features).
    pub fn feature_dim(&self) -> usize {
        self.model.feature_dim()
    }

    /// The SHA-256 (hex) of the weights: every parameter's name, shape and little-endian `f32`
    /// values in the network's order. Scores computed in the features of classifiers with one
    /// digest are comparable; with different digests they are not.
    pub fn weights_digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        self.model.net().visit_params("net", &mut |name, p| {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            let shape = p.shape();
            h.update((shape.len() as u64).to_le_bytes());
            for &d in shape {
                h.update((d as u64).to_le_bytes());
            }
            for v in p.view().iter() {
                h.update(v.to_le_bytes());
            }
        });
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Classify `images` (`[N, D]`, as [`predict_proba`](Self::predict_proba) takes them) and
    /// judge them (see [`Judgement::new`]).
    ///
    /// # Errors
    /// As [`DataClassifier::predict_proba`] and [`Judgement::new`].
    pub fn judge(&mut self, images: &Array2<f32>, expected: Option<&[u8]>) -> Result<Judgement> {
        Judgement::new(&self.predict_proba(images)?, expected)
    }
}

/// `(index, value)` of the largest value (the first one on ties).
fn argmax(row: &[f32]) -> (u8, f32) {
    let mut best = (0u8, f32::NEG_INFINITY);
    for (i, &v) in row.iter().enumerate() {
        if v > best.1 {
            best = (i as u8, v);
        }
    }
    best
}

/// Accuracy on the samples drawn for one requested label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelAccuracy {
    /// The requested label.
    pub label: u8,
    /// Samples requested with it.
    pub requested: usize,
    /// Of those, classified as it.
    pub correct: usize,
    /// `correct / requested`.
    pub accuracy: f64,
}

/// What the classifier thinks of a set of images (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// Images judged.
    pub n: usize,
    /// Images assigned to each digit.
    pub counts: Vec<usize>,
    /// `counts / n`.
    pub fractions: Vec<f64>,
    /// The mean top probability of the images assigned to each digit (0 when none).
    pub class_confidence: Vec<f64>,
    /// The mean top probability over all images.
    pub mean_confidence: f64,
    /// The threshold of [`Judgement::confident_fraction`] ([`CONFIDENT`]).
    pub confident_threshold: f32,
    /// The fraction of images whose top probability is at least the threshold.
    pub confident_fraction: f64,
    /// The largest class count over the smallest; `None` when some digit has no image.
    pub max_min_ratio: Option<f64>,
    /// `KL(histogram ‖ uniform)` in nats: 0 when balanced, `ln 10 ≈ 2.303` when one class takes
    /// everything.
    pub kl_from_uniform: f64,
    /// Total variation distance of the histogram from uniform: `½ Σ |p_k − 1/10|`, 0 when
    /// balanced, 0.9 when one class takes everything.
    pub total_variation: f64,
    /// With expected labels: accuracy per requested label, in label order.
    pub per_label: Option<Vec<LabelAccuracy>>,
    /// With expected labels: the fraction of images classified as requested.
    pub label_accuracy: Option<f64>,
}

impl Judgement {
    /// Judge images from their class probabilities `probs` (`[N, K]`), optionally against the
    /// labels they were drawn for (`expected`, one per row, each below K).
    ///
    /// # Errors
    /// If `probs` is not `[N, K]` with `N ≥ 1` and `1 ≤ K ≤ 256`, or `expected` has the wrong
    /// length or a label of no class.
    pub fn new(probs: &Array2<f32>, expected: Option<&[u8]>) -> Result<Self> {
        let n = probs.nrows();
        let classes = probs.ncols();
        if n == 0 || classes == 0 || classes > 256 {
            return Err(ModelError::input(
                "probabilities",
                format!("expected [N, K] with N ≥ 1 and 1 ≤ K ≤ 256, found [{n}, {classes}]"),
            ));
        }
        if let Some(labels) = expected {
            if labels.len() != n {
                return Err(ModelError::input(
                    "labels",
                    format!("expected one label per image ({n}), found {}", labels.len()),
                ));
            }
            if let Some((i, &l)) = labels.iter().enumerate().find(|&(_, &l)| usize::from(l) >= classes) {
                return Err(ModelError::input(
                    "labels",
                    format!("label {l} at position {i} is not one of the {classes} classes"),
                ));
            }
        }
        let mut counts = vec![0usize; classes];
        let mut conf_sum = vec![0f64; classes];
        let mut confident = 0usize;
        let mut predicted = Vec::with_capacity(n);
        for row in probs.axis_iter(Axis(0)) {
            let row = row.to_vec();
            let (k, p) = argmax(&row);
            counts[usize::from(k)] += 1;
            conf_sum[usize::from(k)] += f64::from(p);
            confident += usize::from(p >= CONFIDENT);
            predicted.push(k);
        }
        let fractions: Vec<f64> = counts.iter().map(|&c| c as f64 / n as f64).collect();
        let uniform = 1.0 / classes as f64;
        let kl_from_uniform =
            fractions.iter().filter(|&&p| p > 0.0).map(|&p| p * (p / uniform).ln()).sum::<f64>().max(0.0);
        let total_variation = 0.5 * fractions.iter().map(|&p| (p - uniform).abs()).sum::<f64>();
        let (max, min) = (counts.iter().max().copied().unwrap_or(0), counts.iter().min().copied().unwrap_or(0));
        let per_label = expected.map(|labels| {
            (0..=u8::try_from(classes - 1).expect("at most 256 classes"))
                .filter_map(|label| {
                    let requested = labels.iter().filter(|&&l| l == label).count();
                    (requested > 0).then(|| {
                        let correct =
                            labels.iter().zip(&predicted).filter(|&(&l, &p)| l == label && p == label).count();
                        LabelAccuracy { label, requested, correct, accuracy: correct as f64 / requested as f64 }
                    })
                })
                .collect::<Vec<_>>()
        });
        let label_accuracy =
            expected.map(|labels| labels.iter().zip(&predicted).filter(|(l, p)| l == p).count() as f64 / n as f64);
        Ok(Judgement {
            n,
            class_confidence: conf_sum
                .iter()
                .zip(&counts)
                .map(|(&s, &c)| if c > 0 { s / c as f64 } else { 0.0 })
                .collect(),
            mean_confidence: conf_sum.iter().sum::<f64>() / n as f64,
            confident_threshold: CONFIDENT,
            confident_fraction: confident as f64 / n as f64,
            max_min_ratio: (min > 0).then(|| max as f64 / min as f64),
            kl_from_uniform,
            total_variation,
            counts,
            fractions,
            per_label,
            label_accuracy,
        })
    }
}

/// An image's nearest training image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Nearest {
    /// Its index in the training set.
    pub index: usize,
    /// The Euclidean distance in pixel space with values in [0, 1] (at most 28).
    pub distance: f32,
}

/// Query rows per GEMM chunk of [`nearest_train`].
const QUERY_CHUNK: usize = 1024;
/// Training rows per GEMM chunk of [`nearest_train`].
const TRAIN_CHUNK: usize = 4096;

/// The nearest training example of each row of `images` (`[N, D]`, as models see the data:
/// pixels on [0, 1]), by Euclidean distance, found with `‖a‖² + ‖b‖² − 2a·b` in chunks of
/// `1024 × 4096` products (matmul of `latent-tensor`), the winner's distance recomputed
/// exactly. Ties go to the lower training index.
///
/// # Errors
/// If the training set is empty or `images` do not have its examples' size.
pub fn nearest_train(images: &Array2<f32>, train: &Dataset) -> Result<Vec<Nearest>> {
    if train.is_empty() {
        return Err(ModelError::input("train", "the training set is empty: no nearest example to find"));
    }
    check_rows("images", images, train.spec())?;
    let _guard = no_grad();
    let n = images.nrows();
    let query_norms: Vec<f32> = images.outer_iter().map(|r| r.dot(&r)).collect();
    let mut best = vec![(f32::INFINITY, 0usize); n];
    let mut t0 = 0;
    while t0 < train.len() {
        let t1 = (t0 + TRAIN_CHUNK).min(train.len());
        let indices: Vec<usize> = (t0..t1).collect();
        let chunk = train.gather(&indices, Scale::ZeroOne)?;
        let train_norms: Vec<f32> = chunk.outer_iter().map(|r| r.dot(&r)).collect();
        let chunk_t = Tensor::new(chunk).t()?;
        let mut q0 = 0;
        while q0 < n {
            let q1 = (q0 + QUERY_CHUNK).min(n);
            let dots = Tensor::new(images.slice(s![q0..q1, ..]).to_owned()).matmul(&chunk_t)?.to_array();
            for (qi, row) in dots.outer_iter().enumerate() {
                let slot = &mut best[q0 + qi];
                for (ti, &d) in row.iter().enumerate() {
                    let sq = query_norms[q0 + qi] + train_norms[ti] - 2.0 * d;
                    if sq < slot.0 {
                        *slot = (sq, t0 + ti);
                    }
                }
            }
            q0 = q1;
        }
        t0 = t1;
    }
    best.iter()
        .zip(images.outer_iter())
        .map(|(&(_, index), query)| {
            let target = train.gather(&[index], Scale::ZeroOne)?;
            let sq: f64 = query
                .iter()
                .zip(target.iter())
                .map(|(&a, &b)| {
                    let d = f64::from(a) - f64::from(b);
                    d * d
                })
                .sum();
            Ok(Nearest { index, distance: sq.sqrt() as f32 })
        })
        .collect()
}

/// The distance of each row of `images` to its nearest training image (see [`nearest_train`]).
///
/// # Errors
/// As [`nearest_train`].
pub fn nearest_train_distance(images: &Array2<f32>, train: &Dataset) -> Result<Vec<f32>> {
    Ok(nearest_train(images, train)?.into_iter().map(|n| n.distance).collect())
}

/// Summary figures of a set of nearest-neighbour distances.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DistanceSummary {
    /// How many distances.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// The smallest.
    pub min: f64,
    /// The 5th percentile (nearest rank).
    pub p5: f64,
    /// The median (nearest rank).
    pub median: f64,
    /// The largest.
    pub max: f64,
}

impl DistanceSummary {
    /// Summarise `distances`; `None` when there are none or one is not finite.
    pub fn new(distances: &[f32]) -> Option<Self> {
        if distances.is_empty() || distances.iter().any(|d| !d.is_finite()) {
            return None;
        }
        let mut sorted: Vec<f64> = distances.iter().map(|&d| f64::from(d)).collect();
        sorted.sort_by(f64::total_cmp);
        let rank = |q: f64| sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        Some(DistanceSummary {
            n: sorted.len(),
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
            min: sorted[0],
            p5: rank(0.05),
            median: rank(0.5),
            max: sorted[sorted.len() - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Data {
        latent_data::sample::load().unwrap()
    }

    fn probs(rows: &[usize]) -> Array2<f32> {
        let mut p = Array2::from_elem((rows.len(), 10), 0.01f32);
        for (i, &k) in rows.iter().enumerate() {
            p[[i, k]] = 0.91;
        }
        p
    }

    /// One epoch on the bundled sample (79 batches) reaches 85% on its test split (measured:
    /// 87.2% with seed 1), is deterministic by seed, and survives a save/load round trip
    /// exactly.
    #[test]
    fn trains_on_the_sample_saves_and_loads() {
        let data = sample();
        let options = ClassifierOptions { epochs: 1, ..ClassifierOptions::default() };
        let mut reports = Vec::new();
        let mut model = DataClassifier::train(&data, &options, |r| reports.push(r)).unwrap();
        assert_eq!(reports.len(), 1);
        let acc = reports[0].test_accuracy;
        assert!(acc >= 0.85, "test accuracy after one epoch on the sample: {acc}");
        assert!(reports[0].train_loss.is_finite() && reports[0].train_loss < 1.0, "{reports:?}");
        let record = model.file().trained.clone().unwrap();
        assert_eq!((record.data.as_str(), record.epochs, record.test_accuracy), ("mnist-sample", 1, acc));

        let short = ClassifierOptions { limit_batches: Some(3), ..options };
        let mut first = DataClassifier::train(&data, &short, |_| {}).unwrap();
        let mut second = DataClassifier::train(&data, &short, |_| {}).unwrap();
        let x = data.test.take(50).to_flat(Scale::ZeroOne);
        assert_eq!(first.predict_proba(&x).unwrap(), second.predict_proba(&x).unwrap(), "same seed, same model");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("classifier.safetensors");
        model.save(&path).unwrap();
        let mut loaded = DataClassifier::load(&path).unwrap();
        assert_eq!(loaded.file(), model.file());
        assert_eq!(loaded.predict_proba(&x).unwrap(), model.predict_proba(&x).unwrap());
        let p = model.predict_proba(&x).unwrap();
        assert!(p.outer_iter().all(|r| (r.sum() - 1.0).abs() < 1e-4));

        // The features are the last hidden layer's ReLU outputs: the last linear layer on them
        // gives the logits whose softmax is predict_proba. The digest survives the round trip
        // and tells differently trained weights apart.
        let f = model.features(&x).unwrap();
        assert_eq!((f.dim(), model.feature_dim()), ((50, 256), 256));
        assert!(f.iter().all(|&v| v >= 0.0) && f.iter().any(|&v| v > 0.0));
        assert_eq!(loaded.features(&x).unwrap(), f);
        let mut last = std::collections::BTreeMap::new();
        model.model.net().visit_params("", &mut |name, t| {
            last.insert(name.to_string(), t.to_array());
        });
        let w = last["6.weight"].clone().into_dimensionality::<ndarray::Ix2>().unwrap();
        let b = last["6.bias"].clone().into_dimensionality::<ndarray::Ix1>().unwrap();
        let logits = f.dot(&w.t()) + &b;
        for (row, probs) in logits.outer_iter().zip(p.outer_iter()) {
            let top = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let total: f32 = row.iter().map(|&l| (l - top).exp()).sum();
            for (&l, &q) in row.iter().zip(probs) {
                assert!(((l - top).exp() / total - q).abs() < 1e-4);
            }
        }
        assert_eq!(loaded.weights_digest(), model.weights_digest());
        assert_eq!(model.weights_digest().len(), 64);
        assert_ne!(first.weights_digest(), model.weights_digest());
        assert!(model.features(&Array2::zeros((2, 100))).is_err());

        // Real test digits: every class present, mostly right, mostly confident.
        let test = data.test.to_flat(Scale::ZeroOne);
        let j = model.judge(&test, Some(data.test.labels())).unwrap();
        assert_eq!(j.counts.iter().sum::<usize>(), data.test.len());
        assert!(j.counts.iter().all(|&c| c > 100), "{:?}", j.counts);
        assert!(j.total_variation < 0.1 && j.kl_from_uniform < 0.05, "{j:?}");
        assert!((j.label_accuracy.unwrap() - acc).abs() < 1e-9);
        assert!(j.mean_confidence > 0.75 && j.confident_fraction > 0.4, "{j:?}");

        // Constant images all land in one class.
        let blank = Array2::from_elem((40, 784), 0.5f32);
        let j = model.judge(&blank, None).unwrap();
        assert_eq!(j.counts.iter().filter(|&&c| c > 0).count(), 1, "{:?}", j.counts);
        assert_eq!(j.max_min_ratio, None);
        assert!((j.total_variation - 0.9).abs() < 1e-12 && (j.kl_from_uniform - 10f64.ln()).abs() < 1e-12);

        let err = model.predict_proba(&Array2::zeros((2, 100))).unwrap_err().to_string();
        assert!(err.contains("expected rows of 784 values (1×28×28 images)"), "{err}");
    }

    /// The CNN takes the same flat rows, learns (10 batches lift it far above chance: measured
    /// 62.8% on the sample's test split with seed 1) and round-trips through its file.
    #[test]
    fn the_cnn_trains_and_loads() {
        let data = sample();
        let options = ClassifierOptions {
            arch: ClassifierArch::Cnn,
            epochs: 1,
            limit_batches: Some(10),
            ..ClassifierOptions::default()
        };
        let mut model = DataClassifier::train(&data, &options, |_| {}).unwrap();
        let acc = model.file().trained.as_ref().unwrap().test_accuracy;
        assert!(acc > 0.4, "CNN test accuracy after 10 batches: {acc}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cnn.safetensors");
        model.save(&path).unwrap();
        let mut loaded = DataClassifier::load(&path).unwrap();
        assert_eq!(loaded.file().arch, ClassifierArch::Cnn);
        let x = data.test.take(20).to_flat(Scale::ZeroOne);
        assert_eq!(loaded.predict_proba(&x).unwrap(), model.predict_proba(&x).unwrap());
    }

    #[test]
    fn judgement_figures_by_hand() {
        let j = Judgement::new(&probs(&[0, 0, 1, 2]), Some(&[0, 1, 1, 2])).unwrap();
        assert_eq!(j.counts, vec![2, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(j.fractions[0], 0.5);
        assert_eq!(j.max_min_ratio, None);
        assert!((j.mean_confidence - 0.91).abs() < 1e-6 && j.confident_fraction == 1.0);
        // ½(|0.5-0.1| + 2·|0.25-0.1| + 7·0.1) = 0.7
        assert!((j.total_variation - 0.7).abs() < 1e-12, "{}", j.total_variation);
        let kl = 0.5 * 5f64.ln() + 0.5 * 2.5f64.ln();
        assert!((j.kl_from_uniform - kl).abs() < 1e-12);
        assert_eq!(j.label_accuracy, Some(0.75));
        let per = j.per_label.unwrap();
        assert_eq!(per.len(), 3);
        assert_eq!((per[1].requested, per[1].correct, per[1].accuracy), (2, 1, 0.5));

        let all: Vec<usize> = (0..10).flat_map(|k| [k, k]).collect();
        let j = Judgement::new(&probs(&all), None).unwrap();
        assert_eq!((j.max_min_ratio, j.total_variation, j.kl_from_uniform), (Some(1.0), 0.0, 0.0));

        assert!(Judgement::new(&Array2::zeros((3, 0)), None).is_err());
        assert!(Judgement::new(&Array2::zeros((0, 10)), None).is_err());
        // Any number of classes: three here.
        let three =
            Judgement::new(&Array2::from_shape_fn((3, 3), |(i, k)| if i == k { 0.9 } else { 0.05 }), None).unwrap();
        assert_eq!((three.counts.clone(), three.max_min_ratio), (vec![1, 1, 1], Some(1.0)));
        assert!(Judgement::new(&probs(&[1]), Some(&[1, 2])).unwrap_err().to_string().contains("one label per image"));
        assert!(
            Judgement::new(&probs(&[1]), Some(&[10])).unwrap_err().to_string().contains("is not one of the 10 classes")
        );
    }

    #[test]
    fn nearest_training_image_of_a_training_image_is_itself() {
        let data = sample();
        let train = data.train.take(3000);
        let picks = [0usize, 17, 2999];
        let images = train.gather(&picks, Scale::ZeroOne).unwrap();
        let nearest = nearest_train(&images, &train).unwrap();
        for (n, &i) in nearest.iter().zip(&picks) {
            assert_eq!(n.distance, 0.0, "{n:?}");
            assert_eq!(train.image(n.index), train.image(i));
        }
        // Against a brute-force search on a few test digits.
        let queries = data.test.take(5).to_flat(Scale::ZeroOne);
        let got = nearest_train_distance(&queries, &train).unwrap();
        let all = train.to_flat(Scale::ZeroOne);
        for (q, &d) in queries.outer_iter().zip(&got) {
            let brute = all.outer_iter().map(|t| (&t - &q).mapv(|v| v * v).sum().sqrt()).fold(f32::INFINITY, f32::min);
            assert!((brute - d).abs() < 1e-4 && d > 1.0, "{brute} vs {d}");
        }
        let s = DistanceSummary::new(&[3.0, 1.0, 2.0, 4.0]).unwrap();
        assert_eq!((s.n, s.mean, s.min, s.median, s.max, s.p5), (4, 2.5, 1.0, 2.0, 4.0, 1.0));
        assert!(DistanceSummary::new(&[]).is_none());
        assert!(nearest_train(&Array2::zeros((1, 3)), &train).is_err());
    }
}
