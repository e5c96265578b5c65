//! `latent train`: build the model a preset and the flags describe, train it, and keep its run
//! directory current (weights, training state, metrics, pictures) after every epoch.

use std::path::PathBuf;

use anyhow::{Context, bail};
use latent_models::identity::{IdentityReport, train_identity};
use latent_models::run_dir::RunConfig;
use latent_models::train::{BatchProgress, TrainObserver, TrainOutcome, Trainer, parse_schedule};
use latent_models::{EpochMetrics, Model, ModelFlags, OptimizerKind, Preset, Registry, RunDir};

use crate::cli::TrainArgs;
use crate::commands::{Split, data_info, load_data, load_data_for_run, require_images};
use crate::interrupt::{self, StopFlag};
use crate::pictures::RunPictures;
use crate::progress::{Progress, ProgressMode};

/// Run `latent train`.
///
/// # Errors
/// On bad flags, missing data, an existing run directory, or a failed run.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    if args.model == "identity" {
        return identity(&args);
    }
    let (mut trainer, data) = if args.resume {
        refuse_on_resume(&args)?;
        let out = args.out.clone().expect("clap requires --out with --resume");
        let run = RunDir::open(&out).with_context(|| format!("--resume: cannot open {}", out.display()))?;
        let trainer = Trainer::resume(run, args.epochs)
            .with_context(|| format!("--resume: cannot continue {}", out.display()))?;
        let data = load_data_for_run(&args.data, trainer.config())?;
        trainable(&data)?;
        (trainer, data)
    } else {
        let data = load_data(&args.data)?;
        trainable(&data)?;
        let config = run_config(&args, &data)?;
        fits_in_memory(&args, &config, data.train.len())?;
        let out = match &args.out {
            Some(out) => out.clone(),
            None => free_run_dir(&args.model),
        };
        let run = RunDir::create(&out, args.force).with_context(|| format!("--out {}", out.display()))?;
        (Trainer::new(run, config)?, data)
    };
    let cfg = trainer.config().clone();
    if trainer.epochs_done() >= cfg.train.epochs {
        eprintln!(
            "nothing to train: {} has done {} of its {} epochs (continue to more with --resume --epochs N)",
            trainer.run_dir().path().display(),
            trainer.epochs_done(),
            cfg.train.epochs
        );
        return Ok(());
    }
    if !args.quiet {
        eprintln!(
            "training {} ({} parameters) on {} ({} train / {} test images) into {}",
            cfg.preset,
            trainer.model_mut().parameter_count(),
            cfg.data.name,
            data.train.len(),
            data.test.len(),
            trainer.run_dir().path().display()
        );
    }
    let batches = {
        let all = data.train.len().div_ceil(cfg.train.batch_size);
        cfg.train.limit_batches.map_or(all, |l| l.min(all))
    };
    let mode = if args.quiet { ProgressMode::Quiet } else { ProgressMode::Auto };
    let mut observer = Observer {
        progress: Progress::new(cfg.train.epochs as usize, batches, mode),
        pictures: RunPictures::new(&data, trainer.description().latent_dim, cfg.train.seed),
        run: trainer.run_dir().clone(),
        stop: interrupt::install()?,
        epoch: 0,
    };
    let outcome = trainer.fit(&data.train, &data.test, &mut observer);
    observer.progress.finish();
    let run = trainer.run_dir().path().display().to_string();
    match outcome? {
        TrainOutcome::Completed { epochs } => {
            let last = trainer.run_dir().read_metrics()?.pop();
            let summary = last.map(|m| format!(": {}", crate::pictures::summary(&m)));
            eprintln!("done: {epochs} epochs{}. Run directory: {run}", summary.unwrap_or_default());
        }
        TrainOutcome::Stopped { epoch, batch } => {
            eprintln!(
                "stopped at epoch {epoch}, batch {batch}; saved. Continue with: latent train {} --out {run} --resume",
                args.model
            );
            return Err(crate::error::CliError::Interrupted.into());
        }
        TrainOutcome::EarlyStopped { epochs, best_epoch, best_val_loss } => {
            eprintln!(
                "early stop after {epochs} epochs: the validation loss last improved at epoch {best_epoch} ({best_val_loss:.2} per example). Run directory: {run}"
            );
        }
    }
    Ok(())
}

/// On `--resume` the run's own configuration applies: every flag that would change the model
/// or its training is refused by name rather than silently ignored (`--epochs` may change).
fn refuse_on_resume(args: &TrainArgs) -> anyhow::Result<()> {
    let given: Vec<&str> = [
        ("--preset", args.preset.is_some()),
        ("--batch-size", args.batch_size.is_some()),
        ("--lr", args.lr.is_some()),
        ("--optimizer", args.optimizer.is_some()),
        ("--momentum", args.momentum.is_some()),
        ("--lr-schedule", args.lr_schedule.is_some()),
        ("--val-fraction", args.val_fraction.is_some()),
        ("--early-stop", args.early_stop.is_some()),
        ("--latent-dim", args.latent_dim.is_some()),
        ("--hidden", args.hidden.is_some()),
        ("--activation", args.activation.is_some()),
        ("--beta", args.beta.is_some()),
        ("--noise", args.noise.is_some()),
        ("--sparsity", args.sparsity.is_some()),
        ("--rho", args.rho.is_some()),
        ("--contractive", args.contractive.is_some()),
        ("--loss", args.loss.is_some()),
        ("--clip-grad-norm", args.clip_grad_norm.is_some()),
        ("--gan-loss", args.gan_loss.is_some()),
        ("--d-steps", args.d_steps.is_some()),
        ("--clip-weights", args.clip_weights.is_some()),
        ("--limit-batches", args.limit_batches.is_some()),
        ("--seed", args.seed.is_some()),
        ("--classes", args.data.classes.is_some()),
        ("--test-fraction", args.data.test_fraction.is_some()),
        ("--data-format", args.data.data_format.is_some()),
        ("--label-column", args.data.label_column.is_some()),
        ("--columns", args.data.columns.is_some()),
        ("--drop-incomplete", args.data.drop_incomplete),
        ("--data-key", args.data.data_key.is_some()),
        ("--label-key", args.data.label_key.is_some()),
        ("--image-size", args.data.image_size.is_some()),
        ("--channels", args.data.channels.is_some()),
    ]
    .into_iter()
    .filter_map(|(flag, set)| set.then_some(flag))
    .collect();
    if !given.is_empty() {
        bail!(
            "{} cannot change a run on --resume: it continues with its own settings (see its config.json); only --epochs may change. Start a new run to train differently",
            given.join(", ")
        );
    }
    Ok(())
}

/// The first of `runs/<model>`, `runs/<model>-2`, ... that holds no run.
fn free_run_dir(model: &str) -> PathBuf {
    (1..)
        .map(
            |i| {
                if i == 1 { PathBuf::from(format!("runs/{model}")) } else { PathBuf::from(format!("runs/{model}-{i}")) }
            },
        )
        .find(|p| !p.join(latent_models::run_dir::CONFIG_FILE).exists())
        .expect("some name is free")
}

/// The preset, changed by the flags: the model-shaping flags go to the model's family through
/// the registry (which refuses those the family does not take), the data's shape and classes
/// shape the model, and the training flags change the preset's training options.
fn run_config(args: &TrainArgs, data: &latent_data::Data) -> anyhow::Result<RunConfig> {
    let registry = Registry::builtin();
    let Preset { model: family, name, mut config, mut train, .. } =
        registry.preset(&args.model, args.preset.as_deref())?;
    let mut flags = ModelFlags::new().for_spec(data.spec());
    flags.set_opt("latent-dim", args.latent_dim);
    flags.set_opt("hidden", args.hidden.as_deref());
    flags.set_opt("activation", args.activation.as_deref());
    flags.set_opt("beta", args.beta);
    flags.set_opt("noise", args.noise.as_deref());
    flags.set_opt("sparsity", args.sparsity);
    flags.set_opt("rho", args.rho);
    flags.set_opt("contractive", args.contractive);
    flags.set_opt("loss", args.loss.as_deref());
    flags.set_opt("gan-loss", args.gan_loss.as_deref());
    flags.set_opt("d-steps", args.d_steps);
    flags.set_opt("clip-weights", args.clip_weights);
    registry.apply_flags(&args.model, &mut config, &flags)?;
    set(&mut train.epochs, args.epochs);
    set(&mut train.batch_size, args.batch_size);
    set(&mut train.learning_rate, args.lr);
    set(&mut train.seed, args.seed);
    set(&mut train.momentum, args.momentum);
    set(&mut train.val_fraction, args.val_fraction);
    if args.clip_grad_norm.is_some() {
        train.clip_grad_norm = args.clip_grad_norm;
    }
    if args.limit_batches.is_some() {
        train.limit_batches = args.limit_batches;
    }
    if args.early_stop.is_some() {
        train.early_stop = args.early_stop;
    }
    if let Some(name) = &args.optimizer {
        train.optimizer = name.parse::<OptimizerKind>()?;
    }
    if let Some(text) = &args.lr_schedule {
        train.lr_schedule = parse_schedule(text, train.epochs)?;
    }
    train.validate()?;
    Ok(RunConfig { preset: format!("{family}/{name}"), model: config, train, data: data_info(data, &args.data)? })
}

/// Refuse, before a run directory is written, a model or batch that training could not hold
/// within the memory limit ([`latent_models::memory`]), naming the flags that size it.
fn fits_in_memory(args: &TrainArgs, config: &RunConfig, examples: usize) -> anyhow::Result<()> {
    use latent_models::memory;
    let footprint = config.model.footprint()?;
    let sizes: Vec<String> = [
        ("--hidden", args.hidden.clone()),
        ("--latent-dim", args.latent_dim.map(|v| v.to_string())),
        ("--batch-size", args.batch_size.map(|v| v.to_string())),
    ]
    .into_iter()
    .filter_map(|(flag, value)| value.map(|v| format!("{flag} {v}")))
    .collect();
    let given = if sizes.is_empty() { String::new() } else { format!(" with {}", sizes.join(" ")) };
    memory::check(
        || format!("training {}{given} ({} parameters)", config.preset, footprint.parameters),
        memory::training_need(&footprint, &config.train, examples),
    )?;
    Ok(())
}

/// Refuse data with an empty split before any run directory is written: training needs
/// training images, and every epoch ends with a test pass.
fn trainable(data: &latent_data::Data) -> anyhow::Result<()> {
    require_images(data, Split::Train, "to train on")?;
    require_images(data, Split::Test, "to evaluate each epoch on")
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// The training loop's hooks: progress display, pictures each epoch, Ctrl-C.
struct Observer {
    progress: Progress,
    pictures: RunPictures,
    run: RunDir,
    stop: StopFlag,
    epoch: u64,
}

impl TrainObserver for Observer {
    fn batch_done(&mut self, p: &BatchProgress) {
        if p.epoch != self.epoch {
            self.epoch = p.epoch;
            self.progress.start_epoch(p.epoch as usize);
        }
        self.progress.batch_parts(p.batch_examples, &p.batch_parts);
    }

    fn epoch_done(&mut self, m: &EpochMetrics, model: &mut dyn Model) -> latent_models::Result<()> {
        // The ELBO is the loss upside down; a `loss` that is not a headline part (a GAN's, which
        // is its `d_loss`) would be the same figure again without its name.
        let headline = model.headline_parts();
        let shown = |k: &str| k != "elbo" && (k != "loss" || headline.contains(&"loss"));
        let labels: Vec<(String, f64)> =
            m.test.iter().filter(|(k, _)| shown(k)).map(|(k, v)| (format!("test {k}"), *v)).collect();
        let shown: Vec<(&str, f64)> = labels.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        self.progress.end_epoch(&shown);
        let metrics = self.run.read_metrics()?;
        self.pictures.write_epoch(&self.run, model, &metrics).map_err(|e| latent_models::ModelError::Run {
            path: self.run.path().to_path_buf(),
            message: format!("could not draw this epoch's pictures: {e:#}"),
        })
    }

    fn should_stop(&self) -> bool {
        self.stop.is_set()
    }
}

/// `latent train identity`: train the 8-3-8 network and print its table (or JSON).
fn identity(args: &TrainArgs) -> anyhow::Result<()> {
    let report = train_identity(args.seed.unwrap_or(1), args.epochs.map_or(20_000, |e| e as usize))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_identity(&report);
    }
    if !(report.reconstructs && report.distinct_codes) {
        bail!(
            "the network did not learn a distinct code within {} epochs; try another --seed or more --epochs",
            report.epochs
        );
    }
    Ok(())
}

fn print_identity(r: &IdentityReport) {
    println!("8-3-8 identity network: {} epochs, final loss {:.4}\n", r.epochs, r.loss);
    println!("{:<10} {:<16} {:<6} output", "input", "hidden values", "code");
    for i in 0..r.inputs.len() {
        let input: String = r.inputs[i].iter().map(|&v| if v > 0.5 { '1' } else { '0' }).collect();
        let hidden: Vec<String> = r.hidden[i].iter().map(|v| format!("{v:.2}")).collect();
        let outputs: Vec<String> = r.outputs[i].iter().map(|v| format!("{v:.2}")).collect();
        println!("{input:<10} {:<16} {:<6} {}", hidden.join(" "), r.codes[i], outputs.join(" "));
    }
    println!("\nreconstructs every input: {}; distinct 3-bit codes: {}", r.reconstructs, r.distinct_codes);
}
