//! `latent info`: what a run is and how far it got.

use anyhow::Context;
use latent_models::run_dir::RunConfig;
use latent_models::{Model, RunDir};
use serde_json::json;

use crate::cli::InfoArgs;

/// What `latent info --json` says of a run, but its path: the preset, the model's and the
/// training's configuration, the data, the parameter count, the epochs done, the last epoch's
/// metrics and whether it can be resumed.
///
/// # Errors
/// If the metrics file cannot be read.
pub fn describe(dir: &RunDir, model: &dyn Model, config: &RunConfig) -> anyhow::Result<serde_json::Value> {
    let metrics = dir.read_metrics()?;
    let last = metrics.last();
    // The checkpoint, not the metrics, says what can be resumed (an interrupted save is
    // finished or undone first).
    let state = dir.load_state();
    Ok(json!({
        "preset": config.preset,
        "model": config.model,
        "train": config.train,
        "data": config.data,
        "parameters": model.parameter_count(),
        "epochs_done": state.as_ref().ok().map(|s| s.epoch).unwrap_or_else(|| last.map_or(0, |m| m.epoch)),
        "last_epoch": last,
        "resumable": state.is_ok(),
        "not_resumable_because": state.as_ref().err().map(ToString::to_string),
    }))
}

/// Run `latent info`.
///
/// # Errors
/// If the run cannot be loaded.
pub fn run(args: InfoArgs) -> anyhow::Result<()> {
    let dir = RunDir::open(&args.run).with_context(|| format!("latent info {}", args.run.display()))?;
    let (model, config) = dir.load_model()?;
    if args.json {
        let mut value = describe(&dir, &*model, &config)?;
        value["run"] = json!(args.run.display().to_string());
        println!("{value}");
        return Ok(());
    }
    let metrics = dir.read_metrics()?;
    let last = metrics.last();
    // The checkpoint, not the metrics, says what can be resumed (an interrupted save is
    // finished or undone first).
    let state = dir.load_state();
    let checkpoint_epoch = state.as_ref().ok().map(|s| s.epoch);
    let why_not = state.as_ref().err().map(ToString::to_string);
    println!("run        {}", args.run.display());
    println!("model      {} ({}), {} parameters", config.preset, config.model.kind(), model.parameter_count());
    println!("config     {}", serde_json::to_string(&config.model)?);
    println!(
        "training   {} of {} epochs, batch {}, lr {}, seed {}{}",
        checkpoint_epoch.unwrap_or_else(|| last.map_or(0, |m| m.epoch)),
        config.train.epochs,
        config.train.batch_size,
        config.train.learning_rate,
        config.train.seed,
        match &why_not {
            None => String::new(),
            Some(e) => format!(" (not resumable: {e})"),
        }
    );
    println!(
        "data       {} ({} train / {} test images)",
        config.data.name, config.data.train_examples, config.data.test_examples
    );
    if let Some(m) = last {
        let test: Vec<String> = m.test.iter().map(|(k, v)| format!("{k} {v:.3}")).collect();
        println!("last epoch {}: test {}; {:.0} samples/s", m.epoch, test.join(", "), m.samples_per_s);
    }
    Ok(())
}
