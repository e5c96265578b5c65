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
use latent_data::mnist;
use latent_data::npy::write_npy;
use latent_data::{Data, Format, LoadOptions, SampleShape, Scale, Source, catalog};
use latent_models::run_dir::{DataInfo, RunConfig};
use latent_tensor::Tensor;
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

/// Find and load the data the flags ask for, prepared (split, filtered, standardised) with the
/// training split's statistics.
///
/// # Errors
/// If the data is missing or invalid (the message names the file, and says how to fetch MNIST).
pub fn load_data(args: &DataArgs) -> anyhow::Result<Data> {
    let options = args.load_options(LoadOptions::default())?;
    let data = load_source(locate(args, &options)?, &options)?;
    data.prepare(&options, None).context("preparing the data")
}

/// The source the flags name: `--data`, `--data-dir`, `--dataset`, else the default search.
fn locate(args: &DataArgs, options: &LoadOptions) -> anyhow::Result<Source> {
    Ok(match (&args.data, &args.data_dir, args.dataset) {
        (Some(path), _, _) => Source::from_path(path, options.format).context("--data")?,
        (None, Some(d), _) => Source::Flag(d.clone()),
        (None, None, Some(name)) => mnist::locate_named(name.as_str(), mnist::data_home().as_deref())
            .with_context(|| format!("--dataset {}", name.as_str()))?,
        (None, None, None) => mnist::locate(None)?,
    })
}

/// Read a located source, saying in any error what was being loaded.
fn load_source(source: Source, options: &LoadOptions) -> anyhow::Result<Data> {
    let shown = match (source.path(), source.format()) {
        (Some(dir), Format::Idx) => format!("MNIST-format data from {}", dir.display()),
        (Some(path), format) => format!("{format} data from {}", path.display()),
        (None, _) if source == Source::Shapes => "the generated shapes".to_string(),
        (None, _) => "the built-in MNIST sample".to_string(),
    };
    let data = latent_data::source::load(source, options).with_context(|| format!("loading {shown}"))?;
    if data.dropped_rows > 0 {
        eprintln!("{shown}: dropped {} incomplete rows (--drop-incomplete)", data.dropped_rows);
    }
    Ok(data)
}

/// The data a run was trained on, unless the flags or `LATENT_DATA_DIR` say otherwise: the same
/// named data set (from the directory recorded if it still holds it), the built-in sample, or
/// the path given; read the way the run read it and standardised with the run's statistics, and
/// checked to have the shape the run's model takes.
///
/// # Errors
/// As [`load_data`], and if the data's examples differ in shape or kind from the run's.
pub fn load_data_for_run(args: &DataArgs, run: &RunConfig) -> anyhow::Result<Data> {
    let spec = run.data.spec_or_mnist();
    let options = args.load_options(run.data.load.clone())?;
    let data = if args.names_data() || std::env::var_os(mnist::DATA_DIR_ENV).is_some() {
        load_source(locate(args, &options)?, &options)?
    } else {
        load_source(run_source(run)?, &options)?
    };
    let data = data.prepare(&options, spec.standardization.as_ref()).context("preparing the data")?;
    let found = data.spec();
    if found.shape != spec.shape || found.values != spec.values {
        bail!(
            "the data ({}: {} of {} values) does not fit this run, which was trained on {} of {} values",
            data.source.name(),
            found.shape,
            found.values.as_str(),
            spec.shape,
            spec.values.as_str()
        );
    }
    Ok(data)
}

/// Where a run's own data is: its named data set (from the directory recorded if it still holds
/// it), the built-in sample, or the path recorded.
fn run_source(run: &RunConfig) -> anyhow::Result<Source> {
    let recorded = PathBuf::from(&run.data.dir);
    if run.data.name == latent_data::sample::NAME {
        return Ok(Source::Sample);
    }
    if run.data.name == latent_data::shapes::NAME {
        return Ok(Source::Shapes);
    }
    let format = run.data.load.format.unwrap_or(Format::Idx);
    if format != Format::Idx {
        return Ok(Source::Path { path: recorded, format });
    }
    let recorded_ok = !run.data.dir.is_empty() && mnist::is_complete(&recorded);
    if let Ok(dataset) = catalog::find(&run.data.name) {
        return Ok(if recorded_ok {
            Source::Named { dataset, path: recorded }
        } else {
            mnist::locate_named(dataset.name, mnist::data_home().as_deref())
                .with_context(|| format!("the run's data, {}", dataset.name))?
        });
    }
    if recorded_ok {
        return Ok(Source::Flag(recorded));
    }
    Ok(mnist::locate(None)?)
}

/// How a run records its data: the data set's name or the path given, the path read (empty for
/// the built-in sample), how it was read, and its spec.
pub fn data_info(data: &Data, args: &DataArgs) -> anyhow::Result<DataInfo> {
    let dir = data
        .source
        .path()
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string())
        .unwrap_or_default();
    let mut load = args.load_options(LoadOptions::default())?;
    load.format = match data.source.format() {
        Format::Idx => None,
        other => Some(other),
    };
    Ok(DataInfo::new(data, dir, load))
}

/// The first `n` test images, flat, in [0, 1].
pub fn test_images(data: &Data, n: usize) -> Array2<f32> {
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

/// Write `images` (flat rows of examples of `shape`, values in [0, 1]) as a grid picture (grey
/// or RGB) or an array.
///
/// # Errors
/// If the file cannot be written.
pub fn write_images(path: &Path, images: &Array2<f32>, cols: usize, shape: SampleShape) -> anyhow::Result<()> {
    match out_kind(path)? {
        OutKind::Png => crate::pictures::image_grid(shape).cols(cols.max(1)).write_png(path, images)?,
        OutKind::Npy => write_npy(path, images)?,
    }
    Ok(())
}

/// A tensor's value as `[rows, cols]`.
pub fn to_matrix(t: &Tensor) -> Array2<f32> {
    t.to_array().into_dimensionality().expect("a 2-D tensor")
}
