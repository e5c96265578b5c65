//! `.npy` and `.npz` files through `--data`: Pythae's and Keras's layouts, every accepted shape
//! and element type, and malformed files (a missing key, a truncated array, unsupported element
//! types, labels that do not fit) refused with the file and array named.

use std::path::{Path, PathBuf};

use latent_data::arrays::{ArrayOptions, MAX_ARRAY_BYTES, read_npy, read_npz};
use latent_data::npy::{self, NpzWriter};
use latent_data::source::{self, LoadOptions, Source};
use latent_data::{DataError, Format, SampleShape, Scale, ValueKind};
use ndarray::{Array, Array1, Array2, Array4, ArrayD, IxDyn};

fn keyed(data: &str, labels: Option<&str>) -> ArrayOptions {
    ArrayOptions { data_key: Some(data.into()), label_key: labels.map(str::to_string) }
}

fn npz(path: &Path, add: impl FnOnce(&mut NpzWriter)) -> PathBuf {
    let mut w = NpzWriter::create_compressed(path).unwrap();
    add(&mut w);
    w.finish().unwrap();
    path.to_path_buf()
}

#[test]
fn keras_archives_bring_their_test_split() {
    let dir = tempfile::tempdir().unwrap();
    let p = npz(&dir.path().join("mnist.npz"), |w| {
        w.add("x_train", &Array::from_shape_fn((10, 28, 28), |(n, y, x)| (n + y + x) as u8)).unwrap();
        w.add("y_train", &Array1::from_iter((0..10u8).map(|i| i % 5))).unwrap();
        w.add("x_test", &Array::from_shape_fn((4, 28, 28), |(n, _, _)| n as u8)).unwrap();
        w.add("y_test", &Array1::from(vec![9u8, 0, 1, 2])).unwrap();
    });
    let source = Source::from_path(&p, None).unwrap();
    assert_eq!(source.format(), Format::Npz);
    let options = LoadOptions::default();
    let data = source::load(source, &options).unwrap().prepare(&options, None).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (10, 4));
    let spec = data.spec();
    assert_eq!((spec.shape, spec.values), (SampleShape::image(1, 28, 28), ValueKind::Pixels));
    // Classes over both splits: 0..4 from training, 9 from the test split only.
    let names: Vec<&str> = spec.class_names.as_ref().unwrap().iter().map(String::as_str).collect();
    assert_eq!(names, ["0", "1", "2", "3", "4", "9"]);
    assert_eq!(data.test.labels(), [5, 0, 1, 2]);
    assert_eq!(data.train.image(1).unwrap()[..3], [1, 2, 3]);
}

#[test]
fn pythae_archives_and_every_shape_and_type_load() {
    let dir = tempfile::tempdir().unwrap();
    // Pythae: `data` float32 [N, C, H, W] and optional `labels`; no test split, so split here.
    let p = npz(&dir.path().join("pythae.npz"), |w| {
        w.add("data", &Array4::from_shape_fn((10, 3, 2, 4), |(n, c, y, x)| (n * 100 + c * 10 + y * 4 + x) as f32))
            .unwrap();
        w.add("labels", &Array1::from_iter((0..10i64).map(|i| 7 * (i % 2)))).unwrap();
    });
    let options = LoadOptions { test_fraction: 0.2, ..LoadOptions::default() };
    let data = source::load(Source::from_path(&p, None).unwrap(), &options).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (8, 2));
    assert_eq!((data.spec().shape, data.spec().values), (SampleShape::image(3, 2, 4), ValueKind::Real));
    assert_eq!(data.spec().class_names.as_deref(), Some(&["0".to_string(), "7".to_string()][..]));

    // Channel-last [N, H, W, 3] becomes channel-first.
    let nhwc = Array::from_shape_fn((2, 5, 4, 3), |(n, y, x, c)| (n * 60 + y * 12 + x * 3 + c) as u8);
    let p = dir.path().join("nhwc.npy");
    npy::write_npy(&p, &nhwc).unwrap();
    let d = read_npy(&p).unwrap();
    assert_eq!(
        (d.shape(), d.spec().values, d.spec().class_names.clone()),
        (SampleShape::image(3, 5, 4), ValueKind::Pixels, None)
    );
    let first = d.image(0).unwrap();
    // Channel 1, row 2, column 3 of example 0.
    assert_eq!(first[5 * 4 + 2 * 4 + 3], nhwc[[0, 2, 3, 1]]);
    // [N, 3, H, 3] is taken as channel-first: the second axis decides.
    npy::write_npy(&p, &ArrayD::<u8>::zeros(IxDyn(&[2, 3, 7, 3]))).unwrap();
    assert_eq!(read_npy(&p).unwrap().shape(), SampleShape::image(3, 7, 3));

    // Features: float64 and int64 become real values; uint8 stays pixels.
    let p = dir.path().join("f64.npy");
    npy::write_npy(&p, &Array2::from_shape_fn((3, 2), |(i, j)| (i * 2 + j) as f64 + 0.5)).unwrap();
    let d = read_npy(&p).unwrap();
    assert_eq!((d.shape(), d.spec().values), (SampleShape::Features { features: 2 }, ValueKind::Real));
    assert_eq!(d.to_flat(Scale::ZeroOne).row(2).to_vec(), [4.5, 5.5]);
    npy::write_npy(&p, &Array2::from_shape_fn((3, 2), |(i, j)| (i * 2 + j) as i64)).unwrap();
    assert_eq!(read_npy(&p).unwrap().spec().values, ValueKind::Real);
    npy::write_npy(&p, &Array2::<u8>::zeros((3, 2))).unwrap();
    assert_eq!(read_npy(&p).unwrap().spec().values, ValueKind::Pixels);

    // Other keys by name; a lone array is taken whatever its name.
    let p = npz(&dir.path().join("keys.npz"), |w| {
        w.add("codes", &Array2::<f32>::ones((4, 3))).unwrap();
        w.add("classes", &Array1::from(vec![1u8, 2, 1, 2])).unwrap();
    });
    let (d, test) = read_npz(&p, &keyed("codes", Some("classes"))).unwrap();
    assert!(test.is_none());
    assert_eq!(d.labels(), [0, 1, 0, 1]);
    let p = npz(&dir.path().join("lone.npz"), |w| w.add("arr_0", &Array2::<f32>::ones((4, 3))).unwrap());
    assert_eq!(read_npz(&p, &ArrayOptions::default()).unwrap().0.len(), 4);
}

#[test]
fn missing_keys_list_the_keys_the_archive_has() {
    let dir = tempfile::tempdir().unwrap();
    let p = npz(&dir.path().join("other.npz"), |w| {
        w.add("images", &Array2::<u8>::zeros((2, 4))).unwrap();
        w.add("targets", &Array1::from(vec![0u8, 1])).unwrap();
    });
    let e = read_npz(&p, &ArrayOptions::default()).unwrap_err();
    assert!(matches!(e, DataError::Array { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("other.npz")
            && msg.contains("'x_train' (Keras) or 'data' (Pythae)")
            && msg.ends_with("found the arrays images, targets"),
        "{msg}"
    );
    let e = read_npz(&p, &keyed("pixels", None)).unwrap_err();
    assert!(matches!(&e, DataError::NpzMissingKey { present, .. } if present == &["images", "targets"]), "{e}");
    let e = read_npz(&p, &keyed("images", Some("labels"))).unwrap_err().to_string();
    assert!(e.contains("no array 'labels'") && e.contains("images, targets"), "{e}");
    // Keras's layout with x_test but no y_test next to labelled training data.
    let p = npz(&dir.path().join("half.npz"), |w| {
        w.add("x_train", &Array2::<u8>::zeros((2, 4))).unwrap();
        w.add("y_train", &Array1::from(vec![0u8, 1])).unwrap();
        w.add("x_test", &Array2::<u8>::zeros((2, 4))).unwrap();
    });
    let e = read_npz(&p, &ArrayOptions::default()).unwrap_err().to_string();
    assert!(e.contains("no array 'y_test'"), "{e}");
}

#[test]
fn malformed_arrays_are_refused_naming_file_and_array() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.npy");
    let good = npy::encode_npy(&Array2::<f32>::ones((4, 3))).unwrap();
    // Truncated, and every prefix of a file: errors, never a panic.
    std::fs::write(&p, &good[..good.len() - 5]).unwrap();
    let e = read_npy(&p).unwrap_err().to_string();
    assert!(e.contains("x.npy") && e.contains("needs 48 bytes of data, found 43"), "{e}");
    for n in 0..good.len() {
        std::fs::write(&p, &good[..n]).unwrap();
        assert!(read_npy(&p).is_err(), "prefix {n}");
    }
    let cases: Vec<(ArrayD<f32>, &str)> = vec![
        (ArrayD::zeros(IxDyn(&[5])), "found shape [5]"),
        (ArrayD::zeros(IxDyn(&[1, 2, 3, 4, 5])), "found shape [1, 2, 3, 4, 5]"),
        (ArrayD::zeros(IxDyn(&[0, 3])), "expected at least one example of at least one value, found shape [0, 3]"),
        (ArrayD::zeros(IxDyn(&[2, 0])), "found shape [2, 0]"),
        (
            ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![0.0, 1.0, f32::NAN, 2.0]).unwrap(),
            "expected finite values, found NaN at example 1, value 0",
        ),
    ];
    for (array, expected) in cases {
        npy::write_npy(&p, &array).unwrap();
        let e = read_npy(&p).unwrap_err();
        assert!(matches!(e, DataError::Array { .. }) && e.to_string().contains(expected), "{e}");
    }
    // f64 beyond float32's range.
    npy::write_npy(&p, &Array2::from_elem((1, 1), 1e300f64)).unwrap();
    assert!(read_npy(&p).unwrap_err().to_string().contains("out of float32's range"));
    // Element types other than uint8, float32, float64, int64: a hand-made int32 header.
    let header = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }";
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let padded = format!("{header:<117}\n");
    bytes.extend_from_slice(&(padded.len() as u16).to_le_bytes());
    bytes.extend_from_slice(padded.as_bytes());
    bytes.extend_from_slice(&[0; 16]);
    std::fs::write(&p, &bytes).unwrap();
    let e = read_npy(&p).unwrap_err().to_string();
    assert!(e.contains("x.npy") && e.contains("float32, float64 or int64") && e.contains("'<i4'"), "{e}");
    // A header describing more than the cap is refused before reading (only the header exists).
    let header = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': ({}, 2), }}", MAX_ARRAY_BYTES);
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let padded = format!("{header:<117}\n");
    bytes.extend_from_slice(&(padded.len() as u16).to_le_bytes());
    bytes.extend_from_slice(padded.as_bytes());
    std::fs::write(&p, &bytes).unwrap();
    let e = read_npy(&p).unwrap_err().to_string();
    assert!(e.contains(&format!("expected an array of at most {MAX_ARRAY_BYTES} bytes")), "{e}");

    // Labels: wrong count, wrong type, wrong rank, too many classes.
    let z = npz(&dir.path().join("labels.npz"), |w| {
        w.add("data", &Array2::<u8>::zeros((3, 2))).unwrap();
        w.add("labels", &Array1::from(vec![0u8, 1])).unwrap();
        w.add("float_labels", &Array1::from(vec![0.0f32, 1.0, 0.0])).unwrap();
        w.add("grid_labels", &Array2::<u8>::zeros((3, 2))).unwrap();
        w.add("many", &Array1::from_iter(0..3i64)).unwrap();
    });
    let e = read_npz(&z, &ArrayOptions::default()).unwrap_err().to_string();
    assert!(e.contains("labels.npz, array 'data': expected as many labels as the 3 examples, found 2 labels"), "{e}");
    let e = read_npz(&z, &keyed("data", Some("float_labels"))).unwrap_err().to_string();
    assert!(e.contains("array 'float_labels': expected integer labels") && e.contains("'<f4'"), "{e}");
    let e = read_npz(&z, &keyed("data", Some("grid_labels"))).unwrap_err().to_string();
    assert!(e.contains("expected labels of shape [N] or [N, 1], found shape [3, 2]"), "{e}");
    let many = npz(&dir.path().join("many.npz"), |w| {
        w.add("data", &Array2::<u8>::zeros((300, 1))).unwrap();
        w.add("labels", &Array1::from_iter(0..300i64)).unwrap();
    });
    let e = read_npz(&many, &ArrayOptions::default()).unwrap_err().to_string();
    assert!(e.contains("expected at most 256 distinct labels, found 300"), "{e}");
    // Test examples of another shape than the training ones.
    let odd = npz(&dir.path().join("odd.npz"), |w| {
        w.add("x_train", &Array2::<u8>::zeros((3, 2))).unwrap();
        w.add("x_test", &Array2::<u8>::zeros((3, 5))).unwrap();
    });
    let e = read_npz(&odd, &ArrayOptions::default()).unwrap_err().to_string();
    assert!(
        e.contains("array 'x_test': expected test examples like the training ones (2 features), found 5 features"),
        "{e}"
    );
    // Not a zip archive at all.
    let not_zip = dir.path().join("not.npz");
    std::fs::write(&not_zip, b"hello").unwrap();
    let e = read_npz(&not_zip, &ArrayOptions::default()).unwrap_err();
    assert!(matches!(e, DataError::Npz { .. }) && e.to_string().contains("not.npz"), "{e}");
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// A good file with bytes changed is read or refused, never a panic.
        #[test]
        fn damaged_arrays_are_read_or_refused(at in 0usize..200, byte in any::<u8>(), cut in 0usize..200) {
            let dir = tempfile::tempdir().unwrap();
            let good = npy::encode_npy(&Array::from_shape_fn((3, 2, 2, 3), |(n, y, x, c)| (n + y + x + c) as f32)).unwrap();
            let mut bytes = good.clone();
            let i = at % bytes.len();
            bytes[i] = byte;
            bytes.truncate(good.len() - cut % good.len());
            let p = dir.path().join("x.npy");
            std::fs::write(&p, &bytes).unwrap();
            let _ = read_npy(&p);
            let z = dir.path().join("x.npz");
            std::fs::write(&z, &bytes).unwrap();
            prop_assert!(read_npz(&z, &ArrayOptions::default()).is_err());
        }
    }
}
