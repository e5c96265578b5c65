//! One module per subcommand, plus what they share: finding the data, opening runs, and
//! writing a batch of images to `.png` or `.npy` as the `--out` extension says.

pub mod classify;
pub mod embed;
pub mod eval;
pub mod fetch;
pub mod info;
pub mod interpolate;
pub mod reconstruct;
pub mod sample;
pub mod train;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use latent_data::mnist::{self, Source};
use latent_data::npy::write_npy;
use latent_data::{Mnist, Scale, catalog};
use latent_models::run_dir::{DataInfo, RunConfig};
use latent_tensor::Tensor;
use latent_viz::ImageGrid;
use ndarray::Array2;

use crate::cli::{Cli, Command, DataArgs};

/// The most threads `--threads` starts: more only adds scheduling overhead on any machine
/// latent targets (a request above it is capped, with a warning).
pub const MAX_THREADS: usize = 256;

/// Run the parsed command line.
///
/// # Errors
/// Whatever the subcommand fails at, with context naming the file or flag.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    let threads = cli.threads.map(|n| {
        if n > MAX_THREADS {
            eprintln!("warning: --threads {n} is more than latent uses; using {MAX_THREADS}");
        }
        n.min(MAX_THREADS)
    });
    // On a worker of a pool of the requested size, parallel kernels start on this thread at once
    // (see `latent_tensor::threads::run_in_pool`).
    latent_tensor::threads::run_in_pool(threads, || dispatch(cli.command)).context("--threads")?
}

/// Run one subcommand (on the current thread).
fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Train(a) => train::run(*a),
        Command::Eval(a) => eval::run(a),
        Command::Sample(a) => sample::run(a),
        Command::Reconstruct(a) => reconstruct::run(a),
        Command::Interpolate(a) => interpolate::run(a),
        Command::Embed(a) => embed::run(a),
        Command::Info(a) => info::run(a),
        Command::Classify(a) => classify::run(a),
        Command::Fetch(a) => fetch::run(a),
    }
}

/// Find and load the data the flags ask for.
///
/// # Errors
/// If the directory is missing or its files are invalid (the message says how to fetch MNIST).
pub fn load_data(args: &DataArgs) -> anyhow::Result<Mnist> {
    let source = match (&args.data_dir, args.dataset) {
        (Some(d), _) => Source::Flag(d.clone()),
        (None, Some(name)) => mnist::locate_named(name.as_str(), mnist::data_home().as_deref())
            .with_context(|| format!("--dataset {}", name.as_str()))?,
        (None, None) => mnist::locate(None)?,
    };
    load_source(source)
}

/// Load a located source, saying in any error what was being loaded.
fn load_source(source: Source) -> anyhow::Result<Mnist> {
    let shown = match source.path() {
        Some(dir) => format!("MNIST-format data from {}", dir.display()),
        None => "the built-in MNIST sample".to_string(),
    };
    mnist::load_from(source).with_context(|| format!("loading {shown}"))
}

/// The data a run was trained on, unless the flags or `LATENT_DATA_DIR` say otherwise: the same named data set (from
/// the directory recorded if it still holds it), the built-in sample, or the directory given.
///
/// # Errors
/// As [`load_data`].
pub fn load_data_for_run(args: &DataArgs, run: &RunConfig) -> anyhow::Result<Mnist> {
    // The flags, then LATENT_DATA_DIR, choose as they do for training; without them, the run's
    // own data.
    if args.data_dir.is_some() || args.dataset.is_some() || std::env::var_os("LATENT_DATA_DIR").is_some() {
        return load_data(args);
    }
    let recorded = PathBuf::from(&run.data.dir);
    let recorded_ok = !run.data.dir.is_empty() && mnist::is_complete(&recorded);
    if run.data.name == latent_data::sample::NAME {
        return load_source(Source::Sample);
    }
    if let Ok(dataset) = catalog::find(&run.data.name) {
        let source = if recorded_ok {
            Source::Named { dataset, path: recorded }
        } else {
            mnist::locate_named(dataset.name, mnist::data_home().as_deref())
                .with_context(|| format!("the run's data, {}", dataset.name))?
        };
        return load_source(source);
    }
    if recorded_ok {
        return mnist::load_dir(&recorded).with_context(|| format!("loading the run's data from {}", run.data.dir));
    }
    load_data(args)
}

/// How a run records its data: the data set's name or the directory given, and the directory
/// read (empty for the built-in sample).
pub fn data_info(data: &Mnist) -> DataInfo {
    let dir = data
        .source
        .path()
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string())
        .unwrap_or_default();
    DataInfo { name: data.source.name(), dir, train_examples: data.train.len(), test_examples: data.test.len() }
}

/// The data named for a message: its name, and the directory read (`mnist
/// (/home/me/.local/share/latent/mnist)`, `/data/digits`, `mnist-sample`).
pub fn data_text(data: &Mnist) -> String {
    let name = data.source.name();
    match data.source.path() {
        Some(dir) if dir.display().to_string() != name => format!("{name} ({})", dir.display()),
        _ => name,
    }
}

/// Refuse data whose `split` (`"test"` or `"training"`) holds no images, for a command that
/// needs some: `purpose` says what for ("to embed").
///
/// # Errors
/// If the split is empty; the message names the data, the split and the files to look at.
pub fn require_images(data: &Mnist, split: Split, purpose: &str) -> anyhow::Result<()> {
    let (set, name, files) = match split {
        Split::Train => (&data.train, "training", "train-images/train-labels"),
        Split::Test => (&data.test, "test", "t10k-images/t10k-labels"),
    };
    if set.is_empty() {
        bail!(
            "the {name} split of {} holds no images (its {files} files are empty): nothing {purpose}",
            data_text(data)
        );
    }
    Ok(())
}

/// The two splits of a data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The training images.
    Train,
    /// The test images.
    Test,
}

/// The first `n` test images, flat, in [0, 1].
pub fn test_images(data: &Mnist, n: usize) -> Array2<f32> {
    data.test.take(n.min(data.test.len())).to_flat(Scale::ZeroOne)
}

/// The output kinds `--out` may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutKind {
    /// A PNG picture.
    Png,
    /// A NumPy array.
    Npy,
}

/// What `--out` asks for, by its extension.
///
/// # Errors
/// If the extension is neither `.png` nor `.npy`.
pub fn out_kind(path: &Path) -> anyhow::Result<OutKind> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("png") => Ok(OutKind::Png),
        Some("npy") => Ok(OutKind::Npy),
        _ => bail!("--out {}: expected a file ending in .png (a picture) or .npy (an array)", path.display()),
    }
}

/// Write `images` (`[N, 784]`, values in [0, 1]) as a grid picture or an array.
///
/// # Errors
/// If the file cannot be written.
pub fn write_images(path: &Path, images: &Array2<f32>, cols: usize) -> anyhow::Result<()> {
    match out_kind(path)? {
        OutKind::Png => ImageGrid::new().cols(cols.max(1)).write_png(path, images)?,
        OutKind::Npy => write_npy(path, images)?,
    }
    Ok(())
}

/// A tensor's value as `[rows, cols]`.
pub fn to_matrix(t: &Tensor) -> Array2<f32> {
    t.to_array().into_dimensionality().expect("a 2-D tensor")
}
