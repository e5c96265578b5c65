//! What an op node remembers (`Op`) and the list of every op kind ([`OpKind`]).
//!
//! Adding an op means: a variant here, its kind in the `op_kinds!` list (the compiler insists,
//! through `Op::kind`), its forward function in [`crate::ops`], its backward rule in
//! [`crate::backprop`] (the compiler insists again), and a gradient check in
//! `gradcheck::registry` plus its line in `tests/gradcheck.rs` (tests insist: every kind must be
//! exercised by some check, and every check has its test).

use std::fmt;

use crate::kernels::rectifier::Rectifier;
use crate::ops::conv::{ConvOptions, Pool2dOptions};
use crate::tensor::{Tensor, Value};

macro_rules! op_kinds {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// The kind of an op, without its operands: what the gradient checker counts.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum OpKind { $(
            #[doc = concat!("`", $name, "`")]
            $variant
        ),* }

        impl OpKind {
            /// Every op kind, in declaration order.
            pub const ALL: &'static [OpKind] = &[$(OpKind::$variant),*];

            /// The kind's name as printed by `cargo xtask gradcheck`.
            pub fn name(self) -> &'static str {
                match self { $(OpKind::$variant => $name),* }
            }
        }
    };
}

op_kinds! {
    Add => "add", Sub => "sub", Mul => "mul", Div => "div", Neg => "neg",
    AddScalar => "add_scalar", MulScalar => "mul_scalar", PowScalar => "pow",
    Exp => "exp", Log => "log", Sqrt => "sqrt", Abs => "abs", Clamp => "clamp",
    Relu => "relu", LeakyRelu => "leaky_relu", Elu => "elu", Sigmoid => "sigmoid", Tanh => "tanh",
    Softplus => "softplus",
    Sum => "sum", Mean => "mean", Max => "max", LogSumExp => "logsumexp", Softmax => "softmax",
    LogSoftmax => "log_softmax",
    Matmul => "matmul", Linear => "linear",
    Permute => "permute", Reshape => "reshape", BroadcastTo => "broadcast_to", Slice => "slice",
    Concat => "concat", GatherRows => "gather_rows",
    Conv2d => "conv2d", ConvTranspose2d => "conv_transpose2d", MaxPool2d => "max_pool2d",
    AvgPool2d => "avg_pool2d", Mask => "mask", Elementwise => "fused_elementwise", BatchNorm => "batch_norm",
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An op node's record: its inputs and whatever its backward rule needs besides the output.
#[derive(Clone)]
pub(crate) enum Op {
    Add(Tensor, Tensor),
    Sub(Tensor, Tensor),
    Mul(Tensor, Tensor),
    Div(Tensor, Tensor),
    Neg(Tensor),
    AddScalar(Tensor),
    MulScalar(Tensor, f32),
    PowScalar(Tensor, f32),
    Exp(Tensor),
    Log(Tensor),
    Sqrt(Tensor),
    Abs(Tensor),
    Clamp {
        x: Tensor,
        min: f32,
        max: f32,
    },
    Relu(Tensor),
    LeakyRelu(Tensor, f32),
    Elu(Tensor, f32),
    Sigmoid(Tensor),
    Tanh(Tensor),
    Softplus(Tensor),
    /// Sum over `axes` (sorted, unique); `keepdim` as in the forward call.
    Sum {
        x: Tensor,
        axes: Vec<usize>,
        keepdim: bool,
    },
    Mean {
        x: Tensor,
        axes: Vec<usize>,
        keepdim: bool,
    },
    /// Max along `axis`; `argmax` holds the winning index of each lane, in output order.
    Max {
        x: Tensor,
        axis: usize,
        keepdim: bool,
        argmax: Vec<usize>,
    },
    LogSumExp {
        x: Tensor,
        axis: usize,
        keepdim: bool,
    },
    Softmax {
        x: Tensor,
        axis: usize,
    },
    LogSoftmax {
        x: Tensor,
        axis: usize,
    },
    Matmul(Tensor, Tensor),
    /// `x · wᵀ + b` with `w` as `[out, in]` (PyTorch's layout).
    Linear {
        x: Tensor,
        w: Tensor,
        b: Option<Tensor>,
        rectifier: Option<Rectifier>,
    },
    Permute {
        x: Tensor,
        axes: Vec<usize>,
    },
    Reshape(Tensor),
    BroadcastTo(Tensor),
    Slice {
        x: Tensor,
        axis: usize,
        start: usize,
        end: usize,
    },
    Concat {
        xs: Vec<Tensor>,
        axis: usize,
    },
    GatherRows {
        x: Tensor,
        indices: Vec<usize>,
    },
    Conv2d {
        x: Tensor,
        w: Tensor,
        b: Option<Tensor>,
        options: ConvOptions,
        rectifier: Option<Rectifier>,
    },
    ConvTranspose2d {
        x: Tensor,
        w: Tensor,
        b: Option<Tensor>,
        options: ConvOptions,
        rectifier: Option<Rectifier>,
    },
    /// `argmax` holds, per output element, the flat index of the winner in its input plane.
    MaxPool2d {
        x: Tensor,
        argmax: ndarray::Array4<u32>,
    },
    AvgPool2d {
        x: Tensor,
        options: Pool2dOptions,
    },
    /// Element-wise product with a constant mask (dropout: kept entries hold `1 / (1 - p)`).
    Mask {
        x: Tensor,
        mask: Value,
    },
    /// A fused element-wise op: each input with its local derivative (`None` = identity), in
    /// the output's shape.
    Elementwise {
        parts: Vec<(Tensor, Option<Value>)>,
    },
    /// Training-mode batch norm: the input, the optional per-channel affine parameters, and the
    /// batch statistics the forward pass used.
    BatchNorm {
        x: Tensor,
        weight: Option<Tensor>,
        bias: Option<Tensor>,
        stats: std::sync::Arc<crate::kernels::norm::ChannelStats>,
        rectifier: Option<Rectifier>,
    },
}

impl Op {
    /// The op's kind.
    pub(crate) fn kind(&self) -> OpKind {
        match self {
            Op::Add(..) => OpKind::Add,
            Op::Sub(..) => OpKind::Sub,
            Op::Mul(..) => OpKind::Mul,
            Op::Div(..) => OpKind::Div,
            Op::Neg(..) => OpKind::Neg,
            Op::AddScalar(..) => OpKind::AddScalar,
            Op::MulScalar(..) => OpKind::MulScalar,
            Op::PowScalar(..) => OpKind::PowScalar,
            Op::Exp(..) => OpKind::Exp,
            Op::Log(..) => OpKind::Log,
            Op::Sqrt(..) => OpKind::Sqrt,
            Op::Abs(..) => OpKind::Abs,
            Op::Clamp { .. } => OpKind::Clamp,
            Op::Relu(..) => OpKind::Relu,
            Op::LeakyRelu(..) => OpKind::LeakyRelu,
            Op::Elu(..) => OpKind::Elu,
            Op::Sigmoid(..) => OpKind::Sigmoid,
            Op::Tanh(..) => OpKind::Tanh,
            Op::Softplus(..) => OpKind::Softplus,
            Op::Sum { .. } => OpKind::Sum,
            Op::Mean { .. } => OpKind::Mean,
            Op::Max { .. } => OpKind::Max,
            Op::LogSumExp { .. } => OpKind::LogSumExp,
            Op::Softmax { .. } => OpKind::Softmax,
            Op::LogSoftmax { .. } => OpKind::LogSoftmax,
            Op::Matmul(..) => OpKind::Matmul,
            Op::Linear { .. } => OpKind::Linear,
            Op::Permute { .. } => OpKind::Permute,
            Op::Reshape(..) => OpKind::Reshape,
            Op::BroadcastTo(..) => OpKind::BroadcastTo,
            Op::Slice { .. } => OpKind::Slice,
            Op::Concat { .. } => OpKind::Concat,
            Op::GatherRows { .. } => OpKind::GatherRows,
            Op::Conv2d { .. } => OpKind::Conv2d,
            Op::ConvTranspose2d { .. } => OpKind::ConvTranspose2d,
            Op::MaxPool2d { .. } => OpKind::MaxPool2d,
            Op::AvgPool2d { .. } => OpKind::AvgPool2d,
            Op::Mask { .. } => OpKind::Mask,
            Op::Elementwise { .. } => OpKind::Elementwise,
            Op::BatchNorm { .. } => OpKind::BatchNorm,
        }
    }

    /// The rectifier the op applied to its output as it wrote it, if any: its gradient goes
    /// through the rectifier's derivative (read from the output) before the op's own rule.
    pub(crate) fn rectifier(&self) -> Option<Rectifier> {
        match self {
            Op::Linear { rectifier, .. }
            | Op::Conv2d { rectifier, .. }
            | Op::ConvTranspose2d { rectifier, .. }
            | Op::BatchNorm { rectifier, .. } => *rectifier,
            _ => None,
        }
    }

    /// The op's tensor inputs, in order.
    pub(crate) fn inputs(&self) -> Vec<&Tensor> {
        match self {
            Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) | Op::Matmul(a, b) => vec![a, b],
            Op::Neg(x)
            | Op::AddScalar(x)
            | Op::MulScalar(x, _)
            | Op::PowScalar(x, _)
            | Op::Exp(x)
            | Op::Log(x)
            | Op::Sqrt(x)
            | Op::Abs(x)
            | Op::Relu(x)
            | Op::LeakyRelu(x, _)
            | Op::Elu(x, _)
            | Op::Sigmoid(x)
            | Op::Tanh(x)
            | Op::Softplus(x)
            | Op::Reshape(x)
            | Op::BroadcastTo(x) => vec![x],
            Op::Clamp { x, .. }
            | Op::Sum { x, .. }
            | Op::Mean { x, .. }
            | Op::Max { x, .. }
            | Op::LogSumExp { x, .. }
            | Op::Softmax { x, .. }
            | Op::LogSoftmax { x, .. }
            | Op::Permute { x, .. }
            | Op::Slice { x, .. }
            | Op::GatherRows { x, .. }
            | Op::MaxPool2d { x, .. }
            | Op::AvgPool2d { x, .. }
            | Op::Mask { x, .. } => vec![x],
            Op::Linear { x, w, b, .. } | Op::Conv2d { x, w, b, .. } | Op::ConvTranspose2d { x, w, b, .. } => {
                let mut v = vec![x, w];
                v.extend(b.iter());
                v
            }
            Op::Concat { xs, .. } => xs.iter().collect(),
            Op::Elementwise { parts } => parts.iter().map(|(x, _)| x).collect(),
            Op::BatchNorm { x, weight, bias, .. } => {
                let mut v = vec![x];
                v.extend(weight.iter());
                v.extend(bias.iter());
                v
            }
        }
    }
}
