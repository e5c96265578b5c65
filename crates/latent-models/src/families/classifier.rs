//! The classifier family (`classifier` on the command line): a network that maps an example to
//! class logits, trained on the summed cross-entropy like any model, so the judge of generated
//! samples ([`crate::classifier::DataClassifier`]) trains through the one [`crate::Trainer`].
//!
//! Two architectures ([`ClassifierArch`]): an MLP `D-512-256-K` (ReLU, dropout 0.2 after each
//! hidden layer), and a small CNN (three 3×3 convolutions, the last two with stride 2, then 128
//! hidden units, dropout 0.2), shaped by the data (`D` values or `C×H×W` images, `K` classes).
//! The objective's parts are `loss` (the cross-entropy) and `correct` (the number classified
//! right), so the metrics report accuracy per example. Parameter names are those of the
//! equivalent `nn.Sequential` under `net.`.

use latent_data::{Batch, Scale};
use latent_losses::{Reduction, cross_entropy};
use latent_nn::layers::{Conv2dConfig, LayerSpec, LinearConfig, Sequential};
use latent_nn::{Ctx, Layer, Module};
use latent_tensor::{Tensor, TensorRng, no_grad};
use ndarray::{Array2, s};
use serde::{Deserialize, Serialize};

use crate::architecture::{Architecture, Graph, Op, Submodule, data_port};
use crate::config::{check_classes, positive};
use crate::error::{ModelError, Result};
use crate::family::{Description, FamilyConfig, ModelConfig, ModelFlags, Preset};
use crate::memory::Footprint;
use crate::model::{Model, Objective, Parts, data_tensor};
use crate::train::TrainOptions;

/// Rows per forward pass when predicting.
pub const PREDICT_BATCH: usize = 1000;

/// Which network classifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassifierArch {
    /// D-512-256-K, ReLU, dropout 0.2 after each hidden layer.
    Mlp,
    /// Conv C→32 (3×3), Conv 32→64 (3×3, stride 2), Conv 64→64 (3×3, stride 2), ReLU after
    /// each, then 128 hidden units with dropout 0.2.
    Cnn,
}

/// A classifier of `input` values (an image `[channels, side, side]` for the CNN) into
/// `classes` classes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifierConfig {
    /// The network.
    pub arch: ClassifierArch,
    /// The shape of one example, `[channels, height, width]` (`[1, 1, D]` for features).
    pub input_shape: [usize; 3],
    /// The number of classes.
    pub classes: usize,
}

impl ClassifierConfig {
    /// The classifier of 28×28 one-channel digits into 10 classes.
    pub fn digits(arch: ClassifierArch) -> Self {
        ClassifierConfig { arch, input_shape: [1, 28, 28], classes: 10 }
    }

    /// Values per example.
    pub fn input_dim(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// The layers of the network.
    pub fn layers(&self) -> Vec<LayerSpec> {
        let linear = |i, o| LayerSpec::Linear(LinearConfig::new(i, o));
        match self.arch {
            ClassifierArch::Mlp => vec![
                linear(self.input_dim(), 512),
                LayerSpec::Relu,
                LayerSpec::Dropout { p: 0.2 },
                linear(512, 256),
                LayerSpec::Relu,
                LayerSpec::Dropout { p: 0.2 },
                linear(256, self.classes),
            ],
            ClassifierArch::Cnn => {
                let [c, h, w] = self.input_shape;
                // Kernel 3, padding 1: stride 1 keeps a side, stride 2 makes it ceil(side / 2).
                let (h2, w2) = (h.div_ceil(2).div_ceil(2), w.div_ceil(2).div_ceil(2));
                vec![
                    LayerSpec::Unflatten { dim: 1, sizes: vec![c, h, w] },
                    LayerSpec::Conv2d(Conv2dConfig::new(c, 32, 3).padding(1)),
                    LayerSpec::Relu,
                    LayerSpec::Conv2d(Conv2dConfig::new(32, 64, 3).stride(2).padding(1)),
                    LayerSpec::Relu,
                    LayerSpec::Conv2d(Conv2dConfig::new(64, 64, 3).stride(2).padding(1)),
                    LayerSpec::Relu,
                    LayerSpec::Flatten { start_dim: 1 },
                    linear(64 * h2 * w2, 128),
                    LayerSpec::Relu,
                    LayerSpec::Dropout { p: 0.2 },
                    linear(128, self.classes),
                ]
            }
        }
    }
}

impl FamilyConfig for ClassifierConfig {
    const KINDS: &'static [&'static str] = &["classifier"];

    fn flags(_model: &str) -> &'static [&'static str] {
        &[]
    }

    fn validate(&self) -> Result<()> {
        self.input_shape.iter().try_for_each(|&d| positive("input_shape", d))?;
        let values = self.input_shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).unwrap_or(usize::MAX);
        positive("input_shape (values per example)", values)?;
        check_classes(self.classes)?;
        if self.classes < 2 {
            return Err(ModelError::config("classes", "a classifier needs at least 2 classes"));
        }
        Ok(())
    }

    fn describe(&self) -> Description {
        Description {
            kind: self.kind().to_string(),
            input_dim: self.input_dim(),
            latent_dim: self.classes,
            scale: Scale::ZeroOne,
            noise: latent_data::NoiseSpec::None,
            classes: None,
        }
    }

    fn footprint(&self) -> Footprint {
        Footprint::of_layers(&self.layers(), &[self.input_dim()])
    }

    fn apply_flags(&mut self, flags: &ModelFlags) -> Result<()> {
        if let Some(shape) = flags.data_shape {
            self.input_shape = shape;
        }
        if let Some(c) = flags.classes {
            self.classes = c;
        }
        Ok(())
    }

    fn presets() -> Vec<Preset> {
        let p = |name, summary, arch| Preset {
            model: "classifier",
            name,
            summary,
            config: ModelConfig::new(&ClassifierConfig::digits(arch)),
            train: TrainOptions::default(),
        };
        vec![
            p("mlp", "784-512-256-10 MLP, ReLU, dropout 0.2 (the judge of generated digits)", ClassifierArch::Mlp),
            p("cnn", "three 3x3 convolutions and 128 hidden units, dropout 0.2", ClassifierArch::Cnn),
        ]
    }

    fn build(&self, rng: &mut TensorRng) -> Result<Box<dyn Model>> {
        Ok(Box::new(Classifier::new(self.clone(), rng)?))
    }
}

/// A classifier of the family (see the module docs).
#[derive(Module)]
pub struct Classifier {
    #[module(skip)]
    config: ClassifierConfig,
    net: Sequential,
}

impl Classifier {
    /// Build the classifier `config` describes, with fresh weights drawn from `rng`.
    ///
    /// # Errors
    /// If the configuration is invalid.
    pub fn new(config: ClassifierConfig, rng: &mut TensorRng) -> Result<Self> {
        config.validate()?;
        let net = Sequential::from_specs(&config.layers(), rng)?;
        Ok(Classifier { config, net })
    }

    /// Its configuration.
    pub fn classifier_config(&self) -> &ClassifierConfig {
        &self.config
    }

    /// The network (whose parameter names are those of the equivalent `nn.Sequential`).
    pub fn net(&self) -> &Sequential {
        &self.net
    }

    /// The network, mutably (to load weights).
    pub fn net_mut(&mut self) -> &mut Sequential {
        &mut self.net
    }

    /// Class probabilities (`[N, classes]`, rows summing to 1) of `[N, input]` rows, in
    /// evaluation mode, [`PREDICT_BATCH`] rows at a time.
    ///
    /// # Errors
    /// If the rows do not have the classifier's input size.
    pub fn predict_proba(&mut self, x: &Array2<f32>) -> Result<Array2<f32>> {
        self.check_input(x)?;
        let layers = self.net.len();
        self.run_layers(x, layers, self.config.classes, true)
    }

    /// The width of the penultimate layer, whose outputs [`features`](Self::features) returns:
    /// the input width of the last (linear) layer.
    pub fn feature_dim(&self) -> usize {
        match self.config.layers().last() {
            Some(LayerSpec::Linear(last)) => last.in_features,
            _ => self.config.input_dim(),
        }
    }

    /// The penultimate layer's activations (`[N, feature_dim]`: every layer but the last
    /// linear one, after its ReLU; dropout is off) of `[N, input]` rows, in evaluation mode,
    /// [`PREDICT_BATCH`] rows at a time: the features in which generated samples are compared
    /// with real ones.
    ///
    /// # Errors
    /// If the rows do not have the classifier's input size.
    pub fn features(&mut self, x: &Array2<f32>) -> Result<Array2<f32>> {
        self.check_input(x)?;
        let layers = self.net.len() - 1;
        self.run_layers(x, layers, self.feature_dim(), false)
    }

    fn check_input(&self, x: &Array2<f32>) -> Result<()> {
        if x.ncols() != self.config.input_dim() {
            return Err(ModelError::input(
                "images",
                format!(
                    "expected {} values per row ({}), found {} columns",
                    self.config.input_dim(),
                    shape_text(self.config.input_shape),
                    x.ncols()
                ),
            ));
        }
        Ok(())
    }

    /// The first `layers` layers on `x` in batches (a softmax after them when `softmax`).
    fn run_layers(&mut self, x: &Array2<f32>, layers: usize, width: usize, softmax: bool) -> Result<Array2<f32>> {
        let _guard = no_grad();
        let mut ctx = Ctx::eval();
        let mut out = Array2::zeros((x.nrows(), width));
        let mut start = 0;
        while start < x.nrows() {
            let end = (start + PREDICT_BATCH).min(x.nrows());
            let mut t = Tensor::new(x.slice(s![start..end, ..]).to_owned());
            for index in 0..layers {
                let layer = self.net.layer_mut(index).expect("index below the layer count");
                t = layer
                    .forward(&t, &mut ctx)
                    .map_err(|e| latent_nn::NnError::Layer { index, source: Box::new(e) })?;
            }
            if softmax {
                t = t.softmax(1)?;
            }
            let p = t.to_array();
            out.slice_mut(s![start..end, ..]).assign(&p.into_dimensionality::<ndarray::Ix2>().expect("[B, K]"));
            start = end;
        }
        Ok(out)
    }
}

fn shape_text([c, h, w]: [usize; 3]) -> String {
    if c == 1 && h == 1 { format!("{w} features") } else { format!("{c}×{h}×{w}") }
}

impl Model for Classifier {
    fn config(&self) -> ModelConfig {
        ModelConfig::new(&self.config)
    }

    fn objective(&mut self, batch: &Batch, ctx: &mut Ctx) -> Result<Objective> {
        let labels: Vec<usize> = batch.labels.iter().map(|&l| usize::from(l)).collect();
        if let Some(bad) = labels.iter().find(|&&l| l >= self.config.classes) {
            return Err(ModelError::input(
                "labels",
                format!("label {bad} is out of range: this classifier knows {} classes", self.config.classes),
            ));
        }
        let logits = self.net.forward(&data_tensor(batch.input()), ctx)?;
        let loss = cross_entropy(&logits, &labels, Reduction::Sum)?;
        let scores: Array2<f32> = logits.to_array().into_dimensionality().expect("[B, K] logits");
        let correct = scores
            .outer_iter()
            .zip(&labels)
            .filter(|(row, y)| {
                let best =
                    row.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
                best.0 == **y
            })
            .count();
        let mut parts = Parts::default();
        parts.set("loss", f64::from(loss.item()?));
        parts.set("accuracy", correct as f64);
        Ok(Objective { loss, parts })
    }

    /// `net`; the graph `classifier` (`x` → class logits; dropout is the identity).
    fn architecture(&self) -> Option<Architecture> {
        let mut graph =
            Graph::new("classifier", "class logits for each example", vec![data_port(self.config.input_dim())]);
        graph.push("logits", Op::Module("net".into()), &["x"]);
        graph.output(
            "logits",
            format!("{} class logits (softmax of them: the class probabilities)", self.config.classes),
        );
        Some(Architecture {
            modules: vec![("net".into(), Submodule::Sequential(self.config.layers()))],
            graphs: vec![graph],
        })
    }
}
