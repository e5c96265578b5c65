//! An installed `latent` needs nothing from the place it was built: copied alone into an empty
//! directory, run from another directory with an empty home, it trains on the MNIST sample built
//! into it.

use std::path::Path;
use std::process::Command;

/// Runs `bin` with an empty home and no data settings, from `cwd`.
fn isolated(bin: &Path, home: &Path, cwd: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(cwd)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("LATENT_DATA_DIR")
        .env_remove("RAYON_NUM_THREADS");
    cmd
}

#[test]
fn a_copied_binary_trains_offline_anywhere() {
    let bin_dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let bin = bin_dir.path().join(Path::new(env!("CARGO_BIN_EXE_latent")).file_name().unwrap());
    std::fs::copy(env!("CARGO_BIN_EXE_latent"), &bin).unwrap();
    let out = isolated(&bin, home.path(), work.path())
        .args(["train", "vae", "--epochs", "1", "--limit-batches", "3", "--out", "run", "--quiet"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "training failed:\n{stderr}");
    // The one notice of the fallback names the way to the full data.
    assert_eq!(stderr.matches("note: using the MNIST sample built into latent").count(), 1, "{stderr}");
    assert!(stderr.contains("`latent fetch mnist`"), "{stderr}");
    let run = work.path().join("run");
    assert!(run.join("model.safetensors").is_file());
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["data"]["name"], "mnist-sample");
    assert_eq!(config["data"]["train_examples"], 10_000);
    // The run is evaluated on the same data, found the same way.
    let eval = isolated(&bin, home.path(), work.path()).args(["eval", "run"]).output().unwrap();
    let text = String::from_utf8_lossy(&eval.stdout);
    assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
    assert!(text.contains("2000 test images of mnist-sample"), "{text}");
    // Nothing was written outside the working directory.
    assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(bin_dir.path()).unwrap().count(), 1);
}
