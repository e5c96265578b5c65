//! The training examples nearest to a query, by the mean squared difference per value in model
//! space (pixels in [0, 1], real values standardised): what shows whether a decoded image is new
//! or a copy of one the model learnt from.
//!
//! Pixels are compared with the stored bytes directly, so the search needs no second copy of the
//! training set; one query against 60,000 MNIST digits reads 47 million bytes once.

use latent_data::Dataset;
use ndarray::Array2;

/// The `k` nearest rows to `query` (`(index, mean squared difference)`, nearest first; ties by
/// index) among the examples of `train`, or among `reals` when given (the training set of
/// real-valued data in model space).
pub fn nearest(train: &Dataset, reals: Option<&Array2<f32>>, query: &[f32], k: usize) -> Vec<(usize, f32)> {
    let width = query.len().max(1);
    let mut distances: Vec<(usize, f32)> = match (reals, train.pixel_bytes()) {
        (Some(rows), _) => rows
            .rows()
            .into_iter()
            .enumerate()
            .map(|(i, row)| (i, row.iter().zip(query).map(|(a, b)| (a - b) * (a - b)).sum::<f32>() / width as f32))
            .collect(),
        (None, Some(bytes)) => bytes
            .chunks_exact(width)
            .enumerate()
            .map(|(i, row)| {
                let sum: f32 = row
                    .iter()
                    .zip(query)
                    .map(|(&b, q)| {
                        let d = f32::from(b) * (1.0 / 255.0) - q;
                        d * d
                    })
                    .sum();
                (i, sum / width as f32)
            })
            .collect(),
        (None, None) => Vec::new(),
    };
    let by_distance = |a: &(usize, f32), b: &(usize, f32)| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0));
    let k = k.min(distances.len());
    if k == 0 {
        return Vec::new();
    }
    if k < distances.len() {
        distances.select_nth_unstable_by(k - 1, by_distance);
        distances.truncate(k);
    }
    distances.sort_by(by_distance);
    distances
}

#[cfg(test)]
mod tests {
    use super::*;
    use latent_data::SampleShape;
    use ndarray::array;

    #[test]
    fn the_nearest_pixels_come_first_ties_by_index() {
        let train =
            Dataset::from_pixels(vec![0, 0, 255, 255, 0, 0, 255, 0], vec![0; 4], SampleShape::image(1, 1, 2)).unwrap();
        let found = nearest(&train, None, &[0.0, 0.0], 3);
        assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), [0, 2, 3]);
        assert_eq!(found[0].1, 0.0);
        assert!((found[2].1 - 0.5).abs() < 1e-6);
        assert_eq!(nearest(&train, None, &[1.0, 1.0], 10).len(), 4);
    }

    #[test]
    fn real_rows_are_searched_in_model_space() {
        let train = Dataset::from_reals(vec![0.0; 6], vec![0; 3], SampleShape::Features { features: 2 }).unwrap();
        let reals = array![[5.0f32, 5.0], [1.0, 0.0], [0.0, 0.5]];
        let found = nearest(&train, Some(&reals), &[0.0, 0.0], 2);
        assert_eq!(found, vec![(2, 0.125), (1, 0.5)]);
    }
}
