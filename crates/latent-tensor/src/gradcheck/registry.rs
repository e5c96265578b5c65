//! The gradient checks of this crate's ops: one entry per op kind, plus variants that reach a
//! rule by another path (a transposed operand, a shared batch operand, extreme inputs).
//!
//! Each entry draws [`Case`]s: tensors, and for ops with arguments, `ints` (axes, flags, sizes)
//! and `floats` (exponents, bounds), documented beside the entry.

use ndarray::{ArrayD, Axis};
use proptest::prelude::*;

use super::strategies::{array, array_away_from, broadcast_arrays, broadcast_pair, distinct_array, shape};
use super::{Case, OpCheck, Tolerance};
use crate::kernels::rectifier::Rectifier;
use crate::ops::broadcast_shape;
use crate::ops::conv::{ConvOptions, Pool2dOptions};
use crate::ops::fused::LocalGrad;
use crate::random::TensorRng;
use crate::tensor::Tensor;

/// Inputs of magnitude up to 100 carry f32 rounding of about 1e-5, which a difference quotient
/// amplifies by `1 / 2h`; the checks at such inputs (there to prove stability) allow 3%.
const EXTREME: Tolerance = Tolerance { step: 1e-2, rtol: 3e-2, floor: 0.1 };

/// A convolution is linear in each input, so a central difference is exact at any step up to
/// rounding: the Winograd path's checks take a step of 0.5, dividing its rounding (a few 1e-5
/// of its outputs, against ~1e-7 for a direct sum) by 50 rather than 0.02.
const LINEAR: Tolerance = Tolerance { step: 0.5, rtol: 1e-2, floor: 0.1 };

fn extreme(
    name: &'static str,
    cases: fn() -> BoxedStrategy<Case>,
    apply: fn(&[Tensor], &Case) -> crate::Result<Tensor>,
) -> OpCheck {
    OpCheck { tolerance: EXTREME, ..check(name, cases, apply) }
}

fn check(
    name: &'static str,
    cases: fn() -> BoxedStrategy<Case>,
    apply: fn(&[Tensor], &Case) -> crate::Result<Tensor>,
) -> OpCheck {
    OpCheck { name, cases, apply, tolerance: Tolerance::default() }
}

/// One array of rank 1..=3 with values in `[lo, hi)`, at least 0.05 from each kink.
fn one(lo: f32, hi: f32, kinks: &'static [f32]) -> BoxedStrategy<Case> {
    shape(1..=3, 5)
        .prop_flat_map(move |s| array_away_from(s, lo, hi, kinks, 0.05))
        .prop_map(|a| Case::of(vec![a]))
        .boxed()
}

/// One array of rank 1..=4 with `ints = [keepdim, axes...]` (a random non-empty subset).
fn reduce_case() -> BoxedStrategy<Case> {
    (shape(1..=4, 4), any::<u8>(), any::<bool>())
        .prop_flat_map(|(s, mask, keep)| {
            let rank = s.len();
            let mut axes: Vec<usize> = (0..rank).filter(|i| mask & (1 << i) != 0).collect();
            if axes.is_empty() {
                axes.push(mask as usize % rank);
            }
            let mut ints = vec![usize::from(keep)];
            ints.extend(axes);
            array(s, -2.0, 2.0).prop_map(move |a| Case { inputs: vec![a], ints: ints.clone(), floats: vec![] })
        })
        .boxed()
}

/// One array of rank 1..=4 with `ints = [axis, keepdim]`, values from `values(shape)`.
fn axis_case(values: fn(Vec<usize>) -> BoxedStrategy<ArrayD<f32>>) -> BoxedStrategy<Case> {
    (shape(1..=4, 4), any::<usize>(), any::<bool>())
        .prop_flat_map(move |(s, axis, keep)| {
            let ints = vec![axis % s.len(), usize::from(keep)];
            values(s).prop_map(move |a| Case { inputs: vec![a], ints: ints.clone(), floats: vec![] })
        })
        .boxed()
}

fn plain(s: Vec<usize>) -> BoxedStrategy<ArrayD<f32>> {
    array(s, -3.0, 3.0)
}

fn distinct(s: Vec<usize>) -> BoxedStrategy<ArrayD<f32>> {
    distinct_array(s, 0.1)
}

fn huge(s: Vec<usize>) -> BoxedStrategy<ArrayD<f32>> {
    array(s, -100.0, 100.0)
}

/// Two arrays `[m, k]`, `[k, n]` (or with a leading batch axis / transposed first operand).
fn matmul_case(batch_a: bool, batch_b: bool, transposed_a: bool) -> BoxedStrategy<Case> {
    (1usize..=3, 1usize..=5, 1usize..=5, 1usize..=5)
        .prop_flat_map(move |(b, m, k, n)| {
            let mut sa = if transposed_a { vec![k, m] } else { vec![m, k] };
            let mut sb = vec![k, n];
            if batch_a {
                sa.insert(0, b);
            }
            if batch_b {
                sb.insert(0, b);
            }
            (array(sa, -2.0, 2.0), array(sb, -2.0, 2.0)).prop_map(|(a, b)| Case::of(vec![a, b]))
        })
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

/// Input `[n, c, h, w]`, weight and bias `[o]`; `ints = [stride, padding, output_padding,
/// has_bias]`. For a transposed convolution the weight is `[c, o, kh, kw]`, else `[o, c, kh, kw]`.
fn conv_case(transposed: bool) -> BoxedStrategy<Case> {
    (
        1usize..=2,
        1usize..=3,
        1usize..=3,
        2usize..=6,
        2usize..=6,
        1usize..=3,
        1usize..=3,
        1usize..=2,
        0usize..=1,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(move |(n, c, o, h, w, kh, kw, s, p, op, bias)| {
            let out_pad = usize::from(op && s > 1 && transposed);
            let wshape = if transposed { vec![c, o, kh, kw] } else { vec![o, c, kh, kw] };
            (array(vec![n, c, h, w], -2.0, 2.0), array(wshape, -1.0, 1.0), array(vec![o], -1.0, 1.0)).prop_map(
                move |(x, w, b)| Case {
                    inputs: vec![x, w, b],
                    ints: vec![s, p, out_pad, usize::from(bias)],
                    floats: vec![],
                },
            )
        })
        .prop_filter("output must not be empty", move |c| {
            let (x, w, (s, p, op)) = (c.inputs[0].shape(), c.inputs[1].shape(), (c.ints[0], c.ints[1], c.ints[2]));
            let fits =
                |len: usize, k: usize| if transposed { (len - 1) * s + k + op > 2 * p } else { len + 2 * p >= k };
            fits(x[2], w[2]) && fits(x[3], w[3])
        })
        .boxed()
}

/// [`conv_case`] for the layers the convolution kernels compute by Winograd's algorithm (4×4
/// kernel, stride 2, at least 8 input and 32 output channels of the convolution, which for a
/// transposed one are its output and input channels): 8 and 32 channels, sides 3 to 6,
/// padding 0 to 2.
fn winograd_conv_case(transposed: bool) -> BoxedStrategy<Case> {
    (1usize..=2, 3usize..=6, 3usize..=6, 0usize..=2, any::<bool>(), any::<bool>())
        .prop_flat_map(move |(n, h, w, p, op, bias)| {
            let (c, o) = if transposed { (32, 8) } else { (8, 32) };
            let out_pad = usize::from(op && transposed);
            let wshape = if transposed { vec![c, o, 4, 4] } else { vec![o, c, 4, 4] };
            (array(vec![n, c, h, w], -2.0, 2.0), array(wshape, -1.0, 1.0), array(vec![o], -1.0, 1.0)).prop_map(
                move |(x, w, b)| Case {
                    inputs: vec![x, w, b],
                    ints: vec![2, p, out_pad, usize::from(bias)],
                    floats: vec![],
                },
            )
        })
        .prop_filter("output must not be empty", move |c| {
            let (x, p, op) = (c.inputs[0].shape(), c.ints[1], c.ints[2]);
            let fits = |len: usize| if transposed { (len - 1) * 2 + 4 + op > 2 * p } else { len + 2 * p >= 4 };
            fits(x[2]) && fits(x[3])
        })
        .boxed()
}

/// Input `[n, c, h, w]` of distinct values (so no channel has a tiny variance), weight and
/// bias `[c]`.
fn batch_norm_case() -> BoxedStrategy<Case> {
    (1usize..=3, 1usize..=3, 1usize..=3, 2usize..=3)
        .prop_flat_map(|(n, c, h, w)| {
            (distinct_array(vec![n, c, h, w], 0.25), array(vec![c], 0.5, 1.5), array(vec![c], -1.0, 1.0))
        })
        .prop_map(|(x, w, b)| Case::of(vec![x, w, b]))
        .boxed()
}

/// The bias of a [`conv_case`], if it has one.
fn conv_bias<'a>(t: &'a [Tensor], c: &Case) -> Option<&'a Tensor> {
    (c.ints[3] == 1).then_some(&t[2])
}

fn conv_options(c: &Case) -> ConvOptions {
    ConvOptions {
        stride: (c.ints[0], c.ints[0]),
        padding: (c.ints[1], c.ints[1]),
        output_padding: (c.ints[2], c.ints[2]),
    }
}

/// Input `[n, c, h, w]` (distinct values); `ints = [kernel, stride, padding]`.
fn pool_case() -> BoxedStrategy<Case> {
    (1usize..=2, 1usize..=2, 2usize..=6, 2usize..=6, 1usize..=3, 1usize..=2, 0usize..=1)
        .prop_filter("padding at most half the kernel; kernel fits", |&(_, _, h, w, k, _, p)| {
            2 * p <= k && k <= h + 2 * p && k <= w + 2 * p
        })
        .prop_flat_map(|(n, c, h, w, k, s, p)| {
            distinct_array(vec![n, c, h, w], 0.1).prop_map(move |x| Case {
                inputs: vec![x],
                ints: vec![k, s, p],
                floats: vec![],
            })
        })
        .boxed()
}

/// `base`'s cases made into cases of a rectified op: with a bias (input 2, one value per channel
/// along `axis` of the output, `usize::MAX` for the last axis; `ints[flag]`, if given, set to
/// say there is one) that keeps every value at least `margin` from the rectifier's kink at 0.
/// Each channel's bias is its random value's sign times the largest magnitude `unbiased` gives
/// that channel, plus `margin`. So each channel lies on one side of the kink (the sign varies
/// between channels), and no difference quotient crosses it while no value moves by `margin`
/// when one input moves by the check's step.
fn rectified_case(
    base: BoxedStrategy<Case>,
    unbiased: fn(&[Tensor], &Case) -> crate::Result<Tensor>,
    axis: usize,
    flag: Option<usize>,
    margin: f32,
) -> BoxedStrategy<Case> {
    base.prop_map(move |mut case| {
        if let Some(flag) = flag {
            case.ints[flag] = 1;
        }
        let tensors: Vec<Tensor> = case.inputs.iter().map(|a| Tensor::new(a.clone())).collect();
        let values = unbiased(&tensors, &case).expect("the base strategy's cases are valid");
        let values = values.value();
        let axis = axis.min(values.ndim() - 1);
        for (channel, b) in case.inputs[2].iter_mut().enumerate() {
            let largest = values.index_axis(Axis(axis), channel).iter().fold(0.0f32, |m, v| m.max(v.abs()));
            *b = (largest + margin).copysign(*b);
        }
        case
    })
    .boxed()
}

/// The leaky ReLU's slope in the rectified checks.
const SLOPE: f32 = 0.2;

fn pool_options(c: &Case) -> Pool2dOptions {
    Pool2dOptions { kernel: (c.ints[0], c.ints[0]), stride: (c.ints[1], c.ints[1]), padding: (c.ints[2], c.ints[2]) }
}

/// The checks of every op of this crate.
pub fn registry() -> Vec<OpCheck> {
    vec![
        check("add", || broadcast_arrays(-2.0, 2.0).prop_map(Case::of).boxed(), |t, _| t[0].add(&t[1])),
        check("sub", || broadcast_arrays(-2.0, 2.0).prop_map(Case::of).boxed(), |t, _| t[0].sub(&t[1])),
        check("mul", || broadcast_arrays(-2.0, 2.0).prop_map(Case::of).boxed(), |t, _| t[0].mul(&t[1])),
        check(
            "div",
            || {
                broadcast_pair()
                    .prop_flat_map(|(a, b)| (array(a, -2.0, 2.0), array_away_from(b, -2.0, 2.0, &[0.0], 0.5)))
                    .prop_map(|(a, b)| Case::of(vec![a, b]))
                    .boxed()
            },
            |t, _| t[0].div(&t[1]),
        ),
        check("neg", || one(-3.0, 3.0, &[]), |t, _| Ok(t[0].neg())),
        check(
            "add_scalar",
            || (one(-3.0, 3.0, &[]), -5.0f32..5.0).prop_map(|(c, s)| Case { floats: vec![s], ..c }).boxed(),
            |t, c| Ok(t[0].add_scalar(c.floats[0])),
        ),
        check(
            "mul_scalar",
            || (one(-3.0, 3.0, &[]), -5.0f32..5.0).prop_map(|(c, s)| Case { floats: vec![s], ..c }).boxed(),
            |t, c| Ok(t[0].mul_scalar(c.floats[0])),
        ),
        // floats = [p]; inputs kept positive so every exponent is defined.
        check(
            "pow",
            || {
                (one(0.3, 2.0, &[]), prop::sample::select(vec![-1.5f32, 0.5, 2.0, 3.0]))
                    .prop_map(|(c, p)| Case { floats: vec![p], ..c })
                    .boxed()
            },
            |t, c| Ok(t[0].pow(c.floats[0])),
        ),
        check("exp", || one(-2.0, 2.0, &[]), |t, _| Ok(t[0].exp())),
        check("log", || one(0.2, 3.0, &[]), |t, _| Ok(t[0].log())),
        check("sqrt", || one(0.2, 3.0, &[]), |t, _| Ok(t[0].sqrt())),
        check("abs", || one(-3.0, 3.0, &[0.0]), |t, _| Ok(t[0].abs())),
        check("clamp", || one(-2.0, 2.0, &[-0.5, 0.5]), |t, _| t[0].clamp(-0.5, 0.5)),
        check("relu", || one(-3.0, 3.0, &[0.0]), |t, _| Ok(t[0].relu())),
        check("leaky_relu", || one(-3.0, 3.0, &[0.0]), |t, _| Ok(t[0].leaky_relu(0.2))),
        check("elu", || one(-3.0, 3.0, &[0.0]), |t, _| Ok(t[0].elu(1.0))),
        check("sigmoid", || one(-5.0, 5.0, &[]), |t, _| Ok(t[0].sigmoid())),
        extreme("sigmoid_extreme", || one(-100.0, 100.0, &[]), |t, _| Ok(t[0].sigmoid())),
        check("tanh", || one(-3.0, 3.0, &[]), |t, _| Ok(t[0].tanh())),
        check("softplus", || one(-5.0, 5.0, &[]), |t, _| Ok(t[0].softplus())),
        extreme("softplus_extreme", || one(-100.0, 100.0, &[]), |t, _| Ok(t[0].softplus())),
        check("sum_all", || one(-2.0, 2.0, &[]), |t, _| Ok(t[0].sum_all())),
        check("sum_axes", reduce_case, |t, c| t[0].sum_axes(&c.ints[1..], c.ints[0] == 1)),
        check("mean_all", || one(-2.0, 2.0, &[]), |t, _| t[0].mean_all()),
        check("mean_axes", reduce_case, |t, c| t[0].mean_axes(&c.ints[1..], c.ints[0] == 1)),
        check("max_axis", || axis_case(distinct), |t, c| t[0].max_axis(c.ints[0], c.ints[1] == 1)),
        check("logsumexp", || axis_case(plain), |t, c| t[0].logsumexp(c.ints[0], c.ints[1] == 1)),
        extreme("logsumexp_extreme", || axis_case(huge), |t, c| t[0].logsumexp(c.ints[0], c.ints[1] == 1)),
        check("softmax", || axis_case(plain), |t, c| t[0].softmax(c.ints[0])),
        check("log_softmax", || axis_case(plain), |t, c| t[0].log_softmax(c.ints[0])),
        extreme("log_softmax_extreme", || axis_case(huge), |t, c| t[0].log_softmax(c.ints[0])),
        check("matmul", || matmul_case(false, false, false), |t, _| t[0].matmul(&t[1])),
        check("matmul_batched", || matmul_case(true, true, false), |t, _| t[0].matmul(&t[1])),
        check("matmul_shared_rhs", || matmul_case(true, false, false), |t, _| t[0].matmul(&t[1])),
        check("matmul_transposed_lhs", || matmul_case(false, false, true), |t, _| t[0].t()?.matmul(&t[1])),
        check("linear", linear_case, |t, c| t[0].linear(&t[1], (c.ints[0] == 1).then_some(&t[2]))),
        // The rectified ops (`*_rectified`): cases whose bias keeps every value away from the
        // kink (see `rectified_case`).
        check(
            "linear_relu",
            || rectified_case(linear_case(), |t, _| t[0].linear(&t[1], None), usize::MAX, Some(0), 0.25),
            |t, _| t[0].linear_rectified(&t[1], Some(&t[2]), Some(Rectifier::RELU)),
        ),
        // ints = the permutation.
        check(
            "permute",
            || {
                shape(1..=4, 4)
                    .prop_flat_map(|s| {
                        let axes: Vec<usize> = (0..s.len()).collect();
                        (array(s, -2.0, 2.0), Just(axes).prop_shuffle())
                    })
                    .prop_map(|(a, p)| Case { inputs: vec![a], ints: p, floats: vec![] })
                    .boxed()
            },
            |t, c| t[0].permute(&c.ints),
        ),
        check("transpose", || matmul_case(false, false, false), |t, _| t[0].t()?.mul(&t[0].t()?)),
        // The reversed shape has the same size; the reshape of a transposed view copies.
        check(
            "reshape",
            || one(-2.0, 2.0, &[]),
            |t, _| {
                let reversed: Vec<usize> = t[0].shape().iter().rev().copied().collect();
                t[0].reshape(&reversed)
            },
        ),
        check(
            "reshape_strided",
            || matmul_case(false, false, false),
            |t, _| {
                let tt = t[0].t()?;
                tt.reshape(&[tt.len()])
            },
        ),
        // ints = the target shape (the broadcast of the pair).
        check(
            "broadcast_to",
            || {
                broadcast_pair()
                    .prop_flat_map(|(a, b)| {
                        let target = broadcast_shape("broadcast_to", &a, &b).expect("pair broadcasts");
                        array(a, -2.0, 2.0).prop_map(move |x| Case {
                            inputs: vec![x],
                            ints: target.clone(),
                            floats: vec![],
                        })
                    })
                    .boxed()
            },
            |t, c| t[0].broadcast_to(&c.ints),
        ),
        // ints = [axis, start, end].
        check(
            "slice",
            || {
                shape(1..=3, 5)
                    .prop_flat_map(|s| {
                        (Just(s.clone()), 0..s.len()).prop_flat_map(|(s, axis)| {
                            let d = s[axis];
                            (array(s, -2.0, 2.0), 0..=d, 0..=d).prop_map(move |(x, a, b)| Case {
                                inputs: vec![x],
                                ints: vec![axis, a.min(b), a.max(b)],
                                floats: vec![],
                            })
                        })
                    })
                    .boxed()
            },
            |t, c| t[0].slice(c.ints[0], c.ints[1], c.ints[2]),
        ),
        // ints = [axis]; the two inputs agree except on that axis.
        check(
            "concat",
            || {
                (shape(1..=3, 4), 1usize..=4, any::<usize>())
                    .prop_flat_map(|(s, extra, axis)| {
                        let axis = axis % s.len();
                        let mut s2 = s.clone();
                        s2[axis] = extra;
                        (array(s, -2.0, 2.0), array(s2, -2.0, 2.0)).prop_map(move |(a, b)| Case {
                            inputs: vec![a, b],
                            ints: vec![axis],
                            floats: vec![],
                        })
                    })
                    .boxed()
            },
            |t, c| Tensor::concat(&t[..2], c.ints[0]),
        ),
        // ints = [axis]; equal shapes.
        check(
            "stack",
            || {
                (shape(1..=3, 4), any::<usize>())
                    .prop_flat_map(|(s, axis)| {
                        let axis = axis % (s.len() + 1);
                        (array(s.clone(), -2.0, 2.0), array(s, -2.0, 2.0)).prop_map(move |(a, b)| Case {
                            inputs: vec![a, b],
                            ints: vec![axis],
                            floats: vec![],
                        })
                    })
                    .boxed()
            },
            |t, c| Tensor::stack(&t[..2], c.ints[0]),
        ),
        // ints = the row indices (repeats allowed, so gradients must add up).
        check(
            "gather_rows",
            || {
                (shape(1..=3, 4))
                    .prop_flat_map(|s| {
                        let rows = s[0];
                        (array(s, -2.0, 2.0), proptest::collection::vec(0..rows, 1..6)).prop_map(|(x, idx)| Case {
                            inputs: vec![x],
                            ints: idx,
                            floats: vec![],
                        })
                    })
                    .boxed()
            },
            |t, c| t[0].gather_rows(&c.ints),
        ),
        check("conv2d", || conv_case(false), |t, c| t[0].conv2d(&t[1], conv_bias(t, c), conv_options(c))),
        check(
            "conv_transpose2d",
            || conv_case(true),
            |t, c| t[0].conv_transpose2d(&t[1], conv_bias(t, c), conv_options(c)),
        ),
        OpCheck {
            tolerance: LINEAR,
            ..check(
                "conv2d_winograd",
                || winograd_conv_case(false),
                |t, c| t[0].conv2d(&t[1], conv_bias(t, c), conv_options(c)),
            )
        },
        OpCheck {
            tolerance: LINEAR,
            ..check(
                "conv_transpose2d_winograd",
                || winograd_conv_case(true),
                |t, c| t[0].conv_transpose2d(&t[1], conv_bias(t, c), conv_options(c)),
            )
        },
        check(
            "conv2d_relu",
            || rectified_case(conv_case(false), |t, c| t[0].conv2d(&t[1], None, conv_options(c)), 1, Some(3), 0.25),
            |t, c| t[0].conv2d_rectified(&t[1], Some(&t[2]), conv_options(c), Some(Rectifier::RELU)),
        ),
        check(
            "conv_transpose2d_leaky_relu",
            || {
                let unbiased: fn(&[Tensor], &Case) -> crate::Result<Tensor> =
                    |t, c| t[0].conv_transpose2d(&t[1], None, conv_options(c));
                rectified_case(conv_case(true), unbiased, 1, Some(3), 0.25)
            },
            |t, c| t[0].conv_transpose2d_rectified(&t[1], Some(&t[2]), conv_options(c), Rectifier::leaky(SLOPE)),
        ),
        // The margin covers the step of 0.5 times the largest input (2).
        OpCheck {
            tolerance: LINEAR,
            ..check(
                "conv2d_winograd_leaky_relu",
                || {
                    let unbiased: fn(&[Tensor], &Case) -> crate::Result<Tensor> =
                        |t, c| t[0].conv2d(&t[1], None, conv_options(c));
                    rectified_case(winograd_conv_case(false), unbiased, 1, Some(3), 1.5)
                },
                |t, c| t[0].conv2d_rectified(&t[1], Some(&t[2]), conv_options(c), Rectifier::leaky(SLOPE)),
            )
        },
        OpCheck {
            tolerance: LINEAR,
            ..check(
                "conv_transpose2d_winograd_relu",
                || {
                    let unbiased: fn(&[Tensor], &Case) -> crate::Result<Tensor> =
                        |t, c| t[0].conv_transpose2d(&t[1], None, conv_options(c));
                    rectified_case(winograd_conv_case(true), unbiased, 1, Some(3), 1.5)
                },
                |t, c| t[0].conv_transpose2d_rectified(&t[1], Some(&t[2]), conv_options(c), Some(Rectifier::RELU)),
            )
        },
        check("max_pool2d", pool_case, |t, c| t[0].max_pool2d(pool_options(c))),
        check("avg_pool2d", pool_case, |t, c| t[0].avg_pool2d(pool_options(c))),
        // ints = [mask seed]: a fixed dropout mask, scaled as inverted dropout scales it.
        check(
            "mask",
            || {
                (one(-2.0, 2.0, &[]), any::<u64>())
                    .prop_map(|(c, seed)| Case { ints: vec![seed as usize], ..c })
                    .boxed()
            },
            |t, c| {
                let keep = TensorRng::seed_from_u64(c.ints[0] as u64).bernoulli_array(t[0].shape(), 0.7)?;
                t[0].mask(keep.mapv(|k| k / 0.7))
            },
        ),
        // A 4-D input with weight and bias (`batch_norm_case`); and a 2-D input without the
        // affine parameters.
        check("batch_norm", batch_norm_case, |t, _| Ok(t[0].batch_norm(Some(&t[1]), Some(&t[2]), 1e-5)?.0)),
        check(
            "batch_norm_2d_no_affine",
            || {
                (3usize..=6, 1usize..=4)
                    .prop_flat_map(|(n, c)| distinct_array(vec![n, c], 0.25))
                    .prop_map(|x| Case::of(vec![x]))
                    .boxed()
            },
            |t, _| Ok(t[0].batch_norm(None, None, 1e-5)?.0),
        ),
        check(
            "batch_norm_leaky_relu",
            || rectified_case(batch_norm_case(), |t, _| Ok(t[0].batch_norm(Some(&t[1]), None, 1e-5)?.0), 1, None, 0.25),
            |t, _| Ok(t[0].batch_norm_rectified(Some(&t[1]), Some(&t[2]), 1e-5, Rectifier::leaky(SLOPE))?.0),
        ),
        // y = a²·b with a broadcast b, value and derivatives given by hand in one pass; plus a
        // straight-through input c (identity derivative).
        check(
            "fused_elementwise",
            || {
                broadcast_pair()
                    .prop_flat_map(|(a, b)| {
                        let full = broadcast_shape("fused", &a, &b).expect("pair broadcasts");
                        (array(full.clone(), -2.0, 2.0), array(b, -2.0, 2.0), array(full, -2.0, 2.0))
                    })
                    .prop_map(|(a, b, c)| Case::of(vec![a, b, c]))
                    .boxed()
            },
            |t, _| {
                let (a, b, c) = (t[0].view(), t[1].view(), t[2].view());
                let bb = b.broadcast(a.raw_dim()).expect("broadcasts");
                let value = &a * &a * &bb + &c;
                Tensor::fused_elementwise(
                    value,
                    &[
                        (&t[0], &|| LocalGrad::Values(&a * &bb * 2.0)),
                        (&t[1], &|| LocalGrad::Values(&a * &a)),
                        (&t[2], &|| LocalGrad::Identity),
                    ],
                )
            },
        ),
    ]
}
