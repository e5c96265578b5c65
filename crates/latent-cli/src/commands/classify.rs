//! `latent classify`: judge generated samples of any labelled data set with a classifier of
//! that data set ([`latent_models::classifier`]).
//!
//! The data is chosen as for training (`--dataset`, `--data`, ...; MNIST by default). The
//! samples are a float32 `.npy` of `N` examples of the data's shape (`N × D`, or `N × C × H × W`
//! or `N × H × W` for images). Pixel samples are in [0, 1]; samples in [-1, 1] (a GAN's tanh
//! output) are mapped to [0, 1] when `--range minus-one-one` says so, or automatically when a
//! value is below 0 (the output says which); values still outside [0, 1] are clamped and
//! counted. Real-valued samples are in the data's own units (as `latent sample` writes them) and
//! are standardised with the classifier's statistics.
//!
//! The classifier is cached per data set: `classifiers/NAME-DIGEST.safetensors` in the user's
//! data directory, DIGEST being the first 16 hex digits of the training split's
//! [digest](latent_data::Dataset::digest), so different data never share a classifier and the
//! same data always finds its own. When that file is missing, or `--train-classifier` is given,
//! one is trained and written there. `--classifier FILE` names another file; one that does not
//! exist is an error unless `--train-classifier` asks to create it.
//!
//! The report: per class (by name) the count, the fraction and the mean confidence of the
//! samples assigned to it; the mean top probability and the fraction of confident samples; the
//! imbalance (max/min count, KL divergence and total variation from uniform); with `--labels`
//! or `--label`, the accuracy per requested label; with `--nearest`, each sample's Euclidean
//! distance to its nearest training example summarised, beside the same figures for real test
//! examples (the baseline a model that does not copy should resemble).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use latent_data::mnist;
use latent_data::npy::{read_npy, read_npy_info};
use latent_data::{Data, DataSpec, Scale, Source, ValueKind};
use latent_models::classifier::{
    ClassifierOptions, DataClassifier, DistanceSummary, Judgement, TrainingRecord, nearest_train_distance,
};
use ndarray::{Array2, ArrayD, Ix2};
use serde::Serialize;

use crate::cli::{ClassifyArgs, SampleRange};
use crate::commands::{Split, load_data, require_images};

/// The directory of cached classifiers in the user's data directory.
pub const CLASSIFIER_DIR: &str = "classifiers";

/// The cached classifier of `data`: `classifiers/NAME-DIGEST.safetensors` in the user's data
/// directory ([`mnist::data_home`]), or under the current directory if there is none. NAME is
/// the data set's name made safe for a file name, DIGEST the first 16 hex digits of the
/// training split's digest.
pub fn default_classifier_path(data: &Data) -> PathBuf {
    let shown = data.source.name();
    let last = Path::new(&shown).file_name().map_or(shown.clone(), |n| n.to_string_lossy().into_owned());
    let name: String =
        last.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    let digest = data.train.digest();
    let file = format!("{name}-{}.safetensors", &digest[..16]);
    mnist::data_home().unwrap_or_default().join(CLASSIFIER_DIR).join(file)
}

/// How the samples' pixel range was decided.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RangeReport {
    /// `"zero-one"` or `"minus-one-one"`.
    pub range: &'static str,
    /// `"flag"` (from `--range`) or `"auto"`.
    pub decided_by: &'static str,
    /// The smallest value in the file.
    pub min: f32,
    /// The largest value in the file.
    pub max: f32,
    /// Values outside [0, 1] after conversion, clamped.
    pub clamped: usize,
}

/// The classifier used and how it was trained.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassifierReport {
    /// Its file.
    pub path: String,
    /// `"mlp"` or `"cnn"`.
    pub arch: String,
    /// The names of its classes, in label order.
    pub class_names: Vec<String>,
    /// Whether this call trained it.
    pub trained_now: bool,
    /// Its training record.
    pub trained: Option<TrainingRecord>,
}

/// Nearest-training-digit distances of the samples and of real test digits.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NearestReport {
    /// Training digits searched.
    pub train_examples: usize,
    /// The samples' distances.
    pub samples: DistanceSummary,
    /// The first test digits' distances (the baseline).
    pub test_digits: DistanceSummary,
}

/// Everything `latent classify` reports (`--json` prints it as one object).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassifyReport {
    /// The samples file.
    pub samples: String,
    /// The pixel range.
    pub range: RangeReport,
    /// The classifier.
    pub classifier: ClassifierReport,
    /// The verdict.
    pub judgement: Judgement,
    /// With `--nearest`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nearest: Option<NearestReport>,
}

/// Run `latent classify`: judge, then print a table (or JSON).
///
/// # Errors
/// See [`classify`].
pub fn run(args: ClassifyArgs) -> anyhow::Result<()> {
    let json = args.json;
    let report = classify(&args)?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

/// Read the samples, get the classifier (training it if needed), and judge.
///
/// # Errors
/// If the samples or labels file is missing or has the wrong shape or values, the classifier
/// cannot be read or trained, or the data cannot be loaded.
pub fn classify(args: &ClassifyArgs) -> anyhow::Result<ClassifyReport> {
    if args.classifier_epochs == 0 {
        bail!("--classifier-epochs must be at least 1");
    }
    let loaded = load_data(&args.data)?;
    let spec = loaded.spec().clone();
    let classes = spec.classes().context("the data has no labels: a classifier needs labelled data")?;
    let (images, range) = read_samples(&args.samples, args.range, &spec)?;
    let n = images.nrows();
    let expected = match (&args.labels, args.label) {
        (Some(path), _) => Some(read_labels(path, n, classes)?),
        (None, Some(k)) if usize::from(k) >= classes => {
            bail!("--label {k}: expected a label below {classes} (the data's classes: {})", class_list(&spec))
        }
        (None, Some(k)) => Some(vec![k; n]),
        (None, None) => None,
    };
    let (mut classifier, path, trained_now) =
        obtain_classifier(&loaded, args.classifier.as_deref(), args.train_classifier, args.classifier_epochs)?;
    let judgement = classifier.judge(&images, expected.as_deref())?;
    let nearest = if args.nearest {
        let data = &loaded;
        if args.baseline == 0 {
            bail!("--baseline must be at least 1");
        }
        require_images(data, Split::Train, "to search for --nearest")?;
        require_images(data, Split::Test, "to make the --nearest baseline of")?;
        eprintln!(
            "searching {} training examples for the nearest of {} samples and {} test examples",
            data.train.len(),
            n,
            args.baseline.min(data.test.len())
        );
        let samples = DistanceSummary::new(&nearest_train_distance(&images, &data.train)?)
            .context("the samples' nearest distances are not finite")?;
        let baseline_images = data.test.take(args.baseline.min(data.test.len())).to_flat(Scale::ZeroOne);
        let test_digits = DistanceSummary::new(&nearest_train_distance(&baseline_images, &data.train)?)
            .context("the test digits' nearest distances are not finite")?;
        Some(NearestReport { train_examples: data.train.len(), samples, test_digits })
    } else {
        None
    };
    let config = classifier.file();
    Ok(ClassifyReport {
        samples: args.samples.display().to_string(),
        range,
        classifier: ClassifierReport {
            path: path.display().to_string(),
            arch: serde_json::to_value(config.arch)?.as_str().unwrap_or("?").to_string(),
            class_names: (0..classes).map(|k| spec.class_name(k as u8)).collect(),
            trained_now,
            trained: config.trained.clone(),
        },
        judgement,
        nearest,
    })
}

/// The classifier of `loaded`: the file `explicit` names, else the data set's cached one
/// ([`default_classifier_path`]), trained (for `epochs` epochs, reporting each on stderr) and
/// written there when it is missing or `retrain` asks. Returns it, its path, and whether it was
/// trained now.
///
/// # Errors
/// If an explicit file is missing (without `retrain`), the file is not a classifier of this
/// data's shape and classes, or training or saving fails.
pub fn obtain_classifier(
    loaded: &Data,
    explicit: Option<&Path>,
    retrain: bool,
    epochs: usize,
) -> anyhow::Result<(DataClassifier, PathBuf, bool)> {
    if epochs == 0 {
        bail!("--classifier-epochs must be at least 1");
    }
    let spec = loaded.spec().clone();
    let classes = spec.classes().context("the data has no labels: a classifier needs labelled data")?;
    let path = explicit.map_or_else(|| default_classifier_path(loaded), Path::to_path_buf);
    let trained_now = retrain || !path.exists();
    let classifier = if trained_now {
        if explicit.is_some() && !retrain {
            bail!(
                "--classifier {}: no such file; pass --train-classifier to train one and write it there",
                path.display()
            );
        }
        require_images(loaded, Split::Train, "to train the classifier on")?;
        require_images(loaded, Split::Test, "to measure the classifier's accuracy on")?;
        let which = match &loaded.source {
            Source::Named { dataset, .. } => format!("the full {}", dataset.title),
            Source::Sample => {
                "the built-in sample (full MNIST was not found; run `latent fetch mnist` for a better classifier)"
                    .to_string()
            }
            other => other.name(),
        };
        eprintln!(
            "training a classifier of {which} ({} training examples) for {} epochs; it will be saved to {}",
            loaded.train.len(),
            epochs,
            path.display()
        );
        let options = ClassifierOptions { epochs, ..ClassifierOptions::default() };
        let model = DataClassifier::train(loaded, &options, |r| {
            eprintln!(
                "classifier epoch {}/{}: train loss {:.4}, test accuracy {:.2}%",
                r.epoch,
                options.epochs,
                r.train_loss,
                100.0 * r.test_accuracy
            );
        })?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        model.save(&path).with_context(|| format!("saving the classifier to {}", path.display()))?;
        model
    } else {
        let model = DataClassifier::load(&path).with_context(|| format!("--classifier {}", path.display()))?;
        let theirs = model.spec();
        if theirs.shape != spec.shape || theirs.classes() != spec.classes() {
            bail!(
                "--classifier {}: it classifies {} into {} classes, and this data holds {} in {} classes",
                path.display(),
                theirs.shape,
                theirs.classes().unwrap_or(0),
                spec.shape,
                classes
            );
        }
        model
    };
    Ok((classifier, path, trained_now))
}

/// The data's classes as a list for messages: `0, 1, …` or their names.
fn class_list(spec: &DataSpec) -> String {
    let k = spec.classes().unwrap_or(0);
    (0..k).map(|i| format!("{i} {}", spec.class_name(i as u8))).collect::<Vec<_>>().join(", ")
}

/// Read a samples `.npy` of examples of `spec`'s shape as `[N, D]` as models see them: pixels
/// in [0, 1] (converted from [-1, 1] as `range` says), real values standardised.
///
/// # Errors
/// If the file cannot be read, is not float32, has another shape, holds no example, or holds a
/// value that is not finite.
pub fn read_samples(path: &Path, range: SampleRange, spec: &DataSpec) -> anyhow::Result<(Array2<f32>, RangeReport)> {
    if !path.is_file() {
        bail!("{}: no such file (expected the samples as a float32 .npy)", path.display());
    }
    let array: ArrayD<f32> = read_npy(path).with_context(|| format!("reading the samples {}", path.display()))?;
    let shape = array.shape().to_vec();
    let per = spec.shape.len();
    let [c, h, w] = spec.shape.dims();
    let ok = match shape.as_slice() {
        [_, d] => *d == per,
        [_, hh, ww] => c == 1 && (*hh, *ww) == (h, w),
        [_, cc, hh, ww] => (*cc, *hh, *ww) == (c, h, w),
        _ => false,
    };
    if !ok {
        bail!(
            "{}: expected float32 examples of the data's shape ({}): N x {per}{}, found shape {shape:?}",
            path.display(),
            spec.shape,
            if spec.shape.is_image() { format!(" or N x {c} x {h} x {w}") } else { String::new() }
        );
    }
    let n = shape[0];
    if n == 0 {
        bail!("{}: the file holds no images (shape {shape:?})", path.display());
    }
    if let Some(i) = array.iter().position(|v| !v.is_finite()) {
        bail!("{}: value {} at flat position {i} is not finite", path.display(), array.iter().nth(i).expect("found"));
    }
    let mut images =
        array.into_shape_with_order((n, per)).expect("checked shape").into_dimensionality::<Ix2>().expect("2-D");
    let min = images.iter().copied().fold(f32::INFINITY, f32::min);
    let max = images.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if spec.values == ValueKind::Real {
        if let Some(stats) = &spec.standardization {
            stats.apply(images.as_slice_mut().expect("a standard-layout array"));
        }
        return Ok((images, RangeReport { range: "data-units", decided_by: "data", min, max, clamped: 0 }));
    }
    let (minus_one_one, decided_by) = match range {
        SampleRange::Auto => (min < 0.0, "auto"),
        SampleRange::ZeroOne => (false, "flag"),
        SampleRange::MinusOneOne => (true, "flag"),
    };
    if minus_one_one {
        images.mapv_inplace(|v| (v + 1.0) * 0.5);
    }
    let mut clamped = 0;
    images.mapv_inplace(|v| {
        if (0.0..=1.0).contains(&v) {
            v
        } else {
            clamped += 1;
            v.clamp(0.0, 1.0)
        }
    });
    let range =
        RangeReport { range: if minus_one_one { "minus-one-one" } else { "zero-one" }, decided_by, min, max, clamped };
    Ok((images, range))
}

/// Read `n` labels below `classes` from a `.npy` of uint8, int64 or whole-number float32, shape
/// `N` or `N x 1`.
///
/// # Errors
/// If the file cannot be read, has another element type, shape or length, or a label is not
/// one of the classes.
pub fn read_labels(path: &Path, n: usize, classes: usize) -> anyhow::Result<Vec<u8>> {
    let shown = path.display();
    let expected = format!("--labels {shown}: expected a .npy of class labels (uint8, int64 or float32)");
    let info = read_npy_info(path).context(expected.clone())?;
    let (shape, values): (Vec<usize>, Vec<f64>) = if info.is::<u8>() {
        let a = read_npy::<u8>(path).context(expected)?;
        (a.shape().to_vec(), a.iter().map(|&v| f64::from(v)).collect())
    } else if info.is::<i64>() {
        let a = read_npy::<i64>(path).context(expected)?;
        (a.shape().to_vec(), a.iter().map(|&v| v as f64).collect())
    } else if info.is::<f32>() {
        let a = read_npy::<f32>(path).context(expected)?;
        (a.shape().to_vec(), a.iter().map(|&v| f64::from(v)).collect())
    } else {
        bail!("{expected}, found element type {}", info.descr);
    };
    if !matches!(shape.as_slice(), [_] | [_, 1]) || shape[0] != n {
        bail!("--labels {shown}: expected {n} labels (shape [{n}] or [{n}, 1]), one per sample, found shape {shape:?}");
    }
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if v.fract() == 0.0 && v >= 0.0 && v < classes as f64 {
                Ok(v as u8)
            } else {
                bail!("--labels {shown}: label {v} at position {i} is not a class label 0 to {}", classes - 1)
            }
        })
        .collect()
}

fn pct(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

/// The report as a human reads it.
pub fn render(r: &ClassifyReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let j = &r.judgement;
    let range = match (r.range.range, r.range.decided_by) {
        ("zero-one", _) => "pixel values in [0, 1] as given".to_string(),
        ("data-units", _) => "values in the data's units, standardised as the classifier's data".to_string(),
        (_, "auto") => format!("pixel values converted from [-1, 1] (auto: the smallest value is {:.3})", r.range.min),
        _ => "pixel values converted from [-1, 1] (--range minus-one-one)".to_string(),
    };
    let _ = writeln!(out, "samples: {}, {} examples; {range}", r.samples, j.n);
    if r.range.clamped > 0 {
        let _ = writeln!(out, "  {} values outside [0, 1] were clamped", r.range.clamped);
    }
    let c = &r.classifier;
    let trained = c.trained.as_ref().map_or("untrained".to_string(), |t| {
        format!(
            "trained on {} ({} examples, {} epochs, seed {}), test accuracy {:.2}% on {} examples",
            t.data,
            t.train_examples,
            t.epochs,
            t.seed,
            100.0 * t.test_accuracy,
            t.test_examples
        )
    });
    let _ = writeln!(
        out,
        "classifier: {} ({}, {trained}{})",
        c.path,
        c.arch,
        if c.trained_now { ", just now" } else { "" }
    );
    let _ = writeln!(out);
    let with_labels = j.per_label.is_some();
    let width = c.class_names.iter().map(|n| n.chars().count()).max().unwrap_or(0).max(5);
    let _ = write!(out, "{:>width$}   count  fraction  confidence", "class");
    if with_labels {
        let _ = write!(out, "  requested  accuracy");
    }
    let _ = writeln!(out);
    for k in 0..j.counts.len() {
        let name = c.class_names.get(k).cloned().unwrap_or_else(|| k.to_string());
        let _ = write!(
            out,
            "{name:>width$}  {:>6}  {:>8}  {:>10.3}",
            j.counts[k],
            pct(j.fractions[k]),
            j.class_confidence[k]
        );
        if let Some(per) = &j.per_label {
            match per.iter().find(|l| usize::from(l.label) == k) {
                Some(l) => {
                    let _ = write!(out, "  {:>9}  {:>8}", l.requested, pct(l.accuracy));
                }
                None => {
                    let _ = write!(out, "  {:>9}  {:>8}", 0, "-");
                }
            }
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "mean confidence (top probability): {:.3}", j.mean_confidence);
    let _ = writeln!(out, "confident (top probability >= {}): {}", j.confident_threshold, pct(j.confident_fraction));
    let ratio = j.max_min_ratio.map_or("inf (a class has no sample)".to_string(), |v| format!("{v:.2}"));
    let _ = writeln!(
        out,
        "class balance: max/min count {ratio}, KL from uniform {:.4} nats, total variation {:.4}",
        j.kl_from_uniform, j.total_variation
    );
    if let Some(acc) = j.label_accuracy {
        let _ = writeln!(out, "classified as requested: {}", pct(acc));
    }
    if let Some(nr) = &r.nearest {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "distance to the nearest of {} training examples (Euclidean, as models see the values):",
            nr.train_examples
        );
        let _ =
            writeln!(out, "{:<11} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8}", "", "n", "mean", "min", "p5", "median", "max");
        for (name, s) in [("samples", &nr.samples), ("test data", &nr.test_digits)] {
            let _ = writeln!(
                out,
                "{name:<11} {:>6} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
                s.n, s.mean, s.min, s.p5, s.median, s.max
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use latent_data::npy::write_npy;

    /// A fresh directory under the system's temporary directory, removed on drop (this crate
    /// has no temporary-file dependency).
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("latent-classify-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn args(samples: PathBuf) -> ClassifyArgs {
        ClassifyArgs {
            samples,
            classifier: None,
            train_classifier: false,
            classifier_epochs: 1,
            labels: None,
            label: None,
            nearest: false,
            baseline: 200,
            range: SampleRange::Auto,
            json: false,
            data: crate::cli::DataArgs { dataset: Some(crate::cli::DatasetName::MnistSample), ..Default::default() },
        }
    }

    fn sample() -> Data {
        latent_data::sample::load().unwrap()
    }

    fn err(a: &ClassifyArgs) -> String {
        format!("{:#}", classify(a).unwrap_err())
    }

    #[test]
    fn bad_inputs_give_clear_errors() {
        let dir = TempDir::new("errors");
        let missing = dir.path().join("missing.npy");
        let e = err(&args(missing));
        assert!(e.contains("missing.npy: no such file"), "{e}");

        let wrong = dir.path().join("wrong.npy");
        write_npy(&wrong, &Array2::<f32>::zeros((3, 100))).unwrap();
        let e = err(&args(wrong));
        assert!(
            e.contains("expected float32 examples of the data's shape (1×28×28 images): N x 784")
                && e.contains("[3, 100]"),
            "{e}"
        );

        let ints = dir.path().join("ints.npy");
        write_npy(&ints, &Array2::<u8>::zeros((3, 784))).unwrap();
        let e = err(&args(ints));
        assert!(e.contains("element type '<f4' (float32) expected, found '|u1'"), "{e}");

        let ok = dir.path().join("ok.npy");
        write_npy(&ok, &Array2::<f32>::zeros((4, 784))).unwrap();
        let mut a = args(ok.clone());
        a.label = Some(12);
        assert!(err(&a).contains("--label 12: expected a label below 10"), "{}", err(&a));
        let labels = dir.path().join("labels.npy");
        write_npy(&labels, &ndarray::Array1::<u8>::zeros(3)).unwrap();
        let mut a = args(ok.clone());
        a.labels = Some(labels);
        assert!(err(&a).contains("expected 4 labels"), "{}", err(&a));
        let mut a = args(ok);
        a.classifier = Some(dir.path().join("nope.safetensors"));
        assert!(err(&a).contains("no such file; pass --train-classifier"), "{}", err(&a));
    }

    #[test]
    fn samples_in_minus_one_one_are_detected_and_converted() {
        let dir = TempDir::new("range");
        let path = dir.path().join("gan.npy");
        let mut x = ndarray::Array4::<f32>::from_elem((2, 1, 28, 28), -1.0);
        x[[0, 0, 3, 4]] = 1.0;
        x[[1, 0, 0, 0]] = 1.5;
        write_npy(&path, &x).unwrap();
        let (images, range) = read_samples(&path, SampleRange::Auto, &DataSpec::mnist()).unwrap();
        assert_eq!(images.dim(), (2, 784));
        assert_eq!((range.range, range.decided_by, range.clamped), ("minus-one-one", "auto", 1));
        assert_eq!((images[[0, 3 * 28 + 4]], images[[0, 0]], images[[1, 0]]), (1.0, 0.0, 1.0));
        let (_, range) = read_samples(&path, SampleRange::ZeroOne, &DataSpec::mnist()).unwrap();
        assert_eq!((range.range, range.decided_by), ("zero-one", "flag"));
    }

    /// The whole command on real test digits with a classifier trained for one epoch on the
    /// sample: balanced counts, high accuracy against the true labels, the classifier cached,
    /// and real digits as far from the training set as the baseline.
    #[test]
    fn judges_real_test_digits() {
        let dir = TempDir::new("real");
        let data = sample();
        let test = data.test.take(500);
        let samples = dir.path().join("test.npy");
        write_npy(&samples, &test.to_flat(Scale::ZeroOne)).unwrap();
        let labels = dir.path().join("labels.npy");
        write_npy(&labels, &ndarray::Array1::from(test.labels().to_vec())).unwrap();
        let classifier = dir.path().join("c.safetensors");
        let mut a = args(samples);
        a.classifier = Some(classifier.clone());
        a.train_classifier = true;
        a.labels = Some(labels);
        a.nearest = true;
        let r = classify(&a).unwrap();
        assert!(classifier.is_file() && r.classifier.trained_now);
        let j = &r.judgement;
        assert!(j.counts.iter().all(|&c| c >= 20), "{:?}", j.counts);
        assert!(j.label_accuracy.unwrap() > 0.88, "{j:?}");
        assert_eq!(r.range.range, "zero-one");
        let nr = r.nearest.as_ref().unwrap();
        assert_eq!(nr.train_examples, data.train.len());
        // The samples are the first 500 test digits, the baseline the first 200.
        assert!((nr.samples.mean - nr.test_digits.mean).abs() < 0.5 && nr.samples.min > 0.5, "{nr:?}");
        let text = render(&r);
        assert!(text.contains("class   count  fraction  confidence  requested  accuracy"), "{text}");
        assert!(text.contains("test data      200"), "{text}");

        // Reused, not retrained; one digit requested for all.
        a.train_classifier = false;
        a.labels = None;
        a.label = Some(3);
        a.nearest = false;
        let again = classify(&a).unwrap();
        assert!(!again.classifier.trained_now);
        assert_eq!(again.judgement.counts, j.counts);
        let per = again.judgement.per_label.clone().unwrap();
        assert_eq!((per.len(), per[0].label, per[0].requested, per[0].correct), (1, 3, 500, j.counts[3]));
        let json = serde_json::to_value(&again).unwrap();
        assert_eq!(json["judgement"]["n"], 500);
    }
}
