//! Every model family exported to ONNX and run by a pure-Rust runtime (`tract-onnx`): each
//! inference graph's outputs must match latent's own on the same inputs within 1e-5.

use latent_export::onnx_graphs;
use latent_models::families::classifier::Classifier;
use latent_models::{ClassifierConfig, Model, ModelConfig, Registry, Vae, VaeConfig, build_model};
use latent_nn::{BufferMut, Layer};
use latent_tensor::{Tensor, TensorRng};
use tract_onnx::prelude::{Framework, InferenceModelExt, IntoRunnable, TValue, Tensor as TractTensor};

/// The largest absolute difference allowed between latent's outputs and the runtime's.
const TOLERANCE: f32 = 1e-5;

/// Rows per batch (several, so the free batch axis is exercised).
const N: usize = 5;

/// A model of `config`, its BatchNorm statistics made non-trivial (so inference is seen to use
/// them), and a VAE or classifier handle when it is one.
enum Built {
    Vae(Vae),
    Classifier(Classifier),
    Other(Box<dyn Model>),
}

impl Built {
    fn new(config: &ModelConfig, seed: u64) -> Self {
        let mut rng = TensorRng::seed_from_u64(seed);
        let mut built = match config.kind() {
            "vae" | "conv_vae" | "cvae" => {
                Built::Vae(Vae::new(config.typed::<VaeConfig>().unwrap(), &mut rng).unwrap())
            }
            "classifier" => {
                Built::Classifier(Classifier::new(config.typed::<ClassifierConfig>().unwrap(), &mut rng).unwrap())
            }
            _ => Built::Other(build_model(config, &mut rng).unwrap()),
        };
        let mut stats = TensorRng::seed_from_u64(seed + 1);
        built.model().visit_buffers_mut("", &mut |name, b| {
            if let BufferMut::F32(a) = b {
                let draw = stats.uniform(a.shape(), 0.2, 1.5).unwrap().to_vec();
                for (v, d) in a.iter_mut().zip(draw) {
                    *v = if name.ends_with("running_mean") { d - 0.8 } else { d };
                }
            }
        });
        built
    }

    fn model(&mut self) -> &mut dyn Model {
        match self {
            Built::Vae(m) => m,
            Built::Classifier(m) => m,
            Built::Other(m) => &mut **m,
        }
    }
}

fn one_hot(labels: &[u8], classes: usize) -> Vec<f32> {
    let mut v = vec![0.0; labels.len() * classes];
    for (row, &l) in labels.iter().enumerate() {
        v[row * classes + usize::from(l)] = 1.0;
    }
    v
}

/// Run the ONNX bytes on named inputs `(shape, values)`; every output's values, in order.
fn run_onnx(bytes: &[u8], inputs: &[(Vec<usize>, Vec<f32>)]) -> Vec<Vec<f32>> {
    let model =
        tract_onnx::onnx().model_for_read(&mut &bytes[..]).unwrap().into_optimized().unwrap().into_runnable().unwrap();
    let values: tract_onnx::prelude::TVec<TValue> =
        inputs.iter().map(|(shape, data)| TractTensor::from_shape(shape, data).unwrap().into()).collect();
    let outputs = model.run(values).unwrap();
    outputs.iter().map(|t| t.to_plain_array_view::<f32>().unwrap().iter().copied().collect()).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn check(config: &ModelConfig, what: &str) {
    let mut built = Built::new(config, 7);
    let graphs = onnx_graphs(built.model(), &[]).unwrap();
    let description = config.describe().unwrap();
    let (d, l) = (description.input_dim, description.latent_dim);
    let classes = built.model().classes();
    let mut rng = TensorRng::seed_from_u64(11);
    let labels: Option<Vec<u8>> = classes.map(|k| (0..N).map(|i| ((i * 7 + 3) % k) as u8).collect());
    let y = classes.map(|k| (vec![N, k], one_hot(labels.as_deref().unwrap(), k)));
    let x = rng.uniform(&[N, d], 0.0, 1.0).unwrap();
    let z = rng.randn(&[N, l]);
    assert!(!graphs.is_empty(), "{what}: no graph");
    for (name, bytes) in &graphs {
        let (input, expected): (&Tensor, Vec<Vec<f32>>) = match (name.as_str(), &mut built) {
            ("encoder", Built::Vae(vae)) => {
                let (mu, logvar) = vae.posterior_params(&x, labels.as_deref()).unwrap();
                (&x, vec![mu.to_vec(), logvar.to_vec()])
            }
            ("encoder", b) => (&x, vec![b.model().encoder().unwrap().encode(&x, labels.as_deref()).unwrap().to_vec()]),
            ("decoder" | "generator", b) => {
                (&z, vec![b.model().decoder().unwrap().decode(&z, labels.as_deref()).unwrap().to_vec()])
            }
            ("classifier", Built::Classifier(c)) => {
                let logits = c.net_mut().forward(&x, &mut latent_nn::Ctx::eval()).unwrap();
                (&x, vec![logits.to_vec()])
            }
            (other, _) => panic!("{what}: unexpected graph {other}"),
        };
        let mut inputs = vec![(input.shape().to_vec(), input.to_vec())];
        inputs.extend(y.clone());
        let got = run_onnx(bytes, &inputs);
        assert_eq!(got.len(), expected.len(), "{what} {name}: outputs");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            let diff = max_diff(g, e);
            let scale = e.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            eprintln!("{what} {name} output {i}: {} values up to {scale:.3}, max abs diff {diff:.2e}", e.len());
            assert!(diff <= TOLERANCE, "{what} {name} output {i}: max abs diff {diff}");
        }
    }
}

#[test]
fn every_preset_of_every_family_matches_latent() {
    for preset in Registry::builtin().presets() {
        check(&preset.config, &format!("{}/{}", preset.model, preset.name));
    }
}

#[test]
fn other_trunks_activations_likelihoods_and_shapes_match_latent() {
    let configs = [
        // Every activation of an MLP trunk, a Gaussian likelihood, a conditional VAE.
        r#"{"kind":"autoencoder","input_dim":12,"hidden":[9,7],"latent_dim":3,"activation":"elu","code_activation":"tanh","likelihood":"gaussian","regularizer":{"type":"none"},"noise":"none"}"#,
        r#"{"kind":"autoencoder","input_dim":12,"hidden":[9],"latent_dim":3,"activation":"softplus","code_activation":"leaky_relu","likelihood":"bernoulli","regularizer":{"type":"none"},"noise":"none"}"#,
        r#"{"kind":"autoencoder","input_dim":12,"hidden":[9],"latent_dim":3,"activation":"identity","code_activation":"identity","likelihood":"gaussian","regularizer":{"type":"none"},"noise":"none"}"#,
        r#"{"kind":"vae","input_dim":12,"hidden":[10,6],"latent_dim":2,"activation":"tanh","beta":1.0,"likelihood":"gaussian"}"#,
        r#"{"kind":"vae","input_dim":12,"hidden":[8],"latent_dim":2,"activation":"sigmoid","beta":1.0,"classes":3}"#,
        r#"{"kind":"vae","input_dim":12,"hidden":[8],"latent_dim":2,"activation":"leaky_relu","beta":4.0,"classes":3,"likelihood":"gaussian"}"#,
        // Convolutional trunks on RGB and non-square images, conditioned, Gaussian.
        r#"{"kind":"vae","trunk":"conv","input_dim":768,"image_size":16,"image_channels":3,"channels":[4,8],"latent_dim":3,"beta":1.0,"classes":4,"likelihood":"gaussian"}"#,
        r#"{"kind":"autoencoder","trunk":"conv","input_dim":192,"image_size":8,"image_width":12,"image_channels":2,"channels":[5],"latent_dim":4,"code_activation":"relu","likelihood":"bernoulli","regularizer":{"type":"none"},"noise":"none"}"#,
        // A conditional GAN of another size, a DCGAN on RGB non-square images.
        r#"{"kind":"cgan","latent_dim":6,"output_dim":20,"generator_hidden":[16],"discriminator_hidden":[12],"classes":5}"#,
        r#"{"kind":"dcgan","image_size":16,"image_width":8,"image_channels":3,"latent_dim":10,"generator_channels":[12,6],"discriminator_channels":[6,12]}"#,
        // A classifier of table rows and the CNN on RGB images.
        r#"{"kind":"classifier","arch":"mlp","input_shape":[1,1,9],"classes":3}"#,
        r#"{"kind":"classifier","arch":"cnn","input_shape":[3,12,12],"classes":4}"#,
    ];
    for text in configs {
        let config: ModelConfig = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        check(&config, text);
    }
}
