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
//! A CSV reader or an image loader joins the same way: one `#[test]` calling `check_parser`
//! (or `Campaign::new(..).errors_mention("data.csv").run(..)`) in its crate's
//! `tests/mutation.rs`, and one cargo-fuzz target in `fuzz/fuzz_targets/` calling the same entry
//! function (see `fuzz/README.md`).
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
//! `fuzz/` at the root of the workspace is a cargo-fuzz package (outside the workspace) with one
//! target per parser, calling the same entry functions as the mutation tests:
//!
//! ```text
//! cargo install cargo-fuzz
//! cargo +nightly fuzz list
//! cargo +nightly fuzz run idx -- -max_total_time=60 -rss_limit_mb=1024 -malloc_limit_mb=256
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
