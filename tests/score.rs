//! End to end: `latent score` and `latent eval --samples` on the bundled sample, with a judge
//! trained for one epoch; each figure moves the way it must between real data and damaged data,
//! and bad input is refused with a message naming what is wrong.

mod common;

use std::path::Path;

use common::{fails, latent, ok, s};
use latent_data::{Scale, npy::write_npy};
use ndarray::Array2;
use serde_json::Value;

/// `latent score samples --json` against the sample with the judge in `classifier` (trained
/// there on the first call).
fn score(samples: &Path, classifier: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "score",
        s(samples),
        "--dataset",
        "mnist-sample",
        "--classifier",
        s(classifier),
        "--kid-subsets",
        "10",
        "--nearest",
        "100",
        "--json",
    ];
    if !classifier.exists() {
        args.extend(["--train-classifier", "--classifier-epochs", "1"]);
    }
    args.extend(extra);
    let out = latent(&args);
    assert!(out.status.success(), "latent {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("samples: the Fréchet distance is biased upwards at small N"), "{stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} in {v}"))
}

/// A deterministic noise in [-1, 1] (no random-number dependency in the tests).
fn noise(i: usize) -> f32 {
    let x = (i as u64).wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

#[test]
fn scores_move_the_way_they_must() {
    let tmp = tempfile::tempdir().unwrap();
    let data = latent_data::sample::load().unwrap();
    let classifier = tmp.path().join("judge.safetensors");
    let write = |name: &str, x: &Array2<f32>| {
        let path = tmp.path().join(name);
        write_npy(&path, x).unwrap();
        path
    };
    let test = data.test.to_flat(Scale::ZeroOne);
    let train = data.train.take(2000).to_flat(Scale::ZeroOne);
    let noisy = Array2::from_shape_fn(train.dim(), |(i, j)| (train[[i, j]] + 0.3 * noise(i * 784 + j)).clamp(0.0, 1.0));
    let ones: Vec<usize> = (0..data.train.len()).filter(|&i| data.train.labels()[i] == 1).take(2000).collect();
    let one_class = data.train.gather(&ones, Scale::ZeroOne).unwrap();

    // The test split against itself: the same statistics, every sample in the manifold.
    let same = score(&write("test.npy", &test), &classifier, &[]);
    assert!(f(&same, "fid") < 1e-6, "{same}");
    assert!(f(&same, "kid_mean").abs() < 0.05, "{same}");
    for key in ["precision", "recall", "coverage"] {
        assert_eq!(f(&same, key), 1.0, "{key}: {same}");
    }
    assert_eq!(same["n"], 2000);
    assert_eq!(same["classifier_digest"].as_str().unwrap().len(), 64);
    assert!(same["kid_std"].is_number() && same["density"].is_number());

    // Real training digits: near, but not at, zero; damaged and one-class sets much farther.
    let real = score(&write("train.npy", &train), &classifier, &[]);
    let damaged = score(&write("noisy.npy", &noisy), &classifier, &[]);
    let single = score(&write("ones.npy", &one_class), &classifier, &[]);
    assert_eq!(real["classifier_digest"], same["classifier_digest"], "one judge throughout");
    assert!(f(&real, "fid") > 0.0 && f(&real, "precision") > 0.8 && f(&real, "recall") > 0.8, "{real}");
    // (Measured: Fréchet distance 4.85 for training digits, 10.96 with noise of 0.3; coverage
    // 0.915 and 0.706.)
    assert!(f(&damaged, "fid") > 2.0 * f(&real, "fid"), "noise: {damaged} vs {real}");
    assert!(f(&damaged, "kid_mean") > f(&real, "kid_mean"), "{damaged}");
    assert!(f(&damaged, "coverage") < f(&real, "coverage") - 0.1, "{damaged}");
    assert!(f(&damaged, "recall") < f(&real, "recall") - 0.1, "{damaged}");
    assert!(f(&single, "fid") > 3.0 * f(&real, "fid"), "one class: {single}");
    assert!(f(&single, "recall") < 0.5 && f(&single, "coverage") < 0.5, "one class: {single}");
    assert!(f(&single["judgement"], "total_variation") > 0.8, "{single}");
    // Copies: the training digits are at distance 0 from the training set.
    assert_eq!(f(&real["nearest"]["samples"], "min"), 0.0, "{real}");
    assert!(f(&real["nearest"]["test_digits"], "min") > 0.0, "{real}");

    // The text form names the judge's digest and every figure.
    let text = ok(&[
        "score",
        s(&tmp.path().join("train.npy")),
        "--dataset",
        "mnist-sample",
        "--classifier",
        s(&classifier),
        "--kid-subsets",
        "5",
        "--nearest",
        "0",
    ]);
    for part in ["judge weights digest: ", "Fréchet distance", "KID", "precision", "coverage", "class balance"] {
        assert!(text.contains(part), "{part} in:\n{text}");
    }
    assert!(text.contains(same["classifier_digest"].as_str().unwrap()), "{text}");
}

#[test]
fn bad_input_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let classifier = tmp.path().join("judge.safetensors");
    let wrong = tmp.path().join("wrong.npy");
    write_npy(&wrong, &Array2::<f32>::zeros((20, 100))).unwrap();
    fails(
        &["score", s(&wrong), "--dataset", "mnist-sample", "--classifier", s(&classifier)],
        "expected float32 examples of the data's shape (1×28×28 images): N x 784",
    );
    let nan = tmp.path().join("nan.npy");
    let mut x = Array2::<f32>::zeros((20, 784));
    x[[3, 5]] = f32::NAN;
    write_npy(&nan, &x).unwrap();
    fails(&["score", s(&nan), "--dataset", "mnist-sample"], "value NaN at flat position 2357 is not finite");
    fails(&["score", s(&nan), "--dataset", "no-such-set"], "invalid value 'no-such-set' for '--dataset <NAME>'");
    fails(&["score", s(&tmp.path().join("missing.npy")), "--dataset", "mnist-sample"], "missing.npy: no such file");
    let few = tmp.path().join("few.npy");
    write_npy(&few, &Array2::<f32>::zeros((4, 784))).unwrap();
    fails(
        &["score", s(&few), "--dataset", "mnist-sample", "--classifier", s(&classifier)],
        "4 samples; scoring needs at least 6",
    );
    fails(&["score", s(&few), "--dataset", "mnist-sample", "--k", "0"], "--k must be at least 1");
}

#[test]
fn eval_scores_draws_of_a_run() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("vae");
    let classifier = tmp.path().join("judge.safetensors");
    ok(&[
        "train",
        "vae",
        "--dataset",
        "mnist-sample",
        "--epochs",
        "1",
        "--limit-batches",
        "5",
        "--out",
        s(&run),
        "--quiet",
    ]);
    // A judge for the run's data, written where eval is told to find it.
    let samples = tmp.path().join("draws.npy");
    ok(&["sample", s(&run), "--n", "300", "--out", s(&samples)]);
    let direct = latent(&[
        "score",
        s(&samples),
        "--dataset",
        "mnist-sample",
        "--classifier",
        s(&classifier),
        "--train-classifier",
        "--classifier-epochs",
        "1",
        "--json",
    ]);
    assert!(direct.status.success(), "{}", String::from_utf8_lossy(&direct.stderr));
    let direct: Value = serde_json::from_slice(&direct.stdout).unwrap();

    let out = latent(&["eval", s(&run), "--samples", "300", "--classifier", s(&classifier), "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning: 300 samples"), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let score = &report["score"];
    // The same draws as `latent sample`'s default seed, so the same figures as scoring its file.
    for key in ["fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage", "n", "classifier_digest"] {
        assert_eq!(score[key], direct[key], "{key}");
    }
    assert!(report["test_loss"].is_number());

    let ae = tmp.path().join("ae");
    ok(&["train", "ae", "--dataset", "mnist-sample", "--epochs", "0", "--out", s(&ae), "--quiet"]);
    fails(&["eval", s(&ae), "--samples", "10"], "has no prior to sample from");
}
