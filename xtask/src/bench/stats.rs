//! The arithmetic of the figures: a sample's median and range, and the ratio of two samples
//! with the range it can take.
//!
//! Benchmarks here run a handful of times (3 by default), too few for a meaningful standard
//! deviation, so a sample is summarised by its median and its extremes. A ratio of two such
//! samples is given as the ratio of the medians, bracketed by the worst and best pairings of the
//! extremes (`min a / max b` to `max a / min b`): the spread it honestly has.

use serde::Serialize;

/// A sample's median and extremes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Spread {
    /// The middle value (the mean of the two middle ones for an even count).
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

impl Spread {
    /// The median and extremes of `values`; `None` if there are none or any is not finite.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        Some(Spread { median, min: sorted[0], max: sorted[n - 1] })
    }

    /// `self / other`: the ratio of the medians, from `min / other.max` to `max / other.min`.
    /// `None` if `other` has a value that is not positive.
    pub fn ratio(&self, other: &Spread) -> Option<Spread> {
        if other.min <= 0.0 {
            return None;
        }
        Some(Spread { median: self.median / other.median, min: self.min / other.max, max: self.max / other.min })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_extremes() {
        assert_eq!(Spread::of(&[3.0, 1.0, 2.0]), Some(Spread { median: 2.0, min: 1.0, max: 3.0 }));
        assert_eq!(Spread::of(&[4.0, 1.0, 10.0, 2.0]), Some(Spread { median: 3.0, min: 1.0, max: 10.0 }));
        assert_eq!(Spread::of(&[7.5]), Some(Spread { median: 7.5, min: 7.5, max: 7.5 }));
        assert_eq!(Spread::of(&[]), None);
        assert_eq!(Spread::of(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn ratio_pairs_the_extremes() {
        let latent = Spread::of(&[110.0, 100.0, 120.0]).unwrap();
        let torch = Spread::of(&[50.0, 40.0, 80.0]).unwrap();
        let r = latent.ratio(&torch).unwrap();
        assert_eq!(r.median, 110.0 / 50.0);
        assert_eq!(r.min, 100.0 / 80.0);
        assert_eq!(r.max, 120.0 / 40.0);
        assert!(r.min <= r.median && r.median <= r.max);
        let zero = Spread { median: 1.0, min: 0.0, max: 2.0 };
        assert_eq!(latent.ratio(&zero), None);
    }
}
