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
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model and write a run directory (config, weights, metrics, pictures).
    Train(TrainArgs),
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
    /// Describe a run: model, parameters, training so far.
    Info(InfoArgs),
}

/// Where the data comes from.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// A directory of MNIST-format files (the four IDX files, .gz or raw); overrides --dataset
    /// and LATENT_DATA_DIR.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Which data: full MNIST (datasets/mnist; fetch it with `cargo xtask fetch-mnist`) or the
    /// bundled 10,000/2,000-digit sample. Default: full MNIST if present, else the sample.
    #[arg(long, value_enum, value_name = "NAME")]
    pub dataset: Option<DatasetName>,
}

/// The named data sets.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetName {
    /// The full MNIST in datasets/mnist (60,000 training, 10,000 test digits).
    Mnist,
    /// The bundled sample in datasets/mnist-sample (10,000 training, 2,000 test digits).
    MnistSample,
}

/// The model families `latent train` knows.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelName {
    /// MLP autoencoder (presets: deep, shallow, 2d, overcomplete).
    Ae,
    /// Denoising autoencoder: corrupted inputs, clean targets (presets: deep, overcomplete).
    Dae,
    /// Sparse autoencoder: an L1 or KL penalty on the code (presets: kl, l1).
    Sparse,
    /// Contractive autoencoder: a Jacobian penalty (preset: sigmoid).
    Contractive,
    /// Variational autoencoder (presets: pytorch-examples, 2d, beta4).
    Vae,
    /// The 8-3-8 identity network of the textbook figure (prints its table).
    Identity,
}

impl ModelName {
    /// The name used by presets and run directories.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelName::Ae => "ae",
            ModelName::Dae => "dae",
            ModelName::Sparse => "sparse",
            ModelName::Contractive => "contractive",
            ModelName::Vae => "vae",
            ModelName::Identity => "identity",
        }
    }
}

/// `latent train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The model family.
    #[arg(value_enum)]
    pub model: ModelName,
    /// The architecture within the family (default: the family's first preset; see
    /// `latent train --help` for the list).
    #[arg(long)]
    pub preset: Option<String>,
    /// Epochs to train (default 10).
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Examples per batch (default 128).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Adam's learning rate (default 0.001).
    #[arg(long)]
    pub lr: Option<f64>,
    /// The code size (overrides the preset's).
    #[arg(long)]
    pub latent_dim: Option<usize>,
    /// Encoder hidden widths, comma-separated, input side first; the decoder mirrors them
    /// (e.g. `512,128`; an empty string for none).
    #[arg(long, value_name = "W,W,...")]
    pub hidden: Option<String>,
    /// Hidden-layer activation: relu, leaky_relu, elu, sigmoid, tanh, softplus.
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
    /// uses 5,000; 0 skips it).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub iw_samples: usize,
    /// Evaluate on at most this many test images.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
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
    /// Output file: .png (a grid) or .npy (values in 0..1, shape N x 784).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the prior draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
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
    /// Output file: .png (one row) or .npy (shape steps x 784).
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
    /// Also draw a scatter plot of the codes coloured by digit (2-D codes only).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    #[command(flatten)]
    /// The data (default: what the run was trained on).
    pub data: DataArgs,
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
