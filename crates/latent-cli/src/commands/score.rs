//! `latent score`: how close generated samples are to a data set, in numbers that compare
//! across models: the Fréchet distance, KID, precision/recall and density/coverage, computed in
//! the penultimate-layer features of the data set's own classifier (the judge of `latent
//! classify`, trained once and cached per data set), beside the classifier's class balance and
//! confidence and a check for copies of training examples.
//!
//! The samples are read as `latent classify` reads them ([`read_samples`]); the reference is
//! the data's whole test split. Every figure is computed in the judge's features, so figures are
//! comparable only between scores with the same `classifier_digest` (the SHA-256 of the judge's
//! weights, printed with every score) and the same number of samples: the Fréchet distance is
//! biased in `N` (finite sets of one distribution are at a positive distance, shrinking roughly
//! as `1/N`). The convention is [`RECOMMENDED_SAMPLES`]; fewer get a warning.
//!
//! - Fréchet distance ([`latent_stats::frechet`]): between Gaussians fitted to the two sets'
//!   features. Lower is better; 0 for identical statistics.
//! - KID ([`latent_stats::kid`]): the unbiased MMD² with the cubic polynomial kernel, mean and
//!   standard deviation over random subsets (100 of 1000 by default, fewer when a set is
//!   smaller). Lower is better; about 0 for one distribution at any `N`.
//! - precision, recall, density, coverage ([`latent_stats::manifold`], k = 5): fidelity
//!   (precision, density) and diversity (recall, coverage). Higher is better; density is about 1
//!   for alike sets.
//! - copying: the nearest training example of the first `--nearest` samples (pixel space),
//!   beside the same for as many test examples; samples much nearer than test examples are
//!   copies.
//!
//! `latent eval RUN --samples N` draws `N` samples from a run's generator and reports the same
//! figures ([`score_images`]).

use std::path::Path;

use anyhow::{Context, bail};
use latent_data::{Data, Scale};
use latent_models::classifier::{DataClassifier, DistanceSummary, Judgement, nearest_train_distance};
use latent_stats::frechet::frechet_distance;
use latent_stats::kid::{KidOptions, kernel_distance};
use latent_stats::linalg::Moments;
use latent_stats::manifold::precision_recall;
use ndarray::Array2;
use serde::Serialize;

use crate::cli::ScoreArgs;
use crate::commands::classify::{ClassifierReport, NearestReport, RangeReport, obtain_classifier, read_samples};
use crate::commands::{Split, load_data, require_images};

/// The number of samples scores are conventionally computed on (FID's 10,000); below it the
/// Fréchet distance is noticeably biased upwards, and a warning says so.
pub const RECOMMENDED_SAMPLES: usize = 10_000;

/// How a score is computed: the subsets of KID, the neighbours of the manifolds, the copy check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScoreOptions {
    /// KID's subsets.
    pub kid_subsets: usize,
    /// KID's subset size (reduced to the smaller set's size when larger).
    pub kid_subset_size: usize,
    /// The neighbour count of precision, recall, density and coverage.
    pub k: usize,
    /// Samples (the first ones) and test examples searched for their nearest training example;
    /// 0 skips the copy check.
    pub nearest: usize,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions { kid_subsets: 100, kid_subset_size: 1000, k: latent_stats::manifold::DEFAULT_K, nearest: 1000 }
    }
}

/// Everything `latent score` reports (`--json` prints it as one object).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScoreReport {
    /// The samples file (or the run they were drawn from).
    pub samples: String,
    /// The number of samples scored.
    pub n: usize,
    /// The data set compared against.
    pub data: String,
    /// The number of real (test) examples compared against.
    pub reference_n: usize,
    /// The SHA-256 of the judge's weights: scores are comparable only under one digest.
    pub classifier_digest: String,
    /// The width of the features the figures are computed in.
    pub feature_dim: usize,
    /// The Fréchet distance in the judge's features.
    pub fid: f64,
    /// Its part from the means, `‖μ₁ − μ₂‖²`.
    pub fid_mean_term: f64,
    /// Its part from the covariances.
    pub fid_covariance_term: f64,
    /// KID: the mean of the subsets' unbiased MMD².
    pub kid_mean: f64,
    /// KID's standard deviation over subsets.
    pub kid_std: f64,
    /// KID's subsets.
    pub kid_subsets: usize,
    /// KID's subset size.
    pub kid_subset_size: usize,
    /// The neighbour count of the four figures below.
    pub k: usize,
    /// The fraction of samples inside the data's k-NN manifold.
    pub precision: f64,
    /// The fraction of real examples inside the samples' k-NN manifold.
    pub recall: f64,
    /// Naeem et al.'s density (about 1 for alike sets).
    pub density: f64,
    /// Naeem et al.'s coverage.
    pub coverage: f64,
    /// The pixel range of a samples file (absent for samples drawn by `eval`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<RangeReport>,
    /// The judge.
    pub classifier: ClassifierReport,
    /// Class balance and confidence.
    pub judgement: Judgement,
    /// The copy check, unless skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nearest: Option<NearestReport>,
    /// Warnings (too few samples for comparable figures).
    pub warnings: Vec<String>,
}

/// Run `latent score`: score, then print a summary (or JSON).
///
/// # Errors
/// See [`score`].
pub fn run(args: ScoreArgs) -> anyhow::Result<()> {
    let report = score(&args)?;
    print_report(&report, args.json)
}

/// Print a report as text or as one JSON object, and its warnings on stderr.
///
/// # Errors
/// If JSON encoding fails.
pub fn print_report(report: &ScoreReport, json: bool) -> anyhow::Result<()> {
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        print!("{}", render(report));
    }
    Ok(())
}

/// Read the samples, get the data set's judge (training it if needed), and score.
///
/// # Errors
/// If the samples file is missing or has the wrong shape or values, the data cannot be loaded
/// or has no test split, the classifier cannot be read or trained, or an option is out of range.
pub fn score(args: &ScoreArgs) -> anyhow::Result<ScoreReport> {
    let options = ScoreOptions {
        kid_subsets: args.kid_subsets,
        kid_subset_size: args.kid_subset_size,
        k: args.k,
        nearest: args.nearest,
    };
    check_options(&options)?;
    let loaded = load_data(&args.data)?;
    let (images, range) = read_samples(&args.samples, args.range, loaded.spec())?;
    check_count(images.nrows(), &options, &args.samples.display().to_string())?;
    let (mut classifier, path, trained_now) =
        obtain_classifier(&loaded, args.classifier.as_deref(), args.train_classifier, args.classifier_epochs)?;
    let mut report = score_images(
        &images,
        &loaded,
        &mut classifier,
        &path,
        trained_now,
        &options,
        args.samples.display().to_string(),
    )?;
    report.range = Some(range);
    Ok(report)
}

fn check_options(options: &ScoreOptions) -> anyhow::Result<()> {
    if options.kid_subsets == 0 {
        bail!("--kid-subsets must be at least 1");
    }
    if options.kid_subset_size < 2 {
        bail!("--kid-subset-size must be at least 2");
    }
    if options.k == 0 {
        bail!("--k must be at least 1");
    }
    Ok(())
}

/// The fewest samples the options can score (`k + 1`, and 2 for a covariance); an error
/// naming `samples` when `n` is fewer.
fn check_count(n: usize, options: &ScoreOptions, samples: &str) -> anyhow::Result<usize> {
    let needed = (options.k + 1).max(2);
    if n < needed {
        bail!(
            "{samples}: {n} samples; scoring needs at least {needed} (k = {} neighbours, and a covariance), and {RECOMMENDED_SAMPLES} for figures comparable with the literature's",
            options.k
        );
    }
    Ok(needed)
}

/// Score `images` (`[N, D]` as models see them) against `data`'s test split in the features of
/// `classifier` (read from, or written to, `path`).
///
/// # Errors
/// If the data has no test split, there are too few samples or test examples for the options
/// (at least `k + 1` and 2 of each), or a figure cannot be computed.
pub fn score_images(
    images: &Array2<f32>,
    data: &Data,
    classifier: &mut DataClassifier,
    path: &Path,
    trained_now: bool,
    options: &ScoreOptions,
    samples: String,
) -> anyhow::Result<ScoreReport> {
    check_options(options)?;
    require_images(data, Split::Test, "to compare the samples with")?;
    let n = images.nrows();
    let real_n = data.test.len();
    let needed = check_count(n, options, &samples)?;
    if real_n < needed {
        bail!("the test split of {} has {real_n} examples; scoring needs at least {needed}", data.source.name());
    }
    let mut warnings = Vec::new();
    if n < RECOMMENDED_SAMPLES {
        warnings.push(format!(
            "{n} samples: the Fréchet distance is biased upwards at small N (it shrinks roughly as 1/N), so compare it only with scores of {n} samples; {RECOMMENDED_SAMPLES} is the convention"
        ));
    }
    let judgement = classifier.judge(images, None)?;
    let fake = classifier.features(images)?;
    let real = classifier.features(&data.test.to_flat(Scale::ZeroOne))?;
    let frechet = frechet_distance(
        &Moments::of_rows(real.view()).context("the test examples' features")?,
        &Moments::of_rows(fake.view()).context("the samples' features")?,
    )?;
    let subset_size = options.kid_subset_size.min(n).min(real_n);
    let kid =
        kernel_distance(real.view(), fake.view(), &KidOptions { subsets: options.kid_subsets, subset_size, seed: 1 })?;
    let manifold = precision_recall(real.view(), fake.view(), options.k)?;
    let nearest = if options.nearest > 0 {
        require_images(data, Split::Train, "to search for copies of training examples")?;
        let m = options.nearest.min(n);
        let baseline = options.nearest.min(real_n);
        let take = images.slice(ndarray::s![..m, ..]).to_owned();
        let samples = DistanceSummary::new(&nearest_train_distance(&take, &data.train)?)
            .context("the samples' nearest distances are not finite")?;
        let test = data.test.take(baseline).to_flat(Scale::ZeroOne);
        let test_digits = DistanceSummary::new(&nearest_train_distance(&test, &data.train)?)
            .context("the test examples' nearest distances are not finite")?;
        Some(NearestReport { train_examples: data.train.len(), samples, test_digits })
    } else {
        None
    };
    let spec = classifier.spec();
    let classes = spec.classes().unwrap_or(0);
    let file = classifier.file();
    Ok(ScoreReport {
        samples,
        n,
        data: data.source.name(),
        reference_n: real_n,
        classifier_digest: classifier.weights_digest(),
        feature_dim: classifier.feature_dim(),
        fid: frechet.distance,
        fid_mean_term: frechet.mean_term,
        fid_covariance_term: frechet.covariance_term,
        kid_mean: kid.mean,
        kid_std: kid.std,
        kid_subsets: options.kid_subsets,
        kid_subset_size: subset_size,
        k: options.k,
        precision: manifold.precision,
        recall: manifold.recall,
        density: manifold.density,
        coverage: manifold.coverage,
        range: None,
        classifier: ClassifierReport {
            path: path.display().to_string(),
            arch: serde_json::to_value(file.arch)?.as_str().unwrap_or("?").to_string(),
            class_names: (0..classes).map(|k| spec.class_name(k as u8)).collect(),
            trained_now,
            trained: file.trained.clone(),
        },
        judgement,
        nearest,
        warnings,
    })
}

/// The report as a human reads it.
pub fn render(r: &ScoreReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "samples: {}, {} examples, against the {} test examples of {}",
        r.samples, r.n, r.reference_n, r.data
    );
    if let Some(range) = &r.range {
        if range.range == "minus-one-one" {
            let _ = writeln!(out, "  pixel values converted from [-1, 1] ({})", range.decided_by);
        }
        if range.clamped > 0 {
            let _ = writeln!(out, "  {} values outside [0, 1] were clamped", range.clamped);
        }
    }
    let c = &r.classifier;
    let trained = c.trained.as_ref().map_or("untrained".to_string(), |t| {
        format!("trained on {} for {} epochs, test accuracy {:.2}%", t.data, t.epochs, 100.0 * t.test_accuracy)
    });
    let _ = writeln!(out, "judge: {} ({}, {trained}{})", c.path, c.arch, if c.trained_now { ", just now" } else { "" });
    let _ = writeln!(
        out,
        "judge weights digest: {} (features: {} values, penultimate layer)",
        r.classifier_digest, r.feature_dim
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Fréchet distance  {:>10.4}   (means {:.4}, covariances {:.4}; lower is better)",
        r.fid, r.fid_mean_term, r.fid_covariance_term
    );
    let _ = writeln!(
        out,
        "KID               {:>10.5} ± {:.5}   ({} subsets of {}; lower is better)",
        r.kid_mean, r.kid_std, r.kid_subsets, r.kid_subset_size
    );
    let _ = writeln!(out, "precision         {:>10.4}   recall   {:.4}   (k = {})", r.precision, r.recall, r.k);
    let _ = writeln!(out, "density           {:>10.4}   coverage {:.4}", r.density, r.coverage);
    let j = &r.judgement;
    let _ = writeln!(out);
    let fractions: Vec<String> =
        j.fractions.iter().zip(&c.class_names).map(|(f, name)| format!("{name} {:.1}%", 100.0 * f)).collect();
    let _ = writeln!(out, "classes: {}", fractions.join(", "));
    let ratio = j.max_min_ratio.map_or("inf (a class has no sample)".to_string(), |v| format!("{v:.2}"));
    let _ = writeln!(
        out,
        "class balance: max/min count {ratio}, KL from uniform {:.4} nats, total variation {:.4}",
        j.kl_from_uniform, j.total_variation
    );
    let _ = writeln!(
        out,
        "confidence: mean top probability {:.3}, {:.1}% at or above {}",
        j.mean_confidence,
        100.0 * j.confident_fraction,
        j.confident_threshold
    );
    if let Some(nr) = &r.nearest {
        let _ = writeln!(
            out,
            "nearest of {} training examples (pixels): {} samples mean {:.3} min {:.3}; {} test examples mean {:.3} min {:.3}",
            nr.train_examples,
            nr.samples.n,
            nr.samples.mean,
            nr.samples.min,
            nr.test_digits.n,
            nr.test_digits.mean,
            nr.test_digits.min
        );
    }
    out
}
