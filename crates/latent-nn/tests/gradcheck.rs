//! The gradient checks of every layer (`latent_nn::gradcheck_registry`), one test per registry
//! entry, named after it: `cargo test nn::Conv2d` runs the Conv2d check. They use fewer cases
//! than `cargo xtask gradcheck` (8 here, 64 there) to keep `cargo test` quick.

latent_tensor::gradcheck_tests! {
    registry: latent_nn::gradcheck_registry, cases: 8, seed: 1;
    mod nn {
        Linear, Conv2d, ConvTranspose2d, BatchNorm1d, BatchNorm2d, BatchNorm2d_eval, Dropout, Relu,
        LeakyRelu, Elu, Sigmoid, Tanh, Softplus, Softplus_beta, Identity, Flatten, Unflatten,
        Sequential_mlp,
        Sequential_conv,
    }
}
