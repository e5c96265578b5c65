//! The plane of the latent map: how a code becomes a point on the page and a point a code.
//!
//! Codes of two dimensions are the map itself. Wider codes are projected on the two principal
//! axes of the test codes (PCA: the eigenvectors of their covariance with the largest
//! eigenvalues, from [`latent_stats::linalg`]), and a point of the map decodes as the mean code
//! moved along those axes. A model without an encoder (a GAN) has no codes to fit: its map is
//! the plane of its first two noise dimensions through the origin.

use latent_stats::StatsError;
use latent_stats::linalg::{Moments, symmetric_eigen};
use ndarray::Array2;
use serde::Serialize;

/// How the map's plane was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectionKind {
    /// The codes have at most two dimensions: the map shows them as they are.
    Identity,
    /// The two principal axes of the test codes.
    Pca,
    /// The first two dimensions of the prior (no codes to fit).
    Prior,
}

/// A plane through the latent space: `code = mean + x·axes[0] + y·axes[1]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Projection {
    /// How the plane was chosen.
    pub kind: ProjectionKind,
    /// The plane's origin, a code.
    pub mean: Vec<f32>,
    /// Two orthonormal directions (the second all zeros for one-dimensional codes).
    pub axes: [Vec<f32>; 2],
    /// The axes' names on the page: `z1`, `z2` or `PC1`, `PC2`.
    pub axis_names: [String; 2],
    /// For PCA, the fraction of the codes' variance along each axis.
    pub explained: Option<[f64; 2]>,
}

impl Projection {
    /// The plane of `dim`-dimensional codes without data: the first two dimensions through the
    /// origin.
    pub fn prior(dim: usize) -> Self {
        let mut p = Self::unit_axes(dim);
        p.kind = if dim <= 2 { ProjectionKind::Identity } else { ProjectionKind::Prior };
        p
    }

    /// The plane that shows `codes` (one per row) best: themselves for two dimensions or
    /// fewer, else their two principal axes.
    ///
    /// # Errors
    /// If the codes are not finite, or (wider than two) fewer than two of them.
    pub fn fit(codes: &Array2<f32>) -> Result<Self, StatsError> {
        let dim = codes.ncols();
        if dim <= 2 {
            return Ok(Self::unit_axes(dim));
        }
        let moments = Moments::of_rows(codes.view())?;
        let eigen = symmetric_eigen(moments.covariance.view(), "the covariance of the test codes")?;
        // Eigenvalues ascend: the last two are the principal axes.
        let total: f64 = eigen.values.iter().map(|v| v.max(0.0)).sum();
        let axis = |k: usize| eigen.vectors.column(dim - 1 - k).iter().map(|&v| v as f32).collect::<Vec<_>>();
        let share = |k: usize| if total > 0.0 { eigen.values[dim - 1 - k].max(0.0) / total } else { 0.0 };
        Ok(Self {
            kind: ProjectionKind::Pca,
            mean: moments.mean.iter().map(|&m| m as f32).collect(),
            axes: [axis(0), axis(1)],
            axis_names: ["PC1".into(), "PC2".into()],
            explained: Some([share(0), share(1)]),
        })
    }

    /// The identity plane of the first two dimensions.
    fn unit_axes(dim: usize) -> Self {
        let unit = |k: usize| (0..dim).map(|j| if j == k { 1.0 } else { 0.0 }).collect::<Vec<f32>>();
        Self {
            kind: ProjectionKind::Identity,
            mean: vec![0.0; dim],
            axes: [unit(0), unit(1)],
            axis_names: ["z1".into(), if dim >= 2 { "z2".into() } else { String::new() }],
            explained: None,
        }
    }

    /// The point of the map where `code` lands (its offset from the mean along each axis).
    pub fn project(&self, code: &[f32]) -> [f32; 2] {
        let along = |axis: &[f32]| code.iter().zip(&self.mean).zip(axis).map(|((c, m), a)| (c - m) * a).sum::<f32>();
        [along(&self.axes[0]), along(&self.axes[1])]
    }

    /// The code at point `p` of the map.
    pub fn unproject(&self, p: [f32; 2]) -> Vec<f32> {
        self.mean.iter().zip(&self.axes[0]).zip(&self.axes[1]).map(|((m, a), b)| m + p[0] * a + p[1] * b).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn two_dimensional_codes_are_their_own_map() {
        let p = Projection::fit(&array![[1.0f32, 2.0], [3.0, -1.0]]).unwrap();
        assert_eq!(p.kind, ProjectionKind::Identity);
        assert_eq!(p.project(&[3.0, -1.0]), [3.0, -1.0]);
        assert_eq!(p.unproject([0.5, 0.25]), vec![0.5, 0.25]);
    }

    #[test]
    fn wider_codes_project_on_their_principal_axes_and_back() {
        // Points spread along (1, 1, 0)/√2 a lot and, independently, along z3 a little, around
        // (1, 2, 3).
        let codes = array![
            [1.0f32 - 2.0, 2.0 - 2.0, 3.0 + 0.1],
            [1.0 + 2.0, 2.0 + 2.0, 3.0 + 0.1],
            [1.0 - 1.0, 2.0 - 1.0, 3.0 - 0.1],
            [1.0 + 1.0, 2.0 + 1.0, 3.0 - 0.1],
        ];
        let p = Projection::fit(&codes).unwrap();
        assert_eq!(p.kind, ProjectionKind::Pca);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((p.axes[0][0] - h).abs() < 1e-5 && (p.axes[0][1] - h).abs() < 1e-5, "{:?}", p.axes);
        assert!(p.axes[1][2].abs() > 0.99, "{:?}", p.axes);
        let explained = p.explained.unwrap();
        assert!(explained[0] > 0.99 && explained[1] < 0.01, "{explained:?}");
        assert_eq!(p.project(&p.mean.clone()), [0.0, 0.0]);
        let there = p.unproject([2.0, 0.0]);
        let back = p.project(&there);
        assert!((back[0] - 2.0).abs() < 1e-5 && back[1].abs() < 1e-5, "{back:?}");
    }

    #[test]
    fn a_model_without_codes_maps_its_first_two_noise_dimensions() {
        let p = Projection::prior(5);
        assert_eq!(p.kind, ProjectionKind::Prior);
        assert_eq!(p.unproject([1.0, -2.0]), vec![1.0, -2.0, 0.0, 0.0, 0.0]);
        let one = Projection::prior(1);
        assert_eq!(one.unproject([0.5, 9.0]), vec![0.5]);
        assert_eq!(one.project(&[0.5]), [0.5, 0.0]);
    }

    #[test]
    fn codes_that_are_not_numbers_are_refused() {
        assert!(Projection::fit(&array![[f32::NAN, 0.0, 1.0], [0.0, 1.0, 2.0]]).is_err());
    }
}
