//! [`BatchNorm1d`] (`[n, c]` or `[n, c, l]`) and [`BatchNorm2d`] (`[n, c, h, w]`), with
//! PyTorch's semantics and state names.
//!
//! In training mode the input is normalised per channel with the batch mean and the *biased*
//! batch variance, then scaled by `weight` and shifted by `bias`; the running statistics move
//! towards the batch's by `momentum`, the running variance towards the *unbiased* batch
//! variance (`running = (1 - momentum)·running + momentum·batch`), and `num_batches_tracked`
//! counts the updates. With `momentum = None` the running statistics are the cumulative
//! average over all batches, as in PyTorch. In evaluation mode the running statistics are used
//! instead. State names: `weight`, `bias` (parameters), `running_mean`, `running_var` and
//! `num_batches_tracked` (buffers; the last is an `int64` scalar, as in PyTorch).
//!
//! Training mode is one fused op, latent-tensor's `Tensor::batch_norm` (two passes forward, a
//! closed-form backward); evaluation mode is a per-channel scale and shift.

use latent_tensor::{Rectifier, Tensor};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

use crate::error::{NnError, Result};
use crate::module::{Ctx, Layer, Module};

/// The options of a batch-normalisation layer (PyTorch's defaults via [`BatchNormConfig::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchNormConfig {
    /// The number of channels `c`.
    pub num_features: usize,
    /// Added to the variance before the square root.
    pub eps: f32,
    /// The weight of the new batch in the running statistics; `None` for a cumulative average.
    pub momentum: Option<f32>,
    /// Whether the layer has a learnable per-channel `weight` and `bias`.
    pub affine: bool,
}

impl BatchNormConfig {
    /// `num_features` channels with `eps = 1e-5`, `momentum = 0.1`, `affine = true`.
    pub fn new(num_features: usize) -> Self {
        BatchNormConfig { num_features, eps: 1e-5, momentum: Some(0.1), affine: true }
    }
}

/// Batch normalisation with per-channel statistics: [`BatchNorm1d`] (`D = 1`, input `[n, c]` or
/// `[n, c, l]`) and [`BatchNorm2d`] (`D = 2`, input `[n, c, h, w]`), the two layers this type is
/// (other values of `D` do not build).
#[derive(Clone, Debug, Module)]
pub struct BatchNorm<const D: usize> {
    #[module(skip)]
    config: BatchNormConfig,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    #[module(buffer)]
    running_mean: ArrayD<f32>,
    #[module(buffer)]
    running_var: ArrayD<f32>,
    #[module(buffer)]
    num_batches_tracked: i64,
}

/// Batch normalisation over `[n, c]` or `[n, c, l]` (statistics per channel `c`).
pub type BatchNorm1d = BatchNorm<1>;

/// Batch normalisation over `[n, c, h, w]` (statistics per channel `c`).
pub type BatchNorm2d = BatchNorm<2>;

impl<const D: usize> BatchNorm<D> {
    /// The layer's name in messages, and the input ranks and shape it takes.
    const LAYER: (&'static str, &'static [usize], &'static str) = match D {
        1 => ("BatchNorm1d", &[2, 3], "[n, c] or [n, c, l]"),
        2 => ("BatchNorm2d", &[4], "[n, c, h, w]"),
        _ => panic!("BatchNorm<D> exists for D = 1 (BatchNorm1d) and D = 2 (BatchNorm2d) only"),
    };

    /// `num_features` channels with PyTorch's defaults: weight 1, bias 0, running mean 0,
    /// running variance 1, `eps = 1e-5`, `momentum = 0.1`.
    ///
    /// # Errors
    /// If `num_features` is zero.
    pub fn new(num_features: usize) -> Result<Self> {
        Self::from_config(&BatchNormConfig::new(num_features))
    }

    /// A layer with the given options, initialised as PyTorch does.
    ///
    /// # Errors
    /// If `num_features` is zero, `eps` is not positive or `momentum` is outside `[0, 1]`.
    pub fn from_config(config: &BatchNormConfig) -> Result<Self> {
        let layer = Self::LAYER.0;
        let config = *config;
        let c = config.num_features;
        if c == 0 {
            return Err(NnError::config(layer, "num_features must be positive"));
        }
        if !(config.eps.is_finite() && config.eps > 0.0) {
            return Err(NnError::config(layer, format!("eps must be positive, found {}", config.eps)));
        }
        if let Some(m) = config.momentum
            && !(0.0..=1.0).contains(&m)
        {
            return Err(NnError::config(layer, format!("momentum must be in [0, 1], found {m}")));
        }
        let (weight, bias) = if config.affine {
            (Some(Tensor::parameter(ArrayD::ones(IxDyn(&[c])))), Some(Tensor::parameter(ArrayD::zeros(IxDyn(&[c])))))
        } else {
            (None, None)
        };
        Ok(BatchNorm {
            config,
            weight,
            bias,
            running_mean: ArrayD::zeros(IxDyn(&[c])),
            running_var: ArrayD::ones(IxDyn(&[c])),
            num_batches_tracked: 0,
        })
    }

    /// An affine layer using the given tensors (`[c]` each) as `weight` and `bias`, as they are.
    ///
    /// # Errors
    /// As [`Self::from_config`], or if the shapes are not `[num_features]`.
    pub fn from_tensors(config: &BatchNormConfig, weight: Tensor, bias: Tensor) -> Result<Self> {
        let c = config.num_features;
        if weight.shape() != [c] || bias.shape() != [c] {
            return Err(NnError::config(
                Self::LAYER.0,
                format!("weight and bias must be [{c}], found {:?} and {:?}", weight.shape(), bias.shape()),
            ));
        }
        let mut bn = Self::from_config(&BatchNormConfig { affine: true, ..*config })?;
        bn.weight = Some(weight);
        bn.bias = Some(bias);
        Ok(bn)
    }

    /// The layer's options.
    pub fn config(&self) -> BatchNormConfig {
        self.config
    }

    /// The running mean `[c]`.
    pub fn running_mean(&self) -> &ArrayD<f32> {
        &self.running_mean
    }

    /// The running variance `[c]`.
    pub fn running_var(&self) -> &ArrayD<f32> {
        &self.running_var
    }

    /// How many training batches have updated the running statistics.
    pub fn num_batches_tracked(&self) -> i64 {
        self.num_batches_tracked
    }

    /// The learnable `weight` and `bias`, for initialisers (which keep their shapes); `None`
    /// without `affine`.
    pub(crate) fn affine_mut(&mut self) -> Option<(&mut Tensor, &mut Tensor)> {
        self.weight.as_mut().zip(self.bias.as_mut())
    }

    fn update_running_stats(&mut self, mean: &[f32], var: &[f32], count: usize) {
        self.num_batches_tracked += 1;
        let m = self.config.momentum.unwrap_or(1.0 / self.num_batches_tracked as f32);
        let unbias = count as f32 / (count - 1) as f32;
        for (r, &b) in self.running_mean.iter_mut().zip(mean) {
            *r = m * b + (1.0 - m) * *r;
        }
        for (r, &b) in self.running_var.iter_mut().zip(var) {
            *r = m * (b * unbias) + (1.0 - m) * *r;
        }
    }
}

impl<const D: usize> Layer for BatchNorm<D> {
    fn forward(&mut self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        self.apply(x, None, ctx)
    }

    fn forward_rectified(&mut self, x: &Tensor, rectifier: Rectifier, ctx: &mut Ctx) -> Result<Tensor> {
        self.apply(x, Some(rectifier), ctx)
    }
}

impl<const D: usize> BatchNorm<D> {
    /// The layer's map followed by `rectifier`, if given: one op in training mode, an op of its
    /// own after the evaluation-mode affine map.
    fn apply(&mut self, x: &Tensor, rectifier: Option<Rectifier>, ctx: &mut Ctx) -> Result<Tensor> {
        let (layer, ranks, shape_doc) = Self::LAYER;
        let c = self.config.num_features;
        if !ranks.contains(&x.ndim()) || x.shape()[1] != c {
            return Err(NnError::input(
                layer,
                format!("expected input {shape_doc} with c = {c}, found {:?}", x.shape()),
            ));
        }
        // The per-channel vectors broadcast as [1, c, 1, ...].
        let mut channel_shape = vec![1; x.ndim()];
        channel_shape[1] = c;
        let axes: Vec<usize> = (0..x.ndim()).filter(|&a| a != 1).collect();
        if ctx.uses_batch_statistics() {
            let count: usize = axes.iter().map(|&a| x.shape()[a]).product();
            if count < 2 {
                return Err(NnError::input(
                    layer,
                    format!("batch statistics need more than 1 value per channel, found input {:?}", x.shape()),
                ));
            }
            // One fused op (latent-tensor's `batch_norm`): two passes forward, closed-form backward.
            let (out, stats) =
                x.batch_norm_rectified(self.weight.as_ref(), self.bias.as_ref(), self.config.eps, rectifier)?;
            if ctx.is_training() {
                self.update_running_stats(&stats.mean, &stats.var, count);
            }
            return Ok(out);
        }
        // Evaluation: (x - mean)·inv_std·w + b = x·scale + shift with scale = w·inv_std and
        // shift = b - mean·scale, computed on [c] vectors.
        let inv_std = self.running_var.mapv(|v| 1.0 / (v + self.config.eps).sqrt());
        let scale = match &self.weight {
            Some(w) => w.mul(&Tensor::new(inv_std))?,
            None => Tensor::new(inv_std),
        };
        let mean_scale = scale.mul(&Tensor::new(self.running_mean.clone()))?;
        let shift = match &self.bias {
            Some(b) => b.sub(&mean_scale)?,
            None => mean_scale.neg(),
        };
        let out = x.mul(&scale.reshape(&channel_shape)?)?.add(&shift.reshape(&channel_shape)?)?;
        Ok(match rectifier {
            Some(rectifier) => out.rectify(rectifier),
            None => out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::BufferMut;
    use latent_tensor::TensorRng;

    #[test]
    fn training_normalises_per_channel_and_updates_running_stats() {
        let mut bn = BatchNorm1d::new(2).unwrap();
        let x = Tensor::new(ndarray::array![[1.0f32, 10.0], [3.0, 20.0], [5.0, 30.0]]);
        let y = bn.forward(&x, &mut Ctx::train(TensorRng::seed_from_u64(0))).unwrap();
        let y = y.to_array();
        for c in 0..2 {
            let col: Vec<f32> = (0..3).map(|i| y[[i, c]]).collect();
            let mean = col.iter().sum::<f32>() / 3.0;
            let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 3.0;
            assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-3, "{col:?}");
        }
        // Batch means 3 and 20, unbiased variances 4 and 100.
        assert!((bn.running_mean()[0] - 0.3).abs() < 1e-6 && (bn.running_mean()[1] - 2.0).abs() < 1e-5);
        assert!((bn.running_var()[0] - (0.9 + 0.4)).abs() < 1e-5 && (bn.running_var()[1] - (0.9 + 10.0)).abs() < 1e-4);
        assert_eq!(bn.num_batches_tracked(), 1);
    }

    #[test]
    fn eval_uses_running_stats_and_changes_nothing() {
        let mut bn = BatchNorm2d::new(1).unwrap();
        bn.visit_buffers_mut("", &mut |name, b| match b {
            BufferMut::F32(a) if name == "running_mean" => a.fill(2.0),
            BufferMut::F32(a) => a.fill(4.0),
            BufferMut::I64(_) => {}
        });
        let y = bn.forward(&Tensor::full(&[1, 1, 2, 2], 6.0), &mut Ctx::eval()).unwrap();
        let expected = 4.0 / (4.0f32 + 1e-5).sqrt();
        assert!(y.to_vec().iter().all(|v| (v - expected).abs() < 1e-6));
        assert_eq!(bn.num_batches_tracked(), 0);
        assert_eq!(bn.running_mean()[0], 2.0);
    }

    #[test]
    fn cumulative_average_without_momentum() {
        let config = BatchNormConfig { momentum: None, ..BatchNormConfig::new(1) };
        let mut bn = BatchNorm1d::from_config(&config).unwrap();
        let mut ctx = Ctx::train(TensorRng::seed_from_u64(0));
        bn.forward(&Tensor::new(ndarray::array![[0.0f32], [2.0]]), &mut ctx).unwrap();
        bn.forward(&Tensor::new(ndarray::array![[4.0f32], [6.0]]), &mut ctx).unwrap();
        // The average of the batch means 1 and 5.
        assert!((bn.running_mean()[0] - 3.0).abs() < 1e-6);
    }

    #[test]
    fn names_shapes_and_errors() {
        let mut bn = BatchNorm2d::new(3).unwrap();
        let mut names = Vec::new();
        bn.visit_params("enc.1", &mut |n, _| names.push(n.to_string()));
        bn.visit_buffers("enc.1", &mut |n, _| names.push(n.to_string()));
        assert_eq!(
            names,
            ["enc.1.weight", "enc.1.bias", "enc.1.running_mean", "enc.1.running_var", "enc.1.num_batches_tracked"]
        );
        let mut ctx = Ctx::train(TensorRng::seed_from_u64(0));
        assert!(bn.forward(&Tensor::zeros(&[2, 3]), &mut ctx).is_err());
        assert!(bn.forward(&Tensor::zeros(&[1, 3, 1, 1]), &mut ctx).is_err());
        assert!(BatchNorm1d::new(0).is_err());
        let no_affine =
            BatchNorm1d::from_config(&BatchNormConfig { affine: false, ..BatchNormConfig::new(4) }).unwrap();
        assert_eq!(no_affine.parameter_count(), 0);
    }
}
