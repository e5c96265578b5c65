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
    /// Applies the layers in order. A layer followed by a rectifier (`Relu`, or `LeakyRelu` with
    /// a slope of 0 or more) runs as one step, [`Layer::forward_rectified`], so a convolution,
    /// linear layer or batch norm rectifies its output as it writes it; the values and
    /// gradients are those of the two layers one after the other.
    fn forward(&mut self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        let mut y = x.clone();
        let mut layers = self.layers.iter_mut().enumerate().peekable();
        while let Some((index, layer)) = layers.next() {
            let rectifier = layers.peek().and_then(|(_, next)| next.as_rectifier());
            let out = match rectifier {
                Some(rectifier) => {
                    layers.next();
                    layer.forward_rectified(&y, rectifier, ctx)
                }
                None => layer.forward(&y, ctx),
            };
            y = out.map_err(|e| NnError::Layer { index, source: Box::new(e) })?;
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

    /// A chain of layers with rectifiers after a linear layer, a batch norm (training and
    /// evaluation) and a convolution, and a leaky ReLU of negative slope (not fusable): the
    /// chain's values and gradients are those of the layers applied one by one, bit for bit, and
    /// the fused rectifiers record no op of their own.
    #[test]
    fn rectifiers_run_inside_the_layer_before_with_the_same_bits() {
        use crate::layers::{Conv2d, Conv2dConfig, Flatten, LeakyRelu};
        use latent_tensor::recorded_ops;
        let mut rng = TensorRng::seed_from_u64(5);
        let mut model = Sequential::new()
            .with(Conv2d::new(&Conv2dConfig::new(2, 4, 3).padding(1), &mut rng).unwrap())
            .with(Relu)
            .with(Flatten::new(1))
            .with(Linear::new(4 * 5 * 5, 16, &mut rng).unwrap())
            .with(LeakyRelu::new(0.1).unwrap())
            .with(BatchNorm1d::new(16).unwrap())
            .with(Relu)
            .with(Linear::new(16, 8, &mut rng).unwrap())
            .with(LeakyRelu::new(-0.5).unwrap());
        let x = Tensor::new(rng.normal_array(&[6, 2, 5, 5], 0.0, 1.0).unwrap());
        for training in [true, false] {
            let ctx = || if training { Ctx::train(TensorRng::seed_from_u64(1)) } else { Ctx::eval() };
            let before = recorded_ops();
            let fused = model.forward(&x, &mut ctx()).unwrap();
            let fused_ops = recorded_ops() - before;
            let before = recorded_ops();
            let mut one_by_one = x.clone();
            for i in 0..model.len() {
                one_by_one = model.layer_mut(i).unwrap().forward(&one_by_one, &mut ctx()).unwrap();
            }
            let unfused_ops = recorded_ops() - before;
            let bits = |t: &Tensor| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fused), bits(&one_by_one), "training {training}");
            // Three rectifiers fused in training; in evaluation the batch norm's stays an op.
            assert_eq!(unfused_ops - fused_ops, if training { 3 } else { 2 }, "training {training}");
            let (gf, gu) = (fused.sum_all().backward().unwrap(), one_by_one.sum_all().backward().unwrap());
            for (name, p) in model.named_parameters() {
                let (a, b) = (gf.get(&p).unwrap(), gu.get(&p).unwrap());
                assert_eq!(bits(&a), bits(&b), "{name}, training {training}");
            }
        }
    }
}
