//! IDX directories of any rank: `[N, D]` feature rows (`*-images-idx2-ubyte`), `[N, H, W]`
//! images (MNIST's `idx3`) and `[N, C, H, W]` images (`idx4`), the rank following the name.

use std::path::Path;

use latent_data::source::{self, LoadOptions, Source};
use latent_data::{DataError, Format, IdxArray, SampleShape, ValueKind, mnist};

fn write(dir: &Path, name: &str, dims: Vec<usize>) {
    let len: usize = dims.iter().product();
    let data = (0..len).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join(name), IdxArray::new(dims, data).unwrap().to_gzip()).unwrap();
}

fn labels(dir: &Path, name: &str, n: usize) {
    let data = (0..n).map(|i| (i % 3) as u8).collect();
    std::fs::write(dir.join(name), IdxArray::new(vec![n], data).unwrap().to_bytes()).unwrap();
}

fn directory(train: (&str, Vec<usize>), test: (&str, Vec<usize>)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (n, m) = (train.1[0], test.1[0]);
    write(dir.path(), train.0, train.1);
    write(dir.path(), test.0, test.1);
    labels(dir.path(), "train-labels-idx1-ubyte", n);
    labels(dir.path(), "t10k-labels-idx1-ubyte", m);
    dir
}

#[test]
fn rank_two_and_four_files_load_as_features_and_colour_images() {
    let dir =
        directory(("train-images-idx4-ubyte.gz", vec![5, 3, 4, 6]), ("t10k-images.idx4-ubyte.gz", vec![2, 3, 4, 6]));
    let source = Source::from_path(dir.path(), None).unwrap();
    assert_eq!(source.format(), Format::Idx);
    let data = source::load(source, &LoadOptions::default()).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (5, 2));
    assert_eq!((data.spec().shape, data.spec().values), (SampleShape::image(3, 4, 6), ValueKind::Pixels));
    assert_eq!(data.train.image(1).unwrap()[0], 72);

    let dir = directory(("train-images-idx2-ubyte", vec![4, 9]), ("t10k-images-idx2-ubyte", vec![3, 9]));
    let data = mnist::load_dir(dir.path()).unwrap();
    assert_eq!((data.spec().shape, data.spec().values), (SampleShape::Features { features: 9 }, ValueKind::Pixels));
    assert_eq!(data.test.labels(), [0, 1, 2]);
}

#[test]
fn a_rank_that_disagrees_with_the_name_or_the_other_split_is_refused() {
    // A rank-4 array under MNIST's rank-3 name.
    let dir = directory(("train-images-idx3-ubyte", vec![2, 1, 4, 4]), ("t10k-images-idx3-ubyte", vec![2, 4, 4]));
    let e = mnist::load_dir(dir.path()).unwrap_err();
    assert!(matches!(e, DataError::Rank { expected: 3, found: 4, .. }), "{e}");
    assert!(e.to_string().contains("train-images-idx3-ubyte"), "{e}");
    // Training and test examples of different shapes.
    let dir = directory(("train-images-idx4-ubyte", vec![2, 3, 4, 4]), ("t10k-images-idx4-ubyte", vec![2, 1, 4, 4]));
    let e = mnist::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("t10k-images-idx4-ubyte")
            && e.contains("expected test examples like the training ones (3×4×4 images), found 1×4×4 images"),
        "{e}"
    );
    // A zero dimension.
    let dir = directory(("train-images-idx4-ubyte", vec![2, 0, 4, 4]), ("t10k-images-idx4-ubyte", vec![2, 1, 4, 4]));
    let e = mnist::load_dir(dir.path()).unwrap_err();
    assert!(matches!(e, DataError::Dimensions { .. }) && e.to_string().contains("2 x 0 x 4 x 4"), "{e}");
}
