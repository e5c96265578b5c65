//! Reading the figures the benchmarked programs leave: latent's `metrics.jsonl`, the final JSON
//! line of a PyTorch reference script, and cargo's build messages (to find the `latent`
//! executable).
//!
//! Each reader checks that the measured epoch is the one asked for, so a run that stopped early
//! (or a script that reports differently) is an error rather than a wrong number.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::Value;

/// One epoch's training throughput as a program reported it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochFigure {
    /// The epoch, from 1.
    pub epoch: u64,
    /// Training samples per second (the training loop only).
    pub samples_per_s: f64,
}

fn figure(record: &Value, what: &str) -> anyhow::Result<EpochFigure> {
    let epoch = record.get("epoch").and_then(Value::as_u64).with_context(|| format!("{what} has no epoch"))?;
    let samples_per_s =
        record.get("samples_per_s").and_then(Value::as_f64).with_context(|| format!("{what} has no samples_per_s"))?;
    if !(samples_per_s.is_finite() && samples_per_s > 0.0) {
        bail!("{what} reports samples_per_s = {samples_per_s}");
    }
    Ok(EpochFigure { epoch, samples_per_s })
}

fn check_epoch(figure: EpochFigure, epochs: u64, what: &str) -> anyhow::Result<EpochFigure> {
    if figure.epoch != epochs {
        bail!("{what} ends at epoch {}, expected epoch {epochs}", figure.epoch);
    }
    Ok(figure)
}

/// The last epoch's figure in the text of latent's `metrics.jsonl` (one JSON object per epoch),
/// which must be epoch `epochs`.
///
/// # Errors
/// If the text has no record, the last line is not a metrics record, or it is another epoch.
pub fn latent_metrics(text: &str, epochs: u64) -> anyhow::Result<EpochFigure> {
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).context("metrics.jsonl is empty")?;
    let record: Value = serde_json::from_str(last).context("the last line of metrics.jsonl is not JSON")?;
    check_epoch(figure(&record, "the last line of metrics.jsonl")?, epochs, "metrics.jsonl")
}

/// The final report of a PyTorch reference script: its last stdout line that is a JSON object
/// with `per_epoch`, whose last entry must be epoch `epochs`. Returns that entry's figure and
/// the report's `torch` version.
///
/// # Errors
/// If there is no such line, or its last epoch is not `epochs`.
pub fn torch_report(stdout: &str, epochs: u64) -> anyhow::Result<(EpochFigure, Option<String>)> {
    let report = stdout
        .lines()
        .rev()
        .filter(|l| l.trim_start().starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v.get("per_epoch").is_some())
        .context("the script printed no final JSON line with per_epoch")?;
    let per_epoch = report.get("per_epoch").and_then(Value::as_array).context("per_epoch is not a list")?;
    let last = per_epoch.last().context("per_epoch is empty")?;
    let fig = check_epoch(figure(last, "the script's last per_epoch entry")?, epochs, "the script's report")?;
    Ok((fig, report.get("torch").and_then(Value::as_str).map(str::to_string)))
}

/// The executable of binary target `bin` among cargo's `--message-format=json` messages.
pub fn cargo_executable(messages: &str, bin: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m.get("reason").and_then(Value::as_str) == Some("compiler-artifact"))
        .filter(|m| {
            let target = m.get("target");
            let named = target.and_then(|t| t.get("name")).and_then(Value::as_str) == Some(bin);
            let is_bin = target
                .and_then(|t| t.get("kind"))
                .and_then(Value::as_array)
                .is_some_and(|kinds| kinds.iter().any(|k| k.as_str() == Some("bin")));
            named && is_bin
        })
        .filter_map(|m| m.get("executable").and_then(Value::as_str).map(PathBuf::from))
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &str = concat!(
        r#"{"epoch":1,"train":{"loss":344.7},"test":{"loss":236.5},"samples_per_s":9226.595515967567,"train_seconds":0.277,"test_seconds":0.299,"learning_rate":0.001,"global_step":20}"#,
        "\n",
        r#"{"epoch":2,"train":{"loss":223.5},"test":{"loss":214.7},"samples_per_s":15604.83248745693,"train_seconds":0.164,"test_seconds":0.273,"learning_rate":0.001,"global_step":40}"#,
        "\n"
    );

    /// The output of `torch_vae.py --epochs 2 --limit-batches 20 --threads 1`, verbatim.
    const TORCH: &str = concat!(
        "epoch 1: train_loss/sample=346.5616 test_loss/sample=237.9578 train_wall_s=0.30 samples/s=8571.3 test_wall_s=0.26\n",
        "epoch 2: train_loss/sample=223.8490 test_loss/sample=215.2797 train_wall_s=0.19 samples/s=13685.3 test_wall_s=0.27\n",
        r#"{"impl": "torch", "model": "vae", "torch": "2.15.0+cu132", "threads": 1, "seed": 1, "batch_size": 128, "epochs": 2, "limit_batches": 20, "train_loss": 223.84899291992187, "test_loss": 215.27967216796876, "samples_per_s": 13685.3, "best_samples_per_s": 13685.3, "train_s_total": 0.486, "per_epoch": [{"epoch": 1, "train_loss": 346.5616264343262, "test_loss": 237.95782663574218, "train_s": 0.299, "test_s": 0.264, "samples": 2560, "samples_per_s": 8571.3}, {"epoch": 2, "train_loss": 223.84899291992187, "test_loss": 215.27967216796876, "train_s": 0.187, "test_s": 0.271, "samples": 2560, "samples_per_s": 13685.3}], "machine": "x86_64"}"#,
        "\n"
    );

    #[test]
    fn reads_the_last_epoch_of_metrics_jsonl() {
        let fig = latent_metrics(METRICS, 2).unwrap();
        assert_eq!(fig, EpochFigure { epoch: 2, samples_per_s: 15604.83248745693 });
        let err = latent_metrics(METRICS, 3).unwrap_err();
        assert!(format!("{err:#}").contains("ends at epoch 2, expected epoch 3"), "{err:#}");
        assert!(latent_metrics("", 2).is_err());
        assert!(latent_metrics("{\"epoch\":2}\n", 2).unwrap_err().to_string().contains("no samples_per_s"));
        assert!(latent_metrics("{\"epoch\":2,\"samples_per_s\":0}\n", 2).is_err());
    }

    #[test]
    fn reads_the_final_json_line_of_a_torch_script() {
        let (fig, torch) = torch_report(TORCH, 2).unwrap();
        // per_epoch[-1], epoch 2: not epoch 1's 8571.3.
        assert_eq!(fig, EpochFigure { epoch: 2, samples_per_s: 13685.3 });
        assert_eq!(torch.as_deref(), Some("2.15.0+cu132"));
        assert!(torch_report(TORCH, 1).is_err());
        let err = torch_report("epoch 1: samples/s=10\nTraceback (most recent call last):\n", 1).unwrap_err();
        assert!(err.to_string().contains("no final JSON line"), "{err}");
        // A stray JSON line after the report that is not a report does not hide it.
        let with_noise = format!("{TORCH}{{\"note\": 1}}\n");
        assert_eq!(torch_report(&with_noise, 2).unwrap().0.samples_per_s, 13685.3);
    }

    #[test]
    fn finds_the_executable_in_cargo_messages() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"latent","src_path":"/w/src/lib.rs"},"executable":null,"fresh":true}"#,
            "\n",
            r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"latent","src_path":"/w/src/main.rs"},"executable":"/t/release/latent","fresh":true}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
            "\n"
        );
        assert_eq!(cargo_executable(messages, "latent"), Some(PathBuf::from("/t/release/latent")));
        assert_eq!(cargo_executable(messages, "other"), None);
        assert_eq!(cargo_executable("not json\n", "latent"), None);
    }
}
