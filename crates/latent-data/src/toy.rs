//! Toy data: the one-hot vectors of the 8-3-8 identity network.
//!
//! The classic encoder problem (Rumelhart, Hinton and Williams, 1986): an 8-3-8 network learns to
//! reproduce each of the eight one-hot vectors of length 8 through a 3-unit bottleneck, which
//! forces a binary-like code.

use ndarray::Array2;

use crate::dataset::Dataset;
use crate::error::DataError;

/// The input width of the identity network.
pub const IDENTITY_SIZE: usize = 8;

/// The `n` one-hot vectors of length `n`, as the rows of an `n x n` identity matrix.
pub fn one_hot(n: usize) -> Array2<f32> {
    Array2::eye(n)
}

/// The eight one-hot vectors of length 8, row `i` hot at column `i`.
pub fn identity_838() -> Array2<f32> {
    one_hot(IDENTITY_SIZE)
}

/// The `n` one-hot vectors as a [`Dataset`] of `1 x n` images, so the batch iterator serves
/// them: pixel 255 where hot (1.0 on [`Scale::ZeroOne`](crate::Scale::ZeroOne)), label `i` for
/// vector `i`.
///
/// # Errors
/// [`DataError::InvalidParameter`] if `n` is 0 or above 256 (labels are bytes).
pub fn one_hot_dataset(n: usize) -> Result<Dataset, DataError> {
    if !(1..=256).contains(&n) {
        return Err(DataError::InvalidParameter {
            what: "one-hot length",
            expected: "1 to 256".into(),
            found: n.to_string(),
        });
    }
    let images = (0..n * n).map(|k| if k / n == k % n { 255 } else { 0 }).collect();
    let labels = (0..n).map(|i| i as u8).collect();
    Dataset::new(images, labels, 1, n)
}

/// The identity network's data set: [`one_hot_dataset`] of length 8.
pub fn identity_dataset() -> Dataset {
    // 8 is within 1..=256.
    one_hot_dataset(IDENTITY_SIZE).expect("8 one-hot vectors are a valid data set")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BatchConfig, Scale};

    #[test]
    fn eight_one_hot_vectors() {
        let x = identity_838();
        assert_eq!(x.shape(), &[8, 8]);
        for (i, row) in x.rows().into_iter().enumerate() {
            assert_eq!(row.sum(), 1.0);
            assert_eq!(row[i], 1.0);
        }
    }

    #[test]
    fn the_dataset_matches_the_matrix_through_the_batch_iterator() {
        let d = identity_dataset();
        assert_eq!((d.len(), d.rows(), d.cols()), (8, 1, 8));
        assert_eq!(d.labels(), &[0, 1, 2, 3, 4, 5, 6, 7]);
        let cfg = BatchConfig::new(8).shuffle(false);
        let b = d.batches(&cfg, 0).unwrap().next().unwrap();
        assert_eq!(b.images, identity_838());
        assert_eq!(d.to_flat(Scale::ZeroOne), identity_838());
        assert!(one_hot_dataset(0).is_err());
        assert!(one_hot_dataset(257).is_err());
        assert_eq!(one_hot_dataset(256).unwrap().len(), 256);
    }
}
