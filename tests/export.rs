//! End to end: `latent decode` (the inverse of `embed`) and `latent export` (ONNX graphs and a
//! PyTorch module, with spec.json), as a user runs them.

mod common;

use std::path::Path;

use common::{fails, ok, s};
use ndarray::{Array2, ArrayD, Ix2};

fn train(dir: &Path, name: &str, args: &[&str]) -> std::path::PathBuf {
    let out = dir.join(name);
    let mut all = vec!["train"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--epochs", "1", "--limit-batches", "2", "--out", s(&out), "--quiet"]);
    ok(&all);
    out
}

fn read2(path: &Path) -> Array2<f32> {
    let a: ArrayD<f32> = latent_data::npy::read_npy(path).unwrap();
    a.into_dimensionality::<Ix2>().unwrap()
}

#[test]
fn decode_inverts_embed_and_export_writes_both_formats() {
    let tmp = tempfile::tempdir().unwrap();
    let run = train(tmp.path(), "ae", &["ae", "--preset", "shallow", "--dataset", "mnist-sample"]);
    let codes = tmp.path().join("codes.npy");
    ok(&["embed", s(&run), "--out", s(&codes)]);
    let decoded_npy = tmp.path().join("decoded.npy");
    ok(&["decode", s(&run), "--codes", s(&codes), "--out", s(&decoded_npy)]);
    let recon = tmp.path().join("recon.npy");
    ok(&["reconstruct", s(&run), "--n", "16", "--out", s(&recon)]);
    let (decoded, recon) = (read2(&decoded_npy), read2(&recon));
    assert_eq!(decoded.dim(), (2000, 784));
    assert_eq!(decoded.slice(ndarray::s![..16, ..]), recon, "decode(embed(x)) is the reconstruction of x");
    ok(&["decode", s(&run), "--codes", s(&codes), "--out", s(&tmp.path().join("grid.png"))]);
    fails(
        &["decode", s(&run), "--codes", s(&codes), "--out", s(&tmp.path().join("x.npy")), "--label", "1"],
        "not conditioned",
    );
    let wide = tmp.path().join("wide.npy");
    latent_data::npy::write_npy(&wide, &Array2::<f32>::zeros((3, 5))).unwrap();
    fails(&["decode", s(&run), "--codes", s(&wide), "--out", s(&decoded_npy)], "expected codes of 32 values per row");

    let onnx = tmp.path().join("onnx");
    ok(&["export", s(&run), "--format", "onnx", "--out", s(&onnx)]);
    for f in ["encoder.onnx", "decoder.onnx", "spec.json"] {
        assert!(onnx.join(f).is_file(), "{f}");
    }
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(onnx.join("spec.json")).unwrap()).unwrap();
    assert_eq!(spec["graphs"]["encoder"]["inputs"][0]["shape"], serde_json::json!(["N", 784]));
    assert_eq!(spec["graphs"]["decoder"]["outputs"][0]["shape"], serde_json::json!(["N", 784]));
    assert_eq!(spec["data"]["scaling"]["to_model"], "x = pixel / 255");
    assert_eq!(spec["data"]["class_names"][3], "3");
    let torch = tmp.path().join("torch");
    ok(&["export", s(&run), "--format", "torch", "--out", s(&torch)]);
    for f in ["model.py", "model.safetensors", "training_state.safetensors", "spec.json"] {
        assert!(torch.join(f).is_file(), "{f}");
    }
    let py = std::fs::read_to_string(torch.join("model.py")).unwrap();
    assert!(py.contains("class Model(nn.Module):") && py.contains("def encode(self, x):"), "{py}");
    assert!(py.contains("def decode(self, z, raw=False):") && py.contains("def load(directory"), "{py}");
    fails(&["export", s(&run), "--format", "onnx", "--out", s(&run)], "holds a run");
}

#[test]
fn conditional_models_decode_with_labels_and_tables_in_their_units() {
    let tmp = tempfile::tempdir().unwrap();
    let run = train(tmp.path(), "cvae", &["cvae", "--dataset", "mnist-sample"]);
    let codes = tmp.path().join("z.npy");
    latent_data::npy::write_npy(&codes, &Array2::<f64>::zeros((4, 2))).unwrap();
    let out = tmp.path().join("x.npy");
    fails(&["decode", s(&run), "--codes", s(&codes), "--out", s(&out)], "--labels FILE.npy");
    fails(&["decode", s(&run), "--codes", s(&codes), "--out", s(&out), "--label", "10"], "labels 0 to 9");
    ok(&["decode", s(&run), "--codes", s(&codes), "--out", s(&out), "--label", "7"]);
    let labels = tmp.path().join("labels.npy");
    latent_data::npy::write_npy(&labels, &ndarray::Array1::from(vec![0u8, 1, 2, 3])).unwrap();
    ok(&["decode", s(&run), "--codes", s(&codes), "--out", s(&out), "--labels", s(&labels)]);
    assert_eq!(read2(&out).dim(), (4, 784));
    ok(&["export", s(&run), "--format", "onnx", "--out", s(&tmp.path().join("cvae-onnx"))]);
    let spec = std::fs::read_to_string(tmp.path().join("cvae-onnx/spec.json")).unwrap();
    assert!(spec.contains(r#""name": "y""#) && spec.contains("one-hot"), "{spec}");

    let table = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/latent-data/sample/table/wdbc-200.csv");
    let run = train(tmp.path(), "wdbc", &["vae", "--data", s(&table), "--label-column", "diagnosis"]);
    let codes = tmp.path().join("zt.npy");
    latent_data::npy::write_npy(&codes, &Array2::<f32>::zeros((2, 20))).unwrap();
    ok(&["decode", s(&run), "--codes", s(&codes), "--out", s(&out)]);
    let decoded = read2(&out);
    assert_eq!(decoded.dim(), (2, 30));
    // area_mean (column 4) is in the hundreds in its own units; standardised it would be near 0.
    assert!(decoded[[0, 3]] > 200.0, "{decoded:?}");
    let onnx = tmp.path().join("wdbc-onnx");
    ok(&["export", s(&run), "--format", "onnx", "--out", s(&onnx)]);
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(onnx.join("spec.json")).unwrap()).unwrap();
    assert_eq!(spec["data"]["scaling"]["kind"], "standardized");
    assert_eq!(spec["data"]["scaling"]["mean"].as_array().unwrap().len(), 30);
    assert_eq!(spec["data"]["feature_names"][3], "area_mean");
    assert_eq!(spec["data"]["class_names"], serde_json::json!(["benign", "malignant"]));
}
