//! Image folders on small real files: good folders, both layouts, 16-bit and mixed-colour
//! PNGs, JPEGs, and the malformed cases (corrupt, mis-named, zero-size, mismatched sizes, empty
//! classes, too much data), each an error naming the file.

use std::path::{Path, PathBuf};

use image::{ImageBuffer, Luma, Rgb};
use latent_data::images::{self, ImageOptions, ImageProblem, ImageSize};
use latent_data::source::{self, Format, LoadOptions, Source};
use latent_data::{DataError, SampleShape};

fn rgb_png(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    ImageBuffer::from_fn(w, h, |x, y| Rgb(f(x, y))).save(path).unwrap();
}

fn grey_png(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    ImageBuffer::from_fn(w, h, |x, y| Luma([f(x, y)])).save(path).unwrap();
}

fn read(
    root: &Path,
    options: &ImageOptions,
) -> Result<(latent_data::Dataset, Option<latent_data::Dataset>), DataError> {
    images::read_folder(root, options)
}

/// The problem and path of an image-folder error (panics on any other error).
fn problem(result: Result<impl std::fmt::Debug, DataError>) -> (PathBuf, ImageProblem, String) {
    match result {
        Err(e @ DataError::ImageFolder { .. }) => {
            let message = e.to_string();
            let DataError::ImageFolder { path, problem } = e else { unreachable!() };
            (path, problem, message)
        }
        other => panic!("expected an image-folder error, got {other:?}"),
    }
}

fn size(s: &str) -> Option<ImageSize> {
    Some(s.parse().unwrap())
}

#[test]
fn a_class_folder_reads_in_sorted_order_with_names_and_ignores_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Written out of order: files and classes are sorted on reading.
    grey_png(&root.join("zebra/b.png"), 3, 2, |x, y| (10 * (x + 3 * y)) as u8);
    grey_png(&root.join("zebra/a.PNG"), 3, 2, |_, _| 200);
    grey_png(&root.join("apple/only.png"), 3, 2, |_, _| 7);
    std::fs::write(root.join("zebra/notes.txt"), "not an image").unwrap();
    std::fs::write(root.join("zebra/.DS_Store"), "junk").unwrap();
    std::fs::create_dir_all(root.join(".ipynb_checkpoints/x")).unwrap();
    std::fs::create_dir_all(root.join("zebra/nested")).unwrap();
    grey_png(&root.join("zebra/nested/ignored.png"), 9, 9, |_, _| 1);

    assert!(images::looks_like_image_folder(root));
    assert_eq!(Format::detect(root).unwrap(), Format::Images);
    let (set, test) = read(root, &ImageOptions::default()).unwrap();
    assert!(test.is_none());
    assert_eq!(set.shape(), SampleShape::image(1, 2, 3), "all grey: one channel, the files' size");
    assert_eq!(set.spec().class_names.as_deref().unwrap(), ["apple", "zebra"]);
    assert_eq!(set.labels(), [0, 1, 1]);
    assert_eq!(set.image(0).unwrap(), [7; 6]);
    assert_eq!(set.image(1).unwrap(), [200; 6], "a.PNG before b.png");
    assert_eq!(set.image(2).unwrap(), [0, 10, 20, 30, 40, 50], "row-major within the channel");
}

#[test]
fn colour_is_channel_major_and_channels_convert_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    rgb_png(&root.join("red/r.png"), 2, 1, |x, _| if x == 0 { [255, 0, 0] } else { [0, 0, 255] });
    grey_png(&root.join("grey/g.png"), 2, 1, |x, _| if x == 0 { 100 } else { 50 });

    // A mix defaults to RGB; grey is repeated in the three channels.
    let (rgb, _) = read(root, &ImageOptions::default()).unwrap();
    assert_eq!(rgb.shape(), SampleShape::image(3, 1, 2));
    assert_eq!(rgb.spec().class_names.as_deref().unwrap(), ["grey", "red"]);
    assert_eq!(rgb.image(0).unwrap(), [100, 50, 100, 50, 100, 50]);
    assert_eq!(rgb.image(1).unwrap(), [255, 0, 0, 0, 0, 255], "R plane, G plane, B plane");

    // --channels 1: colour by luma (BT.709: red 0.2126, blue 0.0722).
    let (grey, _) = read(root, &ImageOptions { channels: Some(1), ..ImageOptions::default() }).unwrap();
    assert_eq!(grey.shape(), SampleShape::image(1, 1, 2));
    assert_eq!(grey.image(0).unwrap(), [100, 50]);
    let red = grey.image(1).unwrap();
    assert!((53..=55).contains(&red[0]) && (17..=19).contains(&red[1]), "{red:?}");

    assert!(matches!(
        read(root, &ImageOptions { channels: Some(2), ..ImageOptions::default() }),
        Err(DataError::InvalidParameter { what: "channels", .. })
    ));
}

#[test]
fn sixteen_bit_pngs_and_jpegs_become_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("deep")).unwrap();
    let deep: ImageBuffer<Luma<u16>, Vec<u16>> =
        ImageBuffer::from_fn(3, 1, |x, _| Luma([[0u16, 257 * 100, 65535][x as usize]]));
    deep.save(root.join("deep/d.png")).unwrap();
    // A JPEG named .png: the content decides.
    std::fs::create_dir_all(root.join("photo")).unwrap();
    let flat: ImageBuffer<Luma<u8>, Vec<u8>> = ImageBuffer::from_pixel(3, 1, Luma([128]));
    flat.save_with_format(root.join("photo/p.png"), image::ImageFormat::Jpeg).unwrap();
    flat.save_with_format(root.join("photo/q.jpg"), image::ImageFormat::Jpeg).unwrap();

    let (set, _) = read(root, &ImageOptions::default()).unwrap();
    assert_eq!(set.shape(), SampleShape::image(1, 1, 3));
    assert_eq!(set.image(0).unwrap(), [0, 100, 255], "16 bits scaled to 8");
    for i in 1..3 {
        assert!(set.image(i).unwrap().iter().all(|&v| v.abs_diff(128) <= 2), "{:?}", set.image(i));
    }
}

#[test]
fn mismatched_sizes_are_an_error_naming_both_unless_resized() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    grey_png(&root.join("a/1.png"), 4, 4, |_, _| 0);
    grey_png(&root.join("a/2.png"), 4, 4, |_, _| 0);
    grey_png(&root.join("b/1.png"), 6, 2, |x, _| if x < 3 { 0 } else { 255 });

    let (path, p, message) = problem(read(root, &ImageOptions::default()));
    assert_eq!(path, root.join("b/1.png"));
    assert_eq!(p, ImageProblem::SizeMismatch { expected: (4, 4), found: (2, 6), first: root.join("a/1.png") });
    assert!(message.contains("b/1.png") && message.contains("2×6") && message.contains("4×4"), "{message}");
    assert!(message.contains("--image-size"), "{message}");

    let (set, _) = read(root, &ImageOptions { size: size("2x4"), ..ImageOptions::default() }).unwrap();
    assert_eq!(set.shape(), SampleShape::image(1, 2, 4));
    // The half-black, half-white image shrinks to black on the left, white on the right.
    let b = set.image(2).unwrap();
    assert_eq!((b[0], b[3], b[4], b[7]), (0, 255, 0, 255), "{b:?}");
}

#[test]
fn corrupt_and_misnamed_files_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    grey_png(&root.join("a/good.png"), 8, 8, |x, y| (x * y) as u8);
    let good = std::fs::read(root.join("a/good.png")).unwrap();

    // Cut short after the header: the header reads, the pixels do not.
    std::fs::write(root.join("a/truncated.png"), &good[..good.len() / 2]).unwrap();
    let (path, p, message) = problem(read(root, &ImageOptions::default()));
    assert_eq!(path, root.join("a/truncated.png"));
    assert!(matches!(p, ImageProblem::Corrupt { format: "PNG", .. }), "{p:?}");
    assert!(message.contains("truncated.png") && message.contains("corrupt PNG"), "{message}");
    std::fs::remove_file(root.join("a/truncated.png")).unwrap();

    // Damaged bytes inside the compressed pixels.
    let mut flipped = good.clone();
    let at = flipped.len() - 20;
    flipped[at] ^= 0xff;
    std::fs::write(root.join("a/flipped.png"), &flipped).unwrap();
    let (path, p, _) = problem(read(root, &ImageOptions::default()));
    assert_eq!(path, root.join("a/flipped.png"));
    assert!(matches!(p, ImageProblem::Corrupt { .. }), "{p:?}");
    std::fs::remove_file(root.join("a/flipped.png")).unwrap();

    std::fs::write(root.join("a/text.png"), "hello, not a picture").unwrap();
    let (path, p, message) = problem(read(root, &ImageOptions::default()));
    assert_eq!(path, root.join("a/text.png"));
    assert!(matches!(p, ImageProblem::NotImage { .. }), "{p:?}");
    assert!(message.contains("not a PNG or JPEG"), "{message}");
    std::fs::remove_file(root.join("a/text.png")).unwrap();

    std::fs::write(root.join("a/empty.jpg"), b"").unwrap();
    let (path, _, _) = problem(read(root, &ImageOptions::default()));
    assert_eq!(path, root.join("a/empty.jpg"));
}

/// A PNG of valid chunks (correct CRCs) claiming `width × height` pixels: a header, an empty
/// IDAT chunk and the end.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for chunk in [ihdr, b"IDAT".to_vec(), b"IEND".to_vec()] {
        out.extend_from_slice(&(chunk.len() as u32 - 4).to_be_bytes());
        out.extend_from_slice(&chunk);
        out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    out
}

#[test]
fn zero_size_and_huge_headers_are_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::write(root.join("a/zero.png"), png_header_only(0, 5)).unwrap();
    let (path, p, _) = problem(read(root, &ImageOptions::default()));
    assert_eq!(path, root.join("a/zero.png"));
    assert!(matches!(p, ImageProblem::ZeroSize { .. } | ImageProblem::Corrupt { .. }), "{p:?}");
    std::fs::remove_file(root.join("a/zero.png")).unwrap();

    // 100,000 × 100,000 pixels claimed by a 33-byte file: refused from its header.
    std::fs::write(root.join("a/huge.png"), png_header_only(100_000, 100_000)).unwrap();
    let (path, p, _) = problem(read(root, &ImageOptions::default()));
    assert_eq!(path, root.join("a/huge.png"));
    assert!(matches!(p, ImageProblem::ImageTooLarge { .. } | ImageProblem::Unsupported { .. }), "{p:?}");
}

#[test]
fn the_folder_cap_applies_before_any_pixel_is_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    grey_png(&root.join("a/1.png"), 8, 8, |_, _| 0);
    // A good header over damaged pixels: were it decoded, this would be a corrupt-file error.
    let mut bytes = std::fs::read(root.join("a/1.png")).unwrap();
    let at = bytes.len() - 20;
    bytes[at] ^= 0xff;
    std::fs::write(root.join("a/2.png"), &bytes).unwrap();
    let options = ImageOptions { max_bytes: 100, ..ImageOptions::default() };
    let (path, p, message) = problem(read(root, &options));
    assert_eq!(path, root);
    assert_eq!(p, ImageProblem::TooLarge { images: 2, shape: SampleShape::image(1, 8, 8), bytes: 128, limit: 100 });
    assert!(message.contains("--image-size"), "{message}");
}

#[test]
fn empty_classes_and_empty_folders_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (path, p, _) = problem(read(root, &ImageOptions::default()));
    assert_eq!((path, p), (root.to_path_buf(), ImageProblem::NoImages { loose: 0 }));

    grey_png(&root.join("loose.png"), 2, 2, |_, _| 0);
    assert_eq!(Format::detect(root).unwrap(), Format::Images, "detected, to be told what to do");
    let (_, p, message) = problem(read(root, &ImageOptions::default()));
    assert_eq!(p, ImageProblem::NoImages { loose: 1 });
    assert!(message.contains("subfolder"), "{message}");

    grey_png(&root.join("a/1.png"), 2, 2, |_, _| 0);
    std::fs::create_dir_all(root.join("b")).unwrap();
    std::fs::write(root.join("b/readme.txt"), "no pictures here").unwrap();
    let (path, p, _) = problem(read(root, &ImageOptions::default()));
    assert_eq!((path, p), (root.join("b"), ImageProblem::EmptyClass { ignored: 1 }));
}

#[test]
fn a_train_test_layout_gives_both_splits_with_the_training_classes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for class in ["cat", "dog", "emu"] {
        for i in 0..3 {
            grey_png(&root.join(format!("train/{class}/{i}.png")), 2, 2, |_, _| i as u8);
        }
    }
    grey_png(&root.join("test/dog/x.png"), 2, 2, |_, _| 9);
    grey_png(&root.join("test/cat/y.png"), 2, 2, |_, _| 8);
    assert_eq!(Format::detect(root).unwrap(), Format::Images);

    let options = LoadOptions { image_size: size("4"), ..LoadOptions::default() };
    let source = Source::from_path(root, None).unwrap();
    let data = source::load(source, &options).unwrap().prepare(&options, None).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (9, 2));
    assert_eq!(data.train.shape(), SampleShape::image(1, 4, 4));
    assert_eq!(data.test.labels(), [0, 1], "cat before dog; labels are the training classes'");
    assert_eq!(data.spec().class_names.as_deref().unwrap(), ["cat", "dog", "emu"]);

    // --classes keeps the named ones in both splits.
    let only_dog = LoadOptions { classes: Some(vec!["dog".into()]), ..LoadOptions::default() };
    let dogs =
        source::load(Source::from_path(root, None).unwrap(), &only_dog).unwrap().prepare(&only_dog, None).unwrap();
    assert_eq!((dogs.train.len(), dogs.test.len()), (3, 1));

    grey_png(&root.join("test/fox/z.png"), 2, 2, |_, _| 0);
    let (path, p, _) = problem(read(root, &ImageOptions::default()));
    assert_eq!(path, root.join("test/fox"));
    assert!(matches!(p, ImageProblem::UnknownTestClass { ref class, .. } if class == "fox"), "{p:?}");
}

#[test]
fn a_single_set_is_split_by_the_test_fraction_the_same_way_each_time() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 0..10u8 {
        grey_png(&root.join(format!("{}/{i}.png", if i % 2 == 0 { "even" } else { "odd" })), 2, 2, |_, _| i);
    }
    let options = LoadOptions { test_fraction: 0.3, ..LoadOptions::default() };
    let load = || source::load(Source::Path { path: root.to_path_buf(), format: Format::Images }, &options).unwrap();
    let (a, b) = (load(), load());
    assert_eq!((a.train.len(), a.test.len()), (7, 3));
    assert_eq!(a, b);
}

#[test]
fn the_result_does_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let data = latent_data::source::Data {
        train: latent_data::shapes::generate(60, 3).unwrap(),
        test: latent_data::shapes::generate(12, 4).unwrap(),
        source: Source::Shapes,
        dropped_rows: 0,
    };
    latent_data::shapes::write_folder(&data, dir.path()).unwrap();
    let with = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| read(dir.path(), &ImageOptions { size: size("20x24"), ..ImageOptions::default() }).unwrap())
    };
    let one = with(1);
    assert_eq!(one, with(4));
    assert_eq!(one.0.shape(), SampleShape::image(3, 20, 24));
}

/// A JPEG's bytes with an EXIF block saying "rotate 90° clockwise to view" (orientation 6)
/// inserted after its start marker.
fn with_exif_orientation_6(jpeg: &[u8]) -> Vec<u8> {
    let mut tiff = b"II\x2a\x00\x08\x00\x00\x00".to_vec();
    tiff.extend_from_slice(&[1, 0]); // one entry
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]); // Orientation, SHORT, 1, 6
    tiff.extend_from_slice(&[0, 0, 0, 0]); // no next directory
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let len = u16::try_from(app1.len() + 2).unwrap().to_be_bytes();
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1, len[0], len[1]]);
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn an_exif_orientation_is_applied_so_photos_read_upright() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Stored 32 wide and 16 tall, black on the left, white on the right; tagged to be turned a
    // quarter clockwise, it is 16 wide and 32 tall, black on top.
    let stored: ImageBuffer<Luma<u8>, Vec<u8>> =
        ImageBuffer::from_fn(32, 16, |x, _| Luma([if x < 16 { 0 } else { 255 }]));
    let mut jpeg = Vec::new();
    stored.write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).unwrap();
    std::fs::create_dir_all(root.join("photos")).unwrap();
    std::fs::write(root.join("photos/a-turned.jpg"), with_exif_orientation_6(&jpeg)).unwrap();
    // An upright PNG of the upright size in the same folder: the sizes agree without resizing.
    grey_png(&root.join("photos/b-upright.png"), 16, 32, |_, y| if y < 16 { 0 } else { 255 });

    let (set, _) = read(root, &ImageOptions::default()).unwrap();
    assert_eq!(set.shape(), SampleShape::image(1, 32, 16));
    for i in 0..2 {
        let pixels = set.image(i).unwrap();
        let (top, bottom) = pixels.split_at(16 * 16);
        assert!(top.iter().all(|&v| v < 40) && bottom.iter().all(|&v| v > 215), "image {i}: {pixels:?}");
    }
    // Resizing works on the upright image too.
    let options = ImageOptions { size: size("8x4"), ..ImageOptions::default() };
    let (set, _) = read(root, &options).unwrap();
    assert_eq!(set.shape(), SampleShape::image(1, 8, 4));
    let turned = set.image(0).unwrap();
    assert!(turned[..4].iter().all(|&v| v < 40) && turned[28..].iter().all(|&v| v > 215), "{turned:?}");
}
