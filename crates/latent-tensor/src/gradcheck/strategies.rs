//! Proptest strategies for gradient checks: random shapes (size-1 axes included), broadcastable
//! pairs of shapes, and values kept away from an op's kinks.

use ndarray::{ArrayD, IxDyn};
use proptest::collection::vec;
use proptest::prelude::*;

/// A shape with `ranks` axes, each of size `1..=max_dim`.
pub fn shape(ranks: std::ops::RangeInclusive<usize>, max_dim: usize) -> BoxedStrategy<Vec<usize>> {
    ranks.prop_flat_map(move |r| vec(1..=max_dim, r)).boxed()
}

/// An array of `shape` with values uniform in `[lo, hi)`.
pub fn array(shape: Vec<usize>, lo: f32, hi: f32) -> BoxedStrategy<ArrayD<f32>> {
    let n: usize = shape.iter().product();
    vec(lo..hi, n).prop_map(move |v| ArrayD::from_shape_vec(IxDyn(&shape), v).expect("size matches")).boxed()
}

/// `array` with every value at least `margin` away from each of `kinks`.
pub fn array_away_from(
    shape: Vec<usize>,
    lo: f32,
    hi: f32,
    kinks: &'static [f32],
    margin: f32,
) -> BoxedStrategy<ArrayD<f32>> {
    array(shape, lo, hi).prop_map(move |a| a.mapv(|v| away_from(v, kinks, margin))).boxed()
}

/// `v` moved to the near side of `k ± margin` for any kink `k` closer than `margin`.
pub fn away_from(mut v: f32, kinks: &[f32], margin: f32) -> f32 {
    for &k in kinks {
        if (v - k).abs() < margin {
            v = if v >= k { k + margin } else { k - margin };
        }
    }
    v
}

/// An array of `shape` whose values are all distinct, at least `gap` apart (for max and pooling,
/// where ties would make the gradient ill-defined).
pub fn distinct_array(shape: Vec<usize>, gap: f32) -> BoxedStrategy<ArrayD<f32>> {
    let n: usize = shape.iter().product();
    Just((0..n).collect::<Vec<usize>>())
        .prop_shuffle()
        .prop_map(move |perm| {
            let centre = n as f32 / 2.0;
            let values = perm.into_iter().map(|p| (p as f32 - centre) * gap).collect();
            ArrayD::from_shape_vec(IxDyn(&shape), values).expect("size matches")
        })
        .boxed()
}

/// Two shapes that broadcast against each other: some axes of one are 1 or missing.
pub fn broadcast_pair() -> BoxedStrategy<(Vec<usize>, Vec<usize>)> {
    (shape(1..=4, 4), any::<u8>(), any::<bool>())
        .prop_flat_map(|(full, ones_mask, swap)| {
            let rank = full.len();
            (Just(full), Just(ones_mask), Just(swap), 0..rank)
        })
        .prop_map(|(full, ones_mask, swap, drop)| {
            let other: Vec<usize> = full
                .iter()
                .enumerate()
                .skip(drop)
                .map(|(i, &d)| if ones_mask & (1 << i) != 0 { 1 } else { d })
                .collect();
            if swap { (other, full) } else { (full, other) }
        })
        .boxed()
}

/// Two arrays of broadcastable shapes, values in `[lo, hi)`.
pub fn broadcast_arrays(lo: f32, hi: f32) -> BoxedStrategy<Vec<ArrayD<f32>>> {
    broadcast_pair()
        .prop_flat_map(move |(a, b)| (array(a, lo, hi), array(b, lo, hi)).prop_map(|(a, b)| vec![a, b]))
        .boxed()
}
