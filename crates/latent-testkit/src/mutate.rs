//! The seeded byte mutator: the same seed and input always give the same mutant.
//!
//! A mutant is a valid input with one to four [`Op`]s applied, chosen by a ChaCha8 generator
//! seeded with the mutant's seed. The operations are those that find bugs in parsers of binary
//! and text formats: flipped bits, bytes set to boundary values, truncation and extension,
//! duplicated, repeated and removed chunks (deep nesting, repeated entries), length and dimension
//! fields overwritten with huge binary integers ([`HUGE_VALUES`], little- or big-endian, 2, 4 or
//! 8 bytes wide) or decimal numbers replaced with huge ones ([`HUGE_DECIMALS`], for the numbers
//! of JSON and text headers), and splices from other valid inputs or a dictionary of the
//! format's tokens. Offsets are drawn from the first 32 bytes half of the time, where headers
//! and their length fields are.
//!
//! ```
//! use latent_testkit::Mutator;
//!
//! let input = b"{\"shape\": [3, 4]}";
//! let a = Mutator::new(7).mutate(input, &[]);
//! let b = Mutator::new(7).mutate(input, &[]);
//! assert_eq!(a, b); // deterministic
//! let differ = (0..100).filter(|&s| Mutator::new(s).mutate(input, &[]) != input).count();
//! assert!(differ > 90);
//! ```

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// Bytes a mutated byte is set to: zero, all ones, and the signed boundaries.
pub const INTERESTING_BYTES: [u8; 6] = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe];

/// Values written over length and dimension fields: the boundaries of 8, 16, 32 and 64 bits.
pub const HUGE_VALUES: [u64; 14] = [
    0,
    1,
    0xff,
    0x7fff,
    0xffff,
    (1 << 31) - 1,
    1 << 31,
    (1 << 32) - 1,
    1 << 32,
    1 << 40,
    (1 << 63) - 1,
    1 << 63,
    u64::MAX - 7,
    u64::MAX,
];

/// Decimal numbers written over the numbers of a text format (JSON, `.npy` headers, manifests).
pub const HUGE_DECIMALS: [&str; 18] = [
    "0",
    "-1",
    "1",
    "65536",
    "2147483648",
    "4294967295",
    "4294967296",
    "1000000000000",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999999999",
    "-9223372036854775809",
    "1e308",
    "1e999",
    "-0.0",
    "NaN",
];

/// The longest mutant, whatever the operations: four times the input plus 64 KiB.
fn max_len(input_len: usize) -> usize {
    input_len.saturating_mul(4).saturating_add(1 << 16)
}

/// One mutation operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Flip one to four bits.
    FlipBits,
    /// Set a byte to one of [`INTERESTING_BYTES`].
    InterestingByte,
    /// Set a byte to a random value.
    RandomByte,
    /// Cut the input at a random length (often within the header).
    Truncate,
    /// Append random bytes, zeros, `0xff`s or a copy of the end.
    Extend,
    /// Insert a copy of a chunk somewhere.
    DuplicateChunk,
    /// Repeat a chunk of one to four bytes 8 to 64 times where it is (deep nesting: `((((`,
    /// `[[[[`; long runs of one token).
    RepeatChunk,
    /// Remove a chunk.
    RemoveChunk,
    /// Overwrite 2, 4 or 8 bytes with one of [`HUGE_VALUES`], little- or big-endian.
    HugeInt,
    /// Replace a decimal number (a run of digits) with one of [`HUGE_DECIMALS`].
    AsciiNumber,
    /// Overwrite or insert a chunk of another valid input.
    Splice,
    /// Overwrite or insert a token of the dictionary.
    Token,
}

impl Op {
    /// Every operation.
    pub const ALL: [Op; 12] = [
        Op::FlipBits,
        Op::InterestingByte,
        Op::RandomByte,
        Op::Truncate,
        Op::Extend,
        Op::DuplicateChunk,
        Op::RepeatChunk,
        Op::RemoveChunk,
        Op::HugeInt,
        Op::AsciiNumber,
        Op::Splice,
        Op::Token,
    ];
}

/// A seeded mutator.
#[derive(Clone, Debug)]
pub struct Mutator {
    rng: ChaCha8Rng,
    dictionary: Vec<Vec<u8>>,
    ops: Vec<Op>,
}

impl Mutator {
    /// A mutator whose draws are fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Mutator { rng: ChaCha8Rng::seed_from_u64(seed), dictionary: Vec::new(), ops: Op::ALL.to_vec() }
    }

    /// The same, drawing only from these operations (all of [`Op::ALL`] if empty): for
    /// instance only [`Op::AsciiNumber`], [`Op::Token`] and the chunk operations, to keep a text
    /// header well-formed more often.
    #[must_use]
    pub fn with_ops(mut self, ops: &[Op]) -> Self {
        self.ops = if ops.is_empty() { Op::ALL.to_vec() } else { ops.to_vec() };
        self
    }

    /// The same, with tokens of the format (`"shape"`, `"descr"`, `__metadata__`, ...) that
    /// [`Op::Token`] inserts.
    #[must_use]
    pub fn with_dictionary(mut self, tokens: &[Vec<u8>]) -> Self {
        self.dictionary = tokens.to_vec();
        self
    }

    /// A mutant of `input`: one to four operations (one half the time). `donors` are other
    /// valid inputs for [`Op::Splice`] (may be empty).
    pub fn mutate(&mut self, input: &[u8], donors: &[Vec<u8>]) -> Vec<u8> {
        let mut data = input.to_vec();
        let ops = match self.below(8) {
            0..=3 => 1,
            4 | 5 => 2,
            6 => 3,
            _ => 4,
        };
        for _ in 0..ops {
            let pick = self.below(self.ops.len());
            let op = self.ops[pick];
            self.apply(op, &mut data, donors);
        }
        data.truncate(max_len(input.len()));
        data
    }

    /// Applies one operation to `data` in place. Operations that need bytes to work on
    /// (flipping, chunks) turn into [`Op::Extend`] on empty data.
    pub fn apply(&mut self, op: Op, data: &mut Vec<u8>, donors: &[Vec<u8>]) {
        let len = data.len();
        if len == 0 && !matches!(op, Op::Extend | Op::Splice | Op::Token | Op::AsciiNumber) {
            return self.apply(Op::Extend, data, donors);
        }
        match op {
            Op::FlipBits => {
                for _ in 0..=self.below(4) {
                    let at = self.offset(len);
                    data[at] ^= 1 << self.below(8);
                }
            }
            Op::InterestingByte => {
                let at = self.offset(len);
                data[at] = INTERESTING_BYTES[self.below(INTERESTING_BYTES.len())];
            }
            Op::RandomByte => {
                let at = self.offset(len);
                data[at] = self.rng.next_u32() as u8;
            }
            Op::Truncate => {
                let at = self.offset(len);
                data.truncate(at);
            }
            Op::Extend => {
                let n = if self.below(8) == 0 { 1 + self.below(4096) } else { 1 + self.below(64) };
                match self.below(4) {
                    0 => data.resize(len + n, 0),
                    1 => data.resize(len + n, 0xff),
                    2 if len > 0 => {
                        let start = len - n.min(len);
                        data.extend_from_within(start..);
                    }
                    _ => data.extend((0..n).map(|_| self.rng.next_u32() as u8)),
                }
            }
            Op::DuplicateChunk => {
                let (start, n) = self.chunk(len);
                let at = self.below(len + 1);
                let chunk = data[start..start + n].to_vec();
                data.splice(at..at, chunk);
            }
            Op::RepeatChunk => {
                let n = 1 + self.below(len.min(4));
                let start = self.offset(len - n + 1);
                let times = 8 + self.below(57);
                let chunk = data[start..start + n].to_vec();
                data.splice(start..start, chunk.iter().copied().cycle().take(n * (times - 1)));
            }
            Op::RemoveChunk => {
                let (start, n) = self.chunk(len);
                data.drain(start..start + n);
            }
            Op::HugeInt => {
                let value = HUGE_VALUES[self.below(HUGE_VALUES.len())];
                let width = [2, 4, 8][self.below(3)];
                // The low `width` bytes of the value (the value itself, or its low bits if it
                // does not fit), in the chosen byte order.
                let field = if self.below(2) == 0 {
                    value.to_le_bytes()[..width].to_vec()
                } else {
                    value.to_be_bytes()[8 - width..].to_vec()
                };
                self.overwrite(data, &field);
            }
            Op::AsciiNumber => {
                let runs = digit_runs(data);
                let number = HUGE_DECIMALS[self.below(HUGE_DECIMALS.len())].as_bytes();
                if runs.is_empty() {
                    let at = self.below(len + 1);
                    data.splice(at..at, number.iter().copied());
                } else {
                    let (start, end) = runs[self.below(runs.len())];
                    data.splice(start..end, number.iter().copied());
                }
            }
            Op::Splice => {
                let donor = if donors.is_empty() { None } else { Some(&donors[self.below(donors.len())]) };
                match donor {
                    Some(d) if !d.is_empty() => {
                        let (start, n) = self.chunk(d.len());
                        let piece = d[start..start + n].to_vec();
                        self.place(data, &piece);
                    }
                    _ => self.apply(Op::DuplicateChunk, data, donors),
                }
            }
            Op::Token => {
                if self.dictionary.is_empty() {
                    return self.apply(Op::HugeInt, data, donors);
                }
                let pick = self.below(self.dictionary.len());
                let token = self.dictionary[pick].clone();
                self.place(data, &token);
            }
        }
    }

    /// A uniform draw below `n` (> 0), for mutations built on this one (see
    /// [`Campaign::mutation`](crate::Campaign::mutation)).
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn pick(&mut self, n: usize) -> usize {
        self.below(n)
    }

    /// A uniform draw below `n` (> 0).
    fn below(&mut self, n: usize) -> usize {
        (self.rng.next_u64() % n as u64) as usize
    }

    /// An offset below `len` (> 0): within the first 32 bytes half of the time.
    fn offset(&mut self, len: usize) -> usize {
        if self.below(2) == 0 { self.below(len.min(32)) } else { self.below(len) }
    }

    /// A chunk `(start, length)` of a non-empty buffer of `len` bytes: at most 256 bytes, and
    /// short more often than long.
    fn chunk(&mut self, len: usize) -> (usize, usize) {
        let longest = len.min(if self.below(4) == 0 { 256 } else { 16 });
        let n = 1 + self.below(longest);
        (self.below(len - n + 1), n)
    }

    /// Writes `field` over the bytes at a random offset (extending the data if it runs past
    /// the end).
    fn overwrite(&mut self, data: &mut Vec<u8>, field: &[u8]) {
        let at = if data.is_empty() { 0 } else { self.offset(data.len()) };
        let end = at + field.len();
        if end > data.len() {
            data.resize(end, 0);
        }
        data[at..end].copy_from_slice(field);
    }

    /// Overwrites with `piece` or inserts it, half the time each.
    fn place(&mut self, data: &mut Vec<u8>, piece: &[u8]) {
        if self.below(2) == 0 {
            self.overwrite(data, piece);
        } else {
            let at = self.below(data.len() + 1);
            data.splice(at..at, piece.iter().copied());
        }
    }
}

/// The `(start, end)` of every run of ASCII digits, with a leading `-` if there is one.
fn digit_runs(data: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < data.len() {
        if data[i].is_ascii_digit() {
            let start = if i > 0 && data[i - 1] == b'-' { i - 1 } else { i };
            let mut end = i;
            while end < data.len() && data[end].is_ascii_digit() {
                end += 1;
            }
            runs.push((start, end));
            i = end;
        } else {
            i += 1;
        }
    }
    runs
}

/// The seed of mutant `index` of a campaign whose base seed is `base` (SplitMix64 of their
/// combination: neighbouring indices get unrelated seeds).
pub fn mutant_seed(base: u64, index: u64) -> u64 {
    let mut z = base ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_changes_some_inputs_and_stays_in_bounds() {
        let input: Vec<u8> = b"\x00\x00\x08\x03\x00\x00\x00\x02 {\"shape\": [12, 7]} tail".to_vec();
        let donors = vec![b"donor bytes".to_vec()];
        for op in Op::ALL {
            let mut changed = 0;
            for seed in 0..200 {
                let mut m = Mutator::new(seed).with_dictionary(&[b"\"descr\"".to_vec()]);
                let mut data = input.clone();
                m.apply(op, &mut data, &donors);
                assert!(data.len() <= max_len(input.len()) + 4096, "{op:?}");
                changed += usize::from(data != input);
            }
            assert!(changed > 100, "{op:?} changed only {changed} of 200");
        }
        // Empty input: every operation still yields something (or nothing) without panicking.
        for op in Op::ALL {
            for seed in 0..50 {
                Mutator::new(seed).apply(op, &mut Vec::new(), &[]);
            }
        }
    }

    #[test]
    fn huge_values_land_in_both_byte_orders_and_decimals_replace_numbers() {
        let input = vec![0u8; 8];
        let mut seen_le = false;
        let mut seen_be = false;
        for seed in 0..500 {
            let mut data = input.clone();
            Mutator::new(seed).apply(Op::HugeInt, &mut data, &[]);
            seen_le |= data.windows(4).any(|w| w == [0x00, 0x00, 0x00, 0x80]);
            seen_be |= data.windows(4).any(|w| w == [0x80, 0x00, 0x00, 0x00]);
        }
        assert!(seen_le && seen_be);
        let text = b"{'shape': (3, 4), }".to_vec();
        let replaced: Vec<String> = (0..300)
            .map(|s| {
                let mut d = text.clone();
                Mutator::new(s).apply(Op::AsciiNumber, &mut d, &[]);
                String::from_utf8(d).unwrap()
            })
            .collect();
        assert!(replaced.iter().any(|t| t.contains("(18446744073709551615, 4)")));
        assert!(replaced.iter().any(|t| t.contains("(3, 4294967296)")));
        assert_eq!(digit_runs(b"a-12b3"), [(1, 4), (5, 6)]);
    }

    #[test]
    fn mutants_are_determined_by_their_seed() {
        let input = b"first valid input";
        let donors = vec![b"second".to_vec()];
        for i in 0..100 {
            let s = mutant_seed(17, i);
            assert_eq!(Mutator::new(s).mutate(input, &donors), Mutator::new(s).mutate(input, &donors));
        }
        assert_ne!(mutant_seed(17, 0), mutant_seed(17, 1));
        assert_ne!(mutant_seed(17, 0), mutant_seed(18, 0));
        let distinct: std::collections::HashSet<Vec<u8>> =
            (0..200).map(|i| Mutator::new(mutant_seed(1, i)).mutate(input, &donors)).collect();
        assert!(distinct.len() > 150, "{}", distinct.len());
    }
}
