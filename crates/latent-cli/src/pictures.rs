//! The pictures a run draws as it trains: reconstructions of fixed test digits, samples from
//! fixed noise (generative models), the loss curves, and a scatter of the test codes (2-D codes).
//!
//! Digits and noise are fixed for the whole run, so the pictures of successive epochs show the
//! same things getting better. Each epoch writes `reconstructions-epoch-NNN.png` (and
//! `samples-epoch-NNN.png`), and refreshes `reconstructions.png`, `samples.png`, `loss.png` and
//! `latent.png` as the latest views; every file is written atomically (a reader sees the
//! previous picture or the new one whole).
//!
//! A conditional model (cvae) is shown its digits' labels: reconstructions and codes use the
//! test labels, and its samples are a 10 × 10 grid with one row per digit 0-9 and one column per
//! fixed noise vector, so a column shows one style across the digits.
//!
//! A GAN (gan, dcgan, cgan) has no encoder: it draws no reconstructions and no code scatter,
//! only its samples from the fixed noise (a cgan's one row per digit, as above) and the curves
//! of its D and G losses and mean D outputs.
//!
//! A VAE (unconditional, on images) also draws `traversals.png`, one row per latent dimension
//! decoding codes that vary it alone from the prior's mean ([`traversal_codes`]), and with a
//! 2-D code `manifold.png`, a grid of codes spaced by the prior's quantiles ([`manifold_codes`],
//! Kingma and Welling's figure); `latent traverse` and `latent manifold` draw them on request.
//!
//! Every grid is drawn in the data's shape ([`image_grid`]): grey pictures for one channel
//! (MNIST's are byte for byte what they were before shapes were recorded), RGB pictures for
//! three.
//!
//! The charts of the analyses live here too: score histograms ([`score_histogram`]) and ROC
//! and precision-recall curves ([`roc_chart`], [`pr_chart`]) for `latent anomaly`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use latent_data::{Data, SampleShape, Scale};
use latent_models::{EpochMetrics, Model, RunDir};
use latent_tensor::{Tensor, TensorRng};
use latent_viz::{Canvas, ImageGrid, LineChart, ScatterPlot, stack_vertical};
use ndarray::{Array2, Axis, concatenate};

use crate::commands::{test_images, to_matrix};

/// Digits per row of the reconstruction picture.
const RECON_COLS: usize = 16;
/// Rows of originals (each followed by its reconstructions).
const RECON_ROWS: usize = 2;
/// Samples drawn each epoch (an 8×8 grid).
const SAMPLES: usize = 64;
/// Digits (rows) and styles (columns) of a conditional model's sample grid.
const CLASSES: usize = 10;
/// Test digits in the latent scatter.
const SCATTER_POINTS: usize = 5000;
/// Codes per side of a 2-D VAE's manifold picture.
pub const MANIFOLD_SIDE: usize = 20;
/// The manifold spans the prior's quantiles from this fraction to one minus it.
pub const MANIFOLD_MARGIN: f64 = 0.05;
/// Codes per row of a traversal, and the prior standard deviations each dimension spans.
pub const TRAVERSAL_STEPS: usize = 11;
/// See [`TRAVERSAL_STEPS`].
pub const TRAVERSAL_RANGE: f64 = 3.0;
/// The most latent dimensions (rows) a traversal picture drawn during training shows.
const TRAVERSAL_ROWS: usize = 32;
/// Bins of a score histogram.
pub const HISTOGRAM_BINS: usize = 40;

/// A grid that draws flat rows of examples of `shape`: grey or RGB images channel-major, and
/// a table row as a one-pixel-high strip.
pub fn image_grid(shape: SampleShape) -> ImageGrid {
    let [c, h, w] = shape.dims();
    ImageGrid::new().image_shape(c, h, w)
}

/// Fixed inputs of a run's pictures.
pub struct RunPictures {
    shape: SampleShape,
    digits: Array2<f32>,
    digit_labels: Vec<u8>,
    noise: Tensor,
    scatter_images: Array2<f32>,
    scatter_labels: Vec<u8>,
}

impl RunPictures {
    /// Fix the digits (the first test images) and the noise (from the run's seed).
    pub fn new(data: &Data, latent_dim: usize, seed: u64) -> Self {
        let n = SCATTER_POINTS.min(data.test.len());
        let digits = test_images(data, RECON_COLS * RECON_ROWS);
        RunPictures {
            shape: data.spec().shape,
            digit_labels: data.test.labels()[..digits.nrows()].to_vec(),
            digits,
            noise: TensorRng::seed_from_u64(seed ^ 0x5A3_9135).randn(&[SAMPLES, latent_dim]),
            scatter_images: data.test.take(n).to_flat(Scale::ZeroOne),
            scatter_labels: data.test.labels()[..n].to_vec(),
        }
    }

    /// Originals above their reconstructions, `RECON_ROWS` pairs of rows, written to `path`;
    /// `labels` (one per original) are what a conditional model is told (other models are told
    /// nothing); the examples have `shape`.
    ///
    /// # Errors
    /// If the model fails or the file cannot be written.
    pub fn reconstructions(
        model: &mut dyn Model,
        originals: &Array2<f32>,
        labels: &[u8],
        cols: usize,
        shape: SampleShape,
        path: &Path,
    ) -> anyhow::Result<()> {
        Self::reconstruction_canvas(model, originals, labels, cols, shape)?.write_png(path)?;
        Ok(())
    }

    /// The picture of [`RunPictures::reconstructions`].
    fn reconstruction_canvas(
        model: &mut dyn Model,
        originals: &Array2<f32>,
        labels: &[u8],
        cols: usize,
        shape: SampleShape,
    ) -> anyhow::Result<Canvas> {
        let labels = model.classes().map(|_| labels);
        let recon = to_matrix(&latent_models::reconstruct(model, &Tensor::new(originals.clone()), labels)?);
        let grid = image_grid(shape).cols(cols);
        let mut canvases = Vec::new();
        for start in (0..originals.nrows()).step_by(cols) {
            let end = (start + cols).min(originals.nrows());
            canvases.push(grid.render(&originals.slice(ndarray::s![start..end, ..]))?);
            canvases.push(grid.render(&recon.slice(ndarray::s![start..end, ..]))?);
        }
        Ok(stack_vertical(&canvases, 6)?)
    }

    /// Write this epoch's pictures into the run directory.
    ///
    /// # Errors
    /// If the model fails or a file cannot be written.
    pub fn write_epoch(&self, run: &RunDir, model: &mut dyn Model, metrics: &[EpochMetrics]) -> anyhow::Result<()> {
        let epoch = metrics.last().map_or(0, |m| m.epoch);
        let conditional = model.classes().is_some();
        // A GAN has no encoder: nothing to reconstruct or to scatter.
        let has_encoder = model.encoder().is_some();
        if !self.shape.is_image() {
            // Table rows are no pictures: chart the reconstruction error of each feature.
            if has_encoder {
                let labels = conditional.then_some(self.scatter_labels.as_slice());
                let recon =
                    to_matrix(&latent_models::reconstruct(model, &Tensor::new(self.scatter_images.clone()), labels)?);
                feature_error_chart(&self.scatter_images, &recon, epoch).write_png(run.file("features.png"))?;
            }
        } else if has_encoder {
            let canvas = Self::reconstruction_canvas(model, &self.digits, &self.digit_labels, RECON_COLS, self.shape)?;
            let epoch_file = run.file(&format!("reconstructions-epoch-{epoch:03}.png"));
            write_png_to(&canvas, &[epoch_file, run.file("reconstructions.png")])?;
        }
        if model.generator().is_some() && self.shape.is_image() {
            let (samples, cols) = match model.classes() {
                Some(classes) => (self.conditional_samples(model, classes)?, classes.min(CLASSES)),
                None => (to_matrix(&model.decoder().expect("a generator decodes").decode(&self.noise, None)?), 8),
            };
            let canvas = image_grid(self.shape).cols(cols).render(&samples)?;
            write_png_to(&canvas, &[run.file(&format!("samples-epoch-{epoch:03}.png")), run.file("samples.png")])?;
        }
        loss_chart(metrics).write_png(run.file("loss.png"))?;
        if let Some(chart) = rate_chart(metrics) {
            chart.write_png(run.file("rates.png"))?;
        }
        let latent_dim = self.noise.shape()[1];
        if model.likelihood().is_some() && !conditional && self.shape.is_image() {
            // A VAE: what each latent dimension does, and the 2-D manifold.
            let decoder = model.decoder().expect("a VAE decodes");
            let rows = latent_dim.min(TRAVERSAL_ROWS);
            let codes = traversal_codes(&vec![0.0; latent_dim], rows, TRAVERSAL_STEPS, TRAVERSAL_RANGE);
            let images = to_matrix(&decoder.decode(&Tensor::new(codes), None)?);
            image_grid(self.shape).cols(TRAVERSAL_STEPS).write_png(run.file("traversals.png"), &images)?;
            if latent_dim == 2 {
                let codes = manifold_codes(MANIFOLD_SIDE, MANIFOLD_MARGIN);
                let images = to_matrix(&decoder.decode(&Tensor::new(codes), None)?);
                image_grid(self.shape).cols(MANIFOLD_SIDE).write_png(run.file("manifold.png"), &images)?;
            }
        }
        if let Some(encoder) = model.encoder()
            && latent_dim == 2
        {
            let labels = conditional.then_some(self.scatter_labels.as_slice());
            let codes = to_matrix(&encoder.encode(&Tensor::new(self.scatter_images.clone()), labels)?);
            ScatterPlot::new(format!("test codes after epoch {epoch}")).x_label("z1").y_label("z2").write_png(
                run.file("latent.png"),
                &codes,
                Some(&self.scatter_labels),
            )?;
        }
        Ok(())
    }
}

impl RunPictures {
    /// A conditional model's samples, `k × k` for `k = min(classes, CLASSES)`: row `r` is
    /// label `r`, column `c` decodes the `c`-th fixed noise vector.
    fn conditional_samples(&self, model: &mut dyn Model, classes: usize) -> anyhow::Result<Array2<f32>> {
        let k = classes.min(CLASSES);
        let noise = to_matrix(&self.noise);
        let latent = noise.ncols();
        let z = Array2::from_shape_fn((k * k, latent), |(i, j)| noise[[i % k, j]]);
        let labels: Vec<u8> = (0..k * k).map(|i| (i / k) as u8).collect();
        let decoder = model.decoder().expect("a generator decodes");
        Ok(to_matrix(&decoder.decode(&Tensor::new(z), Some(&labels))?))
    }
}

/// Encodes `canvas` once and writes it to each of `paths`, each atomically: this epoch's picture
/// and the latest view are the same bytes, and the latest view is replaced whole (never copied
/// over in place, where a reader could see it half-written).
fn write_png_to(canvas: &Canvas, paths: &[PathBuf]) -> anyhow::Result<()> {
    let png = canvas.encode_png().context("encoding a PNG picture")?;
    for path in paths {
        latent_fsio::write_bytes(path, &png)?;
    }
    Ok(())
}

/// The root mean squared reconstruction error of each feature (column) of `original`, in the
/// units the model sees (standard deviations of the training data for real values).
pub fn per_feature_rmse(original: &Array2<f32>, recon: &Array2<f32>) -> Vec<f64> {
    let n = original.nrows().max(1) as f64;
    (0..original.ncols())
        .map(|j| {
            let sq: f64 = original
                .column(j)
                .iter()
                .zip(recon.column(j))
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum();
            (sq / n).sqrt()
        })
        .collect()
}

/// A chart of [`per_feature_rmse`] over the feature index, for table data.
pub fn feature_error_chart(original: &Array2<f32>, recon: &Array2<f32>, epoch: u64) -> LineChart {
    let errors = per_feature_rmse(original, recon);
    LineChart::new(format!("test reconstruction error per feature after epoch {epoch}"))
        .x_label("feature")
        .y_label("RMSE (standard deviations)")
        .series("test", errors.iter().enumerate().map(|(j, &e)| ((j + 1) as f64, e)))
}

/// Parts of the metrics that are not losses: a GAN's mean discriminator outputs (probabilities)
/// and a classifier's accuracy (a fraction). They get a chart of their own.
const NOT_LOSSES: [&str; 3] = ["d_real", "d_fake", "accuracy"];

/// The loss curves of a run: train (and validation, when held out) and test objective per
/// example, and its parts, in nats. Probabilities and fractions are left to [`rate_chart`].
pub fn loss_chart(metrics: &[EpochMetrics]) -> LineChart {
    let mut chart = LineChart::new("loss per example").x_label("epoch").y_label("nats");
    let names: std::collections::BTreeSet<&String> = metrics.iter().flat_map(|m| m.train.keys()).collect();
    for name in names {
        if name == "elbo" || NOT_LOSSES.contains(&name.as_str()) {
            continue; // the ELBO is the VAE's loss upside down; the others are not in nats
        }
        if name == "loss" && metrics.iter().any(|m| m.train.contains_key("d_loss")) {
            continue; // a GAN's `loss` is its `d_loss`: the same curve twice
        }
        add_splits(&mut chart, metrics, name);
    }
    chart
}

/// The parts that are probabilities or fractions (a GAN's mean D(x) and D(G(z)), a
/// classifier's accuracy), on an axis of their own; `None` when a run has none.
pub fn rate_chart(metrics: &[EpochMetrics]) -> Option<LineChart> {
    let present: Vec<&str> =
        NOT_LOSSES.into_iter().filter(|n| metrics.iter().any(|m| m.train.contains_key(*n))).collect();
    if present.is_empty() {
        return None;
    }
    let mut chart = LineChart::new("mean per example").x_label("epoch").y_label("probability / fraction");
    for name in present {
        add_splits(&mut chart, metrics, name);
    }
    Some(chart)
}

/// The train, validation (if any) and test series of part `name`.
fn add_splits(chart: &mut LineChart, metrics: &[EpochMetrics], name: &str) {
    let series = |pick: &dyn Fn(&EpochMetrics) -> Option<f64>| -> Vec<(f64, f64)> {
        metrics.iter().filter_map(|m| pick(m).map(|v| (m.epoch as f64, v))).collect()
    };
    chart.add_series(format!("train {name}"), series(&|m| m.train.get(name).copied()));
    let val = series(&|m| m.val.as_ref().and_then(|v| v.get(name).copied()));
    if !val.is_empty() {
        chart.add_series(format!("val {name}"), val);
    }
    chart.add_series(format!("test {name}"), series(&|m| m.test.get(name).copied()));
}

/// One line on how a finished run did, by what kind of model it is: a GAN's D and G losses
/// and mean D outputs, a classifier's accuracy, otherwise the test loss per example.
pub fn summary(m: &EpochMetrics) -> String {
    let t = |k: &str| m.test.get(k).copied().unwrap_or(f64::NAN);
    if m.test.contains_key("d_loss") {
        format!(
            "test D loss {:.3}, G loss {:.3}, mean D(x) {:.3}, mean D(G(z)) {:.3}",
            t("d_loss"),
            t("g_loss"),
            t("d_real"),
            t("d_fake")
        )
    } else if m.test.contains_key("accuracy") {
        format!("test accuracy {:.2}%, cross-entropy {:.4} per example", 100.0 * t("accuracy"), t("loss"))
    } else {
        format!("test loss {:.2} per example", t("loss"))
    }
}

/// The codes of a 2-D manifold picture, `[n·n, 2]` row-major: column `j` has
/// `z1 = Φ⁻¹(q_j)` and row `i` has `z2 = Φ⁻¹(1 − q_i)` (larger `z2` at the top), the `q` evenly
/// spaced from `margin` to `1 − margin`. Equal steps of prior mass, so the grid covers where the
/// prior puts its codes.
pub fn manifold_codes(n: usize, margin: f64) -> Array2<f32> {
    let q = |k: usize| if n == 1 { 0.5 } else { margin + (1.0 - 2.0 * margin) * k as f64 / (n - 1) as f64 };
    let inv = latent_stats::normal::inverse_cdf;
    Array2::from_shape_fn((n * n, 2), |(r, c)| {
        let (i, j) = (r / n, r % n);
        (if c == 0 { inv(q(j)) } else { inv(1.0 - q(i)) }) as f32
    })
}

/// The codes of a traversal picture, `[rows·steps, latent]`: row `d` varies dimension `d` of
/// `base` over `steps` values evenly spaced from `−range` to `range`, the others held.
pub fn traversal_codes(base: &[f32], rows: usize, steps: usize, range: f64) -> Array2<f32> {
    let latent = base.len();
    Array2::from_shape_fn((rows * steps, latent), |(r, c)| {
        let (d, k) = (r / steps, r % steps);
        if c == d {
            let t = if steps == 1 { 0.0 } else { -range + 2.0 * range * k as f64 / (steps - 1) as f64 };
            t as f32
        } else {
            base[c]
        }
    })
}

/// Histograms of the scores of each named group (`(name, scores)`), as step outlines of the
/// fraction of the group in each of [`HISTOGRAM_BINS`] shared bins, with the threshold as a
/// vertical line. The bins span the lowest score to the 99.5th percentile of all scores; the
/// last bin also counts everything above (the x label says where it starts).
pub fn score_histogram(title: &str, x_label: &str, groups: &[(&str, &[f64])], threshold: Option<f64>) -> LineChart {
    let all: Vec<f64> = groups.iter().flat_map(|(_, s)| s.iter().copied()).filter(|v| v.is_finite()).collect();
    let mut chart = LineChart::new(title).y_label("fraction of the group");
    if all.is_empty() {
        return chart.x_label(x_label);
    }
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let max = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut hi = latent_stats::roc::quantile(&all, 0.995).unwrap_or(max);
    if hi <= lo {
        hi = if max > lo { max } else { lo + 1.0 };
    }
    let width = (hi - lo) / HISTOGRAM_BINS as f64;
    let mut top: f64 = 0.0;
    for (name, scores) in groups {
        let mut counts = [0usize; HISTOGRAM_BINS];
        for &s in scores.iter().filter(|v| v.is_finite()) {
            let bin = (((s - lo) / width).floor().max(0.0) as usize).min(HISTOGRAM_BINS - 1);
            counts[bin] += 1;
        }
        let n = scores.len().max(1) as f64;
        let mut points = vec![(lo, 0.0)];
        for (b, &c) in counts.iter().enumerate() {
            let f = c as f64 / n;
            top = top.max(f);
            points.push((lo + b as f64 * width, f));
            points.push((lo + (b + 1) as f64 * width, f));
        }
        points.push((hi, 0.0));
        chart.add_series(format!("{name} ({})", scores.len()), points);
    }
    if let Some(t) = threshold.filter(|t| t.is_finite()) {
        let x = t.clamp(lo, hi);
        chart.add_series(format!("threshold {}", short_number(t)), [(x, 0.0), (x, top)]);
    }
    let above = if hi < max { format!(" (last bin: {} and above)", short_number(hi - width)) } else { String::new() };
    chart.x_label(format!("{x_label}{above}"))
}

/// ROC curves (`(name, false positive rates, true positive rates)`) with the chance diagonal.
pub fn roc_chart(title: &str, curves: &[(String, &[f64], &[f64])]) -> LineChart {
    let mut chart = LineChart::new(title).x_label("false positive rate").y_label("true positive rate (recall)");
    for (name, fpr, tpr) in curves {
        chart.add_series(name.clone(), fpr.iter().copied().zip(tpr.iter().copied()));
    }
    chart.series("chance", [(0.0, 0.0), (1.0, 1.0)])
}

/// Precision-recall curves (`(name, recalls, precisions)`) with the chance level, the fraction
/// of positives.
pub fn pr_chart(title: &str, curves: &[(String, &[f64], &[f64])], positive_fraction: f64) -> LineChart {
    let mut chart = LineChart::new(title).x_label("recall").y_label("precision");
    for (name, recall, precision) in curves {
        chart.add_series(name.clone(), recall.iter().copied().zip(precision.iter().copied()));
    }
    chart.series(format!("chance ({positive_fraction:.3})"), [(0.0, positive_fraction), (1.0, positive_fraction)])
}

/// A number in at most four significant digits, for labels.
pub fn short_number(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.3e}")
    } else {
        format!("{}", (v * 1e4).round() / 1e4)
    }
}

/// Stack arrays of images vertically (rows of `[N, D]`).
pub fn stack_rows(parts: &[Array2<f32>]) -> Array2<f32> {
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    concatenate(Axis(0), &views).expect("same width")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::{Read, Seek, SeekFrom};

    use latent_models::{build_model, presets};

    use super::*;

    fn metrics(epoch: u64) -> EpochMetrics {
        let loss = BTreeMap::from([("loss".to_string(), 200.0 / epoch as f64)]);
        EpochMetrics {
            epoch,
            train: loss.clone(),
            test: loss,
            val: None,
            samples_per_s: 1.0,
            train_seconds: 1.0,
            test_seconds: 1.0,
            learning_rate: 1e-3,
            global_step: epoch,
        }
    }

    /// A GAN's mean D outputs are probabilities: they leave the nats chart for a chart of their
    /// own, and the summary speaks of D and G losses, not of "test loss per image".
    #[test]
    fn gan_rates_are_charted_apart_and_summarised_as_such() {
        let parts = |d: f64| {
            BTreeMap::from([
                ("loss".to_string(), d),
                ("d_loss".to_string(), d),
                ("g_loss".to_string(), 0.7),
                ("d_real".to_string(), 0.8),
                ("d_fake".to_string(), 0.3),
            ])
        };
        let m = EpochMetrics { train: parts(1.1), test: parts(1.2), ..metrics(1) };
        let names = |c: &LineChart| c.series_names();
        let losses = names(&loss_chart(std::slice::from_ref(&m)));
        assert!(losses.iter().all(|n| !n.contains("d_real") && !n.contains("d_fake")), "{losses:?}");
        assert!(losses.iter().any(|n| n == "test d_loss"), "{losses:?}");
        let rates = names(&rate_chart(std::slice::from_ref(&m)).expect("a GAN has rates"));
        assert!(rates.contains(&"train d_real".to_string()) && rates.contains(&"test d_fake".to_string()));
        assert!(rate_chart(&[metrics(1)]).is_none(), "an autoencoder has none");
        let said = summary(&m);
        assert!(said.contains("D loss 1.200") && said.contains("D(G(z)) 0.300") && !said.contains("per example"));
        assert_eq!(summary(&metrics(2)), "test loss 100.00 per example");
    }

    /// Every "latest" picture is replaced by a rename of a complete new file, never rewritten in
    /// place: a reader that opened last epoch's picture keeps reading that whole picture while
    /// the new one is written. (`reconstructions.png` and `samples.png` used to be refreshed
    /// with `fs::copy`, which truncates the file and writes it anew, so such a reader saw the
    /// new bytes, and one arriving mid-copy a torn file.) This checks the replacement, not what
    /// a crash leaves behind; that is `latent_fsio`'s part.
    #[cfg(unix)]
    #[test]
    fn latest_pictures_are_replaced_whole_not_rewritten_in_place() {
        let data = latent_data::sample::load().unwrap();
        let config = presets::preset("vae", Some("2d")).unwrap().config;
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path().join("run"), false).unwrap();
        let pictures = RunPictures::new(&data, config.describe().unwrap().latent_dim, 1);

        let mut model = build_model(&config, &mut TensorRng::seed_from_u64(0)).unwrap();
        pictures.write_epoch(&run, &mut *model, &[metrics(1)]).unwrap();
        let latest = ["reconstructions.png", "samples.png", "loss.png", "latent.png"];
        let mut held: Vec<(&str, std::fs::File, Vec<u8>)> = latest
            .iter()
            .map(|&name| {
                let mut f = std::fs::File::open(run.file(name)).unwrap();
                let mut bytes = Vec::new();
                f.read_to_end(&mut bytes).unwrap();
                (name, f, bytes)
            })
            .collect();

        // Other weights: every picture of epoch 2 differs from epoch 1's.
        let mut model = build_model(&config, &mut TensorRng::seed_from_u64(1)).unwrap();
        pictures.write_epoch(&run, &mut *model, &[metrics(1), metrics(2)]).unwrap();
        for (name, file, old) in &mut held {
            let mut seen = Vec::new();
            file.seek(SeekFrom::Start(0)).unwrap();
            file.read_to_end(&mut seen).unwrap();
            assert!(seen == *old, "{name}: the open epoch-1 file was rewritten in place");
            let now = std::fs::read(run.file(name)).unwrap();
            assert!(now != *old, "{name}: not refreshed for epoch 2");
        }
        for (latest, epoch) in
            [("reconstructions.png", "reconstructions-epoch-002.png"), ("samples.png", "samples-epoch-002.png")]
        {
            assert!(std::fs::read(run.file(latest)).unwrap() == std::fs::read(run.file(epoch)).unwrap(), "{latest}");
        }
        let temporaries: Vec<_> = std::fs::read_dir(run.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(temporaries.is_empty(), "{temporaries:?}");
    }
}
