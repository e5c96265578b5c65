//! 2-D latent codes as a scatter PNG coloured by digit label: [`ScatterPlot`].
//!
//! For an autoencoder or VAE with a 2-D latent space: one dot per code, coloured by its label
//! 0–9 from ten distinguishable colours, with a legend (a dot and the digit) right of the plot,
//! auto-ranged axes with ticks, and a title. Thousands of points are drawn small and slightly
//! transparent so that dense regions stay readable. Codes with a NaN or infinite coordinate are
//! not drawn; how many were left out is written under the plot.

use std::path::Path;

use ndarray::{ArrayBase, Data, Dimension};

use crate::axes::{self, Axis};
use crate::canvas::{Canvas, Font, INK, PALETTE, Rect, WHITE};
use crate::error::VizError;

/// A scatter plot of `[N, 2]` codes, optionally coloured by labels 0–9.
///
/// ```
/// use latent_viz::scatter::ScatterPlot;
/// let codes = ndarray::arr2(&[[0.0f32, 1.0], [1.0, -0.5], [-2.0, 0.3]]);
/// let image = ScatterPlot::new("latent space").render(&codes, Some(&[3, 1, 4])).unwrap();
/// assert_eq!((image.width(), image.height()), (600, 520));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPlot {
    title: String,
    x_label: String,
    y_label: String,
    width: u32,
    height: u32,
    radius: Option<f64>,
}

/// Labels are digits: `0..CLASSES`.
pub const CLASSES: usize = 10;

impl ScatterPlot {
    /// The smallest plot that [`ScatterPlot::render`] accepts.
    pub const MIN_SIZE: (u32, u32) = (240, 200);

    /// A 600 × 520 plot with `title` (may be empty) and axes labelled `z1` and `z2`.
    pub fn new(title: impl Into<String>) -> Self {
        ScatterPlot {
            title: title.into(),
            x_label: "z1".into(),
            y_label: "z2".into(),
            width: 600,
            height: 520,
            radius: None,
        }
    }

    /// Sets the label under the x axis.
    pub fn x_label(mut self, label: impl Into<String>) -> Self {
        self.x_label = label.into();
        self
    }

    /// Sets the label beside the y axis.
    pub fn y_label(mut self, label: impl Into<String>) -> Self {
        self.y_label = label.into();
        self
    }

    /// Sets the size of the image in pixels (at least [`ScatterPlot::MIN_SIZE`]).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// Sets the dot radius in pixels (default: 3 for up to 500 points, 2 up to 5000, else 1.5).
    pub fn point_radius(mut self, radius: f64) -> Self {
        self.radius = Some(radius);
        self
    }

    /// Draws `codes` (`[N, 2]`), coloured by `labels` (one per code, each 0–9) if given.
    ///
    /// # Errors
    /// [`VizError::Shape`] if `codes` is not `[N, 2]` or `labels` has not `N` entries;
    /// [`VizError::InvalidInput`] for a label above 9, a size below
    /// [`ScatterPlot::MIN_SIZE`] or a radius that is not in `0.5 ..= 20`.
    pub fn render<S, D>(&self, codes: &ArrayBase<S, D>, labels: Option<&[u8]>) -> Result<Canvas, VizError>
    where
        S: Data<Elem = f32>,
        D: Dimension,
    {
        let shape = codes.shape();
        let &[n, 2] = shape else {
            return Err(VizError::Shape {
                what: "latent codes",
                expected: "[N, 2]".into(),
                found: format!("{shape:?}"),
            });
        };
        if let Some(labels) = labels {
            if labels.len() != n {
                return Err(VizError::Shape {
                    what: "labels",
                    expected: format!("{n} labels, one per code"),
                    found: format!("{}", labels.len()),
                });
            }
            if let Some((i, &l)) = labels.iter().enumerate().find(|&(_, &l)| usize::from(l) >= CLASSES) {
                return Err(VizError::invalid(
                    "labels",
                    format!("label {l} at index {i} is outside 0..={}", CLASSES - 1),
                ));
            }
        }
        let (min_w, min_h) = Self::MIN_SIZE;
        if self.width < min_w || self.height < min_h {
            return Err(VizError::invalid(
                "scatter plot size",
                format!("{} x {} is below the minimum {min_w} x {min_h}", self.width, self.height),
            ));
        }
        let radius = self.radius.unwrap_or(match n {
            0..=500 => 3.0,
            501..=5000 => 2.0,
            _ => 1.5,
        });
        if !(0.5..=20.0).contains(&radius) {
            return Err(VizError::invalid("point radius", format!("0.5 ..= 20 pixels expected, found {radius}")));
        }
        let alpha = if n <= 1000 { 0.9 } else { 0.6 };

        let points: Vec<(usize, f64, f64)> = codes
            .rows()
            .into_iter()
            .enumerate()
            .map(|(i, r)| (i, f64::from(r[0]), f64::from(r[1])))
            .filter(|&(_, x, y)| x.is_finite() && y.is_finite())
            .collect();
        let skipped = n - points.len();
        let range = |pick: fn(&(usize, f64, f64)) -> f64| {
            points.iter().map(pick).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
        };
        let ((x_min, x_max), (y_min, y_max)) =
            if points.is_empty() { ((0.0, 1.0), (0.0, 1.0)) } else { (range(|p| p.1), range(|p| p.2)) };

        let (width, height) = (i64::from(self.width), i64::from(self.height));
        let top = if self.title.is_empty() { 14 } else { 14 + Font::Title.height() + 10 };
        let bottom = height - axes::bottom_margin(&self.x_label);
        let y_axis = Axis::fit(y_min, y_max, 0.04, false, false, (((bottom - top) / 50) as usize).max(3));
        let left = axes::left_margin(&y_axis, &self.y_label);
        let legend_w = if labels.is_some() { 14 + Font::Text.width("digit") + 10 } else { 0 };
        let plot = Rect { x0: left, y0: top, x1: width - 16 - legend_w, y1: bottom };
        let x_axis = axes::fit_x(x_min, x_max, 0.04, false, plot.width());

        let mut c = Canvas::new(self.width, self.height, WHITE)?;
        axes::draw_grid(&mut c, plot, &x_axis, &y_axis);
        for &(i, x, y) in &points {
            let colour = labels.map_or(PALETTE[0], |l| PALETTE[usize::from(l[i])]);
            c.disc(axes::px(plot, &x_axis, x), axes::py(plot, &y_axis, y), radius, colour, alpha, plot);
        }
        if points.is_empty() {
            c.text_centered(
                (plot.x0 + plot.x1) / 2,
                (plot.y0 + plot.y1) / 2 - 8,
                "no finite codes to plot",
                Font::Text,
                INK,
            );
        }
        axes::draw_frame(&mut c, plot, &x_axis, &y_axis, &self.x_label, &self.y_label);
        if !self.title.is_empty() {
            c.text_centered(width / 2, 10, &self.title, Font::Title, INK);
        }
        if skipped > 0 {
            let note = format!("{skipped} non-finite not shown");
            c.text(width - 8 - Font::Text.width(&note), height - 6 - Font::Text.height(), &note, Font::Text, INK);
        }
        if labels.is_some() {
            let x = plot.x1 + 14;
            let row = 22;
            c.text(x, plot.y0, "digit", Font::Text, INK);
            for (digit, colour) in PALETTE.iter().enumerate() {
                let y = plot.y0 + 26 + row * digit as i64;
                let mid = (y + Font::Text.height() / 2) as f64;
                c.disc((x + 6) as f64, mid, 5.0, *colour, 1.0, Rect::new(0, 0, width, height));
                c.text(x + 18, y, &digit.to_string(), Font::Text, INK);
            }
        }
        Ok(c)
    }

    /// Draws the plot and writes it to `path` as a PNG, atomically.
    ///
    /// # Errors
    /// As [`ScatterPlot::render`] and [`Canvas::write_png`].
    pub fn write_png<S, D>(
        &self,
        path: impl AsRef<Path>,
        codes: &ArrayBase<S, D>,
        labels: Option<&[u8]>,
    ) -> Result<(), VizError>
    where
        S: Data<Elem = f32>,
        D: Dimension,
    {
        self.render(codes, labels)?.write_png(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canvas::tests::decode;
    use ndarray::{Array2, arr2};

    fn blobs(n: usize) -> (Array2<f32>, Vec<u8>) {
        let labels: Vec<u8> = (0..n).map(|i| (i * 7 % 10) as u8).collect();
        let codes = Array2::from_shape_fn((n, 2), |(i, k)| {
            let l = labels[i] as f32;
            let angle = l * 0.628;
            let jitter = ((i * 7919 + k * 104_729) % 1000) as f32 / 1000.0 - 0.5;
            if k == 0 { 3.0 * angle.cos() + jitter } else { 3.0 * angle.sin() + jitter }
        });
        (codes, labels)
    }

    #[test]
    fn thousands_of_labelled_points_write_a_png() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let p = dir.join("latent.png");
        let (codes, labels) = blobs(5000);
        ScatterPlot::new("latent").write_png(&p, &codes, Some(&labels)).unwrap();
        let (w, h, ct, _) = decode(&std::fs::read(&p).unwrap());
        assert_eq!((w, h, ct), (600, 520, png::ColorType::Rgb));
    }

    #[test]
    fn labels_out_of_range_are_an_error() {
        let codes = arr2(&[[0.0f32, 0.0], [1.0, 1.0]]);
        let err = ScatterPlot::new("").render(&codes, Some(&[3, 10])).unwrap_err();
        assert!(matches!(err, VizError::InvalidInput { .. }));
        assert!(err.to_string().contains("label 10 at index 1"), "{err}");
    }

    #[test]
    fn shapes_are_checked() {
        let p = ScatterPlot::new("");
        assert!(matches!(p.render(&Array2::<f32>::zeros((4, 3)), None), Err(VizError::Shape { .. })));
        assert!(matches!(p.render(&Array2::<f32>::zeros((4, 2)), Some(&[1, 2])), Err(VizError::Shape { .. })));
        assert!(matches!(p.render(&ndarray::Array1::<f32>::zeros(4), None), Err(VizError::Shape { .. })));
        assert!(p.clone().size(10, 10).render(&Array2::<f32>::zeros((4, 2)), None).is_err());
        assert!(p.clone().point_radius(f64::NAN).render(&Array2::<f32>::zeros((4, 2)), None).is_err());
    }

    #[test]
    fn degenerate_inputs_render() {
        let p = ScatterPlot::new("");
        assert!(p.render(&Array2::<f32>::zeros((0, 2)), Some(&[])).is_ok());
        assert!(p.render(&Array2::<f32>::zeros((1, 2)), None).is_ok());
        let c = p.render(&arr2(&[[f32::NAN, 0.0], [1.0, f32::INFINITY], [2.0, 2.0]]), Some(&[0, 1, 2])).unwrap();
        assert!(c.as_rgb().chunks_exact(3).any(|px| px == PALETTE[2]));
    }

    #[test]
    fn extreme_codes_do_not_panic() {
        let codes = arr2(&[[f32::MAX, f32::MIN], [f32::MIN, f32::MAX], [1e-45, 0.0]]);
        assert!(ScatterPlot::new("").render(&codes, Some(&[0, 1, 2])).is_ok());
    }

    #[test]
    fn unlabelled_codes_have_no_legend() {
        let (codes, _) = blobs(50);
        let plain = ScatterPlot::new("").render(&codes, None).unwrap();
        assert!(!plain.as_rgb().chunks_exact(3).any(|px| px == PALETTE[9]));
    }
}
