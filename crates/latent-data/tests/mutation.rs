//! Every parser of latent-data on thousands of seeded mutants of valid files: no panic, no
//! allocation over 256 MiB, a typed error naming the file for every refused input (issue 17,
//! "Fuzzing in CI"). The entry points are shared with the cargo-fuzz targets in `fuzz/`.
//!
//! A failure names the mutant's seed: replay it alone with `LATENT_MUTANT_SEED=<seed> cargo
//! test --release -p latent-data --test mutation <test>` (see latent-testkit's docs).

mod entries;

use entries::{CSV_NAME, IDX_NAME, IMAGE_NAME, MANIFEST_NAME, NPY_NAME, NPZ_NAME, inputs};
use latent_data::npy;
use latent_testkit::Campaign;

latent_testkit::cap_allocations!();

#[test]
fn idx_raw_mutants() {
    let s = Campaign::new("idx raw", inputs::idx_raw()).errors_mention(IDX_NAME).run(entries::idx);
    assert!(s.accepted > 0 && s.errors.len() >= 5, "{s}");
}

#[test]
fn idx_gzip_mutants() {
    let s = Campaign::new("idx gzip", inputs::idx_gzip()).errors_mention(IDX_NAME).run(entries::idx);
    assert!(s.errors.contains_key("Gzip") && s.errors.len() >= 2, "{s}");
}

#[test]
fn idx_headers_behind_gzip() {
    let s = Campaign::new("idx behind gzip", inputs::idx_raw()).errors_mention(IDX_NAME).run(entries::idx_gzipped);
    assert!(s.accepted > 0 && s.errors.contains_key("TooLarge") && s.errors.contains_key("Truncated"), "{s}");
}

#[test]
fn mnist_split_mutants() {
    let s = Campaign::new("mnist split", inputs::mnist_split()).errors_mention("-ubyte.gz").run(entries::mnist_split);
    assert!(s.accepted > 0 && s.errors.len() >= 5, "{s}");
}

#[test]
fn npy_mutants() {
    let s = Campaign::new("npy", inputs::npy())
        .dictionary(["'descr'", "'<f4'", "'>f8'", "'|u1'", "'<i8'", "True", "False", "(", ")", ",", "{", "}"])
        .run(entries::npy);
    assert!(s.accepted > 0 && s.errors.contains_key("Header") && s.errors.contains_key("DataLength"), "{s}");
}

#[test]
fn npy_header_mutants() {
    let s = Campaign::new("npy header", inputs::npy_framed())
        .dictionary(["'descr'", "'shape'", "'fortran_order'", "'<f4'", "'|u1'", "True", "(", "[", "{", "}", ",", ":"])
        .run(entries::npy_framed);
    assert!(s.accepted > 0 && s.errors.contains_key("Header") && s.errors.contains_key("DataLength"), "{s}");
}

#[test]
fn npy_file_mutants() {
    let dir = latent_testkit::files::scratch_dir();
    let s = Campaign::new("npy file", inputs::npy()).errors_mention(NPY_NAME).run(|b| entries::npy_file(b, dir.path()));
    assert!(s.accepted > 0 && s.errors.len() >= 2, "{s}");
}

#[test]
fn npz_mutants() {
    let dir = latent_testkit::files::scratch_dir();
    let s = Campaign::new("npz", inputs::npz())
        .dictionary(["PK\x03\x04", "PK\x01\x02", "PK\x05\x06", ".npy"])
        .errors_mention(NPZ_NAME)
        .run(|b| entries::npz(b, dir.path()));
    assert!(s.accepted > 0 && s.errors.len() >= 2, "{s}");
}

#[test]
fn manifest_mutants() {
    let s = Campaign::new("manifest", inputs::manifest()).errors_mention(MANIFEST_NAME).run(entries::manifest);
    assert!(s.accepted > 0 && s.errors.contains_key("Manifest"), "{s}");
}

// The sources added with issue 12: tables, arrays read as data sets, image folders.

#[test]
fn csv_table_mutants() {
    let dir = latent_testkit::files::scratch_dir();
    let s =
        Campaign::new("csv table", inputs::csv()).errors_mention(CSV_NAME).run(|b| entries::csv_file(b, dir.path()));
    assert!(s.accepted > 0 && !s.errors.is_empty(), "{s}");
}

/// A `.npy` read as a data set (shape rules, dtypes, channel order), not only as an array.
#[test]
fn npy_dataset_mutants() {
    let dir = latent_testkit::files::scratch_dir();
    let valid = [
        npy::encode_npy(&ndarray::Array2::<f32>::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as f32 - 2.5)),
        npy::encode_npy(&ndarray::Array3::<u8>::from_shape_fn((2, 3, 3), |(i, j, k)| (i + j * k) as u8)),
        npy::encode_npy(&ndarray::Array4::<u8>::from_shape_fn((2, 2, 2, 3), |(i, j, k, c)| (i + j + k + c) as u8)),
    ]
    .map(|a| a.expect("encoding a small array"));
    let s = Campaign::new("npy data set", valid).errors_mention(NPY_NAME).run(|b| {
        let path = dir.path().join(NPY_NAME);
        std::fs::write(&path, b).expect("writing the scratch file");
        latent_data::arrays::read_npy(&path)
    });
    assert!(s.accepted > 0, "{s}");
}

/// A valid 4×3 PNG (`grey` or RGB), encoded with the `image` crate.
fn png(grey: bool) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    if grey {
        image::GrayImage::from_fn(4, 3, |x, y| image::Luma([(x * 40 + y * 7) as u8]))
            .write_to(&mut out, image::ImageFormat::Png)
    } else {
        image::RgbImage::from_fn(4, 3, |x, y| image::Rgb([(x * 40) as u8, (y * 60) as u8, 9]))
            .write_to(&mut out, image::ImageFormat::Png)
    }
    .expect("encoding a PNG in memory");
    out.into_inner()
}

/// The mutated bytes as one image of class `a` beside a valid image of class `b`, read as a
/// folder: every header is read, sizes compared, then decoded.
#[test]
fn image_folder_mutants() {
    let dir = latent_testkit::files::scratch_dir();
    let root = dir.path().join("folder");
    std::fs::create_dir_all(root.join("b")).expect("making a class folder");
    std::fs::write(root.join("b").join("ok.png"), png(false)).expect("writing the valid image");
    let s = Campaign::new("image folder", [png(false), png(true)])
        .errors_mention(IMAGE_NAME)
        .run(|b| entries::image_folder(b, &root));
    assert!(s.accepted > 0 && s.errors.len() >= 2, "{s}");
}
