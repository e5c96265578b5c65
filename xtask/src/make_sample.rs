//! `cargo xtask make-sample`: build the MNIST sample built into latent-data
//! (`crates/latent-data/sample/`) from the full MNIST.
//!
//! Reads the four full files (any accepted spelling, compressed or raw) from `mnist/` in the
//! user's data directory (where `latent fetch mnist` puts them) or `--from DIR`, checks them
//! against the canonical digests, takes the first 10,000 training
//! and the first 2,000 test items, and writes them as gzip IDX under the standard four names
//! (best compression, zero timestamp: the same input always gives the same bytes), plus a
//! `MANIFEST` listing each file's item count, the SHA-256 of its decompressed content and of the
//! `.gz`. Every file is written atomically, and the result is loaded back and checked against the
//! manifest before the command reports success.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use latent_data::catalog;
use latent_data::idx::{IdxArray, hex};
use latent_data::manifest::{MANIFEST_FILE, Manifest, ManifestEntry};
use latent_data::mnist::{self, Part, Split, Verification};
use sha2::{Digest, Sha256};

/// Options of `cargo xtask make-sample`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory of the full MNIST files [default: mnist/ in the user's data directory, where
    /// `latent fetch mnist` puts them].
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Output directory [default: crates/latent-data/sample in the workspace].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Training items to keep (the first ones).
    #[arg(long, default_value_t = mnist::SAMPLE_TRAIN_ITEMS)]
    pub train: usize,
    /// Test items to keep (the first ones).
    #[arg(long, default_value_t = mnist::SAMPLE_TEST_ITEMS)]
    pub test: usize,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let from = match args.from {
        Some(dir) => dir,
        None => mnist::data_home()
            .map(|home| mnist::named_dir(&catalog::MNIST, &home))
            .context("no user data directory (no home directory): give --from DIR")?,
    };
    let out = args.out.unwrap_or_else(|| crate::workspace_root().join("crates/latent-data/sample"));
    let manifest = make_sample(&from, &out, args.train, args.test, &Verification::Named(&catalog::MNIST))?;
    for e in &manifest.entries {
        println!("wrote {}/{}  {} items  content sha256 {}", out.display(), e.file, e.items, e.content_sha256);
    }
    println!("wrote {}/{MANIFEST_FILE}; the sample loads and matches it", out.display());
    Ok(ExitCode::SUCCESS)
}

/// Builds the sample of `train` training and `test` test items from `from` into `out`, and
/// returns its manifest. `source_check` is applied to the full files (the command uses the
/// canonical MNIST digests).
pub fn make_sample(
    from: &Path,
    out: &Path,
    train: usize,
    test: usize,
    source_check: &Verification,
) -> anyhow::Result<Manifest> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create the output directory {}", out.display()))?;
    let mut manifest = Manifest {
        comments: vec![
            "MNIST sample for latent, made by `cargo xtask make-sample` from the full MNIST files.".into(),
            format!("The first {train} training and the first {test} test items, in their original order."),
            "MNIST: Y. LeCun, C. Cortes, C. J. C. Burges. Licence: CC BY-SA 3.0.".into(),
        ],
        entries: Vec::new(),
    };
    for (split, keep) in [(Split::Train, train), (Split::Test, test)] {
        let full = mnist::load_split(from, split, source_check)
            .with_context(|| format!("cannot read the full MNIST in {}", from.display()))?;
        if keep > full.len() {
            bail!("{} has only {} {split:?} items; cannot keep {keep}", from.display(), full.len());
        }
        let (rows, cols) = (full.rows(), full.cols());
        let images = IdxArray::new(
            vec![keep, rows, cols],
            full.pixel_bytes().context("MNIST images are pixels")?[..keep * rows * cols].to_vec(),
        )?;
        let labels = IdxArray::new(vec![keep], full.labels()[..keep].to_vec())?;
        for (part, array) in [(Part::Images, images), (Part::Labels, labels)] {
            let name = mnist::file_name(split, part);
            let gz = array.to_gzip();
            latent_fsio::write_bytes(out.join(name), &gz)?;
            manifest.entries.push(ManifestEntry {
                file: name.to_string(),
                items: keep,
                content_sha256: hex(&array.content_sha256()),
                file_sha256: hex(&Sha256::digest(&gz)),
            });
        }
    }
    latent_fsio::write_bytes(out.join(MANIFEST_FILE), manifest.to_text().as_bytes())?;
    // Load it back, checked against the manifest just written.
    let back = mnist::load_dir(out).context("the sample just written does not load")?;
    if back.train.len() != train || back.test.len() != test {
        bail!(
            "the sample just written holds {} + {} items, expected {train} + {test}",
            back.train.len(),
            back.test.len()
        );
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake full data set in `dir`, dotted raw spelling, `n` train and `m` test items.
    fn fake_full(dir: &Path, n: usize, m: usize) {
        for (split, count) in [("train", n), ("t10k", m)] {
            let data = (0..count * 28 * 28).map(|k| (k % 251) as u8).collect();
            let images = IdxArray::new(vec![count, 28, 28], data).unwrap();
            let labels = IdxArray::new(vec![count], (0..count).map(|i| (i % 10) as u8).collect()).unwrap();
            std::fs::write(dir.join(format!("{split}-images.idx3-ubyte")), images.to_bytes()).unwrap();
            std::fs::write(dir.join(format!("{split}-labels.idx1-ubyte")), labels.to_bytes()).unwrap();
        }
    }

    #[test]
    fn makes_a_verified_deterministic_sample() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        fake_full(src.path(), 30, 12);
        // Not MNIST's content: the canonical check refuses it.
        let err = make_sample(src.path(), out.path(), 20, 5, &Verification::Named(&catalog::MNIST)).unwrap_err();
        assert!(format!("{err:#}").contains("checksum mismatch"), "{err:#}");
        let m = make_sample(src.path(), out.path(), 20, 5, &Verification::None).unwrap();
        assert_eq!(m.entries.len(), 4);
        assert_eq!(m.get("train-images-idx3-ubyte.gz").unwrap().items, 20);
        assert_eq!(m.get("t10k-labels-idx1-ubyte.gz").unwrap().items, 5);
        let first = std::fs::read(out.path().join("train-images-idx3-ubyte.gz")).unwrap();
        // Same input, same bytes.
        make_sample(src.path(), out.path(), 20, 5, &Verification::None).unwrap();
        assert_eq!(std::fs::read(out.path().join("train-images-idx3-ubyte.gz")).unwrap(), first);
        let mut names: Vec<String> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                "MANIFEST",
                "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz",
                "train-images-idx3-ubyte.gz",
                "train-labels-idx1-ubyte.gz"
            ]
        );
        let data = latent_data::mnist::load_dir(out.path()).unwrap();
        assert_eq!(data.train.labels()[..12], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
        // Asking for more than there is fails cleanly.
        let err = make_sample(src.path(), out.path(), 31, 5, &Verification::None).unwrap_err();
        assert!(format!("{err:#}").contains("only 30"), "{err:#}");
    }
}
