//! `latent reconstruct`: the first N test digits (corrupted first with `--noise`) and the
//! model's reconstructions, with the mean squared distance of each to the clean digits.

use anyhow::{Context, bail};
use latent_data::NoiseSpec;
use latent_data::npy::write_npy;
use latent_models::RunDir;
use latent_tensor::Tensor;
use ndarray::Array2;
use rand::SeedableRng;

use crate::cli::ReconstructArgs;
use crate::commands::{
    OutKind, Split, check_request, load_data_for_run, out_kind, require_images, test_images, to_matrix,
};
use crate::pictures::RunPictures;

/// Mean squared difference per pixel.
fn mse(a: &Array2<f32>, b: &Array2<f32>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| f64::from(x - y).powi(2)).sum::<f64>() / a.len().max(1) as f64
}

/// The reconstruction error of each feature of table data: the root mean squared error in the
/// data's own units, beside the feature's standard deviation in the training data (their ratio
/// is the error in standard deviations).
pub fn feature_table(
    spec: &latent_data::DataSpec,
    clean: &ndarray::Array2<f32>,
    recon: &ndarray::Array2<f32>,
) -> String {
    use std::fmt::Write;
    let errors = crate::pictures::per_feature_rmse(clean, recon);
    let names: Vec<String> = match &spec.feature_names {
        Some(n) => n.clone(),
        None => (1..=errors.len()).map(|j| format!("feature {j}")).collect(),
    };
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(7).max(7);
    let mut out = String::new();
    let _ = writeln!(out, "{:<width$}  {:>12}  {:>12}  {:>9}", "feature", "RMSE", "data std", "RMSE/std");
    for (j, (name, e)) in names.iter().zip(&errors).enumerate() {
        let std = spec.standardization.as_ref().map_or(1.0, |s| f64::from(s.std[j]));
        let _ = writeln!(out, "{name:<width$}  {:>12.5}  {:>12.5}  {:>9.3}", e * std, std, e);
    }
    out
}

/// Run `latent reconstruct`.
///
/// # Errors
/// If the run or data cannot be loaded, the noise spec is invalid, or the file cannot be written.
pub fn run(args: ReconstructArgs) -> anyhow::Result<()> {
    let kind = out_kind(&args.out)?;
    if args.n == 0 {
        bail!("--n must be at least 1");
    }
    let noise: NoiseSpec = args.noise.as_deref().unwrap_or("none").parse().context("--noise")?;
    let (mut model, config) =
        RunDir::open(&args.run)?.load_model().with_context(|| format!("latent reconstruct {}", args.run.display()))?;
    let data = load_data_for_run(&args.data, &config)?;
    require_images(&data, Split::Test, "to reconstruct")?;
    // All the digits through the model at once, and three copies kept (clean, input, output).
    let n = args.n.min(data.test.len());
    let width = config.model.describe()?.input_dim;
    check_request(&config, || format!("--n {} ({n} test digits at once)", args.n), n, n.saturating_mul(width) * 3)?;
    let clean = test_images(&data, args.n);
    let spec = data.spec().clone();
    let table = !spec.shape.is_image();
    if table && kind == OutKind::Png {
        bail!(
            "--out {}: this run's data are rows of {} values, not images: write a .npy file",
            args.out.display(),
            width
        );
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let input = if table {
        // Standardised real values: noise in standard deviations, unclipped.
        let mut copy = clean.clone();
        let rows = copy.nrows();
        noise
            .corrupt_standardized(copy.as_slice_mut().expect("a fresh contiguous array"), rows, &mut rng)
            .context("--noise")?;
        copy
    } else {
        noise.corrupt(&clean, latent_data::Scale::ZeroOne, &mut rng)
    };
    // A conditional model (cvae) is told each example's label.
    let labels = &data.test.labels()[..clean.nrows()];
    let given = model.classes().map(|_| labels);
    let recon = to_matrix(&latent_models::reconstruct(&mut *model, &Tensor::new(input.clone()), given)?);
    match kind {
        OutKind::Png => {
            RunPictures::reconstructions(&mut *model, &input, labels, 16.min(args.n), data.spec().shape, &args.out)?
        }
        OutKind::Npy => {
            // Real values in the data's own units.
            let mut out = recon.clone();
            spec.to_user_units(out.as_slice_mut().expect("a fresh contiguous array"));
            write_npy(&args.out, &out)?;
        }
    }
    if table {
        print!("{}", feature_table(&spec, &clean, &recon));
    }
    let unit = if table { "value (standardised)" } else { "pixel" };
    eprintln!(
        "mean squared error per {unit} against the clean data: input {:.5}, reconstruction {:.5} ({} examples, noise {noise})",
        mse(&input, &clean),
        mse(&recon, &clean),
        clean.nrows()
    );
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
