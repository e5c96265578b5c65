//! Image grids as PNG: [`ImageGrid`] lays a batch of images out in rows and columns.
//!
//! A batch is `[N, H*W]` (flat rows, square grey images unless [`ImageGrid::image_size`] or
//! [`ImageGrid::image_shape`] says otherwise; `[N, 3*H*W]` channel-major RGB rows with
//! [`ImageGrid::image_shape`]), `[N, H, W]`, `[N, 1, H, W]` or `[N, 3, H, W]` (RGB) of `f32`
//! values in a stated [`ValueRange`]: [0, 1] by default, [-1, 1] for GAN outputs. Values outside the range are
//! clamped; NaN pixels are drawn pure red so they are seen, not hidden. Each image is scaled up
//! by an integer factor (2 for 28 × 28 by default) with grey separators between the tiles. A
//! grid whose pixels are all grey (grey images without NaN) is written as an 8-bit grayscale
//! PNG, otherwise as 8-bit RGB.
//!
//! [`stack_vertical`] puts several grids one above the other, e.g. originals above their
//! reconstructions, each with its caption from [`ImageGrid::title`].

use std::path::Path;

use ndarray::{ArrayBase, Data, Dimension};

use crate::canvas::{Canvas, Font, INK, Rect, Rgb, WHITE};
use crate::error::VizError;

/// The colour of NaN pixels.
pub const NAN_COLOUR: Rgb = [255, 0, 0];
/// The colour of the separators between tiles (and of empty tiles).
pub const SEPARATOR_COLOUR: Rgb = [150, 150, 150];

/// The interval of pixel values that maps to black (`lo`) … white (`hi`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueRange {
    lo: f32,
    hi: f32,
}

impl ValueRange {
    /// [0, 1]: images, reconstructions and decoder outputs after a sigmoid.
    pub const UNIT: ValueRange = ValueRange { lo: 0.0, hi: 1.0 };
    /// [-1, 1]: GAN generator outputs after a tanh.
    pub const SYMMETRIC: ValueRange = ValueRange { lo: -1.0, hi: 1.0 };

    /// The range `lo..=hi`.
    ///
    /// # Errors
    /// [`VizError::InvalidInput`] unless both are finite and `lo < hi`.
    pub fn new(lo: f32, hi: f32) -> Result<Self, VizError> {
        if lo.is_finite() && hi.is_finite() && lo < hi {
            Ok(ValueRange { lo, hi })
        } else {
            Err(VizError::invalid("value range", format!("finite lo < hi expected, found {lo} ..= {hi}")))
        }
    }

    /// The value drawn black.
    pub fn lo(&self) -> f32 {
        self.lo
    }

    /// The value drawn white.
    pub fn hi(&self) -> f32 {
        self.hi
    }

    /// The 8-bit grey level of `v` (clamped), or `None` for NaN.
    pub fn to_u8(&self, v: f32) -> Option<u8> {
        if v.is_nan() {
            return None;
        }
        let t = ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0);
        Some((t * 255.0).round() as u8)
    }
}

impl Default for ValueRange {
    fn default() -> Self {
        ValueRange::UNIT
    }
}

/// How to lay out a batch of images; [`ImageGrid::render`] draws it.
///
/// ```
/// use latent_viz::image::{ImageGrid, ValueRange};
/// let batch = ndarray::Array2::<f32>::zeros((16, 784));
/// let grid = ImageGrid::new().cols(8).title("samples").render(&batch).unwrap();
/// assert_eq!(grid.width(), 8 * (56 + 2) + 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ImageGrid {
    range: ValueRange,
    cols: Option<usize>,
    scale: Option<u32>,
    separator: u32,
    /// (channels, height, width) of the images of flat batches.
    image_shape: Option<(usize, usize, usize)>,
    title: Option<String>,
}

impl Default for ImageGrid {
    fn default() -> Self {
        ImageGrid { range: ValueRange::UNIT, cols: None, scale: None, separator: 2, image_shape: None, title: None }
    }
}

impl ImageGrid {
    /// The largest scale factor accepted.
    pub const MAX_SCALE: u32 = 64;
    /// The widest separator accepted, in pixels.
    pub const MAX_SEPARATOR: u32 = 16;

    /// Defaults: values in [0, 1], about square, automatic scale, 2 px separators, no title.
    pub fn new() -> Self {
        Self::default()
    }

    /// The range of the pixel values.
    pub fn range(mut self, range: ValueRange) -> Self {
        self.range = range;
        self
    }

    /// Images per row (default: `ceil(sqrt(N))`); the rows follow from the batch size.
    pub fn cols(mut self, cols: usize) -> Self {
        self.cols = Some(cols);
        self
    }

    /// Integer scale factor for every image (default: 64 / the longer side, at least 1, so 2
    /// for 28 × 28).
    pub fn scale(mut self, scale: u32) -> Self {
        self.scale = Some(scale);
        self
    }

    /// Separator width in pixels between tiles and around the grid (default 2; 0 allowed).
    pub fn separator(mut self, pixels: u32) -> Self {
        self.separator = pixels;
        self
    }

    /// Height and width of each grey image for flat `[N, H*W]` batches that are not square.
    pub fn image_size(mut self, height: usize, width: usize) -> Self {
        self.image_shape = Some((1, height, width));
        self
    }

    /// The shape of each image of flat `[N, C*H*W]` batches: `channels` 1 (grey) or 3 (RGB,
    /// channel-major: the red plane, then green, then blue), as a data set's sample shape says.
    ///
    /// ```
    /// use latent_viz::ImageGrid;
    /// // Two 2x3 RGB images, flat: red, then green.
    /// let mut batch = ndarray::Array2::<f32>::zeros((2, 18));
    /// batch.row_mut(0).slice_mut(ndarray::s![..6]).fill(1.0);
    /// batch.row_mut(1).slice_mut(ndarray::s![6..12]).fill(1.0);
    /// let grid = ImageGrid::new().image_shape(3, 2, 3).scale(1).separator(0).render(&batch).unwrap();
    /// assert_eq!((grid.width(), grid.height()), (6, 2));
    /// assert_eq!((grid.pixel(0, 0), grid.pixel(3, 1)), (Some([255, 0, 0]), Some([0, 255, 0])));
    /// ```
    pub fn image_shape(mut self, channels: usize, height: usize, width: usize) -> Self {
        self.image_shape = Some((channels, height, width));
        self
    }

    /// A caption drawn above the grid.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Draws `batch` as a grid.
    ///
    /// # Errors
    /// [`VizError::Shape`] for a batch of an unsupported shape (or a flat batch that is not
    /// square without [`ImageGrid::image_size`], or does not fit [`ImageGrid::image_shape`]),
    /// [`VizError::InvalidInput`] for an empty
    /// batch, zero columns, a scale or separator beyond the limits, or a grid too large.
    pub fn render<S, D>(&self, batch: &ArrayBase<S, D>) -> Result<Canvas, VizError>
    where
        S: Data<Elem = f32>,
        D: Dimension,
    {
        let (n, channels, h, w) = self.layout_of(batch.shape())?;
        if n == 0 || h == 0 || w == 0 {
            return Err(VizError::invalid("image batch", format!("no pixels to draw in shape {:?}", batch.shape())));
        }
        let cols = self.cols.unwrap_or_else(|| n.isqrt() + usize::from(n.isqrt() * n.isqrt() < n));
        if cols == 0 {
            return Err(VizError::invalid("grid columns", "at least 1 column is needed"));
        }
        let cols = cols.min(n);
        let rows = n.div_ceil(cols);
        let scale = self.scale.unwrap_or_else(|| (64 / h.max(w)).clamp(1, 8) as u32);
        if scale == 0 || scale > Self::MAX_SCALE {
            return Err(VizError::invalid("scale", format!("1 ..= {} expected, found {scale}", Self::MAX_SCALE)));
        }
        if self.separator > Self::MAX_SEPARATOR {
            let max = Self::MAX_SEPARATOR;
            return Err(VizError::invalid(
                "separator",
                format!("0 ..= {max} pixels expected, found {}", self.separator),
            ));
        }

        let (scale, sep) = (u64::from(scale), u64::from(self.separator));
        let (tile_w, tile_h) = (w as u64 * scale, h as u64 * scale);
        let grid_w = cols as u64 * (tile_w + sep) + sep;
        let grid_h = rows as u64 * (tile_h + sep) + sep;
        let title = self.title.as_deref().filter(|t| !t.is_empty());
        let title_h = if title.is_some() { Font::Text.height() as u64 + 8 } else { 0 };
        let title_w = title.map_or(0, |t| Font::Text.width(t) as u64 + 8);
        let (width, height) = (grid_w.max(title_w), grid_h + title_h);
        let too_big = || VizError::invalid("image grid", format!("{width} x {height} pixels is too large"));
        let mut canvas = Canvas::new(
            u32::try_from(width).map_err(|_| too_big())?,
            u32::try_from(height).map_err(|_| too_big())?,
            WHITE,
        )
        .map_err(|_| too_big())?;
        let x0 = ((width - grid_w) / 2) as i64;
        let y0 = title_h as i64;
        canvas.fill_rect(Rect::new(x0, y0, grid_w as i64, grid_h as i64), SEPARATOR_COLOUR);
        if let Some(t) = title {
            canvas.text_centered(width as i64 / 2, 4, t, Font::Text, INK);
        }

        let pixels = batch.as_standard_layout();
        let Some(values) = pixels.as_slice() else {
            return Err(VizError::invalid("image batch", "cannot read the batch in row-major order"));
        };
        let per_image = channels * h * w;
        let (scale, sep) = (scale as i64, sep as i64);
        for (i, image) in values.chunks_exact(per_image).enumerate() {
            let tx = x0 + sep + (i % cols) as i64 * (tile_w as i64 + sep);
            let ty = y0 + sep + (i / cols) as i64 * (tile_h as i64 + sep);
            for y in 0..h {
                for x in 0..w {
                    let colour = self.colour(image, channels, h * w, y * w + x);
                    canvas.fill_rect(Rect::new(tx + x as i64 * scale, ty + y as i64 * scale, scale, scale), colour);
                }
            }
        }
        Ok(canvas)
    }

    /// Draws `batch` and writes it to `path` as a PNG, atomically.
    ///
    /// # Errors
    /// As [`ImageGrid::render`] and [`Canvas::write_png`].
    pub fn write_png<S, D>(&self, path: impl AsRef<Path>, batch: &ArrayBase<S, D>) -> Result<(), VizError>
    where
        S: Data<Elem = f32>,
        D: Dimension,
    {
        self.render(batch)?.write_png(path)
    }

    /// (N, channels, H, W) of a batch shape.
    fn layout_of(&self, shape: &[usize]) -> Result<(usize, usize, usize, usize), VizError> {
        let found = || format!("{shape:?}");
        match *shape {
            [n, p] => match self.image_shape {
                Some((c @ (1 | 3), h, w)) if c.checked_mul(h).and_then(|v| v.checked_mul(w)) == Some(p) => {
                    Ok((n, c, h, w))
                }
                Some((c, h, w)) => Err(VizError::Shape {
                    what: "image batch",
                    expected: match c {
                        1 => format!("[N, {h} * {w} = {}]", h.saturating_mul(w)),
                        3 => format!("[N, 3 * {h} * {w} = {}]", h.saturating_mul(w).saturating_mul(3)),
                        _ => format!("images of 1 or 3 channels, not {c}"),
                    },
                    found: found(),
                }),
                None if p.isqrt() * p.isqrt() == p => Ok((n, 1, p.isqrt(), p.isqrt())),
                None => Err(VizError::Shape {
                    what: "image batch",
                    expected: "[N, H*W] with square images (or give the image size)".into(),
                    found: found(),
                }),
            },
            [n, h, w] => Ok((n, 1, h, w)),
            [n, c @ (1 | 3), h, w] => Ok((n, c, h, w)),
            _ => Err(VizError::Shape {
                what: "image batch",
                expected: "[N, H*W], [N, H, W], [N, 1, H, W] or [N, 3, H, W]".into(),
                found: found(),
            }),
        }
    }

    /// The colour of pixel `at` of one image (`plane` pixels per channel).
    fn colour(&self, image: &[f32], channels: usize, plane: usize, at: usize) -> Rgb {
        if channels == 1 {
            return self.range.to_u8(image[at]).map_or(NAN_COLOUR, |g| [g, g, g]);
        }
        let mut rgb = [0; 3];
        for (k, c) in rgb.iter_mut().enumerate() {
            match self.range.to_u8(image[k * plane + at]) {
                Some(v) => *c = v,
                None => return NAN_COLOUR,
            }
        }
        rgb
    }
}

/// Stacks grids top to bottom with `gap` white pixels between them, each centred (e.g.
/// originals above reconstructions).
///
/// # Errors
/// [`VizError::InvalidInput`] if `grids` is empty or the result would be too large.
pub fn stack_vertical(grids: &[Canvas], gap: u32) -> Result<Canvas, VizError> {
    Canvas::stack_vertical(grids, gap, WHITE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canvas::tests::decode;
    use ndarray::{Array, Array2, Array4};

    fn digits(n: usize) -> Array2<f32> {
        Array2::from_shape_fn((n, 784), |(i, p)| ((p % 28 + p / 28 + i) % 28) as f32 / 27.0)
    }

    #[test]
    fn grid_size_and_grayscale_png() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let p = dir.join("recon.png");
        ImageGrid::new().cols(8).write_png(&p, &digits(16)).unwrap();
        let (w, h, ct, px) = decode(&std::fs::read(&p).unwrap());
        assert_eq!((w, h, ct), (8 * 58 + 2, 2 * 58 + 2, png::ColorType::Grayscale));
        // Top-left corner is a separator, the first pixel of the first image is black (0.0),
        // scaled 2x.
        assert_eq!(px[0], SEPARATOR_COLOUR[0]);
        let at = |x: usize, y: usize| px[y * w as usize + x];
        assert_eq!((at(2, 2), at(3, 3)), (0, 0));
    }

    #[test]
    fn auto_layout_is_about_square() {
        let c = ImageGrid::new().separator(1).scale(1).render(&digits(10)).unwrap();
        // 10 images: 4 columns, 3 rows.
        assert_eq!((c.width(), c.height()), (4 * 29 + 1, 3 * 29 + 1));
    }

    #[test]
    fn accepts_nchw_and_nhw_and_rgb() {
        let a = Array4::<f32>::zeros((3, 1, 28, 28));
        let b = Array::<f32, _>::zeros((3, 28, 28));
        let c = Array4::<f32>::from_elem((3, 3, 8, 8), 0.5);
        let g = ImageGrid::new().cols(3);
        assert_eq!(g.render(&a).unwrap(), g.render(&b).unwrap());
        let rgb = g.render(&c).unwrap();
        assert_eq!(rgb.width(), 3 * (8 * 8 + 2) + 2);
    }

    #[test]
    fn symmetric_range_and_clamping() {
        let batch = Array2::from_shape_vec((1, 4), vec![-1.0, 0.0, 1.0, 7.0]).unwrap();
        let c = ImageGrid::new().range(ValueRange::SYMMETRIC).scale(1).separator(0).render(&batch).unwrap();
        let grey: Vec<u8> = [(0, 0), (1, 0), (0, 1), (1, 1)].iter().map(|&(x, y)| c.pixel(x, y).unwrap()[0]).collect();
        assert_eq!(grey, [0, 128, 255, 255]);
        assert_eq!(ValueRange::UNIT.to_u8(-3.0), Some(0));
        assert_eq!(ValueRange::UNIT.to_u8(f32::INFINITY), Some(255));
        assert!(ValueRange::new(1.0, 1.0).is_err());
        assert!(ValueRange::new(f32::NAN, 1.0).is_err());
    }

    #[test]
    fn nan_is_red_and_makes_an_rgb_png() {
        let mut batch = digits(2);
        batch[[1, 0]] = f32::NAN;
        let c = ImageGrid::new().scale(1).separator(0).render(&batch).unwrap();
        assert_eq!(c.pixel(28, 0), Some(NAN_COLOUR));
        assert_eq!(decode(&c.encode_png().unwrap()).2, png::ColorType::Rgb);
    }

    #[test]
    fn non_square_flat_batches_need_a_size() {
        let batch = Array2::<f32>::zeros((2, 6));
        assert!(matches!(ImageGrid::new().render(&batch), Err(VizError::Shape { .. })));
        let c = ImageGrid::new().image_size(2, 3).scale(1).separator(0).render(&batch).unwrap();
        assert_eq!((c.width(), c.height()), (6, 2));
        assert!(matches!(ImageGrid::new().image_size(4, 4).render(&batch), Err(VizError::Shape { .. })));
    }

    /// Flat channel-major RGB rows draw the same picture as `[N, 3, H, W]`, and write an RGB
    /// PNG; the same rows read as grey give the old picture.
    #[test]
    fn flat_rgb_rows_with_a_shape_draw_like_nchw() {
        let nchw = Array4::from_shape_fn((4, 3, 5, 6), |(i, c, y, x)| ((i + 2 * c + y * x) % 7) as f32 / 6.0);
        let flat = nchw.clone().into_shape_with_order((4, 90)).unwrap();
        let g = ImageGrid::new().cols(2);
        let rgb = g.clone().image_shape(3, 5, 6).render(&flat).unwrap();
        assert_eq!(rgb, g.render(&nchw).unwrap());
        assert_eq!(decode(&rgb.encode_png().unwrap()).2, png::ColorType::Rgb);
        let grey = Array2::from_shape_fn((4, 30), |(i, p)| (i * p % 5) as f32 / 4.0);
        assert_eq!(
            g.clone().image_shape(1, 5, 6).render(&grey).unwrap(),
            g.clone().image_size(5, 6).render(&grey).unwrap()
        );
        assert_eq!(
            decode(&g.image_size(5, 6).render(&grey).unwrap().encode_png().unwrap()).2,
            png::ColorType::Grayscale
        );
        // MNIST's rows given their shape draw exactly what they drew without it.
        let mnist = ImageGrid::new().cols(8);
        assert_eq!(
            mnist.clone().image_shape(1, 28, 28).render(&digits(16)).unwrap(),
            mnist.render(&digits(16)).unwrap()
        );
        assert!(matches!(ImageGrid::new().image_shape(3, 5, 5).render(&flat), Err(VizError::Shape { .. })));
        assert!(matches!(ImageGrid::new().image_shape(2, 5, 9).render(&flat), Err(VizError::Shape { .. })));
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let g = ImageGrid::new();
        assert!(g.render(&Array2::<f32>::zeros((0, 784))).is_err());
        assert!(g.render(&ndarray::Array1::<f32>::zeros(784)).is_err());
        assert!(g.render(&Array4::<f32>::zeros((2, 2, 4, 4))).is_err());
        assert!(g.clone().cols(0).render(&digits(2)).is_err());
        assert!(g.clone().scale(0).render(&digits(2)).is_err());
        assert!(g.clone().separator(99).render(&digits(2)).is_err());
        assert!(g.clone().scale(64).render(&Array2::<f32>::zeros((1000, 784))).is_err());
    }

    #[test]
    fn transposed_views_are_read_in_logical_order() {
        let a = Array2::from_shape_fn((4, 2), |(p, _)| p as f32 / 3.0);
        let c = ImageGrid::new().scale(1).separator(0).cols(2).render(&a.t()).unwrap();
        assert_eq!(c.pixel(1, 0), Some([85, 85, 85]));
    }

    #[test]
    fn titled_grids_stack() {
        let top = ImageGrid::new().cols(4).title("originals").render(&digits(4)).unwrap();
        let bottom = ImageGrid::new().cols(4).title("reconstructions").render(&digits(4)).unwrap();
        let s = stack_vertical(&[top.clone(), bottom.clone()], 6).unwrap();
        assert_eq!(s.height(), top.height() + bottom.height() + 6);
        assert_eq!(s.width(), top.width().max(bottom.width()));
    }
}
