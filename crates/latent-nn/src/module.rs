//! The [`Module`] trait (forward, named parameters and buffers), the forward context [`Ctx`]
//! (train/eval mode and the dropout generator), and helpers built on parameter visiting.
//!
//! # Names
//! A module names what it owns relative to a prefix handed down by its parent, exactly as
//! PyTorch's `state_dict` does: a [`Sequential`](crate::layers::Sequential) hands `"0"`, `"1"`,
//! ... to its children, so the Linear at `encoder.0` owns `encoder.0.weight` and
//! `encoder.0.bias`. [`join`] builds those names. A model made of named parts implements the
//! visits by calling each part with `join(prefix, "encoder")`, and so on.
//!
//! # Parameters live outside the graph
//! Parameters are [`Tensor::parameter`] leaves held by the layers. A forward pass builds a
//! fresh graph on top of them; `loss.backward()` gives [`Gradients`](latent_tensor::Gradients)
//! keyed by the leaves' identities; an optimiser then edits the leaves in place
//! ([`Tensor::value_mut`] keeps the identity), and the graph is dropped with the loss.

pub use latent_tensor::Tensor;
use latent_tensor::TensorRng;
use latent_tensor::random::RngState;
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
#[derive(Clone, Debug)]
pub struct Ctx {
    training: bool,
    rng: TensorRng,
}

impl Ctx {
    /// A training context whose dropout masks come from `rng`.
    pub fn train(rng: TensorRng) -> Self {
        Ctx { training: true, rng }
    }

    /// An evaluation context (no layer draws random numbers in evaluation mode).
    pub fn eval() -> Self {
        Ctx { training: false, rng: TensorRng::seed_from_u64(0) }
    }

    /// Whether layers behave as in training.
    pub fn is_training(&self) -> bool {
        self.training
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

/// A layer or model: a forward map from a tensor to a tensor, with named parameters and
/// buffers.
///
/// Implementations call `f` once per parameter (and buffer) they own, with the full name
/// (`join(prefix, "weight")`), and pass `join(prefix, child_name)` to their children. The
/// visits must list the same names in the same order every time.
pub trait Module: Send {
    /// Apply the module to `x`. Training-mode layers (BatchNorm) update their running
    /// statistics here, hence `&mut self`.
    ///
    /// # Errors
    /// If `x` has a shape the module cannot take.
    fn forward(&mut self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor>;

    /// Call `f(name, parameter)` for every parameter, names prefixed by `prefix`.
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor));

    /// Call `f(name, parameter)` with mutable access to every parameter (for optimisers and
    /// checkpoint loading). `f` may change values but must keep shapes.
    fn visit_params_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor));

    /// Call `f(name, buffer)` for every buffer. Most layers have none (the default).
    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, Buffer<'_>)) {
        let _ = (prefix, f);
    }

    /// Call `f(name, buffer)` with mutable access to every buffer. Most layers have none.
    fn visit_buffers_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, BufferMut<'_>)) {
        let _ = (prefix, f);
    }

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

impl<M: Module + ?Sized> Module for Box<M> {
    fn forward(&mut self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        (**self).forward(x, ctx)
    }

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
}

/// Implement [`Module`]'s four visitors by delegating to child modules held in named fields,
/// each under its field's name: inside an `impl Module for T` block,
/// `latent_nn::delegate_visitors!(encoder, decoder);` visits `self.encoder`'s parameters as
/// `encoder.*` and then `self.decoder`'s as `decoder.*` (PyTorch's naming of submodules), and
/// likewise for buffers.
#[macro_export]
macro_rules! delegate_visitors {
    ($($field:ident),+ $(,)?) => {
        fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &$crate::module::Tensor)) {
            $( $crate::Module::visit_params(&self.$field, &$crate::join(prefix, stringify!($field)), f); )+
        }

        fn visit_params_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut $crate::module::Tensor)) {
            $( $crate::Module::visit_params_mut(&mut self.$field, &$crate::join(prefix, stringify!($field)), f); )+
        }

        fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, $crate::Buffer<'_>)) {
            $( $crate::Module::visit_buffers(&self.$field, &$crate::join(prefix, stringify!($field)), f); )+
        }

        fn visit_buffers_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, $crate::BufferMut<'_>)) {
            $( $crate::Module::visit_buffers_mut(&mut self.$field, &$crate::join(prefix, stringify!($field)), f); )+
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

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
