//! The [`Tensor`] handle: an immutable value plus, when differentiated, the op that made it.
//!
//! Values are `ndarray` [`ArcArray`]s, so cloning a tensor, detaching it, transposing or slicing it
//! shares the data instead of copying it. A tensor is one of three things:
//! - a *constant*: data with no gradient (inputs, targets, anything under [`no_grad`]);
//! - a *leaf*: data whose gradient [`Tensor::backward`] reports (parameters);
//! - an *op node*: the result of an op with at least one input that requires a gradient.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::{ArcArray, Array, ArrayD, ArrayViewD, ArrayViewMutD, Dimension, IxDyn};

use crate::error::{Result, TensorError};
use crate::op::Op;

/// The shared, copy-on-write array type behind every tensor.
pub type Value = ArcArray<f32, IxDyn>;

/// A process-unique identity of a tensor node; gradients are keyed by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        TensorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// Where a tensor's value came from.
#[derive(Clone)]
pub(crate) enum Origin {
    /// Plain data: no gradient flows into it.
    Constant,
    /// Data whose gradient is wanted.
    Leaf,
    /// The result of an op with a differentiable input.
    Op(Op),
}

#[derive(Clone)]
pub(crate) struct Node {
    pub(crate) id: TensorId,
    pub(crate) value: Value,
    pub(crate) origin: Origin,
}

/// An n-dimensional `f32` tensor that can take part in reverse-mode differentiation.
///
/// Cloning is cheap (a reference count). See the crate docs for the semantics of gradients.
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Node>);

thread_local! {
    static NO_GRAD_DEPTH: Cell<usize> = const { Cell::new(0) };
    static RECORDED_OPS: Cell<u64> = const { Cell::new(0) };
}

/// How many op nodes this thread has recorded for a backward pass since it started.
///
/// A diagnostic for code that must not build a graph: read it before and after evaluation or
/// sampling and compare (a recorded op is what keeps inputs alive and lets gradients be made;
/// with none recorded, no gradient can be allocated).
pub fn recorded_ops() -> u64 {
    RECORDED_OPS.with(Cell::get)
}

/// While the returned guard lives, ops on this thread record nothing: results are constants.
///
/// Use it for evaluation and sampling, where no gradient is wanted. Guards nest.
pub fn no_grad() -> NoGradGuard {
    NO_GRAD_DEPTH.with(|d| d.set(d.get() + 1));
    NoGradGuard { _not_send: std::marker::PhantomData }
}

/// Keeps gradient recording off on this thread until dropped; made by [`no_grad`].
pub struct NoGradGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        NO_GRAD_DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// Whether ops on this thread currently record themselves (no [`no_grad`] guard alive).
pub fn is_grad_enabled() -> bool {
    NO_GRAD_DEPTH.with(|d| d.get() == 0)
}

impl Tensor {
    fn with_origin(value: Value, origin: Origin) -> Self {
        Tensor(Arc::new(Node { id: TensorId::fresh(), value, origin }))
    }

    /// A constant tensor (no gradient) holding `array`.
    pub fn new<D: Dimension>(array: Array<f32, D>) -> Self {
        Self::with_origin(array.into_dyn().into_shared(), Origin::Constant)
    }

    /// A leaf tensor whose gradient [`Tensor::backward`] will report: use it for parameters.
    pub fn parameter<D: Dimension>(array: Array<f32, D>) -> Self {
        Self::with_origin(array.into_dyn().into_shared(), Origin::Leaf)
    }

    /// A constant tensor from a shared array, without copying.
    pub fn from_shared(value: Value) -> Self {
        Self::with_origin(value, Origin::Constant)
    }

    /// A constant tensor of `shape` from row-major `data`.
    ///
    /// # Errors
    /// If `data.len()` is not the product of `shape`.
    pub fn from_vec(shape: &[usize], data: Vec<f32>) -> Result<Self> {
        let n = data.len();
        ArrayD::from_shape_vec(IxDyn(shape), data).map(Self::new).map_err(|_| {
            TensorError::invalid(
                "from_vec",
                format!("shape {shape:?} needs {} values, found {n}", shape.iter().product::<usize>()),
            )
        })
    }

    /// A 0-dimensional constant holding `v`.
    pub fn scalar(v: f32) -> Self {
        Self::new(ndarray::arr0(v))
    }

    /// A constant of `shape` filled with zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::new(ArrayD::zeros(IxDyn(shape)))
    }

    /// A constant of `shape` filled with ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, 1.0)
    }

    /// A constant of `shape` filled with `v`.
    pub fn full(shape: &[usize], v: f32) -> Self {
        Self::new(ArrayD::from_elem(IxDyn(shape), v))
    }

    /// The tensor's node identity (what [`crate::Gradients`] is keyed by).
    pub fn id(&self) -> TensorId {
        self.0.id
    }

    /// The value, shared.
    pub fn value(&self) -> &Value {
        &self.0.value
    }

    /// A read-only view of the value.
    pub fn view(&self) -> ArrayViewD<'_, f32> {
        self.0.value.view()
    }

    /// The value copied into an owned array.
    pub fn to_array(&self) -> ArrayD<f32> {
        self.0.value.to_owned()
    }

    /// The values in row-major (logical) order.
    pub fn to_vec(&self) -> Vec<f32> {
        self.0.value.iter().copied().collect()
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.0.value.shape()
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.0.value.ndim()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.0.value.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.0.value.is_empty()
    }

    /// The single value of a one-element tensor.
    ///
    /// # Errors
    /// If the tensor does not have exactly one element.
    pub fn item(&self) -> Result<f32> {
        if self.len() == 1 {
            Ok(*self.0.value.iter().next().expect("one element"))
        } else {
            Err(TensorError::invalid("item", format!("expected one element, found shape {:?}", self.shape())))
        }
    }

    /// Whether a gradient flows into this tensor (a leaf, or an op node with such an input).
    pub fn requires_grad(&self) -> bool {
        !matches!(self.0.origin, Origin::Constant)
    }

    /// Whether this is a leaf whose gradient `backward` reports.
    pub fn is_leaf(&self) -> bool {
        matches!(self.0.origin, Origin::Leaf)
    }

    /// A constant sharing this tensor's value: gradients stop here. Costs no copy.
    pub fn detach(&self) -> Tensor {
        Self::from_shared(self.0.value.clone())
    }

    /// A leaf sharing this tensor's value (a fresh identity), so gradients are reported for it.
    pub fn to_leaf(&self) -> Tensor {
        Self::with_origin(self.0.value.clone(), Origin::Leaf)
    }

    /// Mutable access to the value, for in-place updates of parameters (optimisers).
    ///
    /// The identity is kept. If the value is shared (say, by a graph still alive), it is copied
    /// first, so the graph keeps seeing the old value. Meant for leaves and constants: an op
    /// node edited this way no longer matches the op it records.
    pub fn value_mut(&mut self) -> ArrayViewMutD<'_, f32> {
        Arc::make_mut(&mut self.0).value.view_mut()
    }

    /// Replace the value, keeping the identity and the kind (for loading checkpoints).
    ///
    /// # Errors
    /// If `value` has a different shape.
    pub fn set_value(&mut self, value: ArrayD<f32>) -> Result<()> {
        if value.shape() != self.shape() {
            return Err(TensorError::shapes("set_value", self.shape(), value.shape(), "must be equal"));
        }
        Arc::make_mut(&mut self.0).value = value.into_shared();
        Ok(())
    }

    /// The recorded op, if this is an op node.
    pub(crate) fn op(&self) -> Option<&Op> {
        match &self.0.origin {
            Origin::Op(op) => Some(op),
            _ => None,
        }
    }

    /// The result of an op: records `make_op()` only if an input requires a gradient and
    /// recording is on; otherwise a constant (and `make_op` is never called).
    pub(crate) fn from_op(value: impl Into<Value>, inputs: &[&Tensor], make_op: impl FnOnce() -> Op) -> Tensor {
        let value = value.into();
        if is_grad_enabled() && inputs.iter().any(|t| t.requires_grad()) {
            RECORDED_OPS.with(|n| n.set(n.get() + 1));
            Self::with_origin(value, Origin::Op(make_op()))
        } else {
            Self::with_origin(value, Origin::Constant)
        }
    }
}

impl<D: Dimension> From<Array<f32, D>> for Tensor {
    fn from(array: Array<f32, D>) -> Self {
        Tensor::new(array)
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.0.origin {
            Origin::Constant => "constant".to_string(),
            Origin::Leaf => "leaf".to_string(),
            Origin::Op(op) => format!("op {}", op.kind().name()),
        };
        write!(f, "Tensor({:?}, {kind}, {:?})", self.shape(), self.0.value)
    }
}
