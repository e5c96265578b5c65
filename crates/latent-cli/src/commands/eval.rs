//! `latent eval`: the model's test-set metrics, per image.
//!
//! `test_loss` is the training objective per test image (for the VAE: BCE summed over pixels
//! plus KL with one sample of z, exactly pytorch/examples' "Test set loss"); the other fields
//! are its parts. The objective's random draws (a VAE's `z`, a GAN's fakes) are those of the
//! run's own test pass at the end of the checkpoint's epoch ([`test_seed`]), so on the run's
//! data `eval` reports exactly the test figures `metrics.jsonl` holds for that epoch. For a model with a likelihood estimate (every VAE: MLP, convolutional,
//! conditional), `--iw-samples K` adds the importance-weighted estimate of `log p(x)`
//! (`iwae_log_likelihood`, nats per image; higher is better).
//!
//! For a generative model, `--samples N` draws `N` samples from the prior (seeded by
//! `--sample-seed`, drawn as `latent sample` draws them) and scores them against the whole test
//! split as `latent score` does ([`score_images`]: Fréchet distance, KID, precision/recall,
//! density/coverage in the features of the data set's cached classifier).

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use latent_data::BatchConfig;
use latent_models::RunDir;
use latent_models::train::{evaluate, test_seed};
use latent_tensor::TensorRng;
use serde::Serialize;

use crate::cli::EvalArgs;
use crate::commands::classify::obtain_classifier;
use crate::commands::score::{ScoreOptions, ScoreReport, render, score_images};
use crate::commands::{CHUNK_ROWS, Split, check_request, load_data_for_run, require_images, to_matrix};

/// The most importance samples per test image `--iw-samples` takes. Each costs one decoder pass
/// per image (a million on the 10,000 MNIST test digits are 10^10 passes, hours to days on a
/// CPU) and 8 bytes while its image is estimated; the literature uses 5,000.
pub const MAX_IW_SAMPLES: usize = 1_000_000;

/// Test images decoded at once by the importance-weighted estimate.
const IW_CHUNK: usize = 1000;

#[derive(Serialize)]
struct Report {
    run: String,
    model: String,
    data: String,
    test_images: usize,
    /// The epoch the weights end (and whose test pass's draws are reproduced), when the
    /// training state says.
    #[serde(skip_serializing_if = "Option::is_none")]
    epoch: Option<u64>,
    test_loss: f64,
    parts: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iwae_log_likelihood: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iw_samples: Option<usize>,
    /// With `--samples`.
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<ScoreReport>,
}

/// Run `latent eval`.
///
/// # Errors
/// If the run or its data cannot be loaded, or the flags do not fit the model.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let dir = RunDir::open(&args.run).with_context(|| format!("latent eval {}", args.run.display()))?;
    let (mut model, config) = dir.load_model()?;
    let mut data = load_data_for_run(&args.data, &config)?;
    require_images(&data, Split::Test, "to evaluate on")?;
    if args.samples == Some(0) {
        bail!("--samples must be at least 1");
    }
    if args.samples.is_some() && model.generator().is_none() {
        bail!(
            "--samples scores draws from a generative model; {} is a {} ({}), which has no prior to sample from",
            args.run.display(),
            config.model.kind(),
            config.preset
        );
    }
    // The score compares with the whole test split, whatever --limit evaluates.
    let full_test = args.samples.map(|_| data.test.clone());
    if let Some(n) = args.limit {
        if n == 0 {
            bail!("--limit must be at least 1");
        }
        data.test = data.test.take(n.min(data.test.len()));
    }
    if args.iw_samples > MAX_IW_SAMPLES {
        bail!(
            "--iw-samples {}: at most {MAX_IW_SAMPLES} importance samples per test image (the literature uses 5000; each costs a decoder pass per image)",
            args.iw_samples
        );
    }
    let description = config.model.describe()?;
    // A batch of the objective (or a chunk of importance samples) in flight, the test images as
    // numbers, and each image's importance weights.
    let rows = config.train.batch_size.min(data.test.len()).max(IW_CHUNK.min(args.iw_samples));
    let held = data.test.len().saturating_mul(description.input_dim).saturating_add(args.iw_samples.saturating_mul(2));
    check_request(
        &config,
        || match args.iw_samples {
            0 => format!("evaluating {} test images in batches of {rows}", data.test.len()),
            k => format!("--iw-samples {k} on {} test images", data.test.len()),
        },
        rows,
        held,
    )?;
    let batches = BatchConfig::new(config.train.batch_size).noise(description.noise).scale(description.scale);
    // The draws of the run's test pass after this checkpoint's epoch; without a readable
    // training state, those of the initial weights' (epoch 0), and the report says so.
    let epoch = dir.checkpoint_epoch();
    if epoch.is_none() {
        eprintln!(
            "note: {} has no readable training state, so the epoch of its weights is unknown; the random draws of this evaluation may differ from the run's own test pass",
            args.run.display()
        );
    }
    let seed = test_seed(config.train.seed, epoch.unwrap_or(0));
    let mut parts = evaluate(&mut *model, &data.test, &batches, seed)?;
    let test_loss = parts.remove("loss").unwrap_or(f64::NAN);
    let (iwae, iw_samples) = if args.iw_samples > 0 {
        let labels = model.classes().map(|_| data.test.labels().to_vec());
        let Some(estimate) = model.likelihood() else {
            bail!(
                "--iw-samples estimates log p(x) of a VAE; {} is a {} model, which has no likelihood",
                args.run.display(),
                config.model.kind()
            );
        };
        let images = data.test.to_flat(description.scale);
        let mut rng = TensorRng::seed_from_u64(config.train.seed);
        let ll = estimate.log_likelihood(&images, labels.as_deref(), args.iw_samples, IW_CHUNK, &mut rng)?;
        (Some(ll.iter().sum::<f64>() / ll.len() as f64), Some(args.iw_samples))
    } else {
        (None, None)
    };
    let score = match (args.samples, full_test) {
        (Some(n), Some(test)) => {
            if let Some(path) = args.classifier.as_deref().filter(|p| !p.exists()) {
                bail!(
                    "--classifier {}: no such file (`latent score --classifier FILE --train-classifier` trains one there)",
                    path.display()
                );
            }
            let classes = model.classes();
            let generator = model.generator().context("the model has no generator")?;
            check_request(&config, || format!("--samples {n}, drawn {CHUNK_ROWS} at a time"), CHUNK_ROWS.min(n), 0)?;
            let mut rng = TensorRng::seed_from_u64(args.sample_seed);
            let mut images = ndarray::Array2::<f32>::zeros((n, description.input_dim));
            for start in (0..n).step_by(CHUNK_ROWS) {
                let count = CHUNK_ROWS.min(n - start);
                // As `latent sample`: a conditional model draws label i mod classes for row i.
                let labels: Option<Vec<u8>> =
                    classes.map(|c| (start..start + count).map(|i| (i % c.max(1)) as u8).collect());
                let rows = to_matrix(&generator.sample(count, labels.as_deref(), &mut rng)?);
                images.slice_mut(ndarray::s![start..start + count, ..]).assign(&rows);
            }
            if data.spec().shape.is_image() {
                images.mapv_inplace(|v| v.clamp(0.0, 1.0));
            }
            let mut scored = data.clone();
            scored.test = test;
            let (mut judge, path, trained_now) = obtain_classifier(&scored, args.classifier.as_deref(), false, 10)?;
            let what = format!("{} samples of {} (seed {})", n, args.run.display(), args.sample_seed);
            Some(score_images(&images, &scored, &mut judge, &path, trained_now, &ScoreOptions::default(), what)?)
        }
        _ => None,
    };
    let report = Report {
        run: args.run.display().to_string(),
        model: config.preset.clone(),
        data: data.source.name(),
        test_images: data.test.len(),
        epoch,
        test_loss,
        parts,
        iwae_log_likelihood: iwae,
        iw_samples,
        score,
    };
    if args.json {
        if let Some(score) = &report.score {
            for w in &score.warnings {
                eprintln!("warning: {w}");
            }
        }
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let after = report.epoch.map(|e| format!(" after epoch {e}")).unwrap_or_default();
        println!("{} ({}){after} on {} test images of {}", report.run, report.model, report.test_images, report.data);
        // A GAN's `loss` is its `d_loss`, shown among the parts under that name.
        if model.headline_parts().contains(&"loss") {
            println!("  test loss per image: {:.4}", report.test_loss);
        }
        for (k, v) in &report.parts {
            println!("  {k:<18} {v:.4}");
        }
        if let (Some(ll), Some(k)) = (report.iwae_log_likelihood, report.iw_samples) {
            println!("  log p(x) (IWAE, K={k}): {ll:.4}");
        }
        if let Some(score) = &report.score {
            for w in &score.warnings {
                eprintln!("warning: {w}");
            }
            println!();
            print!("{}", render(score));
        }
    }
    Ok(())
}
