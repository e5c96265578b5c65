//! The documented semantics of the tensor API: gradient accumulation, repeated backward,
//! detach, no-grad, numerical stability at extreme inputs, and typed errors on bad shapes.

use approx::assert_abs_diff_eq;
use latent_tensor::{ConvOptions, Pool2dOptions, Tensor, TensorError, no_grad};
use ndarray::{Array, ArrayD, IxDyn, array};

fn param(v: &[f32]) -> Tensor {
    Tensor::parameter(ndarray::Array1::from(v.to_vec()))
}

#[test]
fn a_tensor_used_twice_gets_the_sum_of_both_gradients() {
    let x = param(&[1.0, 2.0, 3.0]);
    // y = Σ (x·x + 3x): dy/dx = 2x + 3.
    let y = x.mul(&x).unwrap().add(&x.mul_scalar(3.0)).unwrap().sum_all();
    let g = y.backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), [5.0, 7.0, 9.0]);
}

#[test]
fn backward_twice_gives_the_same_fresh_gradients() {
    let x = param(&[0.5, -1.0]);
    let y = x.exp().sum_all();
    let first = y.backward().unwrap();
    let second = y.backward().unwrap();
    assert_eq!(first.get_array(&x), second.get_array(&x));
    let mut total = first.clone();
    total.accumulate(second);
    assert_abs_diff_eq!(total.get_array(&x).unwrap()[0], 2.0 * 0.5f32.exp(), epsilon = 1e-6);
}

#[test]
fn only_leaves_appear_in_the_gradients() {
    let x = param(&[1.0, 2.0]);
    let h = x.mul_scalar(2.0);
    let y = h.sum_all();
    let g = y.backward().unwrap();
    assert_eq!(g.len(), 1);
    assert!(g.get(&h).is_none());
    assert!(g.get(&x).is_some());
}

#[test]
fn backward_for_gives_only_the_wanted_gradients_bit_for_bit() {
    // A GAN's generator step in miniature: g (generator weight) feeds a convolution with d
    // (discriminator weight), whose gradient the step does not want.
    let mut rng = latent_tensor::TensorRng::seed_from_u64(3);
    let g = rng.randn(&[2, 3, 4, 4]).to_leaf();
    let d = rng.randn(&[5, 3, 3, 3]).to_leaf();
    let other = rng.randn(&[2, 5, 2, 2]).to_leaf();
    let fake = g.tanh();
    let logits = fake.conv2d(&d, None, ConvOptions::new(2, 1)).unwrap().leaky_relu(0.2);
    let loss = logits.mul(&other).unwrap().sum_all();
    let all = loss.backward().unwrap();
    let only_g = loss.backward_for(&[&g]).unwrap();
    assert_eq!(only_g.len(), 1);
    assert!(only_g.get(&d).is_none() && only_g.get(&other).is_none());
    let bits = |a: &ArrayD<f32>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(only_g.get_array(&g).unwrap()), bits(all.get_array(&g).unwrap()));
    // Several wanted leaves, one not in the graph at all.
    let stray = param(&[1.0]);
    let some = loss.backward_for(&[&d, &other, &stray]).unwrap();
    assert_eq!(some.len(), 2);
    assert_eq!(bits(some.get_array(&d).unwrap()), bits(all.get_array(&d).unwrap()));
    assert_eq!(bits(some.get_array(&other).unwrap()), bits(all.get_array(&other).unwrap()));
    assert!(loss.backward_for(&[&stray]).unwrap().is_empty());
    assert!(logits.backward_for(&[&g]).is_err(), "not a scalar");
}

#[test]
fn detach_stops_the_gradient_and_shares_the_value() {
    let x = param(&[2.0]);
    let d = x.detach();
    assert!(!d.requires_grad());
    assert_eq!(d.value().as_ptr(), x.value().as_ptr(), "detach must not copy");
    let y = x.mul(&d).unwrap().sum_all();
    assert_eq!(y.backward().unwrap().get(&x).unwrap().to_vec(), [2.0]);
}

#[test]
fn no_grad_records_nothing_and_nests() {
    let x = param(&[1.0, 2.0]);
    {
        let _outer = no_grad();
        {
            let _inner = no_grad();
            assert!(!x.exp().requires_grad());
        }
        assert!(!x.exp().requires_grad());
    }
    assert!(x.exp().requires_grad());
    // Constants never record either.
    assert!(!Tensor::ones(&[2]).exp().requires_grad());
}

#[test]
fn backward_of_a_constant_is_empty_and_of_a_vector_is_an_error() {
    assert!(Tensor::scalar(1.0).backward().unwrap().is_empty());
    let err = param(&[1.0, 2.0]).exp().backward().unwrap_err();
    assert!(matches!(err, TensorError::NotScalar { .. }), "{err}");
}

#[test]
fn stable_functions_do_not_overflow_at_plus_minus_100() {
    let x = param(&[-100.0, 100.0]);
    let s = x.sigmoid();
    assert_eq!(s.to_vec(), vec![(-100.0f32).exp(), 1.0]);
    let sp = x.softplus();
    assert!(sp.to_vec().iter().all(|v| v.is_finite()));
    assert_abs_diff_eq!(sp.to_vec()[1], 100.0, epsilon = 1e-4);
    let row = Tensor::parameter(array![[-100.0f32, 0.0, 100.0]]);
    let lse = row.logsumexp(1, false).unwrap();
    assert_abs_diff_eq!(lse.item().unwrap(), 100.0, epsilon = 1e-4);
    let ls = row.log_softmax(1).unwrap();
    assert!(ls.to_vec().iter().all(|v| v.is_finite()), "{:?}", ls.to_vec());
    let sm = row.softmax(1).unwrap();
    assert_abs_diff_eq!(sm.to_vec().iter().sum::<f32>(), 1.0, epsilon = 1e-6);
    for t in [s.sum_all(), sp.sum_all(), lse, ls.sum_all()] {
        let g = t.backward().unwrap();
        let gx = g.get_array(&x).or_else(|| g.get_array(&row)).unwrap();
        assert!(gx.iter().all(|v| v.is_finite()), "{gx:?}");
    }
}

#[test]
fn logsumexp_of_all_minus_infinity_is_minus_infinity() {
    let x = Tensor::new(array![[f32::NEG_INFINITY, f32::NEG_INFINITY]]);
    assert_eq!(x.logsumexp(1, false).unwrap().to_vec(), vec![f32::NEG_INFINITY]);
}

#[test]
fn broadcasting_follows_numpy() {
    let a = Tensor::new(ArrayD::<f32>::ones(IxDyn(&[2, 1, 3])));
    let b = Tensor::new(ArrayD::<f32>::ones(IxDyn(&[4, 1])));
    assert_eq!(a.add(&b).unwrap().shape(), &[2, 4, 3]);
    let err = a.add(&Tensor::ones(&[2])).unwrap_err();
    assert!(err.to_string().contains("do not broadcast"), "{err}");
}

#[test]
fn shape_errors_are_typed_and_say_what_was_expected() {
    let m = Tensor::ones(&[2, 3]);
    let e = m.matmul(&Tensor::ones(&[2, 3])).unwrap_err();
    assert!(e.to_string().contains("inner sizes"), "{e}");
    let e = m.reshape(&[4]).unwrap_err();
    assert!(e.to_string().contains("same number of elements"), "{e}");
    let e = m.permute(&[0, 0]).unwrap_err();
    assert!(e.to_string().contains("not a permutation"), "{e}");
    let e = m.slice(1, 2, 5).unwrap_err();
    assert!(e.to_string().contains("does not fit"), "{e}");
    let e = m.gather_rows(&[0, 2]).unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
    let e = m.sum_axes(&[2], false).unwrap_err();
    assert!(e.to_string().contains("axis 2"), "{e}");
    let e = m.linear(&Tensor::ones(&[4, 2]), None).unwrap_err();
    assert!(e.to_string().contains("weight [out, in]"), "{e}");
    let x = Tensor::ones(&[1, 1, 2, 2]);
    let e = x.conv2d(&Tensor::ones(&[1, 1, 3, 3]), None, ConvOptions::new(1, 0)).unwrap_err();
    assert!(e.to_string().contains("does not fit"), "{e}");
    let e = x.conv2d(&Tensor::ones(&[3, 1, 1, 1]), Some(&Tensor::ones(&[2])), ConvOptions::new(1, 0)).unwrap_err();
    assert!(e.to_string().contains("need bias [3]"), "{e}");
    let e = x.conv_transpose2d(&Tensor::ones(&[1, 3, 1, 1]), Some(&Tensor::ones(&[1, 3])), ConvOptions::new(1, 0));
    assert!(e.unwrap_err().to_string().contains("need bias [3]"));
    let e = x.max_pool2d(Pool2dOptions::new(3, 1)).unwrap_err();
    assert!(e.to_string().contains("does not fit"), "{e}");
    assert!(Tensor::from_vec(&[2, 2], vec![1.0; 3]).is_err());
}

#[test]
fn a_convolution_bias_is_added_per_channel_and_its_gradient_is_the_channel_sum() {
    let x = Tensor::parameter(Array::from_shape_vec((2, 1, 2, 2), (0..8).map(|v| v as f32).collect()).unwrap());
    let w = Tensor::parameter(Array::from_shape_vec((2, 1, 1, 1), vec![1.0, -1.0]).unwrap());
    let b = Tensor::parameter(array![10.0f32, 20.0]);
    let y = x.conv2d(&w, Some(&b), ConvOptions::new(1, 0)).unwrap();
    // Channel 0 is x + 10, channel 1 is 20 - x, for each image.
    let want: Vec<f32> = [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
        .chunks(4)
        .flat_map(|img| img.iter().map(|v| v + 10.0).chain(img.iter().map(|v| 20.0 - v)).collect::<Vec<_>>())
        .collect();
    assert_eq!(y.to_vec(), want);
    // Weighting channel 1 by 3: the bias gradient counts each channel's 8 positions.
    let scale = Tensor::from_vec(&[1, 2, 1, 1], vec![1.0, 3.0]).unwrap();
    let grads = y.mul(&scale).unwrap().sum_all().backward().unwrap();
    assert_eq!(grads.get(&b).unwrap().to_vec(), [8.0, 24.0]);
    let t = x.conv_transpose2d(&w.reshape(&[1, 2, 1, 1]).unwrap(), Some(&b), ConvOptions::new(1, 0)).unwrap();
    assert_eq!(t.to_vec(), want);
}

#[test]
fn gradients_computed_in_place_match_their_definitions() {
    // A reshape whose output gradient arrives transposed (from the permute after it), then
    // activations whose backward rules scale the gradient they are handed in place.
    let x = Tensor::parameter(Array::from_shape_vec(IxDyn(&[2, 3]), vec![-1.0, 0.5, 2.0, -0.25, 1.5, 0.0]).unwrap());
    let c = Tensor::new(Array::from_shape_vec(IxDyn(&[2, 3]), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap());
    let z = x.reshape(&[3, 2]).unwrap().permute(&[1, 0]).unwrap();
    let loss = z.mul(&c).unwrap().sum_all();
    let g = loss.backward().unwrap();
    // z[i][j] = x_flat[2j + i], so d loss / d x_flat[2j + i] = c[i][j].
    assert_eq!(g.get(&x).unwrap().to_vec(), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);

    // Sums and differences with one input that needs a gradient hand the output's gradient to
    // it (negated for a subtrahend), unless it was broadcast, when it is summed as usual.
    let (b, c3) = (param(&[1.0, 2.0, 3.0]), Tensor::new(Array::from_elem(IxDyn(&[3]), 2.0)));
    let loss = c.sub(&x).unwrap().mul(&c).unwrap().add(&c3).unwrap().sum_all();
    assert_eq!(loss.backward().unwrap().get(&x).unwrap().to_vec(), [-1.0, -2.0, -3.0, -4.0, -5.0, -6.0]);
    let loss = c.add(&b).unwrap().mul(&c).unwrap().sum_all();
    assert_eq!(loss.backward().unwrap().get(&b).unwrap().to_vec(), [5.0, 7.0, 9.0]);

    let y = x.relu().mul_scalar(3.0).sigmoid().sum_all();
    let g = y.backward().unwrap().get(&x).unwrap().to_vec();
    let xs = x.to_vec();
    for (gi, xi) in g.iter().zip(xs) {
        let s = 1.0 / (1.0 + (-3.0 * xi.max(0.0)).exp());
        let want = if xi > 0.0 { 3.0 * s * (1.0 - s) } else { 0.0 };
        assert_abs_diff_eq!(*gi, want, epsilon = 1e-6);
    }
}

#[test]
fn views_share_data() {
    let m = Tensor::new(array![[1.0f32, 2.0], [3.0, 4.0]]);
    let t = m.t().unwrap();
    assert_eq!(t.value().as_ptr(), m.value().as_ptr());
    assert_eq!(t.to_vec(), vec![1.0, 3.0, 2.0, 4.0]);
    let r = m.reshape(&[4]).unwrap();
    assert_eq!(r.value().as_ptr(), m.value().as_ptr());
    // A transposed view reshapes by copying, in row-major order of the view.
    assert_eq!(t.reshape(&[4]).unwrap().to_vec(), vec![1.0, 3.0, 2.0, 4.0]);
}

#[test]
fn value_mut_copies_on_write_when_a_graph_still_holds_the_value() {
    let mut w = param(&[1.0, 2.0]);
    let y = w.mul_scalar(2.0).sum_all();
    let before = w.value().clone();
    w.value_mut()[0] = 10.0;
    assert_eq!(before[0], 1.0, "the graph's view of w is unchanged");
    assert_eq!(w.to_vec(), vec![10.0, 2.0]);
    // The graph still differentiates with respect to the same identity.
    assert!(y.backward().unwrap().get(&w).is_some());
}

#[test]
fn max_gradient_goes_to_the_first_maximum() {
    let x = Tensor::parameter(array![[1.0f32, 3.0, 3.0], [5.0, 0.0, 1.0]]);
    let m = x.max_axis(1, false).unwrap();
    assert_eq!(m.to_vec(), vec![3.0, 5.0]);
    let g = m.sum_all().backward().unwrap();
    assert_eq!(g.get_array(&x).unwrap(), &array![[0.0f32, 1.0, 0.0], [1.0, 0.0, 0.0]].into_dyn());
}
