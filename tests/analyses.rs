//! End to end: the applications of a trained autoencoder as a user runs them (issue 13):
//! anomaly detection with thresholds stored in the run, PCA, the autoencoder against PCA, the
//! linear probe, and the pictures of a VAE's latent space.

mod common;

use std::path::{Path, PathBuf};

use common::{fails, latent, ok, s};
use latent_data::npy::NpzWriter;
use ndarray::{Array1, Array3};

/// The bundled 200-row sample of the Wisconsin breast-cancer table.
fn table() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/latent-data/sample/table/wdbc-200.csv")
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.lines().next().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Digits (label 0) of the built-in sample and constant grey images (label 1): `digits` and
/// `constants` of each, as rows of 28 x 28 bytes; the greys run over 0.3..0.7.
fn digits_and_constants(first: usize, digits: usize, constants: usize, test: bool) -> (Array3<u8>, Array1<u8>) {
    let sample = latent_data::sample::load().unwrap();
    let set = if test { &sample.test } else { &sample.train };
    let n = digits + constants;
    let mut x = Array3::<u8>::zeros((n, 28, 28));
    for i in 0..digits {
        let image = set.image(first + i).unwrap();
        for (p, &v) in image.iter().enumerate() {
            x[[i, p / 28, p % 28]] = v;
        }
    }
    for j in 0..constants {
        let grey = (77 + (j * 97) % 102) as u8; // 0.30 .. 0.70 of 255
        x.slice_mut(ndarray::s![digits + j, .., ..]).fill(grey);
    }
    let y = Array1::from_iter((0..n).map(|i| u8::from(i >= digits)));
    (x, y)
}

/// A Keras-layout `.npz`: 1,000 training digits and 100 greys, 500 test digits and 100 greys.
fn constant_anomalies(dir: &Path) -> PathBuf {
    let path = dir.join("greys.npz");
    let (x_train, y_train) = digits_and_constants(0, 1000, 100, false);
    let (x_test, y_test) = digits_and_constants(0, 500, 100, true);
    let mut npz = NpzWriter::create(&path).unwrap();
    npz.add("x_train", &x_train).unwrap();
    npz.add("y_train", &y_train).unwrap();
    npz.add("x_test", &x_test).unwrap();
    npz.add("y_test", &y_test).unwrap();
    npz.finish().unwrap();
    path
}

/// The AUC by counting pairs, from `scores.csv` (columns index,split,class,score,flagged,
/// anomalous,...).
fn auc_from_csv(path: &Path) -> (f64, Vec<(f64, bool, bool)>) {
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<(f64, bool, bool)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[3].parse().unwrap(), f[4] == "1", f[5] == "1")
        })
        .collect();
    let (mut wins, mut pairs) = (0.0, 0.0);
    for &(a, _, ta) in &rows {
        for &(b, _, tb) in &rows {
            if ta && !tb {
                pairs += 1.0;
                wins += if a > b {
                    1.0
                } else if a == b {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    (wins / pairs, rows)
}

/// The constructed case with a known answer: an image of constant grey `c` costs at least the
/// entropy of `c` per pixel under any Bernoulli model, over 480 nats for greys of 0.3 to 0.7,
/// far above what digits cost an autoencoder trained on digits. So every grey outscores every
/// digit (ROC-AUC and PR-AUC exactly 1), and the threshold, fitted at the 95th percentile of
/// the training digits' scores, flags every grey and few digits.
#[test]
fn constant_images_are_found_and_the_threshold_is_stored_for_new_data() {
    let tmp = tempfile::tempdir().unwrap();
    let npz = constant_anomalies(tmp.path());
    let run = tmp.path().join("ae");
    ok(&[
        "train",
        "ae",
        "--preset",
        "shallow",
        "--data",
        s(&npz),
        "--classes",
        "0",
        "--epochs",
        "3",
        "--out",
        s(&run),
        "--quiet",
    ]);

    let report = json(&ok(&["anomaly", s(&run), "--baseline", "pca", "--json"]));
    assert_eq!((report["n_normal"].as_u64(), report["n_anomalous"].as_u64()), (Some(500), Some(100)), "{report}");
    assert_eq!(report["roc_auc"], 1.0, "{report}");
    assert_eq!(report["pr_auc"], 1.0, "{report}");
    assert_eq!(report["recall"], 1.0, "{report}");
    assert_eq!(report["fit_examples"], 1000);
    assert_eq!(report["fitted_now"], true);
    assert_eq!(report["threshold_rule"], "quantile:0.95");
    assert!(report["threshold"].as_f64().unwrap() < 480.0, "{report}");
    assert!(report["false_positive_rate"].as_f64().unwrap() < 0.2, "{report}");
    assert_eq!(report["baseline"]["method"], "pca");
    assert_eq!(report["baseline"]["components"], 32);
    assert!(report["baseline"]["roc_auc"].as_f64().unwrap() > 0.95, "{report}");

    // The files: per-example scores agreeing with the reported area, and the pictures.
    let out = run.join("anomaly");
    let (auc, rows) = auc_from_csv(&out.join("scores.csv"));
    assert_eq!(rows.len(), 600);
    assert_eq!(auc, 1.0);
    assert!(rows.iter().all(|&(_, flagged, anomalous)| flagged || !anomalous), "every grey flagged");
    for file in ["histogram.png", "roc.png", "pr.png", "most-anomalous.png", "least-anomalous.png"] {
        assert!(std::fs::read(out.join(file)).unwrap().starts_with(b"\x89PNG"), "{file}");
    }
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("anomaly.json")).unwrap()).unwrap();
    let threshold = stored["fits"]["recon"]["threshold"].as_f64().unwrap();
    assert_eq!(report["threshold"].as_f64(), Some(threshold));

    // Later calls use the stored threshold; --threshold refits it.
    let again = json(&ok(&["anomaly", s(&run), "--json"]));
    assert_eq!((again["threshold"].as_f64(), again["fitted_now"].as_bool()), (Some(threshold), Some(false)));
    let refit = json(&ok(&["anomaly", s(&run), "--threshold", "contamination:0.2", "--json"]));
    assert!(refit["threshold"].as_f64().unwrap() < threshold, "{refit}");
    assert_eq!(refit["threshold_rule"], "contamination:0.2");
    ok(&["anomaly", s(&run), "--threshold", "quantile:0.95", "--json"]);

    // New data: every example of a file, scored against the stored threshold, in its order.
    let (x_new, _) = digits_and_constants(600, 3, 2, true);
    let new = tmp.path().join("new.npy");
    latent_data::npy::write_npy(&new, &x_new).unwrap();
    let scored = json(&ok(&["anomaly", s(&run), "--data", s(&new), "--json"]));
    assert_eq!(scored["n"], 5);
    assert_eq!(scored["threshold"].as_f64(), Some(threshold));
    assert!(scored["roc_auc"].is_null(), "no labels, no area: {scored}");
    let csv = std::fs::read_to_string(run.join("anomaly-new/scores.csv")).unwrap();
    let flags: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').nth(4).unwrap()).collect();
    assert_eq!(&flags[3..], ["1", "1"], "the two greys are flagged:\n{csv}");

    // The other scores of an autoencoder.
    let latent_score = json(&ok(&["anomaly", s(&run), "--score", "latent", "--json"]));
    assert!(latent_score["roc_auc"].as_f64().unwrap() > 0.9, "{latent_score}");
    fails(&["anomaly", s(&run), "--score", "elbo"], "the ELBO and log p(x) are a VAE's");
}

/// A VAE's ELBO and importance-weighted scores, on the same constructed case.
#[test]
fn a_vae_scores_by_its_elbo_and_its_likelihood() {
    let tmp = tempfile::tempdir().unwrap();
    let npz = constant_anomalies(tmp.path());
    let run = tmp.path().join("vae");
    ok(&[
        "train",
        "vae",
        "--data",
        s(&npz),
        "--classes",
        "0",
        "--epochs",
        "2",
        "--val-fraction",
        "0.2",
        "--out",
        s(&run),
        "--quiet",
    ]);
    for score in ["recon", "elbo:2", "iwae:4"] {
        let r = json(&ok(&["anomaly", s(&run), "--score", score, "--json"]));
        assert_eq!(r["roc_auc"], 1.0, "{score}: {r}");
        assert_eq!(r["fit_examples"], 200, "{score}: fitted on the validation split");
        assert!(r["fitted_on"].as_str().unwrap().contains("validation"), "{r}");
    }
    // Without --score, the last one fitted; the same draws give the same scores.
    let a = json(&ok(&["anomaly", s(&run), "--json"]));
    assert_eq!(a["score"], "iwae:4");
    let first = std::fs::read(run.join("anomaly/scores.csv")).unwrap();
    ok(&["anomaly", s(&run), "--json"]);
    assert_eq!(std::fs::read(run.join("anomaly/scores.csv")).unwrap(), first, "scores repeat exactly");
    let train = json(&ok(&[
        "anomaly",
        s(&run),
        "--score",
        "elbo:2",
        "--fit-on",
        "train",
        "--threshold",
        "quantile:0.9",
        "--json",
    ]));
    assert_eq!(train["fit_examples"], 800);
}

/// The breast-cancer protocol on the bundled sample: train on half the benign rows, score the
/// rest with every malignant row; then score a new table without its label column.
#[test]
fn a_table_run_scores_unseen_rows_and_a_new_file() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = table();
    let run = tmp.path().join("ae");
    ok(&[
        "train",
        "ae",
        "--data",
        s(&csv),
        "--label-column",
        "diagnosis",
        "--classes",
        "benign",
        "--test-fraction",
        "0.5",
        "--hidden",
        "16",
        "--latent-dim",
        "4",
        "--epochs",
        "30",
        "--out",
        s(&run),
        "--quiet",
    ]);
    let r = json(&ok(&["anomaly", s(&run), "--eval", "unseen", "--baseline", "pca", "--json"]));
    assert_eq!(r["n_anomalous"], 75, "every malignant row: {r}");
    assert_eq!(r["normal_classes"], serde_json::json!(["benign"]));
    assert!(r["roc_auc"].as_f64().unwrap() > 0.8, "{r}");
    assert!(r["baseline"]["roc_auc"].as_f64().unwrap() > 0.8, "{r}");
    assert!(!run.join("anomaly/most-anomalous.png").exists(), "table rows are no pictures");
    let threshold = r["threshold"].as_f64().unwrap();

    // Ten rows without the diagnosis column, and the same with it.
    let text = std::fs::read_to_string(&csv).unwrap();
    let strip = |l: &str| l.rsplit_once(',').unwrap().0.to_string();
    let lines: Vec<&str> = text.lines().take(11).collect();
    let unlabelled: Vec<String> = lines.iter().map(|l| strip(l)).collect();
    let new = tmp.path().join("new-cells.csv");
    std::fs::write(&new, unlabelled.join("\n") + "\n").unwrap();
    let scored = json(&ok(&["anomaly", s(&run), "--data", s(&new), "--json"]));
    assert_eq!((scored["n"].as_u64(), scored["threshold"].as_f64()), (Some(10), Some(threshold)), "{scored}");
    assert!(scored["roc_auc"].is_null());
    assert_eq!(std::fs::read_to_string(run.join("anomaly-new-cells/scores.csv")).unwrap().lines().count(), 11);
    let labelled = tmp.path().join("labelled.csv");
    std::fs::write(&labelled, lines.join("\n") + "\n").unwrap();
    let judged = json(&ok(&["anomaly", s(&run), "--data", s(&labelled), "--json"]));
    let known = judged["n_normal"].as_u64().unwrap() + judged["n_anomalous"].as_u64().unwrap();
    assert_eq!(known, 10, "{judged}");
}

/// Bad flags and files get errors that name them.
#[test]
fn bad_input_gets_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("ae");
    ok(&[
        "train",
        "ae",
        "--preset",
        "shallow",
        "--dataset",
        "mnist-sample",
        "--classes",
        "1",
        "--epochs",
        "0",
        "--out",
        s(&run),
        "--quiet",
    ]);
    fails(&["anomaly", s(&run), "--score", "mahalanobis"], "unknown score 'mahalanobis'");
    fails(&["anomaly", s(&run), "--score", "iwae:0"], "iwae:0: expected a number of samples");
    fails(&["anomaly", s(&run), "--threshold", "quantile:1.5"], "quantile:1.5: expected a fraction between 0 and 1");
    fails(&["anomaly", s(&run), "--threshold", "lots"], "'lots': expected quantile:Q");
    fails(&["anomaly", s(&run), "--normal-classes", "eleven"], "--normal-classes: no class 'eleven'");
    fails(&["anomaly", s(&run), "--fit-on", "val"], "--fit-on val: the run held no validation split");
    fails(&["anomaly", s(&run), "--normal-classes", "1", "--anomaly-classes", "2"], "cannot be used with");
    std::fs::write(run.join("anomaly.json"), "{ not json").unwrap();
    fails(&["anomaly", s(&run)], "anomaly.json: not a file of fitted thresholds");
    std::fs::remove_file(run.join("anomaly.json")).unwrap();
    let wide = tmp.path().join("wide.npy");
    latent_data::npy::write_npy(&wide, &ndarray::Array2::<f32>::zeros((2, 10))).unwrap();
    fails(&["anomaly", s(&run), "--data", s(&wide)], "does not fit this run");

    let gan = tmp.path().join("gan");
    ok(&["train", "gan", "--dataset", "mnist-sample", "--epochs", "0", "--out", s(&gan), "--quiet"]);
    fails(&["anomaly", s(&gan)], "does not reconstruct its input");
    fails(&["compare-pca", s(&gan)], "does not reconstruct its input");
    fails(&["probe", s(&gan)], "has no encoder");
    fails(&["probe", s(&run), "--labels-per-class", "ten"], "'ten' is not a positive number");
    fails(&["pca", "fit", "-k", "0", "--dataset", "mnist-sample", "--out", s(&tmp.path().join("p"))], "--components 0");
    fails(
        &["pca", "transform", s(&tmp.path().join("nowhere")), "--out", s(&tmp.path().join("z.npy"))],
        "no PCA fit here",
    );
    fails(&["manifold", s(&run), "--out", s(&tmp.path().join("m.png"))], "drawn for 2-D codes");
    fails(&["traverse", s(&run), "--out", s(&tmp.path().join("t.txt"))], "--out");
    let out = latent(&["anomaly", s(&tmp.path().join("missing"))]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no such directory"));
}

/// PCA fits, transforms and maps back; a second fit into the same directory needs --force.
#[test]
fn pca_fits_transforms_and_inverts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pca");
    let r = json(&ok(&["pca", "fit", "-k", "12", "--dataset", "mnist-sample", "--out", s(&dir), "--json"]));
    let ratios: Vec<f64> =
        r["explained_variance_ratio"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(ratios.len(), 12);
    assert!(ratios.windows(2).all(|w| w[0] >= w[1]), "{ratios:?}");
    let sizes = r["sizes"].as_array().unwrap();
    let errors: Vec<f64> = sizes.iter().map(|s| s["test_squared_error_per_example"].as_f64().unwrap()).collect();
    assert!(errors.windows(2).all(|w| w[0] > w[1]), "more components, less error: {errors:?}");
    for file in ["pca.json", "explained-variance.png", "components.png", "reconstructions.png"] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    fails(&["pca", "fit", "-k", "3", "--dataset", "mnist-sample", "--out", s(&dir)], "already holds a PCA fit");
    let z = tmp.path().join("z.npy");
    ok(&["pca", "transform", s(&dir), "--out", s(&z)]);
    let codes = latent_data::npy::read_npy::<f32>(&z).unwrap();
    assert_eq!(codes.shape(), [2000, 12]);
    let back = tmp.path().join("back.npy");
    ok(&["pca", "inverse", s(&dir), "--codes", s(&z), "--out", s(&back)]);
    assert_eq!(latent_data::npy::read_npy::<f32>(&back).unwrap().shape(), [2000, 784]);
    // Transforming the reconstructions gives the same coordinates.
    let again = tmp.path().join("again.npy");
    ok(&["pca", "transform", s(&dir), "--input", s(&back), "--out", s(&again)]);
    let again = latent_data::npy::read_npy::<f32>(&again).unwrap();
    let worst = codes.iter().zip(again.iter()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "{worst}");
    fails(
        &["pca", "inverse", s(&dir), "--codes", s(&back), "--out", s(&again_path(&tmp))],
        "expected N rows of 12 values",
    );
}

fn again_path(tmp: &tempfile::TempDir) -> PathBuf {
    tmp.path().join("x.npy")
}

/// A linear autoencoder (identity activations, squared error) spans the same subspace as PCA,
/// so it reaches PCA's reconstruction error and cannot beat it: data of rank 3 in 12
/// dimensions plus noise.
#[test]
fn a_linear_autoencoder_reaches_pcas_error() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("rank3.csv");
    let mut text: String = (0..12).map(|c| format!("f{c}")).collect::<Vec<_>>().join(",") + "\n";
    // A deterministic pseudo-random stream (splitmix64) for the loadings, factors and noise.
    let mut state = 7u64;
    let mut uniform = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let loadings: Vec<f64> = (0..36).map(|_| 2.0 * uniform()).collect();
    for _ in 0..600 {
        let z = [6.0 * uniform(), 4.0 * uniform(), 2.0 * uniform()];
        let row: Vec<String> = (0..12)
            .map(|c| {
                let v: f64 = (0..3).map(|j| z[j] * loadings[j * 12 + c]).sum::<f64>() + uniform() + c as f64;
                format!("{v:.5}")
            })
            .collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    std::fs::write(&csv, text).unwrap();
    let run = tmp.path().join("linear");
    ok(&[
        "train",
        "ae",
        "--data",
        s(&csv),
        "--hidden",
        "8",
        "--activation",
        "identity",
        "--latent-dim",
        "3",
        "--lr",
        "0.003",
        "--batch-size",
        "32",
        "--lr-schedule",
        "cosine",
        "--epochs",
        "100",
        "--out",
        s(&run),
        "--quiet",
    ]);
    let r = json(&ok(&["compare-pca", s(&run), "--json"]));
    let ratio = r["ratio"].as_f64().unwrap();
    assert_eq!(r["components"], 3);
    assert!((0.98..1.02).contains(&ratio), "the linear autoencoder's error over PCA's: {ratio} ({r})");
    // With fewer components PCA is worse than the 3-d code.
    let two = json(&ok(&["compare-pca", s(&run), "-k", "2", "--json"]));
    assert!(two["ratio"].as_f64().unwrap() < 0.9, "{two}");
}

/// The probe on a briefly trained autoencoder, the manifold and traversals of a 2-D VAE, and a
/// projected scatter of wide codes.
#[test]
fn probe_manifold_traversals_and_projected_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let ae = tmp.path().join("ae");
    ok(&[
        "train",
        "ae",
        "--dataset",
        "mnist-sample",
        "--epochs",
        "1",
        "--limit-batches",
        "30",
        "--out",
        s(&ae),
        "--quiet",
    ]);
    let r = json(&ok(&["probe", s(&ae), "--labels-per-class", "10,50", "--repeats", "2", "--json"]));
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0]["examples"].as_u64(), rows[1]["examples"].as_u64()), (Some(100), Some(500)));
    for row in rows {
        for probe in ["raw", "pca", "codes"] {
            let acc = row[probe]["mean"].as_f64().unwrap();
            assert!(acc > 0.3, "{probe}: better than chance (0.1): {row}");
        }
    }
    assert_eq!(r["code_size"], 32);
    let again = json(&ok(&["probe", s(&ae), "--labels-per-class", "10,50", "--repeats", "2", "--json"]));
    assert_eq!(again["rows"], r["rows"], "seeded draws repeat");

    let plot = tmp.path().join("codes.png");
    ok(&["embed", s(&ae), "--out", s(&tmp.path().join("codes.npy")), "--plot", s(&plot)]);
    assert!(std::fs::read(&plot).unwrap().starts_with(b"\x89PNG"));

    let vae = tmp.path().join("vae");
    ok(&[
        "train",
        "vae",
        "--preset",
        "2d",
        "--dataset",
        "mnist-sample",
        "--epochs",
        "1",
        "--limit-batches",
        "20",
        "--out",
        s(&vae),
        "--quiet",
    ]);
    for file in ["traversals.png", "manifold.png"] {
        assert!(vae.join(file).is_file(), "a 2-D VAE's run draws {file}");
    }
    let m = tmp.path().join("m.png");
    ok(&["manifold", s(&vae), "--out", s(&m), "--n", "8"]);
    assert!(std::fs::read(&m).unwrap().starts_with(b"\x89PNG"));
    let t = tmp.path().join("t.png");
    ok(&["traverse", s(&vae), "--out", s(&t), "--steps", "7", "--from", "0"]);
    assert!(std::fs::read(&t).unwrap().starts_with(b"\x89PNG"));
    fails(&["traverse", s(&vae), "--out", s(&t), "--from", "5000"], "--from 5000: the test split has 2000 examples");
}
