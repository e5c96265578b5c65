//! The gradient checks of every op (`latent_tensor::gradcheck::registry`), one test per
//! registry entry, named after it: `cargo test matmul` runs the four matmul checks. They use
//! fewer cases than `cargo xtask gradcheck` (12 here, 64 there) to keep `cargo test` quick.

use latent_tensor::OpKind;
use latent_tensor::gradcheck::{registry, run_check, unexercised_kinds};

latent_tensor::gradcheck_tests! {
    registry: latent_tensor::gradcheck::registry, cases: 12, seed: 1;
    add, sub, mul, div, neg, add_scalar, mul_scalar, pow, exp, log, sqrt, abs, clamp, relu,
    leaky_relu, elu, sigmoid, sigmoid_extreme, tanh, softplus, softplus_extreme, sum_all,
    sum_axes, mean_all, mean_axes, max_axis, logsumexp, logsumexp_extreme, softmax, log_softmax,
    log_softmax_extreme, matmul, matmul_batched, matmul_shared_rhs, matmul_transposed_lhs,
    linear, linear_relu, permute, transpose, reshape, reshape_strided, broadcast_to, slice, concat, stack,
    gather_rows, conv2d, conv_transpose2d, conv2d_winograd, conv_transpose2d_winograd, conv2d_relu,
    conv_transpose2d_leaky_relu, conv2d_winograd_leaky_relu, conv_transpose2d_winograd_relu, max_pool2d, avg_pool2d, mask, batch_norm,
    batch_norm_2d_no_affine, batch_norm_leaky_relu, fused_elementwise,
}

/// Every op kind is exercised by some check's graphs (with the cases the tests above run).
#[test]
fn every_op_kind_is_exercised_by_a_check() {
    let reports: Vec<_> = registry().iter().map(|c| run_check(c, 12, 1)).collect();
    let missing: Vec<OpKind> = unexercised_kinds(&reports);
    assert!(missing.is_empty(), "op kinds with no gradient check: {missing:?}");
}
