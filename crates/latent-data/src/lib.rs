//! MNIST-format data for latent: reading IDX files, the MNIST data sets and their built-in
//! sample, batching, and the pixel transforms some models need.
//!
//! This crate does not depend on `latent-tensor`: it yields plain [`ndarray`] arrays, `f32`
//! images (`[B, 784]` or `[B, 1, 28, 28]`) and `u8` labels, which models consume.
//!
//! - [`idx`]: the IDX reader, compressed or raw, hardened against bad files.
//! - [`mnist`]: the four-file data sets, where they are found, their digests.
//! - [`catalog`]: the data sets known by name (MNIST, Fashion-MNIST): digests, mirrors, licences.
//! - [`sample`]: the MNIST sample built into the crate (default feature `embedded-sample`).
//! - [`shapes`]: a small colour data set of drawn shapes, generated (`--dataset shapes`).
//! - `download`: fetching named data sets from their mirrors, verified (feature `download`).
//! - [`manifest`]: a data directory's list of files and digests.
//! - [`spec`]: the description of a data set that travels with a run (shape, value kind,
//!   classes, statistics).
//! - [`source`]: where data comes from, and its preparation into training and test splits.
//! - [`dataset`]: examples kept as bytes (pixels) or standardised reals, `f32` batches on demand.
//! - [`batch`]: the seeded, shuffled batch iterator.
//! - [`transform`]: binarisation and the corruptions of denoising autoencoders.
//! - [`toy`]: the one-hot vectors of the 8-3-8 identity network.
//! - [`images`]: image folders (PNG, JPEG), one subfolder per class, hardened like [`idx`].
//! - [`npy`]: NumPy `.npy` files and `.npz` archives, read and written, hardened like [`idx`].
//! - [`csv`]: CSV tables (a header row, numeric features, a label column) as real-valued data.
//! - [`arrays`]: `.npy` / `.npz` arrays of samples and labels (Pythae's and Keras's layouts).
//! - [`error`]: [`DataError`], the one error type.
//!
//! # Examples
//! Batches of an in-memory data set (any `u8` images with labels, as an IDX file holds them),
//! shuffled by seed, with a masking noise for a denoising autoencoder:
//! ```
//! use latent_data::{BatchConfig, Dataset, NoiseSpec};
//!
//! let pixels: Vec<u8> = (0..4 * 9).map(|i| (i * 7) as u8).collect(); // four 3x3 images
//! let data = Dataset::new(pixels, vec![0, 1, 2, 3], 3, 3)?;
//! let cfg = BatchConfig::new(3).seed(7).noise("mask:0.5".parse::<NoiseSpec>()?);
//! let batches: Vec<_> = data.batches(&cfg, 0)?.collect();
//! assert_eq!(batches.iter().map(|b| b.len()).collect::<Vec<_>>(), [3, 1]); // last batch kept
//! let first = &batches[0];
//! assert_eq!(first.images.shape(), [3, 9]); // flat, on [0, 1]
//! assert!(first.images.iter().all(|v| (0.0..=1.0).contains(v)));
//! assert_eq!(first.input().shape(), [3, 9]); // the masked copies, what the model encodes
//! // The same seed and epoch give the same batches.
//! assert_eq!(data.batches(&cfg, 0)?.next().map(|b| b.labels), Some(first.labels.clone()));
//! # Ok::<(), latent_data::DataError>(())
//! ```
//!
//! Training batches of MNIST, wherever it is found:
//! ```no_run
//! use latent_data::{BatchConfig, NoiseSpec, mnist};
//!
//! let data = mnist::load(None)?; // the full MNIST if fetched, else the built-in sample
//! let cfg = BatchConfig::new(128).seed(1).noise("mask:0.25".parse::<NoiseSpec>()?);
//! for epoch in 0..2 {
//!     for batch in data.train.batches(&cfg, epoch)? {
//!         let (input, target) = (batch.input(), &batch.images); // [128, 784] each
//!         # let _ = (input, target);
//!     }
//! }
//! # Ok::<(), latent_data::DataError>(())
//! ```

pub mod arrays;
pub mod batch;
pub mod catalog;
pub mod csv;
pub mod dataset;
#[cfg(feature = "download")]
pub mod download;
pub mod error;
pub mod idx;
pub mod images;
pub mod manifest;
pub mod mnist;
pub mod npy;
pub mod sample;
pub mod shapes;
pub mod source;
pub mod spec;
pub mod toy;
pub mod transform;

pub use batch::{Batch, BatchConfig, Batches};
pub use dataset::{Dataset, Scale};
pub use error::DataError;
pub use idx::{IdxArray, IdxOptions, content_sha256, parse_idx, read_idx};
pub use manifest::{Manifest, ManifestEntry};
pub use mnist::Split;
pub use source::{Data, Format, LoadOptions, Source};
pub use spec::{DataSpec, SampleShape, Standardization, ValueKind};
pub use transform::{Binarize, NoiseSpec};

// The README's example is compiled and run with the doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
