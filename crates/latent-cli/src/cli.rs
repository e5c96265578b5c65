//! The command line: every subcommand and flag of `latent`, with its help text and default.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Train, evaluate and study autoencoders and generative models on the CPU.
#[derive(Parser, Debug)]
#[command(name = "latent", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Threads for the parallel kernels (default: RAYON_NUM_THREADS, else every core).
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// The most memory a model, a training run or a request may need, estimated before anything
    /// is allocated; a larger one is refused with its estimate (e.g. 32G, 512M; default:
    /// LATENT_MAX_MEMORY, else 8G).
    #[arg(long, global = true, value_name = "SIZE")]
    pub max_memory: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model and write a run directory (config, weights, metrics, pictures).
    Train(Box<TrainArgs>),
    /// Test-set metrics of a trained run.
    Eval(EvalArgs),
    /// Draw samples from a generative model's prior.
    Sample(SampleArgs),
    /// Reconstruct test digits (optionally corrupted first).
    Reconstruct(ReconstructArgs),
    /// Decode a straight line between two test digits' codes.
    Interpolate(InterpolateArgs),
    /// Encode the test set and write the codes.
    Embed(EmbedArgs),
    /// Decode codes (a .npy, as embed writes them) to data in the data's units: the inverse of
    /// embed, through the decoder (a GAN's generator).
    Decode(DecodeArgs),
    /// Write a trained run for another engine: ONNX graphs (encoder, decoder, generator) or a
    /// self-contained PyTorch module, with spec.json describing inputs, outputs and scaling.
    Export(ExportArgs),
    /// Describe a run: model, parameters, training so far.
    Info(InfoArgs),
    /// Judge generated digits with a digit classifier: counts per class, confidence, balance,
    /// and optionally the distance to the nearest training digit.
    Classify(ClassifyArgs),
    /// Score generated samples against a data set in its classifier's features: Fréchet
    /// distance, KID, precision/recall, density/coverage, class balance, copies.
    Score(ScoreArgs),
    /// Download a named data set (mnist, fashion-mnist) into the user's data directory, where
    /// training finds it; each file verified by the SHA-256 of its decompressed content.
    Fetch(FetchArgs),
    /// Anomaly detection with a trained autoencoder or VAE: score examples, flag those above a
    /// threshold fitted on training scores (and stored in the run), and with labels report
    /// ROC-AUC, PR-AUC, precision, recall and F1, beside a PCA baseline on request.
    Anomaly(Box<AnomalyArgs>),
    /// Principal component analysis of a data set: fit, transform, inverse transform.
    Pca(PcaArgs),
    /// The test reconstruction error of a run's autoencoder against PCA with as many
    /// components as the code has dimensions.
    ComparePca(ComparePcaArgs),
    /// A linear probe: logistic regression on the codes of N labelled training examples per
    /// class, against the same probe on raw inputs and on PCA codes of the same size.
    Probe(ProbeArgs),
    /// A VAE's 2-D latent manifold: a grid of decoded codes spaced by the prior's quantiles.
    Manifold(ManifoldArgs),
    /// Latent traversals: one row per latent dimension, decoding codes that vary it alone.
    Traverse(TraverseArgs),
    /// Explore trained runs in the browser: draw and encode, click the latent map to decode,
    /// interpolate, sample, denoise; and a JSON API for scripts (docs/serve.md).
    Serve(ServeArgs),
}

/// Where the data comes from and how it is prepared.
#[derive(Args, Debug, Clone, Default)]
pub struct DataArgs {
    /// Your own data: a directory of MNIST-format IDX files, a folder of images in one subfolder
    /// per class (PNG, JPEG; optionally train/ and test/ above the classes), a .csv table, a .npy
    /// array or a .npz archive, picked by its contents or extension (or --data-format).
    /// Overrides --data-dir, --dataset and LATENT_DATA_DIR.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["data_dir", "dataset"])]
    pub data: Option<PathBuf>,
    /// The format of --data when it cannot be told from the path: idx, images, csv, npy or npz.
    #[arg(long, value_name = "FORMAT", requires = "data")]
    pub data_format: Option<String>,
    /// A directory of MNIST-format files (the four IDX files, .gz or raw); overrides --dataset
    /// and LATENT_DATA_DIR.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Which data set: mnist or fashion-mnist from the user's data directory (where `latent
    /// fetch NAME` puts them), the built-in 10,000/2,000-digit MNIST sample, or shapes (colour
    /// pictures drawn on the fly). Default: LATENT_DATA_DIR, else the full MNIST if fetched,
    /// else the sample.
    #[arg(long, value_enum, value_name = "NAME")]
    pub dataset: Option<DatasetName>,
    /// Keep only these classes, by name (or label number), comma-separated: `--classes 0,1`
    /// trains on zeros and ones (a one-class training set is how anomaly detection starts).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub classes: Option<Vec<String>>,
    /// The fraction of a source without a test split held out, by a fixed seeded permutation,
    /// for testing (default 0.2).
    #[arg(long, value_name = "FRACTION")]
    pub test_fraction: Option<f64>,
    /// A CSV table's label column, by header name: its values (strings or integers) are the
    /// classes. Without it the rows are unlabelled.
    #[arg(long, value_name = "NAME", requires = "data")]
    pub label_column: Option<String>,
    /// A CSV table's feature columns, by header name, comma-separated (default: every column
    /// but the label column).
    #[arg(long, value_name = "LIST", value_delimiter = ',', requires = "data")]
    pub columns: Option<Vec<String>>,
    /// Skip a CSV table's rows with an empty, non-numeric or non-finite cell (the count is
    /// printed) instead of refusing the file.
    #[arg(long, requires = "data")]
    pub drop_incomplete: bool,
    /// The array of samples in an .npz archive (default: x_train, else data, else its only
    /// array).
    #[arg(long, value_name = "NAME", requires = "data")]
    pub data_key: Option<String>,
    /// The array of labels in an .npz archive (default: y_train with x_train, labels with
    /// data).
    #[arg(long, value_name = "NAME", requires = "data")]
    pub label_key: Option<String>,
    /// Image folders: resize every image to H×H or H×W pixels (bilinear, smoothing when
    /// shrinking; the aspect ratio is not kept). Default: the first image's size, which every
    /// image must then have.
    #[arg(long, value_name = "H[xW]")]
    pub image_size: Option<String>,
    /// Image folders: 1 (grey; colour converted by luma) or 3 (RGB; grey repeated). Default:
    /// 1 if every image is grey, else 3.
    #[arg(long, value_name = "1|3")]
    pub channels: Option<usize>,
}

impl DataArgs {
    /// Whether any flag names the data (rather than leaving it to defaults or a run's record).
    pub fn names_data(&self) -> bool {
        self.data.is_some() || self.data_dir.is_some() || self.dataset.is_some()
    }

    /// Whether any flag changes how data is read or prepared.
    pub fn changes_preparation(&self) -> bool {
        self.data_format.is_some()
            || self.classes.is_some()
            || self.test_fraction.is_some()
            || self.label_column.is_some()
            || self.columns.is_some()
            || self.drop_incomplete
            || self.data_key.is_some()
            || self.label_key.is_some()
            || self.image_size.is_some()
            || self.channels.is_some()
    }

    /// The loading options these flags give, on top of `base` (a run's, or the defaults).
    ///
    /// # Errors
    /// On an unknown format or a test fraction outside (0, 1).
    pub fn load_options(&self, base: latent_data::LoadOptions) -> anyhow::Result<latent_data::LoadOptions> {
        let mut options = base;
        if let Some(f) = &self.data_format {
            options.format = Some(f.parse().map_err(|e| anyhow::anyhow!("--data-format: {e}"))?);
        }
        if let Some(f) = self.test_fraction {
            if !(f > 0.0 && f < 1.0) {
                anyhow::bail!("--test-fraction {f}: expected a fraction between 0 and 1 (exclusive)");
            }
            options.test_fraction = f;
        }
        if let Some(c) = &self.classes {
            if c.is_empty() || c.iter().any(|n| n.trim().is_empty()) {
                anyhow::bail!("--classes: expected class names or numbers separated by commas");
            }
            options.classes = Some(c.iter().map(|n| n.trim().to_string()).collect());
        }
        for (flag, value, field) in [
            ("--label-column", &self.label_column, &mut options.label_column),
            ("--data-key", &self.data_key, &mut options.data_key),
            ("--label-key", &self.label_key, &mut options.label_key),
        ] {
            if let Some(v) = value {
                if v.is_empty() {
                    anyhow::bail!("{flag}: expected a name, found an empty string");
                }
                *field = Some(v.clone());
            }
        }
        if let Some(c) = &self.columns {
            if c.is_empty() || c.iter().any(|n| n.trim().is_empty()) {
                anyhow::bail!("--columns: expected column names separated by commas");
            }
            options.columns = Some(c.iter().map(|n| n.trim().to_string()).collect());
        }
        if self.drop_incomplete {
            options.drop_incomplete = true;
        }
        if let Some(size) = &self.image_size {
            options.image_size = Some(size.parse().map_err(|e| anyhow::anyhow!("--image-size: {e}"))?);
        }
        if let Some(c) = self.channels {
            if !matches!(c, 1 | 3) {
                anyhow::bail!("--channels {c}: expected 1 (grey) or 3 (RGB)");
            }
            options.channels = Some(c);
        }
        Ok(options)
    }
}

/// The named data sets.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetName {
    /// The full MNIST (60,000 training, 10,000 test digits), fetched by `latent fetch mnist`.
    Mnist,
    /// The MNIST sample built into the program (10,000 training, 2,000 test digits).
    MnistSample,
    /// Fashion-MNIST (60,000 training, 10,000 test images of clothing), fetched by `latent fetch
    /// fashion-mnist`.
    FashionMnist,
    /// Kuzushiji-MNIST (60,000 training, 10,000 test cursive Japanese characters), fetched by
    /// `latent fetch kmnist`.
    Kmnist,
    /// Colour shapes drawn on the fly (10,000 training, 2,000 test 32×32 RGB images, six
    /// classes); no download.
    Shapes,
}

impl DatasetName {
    /// The name as written on the command line (`fashion-mnist`).
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Mnist => latent_data::catalog::MNIST.name,
            DatasetName::MnistSample => latent_data::sample::NAME,
            DatasetName::FashionMnist => latent_data::catalog::FASHION_MNIST.name,
            DatasetName::Kmnist => latent_data::catalog::KMNIST.name,
            DatasetName::Shapes => latent_data::shapes::NAME,
        }
    }
}

/// The model names `latent train` takes: every built-in family's, and `identity`.
fn model_names() -> Vec<&'static str> {
    let mut names = latent_models::Registry::builtin().model_names();
    names.push("identity");
    names
}

/// The list of models and presets shown by `latent train --help`, from the registry.
fn models_help() -> String {
    let registry = latent_models::Registry::builtin();
    let mut text = String::from("Models and their presets (the first is the default):\n");
    for name in registry.model_names() {
        text.push_str(&format!("  {name}\n"));
        for p in registry.presets().into_iter().filter(|p| p.model == name) {
            text.push_str(&format!("      --preset {:<18} {}\n", p.name, p.summary));
        }
    }
    text.push_str("  identity\n      the 8-3-8 identity network of the textbook figure (prints its table)\n");
    text
}

/// `latent train`.
#[derive(Args, Debug)]
#[command(after_long_help = models_help())]
pub struct TrainArgs {
    /// The model (see --help for every model and preset).
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(model_names()))]
    pub model: String,
    /// The architecture within the family (default: the family's first preset; see
    /// `latent train --help` for the list).
    #[arg(long)]
    pub preset: Option<String>,
    /// Epochs to train (default: the preset's; 10, or 30 for gan and cgan).
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Examples per batch (default: the preset's; 128, or 64 for gan and cgan).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// The base learning rate (default: the preset's; 0.001, or 0.0002 for the GANs).
    #[arg(long)]
    pub lr: Option<f64>,
    /// The optimiser: adam (default; a GAN's betas are 0.5, 0.999), sgd or rmsprop.
    #[arg(long, value_name = "NAME")]
    pub optimizer: Option<String>,
    /// Momentum of sgd and rmsprop (default 0).
    #[arg(long, value_name = "F")]
    pub momentum: Option<f64>,
    /// The learning rate over epochs: constant (default), step:N:G (times G every N epochs),
    /// exp:G, cosine (to 0 over the run), cosine:T, warmup:N (linear over N epochs).
    #[arg(long, value_name = "SCHEDULE")]
    pub lr_schedule: Option<String>,
    /// Hold out this fraction of the training set (seeded) and report its loss each epoch.
    #[arg(long, value_name = "F")]
    pub val_fraction: Option<f64>,
    /// Stop when the validation loss has not improved for this many epochs (needs
    /// --val-fraction).
    #[arg(long, value_name = "PATIENCE")]
    pub early_stop: Option<u64>,
    /// The code size (overrides the preset's).
    #[arg(long)]
    pub latent_dim: Option<usize>,
    /// Encoder hidden widths, comma-separated, input side first; the decoder mirrors them
    /// (e.g. `512,128`; an empty string for none). For conv-ae and conv-vae: the channels of
    /// the stride-2 convolutions (e.g. `32,64`).
    #[arg(long, value_name = "W,W,...")]
    pub hidden: Option<String>,
    /// Hidden-layer activation: relu, leaky_relu, elu, sigmoid, tanh, softplus, identity (none:
    /// with `--loss mse`, a linear autoencoder, the neural form of PCA).
    #[arg(long)]
    pub activation: Option<String>,
    /// The VAE's KL weight (1: VAE; other values: beta-VAE).
    #[arg(long)]
    pub beta: Option<f32>,
    /// Input corruption of a denoising autoencoder: gaussian:STD, mask:FRACTION,
    /// salt-pepper:FRACTION, or none.
    #[arg(long, value_name = "SPEC")]
    pub noise: Option<String>,
    /// Weight of the sparsity penalty (sparse autoencoders).
    #[arg(long, value_name = "WEIGHT")]
    pub sparsity: Option<f32>,
    /// Target mean activation rho of the KL sparsity penalty, in (0, 1).
    #[arg(long)]
    pub rho: Option<f32>,
    /// Weight of the contractive penalty.
    #[arg(long, value_name = "WEIGHT")]
    pub contractive: Option<f32>,
    /// Reconstruction loss: bce (sigmoid output, Bernoulli) or mse (linear output, Gaussian).
    #[arg(long)]
    pub loss: Option<String>,
    /// Clip the global gradient norm to this.
    #[arg(long, value_name = "NORM")]
    pub clip_grad_norm: Option<f32>,
    /// A GAN's adversarial loss: non-saturating (default), minimax, least-squares (lsgan),
    /// wasserstein (wgan; weight clipping 0.01 and 5 D steps per G step unless set), hinge.
    #[arg(long, value_name = "LOSS")]
    pub gan_loss: Option<String>,
    /// A GAN's discriminator steps per generator step (WGAN's n_critic; default 1).
    #[arg(long, value_name = "N")]
    pub d_steps: Option<usize>,
    /// Clip a GAN discriminator's weights to -C..C after each of its steps (WGAN).
    #[arg(long, value_name = "C")]
    pub clip_weights: Option<f32>,
    /// Train on at most this many batches per epoch (quick looks).
    #[arg(long, value_name = "N")]
    pub limit_batches: Option<usize>,
    /// Seed of the weights, batches and every random draw (default 1).
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    /// The data.
    pub data: DataArgs,
    /// The run directory (default runs/MODEL, or runs/MODEL-2, ... if taken).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its last checkpoint (to --epochs in total).
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// Replace a run already in --out.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Print only errors and the final summary.
    #[arg(long)]
    pub quiet: bool,
    /// Print the result as one JSON object (the identity network's table).
    #[arg(long)]
    pub json: bool,
}

/// `latent eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The run directory.
    pub run: PathBuf,
    /// Also estimate log p(x) of a VAE with K importance samples per test image (the literature
    /// uses 5,000; at most 1,000,000; 0 skips it).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub iw_samples: usize,
    /// Evaluate on at most this many test images.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Also draw N samples from the generator and score them as `latent score` does (Fréchet
    /// distance, KID, precision/recall, ...; 10,000, the convention, when N is left out; fewer
    /// are warned about).
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "10000")]
    pub samples: Option<usize>,
    /// Seed of the prior draws of --samples (0, as `latent sample`'s default).
    #[arg(long, value_name = "SEED", default_value_t = 0, requires = "samples")]
    pub sample_seed: u64,
    /// The judge of --samples (default: the data set's cached classifier, trained when missing).
    #[arg(long, value_name = "FILE", requires = "samples")]
    pub classifier: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// The data (default: what the run was trained on).
    pub data: DataArgs,
}

/// `latent sample`.
#[derive(Args, Debug)]
pub struct SampleArgs {
    /// The run directory.
    pub run: PathBuf,
    /// How many samples.
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    /// Output file: .png (a grid of at most 10,000) or .npy (values in 0..1, shape N x 784,
    /// written 1,024 rows at a time, so any N the disk holds).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the prior draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Draw this class, a label below the model's class count (conditional models only, such as
    /// cvae; without it they cycle through the classes).
    #[arg(long, value_name = "K")]
    pub label: Option<u8>,
}

/// `latent reconstruct`.
#[derive(Args, Debug)]
pub struct ReconstructArgs {
    /// The run directory.
    pub run: PathBuf,
    /// Corrupt the test digits first: gaussian:STD, mask:FRACTION, salt-pepper:FRACTION.
    #[arg(long, value_name = "SPEC")]
    pub noise: Option<String>,
    /// How many test digits (the first N).
    #[arg(long, default_value_t = 16)]
    pub n: usize,
    /// Output file: .png (originals above, reconstructions below) or .npy (reconstructions).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the corruption.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    /// The data (default: what the run was trained on).
    pub data: DataArgs,
}

/// `latent interpolate`.
#[derive(Args, Debug)]
pub struct InterpolateArgs {
    /// The run directory.
    pub run: PathBuf,
    /// Index of the first test digit.
    #[arg(long)]
    pub from: usize,
    /// Index of the last test digit.
    #[arg(long)]
    pub to: usize,
    /// Points on the line, ends included.
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Output file: .png (one row, at most 10,000 points) or .npy (shape steps x 784, written
    /// 1,024 rows at a time).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    /// The data (default: what the run was trained on).
    pub data: DataArgs,
}

/// `latent embed`.
#[derive(Args, Debug)]
pub struct EmbedArgs {
    /// The run directory.
    pub run: PathBuf,
    /// Output .npy of the codes, shape N x latent_dim (the mean for a VAE).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the test labels as .npy (u8, one per image).
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Also draw a scatter plot of the codes coloured by class; codes of more than two
    /// dimensions are projected on their first two principal components (the title says so).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    #[command(flatten)]
    /// The data (default: what the run was trained on).
    pub data: DataArgs,
}

/// `latent decode`.
#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// The run directory.
    pub run: PathBuf,
    /// The codes: a .npy of float32 or float64, shape N x latent_dim (what `latent embed`
    /// writes, or draws from N(0, I) to sample).
    #[arg(long, value_name = "FILE")]
    pub codes: PathBuf,
    /// Output file: .npy (N rows in the data's units: pixels in 0..1, real values
    /// de-standardised; written 1,024 rows at a time) or .png (a grid of images).
    #[arg(long)]
    pub out: PathBuf,
    /// The label of each code, for conditional models: a .npy of N labels (uint8, int64 or
    /// whole-number float32).
    #[arg(long, value_name = "FILE", conflicts_with = "label")]
    pub labels: Option<PathBuf>,
    /// One label for every code (conditional models).
    #[arg(long, value_name = "K")]
    pub label: Option<u8>,
}

/// The formats `latent export` writes.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One ONNX graph per part (encoder.onnx, decoder.onnx, generator.onnx, classifier.onnx),
    /// opset 17, free batch axis N.
    Onnx,
    /// model.py (plain torch.nn modules, state_dict = model.safetensors, load(dir)), the
    /// weights and the training state.
    Torch,
}

/// `latent export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The run directory.
    pub run: PathBuf,
    /// The format: onnx or torch.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The directory to write (created if needed; not a run directory).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `latent info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The run directory.
    pub run: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `latent serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The run directories to explore (each is served under its directory's name).
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// The port to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The address to listen on. The default answers this machine only; another (0.0.0.0 for
    /// every interface) lets anyone who can reach it use the models, without a password.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDRESS")]
    pub host: String,
    /// Open the page in the default browser once the server listens.
    #[arg(long)]
    pub open: bool,
    #[command(flatten)]
    /// The data (default: what each run was trained on).
    pub data: DataArgs,
}

/// The pixel range of the images given to `latent classify`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleRange {
    /// Values in -1..1 if any value is below 0, else 0..1.
    Auto,
    /// Values in 0..1 (a sigmoid output, as `latent sample` writes).
    ZeroOne,
    /// Values in -1..1 (a tanh output, as a GAN writes); mapped to 0..1.
    MinusOneOne,
}

/// `latent classify`.
#[derive(Args, Debug)]
pub struct ClassifyArgs {
    /// The samples to judge: a float32 .npy of N examples of the data's shape (N x 784, N x 28 x
    /// 28 or N x 1 x 28 x 28 for MNIST; N x C x H x W or N x D for other data).
    pub samples: PathBuf,
    /// The classifier file (default: the data set's own, classifiers/NAME-DIGEST.safetensors in
    /// the user's data directory, trained and written there when missing).
    #[arg(long, value_name = "FILE")]
    pub classifier: Option<PathBuf>,
    /// Train the classifier anew on the data (by default full MNIST if present, else the
    /// sample) and write it to the classifier file.
    #[arg(long)]
    pub train_classifier: bool,
    /// Epochs when training the classifier.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub classifier_epochs: usize,
    /// The digit each sample was drawn for (conditional models): a .npy of N labels (uint8,
    /// int64 or whole-number float32).
    #[arg(long, value_name = "FILE", conflicts_with = "label")]
    pub labels: Option<PathBuf>,
    /// Every sample was drawn for this class label (conditional models).
    #[arg(long, value_name = "K")]
    pub label: Option<u8>,
    /// Also measure each sample's distance to its nearest training digit, beside the same
    /// figures for real test digits.
    #[arg(long)]
    pub nearest: bool,
    /// How many test digits (the first ones) make the --nearest baseline.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub baseline: usize,
    /// The samples' pixel range: auto, zero-one or minus-one-one.
    #[arg(long, value_enum, value_name = "RANGE", default_value_t = SampleRange::Auto)]
    pub range: SampleRange,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// The data the classifier trains on and --nearest searches (default: full MNIST if
    /// present, else the sample).
    pub data: DataArgs,
}

/// `latent score`.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// The samples to score: a float32 .npy of N examples of the data's shape (N x 784, N x 28 x
    /// 28 or N x 1 x 28 x 28 for MNIST; N x C x H x W or N x D for other data), pixels in [0, 1]
    /// or [-1, 1]. 10,000 is the convention; fewer are warned about.
    pub samples: PathBuf,
    /// The judge (default: the data set's own, classifiers/NAME-DIGEST.safetensors in the user's
    /// data directory, trained and written there when missing).
    #[arg(long, value_name = "FILE")]
    pub classifier: Option<PathBuf>,
    /// Train the judge anew and write it to the classifier file.
    #[arg(long)]
    pub train_classifier: bool,
    /// Epochs when training the judge.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub classifier_epochs: usize,
    /// KID's random subsets.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub kid_subsets: usize,
    /// KID's subset size (the smaller set's size when that is less).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub kid_subset_size: usize,
    /// Neighbours of precision, recall, density and coverage.
    #[arg(long, value_name = "K", default_value_t = 5)]
    pub k: usize,
    /// Samples (the first ones) and test examples searched for their nearest training example,
    /// the check for copies; 0 skips it.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub nearest: usize,
    /// The samples' pixel range: auto, zero-one or minus-one-one.
    #[arg(long, value_enum, value_name = "RANGE", default_value_t = SampleRange::Auto)]
    pub range: SampleRange,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// The data the samples imitate (default: full MNIST if present, else the sample).
    pub data: DataArgs,
}

/// `latent fetch`.
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// The data set.
    #[arg(value_enum, value_name = "NAME")]
    pub dataset: FetchName,
    /// How to fetch it.
    #[command(flatten)]
    pub options: FetchOptions,
}

/// The data sets `latent fetch` knows.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchName {
    /// MNIST: 70,000 handwritten digits (about 11 MB).
    Mnist,
    /// Fashion-MNIST: 70,000 pictures of clothing in ten classes (about 30 MB).
    FashionMnist,
    /// Kuzushiji-MNIST: 70,000 cursive Japanese characters in ten classes (about 20 MB).
    Kmnist,
    /// The colour shapes of `--dataset shapes`, written as an image folder of 12,000 PNG files
    /// (train/ and test/, one subfolder per class; about 15 MB) for use with --data. Nothing is
    /// downloaded: they are drawn here.
    Shapes,
}

impl FetchName {
    /// The data set's entry in the catalog (`None` for the generated shapes).
    pub fn dataset(self) -> Option<&'static latent_data::catalog::NamedDataset> {
        match self {
            FetchName::Mnist => Some(&latent_data::catalog::MNIST),
            FetchName::FashionMnist => Some(&latent_data::catalog::FASHION_MNIST),
            FetchName::Kmnist => Some(&latent_data::catalog::KMNIST),
            FetchName::Shapes => None,
        }
    }
}

/// How `latent fetch` (and `cargo xtask fetch-mnist`) fetch.
#[derive(Args, Debug, Clone)]
pub struct FetchOptions {
    /// Destination directory [default: NAME/ in the user's data directory, e.g.
    /// ~/.local/share/latent/mnist, where training looks for it].
    #[arg(long, value_name = "DIR")]
    pub dest: Option<PathBuf>,
    /// A mirror to try before the public ones: an http(s) base URL, a directory, or a file://
    /// URL. Repeatable; tried in the order given.
    #[arg(long = "mirror", value_name = "URL_OR_DIR")]
    pub mirrors: Vec<String>,
    /// Do not fall back to the public mirrors.
    #[arg(long)]
    pub no_default_mirrors: bool,
    /// Only check the files already in the destination; download nothing.
    #[arg(long)]
    pub verify: bool,
    /// Seconds to wait to resolve a host, to connect, for an answer and for each read before
    /// giving up on an attempt.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
    /// Retries per mirror after a timeout, a cut transfer or a server error.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub retries: u32,
    /// The slowest transfer accepted, in KiB/s averaged over each --timeout seconds; a slower
    /// mirror is abandoned for the next one. 0 accepts any rate.
    #[arg(long, value_name = "KIB_PER_S", default_value_t = 10)]
    pub min_rate: u64,
}

/// Which examples fit an anomaly threshold.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitOn {
    /// The validation split if the run held one out (`--val-fraction`), else the training split.
    Auto,
    /// The run's training split (the examples the model was trained on).
    Train,
    /// The run's validation split (examples of the training classes it was not trained on).
    Val,
}

/// Which examples of the run's own data `latent anomaly` scores.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalSet {
    /// The whole test split, every class (the one-class protocol of Ruff et al.).
    Test,
    /// The test split and every training example of a class the run left out (`--classes`):
    /// all the examples the model never saw.
    Unseen,
}

/// The baselines `latent anomaly` can score beside the model.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// The reconstruction error of PCA with as many components as the model's code.
    Pca,
}

/// `latent anomaly`.
#[derive(Args, Debug)]
pub struct AnomalyArgs {
    /// The run directory (an autoencoder or VAE, typically trained with `--classes` on the
    /// normal class).
    pub run: PathBuf,
    /// The score (higher: more anomalous): recon (the reconstruction error: BCE for pixels,
    /// squared error for real values), elbo or elbo:S (a VAE's negative ELBO, S draws, default 10),
    /// iwae:K (a VAE's negative log p(x), K importance samples), latent (the squared
    /// Mahalanobis distance of the code to the training codes). Default: the score last fitted,
    /// else recon.
    #[arg(long, value_name = "SCORE")]
    pub score: Option<String>,
    /// How the threshold is fitted on the training scores: quantile:Q (flag what scores above
    /// the Q-quantile; default quantile:0.95), contamination:C (the same as quantile:1-C), or a
    /// number. Given, it refits and stores the threshold in the run (anomaly.json); without
    /// it the stored threshold is used.
    #[arg(long, value_name = "SPEC")]
    pub threshold: Option<String>,
    /// The classes that are normal, by name or label number, comma-separated (default: the
    /// run's --classes); every other class is anomalous.
    #[arg(long, value_name = "LIST", value_delimiter = ',', conflicts_with = "anomaly_classes")]
    pub normal_classes: Option<Vec<String>>,
    /// The classes that are anomalous, comma-separated; every other class is normal.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub anomaly_classes: Option<Vec<String>>,
    /// The examples the threshold is fitted on.
    #[arg(long, value_enum, value_name = "SPLIT", default_value_t = FitOn::Auto)]
    pub fit_on: FitOn,
    /// Which examples of the run's own data are scored (new data given by --data is scored
    /// whole).
    #[arg(long = "eval", value_enum, value_name = "SET", default_value_t = EvalSet::Test)]
    pub eval_set: EvalSet,
    /// Also score a baseline on the same examples, with its own threshold fitted the same way.
    #[arg(long, value_enum, value_name = "METHOD")]
    pub baseline: Option<Baseline>,
    /// Where to write scores.csv and the pictures (default: RUN/anomaly, or
    /// RUN/anomaly-NAME for new data NAME).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed of the draws of the elbo and iwae scores.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// New data to score, every example of it (default: the run's own data, as --eval says).
    pub data: DataArgs,
}

/// `latent pca`.
#[derive(Args, Debug)]
pub struct PcaArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: PcaAction,
}

/// The actions of `latent pca`.
#[derive(Subcommand, Debug)]
pub enum PcaAction {
    /// Fit principal components to a data set's training split; report the explained variance
    /// and the test reconstruction error; write the fit (pca.json) and pictures to a directory.
    Fit(PcaFitArgs),
    /// The coordinates of examples on fitted components, as .npy.
    Transform(PcaTransformArgs),
    /// Examples back from their coordinates (the inverse transform), as .npy or a PNG grid.
    Inverse(PcaInverseArgs),
}

/// `latent pca fit`.
#[derive(Args, Debug)]
pub struct PcaFitArgs {
    /// The number of components (at most the examples' size).
    #[arg(long, short = 'k', value_name = "K", default_value_t = 32)]
    pub components: usize,
    /// The directory to write pca.json, explained-variance.png and (for images)
    /// components.png and reconstructions.png to.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace a fit already in --out.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// The data.
    pub data: DataArgs,
}

/// `latent pca transform`.
#[derive(Args, Debug)]
pub struct PcaTransformArgs {
    /// The directory of a fit (`latent pca fit --out DIR`).
    pub fit: PathBuf,
    /// Output .npy of the coordinates, N x K (float32).
    #[arg(long)]
    pub out: PathBuf,
    /// Examples to transform: a float32 .npy of N rows of the data's size, in the data's own
    /// units (pixels in 0..1). Default: the test split of the data the fit was made on.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    /// The data (default: what the fit was made on).
    pub data: DataArgs,
}

/// `latent pca inverse`.
#[derive(Args, Debug)]
pub struct PcaInverseArgs {
    /// The directory of a fit (`latent pca fit --out DIR`).
    pub fit: PathBuf,
    /// The coordinates: a float32 .npy of N x K values (as `latent pca transform` writes).
    #[arg(long, value_name = "FILE")]
    pub codes: PathBuf,
    /// Output: .npy (N rows in the data's own units) or .png (a grid, images only).
    #[arg(long)]
    pub out: PathBuf,
}

/// `latent compare-pca`.
#[derive(Args, Debug)]
pub struct ComparePcaArgs {
    /// The run directory (an autoencoder or VAE).
    pub run: PathBuf,
    /// PCA components (default: the run's code size).
    #[arg(long, short = 'k', value_name = "K")]
    pub components: Option<usize>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// The data (default: what the run was trained on).
    pub data: DataArgs,
}

/// `latent probe`.
#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// The run directory (a model with an encoder).
    pub run: PathBuf,
    /// Labelled training examples per class, comma-separated; `all` for every one.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "10,100,all")]
    pub labels_per_class: Vec<String>,
    /// Draws of the labelled examples averaged for each N below `all` (mean and standard
    /// deviation reported).
    #[arg(long, value_name = "R", default_value_t = 5)]
    pub repeats: usize,
    /// Seed of the draws of labelled examples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The weight of the logistic regression's L2 penalty (1: scikit-learn's default C = 1).
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub l2: f64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// The data (default: what the run was trained on).
    pub data: DataArgs,
}

/// `latent manifold`.
#[derive(Args, Debug)]
pub struct ManifoldArgs {
    /// The run directory (a VAE, or any model with a decoder, whose code has 2 dimensions).
    pub run: PathBuf,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
    /// Codes per side of the grid.
    #[arg(long, default_value_t = 20)]
    pub n: usize,
    /// The grid spans the prior's quantiles from this fraction to one minus it (Kingma and
    /// Welling's figure: 0.05).
    #[arg(long, value_name = "F", default_value_t = 0.05)]
    pub margin: f64,
    /// The class to decode (conditional models).
    #[arg(long, value_name = "K")]
    pub label: Option<u8>,
}

/// `latent traverse`.
#[derive(Args, Debug)]
pub struct TraverseArgs {
    /// The run directory (a model with a decoder; a VAE's prior makes the range meaningful).
    pub run: PathBuf,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
    /// Codes per row.
    #[arg(long, default_value_t = 11)]
    pub steps: usize,
    /// Each dimension runs from -RANGE to RANGE (prior standard deviations for a VAE).
    #[arg(long, value_name = "RANGE", default_value_t = 3.0)]
    pub range: f64,
    /// Start from the code of this test example (default: the zero code, the prior's mean).
    #[arg(long, value_name = "INDEX")]
    pub from: Option<usize>,
    /// The class to decode (conditional models).
    #[arg(long, value_name = "K")]
    pub label: Option<u8>,
    #[command(flatten)]
    /// The data of --from (default: what the run was trained on).
    pub data: DataArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_samples_defaults_to_ten_thousand_when_given_bare() {
        let eval = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            Command::Eval(e) => e.samples,
            other => panic!("{other:?}"),
        };
        assert_eq!(eval(&["latent", "eval", "run", "--samples"]), Some(10_000));
        assert_eq!(eval(&["latent", "eval", "run", "--samples", "300"]), Some(300));
        assert_eq!(eval(&["latent", "eval", "run"]), None);
    }
}
