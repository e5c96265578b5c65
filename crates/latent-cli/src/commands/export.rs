//! `latent export`: a trained run written for another engine — ONNX graphs (`--format onnx`)
//! or a self-contained PyTorch module (`--format torch`) — with `spec.json`, which says what
//! each graph reads and returns and how the data's values map to the model's units.

use anyhow::Context;
use latent_models::RunDir;
use latent_models::run_dir::STATE_FILE;

use crate::cli::{ExportArgs, ExportFormat};

/// Run `latent export`.
///
/// # Errors
/// If the run cannot be loaded, its model does not describe its networks, `--out` holds a run,
/// or a file cannot be written.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let run_dir = RunDir::open(&args.run)?;
    let (model, config) = run_dir.load_model().with_context(|| format!("latent export {}", args.run.display()))?;
    let out = &args.out;
    let files = match args.format {
        ExportFormat::Onnx => latent_export::write_onnx(&*model, &config, out),
        ExportFormat::Torch => {
            // The optimiser state goes along when it belongs to these weights (a save finished).
            let state = run_dir.file(STATE_FILE);
            let state = run_dir.checkpoint_epoch().is_some().then_some(state.as_path());
            latent_export::write_torch(&*model, &config, out, state)
        }
    }
    .with_context(|| format!("--out {}", out.display()))?;
    for f in &files {
        eprintln!("wrote {}", f.display());
    }
    Ok(())
}
