//! The rectified ops (`conv2d_rectified`, `conv_transpose2d_rectified`, `linear_rectified`,
//! `batch_norm_rectified`) give the bits of the op followed by `relu` or `leaky_relu`: values
//! and every input's gradient, on the kernels' different paths (Winograd, shallow, im2col),
//! with values on both sides of the kink in every channel, exact zeros among the inputs, and
//! at 1 and 2 threads.

use latent_tensor::{ConvOptions, Rectifier, Tensor, TensorRng};
use ndarray::ArrayD;

/// An op of its own applied to a tensor.
type Separate = fn(&Tensor) -> Tensor;

/// The rectifiers to test and their unfused equivalents.
fn rectifiers() -> Vec<(Rectifier, Separate)> {
    vec![
        (Rectifier::RELU, |t| t.relu()),
        (Rectifier::leaky(0.2).unwrap(), |t| t.leaky_relu(0.2)),
        (Rectifier::leaky(0.0).unwrap(), |t| t.leaky_relu(0.0)),
    ]
}

/// Parameters drawn from `rng`, with a few exact zeros in the first.
fn parameters(rng: &mut TensorRng, shapes: &[&[usize]]) -> Vec<Tensor> {
    shapes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut a: ArrayD<f32> = rng.normal_array(s, 0.0, 1.0).unwrap();
            if i == 0 {
                a.iter_mut().step_by(7).for_each(|v| *v = 0.0);
            }
            Tensor::parameter(a)
        })
        .collect()
}

fn bits(a: &ArrayD<f32>) -> Vec<u32> {
    a.iter().map(|v| v.to_bits()).collect()
}

/// `fused(inputs)` and `unfused(inputs)` have the same value and the same gradient for every
/// input, bit for bit, with a random output gradient.
fn same_bits(
    inputs: &[Tensor],
    fused: &dyn Fn(&[Tensor]) -> Tensor,
    unfused: &dyn Fn(&[Tensor]) -> Tensor,
    what: &str,
) {
    let (a, b) = (fused(inputs), unfused(inputs));
    assert_eq!(bits(&a.value().to_owned()), bits(&b.value().to_owned()), "{what}: values");
    let negative = a.value().iter().filter(|&&v| v <= 0.0).count();
    assert!(negative > 0 && negative < a.len(), "{what}: the outputs lie on both sides of the kink");
    let g = TensorRng::seed_from_u64(9).normal_array(a.shape(), 0.0, 1.0).unwrap();
    let (ga, gb) = (a.backward_with(g.clone()).unwrap(), b.backward_with(g).unwrap());
    for (i, t) in inputs.iter().enumerate() {
        assert_eq!(bits(ga.get_array(t).unwrap()), bits(gb.get_array(t).unwrap()), "{what}: the gradient of input {i}");
    }
}

fn at_threads(threads: usize, f: impl FnOnce() + Send) {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f);
}

#[test]
fn rectified_convolutions_are_the_convolution_then_the_rectifier() {
    let mut rng = TensorRng::seed_from_u64(3);
    let spec = ConvOptions::new(2, 1);
    // (n, c_in, c_out, side, kernel): Winograd, shallow, im2col paths.
    for (n, ci, co, side, k) in [(9, 16, 32, 14, 4), (5, 32, 16, 7, 4), (4, 1, 8, 28, 4), (2, 3, 5, 9, 3)] {
        let conv = parameters(&mut rng, &[&[n, ci, side, side], &[co, ci, k, k], &[co]]);
        let transposed = parameters(&mut rng, &[&[n, ci, side, side], &[ci, co, k, k], &[co]]);
        for (r, unfused) in rectifiers() {
            let what = format!("{n}x{ci}->{co} at {side}, kernel {k}, {r:?}");
            for threads in [1, 2] {
                at_threads(threads, || {
                    same_bits(
                        &conv,
                        &|t| t[0].conv2d_rectified(&t[1], Some(&t[2]), spec, Some(r)).unwrap(),
                        &|t| unfused(&t[0].conv2d(&t[1], Some(&t[2]), spec).unwrap()),
                        &format!("conv2d {what}"),
                    );
                    same_bits(
                        &transposed,
                        &|t| t[0].conv_transpose2d_rectified(&t[1], Some(&t[2]), spec, Some(r)).unwrap(),
                        &|t| unfused(&t[0].conv_transpose2d(&t[1], Some(&t[2]), spec).unwrap()),
                        &format!("conv_transpose2d {what}"),
                    );
                });
            }
        }
    }
}

#[test]
fn rectified_linear_and_batch_norm_are_the_op_then_the_rectifier() {
    let mut rng = TensorRng::seed_from_u64(4);
    let linear = parameters(&mut rng, &[&[300, 64], &[200, 64], &[200]]);
    let norm = parameters(&mut rng, &[&[16, 12, 9, 9], &[12], &[12]]);
    for (r, unfused) in rectifiers() {
        for threads in [1, 2] {
            at_threads(threads, || {
                same_bits(
                    &linear,
                    &|t| t[0].linear_rectified(&t[1], Some(&t[2]), Some(r)).unwrap(),
                    &|t| unfused(&t[0].linear(&t[1], Some(&t[2])).unwrap()),
                    &format!("linear {r:?}"),
                );
                same_bits(
                    &norm,
                    &|t| t[0].batch_norm_rectified(Some(&t[1]), Some(&t[2]), 1e-5, Some(r)).unwrap().0,
                    &|t| unfused(&t[0].batch_norm(Some(&t[1]), Some(&t[2]), 1e-5).unwrap().0),
                    &format!("batch_norm {r:?}"),
                );
            });
        }
    }
}
