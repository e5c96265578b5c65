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

use std::path::{Path, PathBuf};

use anyhow::Context;

use latent_data::{Mnist, Scale};
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

/// Fixed inputs of a run's pictures.
pub struct RunPictures {
    digits: Array2<f32>,
    digit_labels: Vec<u8>,
    noise: Tensor,
    scatter_images: Array2<f32>,
    scatter_labels: Vec<u8>,
}

impl RunPictures {
    /// Fix the digits (the first test images) and the noise (from the run's seed).
    pub fn new(data: &Mnist, latent_dim: usize, seed: u64) -> Self {
        let n = SCATTER_POINTS.min(data.test.len());
        let digits = test_images(data, RECON_COLS * RECON_ROWS);
        RunPictures {
            digit_labels: data.test.labels()[..digits.nrows()].to_vec(),
            digits,
            noise: TensorRng::seed_from_u64(seed ^ 0x5A3_9135).randn(&[SAMPLES, latent_dim]),
            scatter_images: data.test.take(n).to_flat(Scale::ZeroOne),
            scatter_labels: data.test.labels()[..n].to_vec(),
        }
    }

    /// Originals above their reconstructions, `RECON_ROWS` pairs of rows, written to `path`;
    /// `labels` (one per original) are what a conditional model is told (other models are told
    /// nothing).
    ///
    /// # Errors
    /// If the model fails or the file cannot be written.
    pub fn reconstructions(
        model: &mut dyn Model,
        originals: &Array2<f32>,
        labels: &[u8],
        cols: usize,
        path: &Path,
    ) -> anyhow::Result<()> {
        Self::reconstruction_canvas(model, originals, labels, cols)?.write_png(path)?;
        Ok(())
    }

    /// The picture of [`RunPictures::reconstructions`].
    fn reconstruction_canvas(
        model: &mut dyn Model,
        originals: &Array2<f32>,
        labels: &[u8],
        cols: usize,
    ) -> anyhow::Result<Canvas> {
        let labels = model.classes().map(|_| labels);
        let recon = to_matrix(&latent_models::reconstruct(model, &Tensor::new(originals.clone()), labels)?);
        let grid = ImageGrid::new().cols(cols);
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
        if has_encoder {
            let canvas = Self::reconstruction_canvas(model, &self.digits, &self.digit_labels, RECON_COLS)?;
            let epoch_file = run.file(&format!("reconstructions-epoch-{epoch:03}.png"));
            write_png_to(&canvas, &[epoch_file, run.file("reconstructions.png")])?;
        }
        if model.generator().is_some() {
            let (samples, cols) = match model.classes() {
                Some(classes) => (self.conditional_samples(model, classes)?, classes.min(CLASSES)),
                None => (to_matrix(&model.decoder().expect("a generator decodes").decode(&self.noise, None)?), 8),
            };
            let canvas = ImageGrid::new().cols(cols).render(&samples)?;
            write_png_to(&canvas, &[run.file(&format!("samples-epoch-{epoch:03}.png")), run.file("samples.png")])?;
        }
        loss_chart(metrics).write_png(run.file("loss.png"))?;
        if let Some(encoder) = model.encoder()
            && self.noise.shape()[1] == 2
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

/// The loss curves of a run: train and test objective per example, and the parts.
pub fn loss_chart(metrics: &[EpochMetrics]) -> LineChart {
    let mut chart = LineChart::new("loss per example").x_label("epoch").y_label("nats");
    let names: std::collections::BTreeSet<&String> = metrics.iter().flat_map(|m| m.train.keys()).collect();
    for name in names {
        if name == "elbo" {
            continue; // the negative of the loss for a VAE: the same curve upside down
        }
        if name == "loss" && metrics.iter().any(|m| m.train.contains_key("d_loss")) {
            continue; // a GAN's `loss` is its `d_loss`: the same curve twice
        }
        let train: Vec<(f64, f64)> =
            metrics.iter().filter_map(|m| m.train.get(name).map(|v| (m.epoch as f64, *v))).collect();
        let test: Vec<(f64, f64)> =
            metrics.iter().filter_map(|m| m.test.get(name).map(|v| (m.epoch as f64, *v))).collect();
        chart.add_series(format!("train {name}"), train);
        chart.add_series(format!("test {name}"), test);
    }
    chart
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
