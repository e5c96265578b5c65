//! Memory estimates made before allocating: how many bytes a model, a training run or a request
//! (samples, interpolation points, importance samples, reconstructions, codes) needs, checked
//! against a limit, so a size no machine can hold is refused with a clear error instead of
//! aborting in an allocation ("memory allocation of N bytes failed") or panicking on a shape
//! that overflows.
//!
//! # What is counted
//! A model's [`Footprint`] is counted from its configuration, not from built layers: its
//! parameters (and BatchNorm buffers), and the values its layers produce per example in one
//! pass. Every family counts its own layer lists ([`crate::FamilyConfig::footprint`], through
//! [`Footprint::of_layers`]); the arithmetic saturates, so an absurd size gives an absurd
//! estimate, never an overflow. From it, in 4-byte `f32` values:
//!
//! - **a model** ([`Footprint::weights_bytes`]): its parameters;
//! - **training** ([`Footprint::training_bytes`]): parameters, their gradients and the
//!   optimiser's state (Adam 2 values per parameter, SGD with momentum 1, RMSprop 1 or 2),
//!   plus for each example of a batch its input and every layer's output twice (kept for the
//!   backward pass, and its gradient);
//! - **a request** ([`Footprint::inference_bytes`]): parameters, every layer's output for the
//!   rows in flight at once (no gradients), and the values the request keeps (its output, a copy
//!   of the data).
//!
//! These are estimates of the dominant terms, a little above what is used; they decide only
//! between "fits" and "does not fit by far".
//!
//! # The limit
//! [`DEFAULT_LIMIT`] (8 GiB) unless changed for the process with [`set_limit`]; the `latent`
//! command sets it from `--max-memory SIZE` or the `LATENT_MAX_MEMORY` environment variable
//! ([`LIMIT_ENV`]), sizes such as `32G` or `512MiB` ([`parse_size`]). [`check`] refuses an
//! estimate above it with [`ModelError::Memory`], whose message names what was asked, the
//! estimate and the limit, and says how to raise it.
//!
//! ```
//! use latent_models::ModelConfig;
//! use latent_models::memory::{self, Footprint};
//!
//! let vae: ModelConfig = serde_json::from_str(r#"{"kind":"vae","input_dim":784,"hidden":[400],
//!     "latent_dim":20,"activation":"relu","beta":1.0}"#).unwrap();
//! let f = vae.footprint().unwrap();
//! assert_eq!(f.parameters, 652_824); // as PyTorch counts pytorch/examples' VAE
//! assert!(memory::check(|| "the VAE".into(), f.training_bytes(128, 2)).is_ok());
//!
//! let huge: ModelConfig = serde_json::from_str(r#"{"kind":"vae","input_dim":784,
//!     "hidden":[1000000000],"latent_dim":20,"activation":"relu","beta":1.0}"#).unwrap();
//! let e = memory::check(|| "--hidden 1000000000".into(), huge.footprint().unwrap().weights_bytes())
//!     .unwrap_err().to_string();
//! assert!(e.contains("--hidden 1000000000") && e.contains("TiB") && e.contains("--max-memory"), "{e}");
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use latent_nn::layers::LayerSpec;

use crate::error::{ModelError, Result};
use crate::family::Description;
use crate::optimizers::OptimizerKind;
use crate::train::TrainOptions;

/// The limit unless set otherwise: 8 GiB.
pub const DEFAULT_LIMIT: u64 = 8 << 30;

/// The environment variable the `latent` command reads the limit from (`--max-memory` wins).
pub const LIMIT_ENV: &str = "LATENT_MAX_MEMORY";

/// Bytes of one value (`f32`).
const VALUE: u64 = 4;

static LIMIT: AtomicU64 = AtomicU64::new(DEFAULT_LIMIT);

/// The limit in bytes that [`check`] holds estimates to.
pub fn limit() -> u64 {
    LIMIT.load(Ordering::Relaxed)
}

/// Set the limit for the whole process (the `latent` command does so once, from
/// `--max-memory`).
pub fn set_limit(bytes: u64) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

/// Read a size: a number of bytes with an optional unit, `K`, `M`, `G`, `T` (powers of 1024, with
/// or without `i` and `B`: `32G`, `32GiB`, `32gb`), or `B`; a fraction is allowed with a unit
/// (`1.5G`).
///
/// ```
/// use latent_models::memory::parse_size;
/// assert_eq!(parse_size("32G").unwrap(), 32 << 30);
/// assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
/// assert_eq!(parse_size("1.5k").unwrap(), 1536);
/// assert_eq!(parse_size("1000").unwrap(), 1000);
/// assert!(parse_size("lots").is_err() && parse_size("-1G").is_err() && parse_size("99999999T").is_err());
/// ```
///
/// # Errors
/// If the text is not a size, or is more than `u64::MAX` bytes.
pub fn parse_size(text: &str) -> Result<u64> {
    let bad = |why: &str| ModelError::input(text, format!("not a size ({why}); use e.g. 32G, 512M or 1.5T"));
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let shift = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(bad("unknown unit")),
    };
    let value: f64 = number.parse().map_err(|_| bad("no number"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !(bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64) {
        return Err(bad("out of range"));
    }
    Ok(bytes.round() as u64)
}

/// A number of bytes shown with a binary unit: `512 B`, `3.0 KiB`, `7.45 GiB`, `1.2 PiB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        match unit {
            0 => write!(f, "{} B", self.0),
            _ if value < 10.0 => write!(f, "{value:.2} {}", UNITS[unit]),
            _ if value < 100.0 => write!(f, "{value:.1} {}", UNITS[unit]),
            _ => write!(f, "{value:.0} {}", UNITS[unit]),
        }
    }
}

/// Refuse `bytes` above the [`limit`]: `what` (called only then) says what was asked, naming the
/// flag or field (`"--hidden 1000000000"`).
///
/// # Errors
/// [`ModelError::Memory`] with `what`, the estimate and the limit.
pub fn check(what: impl FnOnce() -> String, bytes: u64) -> Result<()> {
    let limit = limit();
    if bytes > limit { Err(ModelError::Memory { what: what(), needed: bytes, limit }) } else { Ok(()) }
}

/// Bytes to train a model of `footprint` as `options` say on `examples` training examples (a
/// batch is at most the whole set).
pub fn training_need(footprint: &Footprint, options: &TrainOptions, examples: usize) -> u64 {
    let batch = options.batch_size.min(examples.max(1)) as u64;
    footprint.training_bytes(batch, optimizer_slots(options.optimizer, options.momentum))
}

/// Values stored per parameter by an optimiser (beside the parameter and its gradient).
pub fn optimizer_slots(kind: OptimizerKind, momentum: f64) -> u64 {
    let momentum = u64::from(momentum != 0.0);
    match kind {
        OptimizerKind::Adam => 2,
        OptimizerKind::Sgd => momentum,
        OptimizerKind::Rmsprop => 1 + momentum,
    }
}

/// The sizes a memory estimate starts from, in values (see the module docs). Sums and products
/// saturate at `u64::MAX`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Parameters and buffers.
    pub parameters: u64,
    /// Values the layers produce per example in one forward pass (every layer's output).
    pub activations: u64,
    /// Values of one example's input.
    pub input: u64,
}

impl Footprint {
    /// The layers `specs` applied to examples of shape `input` (without the batch axis: `[784]`
    /// for flat rows, `[1, 28, 28]` for images).
    ///
    /// ```
    /// use latent_models::memory::Footprint;
    /// use latent_nn::layers::{LayerSpec, LinearConfig};
    /// let layers = [LayerSpec::Linear(LinearConfig::new(784, 400)), LayerSpec::Relu];
    /// let f = Footprint::of_layers(&layers, &[784]);
    /// assert_eq!((f.parameters, f.activations, f.input), (784 * 400 + 400, 800, 784));
    /// ```
    pub fn of_layers(specs: &[LayerSpec], input: &[usize]) -> Footprint {
        let mut shape: Vec<u64> = input.iter().map(|&d| d as u64).collect();
        let mut f = Footprint { input: product(&shape), ..Footprint::default() };
        add_layers(&mut f, specs, &mut shape);
        f
    }

    /// A dense network through `widths` (`[784, 400, 20]`: two Linear layers with biases, an
    /// activation after each but the last).
    pub fn dense(widths: &[usize]) -> Footprint {
        let specs = crate::blocks::mlp::mlp(widths, crate::config::Activation::Relu, None);
        Footprint::of_layers(&specs, &widths[..widths.len().min(1)])
    }

    /// The default of a family that does not count its layers: a dense autoencoder of the
    /// described sizes, input → code → input.
    pub fn from_description(d: &Description) -> Footprint {
        Footprint::dense(&[d.input_dim, d.latent_dim, d.input_dim])
    }

    /// Both together (two networks, or a network and a head); the input is `self`'s.
    #[must_use]
    pub fn plus(self, other: Footprint) -> Footprint {
        Footprint {
            parameters: self.parameters.saturating_add(other.parameters),
            activations: self.activations.saturating_add(other.activations),
            input: self.input,
        }
    }

    /// Bytes of the weights alone.
    pub fn weights_bytes(&self) -> u64 {
        self.parameters.saturating_mul(VALUE)
    }

    /// Bytes to train with batches of `batch` examples and an optimiser keeping `slots` values
    /// per parameter ([`optimizer_slots`]).
    pub fn training_bytes(&self, batch: u64, slots: u64) -> u64 {
        let per_example = self.activations.saturating_mul(2).saturating_add(self.input.saturating_mul(2));
        let params = self.parameters.saturating_mul(slots.saturating_add(2));
        params.saturating_add(per_example.saturating_mul(batch)).saturating_mul(VALUE)
    }

    /// Bytes to run `rows` examples through the model at once without gradients, keeping `held`
    /// more values (the request's output, a copy of its data).
    pub fn inference_bytes(&self, rows: u64, held: u64) -> u64 {
        let per_example = self.activations.saturating_add(self.input);
        self.parameters.saturating_add(per_example.saturating_mul(rows)).saturating_add(held).saturating_mul(VALUE)
    }
}

fn product(shape: &[u64]) -> u64 {
    shape.iter().fold(1u64, |a, &d| a.saturating_mul(d))
}

/// Add each layer's parameters and output size to `f`, carrying the example's shape.
fn add_layers(f: &mut Footprint, specs: &[LayerSpec], shape: &mut Vec<u64>) {
    let sat = |a: u64, b: u64| a.saturating_mul(b);
    for spec in specs {
        let params = match spec {
            LayerSpec::Linear(c) => {
                let (i, o) = (c.in_features as u64, c.out_features as u64);
                match shape.last_mut() {
                    Some(last) => *last = o,
                    None => shape.push(o),
                }
                sat(i, o).saturating_add(if c.bias { o } else { 0 })
            }
            LayerSpec::Conv2d(c) => {
                let (kh, kw) = (c.kernel_size.0 as u64, c.kernel_size.1 as u64);
                let o = c.options;
                let side = |x: u64, k: u64, s: usize, p: usize| {
                    x.saturating_add(2 * p as u64).saturating_sub(k) / (s.max(1) as u64) + 1
                };
                let (h, w) = image_sides(shape);
                *shape = vec![
                    c.out_channels as u64,
                    side(h, kh, o.stride.0, o.padding.0),
                    side(w, kw, o.stride.1, o.padding.1),
                ];
                let weights = sat(sat(c.in_channels as u64, c.out_channels as u64), sat(kh, kw));
                weights.saturating_add(if c.bias { c.out_channels as u64 } else { 0 })
            }
            LayerSpec::ConvTranspose2d(c) => {
                let (kh, kw) = (c.kernel_size.0 as u64, c.kernel_size.1 as u64);
                let o = c.options;
                let side = |x: u64, k: u64, s: usize, p: usize, op: usize| {
                    sat(x.saturating_sub(1), s as u64)
                        .saturating_add(k)
                        .saturating_add(op as u64)
                        .saturating_sub(2 * p as u64)
                };
                let (h, w) = image_sides(shape);
                *shape = vec![
                    c.out_channels as u64,
                    side(h, kh, o.stride.0, o.padding.0, o.output_padding.0),
                    side(w, kw, o.stride.1, o.padding.1, o.output_padding.1),
                ];
                let weights = sat(sat(c.in_channels as u64, c.out_channels as u64), sat(kh, kw));
                weights.saturating_add(if c.bias { c.out_channels as u64 } else { 0 })
            }
            // Weight, bias, running mean and variance per channel.
            LayerSpec::BatchNorm1d(c) | LayerSpec::BatchNorm2d(c) => sat(c.num_features as u64, 4),
            LayerSpec::Flatten { start_dim } => {
                // The batch axis is axis 0 of the layer's input; `shape` leaves it out.
                let keep = start_dim.saturating_sub(1).min(shape.len());
                let merged = product(&shape[keep..]);
                shape.truncate(keep);
                shape.push(merged);
                0
            }
            LayerSpec::Unflatten { dim, sizes } => {
                let at = dim.saturating_sub(1).min(shape.len().saturating_sub(1));
                if at < shape.len() {
                    shape.splice(at..=at, sizes.iter().map(|&s| s as u64));
                }
                0
            }
            LayerSpec::Sequential { layers } => {
                add_layers(f, layers, shape);
                continue;
            }
            LayerSpec::Dropout { .. }
            | LayerSpec::Relu
            | LayerSpec::LeakyRelu { .. }
            | LayerSpec::Elu { .. }
            | LayerSpec::Sigmoid
            | LayerSpec::Tanh
            | LayerSpec::Softplus { .. }
            | LayerSpec::Identity => 0,
        };
        f.parameters = f.parameters.saturating_add(params);
        f.activations = f.activations.saturating_add(product(shape));
    }
}

/// The height and width of an image-shaped example `[c, h, w]` (a flat one counts as one row).
fn image_sides(shape: &[u64]) -> (u64, u64) {
    match shape {
        [.., h, w] if shape.len() >= 3 => (*h, *w),
        [w] => (1, *w),
        _ => (1, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Registry;

    /// The counts agree with the parameters of every built preset, and the activations of a
    /// convolutional stack follow its shapes.
    #[test]
    fn footprints_count_what_the_presets_build() {
        let registry = Registry::builtin();
        for preset in registry.presets() {
            let f = registry.footprint(&preset.config).unwrap();
            let model = registry.build(&preset.config, &mut latent_tensor::TensorRng::seed_from_u64(0)).unwrap();
            let mut buffers = 0u64;
            model.visit_buffers("", &mut |_, b| {
                if let latent_nn::Buffer::F32(a) = b {
                    buffers += a.len() as u64;
                }
            });
            assert_eq!(f.parameters, model.parameter_count() as u64 + buffers, "{}/{}", preset.model, preset.name);
            assert!(f.activations > 0 && f.input >= 784, "{}/{}: {f:?}", preset.model, preset.name);
        }
        // conv 1→32 (k4 s2 p1) on 28×28 gives 32×14×14; ReLU as many again; flatten none new.
        let c = latent_nn::layers::Conv2dConfig::new(1, 32, 4).stride(2).padding(1);
        let f = Footprint::of_layers(&[LayerSpec::Conv2d(c), LayerSpec::Relu], &[1, 28, 28]);
        assert_eq!((f.parameters, f.activations), (32 * 16 + 32, 2 * 32 * 14 * 14));
    }

    #[test]
    fn absurd_sizes_saturate_and_are_refused() {
        let f = Footprint::dense(&[784, usize::MAX, 20]);
        assert_eq!(f.parameters, u64::MAX);
        assert_eq!(f.training_bytes(u64::MAX, 2), u64::MAX);
        let e = check(|| "--hidden 18446744073709551615".into(), f.weights_bytes()).unwrap_err().to_string();
        assert!(e.contains("--hidden 18446744073709551615") && e.contains("16.0 EiB") && e.contains("8.00 GiB"), "{e}");
    }

    #[test]
    fn sizes_print_with_binary_units() {
        assert_eq!(Size(512).to_string(), "512 B");
        assert_eq!(Size(8 << 30).to_string(), "8.00 GiB");
        assert_eq!(Size(3 << 40).to_string(), "3.00 TiB");
        assert_eq!(Size(150 << 20).to_string(), "150 MiB");
    }
}
