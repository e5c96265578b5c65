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
//! - Training data are scaled to [-1, 1] ([`ModelConfig::data_scale`]). What the model shows
//!   ([`Model::decode`], [`Model::sample`]) is `(G(z) + 1) / 2`, in [0, 1] like every other
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
//! - A GAN has no encoder: [`Model::encode`] and so [`Model::reconstruct`] return
//!   [`ModelError::Unsupported`]. The conditional GAN follows the conditional VAE's interface:
//!   the labelled methods ([`Model::decode_labeled`], [`Model::sample_labeled`]), a plain
//!   `decode` that refuses to guess labels, and a plain `sample` whose row `i` is digit
//!   `i mod classes`.

use latent_data::Batch;
pub use latent_losses::GanLoss;
use latent_nn::layers::Sequential;
use latent_nn::optim::{AdamConfig, clip_grad_norm};
use latent_nn::{Ctx, Layer, Module};
use latent_tensor::{Tensor, TensorRng, no_grad};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::{Activation, ModelConfig};
use crate::cvae::one_hot;
pub use crate::dcgan::DcganConfig;
use crate::error::{ModelError, Result};
use crate::mlp::{mlp, widths};
use crate::model::{Model, Objective, Parts, data_tensor};
use crate::optimizers::{OptimizerGroup, Optimizers, StepContext, take_grads_under};

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

fn positive(field: &str, v: usize) -> Result<()> {
    if v == 0 { Err(ModelError::config(field, "must be at least 1")) } else { Ok(()) }
}

impl GanConfig {
    /// Check every field; `conditional` says whether it configures a conditional GAN (which
    /// needs 1 to 256 classes) or a plain one (no classes).
    ///
    /// # Errors
    /// On the first invalid field.
    pub fn validate(&self, conditional: bool) -> Result<()> {
        positive("latent_dim", self.latent_dim)?;
        positive("output_dim", self.output_dim)?;
        self.generator_hidden.iter().try_for_each(|&h| positive("generator_hidden", h))?;
        self.discriminator_hidden.iter().try_for_each(|&h| positive("discriminator_hidden", h))?;
        match (conditional, self.classes) {
            (true, c) if !(1..=256).contains(&c) => {
                return Err(ModelError::config("classes", format!("must be 1 to 256 (labels are bytes), found {c}")));
            }
            (false, c) if c != 0 => {
                return Err(ModelError::config(
                    "classes",
                    format!("an unconditional GAN has none, found {c}; use cgan"),
                ));
            }
            _ => {}
        }
        self.training.validate()
    }
}

/// Which architecture a [`Gan`] has.
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
        config.validate(config.classes > 0)?;
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
    pub fn classes(&self) -> usize {
        match &self.arch {
            Arch::Mlp(c) => c.classes,
            Arch::Conv(_) => 0,
        }
    }

    /// `t` with the labels' one-hot rows appended, for a conditional GAN; `t` otherwise.
    fn with_labels(&self, t: &Tensor, labels: &[u8]) -> Result<Tensor> {
        let classes = self.classes();
        if classes == 0 {
            return Ok(t.clone());
        }
        if labels.len() != t.shape()[0] {
            return Err(ModelError::input(
                "labels",
                format!("{} labels for {} rows; a conditional GAN needs one per row", labels.len(), t.shape()[0]),
            ));
        }
        Ok(Tensor::concat(&[t.clone(), one_hot(labels, classes)?], 1)?)
    }

    /// The generator's images `G(z | labels)` in [-1, 1], `[N, pixels]`, in the mode of `ctx`
    /// (labels are ignored by an unconditional GAN).
    ///
    /// # Errors
    /// If `z` or the labels do not fit the model.
    pub fn generate(&mut self, z: &Tensor, labels: &[u8], ctx: &mut Ctx) -> Result<Tensor> {
        let input = self.with_labels(z, labels)?;
        Ok(self.generator.forward(&input, ctx)?)
    }

    /// The discriminator's logits `D(x | labels)`, `[N, 1]`, for images `x` in [-1, 1].
    ///
    /// # Errors
    /// If `x` or the labels do not fit the model.
    pub fn discriminate(&mut self, x: &Tensor, labels: &[u8], ctx: &mut Ctx) -> Result<Tensor> {
        let input = self.with_labels(x, labels)?;
        Ok(self.discriminator.forward(&input, ctx)?)
    }

    fn unsupported(&self, what: &'static str) -> ModelError {
        ModelError::Unsupported { model: self.config().kind(), what }
    }

    /// `(G(z) + 1) / 2` in eval mode and without a graph.
    fn show(&mut self, z: &Tensor, labels: &[u8]) -> Result<Tensor> {
        let _guard = no_grad();
        let images = self.generate(z, labels, &mut Ctx::eval())?;
        Ok(images.add_scalar(1.0).mul_scalar(0.5))
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
            Arch::Mlp(c) if c.classes > 0 => ModelConfig::Cgan(c.clone()),
            Arch::Mlp(c) => ModelConfig::Gan(c.clone()),
            Arch::Conv(c) => ModelConfig::Dcgan(c.clone()),
        }
    }

    /// D's loss on the batch's real images against as many fresh fakes (`z` from the generator
    /// of `ctx`, fakes conditioned on the batch's labels), with the parts of the module docs;
    /// the tensor is `d_loss` times the batch size. No step is taken.
    fn objective(&mut self, batch: &Batch, ctx: &mut Ctx) -> Result<Objective> {
        let n = batch.len();
        let real = data_tensor(&batch.images);
        let z = ctx.rng().randn(&[n, self.latent_dim()]);
        let fake = self.generate(&z, &batch.labels, ctx)?;
        let real_logits = self.discriminate(&real, &batch.labels, ctx)?;
        let fake_logits = self.discriminate(&fake, &batch.labels, ctx)?;
        let loss_fn = self.training().loss;
        let d_loss = loss_fn.discriminator_loss(&real_logits, &fake_logits)?;
        let g_loss = f64::from(loss_fn.generator_loss(&fake_logits.detach())?.item()?);
        let parts = gan_parts(n, f64::from(d_loss.item()?), g_loss, &real_logits, &fake_logits);
        Ok(Objective { loss: d_loss.mul_scalar(n as f32), parts })
    }

    /// Refused: a GAN has no encoder.
    fn encode(&mut self, _x: &Tensor) -> Result<Tensor> {
        Err(self.unsupported("encode or reconstruct (a GAN has no encoder)"))
    }

    /// `(G(z) + 1) / 2`: images in [0, 1]. A conditional GAN refuses (use
    /// [`Model::decode_labeled`]).
    fn decode(&mut self, z: &Tensor) -> Result<Tensor> {
        if self.classes() > 0 {
            return Err(self.unsupported("decode without the digit labels (use decode_labeled)"));
        }
        self.show(z, &[])
    }

    /// `n` images from `z ~ N(0, I)`, in [0, 1]; for a conditional GAN, row `i` is digit
    /// `i mod classes`.
    fn sample(&mut self, n: usize, rng: &mut TensorRng) -> Result<Tensor> {
        let classes = self.classes();
        let labels: Vec<u8> = if classes > 0 { (0..n).map(|i| (i % classes) as u8).collect() } else { Vec::new() };
        let z = rng.randn(&[n, self.latent_dim()]);
        self.show(&z, &labels)
    }

    fn is_generative(&self) -> bool {
        true
    }

    fn is_conditional(&self) -> bool {
        self.classes() > 0
    }

    /// `(G(z | labels) + 1) / 2`; an unconditional GAN ignores the labels.
    fn decode_labeled(&mut self, z: &Tensor, labels: &[u8]) -> Result<Tensor> {
        self.show(z, labels)
    }

    /// `n` images of digit `label` (conditional GAN only); without a label, [`Model::sample`].
    fn sample_labeled(&mut self, n: usize, label: Option<u8>, rng: &mut TensorRng) -> Result<Tensor> {
        match label {
            None => self.sample(n, rng),
            Some(_) if self.classes() == 0 => {
                Err(self.unsupported("sample a chosen digit (they are not conditioned on labels; train a cgan)"))
            }
            Some(l) => {
                // Checked before drawing, so a bad label draws nothing.
                one_hot(&[l], self.classes())?;
                let z = rng.randn(&[n, self.latent_dim()]);
                self.show(&z, &vec![l; n])
            }
        }
    }

    /// Two Adams with [`GanTraining::betas`] and the run's learning rate: `"generator"` over
    /// `generator.*`, `"discriminator"` over `discriminator.*`.
    fn optimizer_groups(&self, learning_rate: f64) -> Vec<OptimizerGroup> {
        let (b1, b2) = self.training().betas;
        let adam = AdamConfig::adam(learning_rate).betas(b1, b2);
        vec![
            OptimizerGroup::prefixed(GENERATOR, GENERATOR, adam),
            OptimizerGroup::prefixed(DISCRIMINATOR, DISCRIMINATOR, adam),
        ]
    }

    /// One D step and, on every `d_steps`-th call, one G step (see the module docs).
    fn train_step(&mut self, batch: &Batch, optimizers: &mut Optimizers, step: &mut StepContext<'_>) -> Result<Parts> {
        let n = batch.len();
        let training = self.training().clone();
        let g_turn = (step.step + 1) % training.d_steps as u64 == 0;
        let real = data_tensor(&batch.images);
        let labels = &batch.labels;
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
            let mut grads = g_loss.backward()?;
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
        assert!(matches!(gan.reconstruct(&x), Err(ModelError::Unsupported { .. })));
        let s = gan.sample(5, &mut TensorRng::seed_from_u64(1)).unwrap();
        assert_eq!(s.shape(), [5, 6]);
        assert!(s.to_vec().iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(gan.sample_labeled(2, Some(3), &mut TensorRng::seed_from_u64(1)).is_err());

        let mut cgan = small(3);
        assert_eq!(cgan.config().kind(), "cgan");
        assert!(cgan.is_conditional());
        assert_eq!(cgan.generator.parameter_count(), (4 + 3) * 8 + 8 + 8 * 6 + 6);
        assert!(cgan.decode(&Tensor::zeros(&[1, 4])).is_err());
        let err = cgan.sample_labeled(2, Some(3), &mut TensorRng::seed_from_u64(1)).unwrap_err().to_string();
        assert!(err.contains("label 3 is out of range"), "{err}");
        let a = cgan.sample_labeled(2, Some(0), &mut TensorRng::seed_from_u64(1)).unwrap().to_vec();
        let b = cgan.sample_labeled(2, Some(2), &mut TensorRng::seed_from_u64(1)).unwrap().to_vec();
        assert_ne!(a, b, "the label must change the images");
    }

    #[test]
    fn the_config_round_trips_through_json_with_the_loss_by_name() {
        let mut c = small(0).config();
        if let ModelConfig::Gan(g) = &mut c {
            g.training.loss = GanLoss::Wasserstein;
            g.training.clip_weights = Some(0.01);
        }
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""kind":"gan""#) && json.contains(r#""loss":"wasserstein""#), "{json}");
        assert_eq!(serde_json::from_str::<ModelConfig>(&json).unwrap(), c);
        let bad = GanTraining { d_steps: 0, ..GanTraining::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("--d-steps"));
    }
}
