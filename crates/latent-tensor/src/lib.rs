//! n-dimensional f32 tensors with reverse-mode automatic differentiation.
//!
//! # The idea in one paragraph
//! A [`Tensor`] is a cheap, clonable handle to an immutable value (an `ndarray` array) and, when
//! it takes part in differentiation, to the `Op` that produced it. Every op computes its
//! value eagerly and records its inputs; [`Tensor::backward`] walks the recorded graph in reverse
//! topological order and applies each op's backward rule, which all live in one `match`
//! ([`backprop`]). Nothing else is global: when the last handle to a graph is dropped, the graph is
//! gone, so a training step builds a fresh graph from its parameters and drops it.
//!
//! # Example
//! A tiny model `y = σ(x·w)`, its loss and the gradient of the loss with respect to `w`:
//! ```
//! use latent_tensor::Tensor;
//!
//! let x = Tensor::from_vec(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
//! let w = Tensor::from_vec(&[3, 1], vec![0.1, -0.2, 0.3])?.to_leaf(); // a parameter
//! let y = x.matmul(&w)?.sigmoid();
//! let loss = (1.0 - &y).square().mean_all()?; // operators panic on a shape error; methods return it
//! let grads = loss.backward()?;
//! let dw = grads.get(&w).expect("the loss depends on w");
//! assert_eq!(format!("{dw:.3}"), "tensor([[-0.246],\n        [-0.368],\n        [-0.490]], shape=[3, 1])");
//! # Ok::<(), latent_tensor::TensorError>(())
//! ```
//!
//! # Who owns what
//! - [`tensor`]: the `Tensor` handle, leaves, constants, `detach`, and the no-grad switch.
//! - [`op`]: the `Op` enum (what a node remembers) and [`OpKind`], the list of every op kind.
//! - [`ops`]: the differentiable operations, one file per family (element-wise binary and unary,
//!   reductions, shape, matmul, convolution and pooling, masks, and fused element-wise ops whose
//!   value and local derivatives the caller computes in one pass).
//!   [`ops::operators`] adds `+ - * /` and unary `-` on tensors and `f32` scalars.
//! - [`backprop`]: `backward()` and [`Gradients`], with every backward rule in one place.
//! - `kernels` (public only with the `bench` feature, for the benchmarks): plain `ndarray`
//!   compute (strided parallel GEMM, im2col convolution, pooling, batch norm), shared by forward
//!   values and backward rules. Two of its modules are public API, for writing fused ops:
//!   [`elementwise`] (vectorised, parallel maps over arrays) and [`vmath`] (branch-free `exp`,
//!   `sigmoid`, `softplus`, `tanh` that vectorise inside those maps).
//! - [`random`]: seeded random construction (uniform, normal, Bernoulli).
//! - [`threads`]: the size of the rayon pool.
//! - `gradcheck` (with the `gradcheck` feature, which CI and the tests turn on): central finite
//!   differences against the analytic gradient, the registry of op checks, and the proptest
//!   runner that walks it (`cargo xtask gradcheck` prints its table; `cargo test NAME` runs one
//!   entry's test).
//!
//! # Semantics worth knowing
//! - Values are `f32` only. Gradient checks run in f32 with tolerances documented in `gradcheck`.
//! - Broadcasting follows NumPy: shapes align on the right; a size-1 or missing axis stretches.
//!   The backward rule of a broadcasting op sums the gradient back to the input's shape.
//! - A tensor used several times in one graph receives the sum of the gradients of its uses.
//! - `backward` may be called any number of times on the same graph; each call returns a fresh
//!   [`Gradients`] and nothing accumulates between calls (add them yourself if you want that).
//! - An op records itself only when one of its inputs requires a gradient and no [`no_grad`]
//!   guard is alive on the thread; otherwise the result is a plain constant, costing nothing.
//! - Fallible ops (shapes that must agree) return [`Result`]; ops that cannot fail return the
//!   tensor directly. The operators (`&a + &b`) call the same methods and panic with the error's
//!   message instead.
//! - A tensor prints (`{}`) as its values, NumPy-style and elided when large, then its shape.

pub mod backprop;
mod display;
pub mod error;
#[cfg(feature = "gradcheck")]
pub mod gradcheck;
#[cfg(feature = "bench")]
pub mod kernels;
#[cfg(not(feature = "bench"))]
mod kernels;
pub mod op;
pub mod ops;
pub mod random;
pub mod tensor;
pub mod threads;

pub use backprop::Gradients;
pub use error::{Result, TensorError};
pub use kernels::rectifier::Rectifier;
pub use kernels::{elementwise, vmath};
pub use op::OpKind;
pub use ops::conv::{ConvOptions, Pool2dOptions};
pub use ops::fused::LocalGrad;
pub use random::TensorRng;
pub use tensor::{NoGradGuard, Tensor, TensorId, no_grad, recorded_ops};

/// The element type of every tensor.
pub type Elem = f32;

// The README's example is compiled and run with the doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
