//! Building blocks the model families share: MLP and convolutional trunks ([`trunk`], [`mlp`]),
//! the Gaussian posterior and its objectives ([`gaussian`]), and label conditioning
//! ([`labels`]).

pub mod gaussian;
pub mod labels;
pub mod mlp;
pub mod trunk;
