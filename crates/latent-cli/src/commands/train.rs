//! `latent train`: build the model a preset and the flags describe, train it, and keep its run
//! directory current (weights, training state, metrics, pictures) after every epoch.

use std::path::PathBuf;

use anyhow::{Context, bail};
use latent_data::NoiseSpec;
use latent_models::config::{Activation, Likelihood, ModelConfig, Regularizer};
use latent_models::gan::{GanLoss, GanTraining};
use latent_models::identity::{IdentityReport, train_identity};
use latent_models::presets::{Preset, preset};
use latent_models::run_dir::RunConfig;
use latent_models::train::{BatchProgress, TrainObserver, TrainOutcome, Trainer};
use latent_models::{EpochMetrics, Model, RunDir};

use crate::cli::{ModelName, TrainArgs};
use crate::commands::{data_info, load_data, load_data_for_run};
use crate::interrupt::{self, StopFlag};
use crate::pictures::RunPictures;
use crate::progress::{Progress, ProgressMode};

/// Run `latent train`.
///
/// # Errors
/// On bad flags, missing data, an existing run directory, or a failed run.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    if args.model == ModelName::Identity {
        return identity(&args);
    }
    let (mut trainer, data) = if args.resume {
        let out = args.out.clone().expect("clap requires --out with --resume");
        let run = RunDir::open(&out).with_context(|| format!("--resume: cannot open {}", out.display()))?;
        let trainer = Trainer::resume(run, args.epochs)
            .with_context(|| format!("--resume: cannot continue {}", out.display()))?;
        let data = load_data_for_run(&args.data, trainer.config())?;
        (trainer, data)
    } else {
        let data = load_data(&args.data)?;
        let config = run_config(&args, &data)?;
        let out = match &args.out {
            Some(out) => out.clone(),
            None => free_run_dir(args.model.as_str()),
        };
        let run = RunDir::create(&out, args.force).with_context(|| format!("--out {}", out.display()))?;
        (Trainer::new(run, config)?, data)
    };
    let cfg = trainer.config().clone();
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
        pictures: RunPictures::new(&data, cfg.model.latent_dim(), cfg.train.seed),
        run: trainer.run_dir().clone(),
        stop: interrupt::install()?,
        epoch: 0,
    };
    let outcome = trainer.fit(&data, &mut observer);
    observer.progress.finish();
    let run = trainer.run_dir().path().display().to_string();
    match outcome? {
        TrainOutcome::Completed { epochs } => {
            let last = trainer.run_dir().read_metrics()?.pop();
            let summary =
                last.map(|m| format!(": test loss {:.2} per image", m.test.get("loss").copied().unwrap_or(f64::NAN)));
            eprintln!("done: {epochs} epochs{}. Run directory: {run}", summary.unwrap_or_default());
        }
        TrainOutcome::Stopped { epoch, batch } => {
            eprintln!(
                "stopped at epoch {epoch}, batch {batch}; saved. Continue with: latent train {} --out {run} --resume",
                args.model.as_str()
            );
        }
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

/// The preset, changed by the flags.
fn run_config(args: &TrainArgs, data: &latent_data::Mnist) -> anyhow::Result<RunConfig> {
    let Preset { model: family, name, mut config, mut train, .. } =
        preset(args.model.as_str(), args.preset.as_deref())?;
    if let Some(v) = args.epochs {
        train.epochs = v;
    }
    if let Some(v) = args.batch_size {
        train.batch_size = v;
    }
    if let Some(v) = args.lr {
        train.learning_rate = v;
    }
    if let Some(v) = args.seed {
        train.seed = v;
    }
    if args.clip_grad_norm.is_some() {
        train.clip_grad_norm = args.clip_grad_norm;
    }
    if args.limit_batches.is_some() {
        train.limit_batches = args.limit_batches;
    }
    let hidden = args.hidden.as_deref().map(parse_widths).transpose()?;
    let activation = args.activation.as_deref().map(str::parse::<Activation>).transpose()?;
    let pixels = data.train.pixels();
    reject_flags(args.model.as_str(), &model_flags(args), accepted_flags(&config))?;
    match &mut config {
        ModelConfig::Autoencoder(c) => {
            c.input_dim = pixels;
            set(&mut c.latent_dim, args.latent_dim);
            set(&mut c.hidden, hidden);
            set(&mut c.activation, activation);
            if let Some(loss) = &args.loss {
                c.likelihood = loss.parse::<Likelihood>()?;
            }
            if let Some(noise) = &args.noise {
                c.noise = noise.parse::<NoiseSpec>().context("--noise")?;
            }
            c.regularizer = regularizer(c.regularizer, args)?;
        }
        ModelConfig::Vae(c) => {
            c.input_dim = pixels;
            set(&mut c.latent_dim, args.latent_dim);
            set(&mut c.hidden, hidden);
            set(&mut c.activation, activation);
            set(&mut c.beta, args.beta);
        }
        ModelConfig::ConvAutoencoder(c) => {
            c.image_size = square_side(data)?;
            set(&mut c.latent_dim, args.latent_dim);
            set(&mut c.channels, hidden);
            if let Some(noise) = &args.noise {
                c.noise = noise.parse::<NoiseSpec>().context("--noise")?;
            }
        }
        ModelConfig::ConvVae(c) => {
            c.image_size = square_side(data)?;
            set(&mut c.latent_dim, args.latent_dim);
            set(&mut c.channels, hidden);
            set(&mut c.beta, args.beta);
        }
        ModelConfig::Cvae(c) => {
            c.input_dim = pixels;
            set(&mut c.latent_dim, args.latent_dim);
            set(&mut c.hidden, hidden);
            set(&mut c.activation, activation);
            set(&mut c.beta, args.beta);
            if let Some(&bad) = data.train.labels().iter().find(|&&l| usize::from(l) >= c.classes) {
                bail!("the cvae is conditioned on {} digit labels, but the training data has label {bad}", c.classes);
            }
        }
        ModelConfig::Gan(c) | ModelConfig::Cgan(c) => {
            c.output_dim = pixels;
            set(&mut c.latent_dim, args.latent_dim);
            c.training = gan_training(c.training.clone(), args)?;
            if c.classes > 0
                && let Some(&bad) = data.train.labels().iter().find(|&&l| usize::from(l) >= c.classes)
            {
                bail!("the cgan is conditioned on {} digit labels, but the training data has label {bad}", c.classes);
            }
        }
        ModelConfig::Dcgan(c) => {
            c.image_size = square_side(data)?;
            set(&mut c.latent_dim, args.latent_dim);
            c.training = gan_training(c.training.clone(), args)?;
        }
    }
    config.validate()?;
    train.validate()?;
    Ok(RunConfig { preset: format!("{family}/{name}"), model: config, train, data: data_info(data) })
}

/// A GAN's training options changed by `--gan-loss`, `--d-steps` and `--clip-weights`. The
/// Wasserstein loss brings WGAN's defaults (clip 0.01, 5 D steps per G step) unless the flags
/// set them.
fn gan_training(mut t: GanTraining, args: &TrainArgs) -> anyhow::Result<GanTraining> {
    if let Some(name) = &args.gan_loss {
        t.loss = name.parse::<GanLoss>().with_context(|| format!("--gan-loss {name}"))?;
        if t.loss == GanLoss::Wasserstein {
            t.clip_weights = Some(0.01);
            t.d_steps = 5;
        }
    }
    set(&mut t.d_steps, args.d_steps);
    if args.clip_weights.is_some() {
        t.clip_weights = args.clip_weights;
    }
    t.validate()?;
    Ok(t)
}

/// The side of the data's square images (what the convolutional models need).
fn square_side(data: &latent_data::Mnist) -> anyhow::Result<usize> {
    let (rows, cols) = (data.train.rows(), data.train.cols());
    if rows != cols {
        bail!("the convolutional models need square images; this data's are {rows}x{cols}");
    }
    Ok(rows)
}

/// The flags that shape a model (beyond `--latent-dim`, which every family takes), each with
/// whether it was given.
fn model_flags(args: &TrainArgs) -> [(&'static str, bool); 11] {
    [
        ("--hidden", args.hidden.is_some()),
        ("--activation", args.activation.is_some()),
        ("--beta", args.beta.is_some()),
        ("--noise", args.noise.is_some()),
        ("--sparsity", args.sparsity.is_some()),
        ("--rho", args.rho.is_some()),
        ("--contractive", args.contractive.is_some()),
        ("--loss", args.loss.is_some()),
        ("--gan-loss", args.gan_loss.is_some()),
        ("--d-steps", args.d_steps.is_some()),
        ("--clip-weights", args.clip_weights.is_some()),
    ]
}

/// The model-shaping flags (of [`model_flags`]) that a family uses.
fn accepted_flags(config: &ModelConfig) -> &'static [&'static str] {
    match config {
        ModelConfig::Autoencoder(_) => {
            &["--hidden", "--activation", "--noise", "--sparsity", "--rho", "--contractive", "--loss"]
        }
        ModelConfig::Vae(_) | ModelConfig::Cvae(_) => &["--hidden", "--activation", "--beta"],
        ModelConfig::ConvAutoencoder(_) => &["--hidden", "--noise"],
        ModelConfig::ConvVae(_) => &["--hidden", "--beta"],
        ModelConfig::Gan(_) | ModelConfig::Cgan(_) | ModelConfig::Dcgan(_) => {
            &["--gan-loss", "--d-steps", "--clip-weights"]
        }
    }
}

/// Fail on the first given flag of `flags` (name, given) that `model` does not accept.
fn reject_flags(model: &str, flags: &[(&str, bool)], accepted: &[&str]) -> anyhow::Result<()> {
    match flags.iter().find(|(flag, given)| *given && !accepted.contains(flag)) {
        Some((flag, _)) => bail!("{flag} does not apply to the {model}"),
        None => Ok(()),
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// `512,128` → `[512, 128]`; an empty string → no hidden layers.
fn parse_widths(text: &str) -> anyhow::Result<Vec<usize>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.parse::<usize>() {
            Ok(w) if w > 0 => Ok(w),
            _ => bail!("--hidden {text}: expected comma-separated positive widths like 512,128; `{s}` is not one"),
        })
        .collect()
}

/// The preset's regulariser, changed by `--sparsity`, `--rho` and `--contractive`.
fn regularizer(base: Regularizer, args: &TrainArgs) -> anyhow::Result<Regularizer> {
    Ok(match base {
        Regularizer::L1 { weight } => {
            if args.rho.is_some() {
                bail!("--rho applies to the KL sparsity penalty (sparse --preset kl), not the L1 one");
            }
            Regularizer::L1 { weight: args.sparsity.unwrap_or(weight) }
        }
        Regularizer::KlSparsity { rho, weight } => {
            Regularizer::KlSparsity { rho: args.rho.unwrap_or(rho), weight: args.sparsity.unwrap_or(weight) }
        }
        Regularizer::Contractive { weight } => Regularizer::Contractive { weight: args.contractive.unwrap_or(weight) },
        Regularizer::None => {
            if let Some(w) = args.contractive {
                bail!("--contractive {w}: use `latent train contractive` (it needs a one-layer sigmoid encoder)");
            }
            if args.sparsity.is_some() || args.rho.is_some() {
                bail!("--sparsity/--rho: use `latent train sparse`");
            }
            Regularizer::None
        }
    })
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
        self.progress.batch(p.batch_examples, p.batch_loss);
    }

    fn epoch_done(&mut self, m: &EpochMetrics, model: &mut dyn Model) -> latent_models::Result<()> {
        let labels: Vec<(String, f64)> =
            m.test.iter().filter(|(k, _)| k.as_str() != "elbo").map(|(k, v)| (format!("test {k}"), *v)).collect();
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
