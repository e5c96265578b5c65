//! Hostile and degenerate input to the `latent` command (issue 17): empty data, sizes beyond
//! memory, outputs larger than memory. Each must end in a clear error (exit 1) or succeed
//! within bounded memory, never in a panic (exit 101) or an abort.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{latent, ok, s};

/// Runs `latent args`, which must fail with exit status 1 and every one of `expected` in its
/// error; returns the error.
fn refused(args: &[&str], expected: &[&str]) -> String {
    let out = latent(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "latent {args:?} should fail with exit 1:\n{stderr}");
    for e in expected {
        assert!(stderr.contains(e), "latent {args:?}: expected `{e}` in:\n{stderr}");
    }
    stderr
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// An MNIST-format directory with `train` training and `test` test images (28 × 28, labels
/// cycling through the digits).
fn idx_dir(dir: &Path, train: usize, test: usize) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, n) in [("train", train), ("t10k", test)] {
        let mut images = Vec::new();
        for v in [0x803u32, n as u32, 28, 28] {
            images.extend_from_slice(&v.to_be_bytes());
        }
        images.extend((0..n * 784).map(|i| (i * 7 % 256) as u8));
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        let mut labels = Vec::new();
        for v in [0x801u32, n as u32] {
            labels.extend_from_slice(&v.to_be_bytes());
        }
        labels.extend((0..n).map(|i| (i % 10) as u8));
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
    dir.to_path_buf()
}

/// A run of `model` with 0 epochs (its initial weights) trained on `data`, in `out`.
fn untrained(model: &str, preset: &str, data: &Path, out: &Path) {
    ok(&["train", model, "--preset", preset, "--data-dir", s(data), "--epochs", "0", "--out", s(out), "--quiet"]);
}

/// Every command that reads test images refuses a test split of 0 images by name (`embed`
/// used to panic; `eval` reported a NaN loss with exit 0; `interpolate` printed indices "0 to
/// 18446744073709551615"; `reconstruct --out x.npy` wrote an empty array), and training refuses
/// an empty split of either kind before it writes a run directory.
#[test]
fn every_command_refuses_an_empty_split_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let full = idx_dir(&tmp.path().join("full"), 64, 16);
    let no_test = idx_dir(&tmp.path().join("no-test"), 64, 0);
    let no_train = idx_dir(&tmp.path().join("no-train"), 0, 16);
    let vae = tmp.path().join("vae");
    untrained("vae", "2d", &full, &vae);
    let out = |name: &str| tmp.path().join(name);
    let test_split = [format!("the test split of {}", no_test.display()), "holds no examples".to_string()];
    for (args, what) in [
        (vec!["embed", s(&vae), "--out", s(&out("e.npy"))], "nothing to embed"),
        (vec!["reconstruct", s(&vae), "--out", s(&out("r.png"))], "nothing to reconstruct"),
        (vec!["reconstruct", s(&vae), "--out", s(&out("r.npy"))], "nothing to reconstruct"),
        (vec!["interpolate", s(&vae), "--from", "0", "--to", "1", "--out", s(&out("i.png"))], "interpolate"),
        (vec!["eval", s(&vae)], "nothing to evaluate on"),
        (vec!["eval", s(&vae), "--iw-samples", "5"], "nothing to evaluate on"),
    ] {
        let mut args = args;
        args.extend(["--data-dir", s(&no_test)]);
        refused(&args, &[&test_split[0], &test_split[1], what]);
    }
    assert!(!out("r.npy").exists() && !out("e.npy").exists(), "nothing is written");

    // Sampling reads no data: it works whatever the data.
    let samples = out("s.npy");
    ok(&["sample", s(&vae), "--n", "4", "--out", s(&samples)]);

    // The classifier trains on the training split and measures itself on the test split;
    // --nearest searches the one and makes its baseline of the other.
    let classifier = out("classifier.safetensors");
    let classify = |data: &Path, extra: &[&str]| -> Vec<String> {
        let mut args = vec!["classify", s(&samples), "--classifier", s(&classifier), "--data-dir", s(data), "--json"];
        args.extend(extra);
        args.iter().map(|a| a.to_string()).collect()
    };
    for (data, split) in [(&no_test, "test"), (&no_train, "training")] {
        let args = classify(data, &["--train-classifier", "--classifier-epochs", "1"]);
        refused(&refs(&args), &[&format!("the {split} split of {}", data.display()), "the classifier"]);
    }
    assert!(!classifier.exists(), "no classifier is written");
    ok(&refs(&classify(&full, &["--train-classifier", "--classifier-epochs", "1"])));
    for (data, split) in [(&no_test, "test"), (&no_train, "training")] {
        let args = classify(data, &["--nearest"]);
        refused(&refs(&args), &[&format!("the {split} split of {}", data.display()), "--nearest"]);
    }

    for (data, split) in [(&no_test, "test"), (&no_train, "training")] {
        let run = out(&format!("run-{split}"));
        refused(
            &["train", "ae", "--preset", "shallow", "--data-dir", s(data), "--epochs", "1", "--out", s(&run)],
            &[&format!("the {split} split of {}", data.display()), "holds no examples"],
        );
        assert!(!run.exists(), "no run directory is left behind");
    }
}

/// `latent eval` of a VAE reproduces the test figures of the run's last epoch exactly: it draws
/// the same `z` as the trainer's test pass after that epoch (it used to draw with the run's seed
/// alone, so its loss differed from the training report's).
#[test]
fn eval_reports_the_runs_own_test_loss_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("vae");
    ok(&["train", "vae", "--dataset", "mnist-sample", "--epochs", "1", "--out", s(&run), "--quiet"]);
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    let eval: serde_json::Value =
        serde_json::from_str(ok(&["eval", s(&run), "--json"]).lines().next().unwrap()).unwrap();
    assert_eq!(eval["epoch"], 1, "{eval}");
    assert_eq!(eval["test_loss"].as_f64(), last["test"]["loss"].as_f64(), "eval {eval}\nrun {last}");
    for part in ["recon", "kl"] {
        assert_eq!(eval["parts"][part].as_f64(), last["test"][part].as_f64(), "{part}: eval {eval}\nrun {last}");
    }
}

/// The progress lines label each figure: a GAN's are its D and G losses (its `loss` used to be
/// shown unlabelled, though it is D's alone); other models keep `loss`.
#[test]
fn progress_lines_name_a_gans_d_and_g_losses() {
    let tmp = tempfile::tempdir().unwrap();
    for (model, names, test) in
        [("gan", &["d_loss ", "g_loss "][..], "test d_loss "), ("ae", &["loss "][..], "test loss ")]
    {
        let out = tmp.path().join(model);
        let text = ok(&[
            "train",
            model,
            "--dataset",
            "mnist-sample",
            "--epochs",
            "1",
            "--limit-batches",
            "10",
            "--out",
            s(&out),
        ]);
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("epoch 1/1")).collect();
        assert_eq!(lines.len(), 10, "9 batch lines and the epoch's: {text}");
        for line in &lines {
            assert!(names.iter().all(|n| line.contains(n)), "{model}: {line}");
            if model == "gan" {
                assert!(!line.contains("  loss ") && !line.contains("test loss "), "an unlabelled loss: {line}");
            }
        }
        assert!(lines[9].contains(test), "{model}: {}", lines[9]);
    }
}

/// Runs `latent args` with `env` set; its exit code and stderr.
fn latent_env(args: &[&str], env: (&str, &str)) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_latent"))
        .args(args)
        .env_remove("LATENT_DATA_DIR")
        .env(env.0, env.1)
        .output()
        .expect("the latent binary runs");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Model sizes no memory holds are refused before anything is allocated, naming the flag, the
/// estimate and the limit and how to raise it, and leave no run directory (`--hidden
/// 18446744073709551615` panicked on an ndarray shape overflow; `--hidden 1000000000` and
/// `--latent-dim 1000000000` aborted on "memory allocation of N bytes failed").
#[test]
fn model_sizes_beyond_memory_are_refused_naming_the_flag_the_estimate_and_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let train = |extra: &[&str], expected: &[&str]| {
        let mut args = vec!["train", "vae", "--dataset", "mnist-sample", "--epochs", "1", "--out", s(&out)];
        args.extend(extra);
        refused(&args, expected);
        assert!(!out.exists(), "latent {args:?} left a run directory");
    };
    let limit = ["more than the memory limit of 8.00 GiB", "--max-memory SIZE", "LATENT_MAX_MEMORY"];
    train(&["--hidden", "18446744073709551615"], &["hidden", "18446744073709551615", "at most 2^40"]);
    train(&["--hidden", "1000000000"], &[&["--hidden 1000000000", "needs about 27.4 TiB"][..], &limit].concat());
    train(&["--latent-dim", "1000000000"], &[&["--latent-dim 1000000000", "TiB"][..], &limit].concat());
    for model in ["conv-vae", "dcgan", "gan"] {
        let args = ["train", model, "--dataset", "mnist-sample", "--latent-dim", "1000000000", "--out", s(&out)];
        refused(&args, &["--latent-dim 1000000000", "TiB", "--max-memory"]);
    }
    // The limit is the user's: --max-memory, else LATENT_MAX_MEMORY.
    train(&["--max-memory", "1M"], &["training vae/pytorch-examples", "13.1 MiB", "memory limit of 1.00 MiB"]);
    train(&["--max-memory", "lots"], &["--max-memory", "lots: not a size"]);
    let args = ["train", "vae", "--dataset", "mnist-sample", "--epochs", "1", "--out", s(&out)];
    let (code, err) = latent_env(&args, ("LATENT_MAX_MEMORY", "2M"));
    assert!(code == Some(1) && err.contains("memory limit of 2.00 MiB"), "{err}");
    let (code, err) = latent_env(
        &["train", "ae", "--preset", "shallow", "--epochs", "0", "--out", s(&out)],
        ("LATENT_MAX_MEMORY", "64G"),
    );
    assert_eq!(code, Some(0), "{err}");
}

/// Requests beyond memory or disk are refused by the flag that asks for them (`sample --n
/// 1000000000000`, `interpolate --steps 10000000` and `eval --iw-samples 1000000000` aborted
/// on failed allocations); a run whose `config.json` asks for 2^40 hidden units is refused by
/// every command that would build it, naming the file.
#[test]
fn requests_and_configs_beyond_memory_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("vae");
    ok(&["train", "vae", "--dataset", "mnist-sample", "--epochs", "0", "--out", s(&run), "--quiet"]);
    let out = |name: &str| tmp.path().join(name);
    // The space left is known on Unix (elsewhere the file is written until the disk is full).
    if cfg!(unix) {
        refused(
            &["sample", s(&run), "--n", "1000000000000", "--out", s(&out("x.npy"))],
            &["--n 1000000000000", "would take 2.79 PiB", "free on its file system"],
        );
    }
    refused(
        &["sample", s(&run), "--n", "1000000000000", "--out", s(&out("x.png"))],
        &["--n 1000000000000", "a PNG grid holds at most 10000 images", ".npy"],
    );
    refused(
        &["interpolate", s(&run), "--from", "0", "--to", "1", "--steps", "10000000", "--out", s(&out("x.png"))],
        &["--steps 10000000", "at most 10000 images"],
    );
    refused(&["eval", s(&run), "--iw-samples", "1000000000"], &["--iw-samples 1000000000", "at most 1000000"]);
    refused(
        &["reconstruct", s(&run), "--n", "2000", "--max-memory", "10M", "--out", s(&out("r.npy"))],
        &["--n 2000", "MiB"],
    );
    assert!(std::fs::read_dir(tmp.path()).unwrap().count() == 1, "nothing written beside the run");

    let config = run.join("config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("\"hidden\": [\n      400\n    ]", "\"hidden\": [1099511627776]")).unwrap();
    assert!(std::fs::read_to_string(&config).unwrap().contains("1099511627776"));
    for args in [
        vec!["eval", s(&run)],
        vec!["sample", s(&run), "--out", s(&out("s.npy"))],
        vec!["info", s(&run)],
        vec!["embed", s(&run), "--out", s(&out("e.npy"))],
        vec!["train", "vae", "--out", s(&run), "--resume", "--epochs", "2"],
    ] {
        refused(&args, &["config.json", "needs about", "PiB", "--max-memory"]);
    }
}

/// `sample` writes a large `.npy` a chunk at a time: 200,000 samples (627 MB) in a few tens of
/// MB of memory (it held them all, and more than twice their size at its peak: 6.2 GB for a
/// million), with the very draws of sampling them at once.
#[cfg(target_os = "linux")]
#[test]
fn a_large_sample_is_streamed_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("vae");
    ok(&["train", "vae", "--dataset", "mnist-sample", "--epochs", "0", "--out", s(&run), "--quiet"]);
    let big = tmp.path().join("big.npy");
    let mut child = Command::new(env!("CARGO_BIN_EXE_latent"))
        .args(["sample", s(&run), "--n", "200000", "--out", s(&big), "--threads", "2"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: waits for our own child, whose pid we hold; the pointers are to live locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "status {status}");
    let _ = child.try_wait();
    let peak_mib = usage.ru_maxrss / 1024;
    assert!(peak_mib < 150, "peak resident memory {peak_mib} MiB for a 627 MB output");
    let bytes = std::fs::read(&big).unwrap();
    assert_eq!(bytes.len(), 128 + 200_000 * 784 * 4);

    let small = tmp.path().join("small.npy");
    ok(&["sample", s(&run), "--n", "3000", "--out", s(&small)]);
    let small = std::fs::read(&small).unwrap();
    assert_eq!(small[128..], bytes[128..128 + 3000 * 784 * 4], "the first 3000 samples are the same draws");
}
