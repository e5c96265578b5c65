//! The two sides of an end-to-end comparison: the models, and how one training run of each is
//! launched and read.
//!
//! A run is a separate process training `EPOCHS` epochs of `--limit-batches N` batches; the
//! figure is the last epoch's training samples/s, so the first epoch (allocations, caches, lazy
//! initialisation, torch's first-call dispatch) is warm-up and never counted. Both sides get the
//! same model, batch size, seed, data directory and thread count:
//! - latent: `latent train MODEL --data-dir DIR --epochs 2 --limit-batches N --threads T
//!   --batch-size B --seed 1 --out TMP --quiet`, read from `TMP/metrics.jsonl`;
//! - PyTorch: `PYTHON SCRIPT --epochs 2 --limit-batches N --threads T --batch-size B --seed 1`
//!   with `--data-dir DIR`, read from its final JSON line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, bail};
use serde::Serialize;

use super::child;
use super::cpus;
use super::parse;

/// Epochs per run: the first is warm-up, the last is measured.
pub const EPOCHS: u64 = 2;

/// Seed of every run (both sides).
pub const SEED: u64 = 1;

/// A model benchmarked end to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// The 784-400-20 VAE of pytorch/examples (`torch_vae.py`).
    Vae,
    /// The 784-512-128-32 MLP autoencoder (`torch_ae.py`).
    Ae,
    /// The MLP GAN (`torch_gan.py`).
    Gan,
    /// The 28×28 DCGAN (`reference/torch_dcgan.py`).
    Dcgan,
    /// The convolutional autoencoder 1-32-64, 4×4 stride 2, with a 32-d code
    /// (`reference/torch_conv_ae.py`).
    ConvAe,
    /// The convolutional VAE of the same encoder with a 20-d latent (`reference/torch_conv_vae.py`).
    ConvVae,
}

impl Model {
    /// The name `latent train` and the scripts use.
    pub fn name(self) -> &'static str {
        match self {
            Model::Vae => "vae",
            Model::Ae => "ae",
            Model::Gan => "gan",
            Model::Dcgan => "dcgan",
            Model::ConvAe => "conv-ae",
            Model::ConvVae => "conv-vae",
        }
    }

    /// The batch size of both the latent preset and the reference script.
    pub fn batch_size(self) -> usize {
        match self {
            Model::Vae | Model::Ae | Model::Dcgan | Model::ConvAe | Model::ConvVae => 128,
            Model::Gan => 64,
        }
    }

    /// Batches per epoch when `--batches` is not given: a measured epoch of a few seconds at one
    /// thread, or a smoke-test sliver with `--quick`.
    pub fn default_batches(self, quick: bool) -> usize {
        match (self, quick) {
            (Model::Dcgan, false) => 15,
            (Model::ConvAe | Model::ConvVae, false) => 40,
            (_, false) => 200,
            (Model::Dcgan | Model::ConvAe | Model::ConvVae, true) => 2,
            (_, true) => 5,
        }
    }

    /// The PyTorch reference script, `torch_NAME.py` in `reference_dir` (the repository's
    /// `reference/` unless `LATENT_REFERENCE_DIR` says otherwise), with the name's dashes as
    /// underscores.
    pub fn torch_script(self, reference_dir: &Path) -> PathBuf {
        reference_dir.join(format!("torch_{}.py", self.name().replace('-', "_")))
    }
}

/// One cell of the end-to-end grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    /// The model.
    pub model: Model,
    /// Threads of both sides.
    pub threads: usize,
    /// Training batches per epoch.
    pub batches: usize,
    /// The CPU both sides' processes are pinned to, if any (the side-by-side measurement).
    pub cpu: Option<usize>,
}

/// One run's figures.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RunFigure {
    /// The measured (last) epoch's training samples per second.
    pub samples_per_s: f64,
    /// The process's peak resident set size in KiB, if known.
    pub max_rss_kib: Option<u64>,
    /// The whole process's wall time in seconds (start-up, both epochs, test passes).
    pub wall_s: f64,
}

/// A program that can train one [`Case`] and report its figures.
pub trait Side {
    /// `latent` or `torch`.
    fn label(&self) -> &'static str;
    /// Runs the case once.
    ///
    /// # Errors
    /// If the process cannot be run, fails, or reports no usable figure.
    fn run(&self, case: &Case) -> anyhow::Result<RunFigure>;
}

/// A directory under the system temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> anyhow::Result<TempDir> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "latent-bench-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The error for a process that ran but failed.
fn failed(what: &str, done: &child::Finished) -> anyhow::Error {
    anyhow::anyhow!("{what} failed ({}); the end of its stderr:\n{}", done.status, done.stderr_tail(12))
}

/// The common flags of both sides.
fn run_flags(case: &Case) -> Vec<String> {
    vec![
        "--epochs".into(),
        EPOCHS.to_string(),
        "--limit-batches".into(),
        case.batches.to_string(),
        "--threads".into(),
        case.threads.to_string(),
        "--batch-size".into(),
        case.model.batch_size().to_string(),
        "--seed".into(),
        SEED.to_string(),
    ]
}

/// latent's side: the release `latent` executable.
pub struct Latent {
    /// The executable.
    pub exe: PathBuf,
    /// The data directory.
    pub data_dir: PathBuf,
}

impl Latent {
    /// Builds the release `latent` binary with cargo (in `root`, honouring `CARGO_TARGET_DIR`)
    /// and returns its path.
    ///
    /// # Errors
    /// If cargo cannot be run or the build fails.
    pub fn build(root: &Path) -> anyhow::Result<PathBuf> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(&cargo)
            .args(["build", "--release", "--package", "latent-ml", "--bin", "latent"])
            .arg("--message-format=json-render-diagnostics")
            .current_dir(root)
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("cannot run {}", Path::new(&cargo).display()))?;
        if !out.status.success() {
            bail!("`cargo build --release --bin latent` failed ({})", out.status);
        }
        parse::cargo_executable(&String::from_utf8_lossy(&out.stdout), "latent")
            .context("cargo built no `latent` executable (no compiler-artifact message names one)")
    }
}

impl Side for Latent {
    fn label(&self) -> &'static str {
        "latent"
    }

    fn run(&self, case: &Case) -> anyhow::Result<RunFigure> {
        let tmp = TempDir::new(case.model.name())?;
        let out = tmp.0.join("run");
        let mut cmd = Command::new(&self.exe);
        cmd.args(["train", case.model.name(), "--quiet", "--data-dir"])
            .arg(&self.data_dir)
            .args(run_flags(case))
            .arg("--out")
            .arg(&out)
            .current_dir(&tmp.0);
        cpus::pin(&mut cmd, case.cpu);
        let what = format!("`latent train {} --threads {}`", case.model.name(), case.threads);
        let done = child::run(&mut cmd).with_context(|| format!("cannot run {}", self.exe.display()))?;
        if !done.status.success() {
            return Err(failed(&what, &done));
        }
        let metrics = out.join("metrics.jsonl");
        let text = std::fs::read_to_string(&metrics).with_context(|| format!("{what}: cannot read metrics.jsonl"))?;
        let fig = parse::latent_metrics(&text, EPOCHS).with_context(|| what.clone())?;
        Ok(RunFigure { samples_per_s: fig.samples_per_s, max_rss_kib: done.max_rss_kib, wall_s: done.wall_s })
    }
}

/// PyTorch's side: a Python with torch and the reference scripts.
pub struct Torch {
    /// The Python interpreter.
    pub python: PathBuf,
    /// The workspace root (the scripts' working directory).
    pub root: PathBuf,
    /// The reference scripts' directory (`reference/`, or `LATENT_REFERENCE_DIR`).
    pub reference_dir: PathBuf,
    /// The data directory (given to the scripts as `--data-dir`).
    pub data_dir: PathBuf,
}

impl Torch {
    /// Checks that `python` runs and imports torch; returns torch's version.
    ///
    /// # Errors
    /// Naming the interpreter, if it cannot be started or cannot import torch.
    pub fn torch_version(python: &Path) -> anyhow::Result<String> {
        let done = child::run(Command::new(python).args(["-c", "import torch; print(torch.__version__)"]))
            .with_context(|| format!("cannot run the Python interpreter {} (--compare)", python.display()))?;
        if !done.status.success() {
            bail!("{} cannot import torch ({}):\n{}", python.display(), done.status, done.stderr_tail(5));
        }
        Ok(done.stdout.trim().to_string())
    }

    /// Checks that the scripts of `models` exist and that the data directory holds the four
    /// files (`mnist.py` reads them as latent does: compressed or raw, either spelling).
    ///
    /// # Errors
    /// Naming the missing script or directory.
    pub fn check(&self, models: &[Model]) -> anyhow::Result<()> {
        for &m in models {
            let script = m.torch_script(&self.reference_dir);
            if !script.is_file() {
                bail!(
                    "the PyTorch reference script {} is missing (the scripts' directory is the repository's \
                     reference/, or LATENT_REFERENCE_DIR)",
                    script.display()
                );
            }
        }
        if !latent_data::mnist::is_complete(&self.data_dir) {
            bail!(
                "the PyTorch scripts read the four MNIST-format files of {}, which lacks some (give --data-dir a \
                 directory that has them)",
                self.data_dir.display()
            );
        }
        Ok(())
    }
}

impl Side for Torch {
    fn label(&self) -> &'static str {
        "torch"
    }

    fn run(&self, case: &Case) -> anyhow::Result<RunFigure> {
        let script = case.model.torch_script(&self.reference_dir);
        let mut cmd = Command::new(&self.python);
        cmd.arg(&script).args(run_flags(case)).arg("--data-dir").arg(&self.data_dir).current_dir(&self.root);
        cpus::pin(&mut cmd, case.cpu);
        let name = script.file_name().map_or_else(|| script.display().to_string(), |n| n.to_string_lossy().into());
        let what = format!("`{name} --threads {}`", case.threads);
        let done = child::run(&mut cmd).with_context(|| format!("cannot run {}", self.python.display()))?;
        if !done.status.success() {
            return Err(failed(&what, &done));
        }
        let (fig, _) = parse::torch_report(&done.stdout, EPOCHS).with_context(|| what.clone())?;
        Ok(RunFigure { samples_per_s: fig.samples_per_s, max_rss_kib: done.max_rss_kib, wall_s: done.wall_s })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_get_the_same_flags() {
        let case = Case { model: Model::Gan, threads: 2, batches: 50, cpu: None };
        assert_eq!(run_flags(&case).join(" "), "--epochs 2 --limit-batches 50 --threads 2 --batch-size 64 --seed 1");
    }

    #[test]
    fn scripts_are_found_where_they_live() {
        let dir = Path::new("/repo/reference");
        assert_eq!(Model::Vae.torch_script(dir), Path::new("/repo/reference/torch_vae.py"));
        assert_eq!(Model::Gan.torch_script(dir), Path::new("/repo/reference/torch_gan.py"));
        assert_eq!(Model::Dcgan.torch_script(dir), Path::new("/repo/reference/torch_dcgan.py"));
        assert_eq!(Model::ConvVae.torch_script(dir), Path::new("/repo/reference/torch_conv_vae.py"));
    }
}
