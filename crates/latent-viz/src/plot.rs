//! Training curves as a line chart PNG (`loss.png`): [`LineChart`].
//!
//! Several named series of (x, y) points, e.g. epoch against train loss, test loss and KL, each
//! in its own colour, on auto-ranged axes with tick labels, a title, axis labels and a legend,
//! optionally with a log10 y axis. The legend goes in the corner of the plot that covers no
//! data; if every corner would cover some, it goes outside, right of the plot.
//!
//! Points that cannot be drawn (NaN or infinite coordinates, and y ≤ 0 on a log axis) are
//! skipped and break the line there, so a diverged run shows as a gap rather than a crash. A
//! single point is drawn as a dot; a constant series as a flat line in the middle of the plot.
//! With no drawable point at all the chart still renders, saying so.

use std::path::Path;

use crate::axes::{self, Axis};
use crate::canvas::{Canvas, Font, INK, PALETTE, Rect, Rgb, WHITE};
use crate::error::VizError;

/// A line chart of one or more named series; render with [`LineChart::render`] or write with
/// [`LineChart::write_png`].
///
/// ```
/// use latent_viz::plot::LineChart;
/// let chart = LineChart::new("VAE on MNIST")
///     .x_label("epoch")
///     .y_label("loss")
///     .series("train", [(1.0, 0.30), (2.0, 0.21), (3.0, 0.18)])
///     .series("test", [(1.0, 0.28), (2.0, 0.22), (3.0, 0.20)]);
/// let image = chart.render().unwrap();
/// assert_eq!((image.width(), image.height()), (640, 400));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    title: String,
    x_label: String,
    y_label: String,
    series: Vec<Series>,
    log_y: bool,
    width: u32,
    height: u32,
}

#[derive(Debug, Clone, PartialEq)]
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
}

/// Dots are drawn on every point of series with at most this many drawable points.
const MARKERS_UP_TO: usize = 60;
const LINE_WIDTH: f64 = 2.0;
const MARKER_RADIUS: f64 = 3.0;

impl LineChart {
    /// The smallest chart that [`LineChart::render`] accepts.
    pub const MIN_SIZE: (u32, u32) = (200, 150);

    /// An empty 640 × 400 chart with `title` (may be empty).
    pub fn new(title: impl Into<String>) -> Self {
        LineChart {
            title: title.into(),
            x_label: String::new(),
            y_label: String::new(),
            series: Vec::new(),
            log_y: false,
            width: 640,
            height: 400,
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

    /// Uses a log10 y axis (points with y ≤ 0 are then skipped).
    pub fn log_y(mut self, log: bool) -> Self {
        self.log_y = log;
        self
    }

    /// Sets the size of the image in pixels (at least [`LineChart::MIN_SIZE`]).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// Adds a series named `name` (shown in the legend) and returns the chart.
    pub fn series(mut self, name: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        self.add_series(name, points);
        self
    }

    /// Adds a series named `name` (shown in the legend).
    pub fn add_series(&mut self, name: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) {
        self.series.push(Series { name: name.into(), points: points.into_iter().collect() });
    }

    /// The names of the series added so far, in order (as the legend lists them).
    pub fn series_names(&self) -> Vec<String> {
        self.series.iter().map(|s| s.name.clone()).collect()
    }

    /// Renders the chart.
    ///
    /// # Errors
    /// [`VizError::InvalidInput`] if the size is below [`LineChart::MIN_SIZE`].
    pub fn render(&self) -> Result<Canvas, VizError> {
        let (min_w, min_h) = Self::MIN_SIZE;
        if self.width < min_w || self.height < min_h {
            return Err(VizError::invalid(
                "chart size",
                format!("{} x {} is below the minimum {min_w} x {min_h}", self.width, self.height),
            ));
        }
        let runs: Vec<Vec<Vec<(f64, f64)>>> =
            self.series.iter().map(|s| drawable_runs(&s.points, self.log_y)).collect();
        let all = runs.iter().flatten().flatten();
        let (mut x_min, mut x_max, mut y_min, mut y_max) =
            (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        let mut integer_x = true;
        for &(x, y) in all {
            let y = if self.log_y { y.log10() } else { y };
            (x_min, x_max, y_min, y_max) = (x_min.min(x), x_max.max(x), y_min.min(y), y_max.max(y));
            integer_x &= x.fract() == 0.0;
        }
        let has_data = x_min.is_finite();
        if !has_data {
            (x_min, x_max, y_min, y_max) =
                (0.0, 1.0, if self.log_y { -1.0 } else { 0.0 }, if self.log_y { 0.0 } else { 1.0 });
            integer_x = false;
        }

        let width = i64::from(self.width);
        let height = i64::from(self.height);
        let top = if self.title.is_empty() { 14 } else { 14 + Font::Title.height() + 10 };
        let bottom = height - axes::bottom_margin(&self.x_label);
        let plot_h = bottom - top;
        let y_axis = Axis::fit(y_min, y_max, 0.05, self.log_y, false, ((plot_h / 45) as usize).max(3));
        let left = axes::left_margin(&y_axis, &self.y_label);
        let legend = Legend::new(&self.series);

        // First try the legend inside the plot, in a corner free of data; else make room for it
        // right of the plot.
        let mut right = width - 18;
        let mut legend_at = None;
        for attempt in 0..2 {
            let plot = Rect { x0: left, y0: top, x1: right, y1: bottom };
            let x_axis = axes::fit_x(x_min, x_max, 0.03, integer_x, plot.width());
            let pixels: Vec<Vec<Vec<(f64, f64)>>> = runs
                .iter()
                .map(|s| {
                    s.iter()
                        .map(|run| {
                            run.iter().map(|&(x, y)| (axes::px(plot, &x_axis, x), axes::py(plot, &y_axis, y))).collect()
                        })
                        .collect()
                })
                .collect();
            if let Some(legend) = &legend {
                if attempt == 0 {
                    let free = legend.corners(plot).into_iter().find(|r| !covers(r, &pixels));
                    let outside_right = width - 14 - legend.width - 10;
                    match free {
                        Some(r) => legend_at = Some(r),
                        // Outside only if the plot keeps most of its width; else cover some data.
                        None if (outside_right - left) * 2 > width - left => {
                            right = outside_right;
                            continue;
                        }
                        None => legend_at = Some(legend.corners(plot)[0]),
                    }
                } else {
                    legend_at = Some(Rect::new(plot.x1 + 10, plot.y0, legend.width, legend.height));
                }
            }
            return self.draw(plot, &x_axis, &y_axis, &pixels, has_data, legend.as_ref().zip(legend_at));
        }
        unreachable!("the second attempt always returns")
    }

    /// Renders the chart and writes it to `path` as a PNG, atomically.
    ///
    /// # Errors
    /// As [`LineChart::render`] and [`Canvas::write_png`].
    pub fn write_png(&self, path: impl AsRef<Path>) -> Result<(), VizError> {
        self.render()?.write_png(path)
    }

    fn draw(
        &self,
        plot: Rect,
        x_axis: &Axis,
        y_axis: &Axis,
        pixels: &[Vec<Vec<(f64, f64)>>],
        has_data: bool,
        legend: Option<(&Legend, Rect)>,
    ) -> Result<Canvas, VizError> {
        let mut c = Canvas::new(self.width, self.height, WHITE)?;
        axes::draw_grid(&mut c, plot, x_axis, y_axis);
        for (i, runs) in pixels.iter().enumerate() {
            let colour = colour(i);
            let count: usize = runs.iter().map(Vec::len).sum();
            for run in runs {
                c.stroke(run, LINE_WIDTH, colour, plot);
                if count <= MARKERS_UP_TO || run.len() == 1 {
                    for &(x, y) in run {
                        c.disc(x, y, MARKER_RADIUS, colour, 1.0, plot);
                    }
                }
            }
        }
        if !has_data {
            let msg = if self.log_y { "no positive finite values to plot" } else { "no finite values to plot" };
            c.text_centered((plot.x0 + plot.x1) / 2, (plot.y0 + plot.y1) / 2 - 8, msg, Font::Text, INK);
        }
        axes::draw_frame(&mut c, plot, x_axis, y_axis, &self.x_label, &self.y_label);
        if !self.title.is_empty() {
            c.text_centered(i64::from(self.width) / 2, 10, &self.title, Font::Title, INK);
        }
        if let Some((legend, at)) = legend {
            legend.draw(&mut c, at);
        }
        Ok(c)
    }
}

fn colour(i: usize) -> Rgb {
    PALETTE[i % PALETTE.len()]
}

/// Splits `points` into runs of drawable points, breaking at points that cannot be drawn.
fn drawable_runs(points: &[(f64, f64)], log_y: bool) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut run = Vec::new();
    for &(x, y) in points {
        if x.is_finite() && y.is_finite() && (!log_y || y > 0.0) {
            run.push((x, y));
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// `name`, cut to `max` characters with "..." at the end if longer.
fn shorten(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_string()
    } else {
        name.chars().take(max.saturating_sub(3)).chain("...".chars()).collect()
    }
}

/// Whether any drawn line or dot (sampled every pixel along each segment) comes near `r`.
fn covers(r: &Rect, pixels: &[Vec<Vec<(f64, f64)>>]) -> bool {
    let near = Rect { x0: r.x0 - 5, y0: r.y0 - 5, x1: r.x1 + 5, y1: r.y1 + 5 };
    pixels.iter().flatten().any(|run| {
        run.iter().any(|&(x, y)| near.contains(x, y))
            || run.windows(2).any(|w| {
                let (a, b) = (w[0], w[1]);
                let steps = ((b.0 - a.0).hypot(b.1 - a.1).ceil() as usize).clamp(1, 10_000);
                (0..=steps).any(|k| {
                    let t = k as f64 / steps as f64;
                    near.contains(a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
                })
            })
    })
}

/// The legend box: a coloured line and the name of each series.
struct Legend {
    names: Vec<String>,
    width: i64,
    height: i64,
}

const LEGEND_ROW: i64 = 20;
const LEGEND_BORDER: Rgb = [190, 190, 190];
/// Longer series names are cut short in the legend.
const LEGEND_MAX_CHARS: usize = 40;
const LEGEND_SWATCH: i64 = 24;

impl Legend {
    fn new(series: &[Series]) -> Option<Legend> {
        if series.iter().all(|s| s.name.is_empty()) {
            return None;
        }
        let names: Vec<String> = series.iter().map(|s| shorten(&s.name, LEGEND_MAX_CHARS)).collect();
        let text = names.iter().map(|n| Font::Text.width(n)).max().unwrap_or(0);
        Some(Legend {
            width: 10 + LEGEND_SWATCH + 8 + text + 10,
            height: 8 + LEGEND_ROW * names.len() as i64 + 4,
            names,
        })
    }

    /// Candidate places inside `plot`: top right, top left, bottom right, bottom left.
    fn corners(&self, plot: Rect) -> [Rect; 4] {
        let inset = 8;
        let (l, r) = (plot.x0 + inset, plot.x1 - inset - self.width);
        let (t, b) = (plot.y0 + inset, plot.y1 - inset - self.height);
        [(r, t), (l, t), (r, b), (l, b)].map(|(x, y)| Rect::new(x, y, self.width, self.height))
    }

    fn draw(&self, c: &mut Canvas, at: Rect) {
        c.fill_rect(at, WHITE);
        c.outline(at, LEGEND_BORDER);
        for (i, name) in self.names.iter().enumerate() {
            let y = at.y0 + 6 + LEGEND_ROW * i as i64;
            let mid = (y + Font::Text.height() / 2) as f64;
            let x0 = (at.x0 + 10) as f64;
            c.stroke(&[(x0, mid), (x0 + LEGEND_SWATCH as f64, mid)], LINE_WIDTH, colour(i), at);
            c.text(at.x0 + 10 + LEGEND_SWATCH + 8, y, name, Font::Text, INK);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canvas::tests::decode;

    fn has_colour(c: &Canvas, colour: Rgb) -> bool {
        c.as_rgb().chunks_exact(3).any(|p| p == colour)
    }

    fn curve(n: usize, f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        (1..=n).map(|e| (e as f64, f(e as f64))).collect()
    }

    #[test]
    fn renders_several_series_and_writes_a_png() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let p = dir.join("loss.png");
        LineChart::new("loss")
            .x_label("epoch")
            .y_label("loss")
            .series("train", curve(20, |e| 0.5 / e + 0.1))
            .series("test", curve(20, |e| 0.55 / e + 0.12))
            .write_png(&p)
            .unwrap();
        let (w, h, ct, _) = decode(&std::fs::read(&p).unwrap());
        assert_eq!((w, h, ct), (640, 400, png::ColorType::Rgb));
    }

    #[test]
    fn nan_points_single_points_and_constants_render() {
        let nan =
            LineChart::new("diverged").series("train", [(1.0, 0.5), (2.0, f64::NAN), (3.0, 0.4), (4.0, f64::INFINITY)]);
        assert!(has_colour(&nan.render().unwrap(), PALETTE[0]));
        let one = LineChart::new("one epoch").series("train", [(1.0, 0.25)]);
        assert!(has_colour(&one.render().unwrap(), PALETTE[0]));
        let flat = LineChart::new("flat").series("kl", curve(5, |_| 0.0)).series("x", curve(5, |_| 3.0));
        let c = flat.render().unwrap();
        assert!(has_colour(&c, PALETTE[0]) && has_colour(&c, PALETTE[1]));
    }

    #[test]
    fn no_drawable_data_still_renders() {
        assert!(LineChart::new("").render().is_ok());
        assert!(LineChart::new("all nan").series("a", [(f64::NAN, 1.0), (1.0, f64::NAN)]).render().is_ok());
        let neg = LineChart::new("log").log_y(true).series("", [(1.0, -1.0), (2.0, 0.0)]);
        assert!(!has_colour(&neg.render().unwrap(), PALETTE[0]));
    }

    #[test]
    fn log_axis_skips_non_positive_values() {
        let c = LineChart::new("log").log_y(true).series("loss", [(1.0, 1.0), (2.0, 0.0), (3.0, 1e-3), (4.0, 1e-4)]);
        assert!(has_colour(&c.render().unwrap(), PALETTE[0]));
        assert_eq!(drawable_runs(&[(1.0, 1.0), (2.0, 0.0), (3.0, 1e-3)], true).len(), 2);
    }

    #[test]
    fn legend_avoids_data() {
        let border = |c: &Canvas, xs: std::ops::Range<u32>, ys: std::ops::Range<u32>| {
            xs.clone().any(|x| ys.clone().any(|y| c.pixel(x, y) == Some(LEGEND_BORDER)))
        };
        // A falling curve fills the top left and bottom right: the legend goes top right.
        let falling = LineChart::new("").series("train", curve(30, |e| 1.0 / e)).render().unwrap();
        assert!(border(&falling, 320..640, 0..200) && !border(&falling, 0..320, 0..400));
        // A rising one fills the bottom left and top right: top left is free.
        let rising = LineChart::new("").series("train", curve(30, |e| e * e)).render().unwrap();
        assert!(border(&rising, 0..320, 0..200) && !border(&rising, 320..640, 0..400));
    }

    #[test]
    fn a_huge_legend_stays_inside_and_long_names_are_cut() {
        let long = "x".repeat(300);
        let c = LineChart::new("").size(200, 150).series(&long, curve(30, |e| (e / 3.0).sin()));
        assert!(c.render().is_ok());
        assert_eq!(shorten(&long, 10), "xxxxxxx...");
        assert_eq!(shorten("train", 10), "train");
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let c = LineChart::new("extreme")
            .series("a", [(0.0, 1e308), (1.0, -1e308), (f64::MAX, 0.0)])
            .series("b", [(-f64::MAX, 5e-324), (1e-300, 1e-300)]);
        assert!(c.render().is_ok());
        assert!(c.clone().log_y(true).render().is_ok());
    }

    #[test]
    fn random_series_with_special_values_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1e-310, 1e300, -1e300, 1.0];
        for case in 0..40 {
            let mut chart = LineChart::new(format!("case {case}")).log_y(case % 3 == 0);
            for s in 0..(next() % 4) {
                let n = next() % 12;
                let pick = |r: u64| {
                    if r.is_multiple_of(4) {
                        specials[(r / 4 % specials.len() as u64) as usize]
                    } else {
                        (r % 2001) as f64 / 1000.0 - 1.0
                    }
                };
                let points: Vec<(f64, f64)> = (0..n).map(|_| (pick(next()), pick(next()))).collect();
                chart.add_series(format!("s{s}"), points);
            }
            assert!(chart.render().is_ok(), "case {case}");
        }
    }

    #[test]
    fn too_small_is_an_error() {
        assert!(matches!(LineChart::new("x").size(10, 10).render(), Err(VizError::InvalidInput { .. })));
    }
}
