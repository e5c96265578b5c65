//! `cargo xtask bench`: the project's speed instrument. End-to-end training throughput of the
//! models against PyTorch's on the same machine, and GFLOP/s of latent's kernels.
//!
//! # What it measures
//! - End to end ([`e2e`], [`sides`]): for each model (`vae`, `ae`, `gan`, `dcgan`, `conv-ae`,
//!   `conv-vae`) and thread count, `--runs` separate training processes of 2 epochs of
//!   `--batches` batches each; the figure is epoch 2's training samples/s (epoch 1 is warm-up),
//!   and each process's peak RSS. With `--compare PYTHON` the matching PyTorch reference script
//!   runs too, alternated with latent's runs, and the table gives latent/torch with the range the
//!   extremes allow ([`stats`]), and the median and range of each round's own ratio.
//! - Side by side ([`side_by_side`], `--side-by-side SECONDS` with `--compare`): the one-thread
//!   cases run latent and PyTorch at the same time, each pinned to a CPU of its own, for two
//!   halves of SECONDS with the CPUs swapped between them ([`cpus`]). On a shared machine whose
//!   speed wanders, both sides then see the same machine; cases of more threads are alternated.
//! - Micro-benchmarks ([`micro`]), in this process: GEMM and the conv layers of the conv
//!   autoencoder and the DCGAN, forward and backward, at each thread count.
//!
//! Both run by default; `--only e2e` or `--only micro` picks one. Results print as tables and go
//! to a JSON file ([`report`]), rewritten after every case. `--quick` is the smoke version
//! (a few batches, one run, short repetitions) for checking that everything runs, not for
//! figures. A failed run is reported and recorded, the rest goes on, and the command then exits
//! non-zero.
//!
//! # Data
//! `--data-dir`, else `LATENT_DATA_DIR`, else `mnist/` in the user's data directory if complete
//! (`latent fetch mnist`), else the sample's files in `crates/latent-data/sample` with a warning
//! (its 10,000 training images cap an epoch at 79 batches of 128; both sides cap alike). The
//! PyTorch scripts read only the gzip files under their standard names, which `latent fetch` and
//! the sample both use.

mod child;
mod cpus;
mod e2e;
mod micro;
mod parse;
mod report;
mod side_by_side;
mod sides;
mod stats;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use latent_data::Source;
use latent_data::mnist::{self, Part, Split};
use serde::Serialize;

use report::{Document, Git, Machine};
use sides::{Case, Latent, Model, Side, Torch};

/// Which part of the benchmark to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    /// The end-to-end training runs.
    E2e,
    /// The kernel micro-benchmarks.
    Micro,
}

/// Options of `cargo xtask bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Models to train end to end, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "vae,ae,gan,dcgan,conv-ae,conv-vae")]
    models: Vec<Model>,
    /// Thread counts, comma-separated (both sides, and the micro-benchmarks' pools).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,
    /// Runs of each side per (model, threads) [default: 3; 1 with --quick].
    #[arg(long)]
    runs: Option<usize>,
    /// Training batches per epoch, for every model [default: vae, ae, gan 200; dcgan 15;
    /// conv-ae, conv-vae 40; with --quick 5, and 2 for the conv models].
    #[arg(long)]
    batches: Option<usize>,
    /// Also run the PyTorch reference scripts with this Python (which must have torch).
    #[arg(long, value_name = "PYTHON")]
    compare: Option<PathBuf>,
    /// With --compare: run each one-thread case with latent and PyTorch training at the same
    /// time, each pinned to its own CPU, for SECONDS, then SECONDS more with the CPUs swapped
    /// (instead of --runs alternated runs). Needs two CPUs; cases of more threads alternate.
    #[arg(long, value_name = "SECONDS")]
    side_by_side: Option<u64>,
    /// The MNIST directory [default: LATENT_DATA_DIR, else mnist/ in the user's data directory,
    /// else the sample].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Where to write the JSON record [default: TARGET/bench/bench-UNIXTIME.json, TARGET being
    /// CARGO_TARGET_DIR or the workspace's target/].
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Smoke test: few batches, one run, short micro-benchmark repetitions.
    #[arg(long)]
    quick: bool,
    /// Run only this section.
    #[arg(long, value_enum)]
    only: Option<Section>,
    /// Timed repetitions per micro-benchmark [default: 7; 3 with --quick].
    #[arg(long)]
    reps: Option<usize>,
    /// Time this `latent` executable instead of building one (`cargo build --release`). CI
    /// passes the one `cargo test --release` built, whose dependencies' features differ.
    #[arg(long, value_name = "PATH")]
    latent: Option<PathBuf>,
}

/// The settings as run, recorded in the JSON.
#[derive(Debug, Serialize)]
struct Settings {
    sections: Vec<Section>,
    quick: bool,
    models: Vec<Model>,
    threads: Vec<usize>,
    runs: usize,
    side_by_side_s: Option<u64>,
    epochs: u64,
    warmup_epochs: u64,
    seed: u64,
    batches_requested: Option<usize>,
    data_dir: Option<PathBuf>,
    data_origin: Option<String>,
    train_items: Option<usize>,
    latent_exe: Option<PathBuf>,
    python: Option<PathBuf>,
    torch_version: Option<String>,
    reference_dir: Option<PathBuf>,
    micro_timing: micro::Timing,
    optimised_build: bool,
}

/// The data directory for the end-to-end runs, found as the CLI finds it (except that the sample
/// is read from its files in the workspace, since the PyTorch scripts read files), how it was
/// found (`flag`, `env`, `full` or `sample`), and its training item count.
fn locate_data(flag: Option<&Path>, root: &Path) -> anyhow::Result<(PathBuf, &'static str, usize)> {
    let env = std::env::var_os(mnist::DATA_DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
    let source = mnist::locate_with(flag, env.as_deref(), mnist::data_home().as_deref())
        .context("no MNIST data for the end-to-end runs (run `latent fetch mnist`, or give --data-dir)")?;
    let (dir, origin) = match source {
        Source::Flag(p) | Source::Path { path: p, .. } => (p, "flag"),
        Source::Env(p) => (p, "env"),
        Source::Named { path, .. } => (path, "full"),
        Source::Sample => (root.join("crates/latent-data/sample"), "sample"),
        Source::Shapes => bail!("the end-to-end runs need MNIST-format data, not the generated shapes"),
    };
    let path = dir.canonicalize().with_context(|| format!("cannot resolve {}", dir.display()))?;
    let labels = mnist::find_file(&path, Split::Train, Part::Labels)?;
    let items = latent_data::idx::read_idx(&labels)
        .with_context(|| format!("cannot read {}", labels.display()))?
        .dims()
        .first()
        .copied()
        .unwrap_or(0);
    Ok((path, origin, items))
}

/// `items` without repeats, in first-seen order.
fn unique<T: PartialEq + Copy>(items: &[T]) -> Vec<T> {
    let mut out = Vec::new();
    for &item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// The default JSON path: `bench/bench-UNIXTIME.json` in the cargo target directory.
fn default_json(root: &Path, unix: u64) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| root.join("target"), |t| root.join(t));
    target.join("bench").join(format!("bench-{unix}.json"))
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = crate::workspace_root();
    let models = unique(&args.models);
    let threads = unique(&args.threads);
    if threads.contains(&0) || threads.is_empty() {
        bail!("--threads takes thread counts of at least 1");
    }
    let runs = args.runs.unwrap_or(if args.quick { 1 } else { 3 });
    let reps = args.reps.unwrap_or(if args.quick { 3 } else { 7 });
    if runs == 0 || reps == 0 || args.batches == Some(0) {
        bail!("--runs, --reps and --batches take counts of at least 1");
    }
    let sections: Vec<Section> = match args.only {
        Some(s) => vec![s],
        None => vec![Section::E2e, Section::Micro],
    };
    let e2e_on = sections.contains(&Section::E2e) && !models.is_empty();
    let side_by_side = match args.side_by_side {
        None => None,
        Some(_) if !e2e_on || args.compare.is_none() => {
            bail!(
                "--side-by-side compares latent with PyTorch end to end: it needs --compare PYTHON and the e2e section"
            )
        }
        Some(0) => bail!("--side-by-side takes a number of seconds of at least 1"),
        Some(secs) => match cpus::allowed()[..] {
            [a, b, ..] => Some(([a, b], Duration::from_secs(secs))),
            _ => bail!("--side-by-side pins each side to a CPU of its own: this process may use fewer than two CPUs"),
        },
    };
    let timing = micro::Timing { reps, rep_ms: if args.quick { 10 } else { 50 } };

    let created = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let json_path = args.json.clone().unwrap_or_else(|| default_json(&root, created));
    let mut settings = Settings {
        sections: sections.clone(),
        quick: args.quick,
        models: models.clone(),
        threads: threads.clone(),
        runs,
        side_by_side_s: args.side_by_side,
        epochs: sides::EPOCHS,
        warmup_epochs: sides::EPOCHS - 1,
        seed: sides::SEED,
        batches_requested: args.batches,
        data_dir: None,
        data_origin: None,
        train_items: None,
        latent_exe: None,
        python: None,
        torch_version: None,
        reference_dir: None,
        micro_timing: timing,
        optimised_build: !cfg!(debug_assertions),
    };
    let machine = Machine::detect();
    let git = Git::detect(&root);
    println!(
        "cargo xtask bench: commit {}{}, {} ({} logical CPUs), load average {}",
        &git.commit[..git.commit.len().min(12)],
        if git.dirty == Some(true) { " + uncommitted changes" } else { "" },
        machine.cpu,
        machine.logical_cpus,
        report::load_average().map_or_else(|| "unknown".into(), |l| format!("{l:.2}"))
    );
    if !e2e_on && args.compare.is_some() {
        eprintln!("note: --compare applies to the end-to-end runs only; the micro-benchmarks are latent's alone");
    }
    if cfg!(debug_assertions) && sections.contains(&Section::Micro) {
        eprintln!("warning: xtask is built without optimisation; run it as `cargo xtask bench` for kernel figures");
    }

    // Everything that can fail before measuring is checked first.
    let mut latent_side = None;
    let mut torch_side = None;
    if e2e_on {
        let (data_dir, origin, train_items) = locate_data(args.data_dir.as_deref(), &root)?;
        if origin == "sample" && !args.quick {
            eprintln!(
                "warning: benchmarking on the MNIST sample: an epoch has at most {} batches of 128, and the \
                 figures are not comparable with runs on the full MNIST",
                train_items.div_ceil(128)
            );
        }
        println!("data: {} ({train_items} training images)", data_dir.display());
        if let Some(python) = &args.compare {
            let version = Torch::torch_version(python)?;
            let reference_dir = std::env::var_os("LATENT_REFERENCE_DIR")
                .filter(|v| !v.is_empty())
                .map_or_else(|| root.join("reference"), PathBuf::from);
            let reference_dir = reference_dir.canonicalize().with_context(|| {
                format!(
                    "the PyTorch reference directory {} does not exist (set LATENT_REFERENCE_DIR)",
                    reference_dir.display()
                )
            })?;
            let torch = Torch { python: python.clone(), root: root.clone(), reference_dir, data_dir: data_dir.clone() };
            torch.check(&models)?;
            println!("torch {version} via {}; scripts in {}", python.display(), torch.reference_dir.display());
            settings.python = Some(python.clone());
            settings.torch_version = Some(version);
            settings.reference_dir = Some(torch.reference_dir.clone());
            torch_side = Some(torch);
        }
        let exe = match &args.latent {
            Some(exe) if exe.is_file() => exe.canonicalize()?,
            Some(exe) => bail!("--latent {}: no such executable", exe.display()),
            None => Latent::build(&root)?,
        };
        println!("latent: {}", exe.display());
        settings.latent_exe = Some(exe.clone());
        settings.data_dir = Some(data_dir.clone());
        settings.data_origin = Some(origin.to_string());
        settings.train_items = Some(train_items);
        latent_side = Some(Latent { exe, data_dir });
    }

    let mut doc = Document {
        schema: report::SCHEMA,
        created_unix: created,
        date_utc: report::utc_date(created),
        git,
        machine,
        load_average_start: report::load_average(),
        load_average_now: None,
        bench_peak_rss_kib: None,
        settings,
        end_to_end: Vec::new(),
        micro: Vec::new(),
        failures: Vec::new(),
        complete: false,
    };
    doc.save(&json_path)?;
    println!("record: {}\n", json_path.display());

    if let (true, Some(latent)) = (e2e_on, &latent_side) {
        let train_items = doc.settings.train_items.unwrap_or(usize::MAX);
        for &model in &models {
            let requested = args.batches.unwrap_or(model.default_batches(args.quick));
            let batches = requested.min(train_items.div_ceil(model.batch_size()));
            if batches < requested {
                eprintln!("note: {}: the data has only {batches} batches of {}", model.name(), model.batch_size());
            }
            for &t in &threads {
                let case = Case { model, threads: t, batches, cpu: None };
                let progress = &mut |line: &str| eprintln!("  {line}");
                let report = match (side_by_side, &torch_side) {
                    (Some((cpus, window)), Some(torch)) if t == 1 => {
                        side_by_side::measure_case(&case, latent, torch, cpus, window, progress)
                    }
                    (_, torch) => {
                        e2e::measure_case(&case, latent, torch.as_ref().map(|s| s as &dyn Side), runs, progress)
                    }
                };
                doc.failures.extend(report.failures());
                doc.end_to_end.push(report);
                doc.save(&json_path)?;
            }
        }
        println!("\n{}", report::e2e_table(&doc.end_to_end, runs));
    }

    if sections.contains(&Section::Micro) {
        eprintln!("micro-benchmarks ({reps} repetitions of about {} ms each):", timing.rep_ms);
        let reports = micro::run_all(&threads, timing, &mut |r| {
            let g = r.summary.map_or(f64::NAN, |s| s.median);
            eprintln!("  {:<36} {}t {:>8.1} GFLOP/s", r.name, r.threads, g);
        })?;
        doc.micro = reports;
        doc.save(&json_path)?;
        println!("\n{}", report::micro_table(&doc.micro, &threads, reps));
    }

    doc.complete = true;
    doc.save(&json_path)?;
    println!("record written to {}", json_path.display());
    if doc.failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("\n{} failed run(s):", doc.failures.len());
        for f in &doc.failures {
            eprintln!("- {f}");
        }
        Ok(ExitCode::FAILURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_located_like_the_cli_and_counted() {
        let root = crate::workspace_root();
        let sample = root.join("crates/latent-data/sample");
        let (dir, origin, items) = locate_data(Some(&sample), &root).unwrap();
        assert_eq!(dir, sample.canonicalize().unwrap());
        assert_eq!(origin, "flag");
        assert_eq!(items, mnist::SAMPLE_TRAIN_ITEMS);
        let err = locate_data(Some(Path::new("/nonexistent/mnist")), &root).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/mnist"), "{err:#}");
    }

    #[test]
    fn repeats_are_dropped_in_order() {
        assert_eq!(unique(&[2, 1, 2, 1, 3]), [2, 1, 3]);
    }

    #[test]
    fn the_default_record_is_in_the_target_directory() {
        let path = default_json(Path::new("/repo"), 1_700_000_000);
        assert_eq!(path.file_name().unwrap(), "bench-1700000000.json");
        assert!(path.parent().unwrap().ends_with("bench"), "{}", path.display());
    }
}
