//! [`Dropout`]: inverted dropout, seeded by the context's generator, off in evaluation mode.

use latent_tensor::Tensor;

use crate::error::{NnError, Result};
use crate::module::{Ctx, Layer, Module};

/// In training, zero each element with probability `p` and scale the rest by `1 / (1 - p)`
/// (so evaluation needs no rescaling); in evaluation, the identity. The masks come from
/// [`Ctx::rng`], so a run is fixed by its seed and resumes exactly from a saved generator state.
#[derive(Clone, Copy, Debug, PartialEq, Module)]
pub struct Dropout {
    #[module(skip)]
    p: f32,
}

impl Dropout {
    /// Dropout with drop probability `p`.
    ///
    /// # Errors
    /// If `p` is not in `[0, 1)`.
    pub fn new(p: f32) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(NnError::config("Dropout", format!("probability must be in [0, 1), found {p}")));
        }
        Ok(Dropout { p })
    }

    /// The drop probability.
    pub fn p(&self) -> f32 {
        self.p
    }
}

impl Layer for Dropout {
    fn forward(&mut self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        if ctx.is_training() { Ok(x.dropout(self.p, ctx.rng())?) } else { Ok(x.clone()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latent_tensor::TensorRng;

    #[test]
    fn drops_and_rescales_in_training_only() {
        let mut d = Dropout::new(0.5).unwrap();
        let x = Tensor::ones(&[1000]);
        let y = d.forward(&x, &mut Ctx::train(TensorRng::seed_from_u64(1))).unwrap().to_vec();
        assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
        let kept = y.iter().filter(|&&v| v == 2.0).count();
        assert!((400..600).contains(&kept), "{kept}");
        // The same seed gives the same mask.
        let again = d.forward(&x, &mut Ctx::train(TensorRng::seed_from_u64(1))).unwrap().to_vec();
        assert_eq!(y, again);
        assert_eq!(d.forward(&x, &mut Ctx::eval()).unwrap().to_vec(), x.to_vec());
        assert!(Dropout::new(1.0).is_err());
    }
}
