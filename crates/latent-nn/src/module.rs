//! The [`Module`] trait (named parameters, buffers and sub-modules) and its derive, the
//! [`Layer`] trait (the forward map), the forward context [`Ctx`] (train/eval mode and the
//! dropout generator), and helpers built on parameter visiting.
//!
//! # Names
//! A module names what it owns relative to a prefix handed down by its parent, exactly as
//! PyTorch's `state_dict` does: a [`Sequential`](crate::layers::Sequential) hands `"0"`, `"1"`,
//! ... to its children, so the Linear at `encoder.0` owns `encoder.0.weight` and
//! `encoder.0.bias`. [`join`] builds those names.
//!
//! # Deriving `Module`
//! `#[derive(Module)]` (the derive shares the trait's name, so `use latent_nn::Module;` brings
//! both) writes the visitors from the struct's fields, in declaration order, each under its own
//! name:
//! - a field whose type's last path segment is `Tensor` is a parameter; `Option<Tensor>` is an
//!   optional parameter, visited when `Some`;
//! - `#[module(buffer)]` on an `ArrayD<f32>` or `i64` field makes a buffer ([`Buffer::F32`],
//!   [`Buffer::I64`]; any type implementing [`BufferField`]);
//! - `#[module(skip)]` leaves a field out (configurations, options, caches);
//! - `#[module(rename = "fc_mu")]` changes the field's state-dict name;
//! - `#[module(flatten)]` puts a sub-module's contents under the struct's own prefix (how
//!   [`Sequential`](crate::layers::Sequential) names its layers `0`, `1`, ...);
//! - **every other field is a sub-module** and must implement [`Module`]: a field forgotten
//!   in a model is a compile error, never a parameter silently missing from the checkpoint.
//!   `Vec<M>` (children `0`, `1`, ...), `Option<M>` and `Box<M>` (also `Box<dyn Layer>`) are
//!   modules when `M` is.
//!
//! Named-field and unit structs derive, generics included; tuple structs, enums and unknown
//! attributes are compile errors. The typed walk ([`Module::visit_modules_mut`]) hands out each
//! module as [`Any`], so initialisers and lookups match on layer types, not on names:
//! ```
//! use latent_nn::layers::{BatchNorm1d, Linear, Sequential};
//! use latent_nn::{Ctx, Layer, Module};
//! use latent_tensor::{Tensor, TensorRng};
//!
//! #[derive(Module)]
//! struct Classifier {
//!     trunk: Sequential,
//!     #[module(rename = "fc")]
//!     head: Linear,
//!     #[module(skip)]
//!     classes: usize,
//! }
//!
//! # fn main() -> Result<(), latent_nn::NnError> {
//! let mut rng = TensorRng::seed_from_u64(0);
//! let trunk = Sequential::new().with(Linear::new(4, 8, &mut rng)?).with(BatchNorm1d::new(8)?);
//! let mut model = Classifier { trunk, head: Linear::new(8, 3, &mut rng)?, classes: 3 };
//! let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names[..2], ["trunk.0.weight", "trunk.0.bias"]);
//! assert_eq!(names[2..], ["trunk.1.weight", "trunk.1.bias", "fc.weight", "fc.bias"]);
//! let mut norms = Vec::new();
//! model.visit_modules_mut("", &mut |name, m| {
//!     if let Some(bn) = m.downcast_mut::<BatchNorm1d>() {
//!         norms.push((name.to_string(), bn.config().num_features));
//!     }
//! });
//! assert_eq!(norms, [("trunk.1".to_string(), 8)]);
//! // Models are modules, not layers: their own methods chain the parts.
//! let mut ctx = Ctx::eval();
//! let logits = model.head.forward(&model.trunk.forward(&Tensor::zeros(&[2, 4]), &mut ctx)?, &mut ctx)?;
//! assert_eq!(logits.shape(), [2, model.classes]);
//! # Ok(())
//! # }
//! ```
//!
//! # Parameters live outside the graph
//! Parameters are [`Tensor::parameter`] leaves held by the layers. A forward pass builds a
//! fresh graph on top of them; `loss.backward()` gives [`Gradients`](latent_tensor::Gradients)
//! keyed by the leaves' identities; an optimiser then edits the leaves in place
//! ([`Tensor::value_mut`] keeps the identity), and the graph is dropped with the loss.

use std::any::Any;

pub use latent_derive::Module;
pub use latent_tensor::Tensor;
use latent_tensor::random::RngState;
use latent_tensor::{Rectifier, TensorRng};
use ndarray::ArrayD;

use crate::error::Result;

/// A non-trainable state array of a module (PyTorch's "buffer"), as [`Module::visit_buffers`]
/// shows it.
#[derive(Debug, Clone, Copy)]
pub enum Buffer<'a> {
    /// An `f32` array (BatchNorm's `running_mean`, `running_var`).
    F32(&'a ArrayD<f32>),
    /// A 64-bit integer scalar (BatchNorm's `num_batches_tracked`, stored as a 0-d `I64`).
    I64(i64),
}

/// Mutable access to a buffer, as [`Module::visit_buffers_mut`] gives it.
#[derive(Debug)]
pub enum BufferMut<'a> {
    /// An `f32` array; its shape must not change.
    F32(&'a mut ArrayD<f32>),
    /// A 64-bit integer scalar.
    I64(&'a mut i64),
}

impl Buffer<'_> {
    /// The buffer's shape (`[]` for the integer scalar).
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Buffer::F32(a) => a.shape().to_vec(),
            Buffer::I64(_) => Vec::new(),
        }
    }
}

impl BufferMut<'_> {
    /// The buffer's shape (`[]` for the integer scalar).
    pub fn shape(&self) -> Vec<usize> {
        match self {
            BufferMut::F32(a) => a.shape().to_vec(),
            BufferMut::I64(_) => Vec::new(),
        }
    }
}

/// What a forward pass needs besides its input: whether the model is training, and the
/// generator that dropout draws its masks from.
///
/// The mode belongs to the call rather than to the model, so there is no flag to forget to
/// switch back, and evaluating in the middle of training needs no toggling: pass
/// [`Ctx::eval`] for evaluation and the training context for training steps. In training
/// mode, BatchNorm normalises with the batch statistics and updates its running statistics,
/// and Dropout drops; in evaluation mode, BatchNorm uses its running statistics and Dropout is
/// the identity.
///
/// An evaluation context can also ask BatchNorm for the batch statistics
/// ([`Ctx::set_batch_statistics`]): each batch is then normalised by its own mean and
/// variance, as in training, while the running statistics stay untouched. A GAN's
/// discriminator is evaluated so: it only ever saw batches normalised by their own statistics,
/// and its running statistics average real and fake batches, a distribution it never judged.
#[derive(Clone, Debug)]
pub struct Ctx {
    training: bool,
    batch_statistics: bool,
    rng: TensorRng,
}

impl Ctx {
    /// A training context whose dropout masks come from `rng`.
    pub fn train(rng: TensorRng) -> Self {
        Ctx { training: true, batch_statistics: true, rng }
    }

    /// An evaluation context (no layer draws random numbers in evaluation mode).
    pub fn eval() -> Self {
        Ctx { training: false, batch_statistics: false, rng: TensorRng::seed_from_u64(0) }
    }

    /// Whether layers behave as in training.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Whether BatchNorm normalises each batch by its own statistics: always in training; in
    /// evaluation when asked by [`Ctx::set_batch_statistics`].
    pub fn uses_batch_statistics(&self) -> bool {
        self.training || self.batch_statistics
    }

    /// In evaluation mode, make BatchNorm normalise each batch by its own statistics (`true`)
    /// without updating its running statistics, or by the running statistics (`false`, the
    /// default); returns the previous setting. Training always uses the batch statistics.
    ///
    /// ```
    /// use latent_nn::layers::BatchNorm1d;
    /// use latent_nn::{Ctx, Layer};
    /// use latent_tensor::Tensor;
    /// let mut bn = BatchNorm1d::new(1).unwrap();
    /// let x = Tensor::from_vec(&[2, 1], vec![3.0, 5.0]).unwrap();
    /// let mut ctx = Ctx::eval();
    /// ctx.set_batch_statistics(true);
    /// let y = bn.forward(&x, &mut ctx).unwrap().to_vec();
    /// assert!((y[0] + 1.0).abs() < 1e-3 && (y[1] - 1.0).abs() < 1e-3, "{y:?}");
    /// // The running statistics are untouched: evaluation by them still sees the raw values.
    /// let y = bn.forward(&x, &mut Ctx::eval()).unwrap().to_vec();
    /// assert!((y[0] - 3.0).abs() < 1e-3, "{y:?}");
    /// ```
    pub fn set_batch_statistics(&mut self, on: bool) -> bool {
        std::mem::replace(&mut self.batch_statistics, on)
    }

    /// Switch between training (`true`) and evaluation (`false`), keeping the generator.
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    /// The generator that dropout draws from.
    pub fn rng(&mut self) -> &mut TensorRng {
        &mut self.rng
    }

    /// The generator's complete state (for training-state files).
    pub fn rng_state(&self) -> RngState {
        self.rng.state()
    }
}

/// `prefix.name`, or `name` when the prefix is empty: how parameter names are built.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") }
}

/// What owns parameters, buffers and sub-modules: a layer or a whole model, shown to visitors
/// under PyTorch `state_dict` names. Derive it (`#[derive(Module)]`, see the module docs)
/// rather than writing it; the forward map of a layer is the separate trait [`Layer`].
///
/// Implementations call `f` once per parameter (and buffer) they own, with the full name
/// (`join(prefix, "weight")`), and pass `join(prefix, child_name)` to their children. The
/// visits must list the same names in the same order every time. Modules are `'static` (the
/// typed walk hands them out as [`Any`]) and `Send`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `Module`",
    label = "a field of this type is taken as a sub-module",
    note = "in a #[derive(Module)] struct every field is a sub-module unless it is a `Tensor` or `Option<Tensor>` \
            parameter, a #[module(buffer)] or a #[module(skip)]"
)]
pub trait Module: Send + 'static {
    /// Call `f(name, parameter)` for every parameter, names prefixed by `prefix`.
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor));

    /// Call `f(name, parameter)` with mutable access to every parameter (for optimisers and
    /// checkpoint loading). `f` may change values but must keep shapes.
    fn visit_params_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor));

    /// Call `f(name, buffer)` for every buffer.
    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, Buffer<'_>));

    /// Call `f(name, buffer)` with mutable access to every buffer.
    fn visit_buffers_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, BufferMut<'_>));

    /// The typed walk: call `f(name, module)` for this module and then, depth first in field
    /// order, for every sub-module, so a caller can look for a layer type with
    /// [`downcast_ref`](trait@Any#method.downcast_ref). Names are the modules' prefixes (`""`
    /// for the root, `"encoder.0"`, ...). Containers (`Vec`, `Option`, `Box`) are not handed
    /// out themselves, only what they hold.
    fn visit_modules(&self, prefix: &str, f: &mut dyn FnMut(&str, &dyn Any));

    /// The typed walk with mutable access (for initialisers:
    /// [`downcast_mut`](trait@Any#method.downcast_mut)), in the order of
    /// [`Module::visit_modules`].
    fn visit_modules_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut dyn Any));

    /// The total number of parameter elements (PyTorch's `sum(p.numel() for p in
    /// model.parameters())`).
    fn parameter_count(&self) -> usize {
        let mut n = 0;
        self.visit_params("", &mut |_, p| n += p.len());
        n
    }

    /// Every parameter with its name, in visiting order (the handles are shared, not copied).
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        self.visit_params("", &mut |name, p| out.push((name.to_string(), p.clone())));
        out
    }
}

/// A module with a forward map from a tensor to a tensor: what a
/// [`Sequential`](crate::layers::Sequential) chains. Models are modules but not layers: their
/// own methods (encode, decode, the objective) say what they compute.
pub trait Layer: Module {
    /// Apply the layer to `x`. Training-mode layers (BatchNorm) update their running
    /// statistics here, hence `&mut self`.
    ///
    /// # Errors
    /// If `x` has a shape the layer cannot take.
    fn forward(&mut self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor>;

    /// The rectifier this layer is, if it is one (a ReLU, or a leaky ReLU with a slope of 0 or
    /// more), so that a [`Sequential`](crate::layers::Sequential) can hand it to the layer
    /// before, which may apply it as it writes its output.
    fn as_rectifier(&self) -> Option<Rectifier> {
        None
    }

    /// [`Layer::forward`] followed by `rectifier`: the same values and gradients, bit for bit.
    /// The default applies the rectifier as an op of its own; layers whose op can apply it as it
    /// writes (convolutions, linear layers, training-mode batch norm) do that, saving a pass over
    /// the output forward and an array the size of the output.
    ///
    /// # Errors
    /// As [`Layer::forward`].
    fn forward_rectified(&mut self, x: &Tensor, rectifier: Rectifier, ctx: &mut Ctx) -> Result<Tensor> {
        Ok(self.forward(x, ctx)?.rectify(rectifier))
    }
}

/// A field type that can be a buffer (`#[module(buffer)]` in a derived [`Module`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a #[module(buffer)]",
    note = "buffers are `ArrayD<f32>` or `i64` fields (types implementing `BufferField`)"
)]
pub trait BufferField {
    /// The field as a [`Buffer`].
    fn buffer(&self) -> Buffer<'_>;

    /// The field as a [`BufferMut`].
    fn buffer_mut(&mut self) -> BufferMut<'_>;
}

impl BufferField for ArrayD<f32> {
    fn buffer(&self) -> Buffer<'_> {
        Buffer::F32(self)
    }

    fn buffer_mut(&mut self) -> BufferMut<'_> {
        BufferMut::F32(self)
    }
}

impl BufferField for i64 {
    fn buffer(&self) -> Buffer<'_> {
        Buffer::I64(*self)
    }

    fn buffer_mut(&mut self) -> BufferMut<'_> {
        BufferMut::I64(self)
    }
}

/// A boxed module is the module it holds (so `Box<dyn Layer>` is a `Module`); the walk hands
/// out the inner module, not the box.
impl<M: Module + ?Sized> Module for Box<M> {
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        (**self).visit_params(prefix, f);
    }

    fn visit_params_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        (**self).visit_params_mut(prefix, f);
    }

    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, Buffer<'_>)) {
        (**self).visit_buffers(prefix, f);
    }

    fn visit_buffers_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, BufferMut<'_>)) {
        (**self).visit_buffers_mut(prefix, f);
    }

    fn visit_modules(&self, prefix: &str, f: &mut dyn FnMut(&str, &dyn Any)) {
        (**self).visit_modules(prefix, f);
    }

    fn visit_modules_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut dyn Any)) {
        (**self).visit_modules_mut(prefix, f);
    }
}

// Every method forwards: a default here would hide the boxed layer's own (a `Sequential` holds
// its layers boxed).
impl<L: Layer + ?Sized> Layer for Box<L> {
    fn forward(&mut self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        (**self).forward(x, ctx)
    }

    fn as_rectifier(&self) -> Option<Rectifier> {
        (**self).as_rectifier()
    }

    fn forward_rectified(&mut self, x: &Tensor, rectifier: Rectifier, ctx: &mut Ctx) -> Result<Tensor> {
        (**self).forward_rectified(x, rectifier, ctx)
    }
}

/// An optional module: visited under the same prefix when present, nothing when absent.
impl<M: Module> Module for Option<M> {
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        if let Some(m) = self {
            m.visit_params(prefix, f);
        }
    }

    fn visit_params_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        if let Some(m) = self {
            m.visit_params_mut(prefix, f);
        }
    }

    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, Buffer<'_>)) {
        if let Some(m) = self {
            m.visit_buffers(prefix, f);
        }
    }

    fn visit_buffers_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, BufferMut<'_>)) {
        if let Some(m) = self {
            m.visit_buffers_mut(prefix, f);
        }
    }

    fn visit_modules(&self, prefix: &str, f: &mut dyn FnMut(&str, &dyn Any)) {
        if let Some(m) = self {
            m.visit_modules(prefix, f);
        }
    }

    fn visit_modules_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut dyn Any)) {
        if let Some(m) = self {
            m.visit_modules_mut(prefix, f);
        }
    }
}

/// A list of modules, the `i`-th under `join(prefix, "i")` (PyTorch's `nn.ModuleList`).
impl<M: Module> Module for Vec<M> {
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        for (i, m) in self.iter().enumerate() {
            m.visit_params(&join(prefix, &i.to_string()), f);
        }
    }

    fn visit_params_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        for (i, m) in self.iter_mut().enumerate() {
            m.visit_params_mut(&join(prefix, &i.to_string()), f);
        }
    }

    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, Buffer<'_>)) {
        for (i, m) in self.iter().enumerate() {
            m.visit_buffers(&join(prefix, &i.to_string()), f);
        }
    }

    fn visit_buffers_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, BufferMut<'_>)) {
        for (i, m) in self.iter_mut().enumerate() {
            m.visit_buffers_mut(&join(prefix, &i.to_string()), f);
        }
    }

    fn visit_modules(&self, prefix: &str, f: &mut dyn FnMut(&str, &dyn Any)) {
        for (i, m) in self.iter().enumerate() {
            m.visit_modules(&join(prefix, &i.to_string()), f);
        }
    }

    fn visit_modules_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut dyn Any)) {
        for (i, m) in self.iter_mut().enumerate() {
            m.visit_modules_mut(&join(prefix, &i.to_string()), f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{BatchNorm1d, Linear, Relu, Sequential};
    use ndarray::{IxDyn, arr1};

    fn rng() -> TensorRng {
        TensorRng::seed_from_u64(7)
    }

    fn param(values: &[f32]) -> Tensor {
        Tensor::parameter(arr1(values))
    }

    fn param_names(m: &dyn Module, prefix: &str) -> Vec<String> {
        let mut names = Vec::new();
        m.visit_params(prefix, &mut |n, _| names.push(n.to_string()));
        names
    }

    fn param_names_mut(m: &mut dyn Module, prefix: &str) -> Vec<String> {
        let mut names = Vec::new();
        m.visit_params_mut(prefix, &mut |n, _| names.push(n.to_string()));
        names
    }

    fn buffer_names(m: &dyn Module) -> Vec<(String, Vec<usize>)> {
        let mut names = Vec::new();
        m.visit_buffers("", &mut |n, b| names.push((n.to_string(), b.shape())));
        names
    }

    fn module_names(m: &dyn Module) -> Vec<String> {
        let mut names = Vec::new();
        m.visit_modules("", &mut |n, _| names.push(n.to_string()));
        names
    }

    /// Every kind of field, in an order that mixes them.
    #[derive(Module)]
    struct Everything {
        scale: Tensor,
        #[module(rename = "fc_mu")]
        head: Linear,
        present: Option<Tensor>,
        absent: Option<Tensor>,
        #[module(buffer)]
        count: i64,
        layers: Vec<Linear>,
        #[module(skip)]
        cache: Vec<f32>,
        extra: Option<BatchNorm1d>,
        missing: Option<Linear>,
        boxed: Box<dyn Layer>,
        #[module(buffer, rename = "stats")]
        running: ArrayD<f32>,
        r#type: Relu,
    }

    fn everything() -> Everything {
        let mut rng = rng();
        Everything {
            scale: param(&[1.0, 2.0]),
            head: Linear::new(2, 3, &mut rng).unwrap(),
            present: Some(param(&[0.5])),
            absent: None,
            count: 4,
            layers: vec![Linear::new(3, 3, &mut rng).unwrap(), Linear::new(3, 1, &mut rng).unwrap()],
            cache: vec![1.0],
            extra: Some(BatchNorm1d::new(2).unwrap()),
            missing: None,
            boxed: Box::new(Sequential::new().with(Relu).with(Linear::new(1, 1, &mut rng).unwrap())),
            running: ArrayD::zeros(IxDyn(&[5])),
            r#type: Relu,
        }
    }

    #[test]
    fn derive_visits_fields_in_order_under_their_names() {
        let mut m = everything();
        let expected = [
            "m.scale",
            "m.fc_mu.weight",
            "m.fc_mu.bias",
            "m.present",
            "m.layers.0.weight",
            "m.layers.0.bias",
            "m.layers.1.weight",
            "m.layers.1.bias",
            "m.extra.weight",
            "m.extra.bias",
            "m.boxed.1.weight",
            "m.boxed.1.bias",
        ];
        assert_eq!(param_names(&m, "m"), expected);
        assert_eq!(param_names_mut(&mut m, "m"), expected);
        assert_eq!(m.parameter_count(), 2 + (6 + 3) + 1 + (9 + 3) + (3 + 1) + (2 + 2) + (1 + 1));
        assert_eq!(m.named_parameters()[0].0, "scale");
        assert_eq!(m.cache, [1.0]);
    }

    #[test]
    fn derive_visits_buffers_of_fields_and_sub_modules() {
        let mut m = everything();
        let expected = [
            ("count".to_string(), vec![]),
            ("extra.running_mean".to_string(), vec![2]),
            ("extra.running_var".to_string(), vec![2]),
            ("extra.num_batches_tracked".to_string(), vec![]),
            ("stats".to_string(), vec![5]),
        ];
        assert_eq!(buffer_names(&m), expected);
        m.visit_buffers_mut("", &mut |name, b| match b {
            BufferMut::I64(v) => *v += 10,
            BufferMut::F32(a) if name == "stats" => a.fill(3.0),
            BufferMut::F32(_) => {}
        });
        assert_eq!(m.count, 14);
        assert!(m.running.iter().all(|&v| v == 3.0));
        assert_eq!(m.extra.as_ref().unwrap().num_batches_tracked(), 10);
        let mut kinds = Vec::new();
        m.visit_buffers("", &mut |_, b| kinds.push(matches!(b, Buffer::I64(_))));
        assert_eq!(kinds, [true, false, false, true, false]);
    }

    #[test]
    fn typed_walk_hands_out_each_module_once_in_order_and_downcasts() {
        let mut m = everything();
        // Containers (Vec, Option, Box) are transparent; raw identifiers lose their `r#`.
        assert_eq!(
            module_names(&m),
            ["", "fc_mu", "layers.0", "layers.1", "extra", "boxed", "boxed.0", "boxed.1", "type"]
        );
        let mut linears = Vec::new();
        m.visit_modules("net", &mut |name, module| {
            if let Some(l) = module.downcast_ref::<Linear>() {
                linears.push((name.to_string(), l.config().out_features));
            }
        });
        assert_eq!(
            linears,
            [
                ("net.fc_mu".to_string(), 3),
                ("net.layers.0".to_string(), 3),
                ("net.layers.1".to_string(), 1),
                ("net.boxed.1".to_string(), 1)
            ]
        );
        let mut roots = 0;
        m.visit_modules_mut("", &mut |name, module| {
            if let Some(root) = module.downcast_mut::<Everything>() {
                assert_eq!(name, "");
                root.count = -1;
                roots += 1;
            }
            if let Some(seq) = module.downcast_mut::<Sequential>() {
                seq.push(Relu);
            }
        });
        assert_eq!((roots, m.count), (1, -1));
        assert_eq!(module_names(&m).last().map(String::as_str), Some("type"));
        assert!(module_names(&m).contains(&"boxed.2".to_string()));
    }

    /// Generic sub-modules with bounds in both places, and a const generic.
    #[derive(Module)]
    struct Pair<A: Module, B, const N: usize>
    where
        B: Module,
    {
        first: A,
        second: B,
        #[module(skip)]
        sizes: [usize; N],
    }

    /// A flattened sub-module names its contents under the struct's own prefix.
    #[derive(Module)]
    struct Chain {
        #[module(flatten)]
        links: Vec<Linear>,
        tail: Linear,
    }

    /// A unit struct derives too (a layer without parameters).
    #[derive(Module)]
    struct Nothing;

    #[test]
    fn generics_flatten_and_unit_structs_derive() {
        let mut rng = rng();
        let chain = Chain {
            links: vec![Linear::new(1, 1, &mut rng).unwrap(), Linear::new(1, 1, &mut rng).unwrap()],
            tail: Linear::from_tensors(Tensor::parameter(ndarray::arr2(&[[1.0f32]])), None).unwrap(),
        };
        let pair = Pair { first: chain, second: Some(Nothing), sizes: [1, 2] };
        assert_eq!(
            param_names(&pair, ""),
            ["first.0.weight", "first.0.bias", "first.1.weight", "first.1.bias", "first.tail.weight"]
        );
        assert_eq!(module_names(&pair), ["", "first", "first.0", "first.1", "first.tail", "second"]);
        assert_eq!(pair.sizes.len(), 2);
        assert!(param_names(&Nothing, "x").is_empty() && buffer_names(&Nothing).is_empty());
        assert_eq!(module_names(&Nothing), [""]);
    }

    #[test]
    fn derived_sequential_keeps_pytorch_indices() {
        let mut rng = rng();
        let model =
            Sequential::new().with(Linear::new(2, 2, &mut rng).unwrap()).with(Relu).with(BatchNorm1d::new(2).unwrap());
        assert_eq!(param_names(&model, "enc"), ["enc.0.weight", "enc.0.bias", "enc.2.weight", "enc.2.bias"]);
        assert_eq!(module_names(&model), ["", "0", "1", "2"]);
    }

    #[test]
    fn join_builds_state_dict_names() {
        assert_eq!(join("", "weight"), "weight");
        assert_eq!(join("encoder.0", "weight"), "encoder.0.weight");
    }

    #[test]
    fn ctx_mode_switches_and_keeps_the_generator() {
        let mut ctx = Ctx::train(TensorRng::seed_from_u64(3));
        assert!(ctx.is_training());
        let before = ctx.rng_state();
        ctx.set_training(false);
        assert!(!ctx.is_training());
        assert_eq!(ctx.rng_state(), before);
        assert!(!Ctx::eval().is_training());
    }
}
