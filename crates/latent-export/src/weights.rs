//! [`Weights`]: a model's floating-point state dict (parameters and buffers) by name, as the
//! writers read it.

use std::collections::BTreeMap;

use latent_nn::{Buffer, Module};

/// Every `f32` parameter and buffer of a model, by state-dict name, with its shape and values
/// in row-major order (integer buffers such as `num_batches_tracked` play no part in inference
/// and are left out).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Weights(BTreeMap<String, (Vec<usize>, Vec<f32>)>);

impl Weights {
    /// The weights of `model`.
    pub fn of<M: Module + ?Sized>(model: &M) -> Self {
        let mut map = BTreeMap::new();
        model.visit_params("", &mut |name, t| {
            map.insert(name.to_string(), (t.shape().to_vec(), t.view().iter().copied().collect()));
        });
        model.visit_buffers("", &mut |name, b| {
            if let Buffer::F32(a) = b {
                map.insert(name.to_string(), (a.shape().to_vec(), a.iter().copied().collect()));
            }
        });
        Weights(map)
    }

    /// The tensor `name`: its shape and values.
    pub fn get(&self, name: &str) -> Option<&(Vec<usize>, Vec<f32>)> {
        self.0.get(name)
    }

    /// The names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}
