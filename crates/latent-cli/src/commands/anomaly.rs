//! `latent anomaly`: anomaly detection with a trained autoencoder or VAE.
//!
//! A model trained on normal data (`latent train ... --classes K`, or any data) explains normal
//! examples better than others. Every example gets a score, higher meaning more anomalous
//! ([`ScoreKind`]): its reconstruction error (binary cross-entropy summed over pixels, or the
//! squared error summed over real values), a VAE's negative ELBO or negative importance-weighted
//! `log p(x)`, or the squared Mahalanobis distance of its code to the training codes.
//!
//! **The threshold** is fitted on scores of data the model takes as normal: the run's training
//! split, or its validation split when it held one out (`--fit-on`), by a [`ThresholdRule`]
//! (`quantile:0.95` flags the top 5% of such scores). It is stored in the run directory
//! ([`FIT_FILE`], with the weights' digest, so a retrained run is refitted), and later calls use
//! it: `latent anomaly RUN --data new.csv` scores every row of a new file and flags those above
//! it, without the training data.
//!
//! **What is scored**: by default the run's test split with every class (the one-class protocol
//! of Ruff et al. 2018: train on one class, score the whole test set); `--eval unseen` adds the
//! training examples of the classes the run left out; `--data`/`--dataset` score every example of
//! other data, in its own order.
//!
//! **With labels** (`--normal-classes`, `--anomaly-classes`, or the run's `--classes` as the
//! normal ones) it reports ROC-AUC, PR-AUC (average precision, anomalies positive) and the
//! precision, recall, F1 and confusion at the threshold; `--baseline pca` scores PCA's
//! reconstruction error with as many components as the code, fitted and thresholded the same
//! way, so the report says whether the autoencoder beat the linear method.
//!
//! **Files** (in `--out`, default `RUN/anomaly`): `scores.csv` (one row per example: index,
//! split, class, score, flag, truth, baseline score), `histogram.png` (scores of normal and
//! anomalous examples, the threshold), `roc.png` and `pr.png` (with labels), and for images
//! `most-anomalous.png` and `least-anomalous.png`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use latent_data::{Data, DataSpec, Dataset};
use latent_models::run_dir::{MODEL_FILE, RunConfig};
use latent_models::{Model, RunDir};
use latent_stats::mahalanobis::Mahalanobis;
use latent_stats::pca::Pca;
use latent_stats::roc::{self, Confusion};
use latent_tensor::{Tensor, TensorRng};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::cli::{AnomalyArgs, Baseline, DataArgs, EvalSet, FitOn};
use crate::commands::{check_request, class_labels, likelihood_of, load_new_data, load_recorded_data, to_matrix};
use crate::pictures::{image_grid, pr_chart, roc_chart, score_histogram, short_number};

/// The file of a run directory that holds its fitted anomaly thresholds.
pub const FIT_FILE: &str = "anomaly.json";
/// Examples scored at once.
const CHUNK: usize = 1000;
/// Examples in each of the most and least anomalous grids.
const GRID: usize = 32;
/// Draws of `z` for `--score elbo` without a count.
pub const DEFAULT_ELBO_SAMPLES: usize = 10;
/// The most draws `elbo:S` and `iwae:K` take.
pub const MAX_SAMPLES: usize = 100_000;
/// The threshold rule without `--threshold`.
pub const DEFAULT_RULE: ThresholdRule = ThresholdRule::Quantile(0.95);

/// What an example is scored by (higher: more anomalous).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreKind {
    /// The reconstruction error ([`latent_models::ExampleScores`]).
    Recon,
    /// A VAE's negative ELBO, with this many draws of `z`.
    Elbo(usize),
    /// A VAE's negative importance-weighted `log p(x)`, with `K` samples.
    Iwae(usize),
    /// The squared Mahalanobis distance of the code to the training codes.
    Latent,
}

impl FromStr for ScoreKind {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        let count = |name: &str, text: &str| -> anyhow::Result<usize> {
            match text.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_SAMPLES).contains(&n) => Ok(n),
                _ => bail!("{name}:{text}: expected a number of samples between 1 and {MAX_SAMPLES}"),
            }
        };
        let s = s.trim();
        Ok(match s.split_once(':') {
            None if s == "recon" => ScoreKind::Recon,
            None if s == "elbo" => ScoreKind::Elbo(DEFAULT_ELBO_SAMPLES),
            None if s == "latent" => ScoreKind::Latent,
            Some(("elbo", n)) => ScoreKind::Elbo(count("elbo", n)?),
            Some(("iwae", n)) => ScoreKind::Iwae(count("iwae", n)?),
            _ => bail!("unknown score '{s}': expected recon, elbo, elbo:S, iwae:K or latent"),
        })
    }
}

impl fmt::Display for ScoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScoreKind::Recon => f.write_str("recon"),
            ScoreKind::Elbo(s) => write!(f, "elbo:{s}"),
            ScoreKind::Iwae(k) => write!(f, "iwae:{k}"),
            ScoreKind::Latent => f.write_str("latent"),
        }
    }
}

impl ScoreKind {
    /// What the score is, in words, for a model of this likelihood on these values.
    pub fn meaning(self, bernoulli: bool, values: latent_data::ValueKind) -> String {
        let over = if values == latent_data::ValueKind::Pixels { "pixels" } else { "standardised values" };
        match self {
            ScoreKind::Recon if bernoulli => {
                format!("reconstruction error (binary cross-entropy summed over {over}, nats)")
            }
            ScoreKind::Recon => format!("reconstruction error (squared error summed over {over})"),
            ScoreKind::Elbo(s) => format!("negative ELBO (nats; {s} draws of z)"),
            ScoreKind::Iwae(k) => format!("negative log p(x), importance-weighted estimate (nats; K = {k})"),
            ScoreKind::Latent => "squared Mahalanobis distance of the code to the training codes".into(),
        }
    }
}

/// How a threshold is fitted to scores of normal data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ThresholdRule {
    /// The `q`-quantile of the scores: a fraction `1 − q` of normal data is flagged.
    Quantile(f64),
    /// The `(1 − c)`-quantile: for training data with a fraction `c` of anomalies in it.
    Contamination(f64),
    /// A fixed value.
    Value(f64),
}

impl FromStr for ThresholdRule {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        let s = s.trim();
        let fraction = |name: &str, text: &str| -> anyhow::Result<f64> {
            match text.trim().parse::<f64>() {
                Ok(f) if f > 0.0 && f < 1.0 => Ok(f),
                _ => bail!("{name}:{text}: expected a fraction between 0 and 1 (exclusive)"),
            }
        };
        match s.split_once(':') {
            Some(("quantile", q)) => Ok(ThresholdRule::Quantile(fraction("quantile", q)?)),
            Some(("contamination", c)) => Ok(ThresholdRule::Contamination(fraction("contamination", c)?)),
            _ => match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(ThresholdRule::Value(v)),
                _ => bail!("'{s}': expected quantile:Q, contamination:C (fractions between 0 and 1) or a number"),
            },
        }
    }
}

impl fmt::Display for ThresholdRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThresholdRule::Quantile(q) => write!(f, "quantile:{q}"),
            ThresholdRule::Contamination(c) => write!(f, "contamination:{c}"),
            ThresholdRule::Value(v) => write!(f, "{v}"),
        }
    }
}

impl ThresholdRule {
    /// The threshold this rule puts on `scores` of normal data.
    ///
    /// # Errors
    /// If the scores are empty or not finite.
    pub fn apply(self, scores: &[f64]) -> anyhow::Result<f64> {
        Ok(match self {
            ThresholdRule::Quantile(q) => roc::quantile(scores, q)?,
            ThresholdRule::Contamination(c) => roc::quantile(scores, 1.0 - c)?,
            ThresholdRule::Value(v) => v,
        })
    }
}

/// What [`FIT_FILE`] holds: the thresholds fitted for a run, per score.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredFits {
    /// The SHA-256 of the weights (`model.safetensors`) the fits were made with; other
    /// weights are refitted.
    pub weights_sha256: String,
    /// The score used when `--score` is not given: the last one fitted.
    pub default_score: String,
    /// The fit of each score, by its name (`recon`, `elbo:10`, ...).
    pub fits: BTreeMap<String, ScoreFit>,
}

/// A threshold fitted for one score.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScoreFit {
    /// Examples scoring above it are flagged.
    pub threshold: f64,
    /// The rule it was fitted by (`quantile:0.95`).
    pub rule: String,
    /// The examples it was fitted on, in words.
    pub fitted_on: String,
    /// How many.
    pub examples: usize,
    /// The seed of the score's draws (elbo, iwae).
    pub seed: u64,
    /// The scores it was fitted on, summarised.
    pub summary: Summary,
    /// The training codes' mean and spread, for the latent score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent: Option<Mahalanobis>,
}

/// A summary of scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The mean.
    pub mean: f64,
    /// The standard deviation.
    pub std: f64,
    /// The smallest.
    pub min: f64,
    /// The median.
    pub median: f64,
    /// The 95th percentile.
    pub p95: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The largest.
    pub max: f64,
}

impl Summary {
    fn of(scores: &[f64]) -> anyhow::Result<Self> {
        let n = scores.len() as f64;
        let mean = scores.iter().sum::<f64>() / n;
        let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n).sqrt();
        Ok(Summary {
            mean,
            std,
            min: roc::quantile(scores, 0.0)?,
            median: roc::quantile(scores, 0.5)?,
            p95: roc::quantile(scores, 0.95)?,
            p99: roc::quantile(scores, 0.99)?,
            max: roc::quantile(scores, 1.0)?,
        })
    }
}

/// Read a run's [`FIT_FILE`], if it has one.
///
/// # Errors
/// If the file exists but cannot be read or parsed (the message names it).
pub fn read_fits(run: &RunDir) -> anyhow::Result<Option<StoredFits>> {
    let path = run.file(FIT_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let fits = serde_json::from_str(&text).with_context(|| {
        format!("{}: not a file of fitted thresholds (delete it, or refit with --threshold)", path.display())
    })?;
    Ok(Some(fits))
}

/// How the examples scored are judged at a threshold, and overall when labels say which are
/// anomalous.
#[derive(Clone, Debug, Serialize)]
struct Detection {
    threshold: f64,
    threshold_rule: String,
    flagged: usize,
    roc_auc: Option<f64>,
    pr_auc: Option<f64>,
    precision: Option<f64>,
    recall: Option<f64>,
    f1: Option<f64>,
    false_positive_rate: Option<f64>,
    accuracy: Option<f64>,
    confusion: Option<ConfusionReport>,
}

#[derive(Clone, Debug, Serialize)]
struct ConfusionReport {
    true_positives: usize,
    false_positives: usize,
    true_negatives: usize,
    false_negatives: usize,
}

impl Detection {
    fn of(scores: &[f64], truth: Option<&[bool]>, threshold: f64, rule: String) -> anyhow::Result<Self> {
        let flagged = scores.iter().filter(|&&s| s > threshold).count();
        let mut d = Detection {
            threshold,
            threshold_rule: rule,
            flagged,
            roc_auc: None,
            pr_auc: None,
            precision: None,
            recall: None,
            f1: None,
            false_positive_rate: None,
            accuracy: None,
            confusion: None,
        };
        let Some(truth) = truth else { return Ok(d) };
        let both = truth.iter().any(|&t| t) && truth.iter().any(|&t| !t);
        if both {
            d.roc_auc = Some(roc::roc_auc(scores, truth)?);
            d.pr_auc = Some(roc::average_precision(scores, truth)?);
        }
        let c = Confusion::at(scores, truth, threshold)?;
        d.precision = Some(c.precision());
        d.recall = Some(c.recall());
        d.f1 = Some(c.f1());
        d.false_positive_rate = Some(c.false_positive_rate());
        d.accuracy = Some(c.accuracy());
        d.confusion = Some(ConfusionReport {
            true_positives: c.true_positives,
            false_positives: c.false_positives,
            true_negatives: c.true_negatives,
            false_negatives: c.false_negatives,
        });
        Ok(d)
    }
}

#[derive(Serialize)]
struct BaselineReport {
    method: &'static str,
    components: usize,
    explained_variance: f64,
    #[serde(flatten)]
    detection: Detection,
}

#[derive(Serialize)]
struct Report {
    run: String,
    model: String,
    score: String,
    score_meaning: String,
    data: String,
    evaluated: String,
    n: usize,
    n_normal: Option<usize>,
    n_anomalous: Option<usize>,
    normal_classes: Option<Vec<String>>,
    anomalous_classes: Option<Vec<String>>,
    fitted_on: String,
    fit_examples: usize,
    /// Whether the threshold was fitted by this call (and stored), rather than read back.
    fitted_now: bool,
    #[serde(flatten)]
    detection: Detection,
    baseline: Option<BaselineReport>,
    out: String,
}

/// The examples scored: their values, labels, split names and the data's spec.
struct Scored {
    set: Dataset,
    splits: Vec<&'static str>,
    name: String,
    evaluated: String,
}

/// Run `latent anomaly`.
///
/// # Errors
/// If the run or data cannot be loaded, the flags do not fit the model or the data, or a file
/// cannot be written.
pub fn run(args: AnomalyArgs) -> anyhow::Result<()> {
    let dir = RunDir::open(&args.run).with_context(|| format!("latent anomaly {}", args.run.display()))?;
    let (mut model, config) = dir.load_model()?;
    let description = config.model.describe()?;
    if model.example_scores().is_none() {
        bail!(
            "{} is a {} ({}), which does not reconstruct its input: anomaly scores need an autoencoder or a VAE",
            args.run.display(),
            config.model.kind(),
            config.preset
        );
    }
    let weights = hex(&latent_data::content_sha256(dir.file(MODEL_FILE))?);
    let mut stored = read_fits(&dir)?;
    if stored.as_ref().is_some_and(|s| s.weights_sha256 != weights) {
        eprintln!(
            "note: the weights changed since {} was written (the run was trained further): its thresholds are refitted",
            dir.file(FIT_FILE).display()
        );
        stored = None;
    }
    let score: ScoreKind = match (&args.score, &stored) {
        (Some(s), _) => s.parse().context("--score")?,
        (None, Some(s)) => s.default_score.parse().with_context(|| format!("{}: default_score", FIT_FILE))?,
        (None, None) => ScoreKind::Recon,
    };
    if matches!(score, ScoreKind::Elbo(_) | ScoreKind::Iwae(_)) && model.likelihood().is_none() {
        bail!(
            "--score {score}: the ELBO and log p(x) are a VAE's; {} is a {} ({}): use --score recon or latent",
            args.run.display(),
            config.model.kind(),
            config.preset
        );
    }
    let rule: Option<ThresholdRule> = args.threshold.as_deref().map(str::parse).transpose().context("--threshold")?;
    let existing = stored.as_ref().and_then(|s| s.fits.get(&score.to_string())).cloned();
    let must_fit = rule.is_some() || existing.is_none();
    let rule = rule.unwrap_or(DEFAULT_RULE);
    let new_data = args.data.names_data();

    // The run's own data with every class: to fit on (its training classes), to score by default.
    let own = if must_fit || args.baseline.is_some() || !new_data {
        let own_args = if new_data { DataArgs::default() } else { DataArgs { classes: None, ..args.data.clone() } };
        let base = latent_data::LoadOptions { classes: None, ..config.data.load.clone() };
        Some(load_recorded_data(&own_args, &config.data, base).context("the run's own data")?)
    } else {
        None
    };
    let basis = own.as_ref().map(|own| FitBasis::new(own, &config, args.fit_on)).transpose()?;

    let scale = description.scale;
    let conditional = model.classes().is_some();
    let check = |what: String, n: usize| check_scoring(&config, description.input_dim, what, n);
    let fit = if must_fit {
        let basis = basis.as_ref().expect("the run's data is loaded to fit");
        fit_score(&mut *model, &config, score, basis, rule, args.seed)?
    } else {
        existing.clone().expect("a stored fit when none is made")
    };
    if must_fit || stored.as_ref().is_none_or(|s| s.default_score != score.to_string()) {
        let mut all = stored.unwrap_or(StoredFits {
            weights_sha256: weights.clone(),
            default_score: String::new(),
            fits: BTreeMap::new(),
        });
        all.default_score = score.to_string();
        all.fits.insert(score.to_string(), fit.clone());
        let mut text = serde_json::to_string_pretty(&all)?;
        text.push('\n');
        latent_fsio::write_bytes(dir.file(FIT_FILE), text.as_bytes())?;
    }

    // What is scored.
    let scored = match &own {
        Some(own) if !new_data => own_eval_set(own, &config, &args)?,
        _ => {
            let (set, name) = load_new_data(&args.data, &config.data)?;
            let n = set.len();
            Scored { set, splits: vec!["new"; n], evaluated: format!("every example of {name}"), name }
        }
    };
    let n = scored.set.len();
    if n == 0 {
        bail!("no examples to score in {}", scored.name);
    }
    check(format!("scoring {n} examples"), n)?;
    let x = scored.set.to_flat(scale);
    let labels = labels_of(&scored.set, conditional);
    let scores = score_rows(&mut *model, score, &x, labels, fit.latent.as_ref(), args.seed)?;

    // Which are anomalous, when the labels say.
    let spec = scored.set.spec().clone();
    let truth = ground_truth(&args, &config, &spec, scored.set.labels())?;
    let anomalous: Option<Vec<bool>> =
        truth.as_ref().map(|t| scored.set.labels().iter().map(|&l| t.anomalous(l)).collect());
    let detection = Detection::of(&scores, anomalous.as_deref(), fit.threshold, fit.rule.clone())?;

    let baseline = match args.baseline {
        Some(Baseline::Pca) => {
            let basis = basis.as_ref().expect("the run's data is loaded for the baseline");
            let k = description.latent_dim.min(description.input_dim);
            let pca = Pca::fit(basis.train_part.to_flat(scale).view(), k).context("fitting the PCA baseline")?;
            let fit_scores = pca.reconstruction_errors(basis.fit_set.to_flat(scale).view())?;
            let threshold = rule.apply(&fit_scores)?;
            let eval = pca.reconstruction_errors(x.view())?;
            let detection = Detection::of(&eval, anomalous.as_deref(), threshold, rule.to_string())?;
            Some((
                BaselineReport {
                    method: "pca",
                    components: k,
                    explained_variance: pca.explained_variance_ratio().sum(),
                    detection,
                },
                eval,
            ))
        }
        None => None,
    };

    let out = args.out.clone().unwrap_or_else(|| default_out(&args.run, new_data.then_some(scored.name.as_str())));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    write_scores_csv(
        &out.join("scores.csv"),
        &scored,
        &spec,
        &scores,
        fit.threshold,
        anomalous.as_deref(),
        baseline.as_ref().map(|b| b.1.as_slice()),
    )?;
    let meaning = score.meaning(likelihood_of(&config) == Some(latent_models::Likelihood::Bernoulli), spec.values);
    draw(&out, &scored, &x, &scores, &fit, anomalous.as_deref(), baseline.as_ref(), &score.to_string())?;

    let names = |keep: &dyn Fn(u8) -> bool| -> Option<Vec<String>> {
        spec.class_names.as_ref().map(|c| (0..c.len() as u8).filter(|&l| keep(l)).map(|l| spec.class_name(l)).collect())
    };
    let report = Report {
        run: args.run.display().to_string(),
        model: config.preset.clone(),
        score: score.to_string(),
        score_meaning: meaning,
        data: scored.name.clone(),
        evaluated: scored.evaluated.clone(),
        n,
        n_normal: anomalous.as_ref().map(|a| a.iter().filter(|&&t| !t).count()),
        n_anomalous: anomalous.as_ref().map(|a| a.iter().filter(|&&t| t).count()),
        normal_classes: truth.as_ref().and_then(|t| names(&|l| !t.anomalous(l))),
        anomalous_classes: truth.as_ref().and_then(|t| names(&|l| t.anomalous(l))),
        fitted_on: fit.fitted_on.clone(),
        fit_examples: fit.examples,
        fitted_now: must_fit,
        detection,
        baseline: baseline.map(|b| b.0),
        out: out.display().to_string(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report, &fit);
    }
    Ok(())
}

/// Refuse to score `n` examples if holding them would pass the run's memory bound.
fn check_scoring(config: &RunConfig, width: usize, what: String, n: usize) -> anyhow::Result<()> {
    check_request(config, || what, CHUNK.min(n), n.saturating_mul(width))
}

/// Fit a threshold for `score` by `rule` on the scores of `basis.fit_set` (the latent score's
/// Gaussian on the codes of `basis.train_part`), draws seeded by `seed`.
fn fit_score(
    model: &mut dyn Model,
    config: &RunConfig,
    score: ScoreKind,
    basis: &FitBasis,
    rule: ThresholdRule,
    seed: u64,
) -> anyhow::Result<ScoreFit> {
    let description = config.model.describe()?;
    let (scale, conditional) = (description.scale, model.classes().is_some());
    let n = basis.fit_set.len();
    check_scoring(config, description.input_dim, format!("scoring {n} examples to fit the threshold"), n)?;
    let latent = if score == ScoreKind::Latent {
        let codes = encode_all(model, &basis.train_part.to_flat(scale), labels_of(&basis.train_part, conditional))?;
        Some(Mahalanobis::fit(codes.view()).context("fitting the training codes' distribution")?)
    } else {
        None
    };
    let x = basis.fit_set.to_flat(scale);
    let fit_scores = score_rows(model, score, &x, labels_of(&basis.fit_set, conditional), latent.as_ref(), seed)?;
    Ok(ScoreFit {
        threshold: rule.apply(&fit_scores)?,
        rule: rule.to_string(),
        fitted_on: basis.fit_name.clone(),
        examples: fit_scores.len(),
        seed,
        summary: Summary::of(&fit_scores)?,
        latent,
    })
}

/// The score and threshold `latent anomaly RUN` uses without flags, for callers that only read
/// the run (`latent serve`).
#[derive(Clone, Debug)]
pub struct DefaultFit {
    /// The score.
    pub score: ScoreKind,
    /// Its threshold, how it was fitted, and the scores it was fitted on, summarised.
    pub fit: ScoreFit,
    /// Whether it was read from the run's [`FIT_FILE`] (else fitted now, and not stored).
    pub stored: bool,
    /// What the score is, in words.
    pub meaning: String,
}

/// The run's stored default score and its threshold when [`FIT_FILE`] was written for the
/// present weights; else the reconstruction error with a threshold fitted now by
/// [`DEFAULT_RULE`] on the training split of `own` (the run's data, as the model saw it),
/// without writing to the run.
///
/// # Errors
/// If the model does not reconstruct its input, the stored file cannot be read, or scoring fails.
pub fn default_fit(dir: &RunDir, model: &mut dyn Model, config: &RunConfig, own: &Data) -> anyhow::Result<DefaultFit> {
    if model.example_scores().is_none() {
        bail!(
            "a {} ({}) does not reconstruct its input: anomaly scores need an autoencoder or a VAE",
            config.model.kind(),
            config.preset
        );
    }
    let bernoulli = likelihood_of(config) == Some(latent_models::Likelihood::Bernoulli);
    let weights = hex(&latent_data::content_sha256(dir.file(MODEL_FILE))?);
    let stored = read_fits(dir)?.filter(|s| s.weights_sha256 == weights);
    if let Some(stored) = stored {
        let score: ScoreKind = stored.default_score.parse().with_context(|| format!("{}: default_score", FIT_FILE))?;
        if let Some(fit) = stored.fits.get(&stored.default_score) {
            let usable = score != ScoreKind::Latent || fit.latent.is_some();
            if usable && (model.likelihood().is_some() || matches!(score, ScoreKind::Recon | ScoreKind::Latent)) {
                let meaning = score.meaning(bernoulli, own.spec().values);
                return Ok(DefaultFit { score, fit: fit.clone(), stored: true, meaning });
            }
        }
    }
    let basis = FitBasis::new(own, config, FitOn::Auto)?;
    let fit = fit_score(model, config, ScoreKind::Recon, &basis, DEFAULT_RULE, 0)?;
    Ok(DefaultFit {
        score: ScoreKind::Recon,
        fit,
        stored: false,
        meaning: ScoreKind::Recon.meaning(bernoulli, own.spec().values),
    })
}

/// The run's training data as the model saw it, and the part of it a threshold is fitted on.
struct FitBasis {
    /// The examples the model trained on (its classes; the validation part held out).
    train_part: Dataset,
    /// The examples the threshold is fitted on.
    fit_set: Dataset,
    /// `fit_set` in words.
    fit_name: String,
}

impl FitBasis {
    fn new(own: &Data, config: &RunConfig, fit_on: FitOn) -> anyhow::Result<Self> {
        let train = match &config.data.load.classes {
            Some(names) => own.train.filter_labels(&class_labels(own.spec(), names, "the run's --classes")?),
            None => own.train.clone(),
        };
        let val_fraction = config.train.val_fraction;
        let use_val = match fit_on {
            FitOn::Auto => val_fraction > 0.0,
            FitOn::Train => false,
            FitOn::Val if val_fraction > 0.0 => true,
            FitOn::Val => bail!("--fit-on val: the run held no validation split out (train it with --val-fraction)"),
        };
        let classes =
            config.data.load.classes.as_ref().map(|c| format!(" (classes {})", c.join(","))).unwrap_or_default();
        // The trainer's own split (the same fraction and seed): the model saw only its first part.
        let (train_part, val) = if val_fraction > 0.0 {
            let (t, v) = train.split(val_fraction, config.train.seed)?;
            (t, Some(v))
        } else {
            (train, None)
        };
        Ok(match val {
            Some(val) if use_val => {
                FitBasis { train_part, fit_set: val, fit_name: format!("the run's validation split{classes}") }
            }
            _ => FitBasis {
                fit_set: train_part.clone(),
                train_part,
                fit_name: format!("the run's training split{classes}"),
            },
        })
    }
}

/// The run's own examples to score: the test split with every class (or `--classes`), plus,
/// with `--eval unseen`, the training examples of the classes the run left out.
fn own_eval_set(own: &Data, config: &RunConfig, args: &AnomalyArgs) -> anyhow::Result<Scored> {
    let mut set = own.test.clone();
    let mut splits = vec!["test"; set.len()];
    let mut evaluated = "the test split".to_string();
    if args.eval_set == EvalSet::Unseen {
        let Some(names) = &config.data.load.classes else {
            bail!(
                "--eval unseen: the run trained on every class (no --classes), so none of its training examples is unseen"
            );
        };
        let trained = class_labels(own.spec(), names, "the run's --classes")?;
        let unseen: Vec<u8> = (0..own.spec().classes().unwrap_or(256).min(256))
            .map(|l| l as u8)
            .filter(|l| !trained.contains(l))
            .collect();
        let extra = own.train.filter_labels(&unseen);
        splits.extend(std::iter::repeat_n("train", extra.len()));
        set = set.concat(&extra)?;
        evaluated = format!("the test split and the {} training examples of the classes left out", extra.len());
    }
    if let Some(names) = &args.data.classes {
        let keep = class_labels(set.spec(), names, "--classes")?;
        let indices: Vec<usize> = (0..set.len()).filter(|&i| keep.contains(&set.labels()[i])).collect();
        splits = indices.iter().map(|&i| splits[i]).collect();
        set = set.subset(&indices)?;
        evaluated = format!("{evaluated}, classes {}", names.join(","));
    }
    Ok(Scored { set, splits, name: own.source.name(), evaluated })
}

/// Which labels are anomalous.
enum Truth {
    Normal(Vec<u8>),
    Anomalous(Vec<u8>),
}

impl Truth {
    fn anomalous(&self, label: u8) -> bool {
        match self {
            Truth::Normal(n) => !n.contains(&label),
            Truth::Anomalous(a) => a.contains(&label),
        }
    }
}

/// The ground truth the flags (or the run's `--classes`) give for data described by `spec`.
fn ground_truth(
    args: &AnomalyArgs,
    config: &RunConfig,
    spec: &DataSpec,
    labels: &[u8],
) -> anyhow::Result<Option<Truth>> {
    if let Some(names) = &args.normal_classes {
        return Ok(Some(Truth::Normal(class_labels(spec, names, "--normal-classes")?)));
    }
    if let Some(names) = &args.anomaly_classes {
        return Ok(Some(Truth::Anomalous(class_labels(spec, names, "--anomaly-classes")?)));
    }
    let Some(names) = &config.data.load.classes else { return Ok(None) };
    let names: Vec<&str> = names.iter().map(|n| n.trim()).collect();
    match &spec.class_names {
        // Classes by name: those the run trained on are normal, whichever of them the data has.
        Some(classes) => Ok(Some(Truth::Normal(
            classes.iter().enumerate().filter(|(_, c)| names.contains(&c.as_str())).map(|(i, _)| i as u8).collect(),
        ))),
        // Unnamed classes: by label number, unless the run's are names (the data is unlabelled).
        None => match names.iter().map(|n| n.parse::<u8>()).collect::<Result<Vec<u8>, _>>() {
            Ok(normal) if normal.contains(&0) || labels.iter().any(|&l| l != 0) => Ok(Some(Truth::Normal(normal))),
            _ => Ok(None),
        },
    }
}

/// Labels for a conditional model (which needs them), else none.
fn labels_of(set: &Dataset, conditional: bool) -> Option<&[u8]> {
    conditional.then(|| set.labels())
}

/// The codes of the rows of `x`, [`CHUNK`] at a time.
fn encode_all(model: &mut dyn Model, x: &Array2<f32>, labels: Option<&[u8]>) -> anyhow::Result<Array2<f32>> {
    let encoder = model.encoder().context("the model has no encoder")?;
    let mut parts = Vec::new();
    for (i, chunk) in x.axis_chunks_iter(ndarray::Axis(0), CHUNK).enumerate() {
        let l = labels.map(|l| &l[i * CHUNK..i * CHUNK + chunk.nrows()]);
        parts.push(to_matrix(&encoder.encode(&Tensor::new(chunk.to_owned()), l)?));
    }
    Ok(crate::pictures::stack_rows(&parts))
}

/// The score of each row of `x` (higher: more anomalous), a thousand rows at a time; draws
/// (elbo, iwae) from a generator seeded by `seed`, so the same rows give the same scores.
pub fn score_rows(
    model: &mut dyn Model,
    kind: ScoreKind,
    x: &Array2<f32>,
    labels: Option<&[u8]>,
    latent: Option<&Mahalanobis>,
    seed: u64,
) -> anyhow::Result<Vec<f64>> {
    if kind == ScoreKind::Latent {
        let codes = encode_all(model, x, labels)?;
        let fit = latent.context("the latent score needs the training codes' fit")?;
        return Ok(fit.squared_distances(codes.view())?);
    }
    let mut rng = TensorRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(x.nrows());
    for (i, chunk) in x.axis_chunks_iter(ndarray::Axis(0), CHUNK).enumerate() {
        let chunk = chunk.to_owned();
        let l = labels.map(|l| &l[i * CHUNK..i * CHUNK + chunk.nrows()]);
        let part = match kind {
            ScoreKind::Recon => model.example_scores().expect("checked").reconstruction_error(&chunk, l)?,
            ScoreKind::Elbo(s) => {
                model.likelihood().expect("checked").elbo(&chunk, l, s, &mut rng)?.into_iter().map(|v| -v).collect()
            }
            ScoreKind::Iwae(k) => model
                .likelihood()
                .expect("checked")
                .log_likelihood(&chunk, l, k, CHUNK, &mut rng)?
                .into_iter()
                .map(|v| -v)
                .collect(),
            ScoreKind::Latent => unreachable!("handled above"),
        };
        out.extend(part);
    }
    if let Some(i) = out.iter().position(|v| !v.is_finite()) {
        bail!("the score of example {i} is {} (the model's output is not finite there)", out[i]);
    }
    Ok(out)
}

/// `RUN/anomaly`, or `RUN/anomaly-NAME` for new data named NAME.
fn default_out(run: &Path, new_data: Option<&str>) -> PathBuf {
    match new_data {
        None => run.join("anomaly"),
        Some(name) => {
            let stem = Path::new(name).file_stem().map_or(name.to_string(), |s| s.to_string_lossy().into_owned());
            let safe: String =
                stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
            run.join(format!("anomaly-{safe}"))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn write_scores_csv(
    path: &Path,
    scored: &Scored,
    spec: &DataSpec,
    scores: &[f64],
    threshold: f64,
    anomalous: Option<&[bool]>,
    baseline: Option<&[f64]>,
) -> anyhow::Result<()> {
    use std::fmt::Write;
    let mut text = String::from("index,split,class,score,flagged");
    if anomalous.is_some() {
        text.push_str(",anomalous");
    }
    if baseline.is_some() {
        text.push_str(",pca_score");
    }
    text.push('\n');
    let labelled = spec.class_names.is_some();
    for (i, &s) in scores.iter().enumerate() {
        let class = if labelled { csv_field(&spec.class_name(scored.set.labels()[i])) } else { String::new() };
        let _ = write!(text, "{i},{},{class},{s},{}", scored.splits[i], u8::from(s > threshold));
        if let Some(a) = anomalous {
            let _ = write!(text, ",{}", u8::from(a[i]));
        }
        if let Some(b) = baseline {
            let _ = write!(text, ",{}", b[i]);
        }
        text.push('\n');
    }
    latent_fsio::write_bytes(path, text.as_bytes())?;
    Ok(())
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

#[allow(clippy::too_many_arguments)]
fn draw(
    out: &Path,
    scored: &Scored,
    x: &Array2<f32>,
    scores: &[f64],
    fit: &ScoreFit,
    anomalous: Option<&[bool]>,
    baseline: Option<&(BaselineReport, Vec<f64>)>,
    score: &str,
) -> anyhow::Result<()> {
    let title = format!("{score} scores of {}", scored.name);
    let chart = match anomalous {
        Some(a) => {
            let normal: Vec<f64> = scores.iter().zip(a).filter(|(_, t)| !**t).map(|(s, _)| *s).collect();
            let anomal: Vec<f64> = scores.iter().zip(a).filter(|(_, t)| **t).map(|(s, _)| *s).collect();
            score_histogram(&title, score, &[("normal", &normal), ("anomalous", &anomal)], Some(fit.threshold))
        }
        None => score_histogram(&title, score, &[("all", scores)], Some(fit.threshold)),
    };
    chart.write_png(out.join("histogram.png"))?;
    if let Some(a) = anomalous
        && a.iter().any(|&t| t)
        && a.iter().any(|&t| !t)
    {
        let model_roc = roc::roc_curve(scores, a)?;
        let model_pr = roc::pr_curve(scores, a)?;
        let auc = roc::roc_auc(scores, a)?;
        let ap = roc::average_precision(scores, a)?;
        let mut rocs =
            vec![(format!("{score} (AUC {auc:.4})"), model_roc.false_positive_rate, model_roc.true_positive_rate)];
        let mut prs = vec![(format!("{score} (AP {ap:.4})"), model_pr.recall, model_pr.precision)];
        if let Some((b, eval)) = baseline {
            let r = roc::roc_curve(eval, a)?;
            let p = roc::pr_curve(eval, a)?;
            rocs.push((
                format!("PCA k={} (AUC {:.4})", b.components, b.detection.roc_auc.unwrap_or(f64::NAN)),
                r.false_positive_rate,
                r.true_positive_rate,
            ));
            prs.push((
                format!("PCA k={} (AP {:.4})", b.components, b.detection.pr_auc.unwrap_or(f64::NAN)),
                p.recall,
                p.precision,
            ));
        }
        let curves: Vec<(String, &[f64], &[f64])> =
            rocs.iter().map(|(n, x, y)| (n.clone(), x.as_slice(), y.as_slice())).collect();
        roc_chart(&format!("ROC, {}", scored.name), &curves).write_png(out.join("roc.png"))?;
        let curves: Vec<(String, &[f64], &[f64])> =
            prs.iter().map(|(n, x, y)| (n.clone(), x.as_slice(), y.as_slice())).collect();
        let positive = a.iter().filter(|&&t| t).count() as f64 / a.len() as f64;
        pr_chart(&format!("precision-recall, anomalies positive, {}", scored.name), &curves, positive)
            .write_png(out.join("pr.png"))?;
    }
    let shape = scored.set.spec().shape;
    if shape.is_image() {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let k = GRID.min(order.len());
        let pick = |idx: &[usize]| Array2::from_shape_fn((idx.len(), x.ncols()), |(r, c)| x[[idx[r], c]]);
        let most: Vec<usize> = order[..k].to_vec();
        let least: Vec<usize> = order[order.len() - k..].iter().rev().copied().collect();
        for (name, idx, words) in [("most-anomalous.png", &most, "highest"), ("least-anomalous.png", &least, "lowest")]
        {
            let (lo, hi) = (scores[idx[idx.len() - 1]], scores[idx[0]]);
            let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
            image_grid(shape)
                .cols(8)
                .title(format!("the {k} {words} {score} scores ({} to {})", short_number(lo), short_number(hi)))
                .write_png(out.join(name), &pick(idx))?;
        }
    }
    Ok(())
}

fn print_report(r: &Report, fit: &ScoreFit) {
    println!("{} ({}): {} examples, {}", r.run, r.model, r.n, r.evaluated);
    println!("score      {}: {}", r.score, r.score_meaning);
    let when = if r.fitted_now { "fitted now and stored" } else { "stored" };
    println!(
        "threshold  {} = {} of {} scores of {} ({when}; their median {}, 99th percentile {})",
        short_number(r.detection.threshold),
        r.detection.threshold_rule,
        r.fit_examples,
        r.fitted_on,
        short_number(fit.summary.median),
        short_number(fit.summary.p99)
    );
    println!("flagged    {} of {} ({:.1}%)", r.detection.flagged, r.n, 100.0 * r.detection.flagged as f64 / r.n as f64);
    match (r.n_normal, r.n_anomalous) {
        (Some(normal), Some(anomalous)) => {
            let list = |v: &Option<Vec<String>>| v.as_ref().map(|v| format!(" ({})", v.join(","))).unwrap_or_default();
            println!(
                "truth      {normal} normal{}, {anomalous} anomalous{}",
                list(&r.normal_classes),
                list(&r.anomalous_classes)
            );
            print_detection("", &r.detection, anomalous as f64 / r.n as f64);
        }
        _ => println!(
            "truth      unknown (no labels: give --normal-classes or --anomaly-classes for ROC-AUC and PR-AUC)"
        ),
    }
    if let Some(b) = &r.baseline {
        println!(
            "baseline   PCA, {} components ({:.1}% of the variance), its threshold {} by the same rule",
            b.components,
            100.0 * b.explained_variance,
            short_number(b.detection.threshold)
        );
        if let (Some(normal), Some(anomalous)) = (r.n_normal, r.n_anomalous) {
            print_detection("  PCA ", &b.detection, anomalous as f64 / (normal + anomalous) as f64);
            if let (Some(model), Some(pca)) = (r.detection.roc_auc, b.detection.roc_auc) {
                let verdict = if model > pca {
                    "beats"
                } else if model < pca {
                    "does not beat"
                } else {
                    "ties"
                };
                println!("verdict    the model {verdict} PCA: ROC-AUC {model:.4} against {pca:.4}");
            }
        }
    }
    println!("wrote      {}: scores.csv and pictures", r.out);
}

fn print_detection(prefix: &str, d: &Detection, positive_fraction: f64) {
    if let (Some(auc), Some(ap)) = (d.roc_auc, d.pr_auc) {
        println!("{prefix}ROC-AUC {auc:.4}   PR-AUC (average precision) {ap:.4}, chance {positive_fraction:.4}");
    }
    if let (Some(p), Some(rc), Some(f1), Some(fpr), Some(c)) =
        (d.precision, d.recall, d.f1, d.false_positive_rate, &d.confusion)
    {
        println!(
            "{prefix}at the threshold: precision {p:.4}, recall {rc:.4}, F1 {f1:.4}, false positive rate {fpr:.4}"
        );
        println!(
            "{prefix}confusion: {} anomalies flagged, {} missed; {} normal flagged, {} passed",
            c.true_positives, c.false_negatives, c.false_positives, c.true_negatives
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_rules_parse_and_print_back() {
        for s in ["recon", "elbo:3", "iwae:100", "latent"] {
            assert_eq!(s.parse::<ScoreKind>().unwrap().to_string(), s);
        }
        assert_eq!("elbo".parse::<ScoreKind>().unwrap(), ScoreKind::Elbo(DEFAULT_ELBO_SAMPLES));
        for bad in ["iwae", "iwae:0", "elbo:x", "mse", "recon:2"] {
            assert!(bad.parse::<ScoreKind>().is_err(), "{bad}");
        }
        assert_eq!("quantile:0.99".parse::<ThresholdRule>().unwrap(), ThresholdRule::Quantile(0.99));
        assert_eq!("contamination:0.05".parse::<ThresholdRule>().unwrap(), ThresholdRule::Contamination(0.05));
        assert_eq!("12.5".parse::<ThresholdRule>().unwrap(), ThresholdRule::Value(12.5));
        for bad in ["quantile:1", "quantile:", "contamination:-0.1", "nan", "high"] {
            assert!(bad.parse::<ThresholdRule>().is_err(), "{bad}");
        }
        let scores: Vec<f64> = (0..=100).map(f64::from).collect();
        assert_eq!(ThresholdRule::Quantile(0.95).apply(&scores).unwrap(), 95.0);
        assert_eq!(ThresholdRule::Contamination(0.1).apply(&scores).unwrap(), 90.0);
    }
}
