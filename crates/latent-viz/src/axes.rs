//! Axes shared by the line chart and the scatter plot: data ranges, "nice" tick values and
//! their labels, the mapping from data to pixels, and drawing the frame, grid, ticks and labels.

use crate::canvas::{Canvas, Font, GRID, INK, Rect, pixel};

/// One tick: its data value and its label.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tick {
    pub value: f64,
    pub label: String,
}

/// One axis: the visible data interval (in log10 units when `log`) and its ticks.
#[derive(Debug, Clone)]
pub(crate) struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    pub ticks: Vec<Tick>,
}

impl Axis {
    /// An axis over data values `min..=max` (already in log10 units when `log`), padded by
    /// `pad` of the span on each side, with about `target` ticks. A zero-width interval is
    /// widened so that it is visible in the middle.
    pub(crate) fn fit(min: f64, max: f64, pad: f64, log: bool, integer: bool, target: usize) -> Axis {
        let (mut lo, mut hi) = (min, max);
        let span = hi - lo;
        if span > 0.0 {
            lo -= span * pad;
            hi += span * pad;
        } else {
            let half = if log {
                0.3
            } else if integer {
                1.0
            } else if lo != 0.0 {
                lo.abs() * 0.1
            } else {
                1.0
            };
            lo -= half;
            hi += half;
        }
        let ticks = if log { log_ticks(lo, hi) } else { linear_ticks(lo, hi, target, integer) };
        Axis { lo, hi, log, ticks }
    }

    /// Maps a data value (not in log units) to a pixel coordinate between `p0` (at `lo`) and
    /// `p1` (at `hi`).
    pub(crate) fn map(&self, v: f64, p0: f64, p1: f64) -> f64 {
        let v = if self.log { v.log10() } else { v };
        p0 + (v - self.lo) / (self.hi - self.lo) * (p1 - p0)
    }
}

/// Ticks at 1, 2 or 5 × 10^k steps inside `lo..=hi`, about `target` of them; with `integer`
/// the step is at least 1.
pub(crate) fn linear_ticks(lo: f64, hi: f64, target: usize, integer: bool) -> Vec<Tick> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return Vec::new();
    }
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let mut step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw * 0.999).unwrap_or(10.0 * mag);
    if integer {
        step = step.max(1.0);
    }
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    if last.saturating_sub(first) > 1000 {
        return Vec::new();
    }
    let values: Vec<f64> = (first..=last).map(|k| k as f64 * step).collect();
    let labels = format_ticks(&values, step);
    values.into_iter().zip(labels).map(|(value, label)| Tick { value, label }).collect()
}

/// Ticks for a log10 axis over `lo..=hi` (log units): whole decades if at least two fit, else
/// 1, 2, 5 × 10^k, else linear ticks of the values. Tick values are in data units.
pub(crate) fn log_ticks(lo: f64, hi: f64) -> Vec<Tick> {
    let (first, last) = (lo.ceil() as i64, hi.floor() as i64);
    if last.saturating_sub(first) >= 1 {
        let every = (last.saturating_sub(first) / 8 + 1).max(1);
        return (first..=last)
            .filter(|e| (e - first) % every == 0)
            .map(|e| Tick { value: 10f64.powi(e as i32), label: format_power(e) })
            .collect();
    }
    let mut ticks = Vec::new();
    for e in (lo.floor() as i64)..=(hi.ceil() as i64) {
        for m in [1.0, 2.0, 5.0] {
            let v: f64 = m * 10f64.powi(e as i32);
            if v.log10() >= lo - 1e-9 && v.log10() <= hi + 1e-9 {
                ticks.push(v);
            }
        }
    }
    if ticks.len() >= 2 {
        let labels = ticks.iter().map(|&v| format_ticks(&[v], v).remove(0)).collect::<Vec<_>>();
        return ticks.into_iter().zip(labels).map(|(value, label)| Tick { value, label }).collect();
    }
    linear_ticks(10f64.powf(lo), 10f64.powf(hi), 4, false)
}

/// Labels for tick values a multiple of `step` apart: plain decimals with as many places as the
/// step needs, or scientific notation for very large or small magnitudes.
pub(crate) fn format_ticks(values: &[f64], step: f64) -> Vec<String> {
    let biggest = values.iter().fold(0f64, |m, v| m.max(v.abs()));
    let scientific = biggest >= 1e6 || (step < 1e-3 && biggest < 1e-2) || step < 1e-5;
    values
        .iter()
        .map(|&v| {
            let v = if v.abs() < step * 1e-6 { 0.0 } else { v };
            if scientific && v != 0.0 {
                format_scientific(v)
            } else {
                let places = (-(step.log10() + 1e-9).floor()).clamp(0.0, 12.0) as usize;
                format!("{v:.places$}")
            }
        })
        .collect()
}

/// `1e-5`, `2.5e3`: at most three significant digits, no trailing zeros.
fn format_scientific(v: f64) -> String {
    let s = format!("{v:.2e}");
    let Some((mantissa, exp)) = s.split_once('e') else { return s };
    let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
    format!("{mantissa}e{exp}")
}

/// The label of 10^e: plain for moderate exponents, `1e-5` otherwise.
fn format_power(e: i64) -> String {
    match e {
        0..=5 => format!("{}", 10u64.pow(e as u32)),
        -3..=-1 => format!("{:.*}", (-e) as usize, 10f64.powi(e as i32)),
        _ => format!("1e{e}"),
    }
}

/// Width of the widest tick label.
pub(crate) fn label_width(ticks: &[Tick]) -> i64 {
    ticks.iter().map(|t| Font::Text.width(&t.label)).max().unwrap_or(0)
}

/// Picks about `target` x ticks, fewer if their labels would not fit side by side in `pixels`.
pub(crate) fn fit_x(min: f64, max: f64, pad: f64, integer: bool, pixels: i64) -> Axis {
    let mut target = 8;
    loop {
        let axis = Axis::fit(min, max, pad, false, integer, target);
        let room = pixels as f64 / (axis.ticks.len().max(1) as f64);
        if target <= 2 || (label_width(&axis.ticks) + 12) as f64 <= room {
            return axis;
        }
        target -= 1;
    }
}

/// Pixel x of data value `v` inside `plot`.
pub(crate) fn px(plot: Rect, x: &Axis, v: f64) -> f64 {
    x.map(v, plot.x0 as f64 + 0.5, (plot.x1 - 1) as f64 + 0.5)
}

/// Pixel y of data value `v` inside `plot` (up is larger).
pub(crate) fn py(plot: Rect, y: &Axis, v: f64) -> f64 {
    y.map(v, (plot.y1 - 1) as f64 + 0.5, plot.y0 as f64 + 0.5)
}

/// Draws the grid lines inside `plot`, one per tick; data is drawn over them.
pub(crate) fn draw_grid(canvas: &mut Canvas, plot: Rect, x: &Axis, y: &Axis) {
    for t in &x.ticks {
        let p = pixel(px(plot, x, t.value));
        canvas.fill_rect(Rect::new(p, plot.y0, 1, plot.height()), GRID);
    }
    for t in &y.ticks {
        let p = pixel(py(plot, y, t.value));
        canvas.fill_rect(Rect::new(plot.x0, p, plot.width(), 1), GRID);
    }
}

/// Draws the frame, tick marks, tick labels and the two axis labels around `plot`.
pub(crate) fn draw_frame(canvas: &mut Canvas, plot: Rect, x: &Axis, y: &Axis, x_label: &str, y_label: &str) {
    let text_h = Font::Text.height();
    canvas.outline(plot, INK);
    for t in &x.ticks {
        let p = pixel(px(plot, x, t.value));
        canvas.fill_rect(Rect::new(p, plot.y1, 1, 5), INK);
        canvas.text_centered(p, plot.y1 + 7, &t.label, Font::Text, INK);
    }
    for t in &y.ticks {
        let p = pixel(py(plot, y, t.value));
        canvas.fill_rect(Rect::new(plot.x0 - 5, p, 5, 1), INK);
        let w = Font::Text.width(&t.label);
        canvas.text(plot.x0 - 8 - w, p - text_h / 2, &t.label, Font::Text, INK);
    }
    if !x_label.is_empty() {
        canvas.text_centered((plot.x0 + plot.x1) / 2, plot.y1 + 9 + text_h, x_label, Font::Text, INK);
    }
    if !y_label.is_empty() {
        let left = plot.x0 - 8 - label_width(&y.ticks) - 6 - text_h;
        let mid = (plot.y0 + plot.y1) / 2 + Font::Text.width(y_label) / 2;
        canvas.text_up(left, mid, y_label, Font::Text, INK);
    }
}

/// Space needed left of the plot for y tick labels and the y label.
pub(crate) fn left_margin(y: &Axis, y_label: &str) -> i64 {
    let label = if y_label.is_empty() { 0 } else { Font::Text.height() + 6 };
    8 + label_width(&y.ticks) + 8 + label
}

/// Space needed below the plot for x tick labels and the x label.
pub(crate) fn bottom_margin(x_label: &str) -> i64 {
    let label = if x_label.is_empty() { 0 } else { Font::Text.height() + 2 };
    9 + Font::Text.height() + label + 8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(t: &[Tick]) -> Vec<&str> {
        t.iter().map(|t| t.label.as_str()).collect()
    }

    #[test]
    fn linear_ticks_are_nice() {
        assert_eq!(labels(&linear_ticks(0.0, 1.0, 5, false)), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert_eq!(labels(&linear_ticks(0.5, 10.5, 6, true)), ["2", "4", "6", "8", "10"]);
        assert_eq!(labels(&linear_ticks(-0.03, 0.02, 5, false)), ["-0.03", "-0.02", "-0.01", "0.00", "0.01", "0.02"]);
        assert_eq!(labels(&linear_ticks(0.0, 3e6, 3, false)), ["0", "1e6", "2e6", "3e6"]);
        assert!(linear_ticks(1.0, 1.0, 5, false).is_empty());
        assert!(linear_ticks(f64::NAN, 1.0, 5, false).is_empty());
    }

    #[test]
    fn integer_axis_never_has_fractional_ticks() {
        let a = Axis::fit(1.0, 1.0, 0.03, false, true, 8);
        assert_eq!(labels(&a.ticks), ["0", "1", "2"]);
        let a = Axis::fit(1.0, 3.0, 0.03, false, true, 8);
        assert_eq!(labels(&a.ticks), ["1", "2", "3"]);
    }

    #[test]
    fn log_ticks_use_decades_or_mantissas() {
        assert_eq!(labels(&log_ticks(-4.2, 0.1)), ["1e-4", "0.001", "0.01", "0.1", "1"]);
        assert_eq!(labels(&log_ticks(-1.0, -0.5)), ["0.1", "0.2"]);
        let narrow = log_ticks(0.01, 0.1);
        assert!(narrow.len() >= 2, "{narrow:?}");
    }

    #[test]
    fn constant_range_is_widened_around_the_value() {
        let a = Axis::fit(5.0, 5.0, 0.05, false, false, 6);
        assert!(a.lo < 5.0 && a.hi > 5.0);
        assert!((a.map(5.0, 0.0, 100.0) - 50.0).abs() < 1e-9);
        let z = Axis::fit(0.0, 0.0, 0.05, false, false, 6);
        assert!(z.lo < 0.0 && z.hi > 0.0);
    }
}
