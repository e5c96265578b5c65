//! Helpers shared by the integration tests: fixture paths, reading safetensors fixtures, and
//! the relative error measure used against PyTorch.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};
use safetensors::{Dtype, SafeTensors};

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures").join(name)
}

/// A fresh, empty directory for one test.
pub fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("latent-nn-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every `F32` tensor of a safetensors file, and its metadata.
pub fn read_f32(path: &Path) -> (BTreeMap<String, ArrayD<f32>>, HashMap<String, String>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() == Dtype::F32 {
            let v = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            out.insert(name, ArrayD::from_shape_vec(IxDyn(view.shape()), v).unwrap());
        }
    }
    (out, meta.metadata().clone().unwrap_or_default())
}

/// Write `F32` tensors to a safetensors file.
pub fn write_f32(path: &Path, tensors: &[(&str, &ArrayD<f32>)]) {
    let data: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(n, a)| (n.to_string(), a.iter().flat_map(|v| v.to_le_bytes()).collect(), a.shape().to_vec()))
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = data
        .iter()
        .map(|(n, b, s)| (n.clone(), safetensors::tensor::TensorView::new(Dtype::F32, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// `max |a - b| / max |b|`: the error relative to the reference's scale.
pub fn rel_err(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f64 {
    assert_eq!(a.shape(), b.shape(), "shapes differ");
    let scale = b.iter().fold(0f64, |m, &v| m.max(f64::from(v).abs())).max(1e-12);
    let diff = a.iter().zip(b.iter()).fold(0f64, |m, (&x, &y)| m.max((f64::from(x) - f64::from(y)).abs()));
    diff / scale
}
