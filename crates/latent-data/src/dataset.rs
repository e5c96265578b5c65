//! An in-memory image data set: `u8` pixels and `u8` labels, turned into `f32` on demand.
//!
//! Pixels stay as bytes (the 60,000 MNIST training images are 47 MB, not 188 MB as `f32`);
//! [`Dataset::gather`] and the batch iterator ([`crate::batch`]) produce `f32` arrays, flat
//! `[B, rows * cols]` or `[B, 1, rows, cols]`, scaled to [0, 1] or [-1, 1] ([`Scale`]).

use ndarray::{Array2, Array4, ArrayView3};

use crate::error::DataError;

/// The range `f32` pixels are mapped to: byte 0 to the minimum, byte 255 to the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    /// `v / 255`, in [0, 1].
    #[default]
    ZeroOne,
    /// `2 v / 255 - 1`, in [-1, 1].
    MinusOneOne,
}

impl Scale {
    /// The value of a black (0) pixel.
    pub fn min(self) -> f32 {
        match self {
            Scale::ZeroOne => 0.0,
            Scale::MinusOneOne => -1.0,
        }
    }

    /// The value of a white (255) pixel.
    pub fn max(self) -> f32 {
        1.0
    }

    /// `max - min`: 1 or 2.
    pub fn width(self) -> f32 {
        self.max() - self.min()
    }

    /// The value of a byte pixel on this scale.
    pub fn apply(self, v: u8) -> f32 {
        self.min() + self.width() * (f32::from(v) / 255.0)
    }

    /// The value of each of the 256 byte pixels, for fast conversion.
    pub fn table(self) -> [f32; 256] {
        std::array::from_fn(|v| self.apply(v as u8))
    }
}

/// Images of `rows x cols` bytes with one `u8` label each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    images: Vec<u8>,
    labels: Vec<u8>,
    rows: usize,
    cols: usize,
}

impl Dataset {
    /// Builds a data set from row-major pixels (`labels.len()` images of `rows x cols`) and
    /// labels.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if `rows` or `cols` is zero or the pixel count is not
    /// `labels.len() * rows * cols`.
    pub fn new(images: Vec<u8>, labels: Vec<u8>, rows: usize, cols: usize) -> Result<Self, DataError> {
        if rows == 0 || cols == 0 {
            return Err(DataError::InvalidParameter {
                what: "image size",
                expected: "at least 1 x 1".into(),
                found: format!("{rows} x {cols}"),
            });
        }
        let expected = labels.len().checked_mul(rows).and_then(|n| n.checked_mul(cols));
        if expected != Some(images.len()) {
            return Err(DataError::InvalidParameter {
                what: "pixel count",
                expected: format!("{} labels x {rows} x {cols}", labels.len()),
                found: images.len().to_string(),
            });
        }
        Ok(Dataset { images, labels, rows, cols })
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image height.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Image width.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Pixels per image, `rows * cols` (784 for MNIST).
    pub fn pixels(&self) -> usize {
        self.rows * self.cols
    }

    /// All pixels, image after image, row-major.
    pub fn images_u8(&self) -> &[u8] {
        &self.images
    }

    /// The pixels as an `[N, rows, cols]` view.
    pub fn images_view(&self) -> ArrayView3<'_, u8> {
        // `new` checked images.len() == len * rows * cols.
        ArrayView3::from_shape((self.len(), self.rows, self.cols), &self.images)
            .expect("Dataset::new checked the pixel count")
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The pixels of image `i`, or `None` past the end.
    pub fn image(&self, i: usize) -> Option<&[u8]> {
        let p = self.pixels();
        self.images.get(i.checked_mul(p)?..i.checked_add(1)?.checked_mul(p)?)
    }

    /// The first `n` images (all of them if there are fewer), as a new data set.
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            images: self.images[..n * self.pixels()].to_vec(),
            labels: self.labels[..n].to_vec(),
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// The examples at `indices`, in that order, as a new dataset.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if an index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset, DataError> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(DataError::InvalidParameter {
                what: "example index",
                expected: format!("below {}", self.len()),
                found: bad.to_string(),
            });
        }
        let p = self.pixels();
        let mut images = Vec::with_capacity(indices.len() * p);
        for &i in indices {
            images.extend_from_slice(&self.images[i * p..(i + 1) * p]);
        }
        let labels = indices.iter().map(|&i| self.labels[i]).collect();
        Ok(Dataset { images, labels, rows: self.rows, cols: self.cols })
    }

    /// A seeded split into `(kept, held_out)`: `held_out` has `round(fraction · len)` examples
    /// chosen by a permutation drawn from `seed` (ChaCha8), both parts keep the original order.
    /// The same seed and dataset always give the same split.
    ///
    /// ```
    /// use latent_data::Dataset;
    /// let d = Dataset::new((0..10).collect(), vec![0; 10], 1, 1).unwrap();
    /// let (train, val) = d.split(0.2, 7).unwrap();
    /// assert_eq!((train.len(), val.len()), (8, 2));
    /// ```
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] unless `fraction` is in `[0, 1)` and both parts are
    /// non-empty.
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Dataset, Dataset), DataError> {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        let held = (fraction * self.len() as f64).round() as usize;
        if !(0.0..1.0).contains(&fraction) || held == 0 || held >= self.len() {
            return Err(DataError::InvalidParameter {
                what: "validation fraction",
                expected: format!("a fraction in (0, 1) leaving both parts non-empty (of {} examples)", self.len()),
                found: fraction.to_string(),
            });
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        let mut out: Vec<usize> = order[..held].to_vec();
        let mut kept: Vec<usize> = order[held..].to_vec();
        out.sort_unstable();
        kept.sort_unstable();
        Ok((self.subset(&kept)?, self.subset(&out)?))
    }

    /// The images at `indices`, in that order, as `f32` rows of a `[indices.len(), rows *
    /// cols]` array.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if an index is out of range.
    pub fn gather(&self, indices: &[usize], scale: Scale) -> Result<Array2<f32>, DataError> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(DataError::InvalidParameter {
                what: "image index",
                expected: format!("below {}", self.len()),
                found: bad.to_string(),
            });
        }
        Ok(self.gather_unchecked(indices, scale))
    }

    /// [`gather`](Self::gather) for indices known to be in range.
    pub(crate) fn gather_unchecked(&self, indices: &[usize], scale: Scale) -> Array2<f32> {
        let p = self.pixels();
        let table = scale.table();
        let mut out = Vec::with_capacity(indices.len() * p);
        for &i in indices {
            out.extend(self.images[i * p..(i + 1) * p].iter().map(|&v| table[usize::from(v)]));
        }
        Array2::from_shape_vec((indices.len(), p), out).expect("one row of `p` per index")
    }

    /// Every image as `f32`, flat: `[N, rows * cols]`.
    pub fn to_flat(&self, scale: Scale) -> Array2<f32> {
        let table = scale.table();
        let data: Vec<f32> = self.images.iter().map(|&v| table[usize::from(v)]).collect();
        Array2::from_shape_vec((self.len(), self.pixels()), data).expect("Dataset::new checked the pixel count")
    }

    /// Every image as `f32`, one channel: `[N, 1, rows, cols]`.
    pub fn to_nchw(&self, scale: Scale) -> Array4<f32> {
        let table = scale.table();
        let data: Vec<f32> = self.images.iter().map(|&v| table[usize::from(v)]).collect();
        Array4::from_shape_vec((self.len(), 1, self.rows, self.cols), data)
            .expect("Dataset::new checked the pixel count")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        // Three 1x2 images.
        Dataset::new(vec![0, 255, 51, 102, 204, 153], vec![7, 8, 9], 1, 2).unwrap()
    }

    #[test]
    fn new_rejects_inconsistent_sizes() {
        assert!(matches!(
            Dataset::new(vec![0; 5], vec![0; 3], 1, 2),
            Err(DataError::InvalidParameter { what: "pixel count", .. })
        ));
        assert!(matches!(
            Dataset::new(vec![], vec![], 0, 2),
            Err(DataError::InvalidParameter { what: "image size", .. })
        ));
    }

    #[test]
    fn scales_map_the_byte_range() {
        assert_eq!(Scale::ZeroOne.apply(0), 0.0);
        assert_eq!(Scale::ZeroOne.apply(255), 1.0);
        assert_eq!(Scale::MinusOneOne.apply(0), -1.0);
        assert_eq!(Scale::MinusOneOne.apply(255), 1.0);
        assert!((Scale::ZeroOne.apply(51) - 0.2).abs() < 1e-6);
    }

    #[test]
    fn gather_picks_rows_in_order_and_checks_indices() {
        let d = tiny();
        let g = d.gather(&[2, 0], Scale::ZeroOne).unwrap();
        assert_eq!(g.shape(), &[2, 2]);
        assert!((g[[0, 0]] - 0.8).abs() < 1e-6 && (g[[0, 1]] - 0.6).abs() < 1e-6);
        assert_eq!((g[[1, 0]], g[[1, 1]]), (0.0, 1.0));
        assert!(matches!(d.gather(&[3], Scale::ZeroOne), Err(DataError::InvalidParameter { what: "image index", .. })));
    }

    #[test]
    fn accessors_and_whole_set_conversions_agree() {
        let d = tiny();
        assert_eq!((d.len(), d.rows(), d.cols(), d.pixels()), (3, 1, 2, 2));
        assert_eq!(d.image(1), Some(&[51u8, 102][..]));
        assert_eq!(d.image(3), None);
        assert_eq!(d.images_view()[[2, 0, 1]], 153);
        let flat = d.to_flat(Scale::MinusOneOne);
        let nchw = d.to_nchw(Scale::MinusOneOne);
        assert_eq!(nchw.shape(), &[3, 1, 1, 2]);
        assert_eq!(flat.iter().collect::<Vec<_>>(), nchw.iter().collect::<Vec<_>>());
        let t = d.take(2);
        assert_eq!((t.len(), t.labels()), (2, &[7u8, 8][..]));
        assert_eq!(d.take(10).len(), 3);
    }
}
