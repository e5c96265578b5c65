//! `latent compare-pca`: a run's autoencoder against PCA with as many components as its code.
//!
//! Both are fitted on the same training split (the run's, with its class filter) and measured on
//! the test split by the same yardstick: the squared distance between an example and its
//! reconstruction (decoded from the code, the posterior mean for a VAE), per example and per
//! value, in the units the model sees (pixels in [0, 1], standardised real values). PCA's is the
//! smallest any rank-`k` linear map reaches on its training data, so a linear autoencoder
//! (`--hidden '' --loss mse`, or `--activation identity` between hidden layers) can at best tie
//! it; a nonlinear one should beat it.

use anyhow::{Context, bail};
use latent_models::RunDir;
use latent_tensor::Tensor;
use serde::Serialize;

use crate::cli::ComparePcaArgs;
use crate::commands::pca::fit_on_training;
use crate::commands::{Split, check_request, load_data_for_run, require_images, to_matrix};

/// Test examples reconstructed at once.
const CHUNK: usize = 1000;

#[derive(Serialize)]
struct Report {
    run: String,
    model: String,
    data: String,
    test_examples: usize,
    code_size: usize,
    components: usize,
    pca_explained_variance: f64,
    model_squared_error: f64,
    pca_squared_error: f64,
    /// The model's error over PCA's (below 1: the model reconstructs better).
    ratio: f64,
    model_mse_per_value: f64,
    pca_mse_per_value: f64,
}

/// Run `latent compare-pca`.
///
/// # Errors
/// If the run or data cannot be loaded, the model does not reconstruct, or the fit fails.
pub fn run(args: ComparePcaArgs) -> anyhow::Result<()> {
    let dir = RunDir::open(&args.run).with_context(|| format!("latent compare-pca {}", args.run.display()))?;
    let (mut model, config) = dir.load_model()?;
    if model.encoder().is_none() || model.decoder().is_none() {
        bail!(
            "{} is a {} ({}), which does not reconstruct its input: compare-pca needs an autoencoder or a VAE",
            args.run.display(),
            config.model.kind(),
            config.preset
        );
    }
    let description = config.model.describe()?;
    let data = load_data_for_run(&args.data, &config)?;
    require_images(&data, Split::Train, "to fit PCA on")?;
    require_images(&data, Split::Test, "to compare on")?;
    let k = args.components.unwrap_or(description.latent_dim);
    let pca = fit_on_training(&data, k, "--components")?;
    let n = data.test.len();
    let dim = description.input_dim;
    check_request(&config, || format!("reconstructing {n} test examples"), CHUNK.min(n), n.saturating_mul(dim) * 2)?;
    let x = data.test.to_flat(description.scale);
    let labels = data.test.labels();
    let conditional = model.classes().is_some();
    let mut model_sse = 0.0;
    for (i, chunk) in x.axis_chunks_iter(ndarray::Axis(0), CHUNK).enumerate() {
        let l = conditional.then(|| &labels[i * CHUNK..i * CHUNK + chunk.nrows()]);
        let recon = to_matrix(&latent_models::reconstruct(&mut *model, &Tensor::new(chunk.to_owned()), l)?);
        model_sse += chunk.iter().zip(&recon).map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2)).sum::<f64>();
    }
    let pca_sse: f64 = pca.reconstruction_errors(x.view())?.iter().sum();
    let (m, p) = (model_sse / n as f64, pca_sse / n as f64);
    let report = Report {
        run: args.run.display().to_string(),
        model: config.preset.clone(),
        data: data.source.name(),
        test_examples: n,
        code_size: description.latent_dim,
        components: k,
        pca_explained_variance: pca.explained_variance_ratio().sum(),
        model_squared_error: m,
        pca_squared_error: p,
        ratio: if p > 0.0 { m / p } else { f64::NAN },
        model_mse_per_value: m / dim as f64,
        pca_mse_per_value: p / dim as f64,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!("{} ({}) on {} test examples of {}", report.run, report.model, n, report.data);
    println!("{:<34} {:>22} {:>16}", "", "squared error/example", "MSE per value");
    println!(
        "{:<34} {:>22.4} {:>16.6}",
        format!("model, {}-d code", report.code_size),
        report.model_squared_error,
        report.model_mse_per_value
    );
    println!(
        "{:<34} {:>22.4} {:>16.6}",
        format!("PCA, {k} components ({:.1}% var.)", 100.0 * report.pca_explained_variance),
        report.pca_squared_error,
        report.pca_mse_per_value
    );
    let verdict = if report.ratio < 1.0 {
        "better than"
    } else if report.ratio > 1.0 {
        "worse than"
    } else {
        "as good as"
    };
    println!("the model reconstructs {verdict} PCA: {:.3} times its error", report.ratio);
    Ok(())
}
