//! The variational autoencoder family in one type: a Gaussian encoder on an MLP or a
//! convolutional [`Trunk`], optionally conditioned on labels (`vae`, `conv-vae`, `cvae` on the
//! command line; β-VAEs by `beta`).
//!
//! # Design
//! - `q(z|x) = N(μ(x), diag σ²(x))` from the trunk's body and two linear heads (`fc_mu`,
//!   `fc_logvar`); the prior is `N(0, I)`; the decoder mirrors the trunk and gives Bernoulli
//!   logits. The objective per example is `BCE(x̂, x) + β·KL(q(z|x) ‖ p(z))` with one
//!   reparameterised `z` (for `β = 1` the negative ELBO), as pytorch/examples' VAE.
//!   [`LikelihoodEstimate`] gives the importance-weighted `log p(x)` (Burda et al.), the
//!   literature's test metric, for every member.
//! - Conditioning (Sohn et al. 2015, `classes` set): the label's one-hot goes beside the
//!   encoder's input (MLP trunk; beside the convolutional body's features for a conv trunk)
//!   and beside `z` at the decoder's input; the prior stays `N(0, I)`. Every capability takes
//!   the labels; sampling without labels cycles through them (row `i` is label
//!   `i mod classes`), so any `n` gives a balanced, reproducible mix.
//! - Names: `encoder.*` (the trunk's body, as `nn.Sequential`), `fc_mu.*`, `fc_logvar.*`,
//!   `decoder.*` — those of the former `Vae`, `ConvVae` and `Cvae` types, whose configurations
//!   (kinds `vae`, `conv_vae`, `cvae`) read as this family's.

use latent_data::{Batch, Scale};
use latent_nn::layers::{LayerSpec, Linear, LinearConfig, Sequential};
use latent_nn::{Ctx, Layer, Module};
use latent_tensor::{Tensor, TensorRng, no_grad};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::architecture::{Architecture, Graph, Op, Submodule, code_port, data_port, label_port};
use crate::blocks::gaussian::{gaussian_elbo, importance_weighted_log_likelihood};
use crate::blocks::labels::with_labels;
use crate::blocks::trunk::Trunk;
use crate::config::{Activation, check_classes, finite_non_negative, positive};
use crate::config::{Likelihood, is_bernoulli};
use crate::error::{ModelError, Result};
use crate::family::{Description, FamilyConfig, ModelConfig, ModelFlags, Preset};
use crate::memory::Footprint;
use crate::model::{
    Decoder, Encoder, ExampleScores, Generator, LikelihoodEstimate, Model, Objective, check_labels, data_tensor,
    sample_labels,
};
use crate::train::TrainOptions;

/// A Gaussian VAE (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VaeConfig {
    /// Input size (784 for MNIST), without the label.
    pub input_dim: usize,
    /// The encoder's body; the decoder mirrors it.
    #[serde(flatten)]
    pub trunk: Trunk,
    /// The size of `z`.
    pub latent_dim: usize,
    /// The weight of the KL term (1: the VAE; other values: a β-VAE).
    pub beta: f32,
    /// The number of labels it is conditioned on (a conditional VAE), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<usize>,
    /// `p(x|z)`: Bernoulli (the decoder gives logits; pixels in [0, 1]) or Gaussian of unit
    /// variance in standardised units (the decoder gives the mean; real values), chosen by the
    /// data.
    #[serde(default, skip_serializing_if = "is_bernoulli")]
    pub likelihood: Likelihood,
}

impl FamilyConfig for VaeConfig {
    const KINDS: &'static [&'static str] = &["vae", "conv_vae", "cvae"];

    fn flags(model: &str) -> &'static [&'static str] {
        if model == "conv-vae" {
            &["latent-dim", "hidden", "beta"]
        } else {
            &["latent-dim", "hidden", "activation", "beta"]
        }
    }

    fn from_fields(kind: &str, mut fields: serde_json::Value) -> Result<Self> {
        let map = fields.as_object_mut().ok_or_else(|| ModelError::config(kind, "expected a JSON object"))?;
        if kind == "conv_vae" {
            let side = map.get("image_size").and_then(serde_json::Value::as_u64).unwrap_or(0);
            map.insert("trunk".into(), "conv".into());
            map.entry("input_dim").or_insert_with(|| (side * side).into());
        } else {
            map.entry("trunk").or_insert_with(|| "mlp".into());
        }
        serde_json::from_value(fields).map_err(|e| ModelError::config(kind, e.to_string()))
    }

    fn validate(&self) -> Result<()> {
        positive("input_dim", self.input_dim)?;
        positive("latent_dim", self.latent_dim)?;
        self.trunk.validate(self.input_dim)?;
        if let Some(c) = self.classes {
            check_classes(c)?;
        }
        finite_non_negative("beta", self.beta)
    }

    fn describe(&self) -> Description {
        Description {
            kind: self.kind().to_string(),
            input_dim: self.input_dim,
            latent_dim: self.latent_dim,
            scale: Scale::ZeroOne,
            noise: latent_data::NoiseSpec::None,
            classes: self.classes,
        }
    }

    fn footprint(&self) -> Footprint {
        let classes = self.classes.unwrap_or(0);
        let (input_extra, head_extra) = if self.trunk.is_conv() { (0, classes) } else { (classes, 0) };
        let (body, features) = self.trunk.body(self.input_dim, input_extra);
        let mut input = self.trunk.input_shape(self.input_dim);
        if let Some(last) = input.last_mut() {
            *last += input_extra;
        }
        let head = [LayerSpec::Linear(LinearConfig::new(features + head_extra, self.latent_dim))];
        let head = Footprint::of_layers(&head, &[features + head_extra]);
        let decoder = self.trunk.decoder(self.latent_dim + classes, self.input_dim);
        Footprint::of_layers(&body, &input)
            .plus(head)
            .plus(head)
            .plus(Footprint::of_layers(&decoder, &[self.latent_dim + classes]))
    }

    fn apply_flags(&mut self, flags: &ModelFlags) -> Result<()> {
        if let Some(shape) = flags.data_shape {
            self.input_dim = shape.iter().product();
            self.trunk.set_image(shape);
        }
        if let Some(values) = flags.value_kind {
            self.likelihood = Likelihood::for_values(values);
        }
        if let Some(v) = flags.get("latent-dim")? {
            self.latent_dim = v;
        }
        if let (Some(c), Some(classes)) = (flags.classes, &mut self.classes) {
            *classes = c;
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
        if let Some(b) = flags.get("beta")? {
            self.beta = b;
        }
        Ok(())
    }

    fn presets() -> Vec<Preset> {
        let p = |model, name, summary, config: VaeConfig| Preset {
            model,
            name,
            summary,
            config: ModelConfig::new(&config),
            train: TrainOptions::default(),
        };
        let mlp = |hidden: &[usize], latent, beta, classes| VaeConfig {
            input_dim: 784,
            trunk: Trunk::Mlp { hidden: hidden.to_vec(), activation: Activation::Relu },
            latent_dim: latent,
            beta,
            classes,
            likelihood: Likelihood::Bernoulli,
        };
        let conv = |latent| VaeConfig {
            input_dim: 784,
            trunk: Trunk::conv([1, 28, 28], vec![32, 64]),
            latent_dim: latent,
            beta: 1.0,
            classes: None,
            likelihood: Likelihood::Bernoulli,
        };
        vec![
            p("vae", "pytorch-examples", "784-400-20 VAE of pytorch/examples, beta=1", mlp(&[400], 20, 1.0, None)),
            p("vae", "2d", "784-400-2 VAE, a 2-D latent to plot", mlp(&[400], 2, 1.0, None)),
            p("vae", "beta4", "784-400-20 beta-VAE with beta=4", mlp(&[400], 20, 4.0, None)),
            p(
                "conv-vae",
                "standard",
                "conv 1-32-64 (kernel 4, stride 2) to a 20-d Gaussian latent, transposed convs back, beta=1",
                conv(20),
            ),
            p("conv-vae", "2d", "the same convolutions to a 2-D latent to plot", conv(2)),
            p(
                "cvae",
                "2d",
                "784+10-400-2 conditional VAE, the label one-hot into both halves: z holds the style, the label the digit",
                mlp(&[400], 2, 1.0, Some(10)),
            ),
            p(
                "cvae",
                "20d",
                "784+10-400-20: better reconstructions, but z also carries the digit, so samples follow the label less",
                mlp(&[400], 20, 1.0, Some(10)),
            ),
        ]
    }

    fn build(&self, rng: &mut TensorRng) -> Result<Box<dyn Model>> {
        Ok(Box::new(Vae::new(self.clone(), rng)?))
    }
}

/// A Gaussian VAE of the family (see the module docs).
#[derive(Module)]
pub struct Vae {
    #[module(skip)]
    config: VaeConfig,
    encoder: Sequential,
    fc_mu: Linear,
    fc_logvar: Linear,
    decoder: Sequential,
}

impl Vae {
    /// Build the VAE `config` describes, with fresh weights drawn from `rng`.
    ///
    /// # Errors
    /// If the configuration is invalid.
    pub fn new(config: VaeConfig, rng: &mut TensorRng) -> Result<Self> {
        config.validate()?;
        let classes = config.classes.unwrap_or(0);
        let (input_extra, head_extra) = if config.trunk.is_conv() { (0, classes) } else { (classes, 0) };
        let (body, features) = config.trunk.body(config.input_dim, input_extra);
        let encoder = Sequential::from_specs(&body, rng)?;
        let fc_mu = Linear::new(features + head_extra, config.latent_dim, rng)?;
        let fc_logvar = Linear::new(features + head_extra, config.latent_dim, rng)?;
        let decoder =
            Sequential::from_specs(&config.trunk.decoder(config.latent_dim + classes, config.input_dim), rng)?;
        Ok(Vae { config, encoder, fc_mu, fc_logvar, decoder })
    }

    /// `(μ, log σ²)` of `q(z|x, labels)` for rows `x` (`[N, input]`), in evaluation mode without
    /// recording a graph: what the exported encoders compute.
    ///
    /// # Errors
    /// If the input or labels do not fit the model.
    pub fn posterior_params(&mut self, x: &Tensor, labels: Option<&[u8]>) -> Result<(Tensor, Tensor)> {
        let labels = self.rows_labels(x.shape().first().copied().unwrap_or(0), labels, "encode")?;
        let _guard = no_grad();
        self.posterior(x, labels, &mut Ctx::eval())
    }

    /// `(μ, log σ²)` of `q(z|x, labels)`.
    fn posterior(&mut self, x: &Tensor, labels: Option<&[u8]>, ctx: &mut Ctx) -> Result<(Tensor, Tensor)> {
        let classes = self.config.classes.unwrap_or(0);
        let h = if self.config.trunk.is_conv() {
            let h = self.encoder.forward(&self.config.trunk.to_input(x)?, ctx)?;
            with_labels(&h, labels, classes)?
        } else {
            self.encoder.forward(&with_labels(x, labels, classes)?, ctx)?
        };
        Ok((self.fc_mu.forward(&h, ctx)?, self.fc_logvar.forward(&h, ctx)?))
    }

    /// The decoder's output for `p(x|z, labels)` as flat rows: Bernoulli logits or Gaussian
    /// means.
    fn logits(&mut self, z: &Tensor, labels: Option<&[u8]>, ctx: &mut Ctx) -> Result<Tensor> {
        let input = with_labels(z, labels, self.config.classes.unwrap_or(0))?;
        self.config.trunk.to_rows(&self.decoder.forward(&input, ctx)?)
    }

    fn rows_labels<'a>(&self, rows: usize, labels: Option<&'a [u8]>, what: &str) -> Result<Option<&'a [u8]>> {
        check_labels(self.config.classes, labels, rows, what)
    }
}

impl Model for Vae {
    fn config(&self) -> ModelConfig {
        ModelConfig::new(&self.config)
    }

    fn objective(&mut self, batch: &Batch, ctx: &mut Ctx) -> Result<Objective> {
        let input = data_tensor(batch.input());
        let target = data_tensor(&batch.images);
        let labels = self.config.classes.map(|_| batch.labels.as_slice());
        let labels = self.rows_labels(batch.len(), labels, "train")?;
        let (mu, logvar) = self.posterior(&input, labels, ctx)?;
        let (decoder, trunk, classes) = (&mut self.decoder, &self.config.trunk, self.config.classes.unwrap_or(0));
        gaussian_elbo(&mu, &logvar, &target, self.config.beta, self.config.likelihood, ctx, |z, ctx| {
            trunk.to_rows(&decoder.forward(&with_labels(z, labels, classes)?, ctx)?)
        })
    }

    fn classes(&self) -> Option<usize> {
        self.config.classes
    }

    fn encoder(&mut self) -> Option<&mut dyn Encoder> {
        Some(self)
    }

    fn decoder(&mut self) -> Option<&mut dyn Decoder> {
        Some(self)
    }

    fn generator(&mut self) -> Option<&mut dyn Generator> {
        Some(self)
    }

    fn likelihood(&mut self) -> Option<&mut dyn LikelihoodEstimate> {
        Some(self)
    }

    /// `encoder` (the trunk's body), `fc_mu`, `fc_logvar`, `decoder`; the graphs `encoder`
    /// (`x` [, `y`] → `mu`, `logvar`) and `decoder` (`z` [, `y`] → `x`). Sampling is the decoder
    /// on `z ~ N(0, I)`.
    fn architecture(&self) -> Option<Architecture> {
        let c = &self.config;
        let classes = c.classes.unwrap_or(0);
        let (input_extra, head_extra) = if c.trunk.is_conv() { (0, classes) } else { (classes, 0) };
        let (body, features) = c.trunk.body(c.input_dim, input_extra);
        let head = LayerSpec::Linear(LinearConfig::new(features + head_extra, c.latent_dim));
        let dec = c.trunk.decoder(c.latent_dim + classes, c.input_dim);
        let label = c.classes.map(label_port);

        let mut inputs = vec![data_port(c.input_dim)];
        inputs.extend(label.clone());
        let mut encoder = Graph::new("encoder", "the Gaussian posterior q(z|x) of each example", inputs);
        let h = if c.trunk.is_conv() {
            let image = c.trunk.graph_input(&mut encoder, "x");
            let h = encoder.push("h", Op::Module("encoder".into()), &[&image]);
            if classes > 0 { encoder.push("hy", Op::Concat, &[&h, "y"]) } else { h }
        } else {
            let x = if classes > 0 { encoder.push("xy", Op::Concat, &["x", "y"]) } else { "x".to_string() };
            encoder.push("h", Op::Module("encoder".into()), &[&x])
        };
        encoder.push("mu", Op::Module("fc_mu".into()), &[&h]);
        encoder.push("logvar", Op::Module("fc_logvar".into()), &[&h]);
        encoder.output("mu", format!("the posterior mean, {} values (what `latent embed` writes)", c.latent_dim));
        encoder.output("logvar", "the posterior log-variance log σ², same shape");

        let mut inputs =
            vec![code_port(c.latent_dim, "codes: posterior means, or draws from the prior N(0, I) to sample")];
        inputs.extend(label);
        let mut decoder = Graph::new("decoder", "the mean of p(x|z) for each code", inputs);
        let z = if classes > 0 { decoder.push("zy", Op::Concat, &["z", "y"]) } else { "z".to_string() };
        c.trunk.graph_decode(&mut decoder, "decoder", &z, c.input_dim, c.likelihood);
        Some(Architecture {
            modules: vec![
                ("encoder".into(), Submodule::Sequential(body)),
                ("fc_mu".into(), Submodule::Layer(head.clone())),
                ("fc_logvar".into(), Submodule::Layer(head)),
                ("decoder".into(), Submodule::Sequential(dec)),
            ],
            graphs: vec![encoder, decoder],
        })
    }

    fn example_scores(&mut self) -> Option<&mut dyn ExampleScores> {
        Some(self)
    }
}

impl ExampleScores for Vae {
    /// Decoded from the posterior mean `μ(x)`.
    fn reconstruction_error(&mut self, x: &Array2<f32>, labels: Option<&[u8]>) -> Result<Vec<f64>> {
        let labels = self.rows_labels(x.nrows(), labels, "score examples")?;
        let _guard = no_grad();
        let mut ctx = Ctx::eval();
        let input = data_tensor(x);
        let (mu, _) = self.posterior(&input, labels, &mut ctx)?;
        let out = self.logits(&mu, labels, &mut ctx)?;
        let rows = self.config.likelihood.reconstruction_error_rows(&out, &input)?;
        Ok(rows.to_vec().into_iter().map(f64::from).collect())
    }
}

impl Encoder for Vae {
    /// The posterior mean `μ(x)`.
    fn encode(&mut self, x: &Tensor, labels: Option<&[u8]>) -> Result<Tensor> {
        let labels = self.rows_labels(x.shape().first().copied().unwrap_or(0), labels, "encode")?;
        let _guard = no_grad();
        Ok(self.posterior(x, labels, &mut Ctx::eval())?.0)
    }
}

impl Decoder for Vae {
    fn latent_dim(&self) -> usize {
        self.config.latent_dim
    }

    /// The mean of `p(x|z)`: pixel probabilities `σ(logits)`, or the Gaussian's mean.
    fn decode(&mut self, z: &Tensor, labels: Option<&[u8]>) -> Result<Tensor> {
        let labels = self.rows_labels(z.shape().first().copied().unwrap_or(0), labels, "decode")?;
        let _guard = no_grad();
        let output = self.logits(z, labels, &mut Ctx::eval())?;
        Ok(self.config.likelihood.mean(&output))
    }
}

impl Generator for Vae {
    fn sample(&mut self, n: usize, labels: Option<&[u8]>, rng: &mut TensorRng) -> Result<Tensor> {
        let labels = sample_labels(self.config.classes, labels, n);
        // Checked before drawing, so a bad label draws nothing.
        self.rows_labels(n, labels.as_deref(), "sample")?;
        let z = rng.randn(&[n, self.config.latent_dim]);
        self.decode(&z, labels.as_deref())
    }
}

impl LikelihoodEstimate for Vae {
    fn log_likelihood(
        &mut self,
        x: &Array2<f32>,
        labels: Option<&[u8]>,
        k: usize,
        chunk: usize,
        rng: &mut TensorRng,
    ) -> Result<Vec<f64>> {
        let labels = self.rows_labels(x.nrows(), labels, "estimate log p(x)")?;
        if k == 0 || chunk == 0 {
            return Err(ModelError::config("iw-samples", "the number of importance samples must be at least 1"));
        }
        let _guard = no_grad();
        let mut ctx = Ctx::eval();
        let (mu, logvar) = self.posterior(&data_tensor(x), labels, &mut ctx)?;
        let to2 = |t: Tensor| t.to_array().into_dimensionality::<ndarray::Ix2>().expect("2-D posterior");
        let (mu, logvar) = (to2(mu), to2(logvar));
        importance_weighted_log_likelihood(x, (&mu, &logvar), k, chunk, rng, self.config.likelihood, |z, i| {
            let row_labels = labels.map(|l| vec![l[i]; z.shape()[0]]);
            self.logits(z, row_labels.as_deref(), &mut ctx)
        })
    }

    fn elbo(
        &mut self,
        x: &Array2<f32>,
        labels: Option<&[u8]>,
        samples: usize,
        rng: &mut TensorRng,
    ) -> Result<Vec<f64>> {
        let labels = self.rows_labels(x.nrows(), labels, "estimate the ELBO")?;
        if samples == 0 {
            return Err(ModelError::config("elbo samples", "the ELBO needs at least 1 sample of z per example"));
        }
        let _guard = no_grad();
        let mut ctx = Ctx::eval();
        let input = data_tensor(x);
        let (mu, logvar) = self.posterior(&input, labels, &mut ctx)?;
        let to2 = |t: Tensor| t.to_array().into_dimensionality::<ndarray::Ix2>().expect("2-D posterior");
        let (mu, logvar) = (to2(mu), to2(logvar));
        // KL(N(μ, σ²) ‖ N(0, I)) = −½ Σ (1 + log σ² − μ² − σ²), per row.
        let kl: Vec<f64> = mu
            .rows()
            .into_iter()
            .zip(logvar.rows())
            .map(|(m, lv)| {
                -0.5 * m
                    .iter()
                    .zip(lv)
                    .map(|(&m, &lv)| 1.0 + f64::from(lv) - f64::from(m).powi(2) - f64::from(lv).exp())
                    .sum::<f64>()
            })
            .collect();
        let std = logvar.mapv(|v| (0.5 * v).exp());
        let mut nll = vec![0.0f64; x.nrows()];
        for _ in 0..samples {
            let eps = rng.normal_array(mu.shape(), 0.0, 1.0)?.into_dimensionality::<ndarray::Ix2>().expect("2-D");
            let z = &mu + &(&eps * &std);
            let out = self.logits(&Tensor::new(z), labels, &mut ctx)?;
            for (total, v) in nll.iter_mut().zip(self.config.likelihood.nll_rows(&out, &input)?.to_vec()) {
                *total += f64::from(v);
            }
        }
        Ok(nll.iter().zip(&kl).map(|(n, k)| -(n / samples as f64 + k)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(m: &dyn Module) -> Vec<String> {
        let mut out = Vec::new();
        m.visit_params("", &mut |name, _| out.push(name.to_string()));
        out
    }

    #[test]
    fn every_trunk_and_conditioning_shares_the_names_and_capabilities() {
        for (config, conditional) in [
            (r#"{"kind":"vae","input_dim":784,"hidden":[32],"latent_dim":4,"activation":"relu","beta":1.0}"#, false),
            (r#"{"kind":"conv_vae","image_size":28,"channels":[8,16],"latent_dim":4,"beta":1.0}"#, false),
            (
                r#"{"kind":"cvae","input_dim":784,"classes":10,"hidden":[32],"latent_dim":4,"activation":"relu","beta":1.0}"#,
                true,
            ),
        ] {
            let config: ModelConfig = serde_json::from_str(config).unwrap();
            let mut model = crate::build_model(&config, &mut TensorRng::seed_from_u64(0)).unwrap();
            let got = names(&*model);
            assert!(
                got.contains(&"fc_mu.weight".to_string()) && got.contains(&"fc_logvar.bias".to_string()),
                "{got:?}"
            );
            assert_eq!(model.classes().is_some(), conditional);
            let mut rng = TensorRng::seed_from_u64(2);
            let s = model.generator().unwrap().sample(5, None, &mut rng).unwrap();
            assert_eq!(s.shape(), &[5, 784]);
            let x = Array2::from_shape_fn((2, 784), |(r, c)| ((r + c) % 2) as f32);
            let labels: Option<&[u8]> = if conditional { Some(&[3, 7]) } else { None };
            let ll = model.likelihood().unwrap().log_likelihood(&x, labels, 4, 2, &mut rng).unwrap();
            assert!(ll.iter().all(|v| v.is_finite() && *v < 0.0), "{ll:?}");
            let z = model.encoder().unwrap().encode(&Tensor::new(x.clone()), labels).unwrap();
            assert_eq!(z.shape(), &[2, 4]);
            if conditional {
                assert!(model.encoder().unwrap().encode(&Tensor::new(x), None).is_err(), "needs labels");
                let err = model.generator().unwrap().sample(1, Some(&[10]), &mut rng).unwrap_err().to_string();
                assert!(err.contains("out of range"), "{err}");
            }
        }
    }

    #[test]
    fn per_example_scores_agree_with_the_bounds_and_the_reconstruction() {
        let config: ModelConfig = serde_json::from_str(
            r#"{"kind":"vae","input_dim":16,"hidden":[8],"latent_dim":3,"activation":"relu","beta":1.0}"#,
        )
        .unwrap();
        let mut model = crate::build_model(&config, &mut TensorRng::seed_from_u64(0)).unwrap();
        let x = Array2::from_shape_fn((5, 16), |(r, c)| ((r * 3 + c) % 4) as f32 / 3.0);
        let mut rng = TensorRng::seed_from_u64(3);
        let elbo = model.likelihood().unwrap().elbo(&x, None, 200, &mut rng).unwrap();
        let iwae = model.likelihood().unwrap().log_likelihood(&x, None, 200, 50, &mut rng).unwrap();
        // log p(x) >= IWAE_K >= ELBO in expectation: on every row with this many draws.
        for (e, i) in elbo.iter().zip(&iwae) {
            assert!(e.is_finite() && e < i, "ELBO {e} vs IWAE {i}");
        }
        assert!(model.likelihood().unwrap().elbo(&x, None, 0, &mut rng).is_err());
        // The reconstruction error is the BCE of the mean's reconstruction, summed per row.
        let errors = model.example_scores().unwrap().reconstruction_error(&x, None).unwrap();
        let recon = crate::reconstruct(&mut *model, &Tensor::new(x.clone()), None).unwrap().to_vec();
        for (r, &e) in errors.iter().enumerate() {
            let bce: f64 = (0..16)
                .map(|c| {
                    let (p, t) = (f64::from(recon[r * 16 + c]), f64::from(x[[r, c]]));
                    -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
                })
                .sum();
            assert!((bce - e).abs() < 1e-4 * bce, "row {r}: {bce} vs {e}");
        }
    }

    #[test]
    fn a_conv_trunk_can_be_conditioned_too() {
        let config = VaeConfig {
            input_dim: 784,
            trunk: Trunk::conv([1, 28, 28], vec![4, 8]),
            latent_dim: 3,
            beta: 1.0,
            classes: Some(10),
            likelihood: Likelihood::Bernoulli,
        };
        let mut model = Vae::new(config, &mut TensorRng::seed_from_u64(0)).unwrap();
        let s = model.sample(4, Some(&[0, 1, 2, 3]), &mut TensorRng::seed_from_u64(1)).unwrap();
        assert_eq!(s.shape(), &[4, 784]);
    }
}
