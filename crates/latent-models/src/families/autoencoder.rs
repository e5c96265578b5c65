//! The autoencoder family in one type: vanilla, under/overcomplete, denoising, sparse and
//! contractive, on an MLP or a convolutional [`Trunk`] (`ae`, `dae`, `sparse`, `contractive`,
//! `conv-ae` on the command line).
//!
//! The configuration chooses the member: a code below the input size makes it undercomplete,
//! above it overcomplete; a [`Regularizer`] makes it sparse (L1 or KL on the code) or
//! contractive; input noise makes it denoising. An overcomplete autoencoder with neither a
//! regulariser nor noise can copy its input through and learns little of use: its
//! reconstructions are good but its code is not a summary. Add noise (`dae`) or a penalty
//! (`sparse`, `contractive`) to make it learn structure.
//!
//! Parameter names follow PyTorch: `encoder.0.weight`, `encoder.0.bias`, ..., `decoder.N.bias`
//! (the indices of `nn.Sequential`, activations included). Configurations of the older
//! `conv_autoencoder` kind read as this family with a convolutional trunk.

use latent_data::{Batch, NoiseSpec, Scale};
use latent_losses::{
    Reduction, binary_cross_entropy_with_logits, contractive_sigmoid, kl_sparsity, l1_activity, mse_loss,
};
use latent_nn::layers::Sequential;
use latent_nn::{Ctx, Layer, Module};
use latent_tensor::{Tensor, TensorRng, no_grad};
use serde::{Deserialize, Serialize};

use crate::architecture::{Architecture, Graph, Op, Submodule, code_port, data_port};
use crate::blocks::trunk::Trunk;
use crate::config::{Activation, Likelihood, finite_non_negative, noise_from_str, noise_to_str, positive};
use crate::error::{ModelError, Result};
use crate::family::{Description, FamilyConfig, ModelConfig, ModelFlags, Preset};
use crate::memory::Footprint;
use crate::model::{Decoder, Encoder, ExampleScores, Model, Objective, Parts, check_labels, data_tensor};
use crate::train::TrainOptions;

/// A penalty added to an autoencoder's reconstruction loss, per example.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Regularizer {
    /// No penalty.
    None,
    /// `weight · Σ_j |h_j|` on the code (sparse autoencoder, L1 form).
    L1 {
        /// The penalty's weight.
        weight: f32,
    },
    /// `weight · Σ_j KL(ρ ‖ ρ̂_j)` with `ρ̂_j` the code unit's mean activation over the batch
    /// (sparse autoencoder, KL form; needs a sigmoid code).
    KlSparsity {
        /// The target mean activation ρ, in (0, 1).
        rho: f32,
        /// The penalty's weight.
        weight: f32,
    },
    /// `weight · ‖∂h/∂x‖²_F` of a one-layer sigmoid encoder, in closed form (contractive
    /// autoencoder).
    Contractive {
        /// The penalty's weight.
        weight: f32,
    },
}

/// An autoencoder, with every member of the family as a choice of options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderConfig {
    /// Input size (784 for MNIST).
    pub input_dim: usize,
    /// The encoder's body; the decoder mirrors it.
    #[serde(flatten)]
    pub trunk: Trunk,
    /// The code size (below the input size: undercomplete; above: overcomplete).
    pub latent_dim: usize,
    /// The code's activation; `None` for a linear code.
    pub code_activation: Option<Activation>,
    /// How outputs are read and trained.
    pub likelihood: Likelihood,
    /// A penalty on the code.
    pub regularizer: Regularizer,
    /// Corruption of the inputs during training (a denoising autoencoder); the target stays
    /// clean.
    #[serde(serialize_with = "noise_to_str", deserialize_with = "noise_from_str")]
    pub noise: NoiseSpec,
}

const MLP_FLAGS: &[&str] = &["latent-dim", "hidden", "activation", "noise", "sparsity", "rho", "contractive", "loss"];
const CONV_FLAGS: &[&str] = &["latent-dim", "hidden", "noise", "sparsity", "rho", "loss"];

impl FamilyConfig for AutoencoderConfig {
    const KINDS: &'static [&'static str] = &["autoencoder", "conv_autoencoder"];

    fn flags(model: &str) -> &'static [&'static str] {
        if model == "conv-ae" { CONV_FLAGS } else { MLP_FLAGS }
    }

    fn from_fields(kind: &str, mut fields: serde_json::Value) -> Result<Self> {
        let map = fields.as_object_mut().ok_or_else(|| ModelError::config(kind, "expected a JSON object"))?;
        if kind == "conv_autoencoder" {
            // The older convolutional kind: BCE, linear code, no penalty, one-channel squares.
            let side = map.get("image_size").and_then(serde_json::Value::as_u64).unwrap_or(0);
            map.insert("trunk".into(), "conv".into());
            map.entry("input_dim").or_insert_with(|| (side * side).into());
            map.entry("code_activation").or_insert(serde_json::Value::Null);
            map.entry("likelihood").or_insert_with(|| "bernoulli".into());
            map.entry("regularizer").or_insert_with(|| serde_json::json!({"type": "none"}));
        } else {
            map.entry("trunk").or_insert_with(|| "mlp".into());
        }
        serde_json::from_value(fields).map_err(|e| ModelError::config(kind, e.to_string()))
    }

    fn validate(&self) -> Result<()> {
        positive("input_dim", self.input_dim)?;
        positive("latent_dim", self.latent_dim)?;
        self.trunk.validate(self.input_dim)?;
        match self.regularizer {
            Regularizer::None => {}
            Regularizer::L1 { weight } => finite_non_negative("sparsity weight", weight)?,
            Regularizer::KlSparsity { rho, weight } => {
                finite_non_negative("sparsity weight", weight)?;
                if !(rho > 0.0 && rho < 1.0) {
                    return Err(ModelError::config("sparsity target rho", format!("must be in (0, 1), found {rho}")));
                }
                if self.code_activation != Some(Activation::Sigmoid) {
                    return Err(ModelError::config(
                        "code_activation",
                        "the KL sparsity penalty needs a sigmoid code (mean activations in (0, 1))",
                    ));
                }
            }
            Regularizer::Contractive { weight } => {
                finite_non_negative("contractive weight", weight)?;
                let one_layer = matches!(&self.trunk, Trunk::Mlp { hidden, .. } if hidden.is_empty());
                if !one_layer || self.code_activation != Some(Activation::Sigmoid) {
                    return Err(ModelError::config(
                        "regularizer",
                        "the contractive penalty's closed form needs a one-layer sigmoid encoder (no hidden layers, sigmoid code)",
                    ));
                }
            }
        }
        Ok(())
    }

    fn describe(&self) -> Description {
        Description {
            kind: self.kind().to_string(),
            input_dim: self.input_dim,
            latent_dim: self.latent_dim,
            scale: Scale::ZeroOne,
            noise: self.noise,
            classes: None,
        }
    }

    fn footprint(&self) -> Footprint {
        let encoder = self.trunk.encoder_with_code(self.input_dim, self.latent_dim, self.code_activation);
        Footprint::of_layers(&encoder, &self.trunk.input_shape(self.input_dim))
            .plus(Footprint::of_layers(&self.trunk.decoder(self.latent_dim, self.input_dim), &[self.latent_dim]))
    }

    fn apply_flags(&mut self, flags: &ModelFlags) -> Result<()> {
        if let Some(shape) = flags.data_shape {
            self.input_dim = shape.iter().product();
            self.trunk.set_image(shape);
        }
        if let Some(v) = flags.get("latent-dim")? {
            self.latent_dim = v;
        }
        if let Some(widths) = flags.get_widths("hidden")? {
            match &mut self.trunk {
                Trunk::Mlp { hidden, .. } => *hidden = widths,
                Trunk::Conv { channels, .. } => *channels = widths,
            }
        }
        if let (Some(a), Trunk::Mlp { activation, .. }) = (flags.get::<Activation>("activation")?, &mut self.trunk) {
            *activation = a;
        }
        if let Some(values) = flags.value_kind {
            self.likelihood = Likelihood::for_values(values);
        }
        if let Some(l) = flags.get::<Likelihood>("loss")? {
            self.likelihood = l;
        }
        if let Some(n) = flags.get::<NoiseSpec>("noise")? {
            self.noise = n;
        }
        let (sparsity, rho, contractive) =
            (flags.get::<f32>("sparsity")?, flags.get::<f32>("rho")?, flags.get::<f32>("contractive")?);
        self.regularizer = match self.regularizer {
            Regularizer::L1 { weight } => {
                if rho.is_some() {
                    return Err(ModelError::config(
                        "--rho",
                        "applies to the KL sparsity penalty (sparse --preset kl), not the L1 one",
                    ));
                }
                Regularizer::L1 { weight: sparsity.unwrap_or(weight) }
            }
            Regularizer::KlSparsity { rho: r, weight } => {
                Regularizer::KlSparsity { rho: rho.unwrap_or(r), weight: sparsity.unwrap_or(weight) }
            }
            Regularizer::Contractive { weight } => Regularizer::Contractive { weight: contractive.unwrap_or(weight) },
            Regularizer::None => {
                if let Some(w) = contractive {
                    return Err(ModelError::config(
                        "--contractive",
                        format!("{w}: use `latent train contractive` (it needs a one-layer sigmoid encoder)"),
                    ));
                }
                if sparsity.is_some() || rho.is_some() {
                    return Err(ModelError::config("--sparsity/--rho", "use `latent train sparse`"));
                }
                Regularizer::None
            }
        };
        Ok(())
    }

    fn presets() -> Vec<Preset> {
        let sigmoid = Some(Activation::Sigmoid);
        let relu = Some(Activation::Relu);
        let p = |model, name, summary, config: AutoencoderConfig| Preset {
            model,
            name,
            summary,
            config: ModelConfig::new(&config),
            train: TrainOptions::default(),
        };
        vec![
            p(
                "ae",
                "deep",
                "784-512-128-32-128-512-784, ReLU, linear 32-d code, BCE (the reference torch_ae.py)",
                mlp(&[512, 128], 32, None, Regularizer::None, "none"),
            ),
            p("ae", "shallow", "784-32-784 undercomplete, ReLU code", mlp(&[], 32, relu, Regularizer::None, "none")),
            p(
                "ae",
                "2d",
                "784-512-128-2-..., a 2-D code to plot",
                mlp(&[512, 128], 2, None, Regularizer::None, "none"),
            ),
            p(
                "ae",
                "overcomplete",
                "784-1024-784 with no regulariser: reconstructs well, learns little (compare dae, sparse)",
                mlp(&[], 1024, relu, Regularizer::None, "none"),
            ),
            p(
                "dae",
                "deep",
                "the deep autoencoder trained on masked inputs (mask:0.5) against clean targets",
                mlp(&[512, 128], 32, None, Regularizer::None, "mask:0.5"),
            ),
            p(
                "dae",
                "overcomplete",
                "784-1024-784 sigmoid code, masking noise 0.25: noise makes overcompleteness useful",
                mlp(&[], 1024, sigmoid, Regularizer::None, "mask:0.25"),
            ),
            p(
                "sparse",
                "kl",
                "784-1024-784 sigmoid code, KL sparsity rho=0.05, weight 1",
                mlp(&[], 1024, sigmoid, Regularizer::KlSparsity { rho: 0.05, weight: 1.0 }, "none"),
            ),
            p(
                "sparse",
                "l1",
                "784-1024-784 ReLU code, L1 activity penalty 0.01",
                mlp(&[], 1024, relu, Regularizer::L1 { weight: 0.01 }, "none"),
            ),
            p(
                "contractive",
                "sigmoid",
                "784-512-784, sigmoid code, contractive penalty weight 1",
                mlp(&[], 512, sigmoid, Regularizer::Contractive { weight: 1.0 }, "none"),
            ),
            p(
                "conv-ae",
                "standard",
                "conv 1-32-64 (kernel 4, stride 2) to a linear 32-d code, transposed convs back, BCE",
                conv(&[32, 64], 32),
            ),
            p("conv-ae", "2d", "the same convolutions to a 2-D code to plot", conv(&[32, 64], 2)),
        ]
    }

    fn build(&self, rng: &mut TensorRng) -> Result<Box<dyn Model>> {
        Ok(Box::new(Autoencoder::new(self.clone(), rng)?))
    }
}

fn mlp(
    hidden: &[usize],
    latent: usize,
    code: Option<Activation>,
    regularizer: Regularizer,
    noise: &str,
) -> AutoencoderConfig {
    AutoencoderConfig {
        input_dim: 784,
        trunk: Trunk::Mlp { hidden: hidden.to_vec(), activation: Activation::Relu },
        latent_dim: latent,
        code_activation: code,
        likelihood: Likelihood::Bernoulli,
        regularizer,
        noise: noise.parse::<NoiseSpec>().expect("preset noise specs are valid"),
    }
}

fn conv(channels: &[usize], latent: usize) -> AutoencoderConfig {
    AutoencoderConfig {
        input_dim: 784,
        trunk: Trunk::conv([1, 28, 28], channels.to_vec()),
        latent_dim: latent,
        code_activation: None,
        likelihood: Likelihood::Bernoulli,
        regularizer: Regularizer::None,
        noise: NoiseSpec::None,
    }
}

/// An autoencoder of the family (see the module docs).
#[derive(Module)]
pub struct Autoencoder {
    #[module(skip)]
    config: AutoencoderConfig,
    encoder: Sequential,
    decoder: Sequential,
}

impl Autoencoder {
    /// Build the autoencoder `config` describes, with fresh weights drawn from `rng`.
    ///
    /// # Errors
    /// If the configuration is invalid.
    pub fn new(config: AutoencoderConfig, rng: &mut TensorRng) -> Result<Self> {
        config.validate()?;
        let enc = config.trunk.encoder_with_code(config.input_dim, config.latent_dim, config.code_activation);
        let encoder = Sequential::from_specs(&enc, rng)?;
        let decoder = Sequential::from_specs(&config.trunk.decoder(config.latent_dim, config.input_dim), rng)?;
        Ok(Autoencoder { config, encoder, decoder })
    }

    /// Its configuration.
    pub fn autoencoder_config(&self) -> &AutoencoderConfig {
        &self.config
    }

    fn first_encoder_weight(&self) -> Option<Tensor> {
        let mut found = None;
        self.encoder.visit_params("", &mut |name, t| {
            if name == "0.weight" {
                found = Some(t.clone());
            }
        });
        found
    }

    fn code(&mut self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        Ok(self.encoder.forward(&self.config.trunk.to_input(x)?, ctx)?)
    }

    fn output(&mut self, code: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        self.config.trunk.to_rows(&self.decoder.forward(code, ctx)?)
    }

    fn to_data_space(&self, out: Tensor) -> Tensor {
        match self.config.likelihood {
            Likelihood::Bernoulli => out.sigmoid(),
            Likelihood::Gaussian => out,
        }
    }
}

impl Model for Autoencoder {
    fn config(&self) -> ModelConfig {
        ModelConfig::new(&self.config)
    }

    fn objective(&mut self, batch: &Batch, ctx: &mut Ctx) -> Result<Objective> {
        let input = data_tensor(batch.input());
        let target = data_tensor(&batch.images);
        let code = self.code(&input, ctx)?;
        let out = self.output(&code, ctx)?;
        let recon = match self.config.likelihood {
            Likelihood::Bernoulli => binary_cross_entropy_with_logits(&out, &target, Reduction::Sum)?,
            Likelihood::Gaussian => mse_loss(&out, &target, Reduction::Sum)?,
        };
        let n = batch.len() as f32;
        let penalty = match self.config.regularizer {
            Regularizer::None => None,
            Regularizer::L1 { weight } => Some(l1_activity(&code, Reduction::Sum)?.mul_scalar(weight)),
            // A statistic of the batch, counted once per example so it scales like the sum.
            Regularizer::KlSparsity { rho, weight } => Some(kl_sparsity(&code, rho)?.mul_scalar(weight * n)),
            Regularizer::Contractive { weight } => {
                let w = self.first_encoder_weight().expect("a one-layer encoder has a weight");
                Some(contractive_sigmoid(&code, &w, Reduction::Sum)?.mul_scalar(weight))
            }
        };
        let mut parts = Parts::default();
        parts.set("recon", f64::from(recon.item()?));
        let loss = match penalty {
            Some(p) => {
                parts.set("penalty", f64::from(p.item()?));
                recon.add(&p)?
            }
            None => recon,
        };
        parts.set("loss", f64::from(loss.item()?));
        Ok(Objective { loss, parts })
    }

    fn encoder(&mut self) -> Option<&mut dyn Encoder> {
        Some(self)
    }

    fn decoder(&mut self) -> Option<&mut dyn Decoder> {
        Some(self)
    }

    /// `encoder` (the trunk's body and the code layer, one `nn.Sequential`) and `decoder`; the
    /// graphs `encoder` (`x` → `z`) and `decoder` (`z` → `x`).
    fn architecture(&self) -> Option<Architecture> {
        let c = &self.config;
        let enc = c.trunk.encoder_with_code(c.input_dim, c.latent_dim, c.code_activation);
        let dec = c.trunk.decoder(c.latent_dim, c.input_dim);
        let mut encoder = Graph::new("encoder", "the code of each example", vec![data_port(c.input_dim)]);
        let input = c.trunk.graph_input(&mut encoder, "x");
        encoder.push("z", Op::Module("encoder".into()), &[&input]);
        encoder.output("z", format!("the code, {} values", c.latent_dim));
        let mut decoder = Graph::new(
            "decoder",
            "the reconstruction of each code",
            vec![code_port(c.latent_dim, "codes, as the encoder gives them")],
        );
        c.trunk.graph_decode(&mut decoder, "decoder", "z", c.input_dim, c.likelihood);
        Some(Architecture {
            modules: vec![
                ("encoder".into(), Submodule::Sequential(enc)),
                ("decoder".into(), Submodule::Sequential(dec)),
            ],
            graphs: vec![encoder, decoder],
        })
    }

    fn example_scores(&mut self) -> Option<&mut dyn ExampleScores> {
        Some(self)
    }
}

impl ExampleScores for Autoencoder {
    fn reconstruction_error(&mut self, x: &ndarray::Array2<f32>, labels: Option<&[u8]>) -> Result<Vec<f64>> {
        check_labels(None, labels, x.nrows(), "score examples")?;
        let _guard = no_grad();
        let mut ctx = Ctx::eval();
        let input = data_tensor(x);
        let code = self.code(&input, &mut ctx)?;
        let out = self.output(&code, &mut ctx)?;
        let rows = self.config.likelihood.reconstruction_error_rows(&out, &input)?;
        Ok(rows.to_vec().into_iter().map(f64::from).collect())
    }
}

impl Encoder for Autoencoder {
    fn encode(&mut self, x: &Tensor, labels: Option<&[u8]>) -> Result<Tensor> {
        check_labels(None, labels, x.shape().first().copied().unwrap_or(0), "encode")?;
        let _guard = no_grad();
        self.code(x, &mut Ctx::eval())
    }
}

impl Decoder for Autoencoder {
    fn latent_dim(&self) -> usize {
        self.config.latent_dim
    }

    fn decode(&mut self, z: &Tensor, labels: Option<&[u8]>) -> Result<Tensor> {
        check_labels(None, labels, z.shape().first().copied().unwrap_or(0), "decode")?;
        let _guard = no_grad();
        let out = self.output(z, &mut Ctx::eval())?;
        Ok(self.to_data_space(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::reconstruct;

    fn names(m: &dyn Module) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        m.visit_params("", &mut |name, t| out.push((name.to_string(), t.shape().to_vec())));
        out
    }

    #[test]
    fn the_conv_trunk_has_pytorch_names_and_keeps_images_flat() {
        let mut model = Autoencoder::new(conv(&[32, 64], 16), &mut TensorRng::seed_from_u64(0)).unwrap();
        let want: Vec<(String, Vec<usize>)> = [
            ("encoder.0.weight", vec![32, 1, 4, 4]),
            ("encoder.0.bias", vec![32]),
            ("encoder.2.weight", vec![64, 32, 4, 4]),
            ("encoder.2.bias", vec![64]),
            ("encoder.5.weight", vec![16, 3136]),
            ("encoder.5.bias", vec![16]),
            ("decoder.0.weight", vec![3136, 16]),
            ("decoder.0.bias", vec![3136]),
            ("decoder.3.weight", vec![64, 32, 4, 4]),
            ("decoder.3.bias", vec![32]),
            ("decoder.5.weight", vec![32, 1, 4, 4]),
            ("decoder.5.bias", vec![1]),
        ]
        .into_iter()
        .map(|(n, s)| (n.to_string(), s))
        .collect();
        assert_eq!(names(&model), want);
        let x = TensorRng::seed_from_u64(1).uniform(&[3, 784], 0.0, 1.0).unwrap();
        assert_eq!(model.encode(&x, None).unwrap().shape(), &[3, 16]);
        let r = reconstruct(&mut model, &x, None).unwrap();
        assert_eq!(r.shape(), &[3, 784]);
        assert!(r.to_vec().iter().all(|&p| (0.0..=1.0).contains(&p)));
        assert!(model.encode(&x, Some(&[1, 2, 3])).is_err(), "an unconditional model refuses labels");
    }

    #[test]
    fn the_reconstruction_error_is_the_training_loss_per_example() {
        let x = TensorRng::seed_from_u64(1).uniform(&[4, 784], 0.0, 1.0).unwrap();
        let rows = x.to_array().into_dimensionality::<ndarray::Ix2>().unwrap();
        for (likelihood, code) in [(Likelihood::Bernoulli, None), (Likelihood::Gaussian, Some(Activation::Identity))] {
            let mut config = mlp(&[16], 3, code, Regularizer::None, "none");
            config.likelihood = likelihood;
            let mut model = Autoencoder::new(config, &mut TensorRng::seed_from_u64(0)).unwrap();
            let errors = model.reconstruction_error(&rows, None).unwrap();
            let data = latent_data::Dataset::from_reals(
                rows.iter().copied().collect(),
                vec![0; 4],
                latent_data::SampleShape::Features { features: 784 },
            )
            .unwrap();
            let config = latent_data::BatchConfig::new(4).shuffle(false);
            let batch = data.batches(&config, 0).unwrap().next().unwrap();
            assert_eq!(batch.images, rows);
            let loss = model.objective(&batch, &mut Ctx::eval()).unwrap().parts.get("recon").unwrap();
            assert!((errors.iter().sum::<f64>() - loss).abs() < 1e-3 * loss, "{likelihood:?}: {errors:?} vs {loss}");
            assert!(model.reconstruction_error(&rows, Some(&[0, 0, 0, 0])).is_err());
        }
    }

    #[test]
    fn older_kinds_read_and_new_configs_round_trip() {
        let old: ModelConfig = serde_json::from_str(
            r#"{"kind":"conv_autoencoder","image_size":28,"channels":[8,16],"latent_dim":4,"noise":"none"}"#,
        )
        .unwrap();
        let typed: AutoencoderConfig = old.typed().unwrap();
        assert_eq!(typed.trunk, Trunk::conv([1, 28, 28], vec![8, 16]));
        assert_eq!(typed.input_dim, 784);
        let old: ModelConfig = serde_json::from_str(
            r#"{"kind":"autoencoder","input_dim":784,"hidden":[512,128],"latent_dim":32,"activation":"relu",
               "code_activation":null,"likelihood":"bernoulli","regularizer":{"type":"none"},"noise":"mask:0.5"}"#,
        )
        .unwrap();
        let typed: AutoencoderConfig = old.typed().unwrap();
        assert_eq!(typed, mlp(&[512, 128], 32, None, Regularizer::None, "mask:0.5"));
        let again = ModelConfig::new(&typed);
        assert_eq!(serde_json::from_str::<ModelConfig>(&serde_json::to_string(&again).unwrap()).unwrap(), again);
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = mlp(&[], 64, Some(Activation::Relu), Regularizer::Contractive { weight: 0.1 }, "none");
        assert!(c.validate().unwrap_err().to_string().contains("one-layer sigmoid encoder"));
        c.code_activation = Some(Activation::Sigmoid);
        c.validate().unwrap();
        c.latent_dim = 0;
        assert!(c.validate().unwrap_err().to_string().contains("latent_dim"));
        let e = conv(&[8, 16, 32], 4).validate().unwrap_err().to_string();
        assert!(e.contains("channels") && e.contains("divisible by 2^3"), "{e}");
    }
}
