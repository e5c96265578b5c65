//! `Display` for [`Tensor`]: the values laid out as nested rows, NumPy- and PyTorch-style, then
//! the shape.
//!
//! - Numbers share one width and are right-aligned; the precision is 4 decimals unless the
//!   formatter gives one (`{:.2}`). Values spanning many orders of magnitude (a ratio above
//!   1000, a magnitude of 1e8 or more, or a non-zero one below 1e-4; for whole numbers only the
//!   second) are written in scientific notation, as PyTorch does.
//! - A tensor of more than 1000 elements is elided: each axis longer than 6 shows its first and
//!   last 3 entries around `...` (NumPy's `threshold` and `edgeitems`).
//! - Rows wrap at 80 columns.
//!
//! ```
//! use latent_tensor::Tensor;
//!
//! let t = Tensor::from_vec(&[2, 3], vec![1.0, -2.5, 3.25, 0.0, 10.0, -0.125])?;
//! assert_eq!(
//!     t.to_string(),
//!     "tensor([[ 1.0000, -2.5000,  3.2500],\n        [ 0.0000, 10.0000, -0.1250]], shape=[2, 3])"
//! );
//! assert_eq!(format!("{:.3}", Tensor::scalar(0.25)), "tensor(0.250, shape=[])");
//! let big = Tensor::zeros(&[100, 100]); // 10 000 elements: elided
//! assert!(big.to_string().lines().count() < 10);
//! # Ok::<(), latent_tensor::TensorError>(())
//! ```

use std::fmt;

use ndarray::{ArrayViewD, IxDyn};

use crate::tensor::Tensor;

/// Tensors with more elements than this are elided.
const THRESHOLD: usize = 1000;
/// How many entries an elided axis shows at each end.
const EDGE: usize = 3;
/// The line width rows wrap at.
const LINE_WIDTH: usize = 80;
/// What the values follow on the first line.
const PREFIX: &str = "tensor(";

/// How each number is written: fixed or scientific, with a precision, padded to a width.
struct NumberFormat {
    scientific: bool,
    precision: usize,
    width: usize,
}

impl NumberFormat {
    fn text(&self, v: f32) -> String {
        if self.scientific { format!("{v:.*e}", self.precision) } else { format!("{v:.*}", self.precision) }
    }
}

/// The indices shown along an axis of length `len`; `None` stands for the elided middle.
fn shown(len: usize, elide: bool) -> Vec<Option<usize>> {
    if elide && len > 2 * EDGE {
        (0..EDGE).map(Some).chain([None]).chain((len - EDGE..len).map(Some)).collect()
    } else {
        (0..len).map(Some).collect()
    }
}

/// Every shown value, in row-major order.
fn shown_values(v: &ArrayViewD<f32>, axes: &[Vec<Option<usize>>]) -> Vec<f32> {
    let mut out = Vec::new();
    let mut index = vec![0; axes.len()];
    fn walk(
        v: &ArrayViewD<f32>,
        axes: &[Vec<Option<usize>>],
        index: &mut Vec<usize>,
        depth: usize,
        out: &mut Vec<f32>,
    ) {
        if depth == axes.len() {
            out.push(v[IxDyn(index)]);
            return;
        }
        for i in axes[depth].iter().flatten() {
            index[depth] = *i;
            walk(v, axes, index, depth + 1, out);
        }
    }
    walk(v, axes, &mut index, 0, &mut out);
    out
}

/// PyTorch's rule for scientific notation, over the finite non-zero magnitudes: whole numbers
/// only when one reaches 1e8, other values also when they span more than a factor 1000 or one
/// is below 1e-4.
fn wants_scientific(values: &[f32]) -> bool {
    let mags = values.iter().filter(|v| v.is_finite() && **v != 0.0).map(|v| v.abs());
    let (min, max) = mags.fold((f32::INFINITY, 0.0f32), |(lo, hi), m| (lo.min(m), hi.max(m)));
    let whole = values.iter().all(|v| !v.is_finite() || v.fract() == 0.0);
    max > 0.0 && (max >= 1e8 || (!whole && (max / min > 1000.0 || min < 1e-4)))
}

struct Layout<'a> {
    v: ArrayViewD<'a, f32>,
    axes: Vec<Vec<Option<usize>>>,
    number: NumberFormat,
}

impl Layout<'_> {
    /// Write the sub-array at `index[..depth]`, whose `[` is in column `depth + PREFIX.len()`.
    fn write(&self, f: &mut fmt::Formatter<'_>, index: &mut Vec<usize>, depth: usize) -> fmt::Result {
        let ndim = self.axes.len();
        if depth == ndim {
            let n = &self.number;
            return write!(f, "{:>width$}", n.text(self.v[IxDyn(index)]), width = n.width);
        }
        let indent = PREFIX.len() + depth + 1;
        let innermost = depth + 1 == ndim;
        // Items per line for the innermost axis: what fits after the indent, at least one.
        let per_line = ((LINE_WIDTH.saturating_sub(indent)) / (self.number.width + 2)).max(1);
        f.write_str("[")?;
        for (k, i) in self.axes[depth].iter().enumerate() {
            if k > 0 {
                if innermost {
                    f.write_str(",")?;
                    if k % per_line == 0 {
                        write!(f, "\n{:indent$}", "")?;
                    } else {
                        f.write_str(" ")?;
                    }
                } else {
                    // One line break, plus a blank line per axis below the next one (NumPy's
                    // separation of 2-D blocks).
                    write!(f, ",{}{:indent$}", "\n".repeat(ndim - depth - 1), "")?;
                }
            }
            match i {
                Some(i) => {
                    index[depth] = *i;
                    self.write(f, index, depth + 1)?;
                }
                None => f.write_str("...")?,
            }
        }
        f.write_str("]")
    }
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.view();
        let elide = v.len() > THRESHOLD;
        let axes: Vec<_> = v.shape().iter().map(|&len| shown(len, elide)).collect();
        let values = shown_values(&v, &axes);
        let mut number =
            NumberFormat { scientific: wants_scientific(&values), precision: f.precision().unwrap_or(4), width: 0 };
        number.width = values.iter().map(|&x| number.text(x).len()).max().unwrap_or(0);
        f.write_str(PREFIX)?;
        Layout { v: v.view(), axes, number }.write(f, &mut vec![0; v.ndim()], 0)?;
        write!(f, ", shape={:?})", self.shape())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize], v: Vec<f32>) -> Tensor {
        Tensor::from_vec(shape, v).unwrap()
    }

    #[test]
    fn one_and_three_dimensional_tensors() {
        assert_eq!(t(&[3], vec![1.0, 2.0, 3.0]).to_string(), "tensor([1.0000, 2.0000, 3.0000], shape=[3])");
        let cube = t(&[2, 2, 1], vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            format!("{cube:.0}"),
            "tensor([[[1],\n         [2]],\n\n        [[3],\n         [4]]], shape=[2, 2, 1])"
        );
    }

    #[test]
    fn empty_and_scientific() {
        assert_eq!(Tensor::zeros(&[0, 3]).to_string(), "tensor([], shape=[0, 3])");
        assert_eq!(t(&[2], vec![1e-6, 1.0]).to_string(), "tensor([1.0000e-6,  1.0000e0], shape=[2])");
        assert_eq!(t(&[2], vec![f32::NAN, 1.0]).to_string(), "tensor([   NaN, 1.0000], shape=[2])");
    }

    #[test]
    fn large_tensors_are_elided_on_every_long_axis() {
        let x = t(&[2000], (0..2000).map(|i| i as f32).collect());
        assert_eq!(format!("{x:.0}"), "tensor([   0,    1,    2, ..., 1997, 1998, 1999], shape=[2000])");
        let m = Tensor::zeros(&[40, 40]).to_string();
        assert_eq!(m.lines().count(), 7, "{m}");
        assert!(m.lines().nth(3).unwrap().trim() == "...,", "{m}");
    }

    #[test]
    fn long_rows_wrap_at_eighty_columns() {
        let x = t(&[30], vec![0.5; 30]).to_string();
        assert!(x.lines().count() > 1);
        assert!(x.lines().all(|l| l.len() <= LINE_WIDTH), "{x}");
    }
}
