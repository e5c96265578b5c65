//! Image folders: PNG and JPEG files sorted into one subfolder per class, read into byte pixels.
//!
//! Two layouts are accepted:
//!
//! ```text
//! ROOT/<class>/*.png|jpg|jpeg                 one set, split by --test-fraction
//! ROOT/train/<class>/…  ROOT/test/<class>/…   a training and a test split of their own
//! ```
//!
//! - **Classes** are the subfolder names, sorted (byte order), at most [`MAX_CLASSES`]; label
//!   `i` is the `i`-th name. In the train/test layout the classes are the training folder's, and
//!   every test class must be one of them. A `ROOT/train/` without `ROOT/test/` is split by
//!   `--test-fraction` like a single set; other entries beside `train/` and `test/` are ignored.
//! - **Files** are taken in sorted order within each class. A file counts as an image by its
//!   extension (`.png`, `.jpg`, `.jpeg`, any case); other files, and names starting with `.`
//!   (`.DS_Store`, `.ipynb_checkpoints/`), are ignored, as are folders inside a class folder.
//!   What a file holds is then told by its content, so a JPEG named `.png` still reads, and a
//!   text file named `.png` is an error naming it.
//! - **Size**: every image is resized to `--image-size H[xW]` when given ([`ImageSize`]), with a
//!   triangle (bilinear) filter whose support widens with the reduction when shrinking, so every
//!   source pixel counts (no aliasing); the aspect ratio is not kept (no cropping). Without it,
//!   the size is the first image's (in sorted order) and every other image must have it: a
//!   mismatch is an error naming the file, its size and the first image's.
//! - **Channels**: `--channels 1` converts colour to grey (luma, ITU-R BT.709 weights),
//!   `--channels 3` repeats a grey image in red, green and blue. Without it, the data is grey (1)
//!   if every image is grey and RGB (3) otherwise. An alpha channel is dropped.
//! - **Bit depth**: 16-bit PNGs are converted to 8 bits (`round(v · 255 / 65535)`), so pixels
//!   are always bytes ([`ValueKind::Pixels`](crate::ValueKind::Pixels)), stored channel-major
//!   (`C × H × W`).
//! - **Orientation**: an EXIF orientation tag (a phone photo stored on its side and tagged
//!   "rotate 90°") is applied before anything else, so the image is read upright and its size is
//!   the upright one; an unreadable EXIF block counts as no tag. Colour profiles are ignored.
//!
//! Memory is bounded before any pixel is decoded: the folder is listed and every file's header
//! read first (dimensions and colour type), then `files × C × H × W` must not exceed
//! [`ImageOptions::max_bytes`] (by default [`DEFAULT_MAX_BYTES`], 2 GiB, as for one IDX file),
//! and no single image may need more than [`MAX_DECODE_BYTES`] to decode. Files are decoded in
//! parallel (rayon) straight into their place in the result, so the result, and which error is
//! reported first, do not depend on the number of threads.
//!
//! ```
//! use latent_data::images::{self, ImageOptions};
//! use latent_data::{Dataset, SampleShape};
//!
//! let dir = tempfile::tempdir().expect("a temporary folder");
//! // Two classes of 4x6 RGB images, written with this module's PNG writer.
//! for (class, value) in [("dark", 20u8), ("light", 230)] {
//!     let one = Dataset::from_pixels(vec![value; 3 * 4 * 6], vec![0], SampleShape::image(3, 4, 6))?;
//!     for i in 0..3 {
//!         images::write_png(&dir.path().join(class).join(format!("{i}.png")), &one, 0)?;
//!     }
//! }
//! let (train, test) = images::read_folder(dir.path(), &ImageOptions::default())?;
//! assert!(test.is_none()); // one set: the caller splits it
//! assert_eq!((train.len(), train.shape()), (6, SampleShape::image(3, 4, 6)));
//! assert_eq!(train.spec().class_names.as_deref(), Some(&["dark".to_string(), "light".to_string()][..]));
//! assert_eq!(train.labels(), [0, 0, 0, 1, 1, 1]);
//!
//! // Grey and resized to 2x3.
//! let options = ImageOptions { size: Some("2x3".parse()?), channels: Some(1), ..ImageOptions::default() };
//! let (grey, _) = images::read_folder(dir.path(), &options)?;
//! assert_eq!(grey.shape(), SampleShape::image(1, 2, 3));
//! # Ok::<(), latent_data::DataError>(())
//! ```

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::DataError;
use crate::source::{Data, LoadOptions, Source};
use crate::spec::{MAX_CLASSES, SampleShape};

/// The extensions of the files read as images (compared without regard to case).
pub const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// The default cap on the pixel bytes of a whole folder (`files × C × H × W`): 2 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;

/// The most bytes decoding one image may allocate (its pixels at their stored depth): 256 MiB,
/// e.g. an 8192 × 8192 RGBA picture.
pub const MAX_DECODE_BYTES: u64 = 256 << 20;

/// The largest `--image-size` side accepted.
pub const MAX_SIDE: usize = 4096;

/// What is wrong with a file or folder of an image folder (the path is the error's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageProblem {
    /// The file's content is not a PNG or JPEG image.
    #[error("not a PNG or JPEG image: expected PNG or JPEG content, found {found}")]
    NotImage {
        /// What the content looks like.
        found: String,
    },
    /// The decoder rejected the file.
    #[error("corrupt {format} file: {detail}")]
    Corrupt {
        /// `PNG` or `JPEG`.
        format: &'static str,
        /// What the decoder reported.
        detail: String,
    },
    /// The file is a kind of PNG or JPEG the decoder does not read.
    #[error("unsupported {format} file: {detail}")]
    Unsupported {
        /// `PNG` or `JPEG`.
        format: &'static str,
        /// What the decoder reported.
        detail: String,
    },
    /// The header gives a width or height of zero.
    #[error("zero-size image: expected at least 1×1 pixels, found {width}×{height} (width×height)")]
    ZeroSize {
        /// Columns.
        width: u32,
        /// Rows.
        height: u32,
    },
    /// Decoding the image would need more memory than one image may take.
    #[error(
        "image too large: {width}×{height} pixels (width×height) of {bytes_per_pixel} bytes need more than the \
         {limit} bytes one image may take"
    )]
    ImageTooLarge {
        /// Columns.
        width: u32,
        /// Rows.
        height: u32,
        /// Bytes per pixel at the stored depth.
        bytes_per_pixel: u64,
        /// [`MAX_DECODE_BYTES`].
        limit: u64,
    },
    /// An image's size differs from the first image's, and no `--image-size` was given.
    #[error(
        "image is {}×{} (height×width) but the first image, {}, is {}×{}: expected every image to have one \
         size; give --image-size H[xW] to resize them all",
        found.0, found.1, first.display(), expected.0, expected.1
    )]
    SizeMismatch {
        /// The first image's (height, width).
        expected: (usize, usize),
        /// This image's (height, width).
        found: (usize, usize),
        /// The first image.
        first: PathBuf,
    },
    /// A class folder holds no image file.
    #[error("empty class folder: expected .png, .jpg or .jpeg files, found none ({ignored} other entries ignored)")]
    EmptyClass {
        /// Entries present but not read (other extensions, hidden, folders).
        ignored: usize,
    },
    /// A folder holds no class subfolder with images.
    #[error(
        "no images: expected class subfolders holding .png, .jpg or .jpeg files (ROOT/<class>/*.png, or \
         ROOT/train/<class>/… and ROOT/test/<class>/…){}",
        if *loose > 0 { format!("; found {loose} images directly in the folder: move them into a subfolder named after their class (one subfolder for unlabelled images)") } else { String::new() }
    )]
    NoImages {
        /// Image files lying directly in the folder rather than in class subfolders.
        loose: usize,
    },
    /// More class folders than labels can number.
    #[error("too many classes: expected at most {MAX_CLASSES} class folders, found {found}")]
    TooManyClasses {
        /// Class folders found.
        found: usize,
    },
    /// A class folder's name is not valid UTF-8, so it cannot name a class.
    #[error("class folder name is not valid UTF-8")]
    ClassName,
    /// A test class folder has no training counterpart.
    #[error("test class '{class}' has no training folder: expected one of {}", train.join(", "))]
    UnknownTestClass {
        /// The test folder's name.
        class: String,
        /// The training classes.
        train: Vec<String>,
    },
    /// The whole folder would decode to more bytes than allowed.
    #[error(
        "too much data: {images} images of {shape} need {bytes} bytes, more than the limit of {limit} bytes; \
         use fewer images or a smaller --image-size"
    )]
    TooLarge {
        /// Image files.
        images: usize,
        /// The shape each is read as.
        shape: SampleShape,
        /// `images × C × H × W`, saturating.
        bytes: u64,
        /// [`ImageOptions::max_bytes`].
        limit: u64,
    },
}

/// The size images are resized to: `H` (square) or `HxW` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSize {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl std::fmt::Display for ImageSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.height, self.width)
    }
}

impl FromStr for ImageSize {
    type Err = DataError;

    /// `32` (32×32) or `32x48` (32 rows, 48 columns), each side in 1..=[`MAX_SIDE`].
    ///
    /// ```
    /// use latent_data::images::ImageSize;
    /// assert_eq!("32".parse::<ImageSize>()?, ImageSize { height: 32, width: 32 });
    /// assert_eq!("24x40".parse::<ImageSize>()?, ImageSize { height: 24, width: 40 });
    /// assert!("0x5".parse::<ImageSize>().is_err() && "big".parse::<ImageSize>().is_err());
    /// # Ok::<(), latent_data::DataError>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DataError::InvalidParameter {
            what: "image size",
            expected: format!("H or HxW, each side between 1 and {MAX_SIDE} (e.g. 32 or 32x48)"),
            found: s.to_string(),
        };
        let side = |t: &str| t.trim().parse::<usize>().ok().filter(|v| (1..=MAX_SIDE).contains(v)).ok_or_else(bad);
        let lower = s.to_ascii_lowercase();
        match lower.split_once(['x', '×']) {
            Some((h, w)) => Ok(ImageSize { height: side(h)?, width: side(w)? }),
            None => {
                let v = side(&lower)?;
                Ok(ImageSize { height: v, width: v })
            }
        }
    }
}

/// How to read an image folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOptions {
    /// Resize every image to this size; `None`: the first image's size, which all must share.
    pub size: Option<ImageSize>,
    /// 1 (grey) or 3 (RGB); `None`: grey if every image is grey, else RGB.
    pub channels: Option<usize>,
    /// The most pixel bytes the whole folder may decode to.
    pub max_bytes: u64,
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions { size: None, channels: None, max_bytes: DEFAULT_MAX_BYTES }
    }
}

impl ImageOptions {
    /// The image options of a source's loading options.
    pub fn from_load(options: &LoadOptions) -> Self {
        ImageOptions { size: options.image_size, channels: options.channels, ..ImageOptions::default() }
    }
}

/// One image file and its label.
#[derive(Debug, Clone)]
struct Entry {
    path: PathBuf,
    label: u8,
}

/// What a header says about a file.
#[derive(Debug, Clone, Copy)]
struct Header {
    height: usize,
    width: usize,
    colour: bool,
}

fn folder_error(path: impl Into<PathBuf>, problem: ImageProblem) -> DataError {
    DataError::ImageFolder { path: path.into(), problem }
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

/// Whether `path` has one of the [`EXTENSIONS`].
pub fn has_image_extension(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// The visible entries of a directory, sorted by name: `(path, is_dir)`.
fn sorted_entries(dir: &Path) -> Result<Vec<(PathBuf, bool)>, DataError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        if is_hidden(&entry.file_name()) {
            continue;
        }
        let path = entry.path();
        // Follow symbolic links: a linked folder or file counts as what it points to.
        let is_dir = std::fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false);
        out.push((path, is_dir));
    }
    out.sort_by(|a, b| a.0.file_name().cmp(&b.0.file_name()));
    Ok(out)
}

/// A split's classes (sorted folder names) and their image files (sorted), without labels.
fn list_classes(dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>, DataError> {
    let entries = sorted_entries(dir)?;
    let loose = entries.iter().filter(|(p, d)| !d && has_image_extension(p)).count();
    let mut classes = Vec::new();
    for (path, _) in entries.iter().filter(|(_, d)| *d) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| folder_error(path, ImageProblem::ClassName))?
            .to_string();
        let inside = sorted_entries(path)?;
        let ignored = inside.iter().filter(|(p, d)| *d || !has_image_extension(p)).count();
        let files: Vec<PathBuf> =
            inside.into_iter().filter(|(p, d)| !d && has_image_extension(p)).map(|e| e.0).collect();
        if files.is_empty() {
            return Err(folder_error(path, ImageProblem::EmptyClass { ignored }));
        }
        classes.push((name, files));
    }
    if classes.is_empty() {
        return Err(folder_error(dir, ImageProblem::NoImages { loose }));
    }
    if classes.len() > MAX_CLASSES {
        return Err(folder_error(dir, ImageProblem::TooManyClasses { found: classes.len() }));
    }
    Ok(classes)
}

/// The training (and test, if the folder has its own) files with their labels, and the class
/// names.
#[allow(clippy::type_complexity)]
fn list(root: &Path) -> Result<(Vec<String>, Vec<Entry>, Option<Vec<Entry>>), DataError> {
    let train_dir = root.join("train");
    let split_layout = train_dir.is_dir() && sorted_entries(&train_dir)?.iter().any(|(_, d)| *d);
    let train_classes = list_classes(if split_layout { &train_dir } else { root })?;
    let names: Vec<String> = train_classes.iter().map(|c| c.0.clone()).collect();
    let label = |files: Vec<PathBuf>, l: usize| files.into_iter().map(move |path| Entry { path, label: l as u8 });
    let train = train_classes.into_iter().enumerate().flat_map(|(l, (_, files))| label(files, l)).collect();
    let test_dir = root.join("test");
    let test = if split_layout && test_dir.is_dir() {
        let mut entries = Vec::new();
        for (class, files) in list_classes(&test_dir)? {
            let l = names.iter().position(|n| *n == class).ok_or_else(|| {
                folder_error(test_dir.join(&class), ImageProblem::UnknownTestClass { class, train: names.clone() })
            })?;
            entries.extend(label(files, l));
        }
        Some(entries)
    } else {
        None
    };
    Ok((names, train, test))
}

fn format_name(format: Option<ImageFormat>) -> &'static str {
    match format {
        Some(ImageFormat::Jpeg) => "JPEG",
        _ => "PNG",
    }
}

/// The problem an [`ImageError`] of reading `path` is, or the I/O error it wraps.
fn image_error(path: &Path, format: Option<ImageFormat>, error: ImageError) -> DataError {
    let format = format_name(format);
    match error {
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => folder_error(
            path,
            ImageProblem::Corrupt { format, detail: "the file ends before its image does (truncated)".into() },
        ),
        ImageError::IoError(e) => DataError::io(path, e),
        ImageError::Unsupported(e) => folder_error(path, ImageProblem::Unsupported { format, detail: e.to_string() }),
        ImageError::Limits(e) => folder_error(
            path,
            ImageProblem::Unsupported { format, detail: format!("beyond the decoder's memory limits: {e}") },
        ),
        other => folder_error(path, ImageProblem::Corrupt { format, detail: other.to_string() }),
    }
}

/// A decoder for `path`, its format told by its content, with the per-image limits.
fn open(path: &Path) -> Result<(impl ImageDecoder + use<>, Option<ImageFormat>), DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let reader = ImageReader::new(BufReader::new(file)).with_guessed_format().map_err(|e| DataError::io(path, e))?;
    let format = reader.format();
    match format {
        Some(ImageFormat::Png | ImageFormat::Jpeg) => {}
        Some(other) => {
            return Err(folder_error(path, ImageProblem::NotImage { found: format!("{other:?} content") }));
        }
        None => {
            return Err(folder_error(
                path,
                ImageProblem::NotImage { found: "content of no known image format".into() },
            ));
        }
    }
    let mut reader = reader;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|e| image_error(path, format, e))?;
    Ok((decoder, format))
}

/// Reads one file's header: its size and whether it has colour.
fn header(path: &Path) -> Result<Header, DataError> {
    let (mut decoder, _) = open(path)?;
    let (stored_width, stored_height) = decoder.dimensions();
    let (width, height) = if swaps_sides(orientation(&mut decoder)) {
        (stored_height, stored_width)
    } else {
        (stored_width, stored_height)
    };
    if width == 0 || height == 0 {
        return Err(folder_error(path, ImageProblem::ZeroSize { width, height }));
    }
    let colour_type = decoder.color_type();
    let bytes_per_pixel = u64::from(colour_type.bytes_per_pixel());
    if u64::from(width) * u64::from(height) * bytes_per_pixel > MAX_DECODE_BYTES {
        return Err(folder_error(
            path,
            ImageProblem::ImageTooLarge { width, height, bytes_per_pixel, limit: MAX_DECODE_BYTES },
        ));
    }
    Ok(Header { height: height as usize, width: width as usize, colour: colour_type.has_color() })
}

/// The EXIF orientation a decoder reports; none when the file has no readable tag.
fn orientation(decoder: &mut impl ImageDecoder) -> Orientation {
    decoder.orientation().unwrap_or(Orientation::NoTransforms)
}

/// Whether an orientation turns the image a quarter (so width and height trade places).
fn swaps_sides(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH
    )
}

/// Decodes `path` into `out` (`channels × height × width` bytes, channel-major), converting and
/// resizing as needed.
fn decode_into(path: &Path, channels: usize, height: usize, width: usize, out: &mut [u8]) -> Result<(), DataError> {
    use image::imageops::{FilterType, resize};
    let (mut decoder, format) = open(path)?;
    let orientation = orientation(&mut decoder);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| image_error(path, format, e))?;
    image.apply_orientation(orientation);
    let same = image.width() as usize == width && image.height() as usize == height;
    let (w, h) = (width as u32, height as u32);
    if channels == 1 {
        let grey = image.to_luma8();
        let grey = if same { grey } else { resize(&grey, w, h, FilterType::Triangle) };
        out.copy_from_slice(grey.as_raw());
    } else {
        let rgb = image.to_rgb8();
        let rgb = if same { rgb } else { resize(&rgb, w, h, FilterType::Triangle) };
        let plane = height * width;
        for (i, px) in rgb.as_raw().chunks_exact(3).enumerate() {
            out[i] = px[0];
            out[plane + i] = px[1];
            out[2 * plane + i] = px[2];
        }
    }
    Ok(())
}

/// The first error of `results`, in order (so the error reported does not depend on which
/// thread finished first).
fn first_error<T>(results: Vec<Result<T, DataError>>) -> Result<Vec<T>, DataError> {
    results.into_iter().collect()
}

/// Reads an image folder: the training set (or the whole set) and the test set if the folder
/// has one, both with the class names. See the [module documentation](self).
///
/// # Errors
/// [`DataError::ImageFolder`] naming the file or folder and the [`ImageProblem`];
/// [`DataError::Io`] if a file cannot be read; [`DataError::InvalidParameter`] for a channel
/// count other than 1 or 3.
pub fn read_folder(root: &Path, options: &ImageOptions) -> Result<(Dataset, Option<Dataset>), DataError> {
    if let Some(c) = options.channels.filter(|c| !matches!(c, 1 | 3)) {
        return Err(DataError::InvalidParameter {
            what: "channels",
            expected: "1 (grey) or 3 (RGB)".into(),
            found: c.to_string(),
        });
    }
    let (names, train, test) = list(root)?;
    let all: Vec<&Entry> = train.iter().chain(test.iter().flatten()).collect();
    let headers = first_error(all.par_iter().map(|e| header(&e.path)).collect())?;
    let first = headers[0];
    let (height, width) = match options.size {
        Some(s) => (s.height, s.width),
        None => {
            if let Some((e, h)) =
                all.iter().zip(&headers).find(|(_, h)| (h.height, h.width) != (first.height, first.width))
            {
                return Err(folder_error(
                    &e.path,
                    ImageProblem::SizeMismatch {
                        expected: (first.height, first.width),
                        found: (h.height, h.width),
                        first: all[0].path.clone(),
                    },
                ));
            }
            (first.height, first.width)
        }
    };
    let channels = options.channels.unwrap_or(if headers.iter().any(|h| h.colour) { 3 } else { 1 });
    let shape = SampleShape::image(channels, height, width);
    let per = shape.len();
    let bytes = (all.len() as u64).saturating_mul(per as u64);
    if bytes > options.max_bytes {
        return Err(folder_error(
            root,
            ImageProblem::TooLarge { images: all.len(), shape, bytes, limit: options.max_bytes },
        ));
    }
    let read = |entries: &[Entry]| -> Result<Dataset, DataError> {
        let mut pixels = vec![0u8; entries.len() * per];
        let results: Vec<Result<(), DataError>> = pixels
            .par_chunks_mut(per)
            .zip(entries.par_iter())
            .map(|(out, e)| decode_into(&e.path, channels, height, width, out))
            .collect();
        first_error(results)?;
        let labels = entries.iter().map(|e| e.label).collect();
        Dataset::from_pixels(pixels, labels, shape)?.with_class_names(names.clone())
    };
    let train_set = read(&train)?;
    let test_set = test.as_deref().map(read).transpose()?;
    Ok((train_set, test_set))
}

/// Reads an image-folder source into both splits: the folder's own test split, or a split by
/// [`LoadOptions::test_fraction`] (see [`Data::from_parts`]).
///
/// # Errors
/// As [`read_folder`] and [`Data::from_parts`].
pub fn load(source: Source, options: &LoadOptions) -> Result<Data, DataError> {
    let root = source.path().map(Path::to_path_buf).unwrap_or_default();
    let (train, test) = read_folder(&root, &ImageOptions::from_load(options))?;
    Data::from_parts(train, test, source, options)
}

/// Whether `dir` looks like an image folder: a visible subfolder (or `train/<class>/`) holding
/// a file with an image extension, or such files directly in it (which [`read_folder`] then
/// refuses, saying to put them in class subfolders). Only directory listings are read.
pub fn looks_like_image_folder(dir: &Path) -> bool {
    let has_images = |d: &Path| {
        std::fs::read_dir(d).is_ok_and(|rd| {
            rd.flatten().any(|e| !is_hidden(&e.file_name()) && has_image_extension(&e.path()) && e.path().is_file())
        })
    };
    let class_dirs = |d: &Path| {
        std::fs::read_dir(d).is_ok_and(|rd| {
            rd.flatten().any(|e| !is_hidden(&e.file_name()) && e.path().is_dir() && has_images(&e.path()))
        })
    };
    class_dirs(dir) || class_dirs(&dir.join("train")) || has_images(dir)
}

/// Writes example `index` of a pixel data set of grey or RGB images as an 8-bit PNG (grey or
/// RGB), atomically, creating the parent folder.
///
/// # Errors
/// [`DataError::InvalidParameter`] if the data is not 1- or 3-channel byte images or `index`
/// is out of range; [`DataError::Io`] or [`DataError::Write`] if the file cannot be written.
pub fn write_png(path: &Path, data: &Dataset, index: usize) -> Result<(), DataError> {
    let [c, h, w] = data.shape().dims();
    let pixels = data.image(index).filter(|_| data.shape().is_image() && matches!(c, 1 | 3)).ok_or_else(|| {
        DataError::InvalidParameter {
            what: "image to write",
            expected: "an example of a data set of grey or RGB byte images".into(),
            found: format!("example {index} of {} {} examples", data.len(), data.shape()),
        }
    })?;
    let plane = h * w;
    let interleaved: Vec<u8> = if c == 1 {
        pixels.to_vec()
    } else {
        (0..plane).flat_map(|i| [pixels[i], pixels[plane + i], pixels[2 * plane + i]]).collect()
    };
    let colour = if c == 1 { image::ExtendedColorType::L8 } else { image::ExtendedColorType::Rgb8 };
    let mut bytes = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut bytes),
        &interleaved,
        w as u32,
        h as u32,
        colour,
    )
    .map_err(|e| DataError::InvalidParameter {
        what: "image to write",
        expected: "an image the PNG encoder takes".into(),
        found: e.to_string(),
    })?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
    }
    latent_fsio::write_bytes(path, &bytes)?;
    Ok(())
}
