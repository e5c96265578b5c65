//! [`Sequential`]: layers applied in order, named `0`, `1`, ... as in PyTorch's `nn.Sequential`.

use std::fmt;

use latent_tensor::{Tensor, TensorRng};

use super::spec::LayerSpec;
use crate::error::{NnError, Result};
use crate::module::{Ctx, Layer, Module};

/// A chain of layers. The layer at position `i` owns the names under `i.` (so layers without
/// parameters still take up an index, as in PyTorch, and state-dict names agree).
#[derive(Default, Module)]
pub struct Sequential {
    #[module(flatten)]
    layers: Vec<Box<dyn Layer>>,
}

impl Sequential {
    /// An empty chain (the identity).
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// The chain with `layer` appended (builder style).
    #[must_use]
    pub fn with(mut self, layer: impl Layer) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Append `layer`.
    pub fn push(&mut self, layer: impl Layer) {
        self.layers.push(Box::new(layer));
    }

    /// Append a boxed layer.
    pub fn push_boxed(&mut self, layer: Box<dyn Layer>) {
        self.layers.push(layer);
    }

    /// Build the layers described by `specs`, drawing initial weights from `rng` in order.
    ///
    /// # Errors
    /// If a spec is invalid.
    pub fn from_specs(specs: &[LayerSpec], rng: &mut TensorRng) -> Result<Self> {
        let layers = specs.iter().map(|s| s.build(rng)).collect::<Result<Vec<_>>>()?;
        Ok(Sequential { layers })
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether the chain is empty.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The layer at `index`.
    pub fn layer(&self, index: usize) -> Option<&dyn Layer> {
        self.layers.get(index).map(|l| &**l)
    }

    /// The layer at `index`, mutably.
    pub fn layer_mut(&mut self, index: usize) -> Option<&mut (dyn Layer + 'static)> {
        self.layers.get_mut(index).map(|l| &mut **l)
    }
}

impl fmt::Debug for Sequential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sequential({} layers, {} parameters)", self.layers.len(), self.parameter_count())
    }
}

impl Layer for Sequential {
    fn forward(&mut self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        let mut y = x.clone();
        for (index, layer) in self.layers.iter_mut().enumerate() {
            y = layer.forward(&y, ctx).map_err(|e| NnError::Layer { index, source: Box::new(e) })?;
        }
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{BatchNorm1d, Linear, Relu};

    #[test]
    fn names_follow_pytorch_indices_and_errors_name_the_layer() {
        let mut rng = TensorRng::seed_from_u64(0);
        let inner = Sequential::new().with(Linear::new(4, 3, &mut rng).unwrap()).with(BatchNorm1d::new(3).unwrap());
        let mut model = Sequential::new().with(inner).with(Relu).with(Linear::new(3, 2, &mut rng).unwrap());
        let mut names = Vec::new();
        model.visit_params("encoder", &mut |n, _| names.push(n.to_string()));
        model.visit_buffers("encoder", &mut |n, _| names.push(n.to_string()));
        assert_eq!(
            names,
            [
                "encoder.0.0.weight",
                "encoder.0.0.bias",
                "encoder.0.1.weight",
                "encoder.0.1.bias",
                "encoder.2.weight",
                "encoder.2.bias",
                "encoder.0.1.running_mean",
                "encoder.0.1.running_var",
                "encoder.0.1.num_batches_tracked",
            ]
        );
        assert_eq!(model.parameter_count(), 4 * 3 + 3 + 3 + 3 + 3 * 2 + 2);
        let y = model.forward(&Tensor::zeros(&[5, 4]), &mut Ctx::eval()).unwrap();
        assert_eq!(y.shape(), [5, 2]);
        let err = model.forward(&Tensor::zeros(&[5, 7]), &mut Ctx::eval()).unwrap_err();
        assert_eq!(err.to_string(), "layer 0: layer 0: Linear: expected input [..., 4], found [5, 7]");
        assert!(format!("{model:?}").contains("3 layers"));
    }
}
