//! The batch iterator: seeded shuffling each epoch, a batch size, an optional drop of the last
//! short batch, labels alongside, and the transforms of [`crate::transform`] applied on the way.
//!
//! [`Dataset::batches`] takes a [`BatchConfig`] and an epoch number. The order of an epoch and
//! every random draw of its transforms come from [`ChaCha8Rng`] generators seeded with the
//! configuration's seed, on a stream chosen by the epoch, so the same seed and epoch give the
//! same batches, bit for bit, and each epoch differs from the others.
//!
//! A [`Batch`] holds its examples flat, `[B, C·H·W]` (`[B, D]` for table rows);
//! [`Batch::images_nchw`] views them as `[B, C, H, W]` without copying. Real-valued data is
//! batched as stored (standardised); the pixel scale and binarisation apply to pixels only. When the configuration has a [`NoiseSpec`], the batch
//! also holds the corrupted images, the input of a denoising autoencoder, beside the clean ones,
//! its target.

use ndarray::{Array2, Array4, ArrayView4};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::dataset::{Dataset, Scale};
use crate::error::DataError;
use crate::transform::{Binarize, NoiseSpec};

/// How to cut a data set into batches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchConfig {
    /// Images per batch; at least 1.
    pub batch_size: usize,
    /// Whether each epoch visits the images in a fresh seeded random order (else in order).
    pub shuffle: bool,
    /// Whether to drop the last batch when it is shorter than `batch_size`.
    pub drop_last: bool,
    /// The range of the `f32` pixels.
    pub scale: Scale,
    /// Binarisation, applied after scaling.
    pub binarize: Option<Binarize>,
    /// Corruption for denoising autoencoders, applied after binarisation to a copy
    /// ([`Batch::corrupted`]).
    pub noise: NoiseSpec,
    /// The seed of the shuffling and of the transforms' draws.
    pub seed: u64,
}

impl BatchConfig {
    /// Batches of `batch_size`, shuffled, last batch kept, on [0, 1], no transforms, seed 0.
    pub fn new(batch_size: usize) -> Self {
        BatchConfig {
            batch_size,
            shuffle: true,
            drop_last: false,
            scale: Scale::ZeroOne,
            binarize: None,
            noise: NoiseSpec::None,
            seed: 0,
        }
    }

    /// Sets [`shuffle`](Self::shuffle).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Sets [`drop_last`](Self::drop_last).
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Sets [`scale`](Self::scale).
    pub fn scale(mut self, scale: Scale) -> Self {
        self.scale = scale;
        self
    }

    /// Sets [`binarize`](Self::binarize).
    pub fn binarize(mut self, binarize: Option<Binarize>) -> Self {
        self.binarize = binarize;
        self
    }

    /// Sets [`noise`](Self::noise).
    pub fn noise(mut self, noise: NoiseSpec) -> Self {
        self.noise = noise;
        self
    }

    /// Sets [`seed`](Self::seed).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The number of batches an epoch over `n` images yields.
    pub fn batches_per_epoch(&self, n: usize) -> usize {
        if self.batch_size == 0 {
            0
        } else if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }
}

/// One batch: images, optionally their corrupted copies, labels and the images' indices.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The examples, flat: `[B, C·H·W]`, scaled and binarised as configured.
    pub images: Array2<f32>,
    /// The corrupted images (same shape) when the configuration has a noise, else `None`.
    pub corrupted: Option<Array2<f32>>,
    /// The label of each image.
    pub labels: Vec<u8>,
    /// The index of each image in the data set.
    pub indices: Vec<usize>,
    dims: [usize; 3],
}

impl Batch {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch holds no image (never the case for batches from [`Batches`]).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image channels (1 for table rows).
    pub fn channels(&self) -> usize {
        self.dims[0]
    }

    /// Image height (1 for table rows).
    pub fn rows(&self) -> usize {
        self.dims[1]
    }

    /// Image width (the number of features for table rows).
    pub fn cols(&self) -> usize {
        self.dims[2]
    }

    /// `[channels, height, width]` of one example.
    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    /// What a model should encode: the corrupted images if there are any, else the images.
    pub fn input(&self) -> &Array2<f32> {
        self.corrupted.as_ref().unwrap_or(&self.images)
    }

    /// The images as `[B, C, H, W]`, without copying.
    pub fn images_nchw(&self) -> ArrayView4<'_, f32> {
        nchw_view(&self.images, self.dims)
    }

    /// The corrupted images as `[B, C, H, W]`, without copying.
    pub fn corrupted_nchw(&self) -> Option<ArrayView4<'_, f32>> {
        self.corrupted.as_ref().map(|c| nchw_view(c, self.dims))
    }

    /// [`input`](Self::input) as `[B, C, H, W]`, without copying.
    pub fn input_nchw(&self) -> ArrayView4<'_, f32> {
        nchw_view(self.input(), self.dims)
    }

    /// Gives up the images as an owned `[B, C, H, W]` array, without copying.
    pub fn into_images_nchw(self) -> Array4<f32> {
        let [c, h, w] = self.dims;
        let b = self.len();
        self.images.into_shape_with_order((b, c, h, w)).expect("batch images are contiguous [B, C·H·W]")
    }
}

fn nchw_view(a: &Array2<f32>, [c, h, w]: [usize; 3]) -> ArrayView4<'_, f32> {
    a.view().into_shape_with_order((a.nrows(), c, h, w)).expect("batch images are contiguous [B, C·H·W]")
}

/// The batches of one epoch; see [`Dataset::batches`].
#[derive(Debug)]
pub struct Batches<'a> {
    data: &'a Dataset,
    config: BatchConfig,
    order: Vec<usize>,
    next: usize,
    end: usize,
    rng: ChaCha8Rng,
}

impl Dataset {
    /// The batches of epoch `epoch` under `config`.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if the batch size is zero, a static binarisation
    /// threshold is outside [0, 1], or the data is real-valued and the configuration binarises
    /// it or adds salt-and-pepper noise (which need a pixel range).
    pub fn batches(&self, config: &BatchConfig, epoch: u64) -> Result<Batches<'_>, DataError> {
        if config.batch_size == 0 {
            return Err(DataError::InvalidParameter {
                what: "batch size",
                expected: "at least 1".into(),
                found: "0".into(),
            });
        }
        if let Some(Binarize::Static { threshold }) = config.binarize
            && !(0.0..=1.0).contains(&threshold)
        {
            return Err(DataError::InvalidParameter {
                what: "binarisation threshold",
                expected: "a number in [0, 1]".into(),
                found: threshold.to_string(),
            });
        }
        if self.pixel_bytes().is_none() {
            if let Some(b) = config.binarize {
                return Err(DataError::InvalidParameter {
                    what: "binarisation",
                    expected: "none for real-valued data".into(),
                    found: format!("{b:?}"),
                });
            }
            if matches!(config.noise, NoiseSpec::SaltPepper { .. }) {
                return Err(DataError::InvalidParameter {
                    what: "noise",
                    expected: "`gaussian:STD` or `mask:FRACTION` for real-valued data".into(),
                    found: config.noise.to_string(),
                });
            }
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        let stream = epoch.wrapping_mul(2);
        if config.shuffle {
            let mut shuffler = ChaCha8Rng::seed_from_u64(config.seed);
            shuffler.set_stream(stream);
            order.shuffle(&mut shuffler);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(stream.wrapping_add(1));
        let end = config.batches_per_epoch(self.len()) * config.batch_size;
        Ok(Batches { data: self, config: *config, end: end.min(order.len()), order, next: 0, rng })
    }
}

impl Iterator for Batches<'_> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.next >= self.end {
            return None;
        }
        let stop = (self.next + self.config.batch_size).min(self.end);
        let indices = self.order[self.next..stop].to_vec();
        self.next = stop;
        let scale = self.config.scale;
        let mut images = self.data.gather_unchecked(&indices, scale);
        if let (Some(b), false) = (&self.config.binarize, self.data.pixel_bytes().is_none()) {
            b.apply(&mut images, scale, &mut self.rng);
        }
        let real = self.data.pixel_bytes().is_none();
        let corrupted = match self.config.noise {
            NoiseSpec::None => None,
            noise if real => {
                let mut copy = images.clone();
                let n = copy.nrows();
                let data = copy.as_slice_mut().expect("gathered rows are contiguous");
                // `batches` refused the noises without a meaning for real values.
                noise.corrupt_standardized(data, n, &mut self.rng).ok()?;
                Some(copy)
            }
            noise => Some(noise.corrupt(&images, scale, &mut self.rng)),
        };
        let labels = indices.iter().map(|&i| self.data.labels()[i]).collect();
        Some(Batch { images, corrupted, labels, indices, dims: self.data.shape().dims() })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.end - self.next).div_ceil(self.config.batch_size);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` 2x2 images; image `i` has all pixels `i` and label `i % 10`.
    fn numbered(n: usize) -> Dataset {
        let images = (0..n).flat_map(|i| [i as u8; 4]).collect();
        let labels = (0..n).map(|i| (i % 10) as u8).collect();
        Dataset::new(images, labels, 2, 2).unwrap()
    }

    #[test]
    fn batches_cover_the_set_once_with_labels_alongside() {
        let d = numbered(23);
        let cfg = BatchConfig::new(5).seed(3);
        let batches: Vec<Batch> = d.batches(&cfg, 0).unwrap().collect();
        assert_eq!(batches.len(), 5);
        assert_eq!(batches.iter().map(Batch::len).collect::<Vec<_>>(), [5, 5, 5, 5, 3]);
        let mut seen: Vec<usize> = batches.iter().flat_map(|b| b.indices.clone()).collect();
        assert_ne!(seen, (0..23).collect::<Vec<_>>(), "shuffled");
        seen.sort_unstable();
        assert_eq!(seen, (0..23).collect::<Vec<_>>());
        for b in &batches {
            assert_eq!(b.images.shape(), &[b.len(), 4]);
            for (row, (&i, &label)) in b.images.rows().into_iter().zip(b.indices.iter().zip(&b.labels)) {
                assert_eq!(label, (i % 10) as u8);
                assert!(row.iter().all(|&v| v == Scale::ZeroOne.apply(i as u8)));
            }
        }
    }

    #[test]
    fn drop_last_and_sizes() {
        let d = numbered(23);
        let cfg = BatchConfig::new(5).drop_last(true);
        let it = d.batches(&cfg, 0).unwrap();
        assert_eq!(it.len(), 4);
        assert!(it.map(|b| b.len()).all(|n| n == 5));
        assert_eq!(BatchConfig::new(5).batches_per_epoch(23), 5);
        assert_eq!(BatchConfig::new(50).drop_last(true).batches_per_epoch(23), 0);
        assert_eq!(d.batches(&BatchConfig::new(50).drop_last(true), 0).unwrap().count(), 0);
        let empty = numbered(0);
        assert_eq!(empty.batches(&BatchConfig::new(4), 0).unwrap().count(), 0);
        assert!(matches!(
            d.batches(&BatchConfig::new(0), 0),
            Err(DataError::InvalidParameter { what: "batch size", .. })
        ));
        let bad = BatchConfig::new(1).binarize(Some(Binarize::Static { threshold: 2.0 }));
        assert!(d.batches(&bad, 0).is_err());
    }

    #[test]
    fn same_seed_same_batches_other_epoch_other_order() {
        let d = numbered(100);
        let cfg =
            BatchConfig::new(10).seed(42).binarize(Some(Binarize::Dynamic)).noise(NoiseSpec::Gaussian { std: 0.2 });
        let a: Vec<Batch> = d.batches(&cfg, 1).unwrap().collect();
        let b: Vec<Batch> = d.batches(&cfg, 1).unwrap().collect();
        assert_eq!(a, b);
        let c: Vec<Batch> = d.batches(&cfg, 2).unwrap().collect();
        assert_ne!(a[0].indices, c[0].indices);
        let other_seed: Vec<Batch> = d.batches(&cfg.seed(43), 1).unwrap().collect();
        assert_ne!(a[0].indices, other_seed[0].indices);
    }

    #[test]
    fn unshuffled_batches_are_in_order() {
        let d = numbered(7);
        let cfg = BatchConfig::new(3).shuffle(false);
        let idx: Vec<Vec<usize>> = d.batches(&cfg, 9).unwrap().map(|b| b.indices).collect();
        assert_eq!(idx, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
    }

    #[test]
    fn dynamic_binarisation_draws_afresh_each_epoch() {
        // Every pixel has intensity 128/255: each epoch's draw differs.
        let d = Dataset::new(vec![128; 64 * 4], vec![0; 64], 2, 2).unwrap();
        let cfg = BatchConfig::new(64).shuffle(false).binarize(Some(Binarize::Dynamic)).scale(Scale::MinusOneOne);
        let e0 = d.batches(&cfg, 0).unwrap().next().unwrap();
        let e1 = d.batches(&cfg, 1).unwrap().next().unwrap();
        assert!(e0.images.iter().all(|&v| v == -1.0 || v == 1.0));
        assert_ne!(e0.images, e1.images);
    }

    #[test]
    fn noise_gives_a_corrupted_copy_and_nchw_views() {
        let d = numbered(8);
        let cfg = BatchConfig::new(4).noise(NoiseSpec::Mask { fraction: 0.5 });
        let b = d.batches(&cfg, 0).unwrap().next().unwrap();
        let c = b.corrupted.as_ref().unwrap();
        assert_eq!(c.shape(), b.images.shape());
        assert!(std::ptr::eq(b.input(), c));
        assert_eq!(b.images_nchw().shape(), &[4, 1, 2, 2]);
        assert_eq!(b.corrupted_nchw().unwrap().shape(), &[4, 1, 2, 2]);
        assert_eq!(b.input_nchw(), b.corrupted_nchw().unwrap());
        let flat = b.images.clone();
        let owned = b.into_images_nchw();
        assert_eq!(owned.iter().collect::<Vec<_>>(), flat.iter().collect::<Vec<_>>());
        let plain = d.batches(&BatchConfig::new(4), 0).unwrap().next().unwrap();
        assert!(plain.corrupted.is_none());
        assert!(std::ptr::eq(plain.input(), &plain.images));
    }
}
