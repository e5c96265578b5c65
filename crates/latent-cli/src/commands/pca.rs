//! `latent pca`: principal component analysis of a data set, the linear method every
//! autoencoder is measured against ([`latent_stats::pca`], on faer's eigendecomposition).
//!
//! - `latent pca fit -k K --out DIR [data flags]` fits `K` components to the training split
//!   (pixels in [0, 1]; real values standardised as a run standardises them), prints the
//!   explained variance and the test reconstruction error at several sizes up to `K`, and
//!   writes `DIR/pca.json` (the fit and how the data was read, so the same preparation applies
//!   later), `explained-variance.png`, and for images `components.png` (the first components,
//!   each scaled to its largest magnitude) and `reconstructions.png` (test images above their
//!   reconstructions).
//! - `latent pca transform DIR --out codes.npy [--input X.npy]` maps examples (a `.npy` in the
//!   data's own units, or the recorded data's test split) to their `K` coordinates.
//! - `latent pca inverse DIR --codes Z.npy --out X.npy|X.png` maps coordinates back to the
//!   data's own units (a PNG grid for images, values clamped to the pixel range).

use std::path::Path;

use anyhow::{Context, bail};
use latent_data::npy::{read_npy, write_npy};
use latent_data::{Data, DataSpec, Scale, ValueKind};
use latent_models::memory::{self, Size};
use latent_models::run_dir::DataInfo;
use latent_stats::pca::Pca;
use latent_viz::{LineChart, ValueRange};
use ndarray::{Array2, Ix2};
use serde::{Deserialize, Serialize};

use crate::cli::{PcaAction, PcaArgs, PcaFitArgs, PcaInverseArgs, PcaTransformArgs};
use crate::commands::{OutKind, Split, data_info, load_data, load_recorded_data, out_kind, require_images};
use crate::pictures::{image_grid, stack_rows};

/// The fit's file in a PCA directory.
pub const PCA_FILE: &str = "pca.json";

/// What `pca.json` holds.
#[derive(Serialize, Deserialize)]
pub struct PcaFit {
    /// The data fitted on, and how it was read and prepared.
    pub data: DataInfo,
    /// The components.
    pub pca: Pca,
}

/// Run `latent pca`.
///
/// # Errors
/// As the action's.
pub fn run(args: PcaArgs) -> anyhow::Result<()> {
    match args.action {
        PcaAction::Fit(a) => fit(a),
        PcaAction::Transform(a) => transform(a),
        PcaAction::Inverse(a) => inverse(a),
    }
}

/// Refuse a fit whose data and covariance would exceed the memory limit.
///
/// # Errors
/// If the estimate exceeds the limit.
pub fn check_fit_memory(rows: usize, dim: usize, what: impl FnOnce() -> String) -> anyhow::Result<()> {
    // The rows as f32, the covariance and its eigenvectors in f64 (three d x d matrices).
    let bytes = (rows as u64)
        .saturating_mul(dim as u64)
        .saturating_mul(4)
        .saturating_add((dim as u64).saturating_mul(dim as u64).saturating_mul(8 * 3));
    memory::check(what, bytes)?;
    Ok(())
}

/// Fit `k` components to the training split of `data`, saying which flag asked in errors.
///
/// # Errors
/// If `k` does not fit the data, memory would run out, or the fit fails.
pub fn fit_on_training(data: &Data, k: usize, flag: &str) -> anyhow::Result<Pca> {
    let dim = data.spec().shape.len();
    if k == 0 || k > dim {
        bail!("{flag} {k}: expected between 1 and {dim} components (the examples' size)");
    }
    check_fit_memory(data.train.len(), dim, || {
        format!("PCA of {} training examples of {dim} values", data.train.len())
    })?;
    let x = data.train.to_flat(Scale::ZeroOne);
    Pca::fit(x.view(), k).context("fitting the principal components")
}

#[derive(Serialize)]
struct FitReport {
    out: String,
    data: String,
    training_examples: usize,
    test_examples: usize,
    dim: usize,
    components: usize,
    explained_variance_ratio: Vec<f64>,
    /// Per size: the components kept, the share of the variance they explain, and the test
    /// reconstruction error.
    sizes: Vec<SizeRow>,
}

#[derive(Serialize)]
struct SizeRow {
    components: usize,
    explained_variance: f64,
    test_squared_error_per_example: f64,
    test_mse_per_value: f64,
}

fn fit(args: PcaFitArgs) -> anyhow::Result<()> {
    let file = args.out.join(PCA_FILE);
    if file.exists() && !args.force {
        bail!(
            "--out {}: already holds a PCA fit ({PCA_FILE}); choose another directory or pass --force",
            args.out.display()
        );
    }
    let data = load_data(&args.data)?;
    require_images(&data, Split::Train, "to fit on")?;
    let pca = fit_on_training(&data, args.components, "--components")?;
    let dim = pca.dim();
    let test = data.test.to_flat(Scale::ZeroOne);
    let mut sizes = Vec::new();
    for k in report_sizes(pca.n_components()) {
        let part = pca.truncated(k)?;
        let errors = if test.nrows() > 0 { part.reconstruction_errors(test.view())? } else { vec![] };
        let mean = errors.iter().sum::<f64>() / errors.len().max(1) as f64;
        sizes.push(SizeRow {
            components: k,
            explained_variance: part.explained_variance_ratio().sum(),
            test_squared_error_per_example: mean,
            test_mse_per_value: mean / dim as f64,
        });
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let record = PcaFit { data: data_info(&data, &args.data)?, pca };
    let mut text = serde_json::to_string(&record)?;
    text.push('\n');
    latent_fsio::write_bytes(&file, text.as_bytes())?;
    let pca = &record.pca;
    let ratio = pca.explained_variance_ratio();
    let mut cumulative = 0.0;
    let cumulative: Vec<(f64, f64)> = ratio
        .iter()
        .enumerate()
        .map(|(i, r)| {
            cumulative += r;
            ((i + 1) as f64, cumulative)
        })
        .collect();
    LineChart::new(format!("PCA of {}: explained variance", data.source.name()))
        .x_label("components")
        .y_label("fraction of the variance")
        .series("cumulative", cumulative)
        .series("each component", ratio.iter().enumerate().map(|(i, &r)| ((i + 1) as f64, r)))
        .write_png(args.out.join("explained-variance.png"))?;
    let shape = data.spec().shape;
    if shape.is_image() {
        let shown = pca.n_components().min(32);
        let components = Array2::from_shape_fn((shown, dim), |(i, j)| {
            let row = pca.components().row(i);
            let top = row.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(f64::MIN_POSITIVE);
            (row[j] / top) as f32
        });
        image_grid(shape)
            .cols(8)
            .range(ValueRange::SYMMETRIC)
            .title(format!("the first {shown} components (each scaled to its largest value)"))
            .write_png(args.out.join("components.png"), &components)?;
        let originals = test.slice(ndarray::s![..16.min(test.nrows()), ..]).to_owned();
        if originals.nrows() > 0 {
            let recon = pca.inverse_transform(pca.transform(originals.view())?.view())?;
            image_grid(shape)
                .cols(16)
                .title(format!("test images above their reconstructions from {} components", pca.n_components()))
                .write_png(args.out.join("reconstructions.png"), &stack_rows(&[originals, recon]))?;
        }
    }
    let report = FitReport {
        out: args.out.display().to_string(),
        data: data.source.name(),
        training_examples: data.train.len(),
        test_examples: data.test.len(),
        dim,
        components: pca.n_components(),
        explained_variance_ratio: ratio.to_vec(),
        sizes,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let unit = if data.spec().values == ValueKind::Pixels { "pixel" } else { "standardised value" };
    println!(
        "PCA of {} training examples of {} ({dim} values each): {} components",
        report.training_examples, report.data, report.components
    );
    println!(
        "{:>10}  {:>18}  {:>26}  {:>14}",
        "components",
        "explained variance",
        "test squared error/example",
        format!("MSE per {unit}")
    );
    for r in &report.sizes {
        println!(
            "{:>10}  {:>17.2}%  {:>26.4}  {:>14.6}",
            r.components,
            100.0 * r.explained_variance,
            r.test_squared_error_per_example,
            r.test_mse_per_value
        );
    }
    eprintln!("wrote {} and pictures to {}", PCA_FILE, args.out.display());
    Ok(())
}

/// The sizes reported: 1, 2, 5, 10, 20, 50, ... below `k`, and `k`.
fn report_sizes(k: usize) -> Vec<usize> {
    let mut sizes: Vec<usize> =
        [1, 2, 5].iter().flat_map(|&m| (0..7).map(move |e| m * 10usize.pow(e))).filter(|&s| s < k).collect();
    sizes.sort_unstable();
    sizes.push(k);
    sizes
}

/// Read the fit in `dir`.
///
/// # Errors
/// If the file is missing or malformed (the message names it).
pub fn read_fit(dir: &Path) -> anyhow::Result<PcaFit> {
    let path = dir.join(PCA_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: no PCA fit here (make one with `latent pca fit --out DIR`)", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a PCA fit", path.display()))
}

/// Rows of a float32 `.npy` of `dim` values each (`[N, D]`, or `[N, ...]` whose trailing
/// axes hold `D` values).
fn read_rows(path: &Path, dim: usize, flag: &str) -> anyhow::Result<Array2<f32>> {
    let array = read_npy::<f32>(path).with_context(|| format!("{flag} {}", path.display()))?;
    let shape = array.shape().to_vec();
    let rows = shape.first().copied().unwrap_or(0);
    let per: usize = shape.iter().skip(1).product();
    if shape.len() < 2 || per != dim {
        bail!("{flag} {}: expected N rows of {dim} values, found an array of shape {shape:?}", path.display());
    }
    let flat = array.into_shape_with_order((rows, dim)).context("reshaping")?;
    flat.into_dimensionality::<Ix2>().context("reshaping")
}

fn transform(args: PcaTransformArgs) -> anyhow::Result<()> {
    if out_kind(&args.out)? != OutKind::Npy {
        bail!("--out {}: coordinates are written as .npy", args.out.display());
    }
    let fit = read_fit(&args.fit)?;
    let spec = fit.data.spec_or_mnist();
    let x = match &args.input {
        Some(path) => {
            let mut x = read_rows(path, fit.pca.dim(), "--input")?;
            to_model_units(&spec, &mut x);
            x
        }
        None => {
            let data = load_recorded_data(&args.data, &fit.data, fit.data.load.clone())?;
            require_images(&data, Split::Test, "to transform")?;
            data.test.to_flat(Scale::ZeroOne)
        }
    };
    let bytes = (x.nrows() as u64).saturating_mul(fit.pca.n_components() as u64 * 4 + fit.pca.dim() as u64 * 8);
    memory::check(|| format!("transforming {} examples", x.nrows()), bytes)?;
    let z = fit.pca.transform(x.view())?;
    write_npy(&args.out, &z)?;
    eprintln!("wrote {} coordinates of {} components to {}", z.nrows(), z.ncols(), args.out.display());
    Ok(())
}

fn inverse(args: PcaInverseArgs) -> anyhow::Result<()> {
    let kind = out_kind(&args.out)?;
    let fit = read_fit(&args.fit)?;
    let spec = fit.data.spec_or_mnist();
    let z = read_rows(&args.codes, fit.pca.n_components(), "--codes")?;
    let bytes = (z.nrows() as u64).saturating_mul(fit.pca.dim() as u64 * 12);
    memory::check(|| format!("mapping {} coordinates back ({})", z.nrows(), Size(bytes)), bytes)?;
    let mut x = fit.pca.inverse_transform(z.view())?;
    match kind {
        OutKind::Npy => {
            spec.to_user_units(x.as_slice_mut().expect("a fresh array"));
            write_npy(&args.out, &x)?;
        }
        OutKind::Png => {
            if !spec.shape.is_image() {
                bail!(
                    "--out {}: the data's examples are rows of values, not images: write a .npy file",
                    args.out.display()
                );
            }
            if x.nrows() > crate::commands::MAX_GRID_IMAGES {
                bail!(
                    "--codes: a PNG grid holds at most {} images; write a .npy file",
                    crate::commands::MAX_GRID_IMAGES
                );
            }
            image_grid(spec.shape).cols(16).write_png(&args.out, &x)?;
        }
    }
    eprintln!("wrote {} examples to {}", x.nrows(), args.out.display());
    Ok(())
}

/// Examples in the data's own units to the units the fit works in: real values standardised.
fn to_model_units(spec: &DataSpec, x: &mut Array2<f32>) {
    if let Some(stats) = &spec.standardization {
        for mut row in x.rows_mut() {
            stats.apply(row.as_slice_mut().expect("a standard-layout row"));
        }
    }
}
