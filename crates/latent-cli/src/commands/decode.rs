//! `latent decode`: codes to data, the inverse of `latent embed` — each row of a `.npy` of codes
//! through the model's decoder (a GAN's generator), written in the data's own units (pixels in
//! [0, 1]; real values de-standardised), so outputs can be compared for any given code.

use anyhow::{Context, bail};
use latent_data::npy::{read_npy, read_npy_info};
use latent_models::RunDir;
use latent_tensor::Tensor;
use ndarray::{Array2, ArrayD, Ix2, s};

use crate::cli::DecodeArgs;
use crate::commands::classify::read_labels;
use crate::commands::{CHUNK_ROWS, check_request, out_kind, to_matrix, write_image_rows};

/// Run `latent decode`.
///
/// # Errors
/// If the run cannot be loaded, the model has no decoder, the codes or labels do not fit it,
/// or the file cannot be written.
pub fn run(args: DecodeArgs) -> anyhow::Result<()> {
    out_kind(&args.out)?;
    let (mut model, config) =
        RunDir::open(&args.run)?.load_model().with_context(|| format!("latent decode {}", args.run.display()))?;
    let classes = model.classes();
    let codes = read_codes(&args.codes)?;
    let n = codes.nrows();
    let labels: Option<Vec<u8>> = match (classes, &args.labels, args.label) {
        (None, None, None) => None,
        (None, _, _) => bail!(
            "{} is a {} ({}), which is not conditioned on labels: drop --labels/--label",
            args.run.display(),
            config.model.kind(),
            config.preset
        ),
        (Some(k), Some(path), _) => Some(read_labels(path, n, k)?),
        (Some(k), None, Some(label)) => {
            if usize::from(label) >= k {
                bail!("--label {label}: this model knows labels 0 to {}", k - 1);
            }
            Some(vec![label; n])
        }
        (Some(_), None, None) => bail!(
            "{} is conditioned on labels: give one per code (--labels FILE.npy) or one for all (--label K)",
            args.run.display()
        ),
    };
    let kind = config.model.kind().to_string();
    let Some(decoder) = model.decoder() else {
        bail!("{} is a {kind} ({}), which has no decoder", args.run.display(), config.preset);
    };
    let latent = decoder.latent_dim();
    if codes.ncols() != latent {
        bail!(
            "--codes {}: expected codes of {latent} values per row (this model's code size), found {} columns",
            args.codes.display(),
            codes.ncols()
        );
    }
    let flag = format!("--codes {} ({n} codes)", args.codes.display());
    check_request(&config, || format!("{flag}, decoded {CHUNK_ROWS} at a time"), CHUNK_ROWS.min(n), 0)?;
    let spec = config.data.spec_or_mnist();
    let cols = (n as f64).sqrt().ceil() as usize;
    write_image_rows(&args.out, n, spec.shape, cols, &flag, |start, count| {
        let z = Tensor::new(codes.slice(s![start..start + count, ..]).to_owned());
        let rows_labels = labels.as_ref().map(|l| &l[start..start + count]);
        let mut rows = to_matrix(&decoder.decode(&z, rows_labels)?);
        // Real values in the data's own units; pixels stay in [0, 1].
        spec.to_user_units(rows.as_slice_mut().expect("a fresh contiguous array"));
        Ok(rows)
    })?;
    eprintln!("wrote {n} decoded examples to {}", args.out.display());
    Ok(())
}

/// The codes of a `.npy` of float32 or float64 rows `[N, latent]`, checked finite and not empty.
fn read_codes(path: &std::path::Path) -> anyhow::Result<Array2<f32>> {
    let shown = path.display();
    let expected = format!("--codes {shown}: expected a .npy of codes (float32 or float64, shape N x latent_dim)");
    let info = read_npy_info(path).context(expected.clone())?;
    let array: ArrayD<f32> = if info.is::<f32>() {
        read_npy::<f32>(path).context(expected)?
    } else if info.is::<f64>() {
        read_npy::<f64>(path).context(expected)?.mapv(|v| v as f32)
    } else {
        bail!("{expected}, found element type {}", info.descr);
    };
    let shape = array.shape().to_vec();
    let Ok(codes) = array.into_dimensionality::<Ix2>() else {
        bail!("--codes {shown}: expected a 2-D array N x latent_dim, found shape {shape:?}");
    };
    if codes.nrows() == 0 {
        bail!("--codes {shown}: the file holds no codes (shape {shape:?})");
    }
    if let Some((i, v)) = codes.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        bail!("--codes {shown}: value {v} at flat position {i} is not finite");
    }
    Ok(codes)
}
