//! Reverse-mode differentiation: [`Tensor::backward`], the [`Gradients`] it returns, and every
//! op's backward rule, all in one `match` (`input_grads`) so they can be read side by side.
//!
//! `backward` orders the graph's op nodes so that each comes after every node that consumes it
//! (reverse post-order of a depth-first walk from the output), then pushes gradients from the
//! output to the inputs. Gradients of intermediate nodes are freed as soon as they have been
//! pushed on; the result holds only the leaves' gradients. A rule computes the gradient of an
//! input only if that input requires one (the data fed to a network's first layer gets none).
//! A rule owns the gradient it is handed, so element-wise rules with one taker compute in its
//! buffer instead of a new array (`input_grads` says which).

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap, HashSet};

use ndarray::{ArrayD, ArrayViewD, Axis, Ix2, IxDyn, Slice, Zip};

use crate::error::{Result, TensorError};
use crate::kernels::elementwise::{update1, update2};
use crate::kernels::matmul::product;
use crate::kernels::{conv as conv_kernels, norm as norm_kernels, pool as pool_kernels, rectifier};
use crate::op::{Op, OpKind};
use crate::ops::matmul::{as_rows, batched_matmul, rows_at_b};
use crate::ops::reduce::keepdim_shape;
use crate::ops::unary::stable_sigmoid;
use crate::ops::{map2, map3, sum_to_shape};
use crate::tensor::{Tensor, TensorId, Value};

/// The gradients of the leaves of a graph, keyed by tensor identity.
#[derive(Debug, Default, Clone)]
pub struct Gradients {
    grads: HashMap<TensorId, ArrayD<f32>>,
}

impl Gradients {
    /// The gradient of `t` as a constant tensor (a copy), if `t` is a leaf that the output
    /// depends on.
    ///
    /// ```
    /// use latent_tensor::Tensor;
    ///
    /// let w = Tensor::from_vec(&[2], vec![1.0, -3.0])?.to_leaf();
    /// let loss = (&w * &w).sum_all(); // d/dw Σ w² = 2w
    /// let grads = loss.backward()?;
    /// assert_eq!(grads.get(&w).map(|g| g.to_vec()), Some(vec![2.0, -6.0]));
    /// # Ok::<(), latent_tensor::TensorError>(())
    /// ```
    pub fn get(&self, t: &Tensor) -> Option<Tensor> {
        self.grads.get(&t.id()).map(|g| Tensor::new(g.clone()))
    }

    /// The gradient of `t` as the stored array, without a copy (what optimisers read).
    pub fn get_array(&self, t: &Tensor) -> Option<&ArrayD<f32>> {
        self.grads.get(&t.id())
    }

    /// Take the gradient of `t` out of the store.
    pub fn remove(&mut self, t: &Tensor) -> Option<ArrayD<f32>> {
        self.grads.remove(&t.id())
    }

    /// How many gradients are stored.
    pub fn len(&self) -> usize {
        self.grads.len()
    }

    /// Whether no gradient is stored.
    pub fn is_empty(&self) -> bool {
        self.grads.is_empty()
    }

    /// Add `other`'s gradients into these (for gradient accumulation over several graphs).
    pub fn accumulate(&mut self, other: Gradients) {
        for (id, g) in other.grads {
            self.add(id, g);
        }
    }

    fn add(&mut self, id: TensorId, g: ArrayD<f32>) {
        match self.grads.get_mut(&id) {
            Some(acc) => *acc += &g,
            None => {
                self.grads.insert(id, g);
            }
        }
    }
}

/// The op nodes reachable from `root` through inputs that require a gradient, each after all of
/// its consumers.
fn consumers_first(root: &Tensor) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    // Iterative post-order DFS: (node, inputs already pushed?).
    let mut stack = vec![(root.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if t.op().is_none() || !seen.insert(t.id()) {
            continue;
        }
        stack.push((t.clone(), true));
        for input in t.op().expect("op node").inputs() {
            if input.op().is_some() && !seen.contains(&input.id()) {
                stack.push((input.clone(), false));
            }
        }
    }
    order.reverse();
    order
}

/// The op kinds in the graph that produced `t` (what a gradient check exercised).
pub fn graph_op_kinds(t: &Tensor) -> BTreeSet<OpKind> {
    consumers_first(t).iter().filter_map(|n| n.op().map(Op::kind)).collect()
}

impl Tensor {
    /// The gradients of every leaf this scalar depends on.
    ///
    /// # Errors
    /// If the tensor has more than one element (use [`Tensor::backward_with`]).
    pub fn backward(&self) -> Result<Gradients> {
        if self.len() != 1 {
            return Err(TensorError::NotScalar { shape: self.shape().to_vec() });
        }
        self.backward_with(ArrayD::ones(IxDyn(self.shape())))
    }

    /// Back-propagate `grad` (the gradient of some scalar with respect to this tensor).
    ///
    /// # Errors
    /// If `grad`'s shape differs from this tensor's.
    pub fn backward_with(&self, grad: ArrayD<f32>) -> Result<Gradients> {
        self.backward_impl(grad, None)
    }

    /// The gradients of the leaves `wanted` only, of this scalar: like [`Tensor::backward`],
    /// but every branch of the graph that reaches none of `wanted` is skipped, so the work for
    /// the other leaves' gradients is never done (a GAN's generator step back-propagates
    /// through the discriminator to reach the generator, and needs none of the discriminator's
    /// weight gradients). The gradients it returns are bit-identical to `backward`'s.
    ///
    /// ```
    /// use latent_tensor::Tensor;
    ///
    /// let (a, b) = (Tensor::from_vec(&[1], vec![3.0])?.to_leaf(), Tensor::from_vec(&[1], vec![5.0])?.to_leaf());
    /// let loss = (&a * &b).sum_all();
    /// let grads = loss.backward_for(&[&a])?;
    /// assert_eq!(grads.get(&a).map(|g| g.to_vec()), Some(vec![5.0]));
    /// assert!(grads.get(&b).is_none()); // not asked for, not computed
    /// # Ok::<(), latent_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// If the tensor has more than one element.
    pub fn backward_for(&self, wanted: &[&Tensor]) -> Result<Gradients> {
        if self.len() != 1 {
            return Err(TensorError::NotScalar { shape: self.shape().to_vec() });
        }
        let wanted: HashSet<TensorId> = wanted.iter().map(|t| t.id()).collect();
        self.backward_impl(ArrayD::ones(IxDyn(self.shape())), Some(&wanted))
    }

    /// [`Tensor::backward_with`], for every leaf (`wanted = None`) or only those in `wanted`.
    fn backward_impl(&self, grad: ArrayD<f32>, wanted: Option<&HashSet<TensorId>>) -> Result<Gradients> {
        if grad.shape() != self.shape() {
            return Err(TensorError::shapes(
                "backward_with",
                self.shape(),
                grad.shape(),
                "gradient must match the tensor",
            ));
        }
        let mut store = Gradients::default();
        if !self.requires_grad() {
            return Ok(store);
        }
        let order = consumers_first(self);
        // With `wanted`, the tensors a gradient must reach: the wanted leaves and every op node
        // with such a tensor among its inputs (inputs come before their consumers in the
        // reversed order, so one pass finds them all).
        let needed = wanted.map(|wanted| {
            let mut needed = wanted.clone();
            for node in order.iter().rev() {
                if node.op().expect("op node").inputs().iter().any(|input| needed.contains(&input.id())) {
                    needed.insert(node.id());
                }
            }
            needed
        });
        let wants = |t: &Tensor| needed.as_ref().is_none_or(|needed| needed.contains(&t.id()));
        if !wants(self) {
            return Ok(store);
        }
        store.add(self.id(), grad);
        for node in order {
            let Some(g) = store.grads.remove(&node.id()) else { continue };
            let op = node.op().expect("op node");
            for (input, gi) in input_grads(op, &node.view(), g, &wants) {
                store.add(input.id(), gi);
            }
        }
        Ok(store)
    }
}

/// `g ← g·f'(x)` in place, for a unary op whose derivative `f'` is a function of its input `x`.
fn by_input(mut g: ArrayD<f32>, x: &Tensor, df: impl Fn(f32) -> f32 + Sync + Send) -> ArrayD<f32> {
    update2(
        &mut g,
        &x.view(),
        #[inline(always)]
        move |g, x| g * df(x),
    );
    g
}

/// `g ← g·f'(y)` in place, for a unary op whose derivative is a function of its output `y`.
fn by_output(mut g: ArrayD<f32>, y: &ArrayViewD<f32>, df: impl Fn(f32) -> f32 + Sync + Send) -> ArrayD<f32> {
    update2(
        &mut g,
        y,
        #[inline(always)]
        move |g, y| g * df(y),
    );
    g
}

/// `g ← f(g)` in place.
fn mapped(mut g: ArrayD<f32>, f: impl Fn(f32) -> f32 + Sync + Send) -> ArrayD<f32> {
    update1(&mut g, f);
    g
}

/// Re-insert reduced axes into `g` (shape after reduction) so it broadcasts against the input.
fn unreduce(g: &ArrayViewD<f32>, input_shape: &[usize], axes: &[usize], keepdim: bool) -> ArrayD<f32> {
    let kept = keepdim_shape(input_shape, axes);
    let g = if keepdim { g.to_owned() } else { g.to_owned().into_shape_with_order(IxDyn(&kept)).expect("same size") };
    g.broadcast(IxDyn(input_shape)).expect("keepdim shape broadcasts").to_owned()
}

/// The gradient of each input that requires one and that `wants`, given the op, its output `y`
/// and the gradient `g` of the output.
///
/// `g` is owned (each node's gradient is used once), so the one-input ops that map it element
/// by element or hand it on (activations, scalar arithmetic, masks, reshapes) compute their
/// input's gradient over its buffer: no new array, and one stream less to memory. A ReLU's
/// backward had been 2.7% of a conv autoencoder's step, and a reshape's a full copy. The values
/// are those of the same operations on a new array, bit for bit. A sum, difference, broadcast or
/// fused element-wise op whose only input needing a gradient has the output's shape does the
/// same ([`sole_taker`]). Every other rule reads `g` through a view ([`other_input_grads`]).
fn input_grads<'a>(
    op: &'a Op,
    y: &ArrayViewD<f32>,
    g: ArrayD<f32>,
    wants: &dyn Fn(&Tensor) -> bool,
) -> Vec<(&'a Tensor, ArrayD<f32>)> {
    // `x`'s gradient, made from `g` by `f`, if `x` needs one.
    let one = |x: &'a Tensor, f: &dyn Fn() -> ArrayD<f32>| if needs(x, wants) { vec![(x, f())] } else { Vec::new() };
    // An op that rectified its output as it wrote it: the rectifier's rule first, in `g`'s
    // buffer, read from the output (see `Rectifier`), then the op's own rule below.
    let mut g = g;
    if let Some(rectifier) = op.rectifier() {
        rectifier.backward_in_place(&mut g, y);
    }
    if let Some((x, local)) = sole_taker(op, g.shape(), wants) {
        return vec![(x, local.apply(g))];
    }
    // The closures take `g` out of this cell: each arm below runs at most one of them, once.
    let g = Cell::new(Some(g));
    let g = || g.take().expect("the output gradient is used once");
    match op {
        Op::Neg(x) => one(x, &|| Local::Negated.apply(g())),
        Op::AddScalar(x) => one(x, &g),
        // The scalars are copied into the closures: read through a reference, they were loaded
        // again for every element (the output might alias them), which kept the loops scalar and
        // branchy (LeakyReLU's backward took 9% of a DCGAN step, at ~3 ns per element).
        Op::MulScalar(x, s) => {
            let s = *s;
            one(x, &|| mapped(g(), move |g| g * s))
        }
        Op::PowScalar(x, p) => {
            let p = *p;
            one(x, &|| by_input(g(), x, move |x| if p == 0.0 { 0.0 } else { p * x.powf(p - 1.0) }))
        }
        Op::Exp(x) => one(x, &|| by_output(g(), y, |y| y)),
        Op::Log(x) => one(x, &|| by_input(g(), x, |x| 1.0 / x)),
        Op::Sqrt(x) => one(x, &|| by_output(g(), y, |y| 0.5 / y)),
        Op::Abs(x) => one(x, &|| {
            by_input(g(), x, |x| {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            })
        }),
        Op::Clamp { x, min, max } => {
            let (min, max) = (*min, *max);
            one(x, &|| by_input(g(), x, move |x| if x >= min && x <= max { 1.0 } else { 0.0 }))
        }
        Op::Relu(x) => one(x, &|| by_input(g(), x, |x| rectifier::derivative(x, 0.0))),
        Op::LeakyRelu(x, s) => {
            let s = *s;
            one(x, &|| by_input(g(), x, move |x| rectifier::derivative(x, s)))
        }
        Op::Sigmoid(x) => one(x, &|| by_output(g(), y, |y| y * (1.0 - y))),
        Op::Tanh(x) => one(x, &|| by_output(g(), y, |y| 1.0 - y * y)),
        // A closure, not the function itself: a function item called through `impl Fn` is not
        // inlined into the vectorised loop (see `kernels::elementwise`).
        #[allow(clippy::redundant_closure)]
        Op::Softplus(x) => one(x, &|| {
            by_input(
                g(),
                x,
                #[inline(always)]
                |x| stable_sigmoid(x),
            )
        }),
        Op::Mask { x, mask } => one(x, &|| Local::Times(mask).apply(g())),
        // A copy only if `g` is not in standard layout.
        Op::Reshape(x) => one(x, &|| g().into_shape_clone(IxDyn(x.shape())).expect("same size")),
        _ => other_input_grads(op, y, &g().view(), wants),
    }
}

/// What the gradient of a [`sole_taker`] is, in terms of the output's gradient `g`.
enum Local<'a> {
    /// `g` itself.
    Same,
    /// `-g`.
    Negated,
    /// `g·d` for the local derivative `d` (of the output's shape).
    Times(&'a Value),
}

impl Local<'_> {
    /// The gradient, made in `g`'s buffer.
    fn apply(self, mut g: ArrayD<f32>) -> ArrayD<f32> {
        match self {
            Local::Same => {}
            Local::Negated => update1(&mut g, |g| -g),
            Local::Times(d) => update2(&mut g, &d.view(), |g, d| g * d),
        }
        g
    }
}

/// Whether `t` needs a gradient: it requires one and the caller `wants` it.
fn needs(t: &Tensor, wants: &dyn Fn(&Tensor) -> bool) -> bool {
    t.requires_grad() && wants(t)
}

/// The input of a sum, difference, broadcast or fused element-wise op whose gradient is the
/// output's `g` mapped element by element, when it is the only input that needs a gradient and
/// has the output's `shape` (so nothing is summed over broadcast axes). Its gradient is then made
/// in `g`'s buffer: the general rules would copy `g` (or map it into a new array) first.
fn sole_taker<'a>(op: &'a Op, shape: &[usize], wants: &dyn Fn(&Tensor) -> bool) -> Option<(&'a Tensor, Local<'a>)> {
    let takers: Vec<(&'a Tensor, Local<'a>)> = match op {
        Op::Add(a, b) => vec![(a, Local::Same), (b, Local::Same)],
        Op::Sub(a, b) => vec![(a, Local::Same), (b, Local::Negated)],
        Op::BroadcastTo(x) => vec![(x, Local::Same)],
        Op::Elementwise { parts } => {
            parts.iter().map(|(x, d)| (x, d.as_ref().map_or(Local::Same, Local::Times))).collect()
        }
        _ => return None,
    };
    let mut takers = takers.into_iter().filter(|(t, _)| needs(t, wants));
    let (x, local) = takers.next()?;
    (takers.next().is_none() && x.shape() == shape).then_some((x, local))
}

/// [`input_grads`] for the ops that read the output gradient `g` through a view.
fn other_input_grads<'a>(
    op: &'a Op,
    y: &ArrayViewD<f32>,
    g: &ArrayViewD<f32>,
    wants: &dyn Fn(&Tensor) -> bool,
) -> Vec<(&'a Tensor, ArrayD<f32>)> {
    let mut out: Vec<(&Tensor, ArrayD<f32>)> = Vec::new();
    // Push the gradient of `t` computed by `f`, only if `t` needs one.
    let mut push = |t: &'a Tensor, f: &dyn Fn() -> ArrayD<f32>| {
        if needs(t, wants) {
            out.push((t, f()));
        }
    };
    match op {
        Op::Add(a, b) => {
            push(a, &|| sum_to_shape(g.view(), a.shape()));
            push(b, &|| sum_to_shape(g.view(), b.shape()));
        }
        Op::Sub(a, b) => {
            push(a, &|| sum_to_shape(g.view(), a.shape()));
            push(b, &|| sum_to_shape(g.mapv(|v| -v).view(), b.shape()));
        }
        Op::Mul(a, b) => {
            push(a, &|| sum_to_shape((g * &b.view()).view(), a.shape()));
            push(b, &|| sum_to_shape((g * &a.view()).view(), b.shape()));
        }
        Op::Div(a, b) => {
            push(a, &|| sum_to_shape((g / &b.view()).view(), a.shape()));
            // d(a/b)/db = -a/b² = -y/b.
            push(b, &|| {
                let y_over_b = y / &b.view();
                sum_to_shape((-(g * &y_over_b)).view(), b.shape())
            });
        }
        Op::Elu(x, alpha) => {
            let alpha = *alpha;
            push(x, &|| map3(&x.view(), y, g, move |x, y, g| if x > 0.0 { g } else { g * (y + alpha) }));
        }
        Op::Neg(..)
        | Op::AddScalar(..)
        | Op::MulScalar(..)
        | Op::PowScalar(..)
        | Op::Exp(..)
        | Op::Log(..)
        | Op::Sqrt(..)
        | Op::Abs(..)
        | Op::Clamp { .. }
        | Op::Relu(..)
        | Op::LeakyRelu(..)
        | Op::Sigmoid(..)
        | Op::Tanh(..)
        | Op::Softplus(..)
        | Op::Mask { .. }
        | Op::Reshape(..) => unreachable!("input_grads computes these in place"),
        Op::Sum { x, axes, keepdim } => push(x, &|| unreduce(g, x.shape(), axes, *keepdim)),
        Op::Mean { x, axes, keepdim } => push(x, &|| {
            let count: usize = axes.iter().map(|&a| x.shape()[a]).product();
            unreduce(g, x.shape(), axes, *keepdim) / count as f32
        }),
        Op::Max { x, axis, keepdim, argmax } => push(x, &|| {
            // Each lane's gradient goes to its (first) winner.
            let g_lanes = if *keepdim { g.index_axis(Axis(*axis), 0) } else { g.view() };
            let winners = ndarray::ArrayViewD::from_shape(g_lanes.raw_dim(), argmax).expect("one winner per lane");
            let mut gx = ArrayD::zeros(IxDyn(x.shape()));
            Zip::from(gx.lanes_mut(Axis(*axis))).and(&g_lanes).and(&winners).for_each(|mut lane, &gv, &w| lane[w] = gv);
            gx
        }),
        Op::LogSumExp { x, axis, keepdim } => push(x, &|| {
            // d lse / dx = softmax(x) = exp(x - lse).
            let lse = if *keepdim { y.to_owned() } else { y.to_owned().insert_axis(Axis(*axis)) };
            let gk = if *keepdim { g.to_owned() } else { g.to_owned().insert_axis(Axis(*axis)) };
            let shape = IxDyn(x.shape());
            map3(
                &x.view(),
                &lse.broadcast(shape.clone()).expect("keepdim"),
                &gk.broadcast(shape).expect("keepdim"),
                |x, l, g| {
                    if l == f32::NEG_INFINITY { 0.0 } else { g * (x - l).exp() }
                },
            )
        }),
        Op::Softmax { x, axis } => push(x, &|| {
            // gx = y * (g - Σ g·y).
            let gy = g * y;
            let dot = gy.sum_axis(Axis(*axis)).insert_axis(Axis(*axis));
            let mut gx = gy;
            Zip::from(&mut gx).and(y).and_broadcast(&dot).for_each(|gx, &y, &d| *gx -= y * d);
            gx
        }),
        Op::LogSoftmax { axis, x } => push(x, &|| {
            // gx = g - softmax · Σ g, with softmax = e^y.
            let total = g.sum_axis(Axis(*axis)).insert_axis(Axis(*axis));
            let mut gx = g.to_owned();
            Zip::from(&mut gx).and(y).and_broadcast(&total).for_each(|gx, &y, &t| *gx -= y.exp() * t);
            gx
        }),
        Op::Matmul(a, b) => {
            let (av, bv) = (a.view(), b.view());
            push(a, &|| {
                let ga = batched_matmul(g, false, &bv, true);
                sum_to_shape(ga.view(), a.shape())
            });
            push(b, &|| {
                if b.ndim() == 2 && a.ndim() > 2 {
                    rows_at_b(&av.view(), &g.view()).into_dyn()
                } else {
                    batched_matmul(&av, true, g, false)
                }
            });
        }
        Op::Linear { x, w, b, .. } => {
            push(x, &|| {
                let g2 = as_rows(g);
                let wv = w.view().into_dimensionality::<Ix2>().expect("2-D");
                product(g2.view(), wv).into_shape_with_order(IxDyn(x.shape())).expect("same size")
            });
            push(w, &|| rows_at_b(g, &x.view()).into_dyn());
            if let Some(b) = b {
                push(b, &|| as_rows(g).sum_axis(Axis(0)).into_dyn());
            }
        }
        Op::Permute { x, axes } => push(x, &|| {
            let mut inverse = vec![0; axes.len()];
            for (i, &a) in axes.iter().enumerate() {
                inverse[a] = i;
            }
            g.to_owned().permuted_axes(IxDyn(&inverse))
        }),
        Op::BroadcastTo(x) => push(x, &|| sum_to_shape(g.view(), x.shape())),
        Op::Slice { x, axis, start, end } => push(x, &|| {
            let mut gx = ArrayD::zeros(IxDyn(x.shape()));
            gx.slice_axis_mut(Axis(*axis), Slice::from(*start..*end)).assign(g);
            gx
        }),
        Op::Concat { xs, axis } => {
            let mut offset = 0;
            for t in xs {
                let len = t.shape()[*axis];
                let start = offset;
                push(t, &|| g.slice_axis(Axis(*axis), Slice::from(start..start + len)).to_owned());
                offset += len;
            }
        }
        Op::GatherRows { x, indices } => push(x, &|| {
            let mut gx = ArrayD::zeros(IxDyn(x.shape()));
            for (row, &i) in indices.iter().enumerate() {
                let mut dst = gx.index_axis_mut(Axis(0), i);
                dst += &g.index_axis(Axis(0), row);
            }
            gx
        }),
        Op::Conv2d { x, w, b, options, .. } => {
            let (x4, w4, g4) = (tensor4(x), tensor4(w), as4(g));
            let (spec, kernel) = (*options, (w.shape()[2], w.shape()[3]));
            if needs(x, wants) && needs(w, wants) {
                // Both gradients in one pass, which shares work between them.
                let (gx, gw) = conv_kernels::conv2d_backward(x4.view(), w4.view(), g4.view(), spec);
                let (gx, gw) = (Cell::new(Some(gx.into_dyn())), Cell::new(Some(gw.into_dyn())));
                push(x, &|| gx.take().expect("pushed once"));
                push(w, &|| gw.take().expect("pushed once"));
            } else {
                push(x, &|| {
                    let input_hw = (x.shape()[2], x.shape()[3]);
                    conv_kernels::conv2d_backward_input(w4.view(), g4.view(), input_hw, spec).into_dyn()
                });
                push(w, &|| conv_kernels::conv2d_backward_weight(x4.view(), g4.view(), kernel, spec).into_dyn());
            }
            if let Some(b) = b {
                push(b, &|| channel_sums(g));
            }
        }
        Op::ConvTranspose2d { x, w, b, options, .. } => {
            let (x4, w4, g4) = (tensor4(x), tensor4(w), as4(g));
            if needs(x, wants) && needs(w, wants) {
                // Both gradients in one pass, which shares work between them.
                let (gx, gw) = conv_kernels::conv_transpose2d_backward(x4.view(), w4.view(), g4.view(), *options);
                let (gx, gw) = (Cell::new(Some(gx.into_dyn())), Cell::new(Some(gw.into_dyn())));
                push(x, &|| gx.take().expect("pushed once"));
                push(w, &|| gw.take().expect("pushed once"));
            } else {
                // The transposed convolution is conv2d's input-gradient map, so its adjoint is
                // conv2d (output padding only adds rows that conv2d's floor division drops again).
                let (spec, kernel) = (*options, (w.shape()[2], w.shape()[3]));
                push(x, &|| conv_kernels::conv2d(g4.view(), w4.view(), spec).into_dyn());
                push(w, &|| conv_kernels::conv2d_backward_weight(g4.view(), x4.view(), kernel, spec).into_dyn());
            }
            if let Some(b) = b {
                push(b, &|| channel_sums(g));
            }
        }
        Op::MaxPool2d { x, argmax, .. } => push(x, &|| {
            let s = x.shape();
            pool_kernels::max_pool2d_backward(as4(g).view(), argmax.view(), (s[0], s[1], s[2], s[3])).into_dyn()
        }),
        Op::AvgPool2d { x, options: o } => push(x, &|| {
            let s = x.shape();
            pool_kernels::avg_pool2d_backward(as4(g).view(), (s[0], s[1], s[2], s[3]), o.kernel, o.stride, o.padding)
                .into_dyn()
        }),
        Op::Elementwise { parts } => {
            for (x, local) in parts {
                push(x, &|| match local {
                    None => sum_to_shape(g.view(), x.shape()),
                    Some(d) => sum_to_shape(map2(g, &d.view(), |g, d| g * d).view(), x.shape()),
                });
            }
        }
        Op::BatchNorm { x, weight, bias, stats, .. } => {
            let xv = x.view();
            let (xs, gs) = (xv.as_standard_layout(), g.as_standard_layout());
            let sums = norm_kernels::batch_norm_channel_sums(&xs.view(), &gs.view(), stats);
            let w: Option<Vec<f32>> = weight.as_ref().map(|w| w.value().iter().copied().collect());
            push(x, &|| norm_kernels::batch_norm_backward_input(&xs.view(), &gs.view(), w.as_deref(), stats, &sums));
            if let Some(w) = weight {
                push(w, &|| ndarray::Array1::from(sums.1.clone()).into_dyn());
            }
            if let Some(b) = bias {
                push(b, &|| ndarray::Array1::from(sums.0.clone()).into_dyn());
            }
        }
    }
    out
}

/// A 4-D view of a tensor known to be 4-D.
fn tensor4(t: &Tensor) -> ndarray::ArrayView4<'_, f32> {
    t.value().view().into_dimensionality::<ndarray::Ix4>().expect("4-D")
}

/// The per-channel sums of a `[n, c, ...]` gradient as a `[c]` array: a channel bias's gradient.
fn channel_sums(g: &ArrayViewD<f32>) -> ArrayD<f32> {
    let sums = norm_kernels::channel_sums(&g.as_standard_layout().view());
    ArrayD::from_shape_vec(IxDyn(&[sums.len()]), sums).expect("one value per channel")
}

/// A 4-D view of an array known to be 4-D.
fn as4<'a>(x: &'a ArrayViewD<'a, f32>) -> ndarray::ArrayView4<'a, f32> {
    x.view().into_dimensionality::<ndarray::Ix4>().expect("4-D")
}
