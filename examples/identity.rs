//! The 8-3-8 identity network of the textbook figure, trained through the tensor API alone.
//!
//! Eight one-hot inputs pass through three sigmoid hidden units and come back out of eight
//! sigmoid outputs; the network must squeeze eight patterns through three units, and it finds
//! (close to) a 3-bit binary code to do it. Run with `cargo run --release --example identity`.
//!
//! Training is full-batch gradient descent with momentum on the binary cross-entropy of the
//! output logits, written out by hand (the optimisers of `latent-nn` are not needed here).
//! Plain training reconstructs every input but often settles on hidden values near 0.5 (as in the
//! textbook's own table), which do not round to a code. Gaussian noise (σ = 1) added to the hidden
//! pre-activations during training only, the trick of semantic hashing, makes such half-way
//! values useless to the decoder, so the units saturate to a binary code. Reconstruction and
//! codes are judged on the clean, noise-free network.

use latent::tensor::{Tensor, TensorRng};
use ndarray::Array2;

/// What training found: per input, its hidden values and outputs.
pub struct IdentityRun {
    /// Hidden unit values, `[8, 3]`.
    pub hidden: Array2<f32>,
    /// Output values, `[8, 8]`.
    pub outputs: Array2<f32>,
    /// The final mean loss.
    pub loss: f32,
    /// Epochs run.
    pub epochs: usize,
}

/// Train the 8-3-8 network from `seed` for at most `max_epochs` (stopping once every output is
/// within 0.1 of its target and the rounded hidden codes are distinct).
pub fn train_identity(seed: u64, max_epochs: usize) -> Result<IdentityRun, Box<dyn std::error::Error>> {
    let x = Tensor::new(Array2::<f32>::eye(8));
    let mut rng = TensorRng::seed_from_u64(seed);
    let mut params = [
        Tensor::parameter(rng.uniform_array(&[3, 8], -0.5, 0.5)?),
        Tensor::parameter(rng.uniform_array(&[3], -0.5, 0.5)?),
        Tensor::parameter(rng.uniform_array(&[8, 3], -0.5, 0.5)?),
        Tensor::parameter(rng.uniform_array(&[8], -0.5, 0.5)?),
    ];
    let mut velocity: Vec<_> = params.iter().map(|p| ndarray::ArrayD::<f32>::zeros(p.shape())).collect();
    let (lr, momentum, noise) = (0.5f32, 0.9f32, 1.0f32);
    let mut epoch = 0;
    loop {
        let run = {
            let _eval = latent::tensor::no_grad();
            let hidden = x.linear(&params[0], Some(&params[1]))?.sigmoid();
            let logits = hidden.linear(&params[2], Some(&params[3]))?;
            IdentityRun {
                hidden: hidden.to_array().into_dimensionality()?,
                outputs: logits.sigmoid().to_array().into_dimensionality()?,
                loss: bce_on_logits(&logits, &x)?.item()?,
                epochs: epoch,
            }
        };
        if epoch >= max_epochs || (reconstructs(&run) && distinct_codes(&run)) {
            return Ok(run);
        }
        epoch += 1;
        let pre = x.linear(&params[0], Some(&params[1]))?;
        let noisy_hidden = pre.add(&rng.normal(pre.shape(), 0.0, noise)?)?.sigmoid();
        let loss = bce_on_logits(&noisy_hidden.linear(&params[2], Some(&params[3]))?, &x)?;
        let grads = loss.backward()?;
        for (p, v) in params.iter_mut().zip(&mut velocity) {
            let g = grads.get(p).expect("every parameter is used");
            *v = &*v * momentum - g * lr;
            let mut value = p.value_mut();
            value += &*v;
        }
    }
}

/// Binary cross-entropy on logits, `softplus(z) - x·z`, summed over outputs, averaged over inputs.
fn bce_on_logits(logits: &Tensor, targets: &Tensor) -> latent::tensor::Result<Tensor> {
    Ok(logits.softplus().sub(&targets.mul(logits)?)?.sum_all().div_scalar(8.0))
}

/// Whether every output is within 0.1 of its one-hot target.
pub fn reconstructs(run: &IdentityRun) -> bool {
    let eye = Array2::<f32>::eye(8);
    run.outputs.iter().zip(eye.iter()).all(|(o, t)| (o - t).abs() < 0.1)
}

/// The hidden values rounded to bits, one 3-bit code per input.
pub fn codes(run: &IdentityRun) -> Vec<[u8; 3]> {
    run.hidden.rows().into_iter().map(|r| [0, 1, 2].map(|j| u8::from(r[j] >= 0.5))).collect()
}

/// Whether the eight rounded hidden codes are all different.
pub fn distinct_codes(run: &IdentityRun) -> bool {
    let mut c = codes(run);
    c.sort_unstable();
    c.dedup();
    c.len() == 8
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let run = train_identity(1, 20_000)?;
    println!("8-3-8 identity network: {} epochs, final loss {:.5}\n", run.epochs, run.loss);
    println!("{:<10} {:<18} {:<10} output", "input", "hidden values", "code");
    for (i, (h, o)) in run.hidden.rows().into_iter().zip(run.outputs.rows()).enumerate() {
        let input: String = (0..8).map(|j| if j == i { '1' } else { '0' }).collect();
        let code = codes(&run)[i].map(|b| char::from(b'0' + b));
        let outputs: Vec<String> = o.iter().map(|v| format!("{v:.2}")).collect();
        println!(
            "{input:<10} {:.2} {:.2} {:.2}     {:<10} {}",
            h[0],
            h[1],
            h[2],
            code.iter().collect::<String>(),
            outputs.join(" ")
        );
    }
    println!("\nreconstructs every input: {}; distinct 3-bit codes: {}", reconstructs(&run), distinct_codes(&run));
    Ok(())
}
