//! One module per subcommand, plus what they share: finding the data, opening runs, and
//! writing a batch of images to `.png` or `.npy` as the `--out` extension says.

pub mod anomaly;
pub mod classify;
pub mod compare_pca;
pub mod decode;
pub mod embed;
pub mod eval;
pub mod export;
pub mod fetch;
pub mod info;
pub mod interpolate;
pub mod manifold;
pub mod pca;
pub mod probe;
pub mod reconstruct;
pub mod sample;
pub mod score;
pub mod serve;
pub mod train;
pub mod traverse;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use latent_data::mnist;
use latent_data::npy::NpyRowWriter;
use latent_data::{Data, DataSpec, Dataset, Format, LoadOptions, SampleShape, Scale, Source, catalog};
use latent_models::memory::Size;
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
    set_memory_limit(cli.max_memory.as_deref())?;
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

/// Set the memory limit of every estimate ([`latent_models::memory`]) from `--max-memory`, else
/// `LATENT_MAX_MEMORY`, else the default.
fn set_memory_limit(flag: Option<&str>) -> anyhow::Result<()> {
    use latent_models::memory;
    let limit = match (flag, std::env::var(memory::LIMIT_ENV)) {
        (Some(text), _) => memory::parse_size(text).context("--max-memory")?,
        (None, Ok(text)) if !text.trim().is_empty() => {
            memory::parse_size(&text).with_context(|| format!("the {} environment variable", memory::LIMIT_ENV))?
        }
        _ => memory::DEFAULT_LIMIT,
    };
    memory::set_limit(limit);
    Ok(())
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
        Command::Decode(a) => decode::run(a),
        Command::Export(a) => export::run(a),
        Command::Info(a) => info::run(a),
        Command::Classify(a) => classify::run(a),
        Command::Score(a) => score::run(a),
        Command::Fetch(a) => fetch::run(a),
        Command::Anomaly(a) => anomaly::run(*a),
        Command::Pca(a) => pca::run(a),
        Command::ComparePca(a) => compare_pca::run(a),
        Command::Probe(a) => probe::run(a),
        Command::Manifold(a) => manifold::run(a),
        Command::Traverse(a) => traverse::run(a),
        Command::Serve(a) => serve::run(a),
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
    load_recorded_data(args, &run.data, run.data.load.clone())
}

/// The data `info` records (a run's, or a PCA fit's), as [`load_data_for_run`] reads it, with
/// `base` as the options the flags apply on top of (the recorded ones, or those with the class
/// filter removed to see every class).
///
/// # Errors
/// As [`load_data_for_run`].
pub fn load_recorded_data(args: &DataArgs, info: &DataInfo, base: LoadOptions) -> anyhow::Result<Data> {
    let spec = info.spec_or_mnist();
    let options = args.load_options(base)?;
    let data = if args.names_data() || std::env::var_os(mnist::DATA_DIR_ENV).is_some() {
        load_source(locate(args, &options)?, &options)?
    } else {
        load_source(run_source(info)?, &options)?
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
fn run_source(info: &DataInfo) -> anyhow::Result<Source> {
    let recorded = PathBuf::from(&info.dir);
    if info.name == latent_data::sample::NAME {
        return Ok(Source::Sample);
    }
    if info.name == latent_data::shapes::NAME {
        return Ok(Source::Shapes);
    }
    let format = info.load.format.unwrap_or(Format::Idx);
    if format != Format::Idx {
        return Ok(Source::Path { path: recorded, format });
    }
    let recorded_ok = !info.dir.is_empty() && mnist::is_complete(&recorded);
    if let Ok(dataset) = catalog::find(&info.name) {
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

/// Every example of the data the flags name (new data to score with a trained model), unsplit
/// and in its own order ([`latent_data::source::load_all`]), prepared as the data `info` records
/// was: real values standardised with its statistics, a table's feature columns chosen by the
/// recorded names (and its label column read only if the file has it), other options of the
/// same kind of file carried over unless the flags say otherwise. Only `--classes` filters.
/// Returns the examples and the data's name.
///
/// # Errors
/// If the data cannot be read, or its examples differ in shape or kind from the recorded data.
pub fn load_new_data(args: &DataArgs, info: &DataInfo) -> anyhow::Result<(Dataset, String)> {
    let spec = info.spec_or_mnist();
    let probe = args.load_options(LoadOptions::default())?;
    let source = locate(args, &probe)?;
    let recorded_format = info.load.format.unwrap_or(Format::Idx);
    let mut options = if source.format() == recorded_format {
        let base = LoadOptions { classes: None, ..info.load.clone() };
        args.load_options(base)?
    } else {
        probe
    };
    if let (Format::Csv, Some(path)) = (source.format(), source.path()) {
        let header = latent_data::csv::read_header(path).context("--data")?;
        if args.label_column.is_none()
            && let Some(label) = &options.label_column
            && !header.contains(label)
        {
            options.label_column = None;
        }
        if options.columns.is_none()
            && let Some(names) = &spec.feature_names
        {
            options.columns = Some(names.clone());
        }
    }
    let shown = match source.path() {
        Some(path) => path.display().to_string(),
        None => source.name(),
    };
    let name = source.name();
    let (mut all, dropped) =
        latent_data::source::load_all(source, &options).with_context(|| format!("loading {shown}"))?;
    if dropped > 0 {
        eprintln!("{shown}: dropped {dropped} incomplete rows (--drop-incomplete)");
    }
    let found = all.spec().clone();
    if found.shape != spec.shape || found.values != spec.values {
        bail!(
            "the data ({shown}: {} of {} values) does not fit this run, which was trained on {} of {} values",
            found.shape,
            found.values.as_str(),
            spec.shape,
            spec.values.as_str()
        );
    }
    if let Some(stats) = &spec.standardization {
        all.standardize(stats).with_context(|| format!("standardising {shown} with the run's statistics"))?;
    }
    if let Some(names) = &options.classes {
        let keep = class_labels(all.spec(), names, "--classes")?;
        all = all.filter_labels(&keep);
        if all.is_empty() {
            bail!("--classes {}: {shown} holds no example of these classes", names.join(","));
        }
    }
    Ok((all, name))
}

/// The labels of the classes named in `names` (class names, or label numbers for data that
/// names no classes), for data described by `spec`; `flag` names the option in errors.
///
/// # Errors
/// If a name is not one of the data's classes.
pub fn class_labels(spec: &DataSpec, names: &[String], flag: &str) -> anyhow::Result<Vec<u8>> {
    names
        .iter()
        .map(|name| {
            let name = name.trim();
            let found = match &spec.class_names {
                Some(classes) => classes.iter().position(|c| c == name).or_else(|| {
                    // Digits are named by their numbers already; a number also names a label.
                    name.parse::<usize>().ok().filter(|&i| i < classes.len())
                }),
                None => name.parse::<u8>().ok().map(usize::from),
            };
            found.and_then(|i| u8::try_from(i).ok()).ok_or_else(|| match &spec.class_names {
                Some(classes) => {
                    anyhow::anyhow!("{flag}: no class '{name}'; the data's classes are {}", classes.join(", "))
                }
                None => anyhow::anyhow!("{flag}: '{name}' is not a label number (the data names no classes)"),
            })
        })
        .collect()
}

/// How the decoder of a run's autoencoder or VAE reads its output (`None` for other models).
pub fn likelihood_of(config: &RunConfig) -> Option<latent_models::Likelihood> {
    use latent_models::{AutoencoderConfig, VaeConfig};
    match config.model.kind() {
        "autoencoder" | "conv_autoencoder" => config.model.typed::<AutoencoderConfig>().ok().map(|c| c.likelihood),
        "vae" | "conv_vae" | "cvae" => config.model.typed::<VaeConfig>().ok().map(|c| c.likelihood),
        _ => None,
    }
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

/// The data named for a message: its name, and the directory read (`mnist
/// (/home/me/.local/share/latent/mnist)`, `/data/digits`, `mnist-sample`).
pub fn data_text(data: &Data) -> String {
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
pub fn require_images(data: &Data, split: Split, purpose: &str) -> anyhow::Result<()> {
    let (set, name, files) = match split {
        Split::Train => (&data.train, "training", "train-images/train-labels"),
        Split::Test => (&data.test, "test", "t10k-images/t10k-labels"),
    };
    if set.is_empty() {
        let why = match data.source.format() {
            Format::Idx => format!(" (its {files} files are empty)"),
            _ => String::new(),
        };
        bail!("the {name} split of {} holds no examples{why}: nothing {purpose}", data_text(data));
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

/// The most images a PNG grid holds: 10,000 (a 100 × 100 grid of 28 × 28 digits is some 3,000
/// pixels a side). Write `.npy` for more.
pub const MAX_GRID_IMAGES: usize = 10_000;

/// Rows generated and written at a time by the commands whose output can be larger than memory
/// (`sample`, `interpolate`).
pub const CHUNK_ROWS: usize = 1024;

/// Refuse a request to the model of `config` that would need more memory than the limit
/// ([`latent_models::memory`]): `rows` examples through the model at once, and `held` values
/// kept besides (the output, a copy of the data). `what` names the flag (`--n 5000`).
///
/// # Errors
/// If the configuration is invalid or the estimate exceeds the limit.
pub fn check_request(
    config: &RunConfig,
    what: impl FnOnce() -> String,
    rows: usize,
    held: usize,
) -> anyhow::Result<()> {
    let footprint = config.model.footprint()?;
    latent_models::memory::check(what, footprint.inference_bytes(rows as u64, held as u64))?;
    Ok(())
}

/// Write `rows` examples of `shape` (values in [0, 1] for pixels) to `path`, made
/// [`CHUNK_ROWS`] at a time by `produce(first_row, count)`: a `.npy` is written as they come
/// (the header first, then each chunk's rows; the file appears, atomically, once complete), so
/// memory stays bounded whatever `rows`; a PNG grid (grey or RGB) of `cols` columns holds at
/// most [`MAX_GRID_IMAGES`], and only images make one. Both are
/// checked before anything is made: the grid's size, and the `.npy`'s against the space left
/// on its file system. `flag` names the count in errors (`--n 5000`).
///
/// # Errors
/// If the output is too large, `produce` fails, or the file cannot be written.
pub fn write_image_rows(
    path: &Path,
    rows: usize,
    shape: SampleShape,
    cols: usize,
    flag: &str,
    mut produce: impl FnMut(usize, usize) -> anyhow::Result<Array2<f32>>,
) -> anyhow::Result<()> {
    let width = shape.len();
    let chunks = (0..rows).step_by(CHUNK_ROWS).map(|start| (start, CHUNK_ROWS.min(rows - start)));
    match out_kind(path)? {
        OutKind::Png if !shape.is_image() => {
            bail!("{}: the data's examples are rows of {width} values, not images: write a .npy file", path.display())
        }
        OutKind::Png => {
            if rows > MAX_GRID_IMAGES {
                bail!(
                    "{flag}: a PNG grid holds at most {MAX_GRID_IMAGES} images; write a .npy file (--out NAME.npy) for more"
                );
            }
            let parts = chunks.map(|(start, count)| produce(start, count)).collect::<anyhow::Result<Vec<_>>>()?;
            crate::pictures::image_grid(shape)
                .cols(cols.max(1))
                .write_png(path, &crate::pictures::stack_rows(&parts))?;
        }
        OutKind::Npy => {
            let bytes = (rows as u64).saturating_mul(width as u64).saturating_mul(4).saturating_add(128);
            if let Some(free) = latent_fsio::available_space(path)
                && bytes > free
            {
                bail!(
                    "{flag}: {} would take {}, more than the {} free on its file system",
                    path.display(),
                    Size(bytes),
                    Size(free)
                );
            }
            let mut out = NpyRowWriter::<f32>::create(path, rows, width)?;
            for (start, count) in chunks {
                out.write_rows(&produce(start, count)?)?;
            }
            out.finish()?;
        }
    }
    Ok(())
}

/// A tensor's value as `[rows, cols]`.
pub fn to_matrix(t: &Tensor) -> Array2<f32> {
    t.to_array().into_dimensionality().expect("a 2-D tensor")
}
