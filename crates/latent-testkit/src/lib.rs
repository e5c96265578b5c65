//! Hostile-input testing for the latent crates: every parser of a file a user can hand to
//! `latent` is run on thousands of mutants of valid files in the normal test suite, and can be
//! fuzzed for longer with cargo-fuzz.
//!
//! - [`mutate`]: the seeded byte [`Mutator`]: bit flips, boundary bytes, truncation and
//!   extension, duplicated and removed chunks, huge binary length fields, huge decimal numbers,
//!   splices and dictionary tokens. A mutant is a function of its seed.
//! - [`alloc`]: [`CapAlloc`], a global allocator for test binaries that refuses (and records,
//!   and reports on stderr naming the mutant) any request over a cap, on the threads that armed
//!   it.
//! - [`harness`]: the [`Campaign`]: each valid input, then each mutant, run under the cap and
//!   `catch_unwind`; any panic, allocation over the cap or error with an empty message fails the
//!   test with a report naming each failing mutant's seed.
//! - [`files`]: several files packed in one input, so a parser of several files (images and
//!   labels, a run directory) is mutated as one.
//! - [`json`]: structure-aware mutation of JSON documents (numbers set to
//!   boundary values, fields removed, renamed or nulled, JSON inside strings mutated too), for
//!   configuration files and metadata.
//! - [`reseal`](mod@reseal): the content checksum of latent's safetensors files
//!   recomputed, so mutants of a checkpoint reach the checks behind its checksum.
//!
//! This crate is not published: the workspace's crates use it as a path dev-dependency without
//! a version, which `cargo package` drops from the published manifest.
//!
//! # Adding a parser to the mutation suite
//! In the test file of the crate that owns the parser (e.g. `crates/latent-data/tests/mutation.rs`,
//! which starts with `latent_testkit::cap_allocations!();`), add one test making one call:
//! [`check_parser`] with a name, a few small valid inputs (a few hundred bytes each: mutants of
//! small files run fast and reach every field), and a closure from bytes to the parser's
//! `Result`. For a parser that reads a path, write the bytes to a temporary file in the
//! closure. Tune with [`Campaign`] (`mutants`, `cap`, `dictionary`, `errors_mention`), and
//! check the [`Summary`] says the mutants got past the first check:
//!
//! ```
//! latent_testkit::cap_allocations!();
//!
//! /// A toy parser: a little-endian u32 count, then that many bytes.
//! fn parse(bytes: &[u8]) -> Result<Vec<u8>, std::io::Error> {
//!     let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
//!     let head: [u8; 4] = bytes.get(..4).ok_or_else(|| bad("short"))?.try_into().unwrap();
//!     let n = u32::from_le_bytes(head) as usize;
//!     // Checked against what is there before allocating: the cap would catch
//!     // `Vec::with_capacity(n)` on a huge count.
//!     let body = bytes.get(4..).filter(|b| b.len() == n).ok_or_else(|| bad("length"))?;
//!     Ok(body.to_vec())
//! }
//!
//! # fn main() {
//! let summary = latent_testkit::check_parser("toy", [b"\x03\x00\x00\x00abc".to_vec()], parse);
//! assert_eq!(summary.mutants, latent_testkit::harness::DEFAULT_MUTANTS);
//! assert!(summary.accepted > 0 && summary.rejected() > 0);
//! # }
//! ```
//!
//! A CSV reader or an image loader joins the same way. For `latent_data::csv::read_csv`, which
//! reads a path: an entry in `crates/latent-data/tests/entries/mod.rs` (shared with the fuzz
//! targets), a valid input or two in its `inputs` module, and one test in `tests/mutation.rs`:
//!
//! ```text
//! // tests/entries/mod.rs
//! pub fn csv(bytes: &[u8], scratch: &Path) -> Result<latent_data::csv::Table, DataError> {
//!     let path = scratch.join("table.csv");
//!     std::fs::write(&path, bytes).expect("writing the scratch file");
//!     let options = CsvOptions { label_column: Some("label".into()), ..CsvOptions::default() };
//!     latent_data::csv::read_csv(&path, &options)
//! }
//!
//! // tests/mutation.rs
//! #[test]
//! fn csv_mutants() {
//!     let dir = latent_testkit::files::scratch_dir();
//!     let s = Campaign::new("csv", [b"x,y,label\n1,2.5,a\n3,-4e2,b\n".to_vec()])
//!         .errors_mention("table.csv")
//!         .run(|b| entries::csv(b, dir.path()));
//!     assert!(s.accepted > 0 && s.refused_with("Table"), "{s}");
//! }
//! ```
//!
//! An image folder is several files: pack them into one input with [`files::pack`], and in the
//! entry [`files::unpack`] them into the scratch directory before loading it. Then add
//! `fuzz/fuzz_targets/<name>.rs` (three lines, like `fuzz_targets/npz.rs`), its `[[bin]]` in
//! `fuzz/Cargo.toml`, and its valid inputs to `fuzz/examples/corpus.rs`.
//!
//! # Replaying a failure
//! A report names each failing mutant by seed. `LATENT_MUTANT_SEED=<seed> cargo test --release
//! -p <crate> --test mutation <test>` runs that mutant alone (with a debugger, or
//! `RUST_BACKTRACE=1`); [`Campaign::mutant`] gives its bytes; `LATENT_MUTANT_DUMP=<dir>` writes
//! every failing mutant to a file, and `LATENT_MUTANTS=<n>` runs more mutants than the test's
//! number. A refused allocation whose caller cannot handle it aborts the process, so its report
//! is the line the allocator writes to stderr just before, which names the seed.
//!
//! # Fuzzing for longer
//! `fuzz/` at the root of the workspace is a cargo-fuzz package (outside the workspace, nightly
//! only) with one target per parser, calling the same entry functions as the mutation tests;
//! `fuzz/README.md` says how to run them:
//!
//! ```text
//! cargo install cargo-fuzz
//! cd fuzz && cargo run --release --example corpus    # seed corpora from the valid inputs
//! cargo +nightly fuzz run npy corpus/npy -- -max_total_time=60 -malloc_limit_mb=256 -timeout=2
//! ```

pub mod alloc;
pub mod files;
pub mod harness;
pub mod json;
pub mod mutate;
pub mod reseal;

pub use alloc::CapAlloc;
pub use harness::{Campaign, Summary, check_parser};
pub use mutate::Mutator;
pub use reseal::reseal;
