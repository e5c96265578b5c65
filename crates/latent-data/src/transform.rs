//! Pixel transforms for the models that need them: binarisation and the corruption processes of
//! denoising autoencoders.
//!
//! All of them work on `f32` images already on a [`Scale`], treating the first axis as the batch
//! axis, and draw their randomness from the generator they are given, so a seeded generator
//! gives the same result every time.
//!
//! - [`Binarize::Static`]: a pixel becomes white if its intensity (in [0, 1]) exceeds a
//!   threshold, black otherwise.
//! - [`Binarize::Dynamic`]: a pixel becomes white with probability equal to its intensity, a
//!   fresh Bernoulli draw each time (the batch iterator draws anew each epoch).
//! - [`NoiseSpec`], parsed from strings such as `gaussian:0.3`, `mask:0.25`, `salt-pepper:0.1`
//!   or `none` (the CLI's `--noise`): additive Gaussian noise with standard deviation given as a
//!   fraction of the pixel range, clipped to the range; masking noise, which sets a fixed
//!   fraction of each image's pixels, chosen at random, to black (0 on [0, 1]); salt-and-pepper
//!   noise, which sets a fixed fraction of each image's pixels to black or white by a fair coin
//!   (Vincent et al., 2010).

use std::fmt;
use std::str::FromStr;

use ndarray::{Array, ArrayBase, ArrayView, Data, DataMut, Dimension};
use rand::Rng;
use rand::seq::index;
use rand_distr::StandardNormal;

use crate::dataset::Scale;
use crate::error::DataError;

/// Binarisation: pixels become exactly the scale's minimum or maximum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Binarize {
    /// White where the intensity (in [0, 1]) is greater than `threshold`, else black.
    Static {
        /// The intensity threshold, in [0, 1]; 0.5 is usual.
        threshold: f32,
    },
    /// White with probability equal to the intensity: a fresh draw per pixel per call.
    Dynamic,
}

impl Binarize {
    /// Binarises `x`, whose values are on `scale`, in place.
    pub fn apply<S, D, R>(&self, x: &mut ArrayBase<S, D>, scale: Scale, rng: &mut R)
    where
        S: DataMut<Elem = f32>,
        D: Dimension,
        R: Rng + ?Sized,
    {
        let (lo, hi, w) = (scale.min(), scale.max(), scale.width());
        match *self {
            Binarize::Static { threshold } => {
                x.mapv_inplace(|v| if (v - lo) / w > threshold { hi } else { lo });
            }
            Binarize::Dynamic => {
                for v in x.iter_mut() {
                    let p = (*v - lo) / w;
                    *v = if rng.random::<f32>() < p { hi } else { lo };
                }
            }
        }
    }
}

impl fmt::Display for Binarize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Binarize::Static { threshold } => write!(f, "static:{threshold}"),
            Binarize::Dynamic => write!(f, "dynamic"),
        }
    }
}

const BINARIZE_FORMS: &str = "`static`, `static:THRESHOLD` (THRESHOLD in [0, 1]) or `dynamic`";

impl FromStr for Binarize {
    type Err = DataError;

    /// Parses `static` (threshold 0.5), `static:T` or `dynamic`, case-insensitively.
    fn from_str(s: &str) -> Result<Self, DataError> {
        let bad = |problem: String| DataError::InvalidParameter {
            what: "binarisation",
            expected: BINARIZE_FORMS.into(),
            found: format!("`{s}` ({problem})"),
        };
        let (kind, value) = split_spec(s);
        match kind.as_str() {
            "static" => {
                let threshold = match value {
                    None => 0.5,
                    Some(v) => parse_number(v, "threshold", 0.0, Some(1.0)).map_err(bad)?,
                };
                Ok(Binarize::Static { threshold })
            }
            "dynamic" => match value {
                None => Ok(Binarize::Dynamic),
                Some(_) => Err(bad("`dynamic` takes no value".into())),
            },
            "" => Err(bad("empty".into())),
            other => Err(bad(format!("unknown kind `{other}`"))),
        }
    }
}

/// A corruption process for denoising autoencoders.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum NoiseSpec {
    /// No corruption.
    #[default]
    None,
    /// Adds `std * (max - min) * N(0, 1)` to each pixel, then clips to the scale's range.
    Gaussian {
        /// Standard deviation as a fraction of the pixel range; finite and at least 0.
        std: f32,
    },
    /// Sets `round(fraction * pixels)` pixels of each image, chosen at random, to the scale's
    /// minimum (black: 0 on [0, 1]).
    Mask {
        /// Fraction of pixels masked, in [0, 1].
        fraction: f32,
    },
    /// Sets `round(fraction * pixels)` pixels of each image, chosen at random, to the scale's
    /// minimum or maximum by a fair coin.
    SaltPepper {
        /// Fraction of pixels affected, in [0, 1].
        fraction: f32,
    },
}

const NOISE_FORMS: &str = "`none`, `gaussian:STD` (STD >= 0), `mask:FRACTION` or \
                           `salt-pepper:FRACTION` (FRACTION in [0, 1])";

impl NoiseSpec {
    /// A corrupted copy of `x` (values on `scale`, first axis the batch axis).
    pub fn corrupt<S, D, R>(&self, x: &ArrayBase<S, D>, scale: Scale, rng: &mut R) -> Array<f32, D>
    where
        S: Data<Elem = f32>,
        D: Dimension,
        R: Rng + ?Sized,
    {
        let mut out = x.as_standard_layout().into_owned();
        let items = out.shape().first().copied().unwrap_or(1);
        if let Some(data) = out.as_slice_mut() {
            self.corrupt_slice(data, items, scale, rng);
        }
        out
    }

    /// A corrupted copy of a view; see [`corrupt`](Self::corrupt).
    pub fn corrupt_view<D, R>(&self, x: ArrayView<'_, f32, D>, scale: Scale, rng: &mut R) -> Array<f32, D>
    where
        D: Dimension,
        R: Rng + ?Sized,
    {
        self.corrupt(&x, scale, rng)
    }

    /// Corrupts `items` images stored one after the other in `data`, in place.
    pub fn corrupt_slice<R: Rng + ?Sized>(&self, data: &mut [f32], items: usize, scale: Scale, rng: &mut R) {
        let (lo, hi, w) = (scale.min(), scale.max(), scale.width());
        let per_item = data.len().checked_div(items).unwrap_or(0);
        match *self {
            NoiseSpec::None => {}
            NoiseSpec::Gaussian { std } => {
                let sigma = std * w;
                for v in data.iter_mut() {
                    let z: f32 = rng.sample(StandardNormal);
                    *v = (*v + sigma * z).clamp(lo, hi);
                }
            }
            NoiseSpec::Mask { fraction } => {
                let k = count(fraction, per_item);
                for item in data.chunks_exact_mut(per_item.max(1)) {
                    for i in index::sample(rng, per_item, k) {
                        item[i] = lo;
                    }
                }
            }
            NoiseSpec::SaltPepper { fraction } => {
                let k = count(fraction, per_item);
                for item in data.chunks_exact_mut(per_item.max(1)) {
                    for i in index::sample(rng, per_item, k) {
                        item[i] = if rng.random::<bool>() { hi } else { lo };
                    }
                }
            }
        }
    }
}

impl NoiseSpec {
    /// Corrupts `items` standardised real-valued examples stored one after the other in
    /// `data`, in place: Gaussian noise of `std` standard deviations, unclipped; masked values
    /// set to 0 (the training mean).
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] for salt-and-pepper noise, which has no meaning without
    /// a pixel range.
    pub fn corrupt_standardized<R: Rng + ?Sized>(
        &self,
        data: &mut [f32],
        items: usize,
        rng: &mut R,
    ) -> Result<(), DataError> {
        let per_item = data.len().checked_div(items).unwrap_or(0);
        match *self {
            NoiseSpec::None => {}
            NoiseSpec::Gaussian { std } => {
                for v in data.iter_mut() {
                    let z: f32 = rng.sample(StandardNormal);
                    *v += std * z;
                }
            }
            NoiseSpec::Mask { fraction } => {
                let k = count(fraction, per_item);
                for item in data.chunks_exact_mut(per_item.max(1)) {
                    for i in index::sample(rng, per_item, k) {
                        item[i] = 0.0;
                    }
                }
            }
            NoiseSpec::SaltPepper { .. } => {
                return Err(DataError::InvalidParameter {
                    what: "noise",
                    expected:
                        "`gaussian:STD` or `mask:FRACTION` for real-valued data (salt-and-pepper needs a pixel range)"
                            .into(),
                    found: self.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// `round(fraction * n)`, within `0..=n`.
fn count(fraction: f32, n: usize) -> usize {
    ((f64::from(fraction) * n as f64).round() as usize).min(n)
}

impl fmt::Display for NoiseSpec {
    /// The canonical spelling, which [`FromStr`] parses back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoiseSpec::None => write!(f, "none"),
            NoiseSpec::Gaussian { std } => write!(f, "gaussian:{std}"),
            NoiseSpec::Mask { fraction } => write!(f, "mask:{fraction}"),
            NoiseSpec::SaltPepper { fraction } => write!(f, "salt-pepper:{fraction}"),
        }
    }
}

impl FromStr for NoiseSpec {
    type Err = DataError;

    /// Parses `none`, `gaussian:STD`, `mask:FRACTION` or `salt-pepper:FRACTION`
    /// (case-insensitive; `=` may replace `:`; `gauss`, `masking`, `salt-and-pepper`,
    /// `salt_pepper` and `sp` are accepted too).
    fn from_str(s: &str) -> Result<Self, DataError> {
        let bad = |problem: String| DataError::InvalidParameter {
            what: "noise spec",
            expected: NOISE_FORMS.into(),
            found: format!("`{s}` ({problem})"),
        };
        let (kind, value) = split_spec(s);
        let need =
            |name: &str, example: &str| value.ok_or_else(|| bad(format!("missing the {name}: write e.g. `{example}`")));
        match kind.as_str() {
            "none" => match value {
                None => Ok(NoiseSpec::None),
                Some(_) => Err(bad("`none` takes no value".into())),
            },
            "gaussian" | "gauss" => {
                let v = need("standard deviation", "gaussian:0.3")?;
                let std = parse_number(v, "standard deviation", 0.0, None).map_err(bad)?;
                Ok(NoiseSpec::Gaussian { std })
            }
            "mask" | "masking" => {
                let v = need("fraction", "mask:0.25")?;
                let fraction = parse_number(v, "fraction", 0.0, Some(1.0)).map_err(bad)?;
                Ok(NoiseSpec::Mask { fraction })
            }
            "salt-pepper" | "salt-and-pepper" | "salt_pepper" | "saltpepper" | "sp" => {
                let v = need("fraction", "salt-pepper:0.1")?;
                let fraction = parse_number(v, "fraction", 0.0, Some(1.0)).map_err(bad)?;
                Ok(NoiseSpec::SaltPepper { fraction })
            }
            "" => Err(bad("empty".into())),
            other => Err(bad(format!("unknown kind `{other}`"))),
        }
    }
}

/// Splits `kind:value` (or `kind=value`) into a lowercase, trimmed kind and the trimmed value.
fn split_spec(s: &str) -> (String, Option<&str>) {
    match s.find([':', '=']) {
        Some(at) => (s[..at].trim().to_ascii_lowercase(), Some(s[at + 1..].trim())),
        None => (s.trim().to_ascii_lowercase(), None),
    }
}

/// Parses a finite number in `[lo, hi]` (`hi` = `None`: no upper bound).
fn parse_number(v: &str, name: &str, lo: f32, hi: Option<f32>) -> Result<f32, String> {
    let x: f32 = v.parse().map_err(|_| format!("the {name} `{v}` is not a number"))?;
    let in_range = x.is_finite() && x >= lo && hi.is_none_or(|h| x <= h);
    if in_range {
        Ok(x)
    } else {
        Err(match hi {
            Some(h) => format!("the {name} {v} is outside [{lo}, {h}]"),
            None => format!("the {name} {v} is not a finite number >= {lo}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    #[test]
    fn noise_specs_parse_and_round_trip() {
        let cases = [
            ("gaussian:0.3", NoiseSpec::Gaussian { std: 0.3 }),
            ("mask:0.25", NoiseSpec::Mask { fraction: 0.25 }),
            ("salt-pepper:0.1", NoiseSpec::SaltPepper { fraction: 0.1 }),
            (" Gauss = 1 ", NoiseSpec::Gaussian { std: 1.0 }),
            ("SP:0", NoiseSpec::SaltPepper { fraction: 0.0 }),
            ("salt-and-pepper:1", NoiseSpec::SaltPepper { fraction: 1.0 }),
            ("none", NoiseSpec::None),
        ];
        for (text, spec) in cases {
            let parsed: NoiseSpec = text.parse().unwrap();
            assert_eq!(parsed, spec, "{text}");
            assert_eq!(spec.to_string().parse::<NoiseSpec>().unwrap(), spec);
        }
    }

    #[test]
    fn bad_noise_specs_say_what_is_wrong() {
        let cases = [
            ("", "empty"),
            ("gaussian", "missing the standard deviation"),
            ("gaussian:abc", "is not a number"),
            ("gaussian:-0.1", "not a finite number >= 0"),
            ("gaussian:inf", "not a finite number"),
            ("mask:1.5", "outside [0, 1]"),
            ("mask:NaN", "outside [0, 1]"),
            ("salt-pepper", "missing the fraction"),
            ("blur:0.3", "unknown kind `blur`"),
            ("none:1", "takes no value"),
        ];
        for (text, problem) in cases {
            let err = text.parse::<NoiseSpec>().unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(problem), "{text}: {msg}");
            assert!(msg.contains("gaussian:STD"), "{text}: {msg}");
        }
    }

    #[test]
    fn binarize_parses() {
        assert_eq!("static".parse::<Binarize>().unwrap(), Binarize::Static { threshold: 0.5 });
        assert_eq!("static:0.2".parse::<Binarize>().unwrap(), Binarize::Static { threshold: 0.2 });
        assert_eq!("Dynamic".parse::<Binarize>().unwrap(), Binarize::Dynamic);
        for bad in ["", "static:2", "dynamic:0.5", "otsu"] {
            assert!(bad.parse::<Binarize>().is_err(), "{bad}");
        }
    }

    #[test]
    fn static_binarisation_thresholds_intensity_on_either_scale() {
        let mut a = array![[0.0f32, 0.49, 0.51, 1.0]];
        Binarize::Static { threshold: 0.5 }.apply(&mut a, Scale::ZeroOne, &mut rng());
        assert_eq!(a, array![[0.0, 0.0, 1.0, 1.0]]);
        let mut b = array![[-1.0f32, -0.1, 0.1, 1.0]];
        Binarize::Static { threshold: 0.5 }.apply(&mut b, Scale::MinusOneOne, &mut rng());
        assert_eq!(b, array![[-1.0, -1.0, 1.0, 1.0]]);
    }

    #[test]
    fn dynamic_binarisation_draws_with_the_pixel_intensity() {
        let mut a = Array2::from_elem((100, 100), 0.3f32);
        a.row_mut(0).fill(0.0);
        a.row_mut(1).fill(1.0);
        Binarize::Dynamic.apply(&mut a, Scale::ZeroOne, &mut rng());
        assert!(a.iter().all(|&v| v == 0.0 || v == 1.0));
        assert!(a.row(0).iter().all(|&v| v == 0.0));
        assert!(a.row(1).iter().all(|&v| v == 1.0));
        let rest = a.slice(ndarray::s![2.., ..]);
        let mean = rest.mean().unwrap();
        assert!((mean - 0.3).abs() < 0.02, "mean {mean}");
        // Same seed, same draw; another seed, another draw.
        let mut b = Array2::from_elem((100, 100), 0.3f32);
        b.row_mut(0).fill(0.0);
        b.row_mut(1).fill(1.0);
        Binarize::Dynamic.apply(&mut b, Scale::ZeroOne, &mut rng());
        assert_eq!(a, b);
        let mut c = Array2::from_elem((100, 100), 0.3f32);
        Binarize::Dynamic.apply(&mut c, Scale::ZeroOne, &mut ChaCha8Rng::seed_from_u64(8));
        assert_ne!(a.slice(ndarray::s![2.., ..]), c.slice(ndarray::s![2.., ..]));
    }

    #[test]
    fn gaussian_noise_is_clipped_and_has_the_given_spread() {
        let x = Array2::from_elem((50, 400), 0.5f32);
        let y = NoiseSpec::Gaussian { std: 0.1 }.corrupt(&x, Scale::ZeroOne, &mut rng());
        assert!(y.iter().all(|&v| (0.0..=1.0).contains(&v)));
        let d = &y - &x;
        let sd = (d.mapv(|v| v * v).mean().unwrap()).sqrt();
        assert!((sd - 0.1).abs() < 0.005, "sd {sd}");
        // On [-1, 1] the spread doubles with the range, and clipping holds.
        let big = NoiseSpec::Gaussian { std: 3.0 }.corrupt(&x, Scale::MinusOneOne, &mut rng());
        assert!(big.iter().all(|&v| (-1.0..=1.0).contains(&v)));
        assert!(big.iter().any(|&v| v == -1.0) && big.iter().any(|&v| v == 1.0));
    }

    #[test]
    fn masking_blackens_exactly_the_fraction_of_each_image() {
        let x = Array2::from_elem((20, 100), 0.7f32);
        let y = NoiseSpec::Mask { fraction: 0.25 }.corrupt(&x, Scale::ZeroOne, &mut rng());
        for row in y.rows() {
            assert_eq!(row.iter().filter(|&&v| v == 0.0).count(), 25);
            assert_eq!(row.iter().filter(|&&v| v == 0.7).count(), 75);
        }
        let z = NoiseSpec::Mask { fraction: 0.25 }.corrupt(&x, Scale::MinusOneOne, &mut rng());
        assert_eq!(z.iter().filter(|&&v| v == -1.0).count(), 20 * 25);
        // The input is untouched, and seeds decide.
        assert!(x.iter().all(|&v| v == 0.7));
        let again = NoiseSpec::Mask { fraction: 0.25 }.corrupt(&x, Scale::ZeroOne, &mut rng());
        assert_eq!(y, again);
    }

    #[test]
    fn salt_and_pepper_sets_the_fraction_to_both_extremes() {
        let x = Array2::from_elem((40, 50), 0.5f32);
        let y = NoiseSpec::SaltPepper { fraction: 0.2 }.corrupt(&x, Scale::ZeroOne, &mut rng());
        for row in y.rows() {
            assert_eq!(row.iter().filter(|&&v| v != 0.5).count(), 10);
        }
        let salt = y.iter().filter(|&&v| v == 1.0).count();
        let pepper = y.iter().filter(|&&v| v == 0.0).count();
        assert_eq!(salt + pepper, 400);
        assert!(salt > 150 && pepper > 150, "salt {salt}, pepper {pepper}");
    }

    #[test]
    fn corruption_works_on_nchw_and_none_is_identity() {
        let x = ndarray::Array4::from_elem((3, 1, 4, 4), 0.5f32);
        let y = NoiseSpec::Mask { fraction: 0.5 }.corrupt(&x, Scale::ZeroOne, &mut rng());
        assert_eq!(y.shape(), x.shape());
        for item in y.outer_iter() {
            assert_eq!(item.iter().filter(|&&v| v == 0.0).count(), 8);
        }
        let same = NoiseSpec::None.corrupt_view(x.view(), Scale::ZeroOne, &mut rng());
        assert_eq!(same, x);
    }
}
