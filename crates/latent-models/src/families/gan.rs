//! [`Gan`]: generative adversarial networks — the MLP GAN, the DCGAN and the conditional GAN —
//! and the adversarial training step they share.
//!
//! # Design
//! - A GAN is two networks, a generator `G` (noise `z` → image, tanh output in [-1, 1]) and a
//!   discriminator `D` (image → one logit), each a [`Sequential`] that maps flat rows to flat
//!   rows (the DCGAN's convolutions unflatten and flatten inside). The architecture is the only
//!   difference between the family's members, so one type serves them all: [`GanConfig`]
//!   builds the MLP GAN (and, with `classes > 0`, the conditional GAN, whose `G` reads
//!   `[z, onehot(y)]` and whose `D` reads `[x, onehot(y)]`), [`DcganConfig`] the DCGAN.
//!   Parameter names are `generator.*` and `discriminator.*`, PyTorch's `nn.Sequential` names.
//! - Training data are scaled to [-1, 1] ([`Description::scale`]). What the model shows
//!   ([`Decoder::decode`], [`Generator::sample`]) is `(G(z) + 1) / 2`, in [0, 1] like every other
//!   model's pictures and `.npy` files.
//! - Two networks, two optimisers: [`Model::optimizer_groups`] asks for an Adam per network
//!   (`"generator"`, `"discriminator"`, the run's learning rate, [`GanTraining::betas`]), and
//!   [`Model::train_step`] runs one iteration in the order of the reference script
//!   (`torch_gan.py`, the PyTorch DCGAN example's order), one batch of real images per call:
//!   1. draw one `z` per real image (from the run's generator in the [`Ctx`]) and `fake = G(z)`;
//!   2. D step: `loss_D(D(real), D(fake.detach()))`, backward, Adam on `discriminator.*` only;
//!      for WGAN, then clip every D weight to `[-c, c]` ([`GanTraining::clip_weights`]);
//!   3. G step, on every `d_steps`-th call only ([`GanTraining::d_steps`], WGAN's `n_critic`):
//!      `loss_G(D(fake))` with the *updated* D and the same fake batch, backward through D and
//!      G, Adam on `generator.*` only.
//!
//!   D's BatchNorm layers (DCGAN) see the real and the fake batch separately, as in PyTorch.
//!   With `d_steps > 1`, a call without a G step computes `G(z)` without a graph.
//! - The adversarial loss is a [`GanLoss`] (non-saturating by default; minimax, least squares,
//!   Wasserstein, hinge), chosen per run.
//! - What a GAN user watches, per batch and summed over its images like every model's parts
//!   (so per-image figures are averages): `d_loss` and `g_loss` (each a batch mean, times the
//!   batch size), `d_real` and `d_fake` (the mean of `σ(D(x))` on real images and of
//!   `σ(D(G(z)))` on fakes, the D step's view). `loss` is `d_loss` (the reference script's
//!   `train_loss`). On calls without a G step, `g_loss` is the generator loss on the D step's
//!   fake logits. [`Model::objective`] (what `latent eval` and the trainer's test pass report)
//!   computes the same parts on test images against as many fresh fakes, without steps.
//! - BatchNorm (DCGAN) is evaluated as it trains: in the objective, each batch (the real images,
//!   the fakes) is normalised by its own statistics, even in evaluation mode, and the running
//!   statistics are left alone ([`Ctx::set_batch_statistics`]). D's running statistics average
//!   real and fake batches (three updates per step: real, fake, fake again in the G step), a
//!   mixture it never judged: with them a DCGAN's D gave real test digits a mean D(x) of 0.0013
//!   after one epoch on the sample, while training showed 0.886 and batch statistics give 0.895.
//!   PyTorch's DCGAN example never leaves training mode, so it always uses batch statistics.
//!   Drawing images ([`Decoder::decode`], [`Generator::sample`]) uses G's running statistics,
//!   which average batches of the one distribution G sees, `z ~ N(0, I)`.
//! - A GAN has no encoder ([`Model::encoder`] is `None`); its decoder is the generator. The
//!   conditional GAN takes labels like the conditional VAE: `decode` needs them, `sample`
//!   without them gives row `i` the label `i mod classes`.
//! - Kinds: `gan` (MLP), `cgan` (MLP with `classes > 0`) here, `dcgan` in [`super::dcgan`].

use latent_data::Batch;
pub use latent_losses::GanLoss;
use latent_nn::layers::Sequential;
use latent_nn::optim::clip_grad_norm;
use latent_nn::{Ctx, Layer, Module};
use latent_tensor::{Tensor, TensorRng, no_grad};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use latent_data::Scale;

use crate::architecture::{Architecture, Graph, Op, Port, Submodule, code_port, label_port};
use crate::blocks::labels::with_labels;
use crate::blocks::mlp::{mlp, widths};
use crate::config::{Activation, check_classes, positive};
use crate::error::{ModelError, Result};
pub use crate::families::dcgan::DcganConfig;
use crate::family::{Description, FamilyConfig, ModelConfig, ModelFlags, Preset};
use crate::memory::Footprint;
use crate::model::{Decoder, Generator, Model, Objective, Parts, check_labels, data_tensor, sample_labels};
use crate::optimizers::{OptimizerGroup, OptimizerSpec, Optimizers, StepContext, params_under, take_grads_under};
use crate::train::TrainOptions;

/// The optimiser name of the generator's parameters.
pub const GENERATOR: &str = "generator";
/// The optimiser name of the discriminator's parameters.
pub const DISCRIMINATOR: &str = "discriminator";

/// How a GAN trains: the loss, the schedule of D and G steps, WGAN's weight clipping, Adam's
/// betas.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GanTraining {
    /// The adversarial loss (`non-saturating`, `minimax`, `least-squares`, `wasserstein`,
    /// `hinge`).
    #[serde(serialize_with = "loss_to_str", deserialize_with = "loss_from_str")]
    pub loss: GanLoss,
    /// Discriminator steps per generator step (WGAN's `n_critic`; 1 for the reference script).
    pub d_steps: usize,
    /// After each D step, clip every discriminator weight to `[-c, c]` (WGAN's Lipschitz
    /// constraint); `None` for no clipping.
    pub clip_weights: Option<f32>,
    /// Adam's `(β₁, β₂)` for both networks (DCGAN's `(0.5, 0.999)`).
    pub betas: (f64, f64),
}

impl Default for GanTraining {
    /// The reference script's: non-saturating loss, one D step per G step, no clipping,
    /// betas `(0.5, 0.999)`.
    fn default() -> Self {
        GanTraining { loss: GanLoss::NonSaturating, d_steps: 1, clip_weights: None, betas: (0.5, 0.999) }
    }
}

impl GanTraining {
    /// Check every field, named as its command-line flag.
    ///
    /// # Errors
    /// On the first invalid field.
    pub fn validate(&self) -> Result<()> {
        if self.d_steps == 0 {
            return Err(ModelError::config("--d-steps", "must be at least 1"));
        }
        if let Some(c) = self.clip_weights
            && !(c.is_finite() && c > 0.0)
        {
            return Err(ModelError::config("--clip-weights", format!("must be a positive number, found {c}")));
        }
        let (b1, b2) = self.betas;
        if !((0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2)) {
            return Err(ModelError::config("betas", format!("Adam's betas must be in [0, 1), found ({b1}, {b2})")));
        }
        Ok(())
    }
}

fn loss_to_str<S: Serializer>(loss: &GanLoss, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(loss.name())
}

fn loss_from_str<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<GanLoss, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// An MLP GAN (`classes == 0`) or conditional GAN (`classes > 0`): `G` is
/// `latent (+classes) → generator_hidden → output`, LeakyReLU(0.2) between layers and tanh
/// out; `D` is `output (+classes) → discriminator_hidden → 1`, LeakyReLU(0.2) between layers,
/// a logit out. PyTorch's default initialisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GanConfig {
    /// The size of the noise `z` (100 in the reference script).
    pub latent_dim: usize,
    /// The size of an image (784 for MNIST).
    pub output_dim: usize,
    /// The generator's hidden widths, noise side first.
    pub generator_hidden: Vec<usize>,
    /// The discriminator's hidden widths, image side first.
    pub discriminator_hidden: Vec<usize>,
    /// The number of labels both halves are conditioned on (0: unconditional).
    #[serde(default)]
    pub classes: usize,
    /// How it trains.
    #[serde(default)]
    pub training: GanTraining,
}

impl GanConfig {
    /// Check every field (`classes` 0 or 1 to 256).
    ///
    /// # Errors
    /// On the first invalid field.
    pub fn validate(&self) -> Result<()> {
        positive("latent_dim", self.latent_dim)?;
        positive("output_dim", self.output_dim)?;
        self.generator_hidden.iter().try_for_each(|&h| positive("generator_hidden", h))?;
        self.discriminator_hidden.iter().try_for_each(|&h| positive("discriminator_hidden", h))?;
        if self.classes > 0 {
            check_classes(self.classes)?;
        }
        self.training.validate()
    }
}

/// `t` changed by `--gan-loss`, `--d-steps` and `--clip-weights`. The Wasserstein loss brings
/// WGAN's defaults (clip 0.01, 5 D steps per G step) unless the flags set them.
///
/// # Errors
/// If a flag does not parse.
pub(crate) fn apply_gan_flags(t: &mut GanTraining, flags: &ModelFlags) -> Result<()> {
    if let Some(loss) = flags.get::<GanLoss>("gan-loss")? {
        t.loss = loss;
        if loss == GanLoss::Wasserstein {
            t.clip_weights = Some(0.01);
            t.d_steps = 5;
        }
    }
    if let Some(d) = flags.get("d-steps")? {
        t.d_steps = d;
    }
    if let Some(c) = flags.get("clip-weights")? {
        t.clip_weights = Some(c);
    }
    Ok(())
}

/// The flags every GAN takes.
pub(crate) const GAN_FLAGS: &[&str] = &["latent-dim", "gan-loss", "d-steps", "clip-weights"];

/// The training options of the GANs' reference scripts: Adam 2e-4 with betas (0.5, 0.999)
/// for both networks (the betas are [`GanTraining::betas`]).
pub(crate) fn gan_train(epochs: u64, batch_size: usize) -> TrainOptions {
    TrainOptions { epochs, batch_size, learning_rate: 2e-4, ..TrainOptions::default() }
}

/// The GANs' generators end in tanh, making pixels on [-1, 1]: standardised real values have
/// no such range, so the GANs refuse them rather than train a generator that cannot reach them.
///
/// # Errors
/// For data of real values.
pub(crate) fn refuse_real_values(flags: &ModelFlags) -> Result<()> {
    if flags.value_kind == Some(latent_data::ValueKind::Real) {
        return Err(ModelError::config(
            "data",
            "the GANs generate pixels (a tanh output on [-1, 1]); this data holds real values: use vae or ae",
        ));
    }
    Ok(())
}

impl FamilyConfig for GanConfig {
    const KINDS: &'static [&'static str] = &["gan", "cgan"];

    fn flags(_model: &str) -> &'static [&'static str] {
        GAN_FLAGS
    }

    fn kind(&self) -> &'static str {
        if self.classes > 0 { "cgan" } else { "gan" }
    }

    fn from_fields(kind: &str, fields: serde_json::Value) -> Result<Self> {
        let c: GanConfig = serde_json::from_value(fields).map_err(|e| ModelError::config(kind, e.to_string()))?;
        match (kind, c.classes) {
            ("cgan", 0) => Err(ModelError::config("classes", "a conditional GAN needs at least 1 class")),
            ("gan", n) if n > 0 => {
                Err(ModelError::config("classes", format!("an unconditional GAN has none, found {n}; use cgan")))
            }
            _ => Ok(c),
        }
    }

    fn validate(&self) -> Result<()> {
        GanConfig::validate(self)
    }

    fn describe(&self) -> Description {
        Description {
            kind: self.kind().to_string(),
            input_dim: self.output_dim,
            latent_dim: self.latent_dim,
            scale: Scale::MinusOneOne,
            noise: latent_data::NoiseSpec::None,
            classes: (self.classes > 0).then_some(self.classes),
        }
    }

    /// The discriminator, then the generator (the data's input is D's).
    fn footprint(&self) -> Footprint {
        let leaky = Activation::LeakyRelu;
        let g_dims = widths(self.latent_dim + self.classes, &self.generator_hidden, self.output_dim);
        let d_dims = widths(self.output_dim + self.classes, &self.discriminator_hidden, 1);
        Footprint::of_layers(&mlp(&d_dims, leaky, None), &d_dims[..1])
            .plus(Footprint::of_layers(&mlp(&g_dims, leaky, Some(Activation::Tanh)), &g_dims[..1]))
    }

    fn apply_flags(&mut self, flags: &ModelFlags) -> Result<()> {
        refuse_real_values(flags)?;
        if let Some(shape) = flags.data_shape {
            self.output_dim = shape.iter().product();
        }
        if let Some(c) = flags.classes
            && self.classes > 0
        {
            self.classes = c;
        }
        if let Some(v) = flags.get("latent-dim")? {
            self.latent_dim = v;
        }
        apply_gan_flags(&mut self.training, flags)
    }

    /// The MLP GANs of the reference `torch_gan.py`: batch 64 for 30 epochs (the issue's
    /// evaluation point).
    fn presets() -> Vec<Preset> {
        let mlp = |classes| GanConfig {
            latent_dim: 100,
            output_dim: 784,
            generator_hidden: vec![256, 512, 1024],
            discriminator_hidden: vec![512, 256],
            classes,
            training: GanTraining::default(),
        };
        vec![
            Preset {
                model: "gan",
                name: "mlp",
                summary: "G 100-256-512-1024-784, D 784-512-256-1, LeakyReLU(0.2), tanh out (the reference torch_gan.py)",
                config: ModelConfig::new(&mlp(0)),
                train: gan_train(30, 64),
            },
            Preset {
                model: "cgan",
                name: "mlp",
                summary: "the MLP GAN with the digit label one-hot beside G's noise and D's image",
                config: ModelConfig::new(&mlp(10)),
                train: gan_train(30, 64),
            },
        ]
    }

    fn build(&self, rng: &mut TensorRng) -> Result<Box<dyn Model>> {
        Ok(Box::new(Gan::mlp(self.clone(), rng)?))
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Arch {
    Mlp(GanConfig),
    Conv(DcganConfig),
}

/// A GAN of the family (see the module docs).
#[derive(Module)]
pub struct Gan {
    #[module(skip)]
    arch: Arch,
    generator: Sequential,
    discriminator: Sequential,
}

impl Gan {
    /// An MLP GAN, or a conditional GAN when `config.classes > 0`, with PyTorch's default
    /// initial weights drawn from `rng` (the generator's first).
    ///
    /// # Errors
    /// If the configuration is invalid.
    pub fn mlp(config: GanConfig, rng: &mut TensorRng) -> Result<Self> {
        config.validate()?;
        let leaky = Activation::LeakyRelu;
        let g_dims = widths(config.latent_dim + config.classes, &config.generator_hidden, config.output_dim);
        let generator = Sequential::from_specs(&mlp(&g_dims, leaky, Some(Activation::Tanh)), rng)?;
        let d_dims = widths(config.output_dim + config.classes, &config.discriminator_hidden, 1);
        let discriminator = Sequential::from_specs(&mlp(&d_dims, leaky, None), rng)?;
        Ok(Gan { arch: Arch::Mlp(config), generator, discriminator })
    }

    /// A DCGAN with DCGAN's initialisation (convolution weights `N(0, 0.02²)`, BatchNorm
    /// weights `N(1, 0.02²)`, BatchNorm biases 0) drawn from `rng`.
    ///
    /// # Errors
    /// If the configuration is invalid.
    pub fn dcgan(config: DcganConfig, rng: &mut TensorRng) -> Result<Self> {
        config.validate()?;
        let mut generator = Sequential::from_specs(&config.generator_specs(), rng)?;
        let mut discriminator = Sequential::from_specs(&config.discriminator_specs(), rng)?;
        latent_nn::init::dcgan(&mut generator, rng)?;
        latent_nn::init::dcgan(&mut discriminator, rng)?;
        Ok(Gan { arch: Arch::Conv(config), generator, discriminator })
    }

    /// How it trains.
    pub fn training(&self) -> &GanTraining {
        match &self.arch {
            Arch::Mlp(c) => &c.training,
            Arch::Conv(c) => &c.training,
        }
    }

    /// The size of the noise `z`.
    pub fn latent_dim(&self) -> usize {
        match &self.arch {
            Arch::Mlp(c) => c.latent_dim,
            Arch::Conv(c) => c.latent_dim,
        }
    }

    /// The number of labels it is conditioned on (0: none).
    pub fn class_count(&self) -> usize {
        match &self.arch {
            Arch::Mlp(c) => c.classes,
            Arch::Conv(_) => 0,
        }
    }

    /// `t` with the labels' one-hot rows appended, for a conditional GAN; `t` otherwise.
    fn labels<'a>(&self, rows: usize, labels: Option<&'a [u8]>, what: &str) -> Result<Option<&'a [u8]>> {
        let classes = self.class_count();
        check_labels((classes > 0).then_some(classes), labels, rows, what)
    }

    /// The generator's images `G(z | labels)` in [-1, 1], `[N, pixels]`, in the mode of `ctx`
    /// (labels are ignored by an unconditional GAN).
    ///
    /// # Errors
    /// If `z` or the labels do not fit the model.
    pub fn generate(&mut self, z: &Tensor, labels: Option<&[u8]>, ctx: &mut Ctx) -> Result<Tensor> {
        let input = with_labels(z, labels, self.class_count())?;
        Ok(self.generator.forward(&input, ctx)?)
    }

    /// The discriminator's logits `D(x | labels)`, `[N, 1]`, for images `x` in [-1, 1].
    ///
    /// # Errors
    /// If `x` or the labels do not fit the model.
    pub fn discriminate(&mut self, x: &Tensor, labels: Option<&[u8]>, ctx: &mut Ctx) -> Result<Tensor> {
        let input = with_labels(x, labels, self.class_count())?;
        Ok(self.discriminator.forward(&input, ctx)?)
    }

    fn show(&mut self, z: &Tensor, labels: Option<&[u8]>) -> Result<Tensor> {
        let _guard = no_grad();
        let images = self.generate(z, labels, &mut Ctx::eval())?;
        Ok(images.add_scalar(1.0).mul_scalar(0.5))
    }

    /// [`Model::objective`] in the mode of `ctx`.
    fn batch_objective(&mut self, batch: &Batch, ctx: &mut Ctx) -> Result<Objective> {
        let n = batch.len();
        let real = data_tensor(&batch.images);
        let z = ctx.rng().randn(&[n, self.latent_dim()]);
        let labels = self.labels(n, (self.class_count() > 0).then_some(batch.labels.as_slice()), "train")?;
        let fake = self.generate(&z, labels, ctx)?;
        let real_logits = self.discriminate(&real, labels, ctx)?;
        let fake_logits = self.discriminate(&fake, labels, ctx)?;
        let loss_fn = self.training().loss;
        let d_loss = loss_fn.discriminator_loss(&real_logits, &fake_logits)?;
        let g_loss = f64::from(loss_fn.generator_loss(&fake_logits.detach())?.item()?);
        let parts = gan_parts(n, f64::from(d_loss.item()?), g_loss, &real_logits, &fake_logits);
        Ok(Objective { loss: d_loss.mul_scalar(n as f32), parts })
    }

    /// Clip every discriminator weight to `[-c, c]`.
    fn clip_discriminator(&mut self, c: f32) {
        self.discriminator.visit_params_mut("", &mut |_, p| p.value_mut().mapv_inplace(|v| v.clamp(-c, c)));
    }
}

/// `t`'s value without its graph; the graph goes with `t`.
fn detached(t: Tensor) -> Tensor {
    t.detach()
}

/// `σ(t)` summed over the elements of `t`.
fn sigmoid_sum(t: &Tensor) -> f64 {
    t.to_vec().iter().map(|&v| 1.0 / (1.0 + (-f64::from(v)).exp())).sum()
}

/// The parts of one batch (see the module docs), from batch means and logits.
fn gan_parts(n: usize, d_loss: f64, g_loss: f64, real_logits: &Tensor, fake_logits: &Tensor) -> Parts {
    let n = n as f64;
    let mut parts = Parts::default();
    parts.set("loss", d_loss * n);
    parts.set("d_loss", d_loss * n);
    parts.set("g_loss", g_loss * n);
    parts.set("d_real", sigmoid_sum(real_logits));
    parts.set("d_fake", sigmoid_sum(fake_logits));
    parts
}

impl Model for Gan {
    fn config(&self) -> ModelConfig {
        match &self.arch {
            Arch::Mlp(c) => ModelConfig::new(c),
            Arch::Conv(c) => ModelConfig::new(c),
        }
    }

    /// D's loss on the batch's real images against as many fresh fakes (`z` from the generator
    /// of `ctx`, fakes conditioned on the batch's labels), with the parts of the module docs;
    /// the tensor is `d_loss` times the batch size. No step is taken.
    ///
    /// BatchNorm normalises each batch by its own statistics, in evaluation too (see the module
    /// docs).
    fn objective(&mut self, batch: &Batch, ctx: &mut Ctx) -> Result<Objective> {
        let before = ctx.set_batch_statistics(true);
        let objective = self.batch_objective(batch, ctx);
        ctx.set_batch_statistics(before);
        objective
    }

    fn classes(&self) -> Option<usize> {
        let c = self.class_count();
        (c > 0).then_some(c)
    }

    /// Both networks' losses: `loss` alone is the discriminator's.
    fn headline_parts(&self) -> &'static [&'static str] {
        &["d_loss", "g_loss"]
    }

    fn decoder(&mut self) -> Option<&mut dyn Decoder> {
        Some(self)
    }

    fn generator(&mut self) -> Option<&mut dyn Generator> {
        Some(self)
    }

    /// `generator` and `discriminator`; the graphs `generator` (`z` [, `y`] → `x`, images in
    /// [0, 1]) and `discriminator` (images in [-1, 1] [, `y`] → one logit; for training only).
    fn architecture(&self) -> Option<Architecture> {
        let (g_specs, d_specs, width) = match &self.arch {
            Arch::Mlp(c) => {
                let leaky = Activation::LeakyRelu;
                let g_dims = widths(c.latent_dim + c.classes, &c.generator_hidden, c.output_dim);
                let d_dims = widths(c.output_dim + c.classes, &c.discriminator_hidden, 1);
                (mlp(&g_dims, leaky, Some(Activation::Tanh)), mlp(&d_dims, leaky, None), c.output_dim)
            }
            Arch::Conv(c) => (c.generator_specs(), c.discriminator_specs(), c.image_dims().iter().product()),
        };
        let classes = self.class_count();
        let label = (classes > 0).then(|| label_port(classes));
        let mut inputs = vec![code_port(self.latent_dim(), "noise from the prior N(0, I)")];
        inputs.extend(label.clone());
        let mut generator = Graph::new("generator", "an image for each noise vector", inputs);
        let z = if classes > 0 { generator.push("zy", Op::Concat, &["z", "y"]) } else { "z".to_string() };
        let g = generator.push("g", Op::Module(GENERATOR.into()), &[&z]);
        let shifted = generator.push_data_map("g_plus_1", Op::AddScalar(1.0), &[&g]);
        generator.push_data_map("x", Op::MulScalar(0.5), &[&shifted]);
        generator
            .output("x", "images as flat rows in [0, 1]: (G(z) + 1) / 2, G's tanh output mapped as latent shows it");

        let mut inputs = vec![Port {
            name: "x".into(),
            shape: vec![width],
            doc: "images as flat rows in [-1, 1] (2·pixel − 1), as the discriminator trains on them".into(),
        }];
        inputs.extend(label);
        let mut discriminator = Graph::new("discriminator", "the discriminator's logit for each image", inputs);
        let x = if classes > 0 { discriminator.push("xy", Op::Concat, &["x", "y"]) } else { "x".to_string() };
        discriminator.push("logit", Op::Module(DISCRIMINATOR.into()), &[&x]);
        discriminator.output("logit", "D's logit (σ of it: the probability that the image is real)");
        discriminator.inference = false;
        Some(Architecture {
            modules: vec![
                (GENERATOR.into(), Submodule::Sequential(g_specs)),
                (DISCRIMINATOR.into(), Submodule::Sequential(d_specs)),
            ],
            graphs: vec![generator, discriminator],
        })
    }

    /// Two optimisers of the run's spec (with [`GanTraining::betas`] for Adam): `"generator"`
    /// over `generator.*`, `"discriminator"` over `discriminator.*`.
    fn optimizer_groups(&self, spec: &OptimizerSpec) -> Vec<OptimizerGroup> {
        let (b1, b2) = self.training().betas;
        let spec = spec.clone().with_betas(b1, b2);
        vec![
            OptimizerGroup::prefixed(GENERATOR, GENERATOR, spec.clone()),
            OptimizerGroup::prefixed(DISCRIMINATOR, DISCRIMINATOR, spec),
        ]
    }

    /// One D step and, on every `d_steps`-th call, one G step (see the module docs).
    fn train_step(&mut self, batch: &Batch, optimizers: &mut Optimizers, step: &mut StepContext<'_>) -> Result<Parts> {
        let n = batch.len();
        let training = self.training().clone();
        let g_turn = (step.step + 1).is_multiple_of(training.d_steps as u64);
        let real = data_tensor(&batch.images);
        let labels = self.labels(n, (self.class_count() > 0).then_some(batch.labels.as_slice()), "train")?;
        let z = step.ctx.rng().randn(&[n, self.latent_dim()]);
        let fake = if g_turn {
            self.generate(&z, labels, step.ctx)?
        } else {
            let _guard = no_grad();
            self.generate(&z, labels, step.ctx)?
        };

        // D step, on the real batch and the detached fakes.
        let real_logits = self.discriminate(&real, labels, step.ctx)?;
        let fake_logits = self.discriminate(&fake.detach(), labels, step.ctx)?;
        let d_loss = training.loss.discriminator_loss(&real_logits, &fake_logits)?;
        let d_value = f64::from(d_loss.item()?);
        let mut grads = d_loss.backward()?;
        // Only numbers are kept: the graph goes, so the optimiser updates D's weights in place.
        drop(d_loss);
        let (real_logits, fake_logits) = (detached(real_logits), detached(fake_logits));
        let mut named = take_grads_under(self, DISCRIMINATOR, &mut grads);
        if let Some(max) = step.clip_grad_norm {
            clip_grad_norm(&mut named, max)?;
        }
        optimizers.step(DISCRIMINATOR, self, &named)?;
        if let Some(c) = training.clip_weights {
            self.clip_discriminator(c);
        }

        // G step, through the updated D, on the same fakes.
        let g_value = if g_turn {
            let logits = self.discriminate(&fake, labels, step.ctx)?;
            drop(fake);
            let g_loss = training.loss.generator_loss(&logits)?;
            drop(logits);
            let value = f64::from(g_loss.item()?);
            // Only G's gradients: the pass goes through D to reach G, but D's weight gradients
            // (as much work as D's forward pass) would be thrown away. `g_params` holds handles
            // on G's weights, so it must be gone before the optimiser runs, or that would find
            // the weights shared and update copies of them (copy-on-write).
            let mut grads = {
                let g_params = params_under(self, GENERATOR);
                g_loss.backward_for(&g_params.iter().collect::<Vec<_>>())?
            };
            drop(g_loss);
            let mut named = take_grads_under(self, GENERATOR, &mut grads);
            if let Some(max) = step.clip_grad_norm {
                clip_grad_norm(&mut named, max)?;
            }
            optimizers.step(GENERATOR, self, &named)?;
            value
        } else {
            f64::from(training.loss.generator_loss(&fake_logits)?.item()?)
        };
        Ok(gan_parts(n, d_value, g_value, &real_logits, &fake_logits))
    }
}

impl Decoder for Gan {
    fn latent_dim(&self) -> usize {
        Gan::latent_dim(self)
    }

    /// `(G(z | labels) + 1) / 2`: images in [0, 1].
    fn decode(&mut self, z: &Tensor, labels: Option<&[u8]>) -> Result<Tensor> {
        let labels = self.labels(z.shape().first().copied().unwrap_or(0), labels, "decode")?;
        self.show(z, labels)
    }
}

impl Generator for Gan {
    /// `n` images from `z ~ N(0, I)`, in [0, 1]; for a conditional GAN, `labels[i]` for row `i`
    /// (or `i mod classes` without labels).
    fn sample(&mut self, n: usize, labels: Option<&[u8]>, rng: &mut TensorRng) -> Result<Tensor> {
        let classes = self.class_count();
        let labels = sample_labels((classes > 0).then_some(classes), labels, n);
        // Checked before drawing, so a bad label draws nothing.
        self.labels(n, labels.as_deref(), "sample")?;
        let z = rng.randn(&[n, self.latent_dim()]);
        self.show(&z, labels.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(classes: usize) -> Gan {
        let config = GanConfig {
            latent_dim: 4,
            output_dim: 6,
            generator_hidden: vec![8],
            discriminator_hidden: vec![5],
            classes,
            training: GanTraining::default(),
        };
        Gan::mlp(config, &mut TensorRng::seed_from_u64(0)).unwrap()
    }

    #[test]
    fn names_kinds_and_refusals() {
        let mut gan = small(0);
        let names: Vec<String> = gan.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "generator.0.weight",
                "generator.0.bias",
                "generator.2.weight",
                "generator.2.bias",
                "discriminator.0.weight",
                "discriminator.0.bias",
                "discriminator.2.weight",
                "discriminator.2.bias"
            ]
        );
        assert_eq!(gan.config().kind(), "gan");
        let x = Tensor::zeros(&[2, 6]);
        assert!(matches!(crate::model::reconstruct(&mut gan, &x, None), Err(ModelError::Unsupported { .. })));
        assert!(Model::encoder(&mut gan).is_none());
        let s = gan.sample(5, None, &mut TensorRng::seed_from_u64(1)).unwrap();
        assert_eq!(s.shape(), [5, 6]);
        assert!(s.to_vec().iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(gan.sample(2, Some(&[3, 3]), &mut TensorRng::seed_from_u64(1)).is_err());

        let mut cgan = small(3);
        assert_eq!(cgan.config().kind(), "cgan");
        assert_eq!(Model::classes(&cgan), Some(3));
        assert_eq!(cgan.generator.parameter_count(), (4 + 3) * 8 + 8 + 8 * 6 + 6);
        assert!(cgan.decode(&Tensor::zeros(&[1, 4]), None).is_err());
        let err = cgan.sample(2, Some(&[3, 3]), &mut TensorRng::seed_from_u64(1)).unwrap_err().to_string();
        assert!(err.contains("label 3 is out of range"), "{err}");
        let a = cgan.sample(2, Some(&[0, 0]), &mut TensorRng::seed_from_u64(1)).unwrap().to_vec();
        let b = cgan.sample(2, Some(&[2, 2]), &mut TensorRng::seed_from_u64(1)).unwrap().to_vec();
        assert_ne!(a, b, "the label must change the images");
    }

    #[test]
    fn the_config_round_trips_through_json_with_the_loss_by_name() {
        let mut g: GanConfig = small(0).config().typed().unwrap();
        g.training.loss = GanLoss::Wasserstein;
        g.training.clip_weights = Some(0.01);
        let c = ModelConfig::new(&g);
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""kind":"gan""#) && json.contains(r#""loss":"wasserstein""#), "{json}");
        assert_eq!(serde_json::from_str::<ModelConfig>(&json).unwrap(), c);
        let bad = GanTraining { d_steps: 0, ..GanTraining::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("--d-steps"));
    }
}
