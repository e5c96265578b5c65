//! MNIST-format directories: spellings, locating the data, verification, the built-in sample and
//! the real data.

mod common;

use std::path::{Path, PathBuf};

use common::{Scratch, images, labels, workspace_root};
use latent_data::Source;
use latent_data::catalog::{FASHION_MNIST, KMNIST, MNIST};
use latent_data::mnist::{
    self, CANONICAL_SHA256, Part, Split, Verification, accepted_names, canonical_sha256, locate_named, locate_with,
};
use latent_data::{DataError, IdxArray, sample};

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
    assert_eq!(data.train.pixel_bytes().unwrap(), images(7, 28, 28).data());
    assert_eq!(data.source, Source::Flag(dir.path().to_path_buf()));
    assert_eq!(data.source.name(), dir.path().display().to_string());
    assert!(!data.is_sample());
    // Other image sizes load too.
    let small = Scratch::new("small");
    fake_dir(small.path(), 2, 2, 4, 3);
    let d = mnist::load_dir(small.path()).unwrap();
    assert_eq!((d.train.rows(), d.train.cols(), d.train.sample_len()), (4, 3, 12));
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
fn the_data_is_found_in_order() {
    let root = Scratch::new("roots");
    let home = root.join("home");
    let full = home.join("mnist");
    let other = root.join("fashion");
    // Nothing fetched: the built-in sample, whether or not there is a home (an error naming
    // where the full data was looked for in a build without the sample).
    let fallback = |found: Result<Source, DataError>, tried: Vec<PathBuf>| {
        if sample::BUILT_IN {
            assert_eq!(found.unwrap(), Source::Sample);
        } else {
            let err = found.unwrap_err();
            assert!(matches!(err, DataError::NoData { tried: ref t } if t == &tried), "{err}");
            assert!(err.to_string().contains("latent fetch mnist"), "{err}");
        }
    };
    fallback(locate_with(None, None, Some(&home)), vec![full.clone()]);
    fallback(locate_with(None, None, None), vec![]);
    // An incomplete full directory does not count.
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("train-images-idx3-ubyte.gz"), images(1, 28, 28).to_gzip()).unwrap();
    fallback(locate_with(None, None, Some(&home)), vec![full.clone()]);
    // The full data in the user's data directory wins over the sample.
    fake_dir(&full, 4, 2, 28, 28);
    let named = Source::Named { dataset: &MNIST, path: full.clone() };
    assert_eq!(locate_with(None, None, Some(&home)).unwrap(), named);
    assert_eq!(named.name(), "mnist");
    // The variable wins over both, the flag over the variable.
    fake_dir(&other, 2, 2, 28, 28);
    assert_eq!(locate_with(None, Some(&other), Some(&home)).unwrap(), Source::Env(other.clone()));
    assert_eq!(locate_with(Some(&full), Some(&other), Some(&home)).unwrap(), Source::Flag(full.clone()));
    // A given directory without the data is an error, not a fallback.
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = locate_with(Some(&empty), None, Some(&home)).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { ref dir, .. } if dir == &empty), "{err}");
    let err = locate_with(None, Some(&empty), Some(&home)).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { .. }), "{err}");
}

#[test]
fn named_data_sets_are_found_in_the_data_home_or_named_as_missing() {
    let root = Scratch::new("named");
    let home = root.join("home");
    assert_eq!(locate_named("mnist-sample", None).unwrap(), Source::Sample);
    let err = locate_named("fashion-mnist", Some(&home)).unwrap_err();
    assert!(
        matches!(err, DataError::NotFetched { name: "fashion-mnist", ref dir } if dir == &home.join("fashion-mnist"))
    );
    assert!(err.to_string().contains("latent fetch fashion-mnist"), "{err}");
    assert!(matches!(locate_named("fashion-mnist", None), Err(DataError::NoDataHome { .. })));
    assert!(matches!(locate_named("cifar", Some(&home)), Err(DataError::InvalidParameter { .. })));
    // Present but not the real thing: found, then refused by the catalog's digests.
    let dir = home.join("fashion-mnist");
    fake_dir(&dir, 2, 2, 28, 28);
    let found = locate_named("fashion-mnist", Some(&home)).unwrap();
    assert_eq!(found, Source::Named { dataset: &FASHION_MNIST, path: dir.clone() });
    assert_eq!(found.verification().unwrap(), Verification::Named(&FASHION_MNIST));
    let err = mnist::load_from(found).unwrap_err();
    assert!(matches!(err, DataError::Checksum { .. }), "{err}");
}

#[test]
#[cfg(feature = "embedded-sample")]
fn the_built_in_sample_loads_verified_against_its_manifest() {
    let data = mnist::load_from(Source::Sample).unwrap();
    assert!(data.is_sample());
    assert_eq!((data.train.len(), data.test.len()), (mnist::SAMPLE_TRAIN_ITEMS, mnist::SAMPLE_TEST_ITEMS));
    assert_eq!(data, sample::load().unwrap());
    assert!(matches!(Source::Sample.verification().unwrap(), Verification::Manifest(..)));
    // Batches of the real thing: [B, 784] and [B, 1, 28, 28] on [-1, 1].
    let cfg = latent_data::BatchConfig::new(64).scale(latent_data::Scale::MinusOneOne).seed(5);
    let batch = data.train.batches(&cfg, 0).unwrap().next().unwrap();
    assert_eq!(batch.images.shape(), &[64, 784]);
    assert_eq!(batch.images_nchw().shape(), &[64, 1, 28, 28]);
    assert!(batch.images.iter().all(|v| (-1.0..=1.0).contains(v)));
    assert!(batch.images.iter().any(|&v| v == -1.0) && batch.images.iter().any(|&v| v == 1.0));
}

/// The sample's files as stored in the crate (the source of the built-in copy).
#[cfg(feature = "embedded-sample")]
fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample")
}

#[test]
#[cfg(feature = "embedded-sample")]
fn the_sample_files_on_disk_are_the_built_in_ones_and_a_tampered_copy_is_refused() {
    let from_disk = mnist::load_dir(sample_dir()).unwrap();
    assert_eq!((from_disk.train.clone(), from_disk.test.clone()), {
        let built_in = sample::load().unwrap();
        (built_in.train, built_in.test)
    });
    let copy = Scratch::new("sample-copy");
    for entry in std::fs::read_dir(sample_dir()).unwrap() {
        let entry = entry.unwrap();
        if !entry.file_type().unwrap().is_file() {
            continue; // sample/table/ is the bundled CSV, not part of the MNIST sample
        }
        std::fs::copy(entry.path(), copy.join(&entry.file_name().to_string_lossy())).unwrap();
    }
    mnist::load_dir(copy.path()).unwrap();
    // Valid IDX, same count, different content: the copy's MANIFEST refuses it.
    let mut l = latent_data::read_idx(copy.join("t10k-labels-idx1-ubyte.gz")).unwrap().into_data();
    l.swap(0, 1);
    let tampered = IdxArray::new(vec![l.len()], l).unwrap();
    std::fs::write(copy.join("t10k-labels-idx1-ubyte.gz"), tampered.to_gzip()).unwrap();
    let err = mnist::load_dir(copy.path()).unwrap_err();
    assert!(
        matches!(err, DataError::Checksum { ref path, .. } if path.ends_with("t10k-labels-idx1-ubyte.gz")),
        "{err}"
    );
}

#[test]
fn the_full_directory_is_checked_against_the_canonical_digests() {
    let dir = Scratch::new("fake-full");
    fake_dir(dir.path(), 2, 2, 28, 28);
    let full = Source::Named { dataset: &MNIST, path: dir.path().to_path_buf() };
    assert_eq!(full.verification().unwrap(), Verification::Named(&MNIST));
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
#[cfg(feature = "embedded-sample")]
fn the_real_mnist_loads_and_verifies() {
    let shared = workspace_root().join("../shared/datasets/mnist");
    if !mnist::is_complete(&shared) {
        eprintln!("skipped: no MNIST at {}", shared.display());
        return;
    }
    for (name, _) in CANONICAL_SHA256 {
        mnist::verify_canonical(shared.join(name)).unwrap();
    }
    let data = mnist::load_from(Source::Named { dataset: &MNIST, path: shared }).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (mnist::TRAIN_ITEMS, mnist::TEST_ITEMS));
    // The sample is the head of the real thing.
    let sample = sample::load().unwrap();
    assert_eq!(sample.train, data.train.take(mnist::SAMPLE_TRAIN_ITEMS));
    assert_eq!(sample.test, data.test.take(mnist::SAMPLE_TEST_ITEMS));
}

/// The real Fashion-MNIST, from the offline mirror beside the workspace when the machine has it:
/// the catalog's digests are those of the official files.
#[test]
fn the_real_fashion_mnist_matches_the_catalog() {
    let shared = workspace_root().join("../shared/datasets/fashion-mnist");
    if !mnist::is_complete(&shared) {
        eprintln!("skipped: no Fashion-MNIST at {}", shared.display());
        return;
    }
    let data = mnist::load_from(Source::Named { dataset: &FASHION_MNIST, path: shared }).unwrap();
    assert_eq!((data.train.len(), data.test.len()), FASHION_MNIST.items);
    // The first training items are an ankle boot and a T-shirt; the first test item an ankle boot.
    assert_eq!(&data.train.labels()[..2], &[9, 0]);
    assert_eq!(data.test.labels()[0], 9);
}

/// KMNIST is checked by the digests of its `.gz` files as served: gzip copies that are not the
/// official bytes fail with both digests named, and decompressed copies are refused with a
/// message saying how to load them instead.
#[test]
fn kmnist_is_verified_by_its_served_gz_files() {
    let root = Scratch::new("kmnist");
    let home = root.join("home");
    let dir = home.join("kmnist");
    std::fs::create_dir_all(&dir).unwrap();
    for (split, n) in [("train", 2), ("t10k", 2)] {
        std::fs::write(dir.join(format!("{split}-images-idx3-ubyte.gz")), images(n, 28, 28).to_gzip()).unwrap();
        std::fs::write(dir.join(format!("{split}-labels-idx1-ubyte.gz")), labels(n).to_gzip()).unwrap();
    }
    let found = locate_named("kmnist", Some(&home)).unwrap();
    assert_eq!(found, Source::Named { dataset: &KMNIST, path: dir.clone() });
    let err = mnist::load_from(found.clone()).unwrap_err();
    assert!(matches!(err, DataError::ServedChecksum { .. }), "{err}");
    assert!(err.to_string().contains(KMNIST.files[0].1.hex()), "{err}");

    // The same files decompressed: not verifiable, and the message says what to do.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let raw = latent_data::read_idx(&path).unwrap().to_bytes();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(path.with_extension(""), raw).unwrap();
    }
    let err = mnist::load_from(found).unwrap_err();
    assert!(matches!(err, DataError::NotAsServed { dataset: "kmnist", .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("latent fetch kmnist") && text.contains("--data DIR"), "{text}");
    // The same directory loads unverified as a plain one.
    let data = mnist::load_from(Source::Flag(dir)).unwrap();
    assert_eq!(data.train.len(), 2);
}
