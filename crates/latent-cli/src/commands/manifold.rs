//! `latent manifold`: the decoded 2-D latent space of a VAE (or any model with a 2-D code and a
//! decoder), as Kingma and Welling drew it: an `n × n` grid of codes whose coordinates are the
//! standard normal quantiles of evenly spaced probabilities ([`crate::pictures::manifold_codes`]),
//! so equal steps cover equal prior mass; `z1` grows to the right, `z2` upwards.

use anyhow::{Context, bail};
use latent_models::RunDir;
use latent_tensor::Tensor;

use crate::cli::ManifoldArgs;
use crate::commands::{MAX_GRID_IMAGES, OutKind, check_request, out_kind, to_matrix};
use crate::pictures::{image_grid, manifold_codes};

/// Run `latent manifold`.
///
/// # Errors
/// If the run cannot be loaded, its code is not 2-D, the flags are invalid, or the file cannot
/// be written.
pub fn run(args: ManifoldArgs) -> anyhow::Result<()> {
    if out_kind(&args.out)? != OutKind::Png {
        bail!("--out {}: the manifold is a picture: write a .png file", args.out.display());
    }
    if args.n < 2 || args.n * args.n > MAX_GRID_IMAGES {
        bail!("--n {}: expected between 2 and 100 codes per side", args.n);
    }
    if !(args.margin > 0.0 && args.margin < 0.5) {
        bail!("--margin {}: expected a fraction between 0 and 0.5 (exclusive)", args.margin);
    }
    let (mut model, config) =
        RunDir::open(&args.run)?.load_model().with_context(|| format!("latent manifold {}", args.run.display()))?;
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
    if decoder.latent_dim() != 2 {
        bail!(
            "{}: the manifold is drawn for 2-D codes; this model's have {} dimensions (use `latent traverse`)",
            args.run.display(),
            decoder.latent_dim()
        );
    }
    let n = args.n * args.n;
    let labels = match (classes, args.label) {
        (Some(c), Some(l)) if usize::from(l) < c => Some(vec![l; n]),
        (Some(c), Some(l)) => bail!("--label {l}: this model knows labels 0 to {}", c - 1),
        (Some(_), None) => bail!("{} is conditional: choose the class to draw with --label K", args.run.display()),
        (None, Some(_)) => bail!("--label: {} is not conditioned on labels", args.run.display()),
        (None, None) => None,
    };
    check_request(&config, || format!("--n {} ({n} codes)", args.n), n, n.saturating_mul(shape.len()))?;
    let codes = manifold_codes(args.n, args.margin);
    let decoder = model.decoder().expect("checked");
    let images = to_matrix(&decoder.decode(&Tensor::new(codes), labels.as_deref())?);
    image_grid(shape).cols(args.n).write_png(&args.out, &images)?;
    eprintln!(
        "wrote a {}x{} manifold (z from the N(0,1) quantiles of {} to {}) to {}",
        args.n,
        args.n,
        args.margin,
        1.0 - args.margin,
        args.out.display()
    );
    Ok(())
}
