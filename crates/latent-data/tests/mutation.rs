//! Every parser of latent-data on thousands of seeded mutants of valid files: no panic, no
//! allocation over 256 MiB, a typed error naming the file for every refused input (issue 17,
//! "Fuzzing in CI"). The entry points are shared with the cargo-fuzz targets in `fuzz/`.
//!
//! A failure names the mutant's seed: replay it alone with `LATENT_MUTANT_SEED=<seed> cargo
//! test --release -p latent-data --test mutation <test>` (see latent-testkit's docs).

mod entries;

use entries::{IDX_NAME, MANIFEST_NAME, NPY_NAME, NPZ_NAME, inputs};
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
