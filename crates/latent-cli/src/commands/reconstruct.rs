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
    let input =
        noise.corrupt(&clean, latent_data::Scale::ZeroOne, &mut rand_chacha::ChaCha8Rng::seed_from_u64(args.seed));
    // A conditional model (cvae) is told each digit's label.
    let labels = &data.test.labels()[..clean.nrows()];
    let given = model.classes().map(|_| labels);
    let recon = to_matrix(&latent_models::reconstruct(&mut *model, &Tensor::new(input.clone()), given)?);
    match kind {
        OutKind::Png => {
            RunPictures::reconstructions(&mut *model, &input, labels, 16.min(args.n), data.spec().shape, &args.out)?
        }
        OutKind::Npy => write_npy(&args.out, &recon)?,
    }
    eprintln!(
        "mean squared error per pixel against the clean digits: input {:.5}, reconstruction {:.5} ({} digits, noise {noise})",
        mse(&input, &clean),
        mse(&recon, &clean),
        clean.nrows()
    );
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
