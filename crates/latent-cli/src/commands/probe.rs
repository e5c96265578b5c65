//! `latent probe`: how much of the labels a model's codes hold, by a linear probe.
//!
//! A multinomial logistic regression ([`latent_stats::logistic`], L2 penalty `--l2`, features
//! standardised on the labelled examples) is trained on the codes of `N` labelled training
//! examples per class and its accuracy measured on the whole test split; beside it, the same
//! probe on the raw inputs, and on PCA coordinates of the code's size (PCA fitted on every
//! training example, without labels, as the model was trained). `N` below `all` is drawn
//! `--repeats` times (seeded), and the mean and standard deviation reported: with ten labels
//! per class, which ten matters.

use anyhow::{Context, bail};
use latent_data::Scale;
use latent_models::{Model, RunDir};
use latent_stats::logistic::{LogisticOptions, LogisticRegression};
use latent_tensor::Tensor;
use ndarray::{Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::cli::ProbeArgs;
use crate::commands::pca::fit_on_training;
use crate::commands::{Split, check_request, load_data_for_run, require_images, to_matrix};

/// Examples encoded at once.
const CHUNK: usize = 1000;
/// The probe's stopping rule: the largest gradient entry of the mean loss (scikit-learn's
/// default tolerance), and the most iterations.
const TOLERANCE: f64 = 1e-4;
const MAX_ITERATIONS: usize = 500;

#[derive(Serialize, Clone, Copy)]
struct Accuracy {
    mean: f64,
    std: f64,
}

#[derive(Serialize)]
struct Row {
    labels_per_class: String,
    /// Labelled examples used (per draw).
    examples: usize,
    repeats: usize,
    raw: Accuracy,
    pca: Accuracy,
    codes: Accuracy,
    /// Fits that stopped at the iteration limit before meeting the tolerance.
    unconverged: usize,
}

#[derive(Serialize)]
struct Report {
    run: String,
    model: String,
    data: String,
    classes: usize,
    input_dim: usize,
    code_size: usize,
    pca_explained_variance: f64,
    test_examples: usize,
    l2: f64,
    rows: Vec<Row>,
}

/// Run `latent probe`.
///
/// # Errors
/// If the run or data cannot be loaded, the model has no encoder or is conditional, or the flags
/// are invalid.
pub fn run(args: ProbeArgs) -> anyhow::Result<()> {
    let counts = parse_counts(&args.labels_per_class)?;
    if args.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    if !(args.l2.is_finite() && args.l2 >= 0.0) {
        bail!("--l2 {}: expected a finite number >= 0", args.l2);
    }
    let dir = RunDir::open(&args.run).with_context(|| format!("latent probe {}", args.run.display()))?;
    let (mut model, config) = dir.load_model()?;
    if model.encoder().is_none() {
        bail!(
            "{} is a {} ({}), which has no encoder: there are no codes to probe",
            args.run.display(),
            config.model.kind(),
            config.preset
        );
    }
    if model.classes().is_some() {
        bail!(
            "{} is conditioned on the labels: it is given the label to encode, so a probe of its codes would read the label back",
            args.run.display()
        );
    }
    let data = load_data_for_run(&args.data, &config)?;
    require_images(&data, Split::Train, "to train the probe on")?;
    require_images(&data, Split::Test, "to measure the probe on")?;
    let classes = data
        .spec()
        .classes()
        .unwrap_or_else(|| usize::from(data.train.labels().iter().copied().max().unwrap_or(0)) + 1);
    if classes < 2 {
        bail!("the data has {classes} class: a probe needs labels of at least two classes");
    }
    let description = config.model.describe()?;
    let (n_train, n_test) = (data.train.len(), data.test.len());
    let held = (n_train + n_test).saturating_mul(description.input_dim + 2 * description.latent_dim);
    check_request(&config, || format!("encoding {} examples to probe", n_train + n_test), CHUNK, held)?;
    let raw_train = data.train.to_flat(description.scale);
    let raw_test = data.test.to_flat(description.scale);
    let codes_train = encode(&mut *model, &raw_train)?;
    let codes_test = encode(&mut *model, &raw_test)?;
    let k = description.latent_dim.min(description.input_dim);
    let pca = fit_on_training(&data, k, "the code size")?;
    let pca_train = pca.transform(data.train.to_flat(Scale::ZeroOne).view())?;
    let pca_test = pca.transform(data.test.to_flat(Scale::ZeroOne).view())?;
    let (train_labels, test_labels) = (data.train.labels(), data.test.labels());
    let options = LogisticOptions { l2: args.l2, max_iterations: MAX_ITERATIONS, tolerance: TOLERANCE };

    let mut rows = Vec::new();
    for count in counts {
        let repeats = if count.is_some() { args.repeats } else { 1 };
        let mut results: [Vec<f64>; 3] = Default::default();
        let mut unconverged = 0;
        let mut examples = 0;
        for r in 0..repeats {
            let idx = draw(train_labels, classes, count, args.seed ^ (r as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))?;
            examples = idx.len();
            let y: Vec<u8> = idx.iter().map(|&i| train_labels[i]).collect();
            for (slot, (train, test)) in
                [(&raw_train, &raw_test), (&pca_train, &pca_test), (&codes_train, &codes_test)].into_iter().enumerate()
            {
                let x = gather(train.view(), &idx);
                let probe = LogisticRegression::fit(x.view(), &y, classes, &options)?;
                unconverged += usize::from(!probe.converged());
                results[slot].push(probe.accuracy(test.view(), test_labels)?);
            }
        }
        let [raw, pca_acc, codes] = results.map(|v| summary(&v));
        rows.push(Row {
            labels_per_class: count.map_or("all".into(), |c| c.to_string()),
            examples,
            repeats,
            raw,
            pca: pca_acc,
            codes,
            unconverged,
        });
    }
    let report = Report {
        run: args.run.display().to_string(),
        model: config.preset.clone(),
        data: data.source.name(),
        classes,
        input_dim: description.input_dim,
        code_size: description.latent_dim,
        pca_explained_variance: pca.explained_variance_ratio().sum(),
        test_examples: n_test,
        l2: args.l2,
        rows,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "{} ({}): logistic-regression probe, test accuracy on {} examples of {} ({} classes), L2 {}",
        report.run, report.model, n_test, report.data, classes, args.l2
    );
    let show = |a: Accuracy, repeats: usize| {
        if repeats > 1 {
            format!("{:.2} ± {:.2}%", 100.0 * a.mean, 100.0 * a.std)
        } else {
            format!("{:.2}%", 100.0 * a.mean)
        }
    };
    println!(
        "{:>16}  {:>18}  {:>18}  {:>18}",
        "labels per class",
        format!("raw ({}-d)", report.input_dim),
        format!("PCA ({k}-d)"),
        format!("codes ({}-d)", report.code_size)
    );
    for r in &report.rows {
        println!(
            "{:>16}  {:>18}  {:>18}  {:>18}",
            r.labels_per_class,
            show(r.raw, r.repeats),
            show(r.pca, r.repeats),
            show(r.codes, r.repeats)
        );
        if r.unconverged > 0 {
            eprintln!(
                "note: {} fits at {} labels per class stopped at {MAX_ITERATIONS} iterations",
                r.unconverged, r.labels_per_class
            );
        }
    }
    Ok(())
}

/// `--labels-per-class` as counts (`None` for `all`).
fn parse_counts(list: &[String]) -> anyhow::Result<Vec<Option<usize>>> {
    if list.is_empty() {
        bail!("--labels-per-class: expected numbers or `all`, comma-separated");
    }
    list.iter()
        .map(|s| match s.trim() {
            "all" => Ok(None),
            t => match t.parse::<usize>() {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => bail!("--labels-per-class: '{t}' is not a positive number or `all`"),
            },
        })
        .collect()
}

/// The indices of `count` training examples of each class (all of a class with fewer; every
/// example for `None`), drawn by a permutation seeded with `seed`, sorted.
fn draw(labels: &[u8], classes: usize, count: Option<usize>, seed: u64) -> anyhow::Result<Vec<usize>> {
    let Some(count) = count else { return Ok((0..labels.len()).collect()) };
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let mut taken = vec![0usize; classes];
    let mut out: Vec<usize> = order
        .into_iter()
        .filter(|&i| {
            let c = usize::from(labels[i]);
            let keep = c < classes && taken[c] < count;
            if keep {
                taken[c] += 1;
            }
            keep
        })
        .collect();
    if taken.iter().filter(|&&t| t > 0).count() < 2 {
        bail!("the training split holds examples of fewer than two classes: nothing to probe");
    }
    out.sort_unstable();
    Ok(out)
}

fn gather(x: ArrayView2<'_, f32>, idx: &[usize]) -> Array2<f32> {
    x.select(Axis(0), idx)
}

fn encode(model: &mut dyn Model, x: &Array2<f32>) -> anyhow::Result<Array2<f32>> {
    let encoder = model.encoder().expect("checked");
    let mut parts = Vec::new();
    for chunk in x.axis_chunks_iter(Axis(0), CHUNK) {
        parts.push(to_matrix(&encoder.encode(&Tensor::new(chunk.to_owned()), None)?));
    }
    Ok(crate::pictures::stack_rows(&parts))
}

fn summary(v: &[f64]) -> Accuracy {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let std = if v.len() > 1 { (v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
    Accuracy { mean, std }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_and_draws_take_n_per_class() {
        assert_eq!(parse_counts(&["10".into(), "all".into()]).unwrap(), vec![Some(10), None]);
        assert!(parse_counts(&["0".into()]).is_err());
        assert!(parse_counts(&["ten".into()]).unwrap_err().to_string().contains("'ten'"));
        let labels: Vec<u8> = (0..100).map(|i| (i % 3) as u8).collect();
        let idx = draw(&labels, 3, Some(5), 7).unwrap();
        assert_eq!(idx.len(), 15);
        for c in 0..3u8 {
            assert_eq!(idx.iter().filter(|&&i| labels[i] == c).count(), 5);
        }
        assert_eq!(draw(&labels, 3, Some(5), 7).unwrap(), idx, "seeded");
        assert_ne!(draw(&labels, 3, Some(5), 8).unwrap(), idx);
        assert_eq!(draw(&labels, 3, None, 0).unwrap().len(), 100);
        assert!(draw(&[0, 0, 0], 2, Some(1), 0).is_err());
    }
}
