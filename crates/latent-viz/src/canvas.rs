//! [`Canvas`]: the RGB raster that image grids, charts and scatter plots are drawn on, and its PNG
//! encoding.
//!
//! The drawing primitives (rectangles, anti-aliased strokes and discs, text) are crate-private:
//! [`crate::image`], [`crate::plot`] and [`crate::scatter`] use them. Text comes pre-rasterised
//! and anti-aliased from the Noto Sans Mono glyphs of the `noto-sans-mono-bitmap` crate, so no
//! system font or C library is needed. A canvas whose pixels are all grey is written as an 8-bit
//! grayscale PNG, any other as 8-bit RGB.

use std::path::Path;

use noto_sans_mono_bitmap::{FontWeight, RasterHeight, get_raster, get_raster_width};

use crate::error::VizError;

/// An 8-bit RGB colour.
pub type Rgb = [u8; 3];

/// White, the background of charts and grids.
pub const WHITE: Rgb = [255, 255, 255];
/// The colour of text and axes.
pub(crate) const INK: Rgb = [40, 40, 40];
/// The colour of grid lines inside a chart.
pub(crate) const GRID: Rgb = [228, 228, 228];

/// Ten distinguishable colours (the "tab10" palette of matplotlib), used for chart series and
/// for the digits 0–9 of a scatter plot.
pub const PALETTE: [Rgb; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// An RGB image in memory, 8 bits per channel, row-major, top row first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canvas {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

/// A text face: one of the pre-rasterised sizes and weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Font {
    /// 16 px regular: tick labels, axis labels, legends.
    Text,
    /// 20 px bold: titles.
    Title,
}

impl Font {
    fn parts(self) -> (FontWeight, RasterHeight) {
        match self {
            Font::Text => (FontWeight::Regular, RasterHeight::Size16),
            Font::Title => (FontWeight::Bold, RasterHeight::Size20),
        }
    }

    /// Height of a line of text in pixels.
    pub(crate) fn height(self) -> i64 {
        self.parts().1.val() as i64
    }

    /// Width of `text` in pixels (the font is monospaced).
    pub(crate) fn width(self, text: &str) -> i64 {
        let (w, h) = self.parts();
        (get_raster_width(w, h) * text.chars().count()) as i64
    }
}

/// A rectangle of pixels: `x0..x1` × `y0..y1` (ends exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rect {
    pub x0: i64,
    pub y0: i64,
    pub x1: i64,
    pub y1: i64,
}

impl Rect {
    pub(crate) fn new(x: i64, y: i64, w: i64, h: i64) -> Self {
        Rect { x0: x, y0: y, x1: x.saturating_add(w), y1: y.saturating_add(h) }
    }

    pub(crate) fn width(&self) -> i64 {
        self.x1 - self.x0
    }

    pub(crate) fn height(&self) -> i64 {
        self.y1 - self.y0
    }

    pub(crate) fn intersect(&self, o: &Rect) -> Rect {
        Rect { x0: self.x0.max(o.x0), y0: self.y0.max(o.y0), x1: self.x1.min(o.x1), y1: self.y1.min(o.y1) }
    }

    pub(crate) fn contains(&self, x: f64, y: f64) -> bool {
        x >= self.x0 as f64 && x < self.x1 as f64 && y >= self.y0 as f64 && y < self.y1 as f64
    }
}

impl Canvas {
    /// The largest canvas, in pixels, that this crate will allocate (300 MB of RGB).
    pub const MAX_PIXELS: u64 = 100_000_000;

    /// A `width` × `height` canvas filled with `background`.
    ///
    /// # Errors
    /// [`VizError::InvalidInput`] if either side is zero or the canvas would have more than
    /// [`Canvas::MAX_PIXELS`] pixels.
    pub fn new(width: u32, height: u32, background: Rgb) -> Result<Self, VizError> {
        let pixels = u64::from(width) * u64::from(height);
        if pixels == 0 || pixels > Self::MAX_PIXELS {
            return Err(VizError::invalid(
                "image size",
                format!(
                    "{width} x {height} pixels; at least 1 x 1 and at most {} pixels are allowed",
                    Self::MAX_PIXELS
                ),
            ));
        }
        let data = background.iter().copied().cycle().take(pixels as usize * 3).collect();
        Ok(Canvas { width, height, data })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The colour at column `x`, row `y`, or `None` outside the canvas.
    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgb> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        Some([self.data[i], self.data[i + 1], self.data[i + 2]])
    }

    /// The raw pixels: `width * height` RGB triples, row-major, top row first.
    pub fn as_rgb(&self) -> &[u8] {
        &self.data
    }

    /// Whether every pixel is a shade of grey (then the PNG is written as grayscale).
    pub fn is_grayscale(&self) -> bool {
        self.data.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2])
    }

    /// Encodes the canvas as a PNG: 8-bit grayscale if [`Canvas::is_grayscale`], else 8-bit RGB,
    /// at the `png` crate's fast setting (its PNG-specific deflate). Measured on the pictures a
    /// VAE run writes, against the best zlib level of `png` 0.17 used before: a 466×466 sample
    /// grid 0.3 against 46 ms and 34.9 against 36.9 kB, the 640×1162 latent traversals 1.4
    /// against 205 ms and 145 against 157 kB, an RGB loss chart 0.9 against 30 ms and 45 against
    /// 32 kB. A training run writes pictures every epoch: at `Best` this was 18% of the CPU time
    /// of `latent train vae` on the built-in sample, whose wall time at one thread went from 16.1
    /// to 11.0 s (medians of 3 alternated runs) with the same pixels.
    ///
    /// # Errors
    /// The encoder's error (not expected for a valid canvas).
    pub fn encode_png(&self) -> Result<Vec<u8>, png::EncodingError> {
        let mut out = Vec::new();
        let gray = self.is_grayscale();
        let mut enc = png::Encoder::new(&mut out, self.width, self.height);
        enc.set_color(if gray { png::ColorType::Grayscale } else { png::ColorType::Rgb });
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let mut writer = enc.write_header()?;
        if gray {
            let luma: Vec<u8> = self.data.iter().step_by(3).copied().collect();
            writer.write_image_data(&luma)?;
        } else {
            writer.write_image_data(&self.data)?;
        }
        writer.finish()?;
        Ok(out)
    }

    /// Writes the canvas to `path` as a PNG, atomically.
    ///
    /// # Errors
    /// [`VizError::Png`] if encoding fails, [`VizError::Write`] if the file cannot be written.
    pub fn write_png(&self, path: impl AsRef<Path>) -> Result<(), VizError> {
        let path = path.as_ref();
        let bytes = self.encode_png().map_err(|source| VizError::Png { path: path.to_path_buf(), source })?;
        latent_fsio::write_bytes(path, &bytes)?;
        Ok(())
    }

    /// Stacks `parts` top to bottom, `gap` pixels apart, each centred horizontally on a
    /// `background` as wide as the widest part.
    ///
    /// # Errors
    /// [`VizError::InvalidInput`] if `parts` is empty or the result would be too large.
    pub fn stack_vertical(parts: &[Canvas], gap: u32, background: Rgb) -> Result<Canvas, VizError> {
        if parts.is_empty() {
            return Err(VizError::invalid("stack of images", "at least one image is needed"));
        }
        let width = parts.iter().map(|p| p.width).max().unwrap_or(1);
        let height = parts.iter().map(|p| u64::from(p.height)).sum::<u64>() + u64::from(gap) * (parts.len() as u64 - 1);
        let height = u32::try_from(height).unwrap_or(u32::MAX);
        let mut out = Canvas::new(width, height, background)?;
        let mut y = 0i64;
        for p in parts {
            out.blit(p, i64::from((width - p.width) / 2), y);
            y += i64::from(p.height) + i64::from(gap);
        }
        Ok(out)
    }

    /// Copies `src` with its top-left corner at (`x`, `y`), clipped.
    pub(crate) fn blit(&mut self, src: &Canvas, x: i64, y: i64) {
        for sy in 0..i64::from(src.height) {
            for sx in 0..i64::from(src.width) {
                let i = ((sy * i64::from(src.width) + sx) * 3) as usize;
                self.put(x + sx, y + sy, [src.data[i], src.data[i + 1], src.data[i + 2]]);
            }
        }
    }

    fn index(&self, x: i64, y: i64) -> Option<usize> {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return None;
        }
        Some((y as usize * self.width as usize + x as usize) * 3)
    }

    /// Sets one pixel; outside the canvas nothing happens.
    pub(crate) fn put(&mut self, x: i64, y: i64, c: Rgb) {
        if let Some(i) = self.index(x, y) {
            self.data[i..i + 3].copy_from_slice(&c);
        }
    }

    /// Mixes `c` into one pixel with opacity `alpha` in [0, 1].
    pub(crate) fn blend(&mut self, x: i64, y: i64, c: Rgb, alpha: f32) {
        let a = alpha.clamp(0.0, 1.0);
        if a <= 0.0 {
            return;
        }
        if let Some(i) = self.index(x, y) {
            for (dst, &src) in self.data[i..i + 3].iter_mut().zip(&c) {
                let old = f32::from(*dst);
                *dst = (old + (f32::from(src) - old) * a).round() as u8;
            }
        }
    }

    /// Fills a rectangle, clipped to the canvas.
    pub(crate) fn fill_rect(&mut self, r: Rect, c: Rgb) {
        let r = r.intersect(&Rect::new(0, 0, i64::from(self.width), i64::from(self.height)));
        for y in r.y0..r.y1 {
            for x in r.x0..r.x1 {
                self.put(x, y, c);
            }
        }
    }

    /// Draws a one-pixel outline just inside `r`.
    pub(crate) fn outline(&mut self, r: Rect, c: Rgb) {
        self.fill_rect(Rect { y1: r.y0 + 1, ..r }, c);
        self.fill_rect(Rect { y0: r.y1 - 1, ..r }, c);
        self.fill_rect(Rect { x1: r.x0 + 1, ..r }, c);
        self.fill_rect(Rect { x0: r.x1 - 1, ..r }, c);
    }

    /// Draws `text` with its top-left corner at (`x`, `y`); characters the font lacks are drawn
    /// as `?`. Returns the width drawn.
    pub(crate) fn text(&mut self, x: i64, y: i64, text: &str, font: Font, c: Rgb) -> i64 {
        self.glyphs(text, font, c, |cx, gx, gy| (x + cx + gx, y + gy))
    }

    /// Draws `text` turned 90° anticlockwise (reading upwards), with the start of the text at
    /// the bottom: the text occupies `x..x + height` × `y_bottom - width..y_bottom`.
    pub(crate) fn text_up(&mut self, x: i64, y_bottom: i64, text: &str, font: Font, c: Rgb) -> i64 {
        self.glyphs(text, font, c, |cx, gx, gy| (x + gy, y_bottom - 1 - (cx + gx)))
    }

    /// Draws `text` centred horizontally on `cx`.
    pub(crate) fn text_centered(&mut self, cx: i64, y: i64, text: &str, font: Font, c: Rgb) {
        self.text(cx - font.width(text) / 2, y, text, font, c);
    }

    fn glyphs(&mut self, text: &str, font: Font, c: Rgb, place: impl Fn(i64, i64, i64) -> (i64, i64)) -> i64 {
        let (weight, height) = font.parts();
        let advance = get_raster_width(weight, height) as i64;
        let mut cx = 0;
        for ch in text.chars() {
            let glyph = get_raster(ch, weight, height).or_else(|| get_raster('?', weight, height));
            if let Some(g) = glyph {
                for (gy, row) in g.rows().enumerate() {
                    for (gx, &v) in row.iter().enumerate() {
                        if v > 0 {
                            let (px, py) = place(cx, gx as i64, gy as i64);
                            self.blend(px, py, c, f32::from(v) / 255.0);
                        }
                    }
                }
            }
            cx += advance;
        }
        cx
    }

    /// Strokes the polyline through `points` with an anti-aliased line `width` pixels wide,
    /// clipped to `clip`. Overlapping segments do not darken each other.
    pub(crate) fn stroke(&mut self, points: &[(f64, f64)], width: f64, c: Rgb, clip: Rect) {
        let Some(first) = points.first() else { return };
        let hw = width / 2.0;
        let pad = hw + 1.0;
        let (mut lo, mut hi) = (*first, *first);
        for &(x, y) in points {
            lo = (lo.0.min(x), lo.1.min(y));
            hi = (hi.0.max(x), hi.1.max(y));
        }
        let area =
            Rect { x0: pixel(lo.0 - pad), y0: pixel(lo.1 - pad), x1: pixel(hi.0 + pad) + 2, y1: pixel(hi.1 + pad) + 2 }
                .intersect(&clip)
                .intersect(&Rect::new(0, 0, i64::from(self.width), i64::from(self.height)));
        if area.width() <= 0 || area.height() <= 0 {
            return;
        }
        let mw = area.width() as usize;
        let mut mask = vec![0f32; mw * area.height() as usize];
        let segments: Vec<((f64, f64), (f64, f64))> = if points.len() == 1 {
            vec![(points[0], points[0])]
        } else {
            points.windows(2).map(|w| (w[0], w[1])).collect()
        };
        for (a, b) in segments {
            let seg = Rect {
                x0: pixel(a.0.min(b.0) - pad),
                y0: pixel(a.1.min(b.1) - pad),
                x1: pixel(a.0.max(b.0) + pad) + 2,
                y1: pixel(a.1.max(b.1) + pad) + 2,
            }
            .intersect(&area);
            for y in seg.y0..seg.y1 {
                for x in seg.x0..seg.x1 {
                    let d = distance_to_segment((x as f64 + 0.5, y as f64 + 0.5), a, b);
                    let cov = (hw + 0.5 - d).clamp(0.0, 1.0) as f32;
                    let m = &mut mask[(y - area.y0) as usize * mw + (x - area.x0) as usize];
                    *m = m.max(cov);
                }
            }
        }
        for y in area.y0..area.y1 {
            for x in area.x0..area.x1 {
                self.blend(x, y, c, mask[(y - area.y0) as usize * mw + (x - area.x0) as usize]);
            }
        }
    }

    /// Fills an anti-aliased disc of radius `r` centred on (`cx`, `cy`) with opacity `alpha`,
    /// clipped to `clip`.
    pub(crate) fn disc(&mut self, cx: f64, cy: f64, r: f64, c: Rgb, alpha: f32, clip: Rect) {
        let area = Rect {
            x0: pixel(cx - r - 1.0),
            y0: pixel(cy - r - 1.0),
            x1: pixel(cx + r + 1.0) + 2,
            y1: pixel(cy + r + 1.0) + 2,
        }
        .intersect(&clip);
        for y in area.y0..area.y1 {
            for x in area.x0..area.x1 {
                let d = ((x as f64 + 0.5 - cx).powi(2) + (y as f64 + 0.5 - cy).powi(2)).sqrt();
                let cov = (r + 0.5 - d).clamp(0.0, 1.0) as f32;
                if cov > 0.0 {
                    self.blend(x, y, c, cov * alpha);
                }
            }
        }
    }
}

/// The pixel index of coordinate `v`, kept far from overflow (NaN gives 0).
pub(crate) fn pixel(v: f64) -> i64 {
    v.clamp(-1e9, 1e9).floor() as i64
}

fn distance_to_segment(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (qx, qy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - qx).powi(2) + (p.1 - qy).powi(2)).sqrt()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Decodes PNG bytes: (width, height, colour type, pixels).
    pub(crate) fn decode(bytes: &[u8]) -> (u32, u32, png::ColorType, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().expect("a small image")];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, info.color_type, buf)
    }

    #[test]
    fn rejects_empty_and_huge_canvases() {
        assert!(Canvas::new(0, 10, WHITE).is_err());
        assert!(Canvas::new(100_000, 100_000, WHITE).is_err());
    }

    #[test]
    fn grey_canvas_encodes_as_grayscale_and_colour_as_rgb() {
        let mut c = Canvas::new(5, 3, [10, 10, 10]).unwrap();
        let (w, h, ct, px) = decode(&c.encode_png().unwrap());
        assert_eq!((w, h, ct, px.len()), (5, 3, png::ColorType::Grayscale, 15));
        c.put(4, 2, [255, 0, 0]);
        let (_, _, ct, px) = decode(&c.encode_png().unwrap());
        assert_eq!(ct, png::ColorType::Rgb);
        assert_eq!(&px[px.len() - 3..], &[255, 0, 0]);
    }

    #[test]
    fn drawing_outside_is_clipped() {
        let mut c = Canvas::new(10, 10, WHITE).unwrap();
        let all = Rect::new(0, 0, 10, 10);
        c.fill_rect(Rect::new(-5, -5, 100, 3), INK);
        c.stroke(&[(-50.0, -50.0), (50.0, 50.0)], 2.0, INK, all);
        c.disc(-100.0, 5.0, 3.0, INK, 1.0, all);
        c.text(-3, 8, "Wide text far outside", Font::Text, INK);
        c.text_up(5, 200, "up", Font::Title, INK);
        assert_eq!(c.pixel(0, 0), Some(INK));
        assert_eq!(c.pixel(9, 9), Some(INK));
        assert_eq!(c.pixel(10, 0), None);
    }

    #[test]
    fn text_is_drawn_and_measured() {
        let mut c = Canvas::new(100, 30, WHITE).unwrap();
        let w = c.text(2, 2, "0.25", Font::Text, INK);
        assert_eq!(w, Font::Text.width("0.25"));
        assert!(c.as_rgb().chunks(3).any(|p| p[0] < 128));
        assert!(Font::Title.width("ab") > Font::Text.width("ab"));
    }

    #[test]
    fn stack_centres_parts() {
        let a = Canvas::new(4, 2, [0, 0, 0]).unwrap();
        let b = Canvas::new(2, 1, [0, 0, 0]).unwrap();
        let s = Canvas::stack_vertical(&[a, b], 3, WHITE).unwrap();
        assert_eq!((s.width(), s.height()), (4, 6));
        assert_eq!(s.pixel(0, 5), Some(WHITE));
        assert_eq!(s.pixel(1, 5), Some([0, 0, 0]));
        assert_eq!(s.pixel(0, 3), Some(WHITE));
        assert!(Canvas::stack_vertical(&[], 1, WHITE).is_err());
    }
}
