//! `latent traverse`: what each latent dimension does. Row `d` decodes codes that vary
//! dimension `d` alone from `-RANGE` to `RANGE` (for a VAE, prior standard deviations), the
//! others held at the starting code: the zero code (the prior's mean), or the code of a test
//! example (`--from`). Dimensions a VAE leaves unused (posterior collapsed to the prior) show
//! as rows that do not change.

use anyhow::{Context, bail};
use latent_data::Scale;
use latent_models::RunDir;
use latent_tensor::Tensor;

use crate::cli::TraverseArgs;
use crate::commands::{
    MAX_GRID_IMAGES, OutKind, Split, check_request, load_data_for_run, out_kind, require_images, to_matrix,
};
use crate::pictures::{image_grid, traversal_codes};

/// Run `latent traverse`.
///
/// # Errors
/// If the run or data cannot be loaded, the flags are invalid, or the file cannot be written.
pub fn run(args: TraverseArgs) -> anyhow::Result<()> {
    if out_kind(&args.out)? != OutKind::Png {
        bail!("--out {}: a traversal is a picture: write a .png file", args.out.display());
    }
    if args.steps < 2 || args.steps > 100 {
        bail!("--steps {}: expected between 2 and 100 codes per row", args.steps);
    }
    if !(args.range.is_finite() && args.range > 0.0) {
        bail!("--range {}: expected a positive number", args.range);
    }
    let (mut model, config) =
        RunDir::open(&args.run)?.load_model().with_context(|| format!("latent traverse {}", args.run.display()))?;
    let shape = config.data.spec_or_mnist().shape;
    if !shape.is_image() {
        bail!(
            "{}: the data's examples are rows of values, not images: there is no picture to draw",
            args.run.display()
        );
    }
    let classes = model.classes();
    let Some(decoder) = model.decoder() else {
        bail!("{} is a {} ({}), which has no decoder", args.run.display(), config.model.kind(), config.preset);
    };
    let latent = decoder.latent_dim();
    let rows = latent;
    let n = rows * args.steps;
    if n > MAX_GRID_IMAGES {
        bail!(
            "{latent} dimensions of {} steps make {n} pictures, more than a grid holds ({MAX_GRID_IMAGES}): lower --steps",
            args.steps
        );
    }
    let label = match (classes, args.label) {
        (Some(c), Some(l)) if usize::from(l) < c => Some(l),
        (Some(c), Some(l)) => bail!("--label {l}: this model knows labels 0 to {}", c - 1),
        (Some(_), None) => bail!("{} is conditional: choose the class to draw with --label K", args.run.display()),
        (None, Some(_)) => bail!("--label: {} is not conditioned on labels", args.run.display()),
        (None, None) => None,
    };
    check_request(
        &config,
        || format!("{n} codes ({latent} dimensions x --steps {})", args.steps),
        n,
        n.saturating_mul(shape.len()),
    )?;
    let base: Vec<f32> = match args.from {
        None => vec![0.0; latent],
        Some(index) => {
            let data = load_data_for_run(&args.data, &config)?;
            require_images(&data, Split::Test, "to start from")?;
            if index >= data.test.len() {
                bail!("--from {index}: the test split has {} examples", data.test.len());
            }
            let x = data.test.take(index + 1).to_flat(Scale::ZeroOne).slice(ndarray::s![index..=index, ..]).to_owned();
            let l = classes.map(|_| vec![label.unwrap_or(data.test.labels()[index])]);
            let encoder = model.encoder().context("the model has no encoder to start from a test example")?;
            to_matrix(&encoder.encode(&Tensor::new(x), l.as_deref())?).row(0).to_vec()
        }
    };
    let codes = traversal_codes(&base, rows, args.steps, args.range);
    let labels = label.map(|l| vec![l; n]);
    let decoder = model.decoder().expect("checked");
    let images = to_matrix(&decoder.decode(&Tensor::new(codes), labels.as_deref())?);
    image_grid(shape).cols(args.steps).write_png(&args.out, &images)?;
    let from = args.from.map_or("the zero code".to_string(), |i| format!("the code of test example {i}"));
    eprintln!(
        "wrote {rows} rows (one per latent dimension) of {} codes from -{r} to {r} around {from} to {}",
        args.steps,
        args.out.display(),
        r = args.range
    );
    Ok(())
}
