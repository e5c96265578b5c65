//! Pictures from arrays, as PNG: grids of images, line charts of training curves, scatter plots
//! of 2-D codes. Pure Rust, no system fonts: text comes pre-rasterised from the Noto Sans Mono
//! glyphs of the `noto-sans-mono-bitmap` crate, PNG encoding from the `png` crate, and every
//! file is written atomically through [`latent_fsio`] (a reader sees the old picture or the whole
//! new one). The same input always gives the same bytes.
//!
//! - [`mod@image`]: [`ImageGrid`] lays a batch of images (`[N, H*W]`, `[N, C*H*W]` with its
//!   shape, `[N, H, W]`, `[N, 1|3, H, W]` of `f32` in a [`ValueRange`]) out in rows and columns,
//!   grey or RGB;
//!   [`stack_vertical`] puts grids one above another (originals above reconstructions).
//! - [`plot`]: [`LineChart`], named series of (x, y) points with axes, ticks and a legend.
//! - [`scatter`]: [`ScatterPlot`], `[N, 2]` points coloured by labels 0–9.
//! - [`canvas`]: [`Canvas`], the RGB raster they all draw on, and its PNG encoding.
//! - [`error`]: [`VizError`], the one error type.
//!
//! ```
//! use latent_viz::{ImageGrid, LineChart, ValueRange};
//! use ndarray::Array2;
//!
//! let dir = tempfile::tempdir()?;
//! // Sixteen 28 x 28 images, flat rows in [-1, 1], as a 4 x 4 grid.
//! let images = Array2::from_shape_fn((16, 784), |(i, p)| ((i * 784 + p) % 97) as f32 / 48.0 - 1.0);
//! let grid = ImageGrid::new().cols(4).range(ValueRange::SYMMETRIC).title("samples");
//! grid.write_png(dir.path().join("samples.png"), &images)?;
//!
//! let chart = LineChart::new("loss per example")
//!     .x_label("epoch")
//!     .y_label("nats")
//!     .series("train", [(1.0, 164.2), (2.0, 121.5), (3.0, 114.8)]);
//! chart.write_png(dir.path().join("loss.png"))?;
//!
//! let png = std::fs::read(dir.path().join("samples.png"))?;
//! assert!(png.starts_with(b"\x89PNG"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod axes;
pub mod canvas;
pub mod error;
pub mod image;
pub mod plot;
pub mod scatter;

pub use canvas::{Canvas, PALETTE, Rgb, WHITE};
pub use error::VizError;
pub use image::{ImageGrid, ValueRange, stack_vertical};
pub use plot::LineChart;
pub use scatter::ScatterPlot;
