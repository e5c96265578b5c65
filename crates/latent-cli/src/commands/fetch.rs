//! `latent fetch NAME`: download a named data set's four files into its directory under the
//! user's data directory (or `--dest`), where `latent train` looks for it, each verified by the
//! SHA-256 of its decompressed content. `cargo xtask fetch-mnist` is this command for MNIST.
//!
//! The work is [`latent_data::download`]'s; this prints what happened: a line per file on
//! stdout, attempts and progress on stderr, and on failure which file failed on which mirror and
//! why, and how to fetch the files by hand. `--verify` only checks what is there. Ctrl-C or
//! SIGTERM removes the partial files and exits with 130 or 143.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use latent_data::catalog::NamedDataset;
use latent_data::download::mirror::mirror_list;
use latent_data::download::{self, FetchConfig, Fetched, Fetcher, FileSpec, FileState};
use latent_data::mnist;

use crate::cli::{FetchArgs, FetchOptions};

/// Run `latent fetch`.
///
/// # Errors
/// As [`fetch`].
pub fn run(args: FetchArgs) -> anyhow::Result<()> {
    match args.dataset.dataset() {
        Some(dataset) => fetch(dataset, &args.options),
        None => write_shapes(&args.options),
    }
}

/// `latent fetch shapes`: draw the built-in shapes and write them as an image folder (or, with
/// `--verify`, check that a folder holds exactly them). Nothing is downloaded.
///
/// # Errors
/// If a file cannot be written, or (with `--verify`) the folder cannot be read or differs.
pub fn write_shapes(options: &FetchOptions) -> anyhow::Result<()> {
    use latent_data::images::{ImageOptions, read_folder};
    use latent_data::shapes;
    if !options.mirrors.is_empty() || options.no_default_mirrors {
        bail!("--mirror and --no-default-mirrors do not apply to shapes: they are drawn here, not downloaded");
    }
    let dest = match &options.dest {
        Some(dir) => dir.clone(),
        None => mnist::data_home()
            .map(|home| home.join(shapes::NAME))
            .context("cannot tell where the user's data directory is (no home directory); give --dest DIR")?,
    };
    let data = shapes::load();
    if options.verify {
        let (train, test) =
            read_folder(&dest, &ImageOptions::default()).with_context(|| format!("reading {}", dest.display()))?;
        // The folder is read class by class: the same pictures, regrouped.
        let by_class = |d: &latent_data::Dataset| {
            let mut order: Vec<usize> = (0..d.len()).collect();
            order.sort_by_key(|&i| d.labels()[i]);
            d.subset(&order)
        };
        if train != by_class(&data.train)? || test.as_ref() != Some(&by_class(&data.test)?) {
            bail!(
                "{}: the images differ from the generated shapes; write them again with `latent fetch shapes`",
                dest.display()
            );
        }
        println!("verified  {} ({} training and {} test images)", dest.display(), data.train.len(), data.test.len());
        return Ok(());
    }
    let written = shapes::write_folder(&data, &dest).with_context(|| format!("writing {}", dest.display()))?;
    println!(
        "wrote     {written} PNG files to {} (train/ and test/, one folder per class); train on them with \
         `latent train conv-vae --data {}`",
        dest.display(),
        dest.display()
    );
    Ok(())
}

/// Where a data set goes unless `--dest` says otherwise: its directory under the user's data
/// directory.
///
/// # Errors
/// If the platform gives no home directory.
pub fn default_dest(dataset: &NamedDataset) -> anyhow::Result<PathBuf> {
    mnist::data_home()
        .map(|home| mnist::named_dir(dataset, &home))
        .context("cannot tell where the user's data directory is (no home directory); give --dest DIR")
}

/// Fetch (or with `--verify` only check) `dataset` as `options` say.
///
/// # Errors
/// If a file could not be put in place (or, with `--verify`, is missing or invalid), with the
/// reasons and how to fetch the files by hand; bad options.
pub fn fetch(dataset: &NamedDataset, options: &FetchOptions) -> anyhow::Result<()> {
    let dest = match &options.dest {
        Some(dir) => dir.clone(),
        None => default_dest(dataset)?,
    };
    let specs = FileSpec::of(dataset);
    if options.verify {
        return verify(dataset, &dest, &specs);
    }
    if options.timeout == 0 {
        bail!("--timeout must be at least 1 second");
    }
    let defaults: &[&str] = if options.no_default_mirrors { &[] } else { dataset.mirrors };
    let mirrors = mirror_list(&options.mirrors, defaults);
    if mirrors.is_empty() {
        bail!("--no-default-mirrors without --mirror: there is no mirror to fetch from");
    }
    download::remove_temp_files_on_signal().context("installing the Ctrl-C handler")?;
    let config = FetchConfig {
        timeout: std::time::Duration::from_secs(options.timeout),
        retries: options.retries,
        min_rate: options.min_rate.saturating_mul(1024),
        ..FetchConfig::default()
    };
    let fetcher = Fetcher::new(config);
    let mut failures = Vec::new();
    let mut present = 0;
    for spec in &specs {
        match fetcher.fetch(spec, &dest, &mirrors) {
            Ok(Fetched::Present) => {
                present += 1;
                println!("present   {} (verified)", spec.name);
            }
            Ok(Fetched::Fetched { mirror, replaced }) => {
                let verb = if replaced { "replaced" } else { "fetched " };
                println!("{verb}  {} from {mirror} (verified)", spec.name);
            }
            Err(failure) => {
                println!("FAILED    {}", spec.name);
                failures.push(failure);
            }
        }
    }
    if failures.is_empty() {
        if present == specs.len() {
            println!(
                "all {} files of {} already present and valid in {}; nothing downloaded",
                specs.len(),
                dataset.title,
                dest.display()
            );
        } else {
            println!("all {} files of {} in place and verified in {}", specs.len(), dataset.title, dest.display());
        }
        if options.dest.is_none() {
            println!("{}", how_to_use(dataset));
        }
        return Ok(());
    }
    eprintln!();
    for f in &failures {
        eprintln!("error: {f}");
    }
    let names: Vec<&str> = failures.iter().map(|f| f.name.as_str()).collect();
    eprintln!("{}", by_hand(dataset, &names, &specs, &dest, options.dest.is_some()));
    bail!("{} of {} files of {} could not be fetched", failures.len(), specs.len(), dataset.title)
}

/// How training finds the data just fetched.
fn how_to_use(dataset: &NamedDataset) -> String {
    if dataset.name == latent_data::catalog::MNIST.name {
        "`latent train` now uses it by default (or say `--dataset mnist`)".to_string()
    } else {
        format!("train on it with `latent train MODEL --dataset {}`", dataset.name)
    }
}

/// How to fetch the named files by hand.
fn by_hand(dataset: &NamedDataset, names: &[&str], specs: &[FileSpec], dest: &Path, dest_given: bool) -> String {
    let mut s = format!(
        "\nTo fetch by hand, download each file from one of {} into {}, e.g.\n",
        dataset.mirrors.join(" or "),
        dest.display()
    );
    for name in names {
        s.push_str(&format!("  curl -fL -o {}/{name} {}{name}\n", dest.display(), dataset.mirrors[0]));
    }
    let dest_flag = if dest_given { format!(" --dest {}", dest.display()) } else { String::new() };
    let of_what = if specs.iter().any(|s| s.served) {
        "of the .gz files as served (`sha256sum FILE`)"
    } else {
        "of the decompressed files (`gunzip -c FILE | sha256sum`)"
    };
    s.push_str(&format!(
        "then check them with `latent fetch {} --verify{dest_flag}`. Expected SHA-256 {of_what}:\n",
        dataset.name
    ));
    for spec in specs.iter().filter(|s| names.contains(&s.name.as_str())) {
        s.push_str(&format!("  {}  {}\n", spec.sha256, spec.name));
    }
    s
}

/// Checks the files in `dest` without fetching; success only if all are valid.
fn verify(dataset: &NamedDataset, dest: &Path, specs: &[FileSpec]) -> anyhow::Result<()> {
    let mut bad = 0;
    for (name, state) in download::verify_dir(dest, specs) {
        match state {
            FileState::Valid => println!("ok       {name}"),
            FileState::Missing => {
                println!("MISSING  {name}");
                bad += 1;
            }
            FileState::Invalid(reason) => {
                println!("INVALID  {name}: {reason}");
                bad += 1;
            }
        }
    }
    if bad > 0 {
        bail!(
            "{bad} of {} files of {} missing or invalid in {}; run `latent fetch {}` to fetch them",
            specs.len(),
            dataset.title,
            dest.display(),
            dataset.name
        );
    }
    println!("all {} files of {} valid in {}", specs.len(), dataset.title, dest.display());
    Ok(())
}
