//! `latent embed`: the codes of the whole test set (the mean for a VAE), as `.npy`, with the
//! labels and a scatter plot on request (codes wider than two projected on their first two
//! principal components, which the title says, with the share of the variance they show).

use anyhow::{Context, bail};
use latent_data::Scale;
use latent_data::npy::write_npy;
use latent_models::RunDir;
use latent_tensor::Tensor;
use latent_viz::ScatterPlot;

use crate::cli::EmbedArgs;
use crate::commands::{OutKind, Split, check_request, load_data_for_run, out_kind, require_images, to_matrix};

/// Test images encoded at once.
const CHUNK: usize = 1000;

/// The codes of `rows` (values as the model reads them), encoded 1,000 rows at a time; a
/// conditional model is given each row's label.
///
/// # Errors
/// If the rows or labels do not fit the model.
pub fn encode_rows(
    encoder: &mut dyn latent_models::Encoder,
    rows: &ndarray::Array2<f32>,
    labels: Option<&[u8]>,
) -> anyhow::Result<ndarray::Array2<f32>> {
    let mut codes = Vec::new();
    for (i, chunk) in rows.axis_chunks_iter(ndarray::Axis(0), CHUNK).enumerate() {
        let labels = labels.map(|l| &l[i * CHUNK..i * CHUNK + chunk.nrows()]);
        codes.push(to_matrix(&encoder.encode(&Tensor::new(chunk.to_owned()), labels)?));
    }
    Ok(crate::pictures::stack_rows(&codes))
}

/// Run `latent embed`.
///
/// # Errors
/// If the run or data cannot be loaded, or a file cannot be written.
pub fn run(args: EmbedArgs) -> anyhow::Result<()> {
    if out_kind(&args.out)? != OutKind::Npy {
        bail!("--out {}: codes are written as .npy", args.out.display());
    }
    let (mut model, config) =
        RunDir::open(&args.run)?.load_model().with_context(|| format!("latent embed {}", args.run.display()))?;
    let data = load_data_for_run(&args.data, &config)?;
    require_images(&data, Split::Test, "to embed")?;
    // A chunk through the model, the test images as numbers and their codes kept.
    let description = config.model.describe()?;
    let n = data.test.len();
    let held = n.saturating_mul(description.input_dim.saturating_add(description.latent_dim));
    check_request(&config, || format!("embedding {n} test images"), CHUNK.min(n), held)?;
    let images = data.test.to_flat(Scale::ZeroOne);
    // A conditional model (cvae) encodes each digit with its label.
    let conditional = model.classes().is_some();
    let Some(encoder) = model.encoder() else {
        bail!(
            "{} is a {} ({}), which has no encoder: there is nothing to embed",
            args.run.display(),
            config.model.kind(),
            config.preset
        );
    };
    let codes = encode_rows(encoder, &images, conditional.then_some(data.test.labels()))?;
    write_npy(&args.out, &codes)?;
    if let Some(path) = &args.labels {
        write_npy(path, &ndarray::Array1::from(data.test.labels().to_vec()))?;
    }
    if let Some(path) = &args.plot {
        match codes.ncols() {
            2 => ScatterPlot::new(format!("{} test codes", config.preset)).x_label("z1").y_label("z2").write_png(
                path,
                &codes,
                Some(data.test.labels()),
            )?,
            1 => bail!("--plot draws codes of 2 or more dimensions; this model's have 1"),
            d => {
                // Project on the codes' first two principal components.
                let pca = latent_stats::pca::Pca::fit(codes.view(), 2).context("projecting the codes for --plot")?;
                let shown = pca.explained_variance_ratio();
                ScatterPlot::new(format!(
                    "{}: {d}-d codes, first 2 PCs ({:.0}% of variance)",
                    config.preset,
                    100.0 * shown.sum()
                ))
                .x_label(format!("PC1 ({:.0}%)", 100.0 * shown[0]))
                .y_label(format!("PC2 ({:.0}%)", 100.0 * shown[1]))
                .write_png(path, &pca.transform(codes.view())?, Some(data.test.labels()))?
            }
        }
    }
    eprintln!("wrote {} codes of {} dimensions to {}", codes.nrows(), codes.ncols(), args.out.display());
    Ok(())
}
