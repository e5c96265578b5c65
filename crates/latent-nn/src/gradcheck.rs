//! The gradient checks of this crate's layers, for `cargo xtask gradcheck`.
//!
//! Each check builds the layer inside `apply` from the case's tensors (the input *and* the
//! weights are inputs of the check, so the finite differences cover both), with random shapes
//! from proptest. BatchNorm is checked in training mode (batch statistics, the harder path) and
//! in evaluation mode; Dropout with a mask fixed by the case's seed; the activations away from
//! their kinks; and two Sequential models, an MLP and a small convolutional network.

use latent_tensor::gradcheck::strategies::{array, array_away_from, shape};
use latent_tensor::gradcheck::{Case, OpCheck, Tolerance};
use latent_tensor::{ConvOptions, Tensor, TensorError, TensorRng};
use proptest::prelude::*;

use crate::error::NnError;
use crate::layers::{
    BatchNorm1d, BatchNorm2d, BatchNormConfig, Conv2d, ConvTranspose2d, Dropout, Elu, Flatten, Identity, LeakyRelu,
    Linear, Relu, Sequential, Sigmoid, Softplus, Tanh, Unflatten,
};
use crate::module::{BufferMut, Ctx, Layer, Module};

/// Every gradient check of this crate, named `nn::<Layer>` (plus a variant suffix).
pub fn gradcheck_registry() -> Vec<OpCheck> {
    vec![
        check("nn::Linear", linear_case, |t, c| {
            let bias = (c.ints[0] == 1).then(|| t[2].clone());
            run(Linear::from_tensors(t[1].clone(), bias), &t[0], false)
        }),
        check(
            "nn::Conv2d",
            || conv_case(false),
            |t, c| {
                run(
                    Conv2d::from_tensors(t[1].clone(), Some(t[2].clone()), ConvOptions::new(c.ints[0], c.ints[1])),
                    &t[0],
                    false,
                )
            },
        ),
        check(
            "nn::ConvTranspose2d",
            || conv_case(true),
            |t, c| {
                let options = ConvOptions::new(c.ints[0], c.ints[1]).output_padding(c.ints[2]);
                run(ConvTranspose2d::from_tensors(t[1].clone(), Some(t[2].clone()), options), &t[0], false)
            },
        ),
        check(
            "nn::BatchNorm1d",
            || batch_norm_case(2..=3),
            |t, _| {
                run(
                    BatchNorm1d::from_tensors(&BatchNormConfig::new(t[1].len()), t[1].clone(), t[2].clone()),
                    &t[0],
                    true,
                )
            },
        ),
        check(
            "nn::BatchNorm2d",
            || batch_norm_case(4..=4),
            |t, _| {
                run(
                    BatchNorm2d::from_tensors(&BatchNormConfig::new(t[1].len()), t[1].clone(), t[2].clone()),
                    &t[0],
                    true,
                )
            },
        ),
        // floats = [running mean, running variance].
        check(
            "nn::BatchNorm2d_eval",
            || {
                (batch_norm_case(4..=4), -1.0f32..1.0, 0.5f32..2.0)
                    .prop_map(|(c, m, v)| Case { floats: vec![m, v], ..c })
                    .boxed()
            },
            |t, c| {
                let mut bn = lift_layer(BatchNorm2d::from_tensors(
                    &BatchNormConfig::new(t[1].len()),
                    t[1].clone(),
                    t[2].clone(),
                ))?;
                let (mean, var) = (c.floats[0], c.floats[1]);
                bn.visit_buffers_mut("", &mut |name, b| match b {
                    BufferMut::F32(a) if name == "running_mean" => a.fill(mean),
                    BufferMut::F32(a) => a.fill(var),
                    BufferMut::I64(_) => {}
                });
                run(Ok(bn), &t[0], false)
            },
        ),
        // ints = [mask seed]: the same mask in every evaluation of the case.
        check(
            "nn::Dropout",
            || {
                (one(-2.0, 2.0, &[]), any::<u32>())
                    .prop_map(|(c, seed)| Case { ints: vec![seed as usize], ..c })
                    .boxed()
            },
            |t, c| {
                let mut ctx = Ctx::train(TensorRng::seed_from_u64(c.ints[0] as u64));
                lift(Dropout::new(0.3).and_then(|mut d| d.forward(&t[0], &mut ctx)))
            },
        ),
        check("nn::Relu", || one(-3.0, 3.0, &[0.0]), |t, _| run(Ok(Relu), &t[0], false)),
        check("nn::LeakyRelu", || one(-3.0, 3.0, &[0.0]), |t, _| run(LeakyRelu::new(0.2), &t[0], false)),
        check("nn::Elu", || one(-3.0, 3.0, &[0.0]), |t, _| run(Elu::new(1.0), &t[0], false)),
        check("nn::Sigmoid", || one(-5.0, 5.0, &[]), |t, _| run(Ok(Sigmoid), &t[0], false)),
        check("nn::Tanh", || one(-3.0, 3.0, &[]), |t, _| run(Ok(Tanh), &t[0], false)),
        check("nn::Identity", || one(-3.0, 3.0, &[]), |t, _| run(Ok(Identity), &t[0], false)),
        check("nn::Softplus", || one(-5.0, 5.0, &[]), |t, _| run(Ok(Softplus::default()), &t[0], false)),
        check("nn::Softplus_beta", || one(-3.0, 3.0, &[]), |t, _| run(Softplus::new(2.5), &t[0], false)),
        check("nn::Flatten", || one(-2.0, 2.0, &[]), |t, _| run(Ok(Flatten::new(0)), &t[0], false)),
        check(
            "nn::Unflatten",
            || one(-2.0, 2.0, &[]),
            |t, _| {
                let last = t[0].ndim() - 1;
                run(Unflatten::new(last, vec![t[0].shape()[last], 1]), &t[0], false)
            },
        ),
        check("nn::Sequential_mlp", mlp_case, |t, _| {
            let model = Linear::from_tensors(t[1].clone(), Some(t[2].clone())).and_then(|l1| {
                Ok(Sequential::new().with(l1).with(Tanh).with(Linear::from_tensors(t[3].clone(), Some(t[4].clone()))?))
            });
            run(model, &t[0], true)
        }),
        check("nn::Sequential_conv", conv_net_case, |t, _| {
            let model = || -> crate::Result<Sequential> {
                Ok(Sequential::new()
                    .with(Conv2d::from_tensors(t[1].clone(), Some(t[2].clone()), ConvOptions::new(1, 1))?)
                    .with(BatchNorm2d::from_tensors(&BatchNormConfig::new(2), t[3].clone(), t[4].clone())?)
                    .with(Tanh)
                    .with(Flatten::default())
                    .with(Linear::from_tensors(t[5].clone(), Some(t[6].clone()))?))
            };
            run(model(), &t[0], true)
        }),
    ]
}

fn check(
    name: &'static str,
    cases: fn() -> BoxedStrategy<Case>,
    apply: fn(&[Tensor], &Case) -> latent_tensor::Result<Tensor>,
) -> OpCheck {
    OpCheck { name, cases, apply, tolerance: Tolerance::default() }
}

/// A layer error as the tensor crate's error type (which the checker reports).
fn lift_err(e: NnError) -> TensorError {
    match e {
        NnError::Tensor(e) => e,
        other => TensorError::invalid("latent-nn", other.to_string()),
    }
}

fn lift(r: crate::Result<Tensor>) -> latent_tensor::Result<Tensor> {
    r.map_err(lift_err)
}

fn lift_layer<M>(r: crate::Result<M>) -> latent_tensor::Result<M> {
    r.map_err(lift_err)
}

/// Build the layer and apply it to `x` in training or evaluation mode.
fn run<M: Layer>(layer: crate::Result<M>, x: &Tensor, training: bool) -> latent_tensor::Result<Tensor> {
    let mut ctx = if training { Ctx::train(TensorRng::seed_from_u64(0)) } else { Ctx::eval() };
    lift(layer.and_then(|mut l| l.forward(x, &mut ctx)))
}

/// One array of rank 1..=3 with values in `[lo, hi)`, away from `kinks`.
fn one(lo: f32, hi: f32, kinks: &'static [f32]) -> BoxedStrategy<Case> {
    shape(1..=3, 5)
        .prop_flat_map(move |s| array_away_from(s, lo, hi, kinks, 0.05))
        .prop_map(|a| Case::of(vec![a]))
        .boxed()
}

/// Input `[rows..., in]`, weight `[out, in]`, bias `[out]`; `ints = [has_bias]`.
fn linear_case() -> BoxedStrategy<Case> {
    (shape(1..=2, 4), 1usize..=5, 1usize..=5, any::<bool>())
        .prop_flat_map(|(mut rows, i, o, bias)| {
            rows.push(i);
            (array(rows, -2.0, 2.0), array(vec![o, i], -1.0, 1.0), array(vec![o], -1.0, 1.0)).prop_map(
                move |(x, w, b)| Case { inputs: vec![x, w, b], ints: vec![usize::from(bias)], floats: vec![] },
            )
        })
        .boxed()
}

/// Input `[n, c, h, w]`, weight (`[o, c, kh, kw]`, or `[c, o, kh, kw]` when transposed) and
/// bias `[o]`; `ints = [stride, padding, output_padding]`.
fn conv_case(transposed: bool) -> BoxedStrategy<Case> {
    (1usize..=2, 1usize..=3, 1usize..=3, 2usize..=5, 2usize..=5, 1usize..=3, 1usize..=2, 0usize..=1, any::<bool>())
        .prop_filter("kernel must fit the padded input", |&(_, _, _, h, w, k, _, p, _)| {
            k <= h + 2 * p && k <= w + 2 * p
        })
        .prop_filter("transposed output must not be empty", move |&(_, _, _, h, w, k, s, p, _)| {
            !transposed || (h.min(w) - 1) * s + k > 2 * p
        })
        .prop_flat_map(move |(n, c, o, h, w, k, s, p, op)| {
            let out_pad = usize::from(op && s > 1 && transposed);
            let wshape = if transposed { vec![c, o, k, k] } else { vec![o, c, k, k] };
            (array(vec![n, c, h, w], -2.0, 2.0), array(wshape, -1.0, 1.0), array(vec![o], -1.0, 1.0))
                .prop_map(move |(x, w, b)| Case { inputs: vec![x, w, b], ints: vec![s, p, out_pad], floats: vec![] })
        })
        .boxed()
}

/// Input of rank in `ranks` with channel axis 1 and at least 3 values per channel, weight and
/// bias `[c]`.
fn batch_norm_case(ranks: std::ops::RangeInclusive<usize>) -> BoxedStrategy<Case> {
    (ranks, 1usize..=3)
        .prop_flat_map(|(rank, c)| {
            let dims = proptest::collection::vec(1usize..=4, rank - 1);
            (Just(c), dims)
        })
        .prop_filter("need at least 3 values per channel", |(_, dims)| dims.iter().product::<usize>() >= 3)
        .prop_flat_map(|(c, dims)| {
            let mut s = dims.clone();
            s.insert(1, c);
            (array(s, -2.0, 2.0), array(vec![c], 0.5, 1.5), array(vec![c], -1.0, 1.0))
                .prop_map(|(x, g, b)| Case::of(vec![x, g, b]))
        })
        .prop_filter("each channel must be spread out", |c| channels_spread(&c.inputs[0]))
        .boxed()
}

/// Whether every channel (axis 1) of `x` has a standard deviation of at least 0.3. BatchNorm
/// divides by it, so a nearly constant channel makes the function so curved that central
/// differences with `h = 1e-2` are meaningless (the check would test the step, not the rule).
fn channels_spread(x: &ndarray::ArrayD<f32>) -> bool {
    (0..x.shape()[1]).all(|c| {
        let lane = x.index_axis(ndarray::Axis(1), c);
        let n = lane.len() as f32;
        let mean = lane.sum() / n;
        let var = lane.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        var >= 0.09
    })
}

/// `x [n, 3]`, `w1 [4, 3]`, `b1 [4]`, `w2 [2, 4]`, `b2 [2]`.
fn mlp_case() -> BoxedStrategy<Case> {
    (1usize..=4)
        .prop_flat_map(|n| {
            (
                array(vec![n, 3], -2.0, 2.0),
                array(vec![4, 3], -1.0, 1.0),
                array(vec![4], -1.0, 1.0),
                array(vec![2, 4], -1.0, 1.0),
                array(vec![2], -1.0, 1.0),
            )
        })
        .prop_map(|(x, w1, b1, w2, b2)| Case::of(vec![x, w1, b1, w2, b2]))
        .boxed()
}

/// `x [2, 1, 4, 4]`, conv `[2, 1, 3, 3]` + `[2]`, BatchNorm `[2]` + `[2]`, Linear `[3, 32]` + `[3]`.
/// The activation between them is smooth (tanh): after BatchNorm, a kink in a higher derivative
/// (ELU's) makes central differences with `h = 1e-2` miss by a few 1e-2 on some cases.
fn conv_net_case() -> BoxedStrategy<Case> {
    (
        array(vec![2, 1, 4, 4], -2.0, 2.0),
        array(vec![2, 1, 3, 3], -1.0, 1.0),
        array(vec![2], -0.5, 0.5),
        array(vec![2], 0.5, 1.5),
        array(vec![2], -0.5, 0.5),
        array(vec![3, 32], -0.5, 0.5),
        array(vec![3], -0.5, 0.5),
    )
        .prop_map(|(x, w, b, g, beta, w2, b2)| Case::of(vec![x, w, b, g, beta, w2, b2]))
        .prop_filter("each convolution channel must be spread out", |c| {
            let x = Tensor::new(c.inputs[0].clone());
            x.conv2d(&Tensor::new(c.inputs[1].clone()), None, ConvOptions::new(1, 1))
                .is_ok_and(|y| channels_spread(&y.to_array()))
        })
        .boxed()
}
