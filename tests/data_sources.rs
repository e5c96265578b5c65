//! End to end: `latent` on a user's own CSV table and NumPy archive, as a user runs it; and the
//! errors a malformed file gets.

mod common;

use std::path::Path;

use common::{fails, ok, s};

use latent_data::npy::NpzWriter;
use ndarray::{Array, Array1};

/// The bundled 200-row sample of the Wisconsin breast-cancer table.
fn table() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/latent-data/sample/table/wdbc-200.csv").display().to_string()
}

#[test]
fn a_csv_run_records_how_its_table_was_read_and_eval_reads_it_again() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ae");
    let csv = table();
    ok(&["train", "ae", "--data", &csv, "--label-column", "diagnosis", "--epochs", "0", "--out", s(&out), "--quiet"]);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    let data = &config["data"];
    assert_eq!(data["load"]["format"], "csv");
    assert_eq!(data["load"]["label_column"], "diagnosis");
    assert_eq!(data["spec"]["shape"]["features"], 30);
    assert_eq!(data["spec"]["values"], "real");
    assert_eq!(data["spec"]["class_names"], serde_json::json!(["benign", "malignant"]));
    assert_eq!(data["spec"]["feature_names"][0], "radius_mean");
    // eval reads the table the way training did: the same 40 held-out rows.
    let report: serde_json::Value = serde_json::from_str(&ok(&["eval", s(&out), "--json"])).unwrap();
    assert_eq!(report["test_images"], 40);
    assert!(report["test_loss"].as_f64().unwrap().is_finite());
    // The table's options cannot change on --resume.
    fails(
        &["train", "ae", "--out", s(&out), "--resume", "--epochs", "1", "--data", &csv, "--drop-incomplete"],
        "--drop-incomplete cannot change a run on --resume",
    );
}

#[test]
fn a_bad_table_fails_naming_line_and_column_or_its_rows_are_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("gaps.csv");
    let mut text = String::from("a,b,label\n");
    for i in 0..20 {
        text.push_str(&format!("{i},{},{}\n", i * 2, i % 2));
    }
    text.push_str("1,NA,0\n");
    std::fs::write(&p, &text).unwrap();
    let out = tmp.path().join("run");
    let args = ["train", "ae", "--data", s(&p), "--label-column", "label", "--epochs", "0", "--out", s(&out)];
    fails(&args, "gaps.csv: line 22, column 'b': expected a number, found 'NA'");
    let printed = ok(&[&args[..], &["--drop-incomplete"]].concat());
    assert!(printed.contains("dropped 1 incomplete rows (--drop-incomplete)"), "{printed}");
    fails(
        &["train", "ae", "--data", s(&p), "--label-column", "diagnosis", "--epochs", "0", "--out", s(&out), "--force"],
        "expected a column named 'diagnosis' (--label-column) among: a, b, label",
    );
    fails(&["train", "ae", "--label-column", "label", "--epochs", "0"], "--data");
}

#[test]
fn a_keras_archive_trains_and_evaluates_on_its_own_test_split() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("digits.npz");
    let mut w = NpzWriter::create(&p).unwrap();
    w.add("x_train", &Array::from_shape_fn((64, 28, 28), |(n, y, x)| ((n * 7 + y * 3 + x) % 256) as u8)).unwrap();
    w.add("y_train", &Array1::from_iter((0..64u8).map(|i| i % 4))).unwrap();
    w.add("x_test", &Array::from_shape_fn((16, 28, 28), |(n, y, x)| ((n + y * x) % 256) as u8)).unwrap();
    w.add("y_test", &Array1::from_iter((0..16u8).map(|i| i % 4))).unwrap();
    w.finish().unwrap();
    let out = tmp.path().join("vae");
    ok(&["train", "vae", "--preset", "2d", "--data", s(&p), "--epochs", "1", "--out", s(&out), "--quiet"]);
    let report: serde_json::Value = serde_json::from_str(&ok(&["eval", s(&out), "--json"])).unwrap();
    assert_eq!(report["test_images"], 16);
    // A missing key names the keys the archive has.
    fails(
        &["train", "ae", "--data", s(&p), "--data-key", "images", "--epochs", "0", "--out", s(&tmp.path().join("x"))],
        "no array 'images': the archive holds x_train, y_train, x_test, y_test",
    );
}
