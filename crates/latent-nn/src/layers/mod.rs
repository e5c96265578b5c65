//! The layers, one family per file, all with PyTorch's weight layouts and state-dict names.

pub mod activation;
pub mod batchnorm;
pub mod conv;
pub mod dropout;
pub mod linear;
pub mod reshape;
pub mod sequential;
pub mod spec;

pub use activation::{Elu, Identity, LeakyRelu, Relu, Sigmoid, Softplus, Tanh};
pub use batchnorm::{BatchNorm, BatchNorm1d, BatchNorm2d, BatchNormConfig};
pub use conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
pub use dropout::Dropout;
pub use linear::{Linear, LinearConfig};
pub use reshape::{Flatten, Unflatten};
pub use sequential::Sequential;
pub use spec::LayerSpec;
