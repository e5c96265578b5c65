//! `latent interpolate`: decode evenly spaced points on the straight line between the codes of
//! two test digits.

use anyhow::{Context, bail};
use latent_models::RunDir;
use latent_tensor::Tensor;
use ndarray::Array2;

use crate::cli::InterpolateArgs;
use crate::commands::{
    CHUNK_ROWS, Split, check_request, load_data_for_run, require_images, test_images, to_matrix, write_image_rows,
};

/// Run `latent interpolate`.
///
/// # Errors
/// If the run or data cannot be loaded, an index is out of range, or the file cannot be written.
pub fn run(args: InterpolateArgs) -> anyhow::Result<()> {
    crate::commands::out_kind(&args.out)?;
    if args.steps < 2 {
        bail!("--steps must be at least 2 (the two ends)");
    }
    let (mut model, config) =
        RunDir::open(&args.run)?.load_model().with_context(|| format!("latent interpolate {}", args.run.display()))?;
    if model.encoder().is_none() {
        bail!(
            "{} is a {} ({}), which has no encoder: there are no codes of test digits to interpolate between",
            args.run.display(),
            config.model.kind(),
            config.preset
        );
    }
    if model.classes().is_some() {
        bail!(
            "{} is a {} ({}): its codes hold the style of a digit given its label, so a line between two digits' codes has no single label to decode with; interpolate an unconditional model (vae, ae, ...)",
            args.run.display(),
            config.model.kind(),
            config.preset
        );
    }
    let data = load_data_for_run(&args.data, &config)?;
    require_images(&data, Split::Test, "to interpolate between")?;
    let n = data.test.len();
    for (flag, i) in [("--from", args.from), ("--to", args.to)] {
        if i >= n {
            bail!("{flag} {i}: the test set has {n} digits (indices 0 to {})", n - 1);
        }
    }
    let images = test_images(&data, args.from.max(args.to) + 1);
    let ends = ndarray::stack![ndarray::Axis(0), images.row(args.from), images.row(args.to)];
    let codes = to_matrix(&model.encoder().expect("checked above").encode(&Tensor::new(ends), None)?);
    let dim = codes.ncols();
    let flag = format!("--steps {}", args.steps);
    check_request(&config, || format!("{flag}, decoded {CHUNK_ROWS} at a time"), CHUNK_ROWS.min(args.steps), 0)?;
    let decoder = model.decoder().context("this model has an encoder but no decoder")?;
    let spec = data.spec().clone();
    // The points are decoded and written a chunk at a time (see `write_image_rows`), real
    // values in the data's own units.
    write_image_rows(&args.out, args.steps, spec.shape, args.steps, &flag, |start, count| {
        let line = Array2::from_shape_fn((count, dim), |(s, j)| {
            let t = (start + s) as f32 / (args.steps - 1) as f32;
            (1.0 - t) * codes[[0, j]] + t * codes[[1, j]]
        });
        let mut rows = to_matrix(&decoder.decode(&Tensor::new(line), None)?);
        spec.to_user_units(rows.as_slice_mut().expect("a fresh contiguous array"));
        Ok(rows)
    })?;
    eprintln!("wrote {} points from test digit {} to {} into {}", args.steps, args.from, args.to, args.out.display());
    Ok(())
}
