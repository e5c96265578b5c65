//! Stacks of Linear layers and activations, described as layer specs.

use latent_nn::layers::{LayerSpec, LinearConfig};

use crate::config::Activation;

/// The layers of an MLP through `dims` (`[784, 512, 128, 32]` is three Linear layers), with
/// `activation` after every layer but the last, and `last` (if any) after the last.
pub fn mlp(dims: &[usize], activation: Activation, last: Option<Activation>) -> Vec<LayerSpec> {
    let mut layers = Vec::new();
    for (i, pair) in dims.windows(2).enumerate() {
        layers.push(LayerSpec::Linear(LinearConfig { in_features: pair[0], out_features: pair[1], bias: true }));
        let is_last = i + 2 == dims.len();
        match (is_last, last) {
            (false, _) => layers.push(activation.layer()),
            (true, Some(a)) => layers.push(a.layer()),
            (true, None) => {}
        }
    }
    layers
}

/// `[input, hidden..., output]`.
pub fn widths(input: usize, hidden: &[usize], output: usize) -> Vec<usize> {
    let mut dims = Vec::with_capacity(hidden.len() + 2);
    dims.push(input);
    dims.extend_from_slice(hidden);
    dims.push(output);
    dims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activations_go_between_layers_and_optionally_last() {
        let specs = mlp(&[4, 3, 2], Activation::Relu, None);
        assert_eq!(specs.len(), 3);
        assert_eq!(specs[1], LayerSpec::Relu);
        let specs = mlp(&[4, 2], Activation::Relu, Some(Activation::Sigmoid));
        assert_eq!(
            specs,
            vec![LayerSpec::Linear(LinearConfig { in_features: 4, out_features: 2, bias: true }), LayerSpec::Sigmoid]
        );
    }
}
