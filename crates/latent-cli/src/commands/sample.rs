//! `latent sample`: draws from a generative model's prior, decoded; `--label K` draws digit `K`
//! from a conditional model.

use anyhow::{Context, bail};
use latent_models::RunDir;
use latent_tensor::TensorRng;

use crate::cli::SampleArgs;
use crate::commands::{out_kind, to_matrix, write_images};

/// Run `latent sample`.
///
/// # Errors
/// If the run cannot be loaded, the model has no prior, `--label` is given for a model that is
/// not conditional, or the file cannot be written.
pub fn run(args: SampleArgs) -> anyhow::Result<()> {
    out_kind(&args.out)?;
    if args.n == 0 {
        bail!("--n must be at least 1");
    }
    let (mut model, config) =
        RunDir::open(&args.run)?.load_model().with_context(|| format!("latent sample {}", args.run.display()))?;
    let conditional = model.classes().is_some();
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
        && !conditional
    {
        bail!(
            "--label {k}: {} is a {} ({}), which is not conditioned on labels; train a cvae or cgan to draw chosen digits",
            args.run.display(),
            config.model.kind(),
            config.preset
        );
    }
    let labels = args.label.map(|k| vec![k; args.n]);
    let samples = to_matrix(&generator.sample(args.n, labels.as_deref(), &mut TensorRng::seed_from_u64(args.seed))?);
    let shape = config.data.spec_or_mnist().shape;
    write_images(&args.out, &samples, (args.n as f64).sqrt().ceil() as usize, shape)?;
    match args.label {
        Some(k) => eprintln!("wrote {} samples of digit {k} to {}", args.n, args.out.display()),
        None => eprintln!("wrote {} samples to {}", args.n, args.out.display()),
    }
    Ok(())
}
