//! A corrupted or mismatched checkpoint gives a typed error naming the file and tensor, and
//! leaves the model exactly as it was.

mod common;

use std::path::Path;

use common::{temp_dir, write_f32};
use latent_nn::layers::{BatchNorm1d, Linear, Relu, Sequential};
use latent_nn::{Buffer, Ctx, Layer, Module, NnError, load_checkpoint, read_config, save_checkpoint};
use latent_tensor::TensorRng;

/// `Linear(3, 4) → BatchNorm1d(4) → ReLU → Linear(4, out)`, plus `extra` more Linear(out, out).
fn model(seed: u64, out: usize, extra: usize) -> Sequential {
    let mut rng = TensorRng::seed_from_u64(seed);
    let mut m = Sequential::new()
        .with(Linear::new(3, 4, &mut rng).unwrap())
        .with(BatchNorm1d::new(4).unwrap())
        .with(Relu)
        .with(Linear::new(4, out, &mut rng).unwrap());
    for _ in 0..extra {
        m.push(Linear::new(out, out, &mut rng).unwrap());
    }
    m
}

/// Every value of the model (parameters and buffers), by name, as bits.
fn snapshot(m: &dyn Module) -> Vec<(String, Vec<u32>)> {
    let mut out = Vec::new();
    m.visit_params("", &mut |n, p| out.push((n.to_string(), p.to_vec().iter().map(|v| v.to_bits()).collect())));
    m.visit_buffers("", &mut |n, b| {
        let bits = match b {
            Buffer::F32(a) => a.iter().map(|v| v.to_bits()).collect(),
            Buffer::I64(v) => vec![v as u32, (v >> 32) as u32],
        };
        out.push((n.to_string(), bits));
    });
    out
}

/// A trained-looking source model saved at `dir/model.safetensors`.
fn saved(dir: &Path) -> (std::path::PathBuf, Sequential) {
    let mut source = model(1, 2, 0);
    let mut rng = TensorRng::seed_from_u64(5);
    source.forward(&rng.randn(&[8, 3]), &mut Ctx::train(TensorRng::seed_from_u64(0))).unwrap();
    let path = dir.join("model.safetensors");
    save_checkpoint(&path, &source, &serde_json::json!({"hidden": 4})).unwrap();
    (path, source)
}

/// Load `path` into `target` expecting an error; check the model did not change.
fn load_fails(path: &Path, target: &mut Sequential) -> NnError {
    let before = snapshot(target);
    let err = load_checkpoint(path, target).expect_err("loading should fail");
    assert_eq!(snapshot(target), before, "the model changed although loading failed: {err}");
    err
}

#[test]
fn a_good_checkpoint_loads_everything() {
    let dir = temp_dir("good");
    let (path, source) = saved(&dir);
    let mut target = model(2, 2, 0);
    assert_ne!(snapshot(&target), snapshot(&source));
    load_checkpoint(&path, &mut target).unwrap();
    assert_eq!(snapshot(&target), snapshot(&source));
    let config: serde_json::Value = read_config(&path).unwrap();
    assert_eq!(config["hidden"], 4);
}

#[test]
fn a_truncated_file_is_corrupt() {
    let dir = temp_dir("truncated");
    let (path, _) = saved(&dir);
    let bytes = std::fs::read(&path).unwrap();
    for keep in [0, 5, 12, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..keep]).unwrap();
        let err = load_fails(&path, &mut model(2, 2, 0));
        assert!(matches!(err, NnError::Corrupt { .. }), "{keep} bytes: {err}");
        assert!(err.to_string().contains("model.safetensors"), "{err}");
    }
}

#[test]
fn any_flipped_header_byte_or_data_byte_is_detected() {
    let dir = temp_dir("flipped");
    let (path, _) = saved(&dir);
    let bytes = std::fs::read(&path).unwrap();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut target = model(2, 2, 0);
    let before = snapshot(&target);
    let positions: Vec<usize> = (0..header_end).chain([header_end, header_end + 17, bytes.len() - 1]).collect();
    for i in positions {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x01;
        std::fs::write(&path, &damaged).unwrap();
        let err = load_checkpoint(&path, &mut target).expect_err(&format!("flipping byte {i} went unnoticed"));
        assert!(matches!(err, NnError::Corrupt { .. }), "byte {i}: {err}");
    }
    assert_eq!(snapshot(&target), before);
}

#[test]
fn a_wrong_shape_names_the_tensor_and_both_shapes() {
    let dir = temp_dir("shape");
    let (path, _) = saved(&dir);
    let err = load_fails(&path, &mut model(2, 5, 0));
    match &err {
        NnError::ShapeMismatch { name, expected, found, path: p } => {
            assert_eq!((name.as_str(), expected.as_slice(), found.as_slice()), ("3.weight", &[5, 4][..], &[2, 4][..]));
            assert_eq!(p, &path);
        }
        other => panic!("expected a shape mismatch, got {other}"),
    }
    assert!(err.to_string().contains("`3.weight` has shape [2, 4], the model expects [5, 4]"), "{err}");
}

#[test]
fn a_missing_tensor_is_named() {
    let dir = temp_dir("missing");
    let (path, _) = saved(&dir);
    let err = load_fails(&path, &mut model(2, 2, 1));
    assert!(matches!(&err, NnError::MissingTensor { name, .. } if name == "4.weight"), "{err}");
}

#[test]
fn an_unexpected_tensor_is_named() {
    let dir = temp_dir("unexpected");
    let path = dir.join("bigger.safetensors");
    save_checkpoint(&path, &model(1, 2, 1), &()).unwrap();
    let err = load_fails(&path, &mut model(2, 2, 0));
    assert!(matches!(&err, NnError::UnexpectedTensor { name, .. } if name == "4.bias"), "{err}");
}

#[test]
fn a_wrong_dtype_is_named() {
    // A file without checksum (as another tool writes them) whose num_batches_tracked is F32.
    let dir = temp_dir("dtype");
    let source = model(1, 2, 0);
    let mut arrays = Vec::new();
    source.visit_params("", &mut |n, p| arrays.push((n.to_string(), p.to_array())));
    source.visit_buffers("", &mut |n, b| {
        let a = match b {
            Buffer::F32(a) => a.clone(),
            Buffer::I64(v) => ndarray::arr0(v as f32).into_dyn(),
        };
        arrays.push((n.to_string(), a));
    });
    let refs: Vec<(&str, &ndarray::ArrayD<f32>)> = arrays.iter().map(|(n, a)| (n.as_str(), a)).collect();
    let path = dir.join("f32_counter.safetensors");
    write_f32(&path, &refs);
    let err = load_fails(&path, &mut model(2, 2, 0));
    match &err {
        NnError::DtypeMismatch { name, expected, found, .. } => {
            assert_eq!((name.as_str(), expected.as_str(), found.as_str()), ("1.num_batches_tracked", "I64", "F32"));
        }
        other => panic!("expected a dtype mismatch, got {other}"),
    }
}

#[test]
fn a_missing_file_and_missing_config_are_clear() {
    let dir = temp_dir("nofile");
    let err = load_fails(&dir.join("nope.safetensors"), &mut model(2, 2, 0));
    assert!(matches!(err, NnError::Io { .. }) && err.to_string().contains("nope.safetensors"), "{err}");
    // A file without the configuration entry.
    let path = dir.join("plain.safetensors");
    write_f32(&path, &[("x", &ndarray::arr1(&[1.0f32]).into_dyn())]);
    let err = read_config::<serde_json::Value>(&path).unwrap_err();
    assert!(matches!(err, NnError::Metadata { .. }) && err.to_string().contains("latent.config"), "{err}");
}

#[test]
fn a_failed_save_leaves_the_previous_file_and_no_temporary() {
    let dir = temp_dir("atomic");
    let (path, source) = saved(&dir);
    let before = std::fs::read(&path).unwrap();
    // Saving to a path that is a directory fails at the rename; nothing else changes.
    let blocked = dir.join("blocked");
    std::fs::create_dir(&blocked).unwrap();
    let err = save_checkpoint(&blocked, &source, &()).unwrap_err();
    assert!(matches!(err, NnError::Write(_)), "{err}");
    // Saving over the existing file replaces it whole.
    save_checkpoint(&path, &model(3, 2, 0), &()).unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), before);
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}
