//! [`LayerSpec`]: a serialisable description of a layer, enough to rebuild it. A list of specs
//! is a model configuration that can travel as JSON (in a checkpoint's metadata or a run
//! directory) and be turned back into a [`Sequential`] with [`Sequential::from_specs`].

use latent_tensor::TensorRng;
use serde::{Deserialize, Serialize};

use super::{
    BatchNorm1d, BatchNorm2d, BatchNormConfig, Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig, Dropout,
    Elu, Flatten, Identity, LeakyRelu, Linear, LinearConfig, Relu, Sequential, Sigmoid, Softplus, Tanh, Unflatten,
};
use crate::error::Result;
use crate::module::Layer;

/// One layer's kind and options, as JSON `{"type": "linear", "in_features": 784, ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerSpec {
    /// [`Linear`].
    Linear(LinearConfig),
    /// [`Conv2d`].
    Conv2d(Conv2dConfig),
    /// [`ConvTranspose2d`].
    ConvTranspose2d(ConvTranspose2dConfig),
    /// [`BatchNorm1d`].
    BatchNorm1d(BatchNormConfig),
    /// [`BatchNorm2d`].
    BatchNorm2d(BatchNormConfig),
    /// [`Dropout`].
    Dropout {
        /// The drop probability.
        p: f32,
    },
    /// [`Flatten`].
    Flatten {
        /// The first merged axis.
        start_dim: usize,
    },
    /// [`Unflatten`].
    Unflatten {
        /// The split axis.
        dim: usize,
        /// The sizes it is split into.
        sizes: Vec<usize>,
    },
    /// [`Relu`].
    Relu,
    /// [`LeakyRelu`].
    LeakyRelu {
        /// The negative slope.
        negative_slope: f32,
    },
    /// [`Elu`].
    Elu {
        /// The alpha.
        alpha: f32,
    },
    /// [`Sigmoid`].
    Sigmoid,
    /// [`Tanh`].
    Tanh,
    /// [`Softplus`].
    Softplus {
        /// The sharpness.
        beta: f32,
    },
    /// [`Identity`].
    Identity,
    /// A nested [`Sequential`].
    Sequential {
        /// Its layers.
        layers: Vec<LayerSpec>,
    },
}

impl LayerSpec {
    /// Build the layer, drawing initial weights from `rng` (PyTorch's default initialisers).
    ///
    /// # Errors
    /// If the options are invalid.
    pub fn build(&self, rng: &mut TensorRng) -> Result<Box<dyn Layer>> {
        Ok(match self {
            LayerSpec::Linear(c) => Box::new(Linear::from_config(c, rng)?),
            LayerSpec::Conv2d(c) => Box::new(Conv2d::new(c, rng)?),
            LayerSpec::ConvTranspose2d(c) => Box::new(ConvTranspose2d::new(c, rng)?),
            LayerSpec::BatchNorm1d(c) => Box::new(BatchNorm1d::from_config(c)?),
            LayerSpec::BatchNorm2d(c) => Box::new(BatchNorm2d::from_config(c)?),
            LayerSpec::Dropout { p } => Box::new(Dropout::new(*p)?),
            LayerSpec::Flatten { start_dim } => Box::new(Flatten::new(*start_dim)),
            LayerSpec::Unflatten { dim, sizes } => Box::new(Unflatten::new(*dim, sizes.clone())?),
            LayerSpec::Relu => Box::new(Relu),
            LayerSpec::LeakyRelu { negative_slope } => Box::new(LeakyRelu::new(*negative_slope)?),
            LayerSpec::Elu { alpha } => Box::new(Elu::new(*alpha)?),
            LayerSpec::Sigmoid => Box::new(Sigmoid),
            LayerSpec::Tanh => Box::new(Tanh),
            LayerSpec::Softplus { beta } => Box::new(Softplus::new(*beta)?),
            LayerSpec::Identity => Box::new(Identity),
            LayerSpec::Sequential { layers } => Box::new(Sequential::from_specs(layers, rng)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::Module;

    #[test]
    fn specs_round_trip_through_json_and_build() {
        let specs = vec![
            LayerSpec::Conv2d(Conv2dConfig::new(1, 4, 3).stride(2).padding(1)),
            LayerSpec::BatchNorm2d(BatchNormConfig::new(4)),
            LayerSpec::LeakyRelu { negative_slope: 0.2 },
            LayerSpec::Flatten { start_dim: 1 },
            LayerSpec::Dropout { p: 0.1 },
            LayerSpec::Linear(LinearConfig::new(4 * 4 * 4, 3)),
        ];
        let json = serde_json::to_string(&specs).unwrap();
        assert!(json.contains(r#"{"type":"linear","in_features":64,"out_features":3,"bias":true}"#), "{json}");
        let back: Vec<LayerSpec> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, specs);
        let model = Sequential::from_specs(&back, &mut TensorRng::seed_from_u64(0)).unwrap();
        assert_eq!(model.len(), 6);
        assert_eq!(model.parameter_count(), 4 * 9 + 4 + 4 + 4 + 64 * 3 + 3);
        // A Linear spec without "bias" gets one, as PyTorch's default.
        let l: LayerSpec = serde_json::from_str(r#"{"type":"linear","in_features":2,"out_features":1}"#).unwrap();
        assert_eq!(l, LayerSpec::Linear(LinearConfig::new(2, 1)));
        assert!(LayerSpec::Dropout { p: 1.5 }.build(&mut TensorRng::seed_from_u64(0)).is_err());
    }
}
