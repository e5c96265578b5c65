//! [`Conv2d`] (weight `[out, in, kh, kw]`) and [`ConvTranspose2d`] (weight `[in, out, kh, kw]`)
//! with PyTorch's layouts, options and default initialisation. Both take `[n, c, h, w]`.

use latent_tensor::{ConvOptions, Rectifier, Tensor, TensorRng};
use serde::{Deserialize, Serialize};

use crate::error::{NnError, Result};
use crate::init::{fans, torch_default_bias, torch_default_weight};
use crate::module::{Ctx, Layer, Module};

/// The shape and options of a [`Conv2d`] (PyTorch's `nn.Conv2d` without groups or dilation).
///
/// In JSON (layer specs, checkpoint metadata) the options are fields of their own, as they
/// always were: `{"in_channels": 1, "out_channels": 4, "kernel_size": [3, 3], "stride": [2, 2],
/// "padding": [1, 1], "bias": true}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Conv2dJson", into = "Conv2dJson")]
pub struct Conv2dConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel size `(kh, kw)`.
    pub kernel_size: (usize, usize),
    /// Stride and zero padding on each side; the output padding must stay zero (it belongs to a
    /// transposed convolution).
    pub options: ConvOptions,
    /// Whether the layer adds a per-channel bias.
    pub bias: bool,
}

impl Conv2dConfig {
    /// A square `kernel` with stride 1, no padding and a bias (PyTorch's defaults).
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize) -> Self {
        Conv2dConfig {
            in_channels,
            out_channels,
            kernel_size: (kernel, kernel),
            options: ConvOptions::default(),
            bias: true,
        }
    }

    /// The same with stride `s` on both axes.
    pub fn stride(self, s: usize) -> Self {
        Conv2dConfig { options: ConvOptions { stride: (s, s), ..self.options }, ..self }
    }

    /// The same with padding `p` on both axes.
    pub fn padding(self, p: usize) -> Self {
        Conv2dConfig { options: ConvOptions { padding: (p, p), ..self.options }, ..self }
    }

    /// The same with or without a bias.
    pub fn bias(self, bias: bool) -> Self {
        Conv2dConfig { bias, ..self }
    }
}

/// [`Conv2dConfig`] as JSON: the options as separate fields.
#[derive(Clone, Copy, Serialize, Deserialize)]
struct Conv2dJson {
    in_channels: usize,
    out_channels: usize,
    kernel_size: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
    bias: bool,
}

impl From<Conv2dJson> for Conv2dConfig {
    fn from(j: Conv2dJson) -> Self {
        let options = ConvOptions { stride: j.stride, padding: j.padding, output_padding: (0, 0) };
        Conv2dConfig {
            in_channels: j.in_channels,
            out_channels: j.out_channels,
            kernel_size: j.kernel_size,
            options,
            bias: j.bias,
        }
    }
}

impl From<Conv2dConfig> for Conv2dJson {
    fn from(c: Conv2dConfig) -> Self {
        let (stride, padding) = (c.options.stride, c.options.padding);
        Conv2dJson {
            in_channels: c.in_channels,
            out_channels: c.out_channels,
            kernel_size: c.kernel_size,
            stride,
            padding,
            bias: c.bias,
        }
    }
}

/// The shape and options of a [`ConvTranspose2d`] (PyTorch's `nn.ConvTranspose2d` without
/// groups or dilation).
///
/// In JSON the options are fields of their own, as they always were (`"stride"`, `"padding"`,
/// `"output_padding"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ConvTranspose2dJson", into = "ConvTranspose2dJson")]
pub struct ConvTranspose2dConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel size `(kh, kw)`.
    pub kernel_size: (usize, usize),
    /// Stride, rows/columns removed from each side of the output (padding), and rows/columns
    /// added on one side (output padding, smaller than the stride).
    pub options: ConvOptions,
    /// Whether the layer adds a per-channel bias.
    pub bias: bool,
}

impl ConvTranspose2dConfig {
    /// A square `kernel` with stride 1, no padding and a bias (PyTorch's defaults).
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize) -> Self {
        ConvTranspose2dConfig {
            in_channels,
            out_channels,
            kernel_size: (kernel, kernel),
            options: ConvOptions::default(),
            bias: true,
        }
    }

    /// The same with stride `s` on both axes.
    pub fn stride(self, s: usize) -> Self {
        ConvTranspose2dConfig { options: ConvOptions { stride: (s, s), ..self.options }, ..self }
    }

    /// The same with padding `p` on both axes.
    pub fn padding(self, p: usize) -> Self {
        ConvTranspose2dConfig { options: ConvOptions { padding: (p, p), ..self.options }, ..self }
    }

    /// The same with output padding `p` on both axes.
    pub fn output_padding(self, p: usize) -> Self {
        ConvTranspose2dConfig { options: self.options.output_padding(p), ..self }
    }

    /// The same with or without a bias.
    pub fn bias(self, bias: bool) -> Self {
        ConvTranspose2dConfig { bias, ..self }
    }
}

/// [`ConvTranspose2dConfig`] as JSON: the options as separate fields.
#[derive(Clone, Copy, Serialize, Deserialize)]
struct ConvTranspose2dJson {
    in_channels: usize,
    out_channels: usize,
    kernel_size: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
    output_padding: (usize, usize),
    bias: bool,
}

impl From<ConvTranspose2dJson> for ConvTranspose2dConfig {
    fn from(j: ConvTranspose2dJson) -> Self {
        let options = ConvOptions { stride: j.stride, padding: j.padding, output_padding: j.output_padding };
        ConvTranspose2dConfig {
            in_channels: j.in_channels,
            out_channels: j.out_channels,
            kernel_size: j.kernel_size,
            options,
            bias: j.bias,
        }
    }
}

impl From<ConvTranspose2dConfig> for ConvTranspose2dJson {
    fn from(c: ConvTranspose2dConfig) -> Self {
        let ConvOptions { stride, padding, output_padding } = c.options;
        ConvTranspose2dJson {
            in_channels: c.in_channels,
            out_channels: c.out_channels,
            kernel_size: c.kernel_size,
            stride,
            padding,
            output_padding,
            bias: c.bias,
        }
    }
}

fn check_sizes(
    what: &'static str,
    channels: (usize, usize),
    kernel: (usize, usize),
    stride: (usize, usize),
) -> Result<()> {
    if channels.0 == 0 || channels.1 == 0 || kernel.0 == 0 || kernel.1 == 0 || stride.0 == 0 || stride.1 == 0 {
        return Err(NnError::config(
            what,
            format!(
                "channels, kernel and stride must be positive, found channels {channels:?}, kernel {kernel:?}, stride {stride:?}"
            ),
        ));
    }
    Ok(())
}

/// A weight and optional bias drawn as PyTorch draws them (bias bound from the weight's fan_in).
fn torch_default_params(
    shape: &[usize],
    bias_len: usize,
    bias: bool,
    rng: &mut TensorRng,
) -> Result<(Tensor, Option<Tensor>)> {
    let weight = Tensor::parameter(torch_default_weight(shape, rng)?);
    let bias = if bias { Some(Tensor::parameter(torch_default_bias(bias_len, fans(shape)?.0, rng)?)) } else { None };
    Ok((weight, bias))
}

fn check_tensors(what: &'static str, weight: &Tensor, bias: Option<&Tensor>, out_axis: usize) -> Result<()> {
    if weight.ndim() != 4 {
        return Err(NnError::config(what, format!("weight must be 4-D, found {:?}", weight.shape())));
    }
    let out = weight.shape()[out_axis];
    if let Some(b) = bias
        && b.shape() != [out]
    {
        return Err(NnError::config(
            what,
            format!("bias must be [{out}] for weight {:?}, found {:?}", weight.shape(), b.shape()),
        ));
    }
    Ok(())
}

fn check_input(what: &'static str, x: &Tensor, channels: usize) -> Result<()> {
    if x.ndim() != 4 || x.shape()[1] != channels {
        return Err(NnError::input(what, format!("expected input [n, {channels}, h, w], found {:?}", x.shape())));
    }
    Ok(())
}

/// A 2-D convolution (cross-correlation, as PyTorch): `[n, in, h, w] → [n, out, h', w']`.
#[derive(Clone, Debug, Module)]
pub struct Conv2d {
    weight: Tensor,
    bias: Option<Tensor>,
    #[module(skip)]
    options: ConvOptions,
}

impl Conv2d {
    /// A layer of the given shape, initialised as PyTorch does (weight and bias
    /// `U(-1/√fan_in, 1/√fan_in)`, `fan_in = in·kh·kw`).
    ///
    /// # Errors
    /// If a size or the stride is zero, or the output padding is not.
    pub fn new(config: &Conv2dConfig, rng: &mut TensorRng) -> Result<Self> {
        let c = config;
        check_sizes("Conv2d", (c.in_channels, c.out_channels), c.kernel_size, c.options.stride)?;
        check_no_output_padding(c.options)?;
        let shape = [c.out_channels, c.in_channels, c.kernel_size.0, c.kernel_size.1];
        let (weight, bias) = torch_default_params(&shape, c.out_channels, c.bias, rng)?;
        Ok(Conv2d { weight, bias, options: c.options })
    }

    /// A layer using the given tensors as they are: weight `[out, in, kh, kw]`, bias `[out]`.
    ///
    /// # Errors
    /// If the shapes do not fit, the stride is zero, or the output padding is not.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, options: ConvOptions) -> Result<Self> {
        check_tensors("Conv2d", &weight, bias.as_ref(), 0)?;
        let s = weight.shape();
        check_sizes("Conv2d", (s[1], s[0]), (s[2], s[3]), options.stride)?;
        check_no_output_padding(options)?;
        Ok(Conv2d { weight, bias, options })
    }

    /// The layer's shape and options.
    pub fn config(&self) -> Conv2dConfig {
        let s = self.weight.shape();
        Conv2dConfig {
            in_channels: s[1],
            out_channels: s[0],
            kernel_size: (s[2], s[3]),
            options: self.options,
            bias: self.bias.is_some(),
        }
    }

    /// The weight `[out, in, kh, kw]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The weight, for initialisers (which keep its shape).
    pub(crate) fn weight_mut(&mut self) -> &mut Tensor {
        &mut self.weight
    }

    /// The bias `[out]`, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }
}

impl Layer for Conv2d {
    fn forward(&mut self, x: &Tensor, _ctx: &mut Ctx) -> Result<Tensor> {
        check_input("Conv2d", x, self.weight.shape()[1])?;
        Ok(x.conv2d(&self.weight, self.bias.as_ref(), self.options)?)
    }

    fn forward_rectified(&mut self, x: &Tensor, rectifier: Rectifier, _ctx: &mut Ctx) -> Result<Tensor> {
        check_input("Conv2d", x, self.weight.shape()[1])?;
        Ok(x.conv2d_rectified(&self.weight, self.bias.as_ref(), self.options, Some(rectifier))?)
    }
}

/// A 2-D transposed convolution (the adjoint of [`Conv2d`]): `[n, in, h, w] → [n, out, h', w']`
/// with `h' = (h - 1)·s - 2p + kh + output_padding`.
#[derive(Clone, Debug, Module)]
pub struct ConvTranspose2d {
    weight: Tensor,
    bias: Option<Tensor>,
    #[module(skip)]
    options: ConvOptions,
}

impl ConvTranspose2d {
    /// A layer of the given shape, initialised as PyTorch does: weight and bias
    /// `U(-1/√fan_in, 1/√fan_in)` with PyTorch's `fan_in = out·kh·kw` (dimension 1 of the
    /// `[in, out, kh, kw]` weight).
    ///
    /// # Errors
    /// If a size or the stride is zero, or the output padding is not smaller than the stride.
    pub fn new(config: &ConvTranspose2dConfig, rng: &mut TensorRng) -> Result<Self> {
        let c = config;
        check_sizes("ConvTranspose2d", (c.in_channels, c.out_channels), c.kernel_size, c.options.stride)?;
        check_output_padding(c.options.output_padding, c.options.stride)?;
        let shape = [c.in_channels, c.out_channels, c.kernel_size.0, c.kernel_size.1];
        let (weight, bias) = torch_default_params(&shape, c.out_channels, c.bias, rng)?;
        Ok(ConvTranspose2d { weight, bias, options: c.options })
    }

    /// A layer using the given tensors as they are: weight `[in, out, kh, kw]`, bias `[out]`.
    ///
    /// # Errors
    /// If the shapes do not fit, the stride is zero, or the output padding is not smaller than
    /// the stride.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, options: ConvOptions) -> Result<Self> {
        check_tensors("ConvTranspose2d", &weight, bias.as_ref(), 1)?;
        let s = weight.shape();
        check_sizes("ConvTranspose2d", (s[0], s[1]), (s[2], s[3]), options.stride)?;
        check_output_padding(options.output_padding, options.stride)?;
        Ok(ConvTranspose2d { weight, bias, options })
    }

    /// The layer's shape and options.
    pub fn config(&self) -> ConvTranspose2dConfig {
        let s = self.weight.shape();
        ConvTranspose2dConfig {
            in_channels: s[0],
            out_channels: s[1],
            kernel_size: (s[2], s[3]),
            options: self.options,
            bias: self.bias.is_some(),
        }
    }

    /// The weight `[in, out, kh, kw]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The weight, for initialisers (which keep its shape).
    pub(crate) fn weight_mut(&mut self) -> &mut Tensor {
        &mut self.weight
    }

    /// The bias `[out]`, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }
}

/// A convolution's options must not carry a transposed convolution's output padding (it would
/// be ignored, and a config's JSON has no field for it).
fn check_no_output_padding(options: ConvOptions) -> Result<()> {
    if options.output_padding != (0, 0) {
        return Err(NnError::config(
            "Conv2d",
            format!(
                "output padding belongs to a transposed convolution, found {:?} (use ConvTranspose2d)",
                options.output_padding
            ),
        ));
    }
    Ok(())
}

fn check_output_padding(output_padding: (usize, usize), stride: (usize, usize)) -> Result<()> {
    if output_padding.0 >= stride.0 || output_padding.1 >= stride.1 {
        return Err(NnError::config(
            "ConvTranspose2d",
            format!("output padding must be smaller than the stride, found {output_padding:?} with stride {stride:?}"),
        ));
    }
    Ok(())
}

impl Layer for ConvTranspose2d {
    fn forward(&mut self, x: &Tensor, _ctx: &mut Ctx) -> Result<Tensor> {
        check_input("ConvTranspose2d", x, self.weight.shape()[0])?;
        Ok(x.conv_transpose2d(&self.weight, self.bias.as_ref(), self.options)?)
    }

    fn forward_rectified(&mut self, x: &Tensor, rectifier: Rectifier, _ctx: &mut Ctx) -> Result<Tensor> {
        check_input("ConvTranspose2d", x, self.weight.shape()[0])?;
        Ok(x.conv_transpose2d_rectified(&self.weight, self.bias.as_ref(), self.options, Some(rectifier))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_shapes_and_names_follow_pytorch() {
        let mut rng = TensorRng::seed_from_u64(0);
        let mut conv = Conv2d::new(&Conv2dConfig::new(3, 8, 4).stride(2).padding(1), &mut rng).unwrap();
        assert_eq!(conv.weight().shape(), [8, 3, 4, 4]);
        let y = conv.forward(&Tensor::zeros(&[2, 3, 28, 28]), &mut Ctx::eval()).unwrap();
        assert_eq!(y.shape(), [2, 8, 14, 14]);
        // Zero input: the output is the bias, per channel.
        let b = conv.bias().unwrap().to_vec();
        assert_eq!(y.to_array()[[1, 5, 3, 7]], b[5]);
        // Default init bound is 1/√(3·4·4).
        let bound = 1.0 / 48f32.sqrt();
        assert!(conv.weight().to_vec().iter().chain(b.iter()).all(|v| v.abs() <= bound));
        assert_eq!(conv.config(), Conv2dConfig::new(3, 8, 4).stride(2).padding(1));
    }

    #[test]
    fn transposed_conv_uses_in_out_layout_and_torch_fan_in() {
        let mut rng = TensorRng::seed_from_u64(1);
        let config = ConvTranspose2dConfig::new(8, 3, 4).stride(2).padding(1);
        let mut up = ConvTranspose2d::new(&config, &mut rng).unwrap();
        assert_eq!(up.weight().shape(), [8, 3, 4, 4]);
        let y = up.forward(&Tensor::zeros(&[2, 8, 7, 7]), &mut Ctx::eval()).unwrap();
        assert_eq!(y.shape(), [2, 3, 14, 14]);
        // PyTorch's fan_in for [in, out, kh, kw] is out·kh·kw = 48.
        let bound = 1.0 / 48f32.sqrt();
        let w = up.weight().to_vec();
        assert!(w.iter().all(|v| v.abs() <= bound));
        assert!(w.iter().any(|v| v.abs() > 0.9 * bound));
        assert_eq!(up.config(), config);
    }

    #[test]
    fn bad_configs_and_inputs_are_errors() {
        let mut rng = TensorRng::seed_from_u64(2);
        assert!(Conv2d::new(&Conv2dConfig::new(1, 2, 3).stride(0), &mut rng).is_err());
        assert!(
            ConvTranspose2d::new(&ConvTranspose2dConfig::new(1, 2, 3).stride(2).output_padding(2), &mut rng).is_err()
        );
        let output_padding = ConvOptions::new(2, 0).output_padding(1);
        let err = Conv2d::from_tensors(Tensor::zeros(&[2, 1, 3, 3]), None, output_padding).unwrap_err();
        assert!(err.to_string().contains("transposed"), "{err}");
        let config = Conv2dConfig { options: output_padding, ..Conv2dConfig::new(1, 2, 3) };
        assert!(Conv2d::new(&config, &mut rng).is_err());
        let mut conv = Conv2d::new(&Conv2dConfig::new(3, 2, 3), &mut rng).unwrap();
        let err = conv.forward(&Tensor::zeros(&[1, 2, 5, 5]), &mut Ctx::eval()).unwrap_err();
        assert!(err.to_string().contains("[n, 3, h, w]"), "{err}");
    }

    #[test]
    fn config_json_has_the_fields_checkpoints_were_written_with() {
        // As in the metadata of tests/fixtures/rust_model.safetensors, written before stride,
        // padding and output padding became one options type.
        let conv =
            r#"{"in_channels":1,"out_channels":4,"kernel_size":[3,3],"stride":[2,2],"padding":[1,1],"bias":true}"#;
        let c: Conv2dConfig = serde_json::from_str(conv).unwrap();
        assert_eq!(c, Conv2dConfig::new(1, 4, 3).stride(2).padding(1));
        assert_eq!(serde_json::to_string(&c).unwrap(), conv);
        let up = r#"{"in_channels":4,"out_channels":2,"kernel_size":[4,4],"stride":[2,2],"padding":[1,1],"output_padding":[1,1],"bias":false}"#;
        let t: ConvTranspose2dConfig = serde_json::from_str(up).unwrap();
        assert_eq!(t, ConvTranspose2dConfig::new(4, 2, 4).stride(2).padding(1).output_padding(1).bias(false));
        assert_eq!(serde_json::to_string(&t).unwrap(), up);
    }
}
