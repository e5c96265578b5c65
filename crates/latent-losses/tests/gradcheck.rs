//! The gradient checks of every loss (`latent_losses::gradcheck_registry`), one test per
//! registry entry, named after it: `cargo test bce_logits` runs the four BCE-with-logits checks.
//! They use fewer cases than `cargo xtask gradcheck` (16 here, 64 there) to keep `cargo test`
//! quick.

latent_tensor::gradcheck_tests! {
    registry: latent_losses::gradcheck_registry, cases: 16, seed: 1;
    mse, bce_prob, bce_logits_mean, bce_logits_sum, bce_logits_none, bce_logits_extreme,
    gaussian_nll, gaussian_nll_shared_var, gaussian_kl, reparameterize, l1_activity, kl_sparsity,
    contractive_sigmoid, gan_minimax_d, gan_minimax_g, gan_nonsaturating_g, lsgan_d, lsgan_g,
    wgan_critic, wgan_g, hinge_d, hinge_g, cross_entropy, cross_entropy_extreme,
}
