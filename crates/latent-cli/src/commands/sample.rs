//! `latent sample`: draws from a generative model's prior, decoded; `--label K` draws digit `K`
//! from a conditional model.
//!
//! Samples are drawn and written [`CHUNK_ROWS`] at a time, so a
//! `.npy` of any number of samples is written with bounded memory (the draws, and so the file,
//! are those of drawing all at once). A PNG grid holds at most
//! [`MAX_GRID_IMAGES`](crate::commands::MAX_GRID_IMAGES).

use anyhow::{Context, bail};
use latent_models::RunDir;
use latent_tensor::TensorRng;

use crate::cli::SampleArgs;
use crate::commands::{CHUNK_ROWS, check_request, out_kind, to_matrix, write_image_rows};

/// Run `latent sample`.
///
/// # Errors
/// If the run cannot be loaded, the model has no prior, `--label` is given for a model that is
/// not conditional, the output is too large, or the file cannot be written.
pub fn run(args: SampleArgs) -> anyhow::Result<()> {
    out_kind(&args.out)?;
    if args.n == 0 {
        bail!("--n must be at least 1");
    }
    let (mut model, config) =
        RunDir::open(&args.run)?.load_model().with_context(|| format!("latent sample {}", args.run.display()))?;
    let classes = model.classes();
    let kind = config.model.kind().to_string();
    let Some(generator) = model.generator() else {
        bail!(
            "{} is a {} ({}), which has no prior to sample from; train a vae",
            args.run.display(),
            kind,
            config.preset
        );
    };
    if let Some(k) = args.label
        && classes.is_none()
    {
        bail!(
            "--label {k}: {} is a {} ({}), which is not conditioned on labels; train a cvae or cgan to draw chosen digits",
            args.run.display(),
            config.model.kind(),
            config.preset
        );
    }
    let flag = format!("--n {}", args.n);
    check_request(&config, || format!("{flag}, drawn {CHUNK_ROWS} at a time"), CHUNK_ROWS.min(args.n), 0)?;
    let mut rng = TensorRng::seed_from_u64(args.seed);
    let cols = (args.n as f64).sqrt().ceil() as usize;
    let spec = config.data.spec_or_mnist();
    write_image_rows(&args.out, args.n, spec.shape, cols, &flag, |start, count| {
        // Row i draws --label, or (a conditional model without it) label i mod classes.
        let labels: Option<Vec<u8>> = match (args.label, classes) {
            (Some(k), _) => Some(vec![k; count]),
            (None, Some(c)) => Some((start..start + count).map(|i| (i % c.max(1)) as u8).collect()),
            (None, None) => None,
        };
        // Real values in the data's own units; pixels stay in [0, 1].
        let mut rows = to_matrix(&generator.sample(count, labels.as_deref(), &mut rng)?);
        spec.to_user_units(rows.as_slice_mut().expect("a fresh contiguous array"));
        Ok(rows)
    })?;
    match args.label {
        Some(k) => eprintln!("wrote {} samples of digit {k} to {}", args.n, args.out.display()),
        None => eprintln!("wrote {} samples to {}", args.n, args.out.display()),
    }
    Ok(())
}
