//! MNIST-format directories: spellings, locating the data, verification, the bundled sample and
//! the real data.

mod common;

use std::path::{Path, PathBuf};

use common::{Scratch, images, labels, workspace_root};
use latent_data::mnist::{
    self, CANONICAL_SHA256, DataDir, Origin, Part, Split, Verification, accepted_names, canonical_sha256, locate_with,
};
use latent_data::{BatchConfig, DataError, IdxArray, Scale};

/// Writes a small MNIST-format directory: `n` training and `m` test items of `rows x cols`,
/// mixing spellings and compression.
fn fake_dir(dir: &Path, n: usize, m: usize, rows: usize, cols: usize) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("train-images.idx3-ubyte"), images(n, rows, cols).to_bytes()).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), labels(n).to_gzip()).unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), images(m, rows, cols).to_bytes()).unwrap();
    std::fs::write(dir.join("t10k-labels.idx1-ubyte.gz"), labels(m).to_gzip()).unwrap();
}

#[test]
fn both_spellings_are_accepted_and_mapped_to_the_canonical_digests() {
    assert_eq!(
        accepted_names(Split::Train, Part::Images),
        [
            "train-images-idx3-ubyte.gz",
            "train-images-idx3-ubyte",
            "train-images.idx3-ubyte.gz",
            "train-images.idx3-ubyte"
        ]
    );
    assert_eq!(mnist::file_name(Split::Test, Part::Labels), "t10k-labels-idx1-ubyte.gz");
    for (name, digest) in CANONICAL_SHA256 {
        assert_eq!(canonical_sha256(name), Some(digest));
        let raw = name.strip_suffix(".gz").unwrap();
        assert_eq!(canonical_sha256(raw), Some(digest));
        assert_eq!(canonical_sha256(&raw.replacen("-idx", ".idx", 1)), Some(digest));
    }
    assert_eq!(canonical_sha256("fashion.gz"), None);
}

#[test]
fn any_directory_of_mnist_format_files_loads() {
    let dir = Scratch::new("fashion");
    fake_dir(dir.path(), 7, 3, 28, 28);
    let data = mnist::load_dir(dir.path()).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (7, 3));
    assert_eq!((data.train.rows(), data.train.cols()), (28, 28));
    assert_eq!(data.train.labels(), &[0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(data.train.images_u8(), images(7, 28, 28).data());
    assert_eq!(data.dir.origin, Origin::Flag);
    assert!(!data.is_sample());
    // Other image sizes load too.
    let small = Scratch::new("small");
    fake_dir(small.path(), 2, 2, 4, 3);
    let d = mnist::load_dir(small.path()).unwrap();
    assert_eq!((d.train.rows(), d.train.cols(), d.train.pixels()), (4, 3, 12));
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = Scratch::new("mismatch");
    fake_dir(dir.path(), 5, 3, 28, 28);
    std::fs::write(dir.path().join("train-labels-idx1-ubyte.gz"), labels(4).to_gzip()).unwrap();
    let err = mnist::load_dir(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::CountMismatch { images: 5, labels: 4, .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("train-images.idx3-ubyte") && msg.contains("train-labels-idx1-ubyte.gz"), "{msg}");
}

#[test]
fn wrong_ranks_and_empty_images_are_typed_errors() {
    let dir = Scratch::new("ranks");
    fake_dir(dir.path(), 2, 2, 28, 28);
    // Labels where images belong.
    std::fs::write(dir.path().join("train-images.idx3-ubyte"), labels(2).to_bytes()).unwrap();
    let err = mnist::load_dir(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::Rank { expected: 3, found: 1, .. }), "{err}");
    // Images of zero columns.
    let empty = IdxArray::new(vec![2, 28, 0], vec![]).unwrap();
    std::fs::write(dir.path().join("train-images.idx3-ubyte"), empty.to_bytes()).unwrap();
    let err = mnist::load_dir(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::Dimensions { .. }), "{err}");
}

#[test]
fn a_missing_file_lists_the_names_tried() {
    let dir = Scratch::new("missing");
    fake_dir(dir.path(), 2, 2, 28, 28);
    std::fs::remove_file(dir.path().join("t10k-labels.idx1-ubyte.gz")).unwrap();
    assert!(!mnist::is_complete(dir.path()));
    let err = mnist::load_dir(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("test labels") && msg.contains("t10k-labels.idx1-ubyte"), "{msg}");
}

#[test]
fn the_data_directory_is_found_in_order() {
    let root = Scratch::new("roots");
    let roots = vec![root.path().to_path_buf()];
    let full = root.join("mnist");
    let sample = root.join("mnist-sample");
    let other = root.join("fashion");
    // Nothing at all.
    let err = locate_with(None, None, &roots).unwrap_err();
    assert!(matches!(err, DataError::NoData { ref tried } if tried == &vec![full.clone(), sample.clone()]), "{err}");
    assert!(err.to_string().contains("cargo xtask fetch-mnist"));
    // Only the sample: it is used.
    fake_dir(&sample, 3, 2, 28, 28);
    let got = locate_with(None, None, &roots).unwrap();
    assert_eq!(got, DataDir { path: sample.clone(), origin: Origin::Sample });
    // An incomplete full directory does not count.
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("train-images-idx3-ubyte.gz"), images(1, 28, 28).to_gzip()).unwrap();
    assert_eq!(locate_with(None, None, &roots).unwrap().origin, Origin::Sample);
    // The full data wins over the sample.
    fake_dir(&full, 4, 2, 28, 28);
    assert_eq!(locate_with(None, None, &roots).unwrap(), DataDir { path: full.clone(), origin: Origin::Full });
    // The variable wins over both, the flag over the variable.
    fake_dir(&other, 2, 2, 28, 28);
    assert_eq!(locate_with(None, Some(&other), &roots).unwrap(), DataDir { path: other.clone(), origin: Origin::Env });
    assert_eq!(
        locate_with(Some(&sample), Some(&other), &roots).unwrap(),
        DataDir { path: sample.clone(), origin: Origin::Flag }
    );
    // A given directory without the data is an error, not a fallback.
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = locate_with(Some(&empty), None, &roots).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { ref dir, .. } if dir == &empty), "{err}");
    let err = locate_with(None, Some(&empty), &roots).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { .. }), "{err}");
}

fn bundled_sample() -> PathBuf {
    workspace_root().join("datasets/mnist-sample")
}

#[test]
fn the_bundled_sample_loads_verified_against_its_manifest() {
    let data = mnist::load_from(DataDir { path: bundled_sample(), origin: Origin::Sample }).unwrap();
    assert!(data.is_sample());
    assert_eq!((data.train.len(), data.test.len()), (mnist::SAMPLE_TRAIN_ITEMS, mnist::SAMPLE_TEST_ITEMS));
    assert_eq!((data.train.rows(), data.train.cols()), (mnist::ROWS, mnist::COLS));
    // The first training digits of MNIST are 5, 0, 4, 1, 9; the first test digits 7, 2, 1, 0, 4.
    assert_eq!(&data.train.labels()[..5], &[5, 0, 4, 1, 9]);
    assert_eq!(&data.test.labels()[..5], &[7, 2, 1, 0, 4]);
    assert!(data.train.labels().iter().all(|&l| l < 10));
    let verification = data.dir.verification().unwrap();
    assert!(matches!(verification, Verification::Manifest(..)));
    // Batches of the real thing: [B, 784] and [B, 1, 28, 28] on [-1, 1].
    let cfg = BatchConfig::new(64).scale(Scale::MinusOneOne).seed(5);
    let batch = data.train.batches(&cfg, 0).unwrap().next().unwrap();
    assert_eq!(batch.images.shape(), &[64, 784]);
    assert_eq!(batch.images_nchw().shape(), &[64, 1, 28, 28]);
    assert!(batch.images.iter().all(|v| (-1.0..=1.0).contains(v)));
    assert!(batch.images.iter().any(|&v| v == -1.0) && batch.images.iter().any(|&v| v == 1.0));
}

#[test]
fn a_tampered_sample_or_a_missing_manifest_is_refused() {
    let copy = Scratch::new("sample-copy");
    for entry in std::fs::read_dir(bundled_sample()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join(&entry.file_name().to_string_lossy())).unwrap();
    }
    let dir = DataDir { path: copy.path().to_path_buf(), origin: Origin::Sample };
    mnist::load_from(dir.clone()).unwrap();
    // Valid IDX, same count, different content.
    let mut l = latent_data::read_idx(copy.join("t10k-labels-idx1-ubyte.gz")).unwrap().into_data();
    l.swap(0, 1);
    let tampered = IdxArray::new(vec![l.len()], l).unwrap();
    std::fs::write(copy.join("t10k-labels-idx1-ubyte.gz"), tampered.to_gzip()).unwrap();
    let err = mnist::load_from(dir.clone()).unwrap_err();
    assert!(
        matches!(err, DataError::Checksum { ref path, .. } if path.ends_with("t10k-labels-idx1-ubyte.gz")),
        "{err}"
    );
    // The sample must have its manifest.
    std::fs::remove_file(copy.join("MANIFEST")).unwrap();
    let err = mnist::load_from(dir).unwrap_err();
    assert!(matches!(err, DataError::Io { ref path, .. } if path.ends_with("MANIFEST")), "{err}");
}

#[test]
fn the_full_directory_is_checked_against_the_canonical_digests() {
    let dir = Scratch::new("fake-full");
    fake_dir(dir.path(), 2, 2, 28, 28);
    let full = DataDir { path: dir.path().to_path_buf(), origin: Origin::Full };
    assert_eq!(full.verification().unwrap(), Verification::Canonical);
    let err = mnist::load_from(full).unwrap_err();
    assert!(matches!(err, DataError::Checksum { .. }), "{err}");
    // The same files given by flag are not MNIST's, and need not be.
    mnist::load_dir(dir.path()).unwrap();
    let err = mnist::verify_canonical(dir.join("t10k-labels.idx1-ubyte.gz")).unwrap_err();
    assert!(matches!(err, DataError::Checksum { .. }), "{err}");
    let err = mnist::verify_canonical(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::InvalidParameter { .. }), "{err}");
}

/// The real MNIST, from the offline mirror beside the workspace when the machine has it.
#[test]
fn the_real_mnist_loads_and_verifies() {
    let shared = workspace_root().join("../shared/datasets/mnist");
    if !mnist::is_complete(&shared) {
        eprintln!("skipped: no MNIST at {}", shared.display());
        return;
    }
    for (name, _) in CANONICAL_SHA256 {
        mnist::verify_canonical(shared.join(name)).unwrap();
    }
    let data = mnist::load_from(DataDir { path: shared, origin: Origin::Full }).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (mnist::TRAIN_ITEMS, mnist::TEST_ITEMS));
    // The sample is the head of the real thing.
    let sample = mnist::load_from(DataDir { path: bundled_sample(), origin: Origin::Sample }).unwrap();
    assert_eq!(sample.train, data.train.take(mnist::SAMPLE_TRAIN_ITEMS));
    assert_eq!(sample.test, data.test.take(mnist::SAMPLE_TEST_ITEMS));
}
