//! End to end: the `latent` command on the bundled sample, as a user runs it.

mod common;

use std::path::Path;
use std::process::Command;

use common::{fails, ok, s};

/// A run of the shallow autoencoder with 0 epochs (its initial checkpoint only) in `dir/run`.
fn untrained_run(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("run");
    ok(&[
        "train",
        "ae",
        "--preset",
        "shallow",
        "--dataset",
        "mnist-sample",
        "--epochs",
        "0",
        "--out",
        s(&out),
        "--quiet",
    ]);
    out
}

/// Each family trains briefly and writes a complete run directory.
#[test]
fn every_model_trains_and_writes_its_run() {
    let tmp = tempfile::tempdir().unwrap();
    for (model, preset) in [
        ("ae", "shallow"),
        ("dae", "deep"),
        ("sparse", "l1"),
        ("contractive", "sigmoid"),
        ("vae", "2d"),
        ("conv-ae", "standard"),
        ("conv-vae", "standard"),
        ("cvae", "2d"),
        ("gan", "mlp"),
        ("dcgan", "28"),
        ("cgan", "mlp"),
    ] {
        let out = tmp.path().join(model);
        let mut args = vec![
            "train",
            model,
            "--preset",
            preset,
            "--dataset",
            "mnist-sample",
            "--epochs",
            "1",
            "--limit-batches",
            "8",
            "--out",
            s(&out),
            "--quiet",
        ];
        if model == "dcgan" {
            args.extend(["--batch-size", "16"]); // its convolutions are the slowest here
        }
        let log = ok(&args);
        assert!(log.contains("done: 1 epochs"), "{log}");
        for file in ["config.json", "model.safetensors", "training_state.safetensors", "metrics.jsonl", "loss.png"] {
            assert!(out.join(file).is_file(), "{model}: no {file}");
        }
        let gan = matches!(model, "gan" | "dcgan" | "cgan");
        assert_eq!(out.join("reconstructions.png").is_file(), !gan, "{model}: reconstructions only with an encoder");
        assert_eq!(
            out.join("samples.png").is_file(),
            matches!(model, "vae" | "conv-vae" | "cvae") || gan,
            "{model}: samples.png only for generative models"
        );
        assert_eq!(out.join("latent.png").is_file(), preset == "2d", "{model}: latent.png only for 2-D codes");
    }
}

#[test]
fn a_run_is_evaluated_sampled_reconstructed_and_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("vae");
    ok(&[
        "train",
        "vae",
        "--dataset",
        "mnist-sample",
        "--epochs",
        "1",
        "--limit-batches",
        "10",
        "--out",
        s(&run),
        "--quiet",
    ]);

    let eval: serde_json::Value =
        serde_json::from_str(ok(&["eval", s(&run), "--json"]).lines().next().unwrap()).unwrap();
    let test_loss = eval["test_loss"].as_f64().unwrap();
    let parts = &eval["parts"];
    assert!((test_loss - (parts["recon"].as_f64().unwrap() + parts["kl"].as_f64().unwrap())).abs() < 1e-3, "{eval}");
    assert_eq!(eval["test_images"], 2000);

    let npy = tmp.path().join("samples.npy");
    ok(&["sample", s(&run), "--n", "5", "--out", s(&npy)]);
    let bytes = std::fs::read(&npy).unwrap();
    let header = String::from_utf8_lossy(&bytes[..128]);
    assert!(header.contains("'descr': '<f4'") && header.contains("(5, 784)"), "{header}");
    let data_start = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let values: Vec<f32> = bytes[data_start..].chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(values.len(), 5 * 784);
    assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));

    for (cmd, extra) in [
        ("reconstruct", vec!["--noise", "mask:0.5"]),
        ("interpolate", vec!["--from", "0", "--to", "3", "--steps", "6"]),
    ] {
        let png = tmp.path().join(format!("{cmd}.png"));
        let mut args = vec![cmd, s(&run), "--out", s(&png)];
        args.extend(extra);
        ok(&args);
        assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"), "{cmd}");
    }
    ok(&["embed", s(&run), "--out", s(&tmp.path().join("codes.npy"))]);
    assert!(ok(&["info", s(&run)]).contains("1 of 1 epochs"));

    let log = ok(&["train", "vae", "--out", s(&run), "--resume", "--epochs", "2", "--quiet"]);
    assert!(log.contains("done: 2 epochs"), "{log}");
    assert!(ok(&["info", s(&run)]).contains("2 of 2 epochs"));
}

/// A conditional VAE draws the digit asked for with `--label`; other models refuse the flag.
#[test]
fn a_conditional_model_samples_a_chosen_digit() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("cvae");
    let train = |model: &str, out: &Path| {
        ok(&[
            "train",
            model,
            "--dataset",
            "mnist-sample",
            "--epochs",
            "1",
            "--limit-batches",
            "3",
            "--out",
            s(out),
            "--quiet",
        ])
    };
    train("cvae", &run);
    let npy = tmp.path().join("sevens.npy");
    let log = ok(&["sample", s(&run), "--label", "7", "--n", "6", "--seed", "2", "--out", s(&npy)]);
    assert!(log.contains("6 samples of digit 7"), "{log}");
    let bytes = std::fs::read(&npy).unwrap();
    assert!(String::from_utf8_lossy(&bytes[..128]).contains("(6, 784)"));
    let again = tmp.path().join("again.npy");
    ok(&["sample", s(&run), "--label", "7", "--n", "6", "--seed", "2", "--out", s(&again)]);
    assert_eq!(std::fs::read(&again).unwrap(), bytes, "the seed fixes the samples");
    fails(
        &["sample", s(&run), "--label", "10", "--out", s(&npy)],
        "label 10 is out of range: this model knows labels 0 to 9",
    );
    ok(&["reconstruct", s(&run), "--out", s(&tmp.path().join("r.png"))]);
    fails(&["interpolate", s(&run), "--from", "0", "--to", "1", "--out", s(&npy)], "no single label");
    let vae = tmp.path().join("vae");
    train("vae", &vae);
    fails(&["sample", s(&vae), "--label", "3", "--out", s(&npy)], "not conditioned on labels");
}

/// A conditional GAN: trained with a chosen loss, evaluated (D's test loss and mean outputs),
/// sampled as a chosen digit into [0, 1]; it has no encoder, and GAN flags are refused elsewhere.
#[test]
fn a_gan_is_trained_evaluated_and_sampled() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("cgan");
    let common = ["--dataset", "mnist-sample", "--epochs", "1", "--limit-batches", "4", "--quiet"];
    let mut args = vec!["train", "cgan", "--gan-loss", "wgan", "--d-steps", "2", "--out", s(&run)];
    args.extend(common);
    ok(&args);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    let training = &config["model"]["training"];
    assert_eq!(training["loss"], "wasserstein", "{config}");
    assert_eq!((training["d_steps"].as_u64(), training["clip_weights"].as_f64()), (Some(2), Some(0.01)), "{config}");

    let eval: serde_json::Value =
        serde_json::from_str(ok(&["eval", s(&run), "--json"]).lines().next().unwrap()).unwrap();
    let parts = &eval["parts"];
    assert_eq!(eval["test_loss"].as_f64(), parts["d_loss"].as_f64(), "{eval}");
    for p in ["d_real", "d_fake"] {
        assert!((0.0..=1.0).contains(&parts[p].as_f64().unwrap()), "{eval}");
    }

    let npy = tmp.path().join("sevens.npy");
    assert!(ok(&["sample", s(&run), "--label", "7", "--n", "5", "--out", s(&npy)]).contains("digit 7"));
    let bytes = std::fs::read(&npy).unwrap();
    let data_start = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let values: Vec<f32> = bytes[data_start..].chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(values.len(), 5 * 784);
    assert!(values.iter().all(|v| (0.0..=1.0).contains(v)), "GAN samples are written in [0, 1]");
    fails(&["reconstruct", s(&run), "--out", s(&tmp.path().join("r.png"))], "no encoder");

    let (vae, gan) = (tmp.path().join("vae"), tmp.path().join("gan"));
    let mut args = vec!["train", "vae", "--d-steps", "2", "--out", s(&vae)];
    args.extend(common);
    fails(&args, "--d-steps does not apply to the vae");
    let mut args = vec!["train", "gan", "--gan-loss", "vanilla", "--out", s(&gan)];
    args.extend(common);
    fails(&args, "--gan-loss vanilla");
}

#[test]
fn bad_input_gets_a_clear_error_and_a_failing_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    fails(&["train", "vae", "--data-dir", s(&tmp.path().join("nowhere")), "--out", s(&out)], "no training images file");
    fails(&["train", "vae", "--preset", "huge", "--out", s(&out)], "choose one of: pytorch-examples");
    fails(
        &["train", "dae", "--noise", "blur:0.3", "--dataset", "mnist-sample", "--out", s(&out)],
        "unknown kind `blur`",
    );
    fails(&["train", "vae", "--hidden", "400,x", "--dataset", "mnist-sample", "--out", s(&out)], "--hidden");
    fails(&["train", "vae", "--lr=-1", "--dataset", "mnist-sample", "--out", s(&out)], "--lr");
    fails(&["train", "gpt"], "invalid value 'gpt'");

    ok(&[
        "train",
        "ae",
        "--preset",
        "shallow",
        "--dataset",
        "mnist-sample",
        "--epochs",
        "1",
        "--limit-batches",
        "2",
        "--out",
        s(&out),
        "--quiet",
    ]);
    fails(&["train", "ae", "--dataset", "mnist-sample", "--out", s(&out)], "already holds a run");
    fails(&["sample", s(&out), "--out", s(&tmp.path().join("x.png"))], "no prior to sample from");
    fails(&["sample", s(&out), "--out", s(&tmp.path().join("x.jpg"))], "expected a file ending in .png");
    fails(&["eval", s(&tmp.path().join("missing"))], "no such directory");

    // A corrupted checkpoint is refused, naming the file.
    let weights = out.join("model.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xFF;
    std::fs::write(&weights, bytes).unwrap();
    fails(&["eval", s(&out)], "model.safetensors");
}

#[test]
fn the_identity_network_prints_distinct_codes() {
    let json: serde_json::Value = serde_json::from_str(&ok(&["train", "identity", "--json"])).unwrap();
    let codes: Vec<&str> = json["codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let mut unique = codes.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 8, "{codes:?}");
    assert_eq!(json["hidden"].as_array().unwrap().len(), 8);
    assert!(json["reconstructs"].as_bool().unwrap());
    let table = ok(&["train", "identity"]);
    assert!(table.contains("distinct 3-bit codes: true"), "{table}");
}

/// The optimiser, schedule, validation split and early stopping are chosen on the command line;
/// the metrics carry the validation loss and the scheduled rate; bad choices name the flag.
#[test]
fn training_options_reach_the_trainer() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sgd");
    #[rustfmt::skip]
    ok(&["train", "ae", "--preset", "shallow", "--dataset", "mnist-sample", "--epochs", "2", "--limit-batches", "3",
         "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.01", "--lr-schedule", "step:1:0.5",
         "--val-fraction", "0.1", "--early-stop", "5", "--out", s(&out), "--quiet"]);
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = metrics.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|m| m["val"]["loss"].as_f64().is_some_and(f64::is_finite)), "{metrics}");
    assert_eq!(lines[1]["learning_rate"].as_f64(), Some(0.005));
    let config = std::fs::read_to_string(out.join("config.json")).unwrap();
    assert!(config.contains(r#""optimizer": "sgd""#), "{config}");
    let bad = tmp.path().join("bad");
    let base = ["train", "ae", "--dataset", "mnist-sample", "--epochs", "1", "--out", s(&bad)];
    fails(&[&base[..], &["--optimizer", "nadam"]].concat(), "unknown optimizer `nadam`");
    fails(&[&base[..], &["--lr-schedule", "linear"]].concat(), "--lr-schedule");
    fails(&[&base[..], &["--early-stop", "3"]].concat(), "--val-fraction");
    fails(&[&base[..], &["--val-fraction", "1.5"]].concat(), "--val-fraction");
}

/// On --resume the run's settings apply: flags that would change them are refused by name; a
/// run already at its epochs says nothing was trained; a run asked for 0 epochs is resumable.
#[test]
fn resume_refuses_conflicting_flags_and_says_when_nothing_is_done() {
    let tmp = tempfile::tempdir().unwrap();
    let out = untrained_run(tmp.path());
    let run = s(&out);
    assert!(out.join("model.safetensors").is_file(), "the initial checkpoint is written");
    fails(&["train", "ae", "--out", run, "--resume", "--lr", "0.1", "--seed", "3"], "--lr, --seed cannot change a run");
    let said = ok(&["train", "ae", "--out", run, "--resume", "--epochs", "1", "--quiet"]);
    assert!(said.contains("done: 1 epochs"), "{said}");
    let said = ok(&["train", "ae", "--out", run, "--resume", "--quiet"]);
    assert!(said.contains("nothing to train") && said.contains("1 of its 1 epochs"), "{said}");
}

/// A reader that goes away (`latent info RUN | head -1`) ends the command quietly instead of a
/// "failed printing to stdout" panic; an absurd --threads is capped with a warning instead of
/// starting that many threads.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_quietly_and_threads_are_capped() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let tmp = tempfile::tempdir().unwrap();
    let out = untrained_run(tmp.path());
    for _ in 0..3 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_latent"))
            .args(["info", s(&out)])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before the command writes
        let result = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            result.status.success() || result.status.signal() == Some(libc::SIGPIPE),
            "{:?}: {stderr}",
            result.status
        );
    }
    let said = ok(&["--threads", "100000", "info", s(&out)]);
    assert!(said.contains("warning: --threads 100000") && said.contains("using 256"), "{said}");
}

/// Ctrl-C stops training after the current batch, saves a resumable checkpoint, says how to
/// continue, and exits 130 as an interrupted program does (it used to exit 0).
#[cfg(unix)]
#[test]
fn ctrl_c_saves_and_exits_130() {
    use std::process::Stdio;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let child = Command::new(env!("CARGO_BIN_EXE_latent"))
        .args(["train", "vae", "--dataset", "mnist-sample", "--epochs", "50", "--threads", "1", "--quiet"])
        .args(["--out", s(&out)])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let result = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("stopped at epoch") && stderr.contains("--resume"), "{stderr}");
    let info = ok(&["info", s(&out), "--json"]);
    assert!(info.contains(r#""resumable":true"#), "{info}");
}

/// `eval` reads the data the flags or LATENT_DATA_DIR name (as training does), and its report
/// names the data it evaluated, not the data the run was trained on.
#[test]
fn eval_names_the_data_it_evaluated() {
    let tmp = tempfile::tempdir().unwrap();
    let out = untrained_run(tmp.path());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/latent-data/sample");
    let run = |env: Option<&Path>, extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_latent"));
        cmd.args(["eval", s(&out), "--json", "--limit", "10"]).args(extra).env_remove("LATENT_DATA_DIR");
        if let Some(d) = env {
            cmd.env("LATENT_DATA_DIR", d);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["data"].as_str().unwrap().to_string()
    };
    assert_eq!(run(None, &[]), "mnist-sample");
    assert_eq!(run(Some(&dir), &[]), dir.display().to_string());
    assert_eq!(run(None, &["--data-dir", s(&dir)]), dir.display().to_string());
}

/// `--data` reads a directory of IDX files like `--data-dir`; `--classes` keeps the classes
/// named; the run records the data's spec and how it was read, and `eval` reads it back the same
/// way; a class the data lacks is a clear error.
#[test]
fn own_data_and_class_filters_are_recorded_and_honoured() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/latent-data/sample");
    let out = tmp.path().join("ones");
    let printed = ok(&[
        "train",
        "ae",
        "--preset",
        "shallow",
        "--data",
        s(&dir),
        "--classes",
        "0,1",
        "--epochs",
        "1",
        "--limit-batches",
        "2",
        "--out",
        s(&out),
    ]);
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    let data = &config["data"];
    assert_eq!(data["load"]["classes"], serde_json::json!(["0", "1"]), "{data}");
    assert_eq!(data["spec"]["shape"], serde_json::json!({"kind": "image", "channels": 1, "height": 28, "width": 28}));
    assert_eq!(data["spec"]["class_names"].as_array().map(Vec::len), Some(10));
    // The sample's 10,000 training digits hold 2,116 zeros and ones, its 2,000 test digits 400.
    let (train, test) = (data["train_examples"].as_u64().unwrap(), data["test_examples"].as_u64().unwrap());
    assert!((1500..3000).contains(&train) && (200..600).contains(&test), "{train} / {test}\n{printed}");
    let evaluated = ok(&["eval", s(&out), "--json"]);
    let json: serde_json::Value = serde_json::from_str(evaluated.lines().next().unwrap()).unwrap();
    assert_eq!(json["test_images"].as_u64(), Some(test), "{evaluated}");
    fails(
        &["train", "ae", "--data", s(&dir), "--classes", "ten", "--epochs", "0", "--out", s(&tmp.path().join("x"))],
        "one of the data's classes: 0, 1",
    );
    fails(&["train", "ae", "--data", s(&tmp.path().join("nothing")), "--out", s(&tmp.path().join("y"))], "nothing");
}

/// A table run reconstructs into the data's own units and prints each feature's error; a PNG
/// of table rows is refused.
#[test]
fn a_table_run_reconstructs_in_its_own_units_feature_by_feature() {
    let tmp = tempfile::tempdir().unwrap();
    let table = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/latent-data/sample/table/wdbc-200.csv");
    let run = tmp.path().join("wdbc");
    ok(&[
        "train",
        "vae",
        "--data",
        s(&table),
        "--label-column",
        "diagnosis",
        "--epochs",
        "3",
        "--out",
        s(&run),
        "--quiet",
    ]);
    assert!(run.join("features.png").is_file() && !run.join("reconstructions.png").exists());
    let npy = tmp.path().join("r.npy");
    let printed = ok(&["reconstruct", s(&run), "--n", "40", "--out", s(&npy)]);
    assert!(printed.contains("feature") && printed.contains("area_mean") && printed.contains("RMSE/std"), "{printed}");
    let recon: ndarray::ArrayD<f32> = latent_data::npy::read_npy(&npy).unwrap();
    assert_eq!(recon.shape(), [40, 30]);
    // area_mean (column 4) is in the hundreds in its own units; standardised it would be near 0.
    let area: f32 = recon.index_axis(ndarray::Axis(1), 3).mean().unwrap();
    assert!(area > 200.0, "mean reconstructed area_mean {area}");
    fails(&["reconstruct", s(&run), "--out", s(&tmp.path().join("r.png"))], "not images: write a .npy file");
}
