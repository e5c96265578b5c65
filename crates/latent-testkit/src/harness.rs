//! The mutation campaign: a parser run on thousands of seeded mutants of valid inputs, each
//! under the allocation cap and `catch_unwind`, with a report naming every failing mutant.
//!
//! A campaign fails (panics, failing the test) when, on any mutant,
//! - the parser panics (the report gives the panic's message and location),
//! - the parser asks for more memory than the cap, in one request or in total live at once
//!   (the allocator refuses the request; see [`crate::alloc`]),
//! - the parser returns an error whose message is empty, or does not mention the text given to
//!   [`Campaign::errors_mention`] (the file name, for parsers whose errors name the file),
//! - the parser takes longer than the time limit ([`DEFAULT_TIME_LIMIT`], 2 s) on one mutant
//!   (a mutant that never returns is named on stderr by a watchdog thread).
//!
//! It also fails when a valid input itself is refused, which means the campaign is wired
//! wrongly. Errors are typed by construction: the parser's signature returns
//! `Result<T, E>` with `E: std::error::Error`, and the summary counts the error variants met
//! (from `E`'s `Debug`), so a test can check the mutants reach more than the first check.
//!
//! Environment variables:
//! - `LATENT_MUTANTS=N`: run `N` mutants per campaign instead of the campaign's number (a longer
//!   run on a quiet machine).
//! - `LATENT_MUTANT_SEED=S` (decimal or `0x` hex): run only the mutant of seed `S`, as the
//!   report of a failure or a refused allocation tells.
//! - `LATENT_MUTANT_DUMP=DIR`: write each failing mutant to `DIR/<campaign>-<seed>.bin`.

use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use crate::alloc::{self, AllocStats, Label};
use crate::mutate::{Mutator, Op, mutant_seed};

/// A mutation of one valid input, given the mutator (seeded for the mutant) and every valid
/// input (as splice donors); see [`Campaign::mutation`].
pub type MutationFn = fn(&mut Mutator, &[u8], &[Vec<u8>]) -> Vec<u8>;

/// Mutants per campaign unless told otherwise: enough to reach every check of a small format,
/// few enough for a couple of seconds per parser in a release build.
pub const DEFAULT_MUTANTS: usize = 3000;

/// Failures described in full in a report (all are counted).
const REPORTED: usize = 12;

/// How long one mutant may take unless told otherwise: parsing a few hundred bytes takes
/// microseconds, so a mutant that takes seconds has found super-linear work (a backtracking
/// parser, a loop on a hostile count), even on a loaded machine.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(2);

/// A mutation campaign against one parser. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Campaign {
    name: &'static str,
    inputs: Vec<Vec<u8>>,
    dictionary: Vec<Vec<u8>>,
    ops: Vec<Op>,
    mutation: Option<MutationFn>,
    mutants: usize,
    cap: usize,
    time_limit: Duration,
    base_seed: u64,
    mention: Option<String>,
}

/// What a campaign saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The campaign's name.
    pub name: &'static str,
    /// Mutants run.
    pub mutants: usize,
    /// Mutants the parser accepted (a mutation can leave an input valid).
    pub accepted: usize,
    /// Mutants refused with an error, by error variant (`Truncated`, `Npy/Header`, ...).
    pub errors: BTreeMap<String, usize>,
    /// The largest single allocation request of any mutant, in bytes.
    pub largest_request: usize,
    /// The most bytes any mutant held at once.
    pub peak_live: usize,
    /// How long the mutants took.
    pub elapsed: Duration,
}

impl Summary {
    /// Mutants refused with an error.
    pub fn rejected(&self) -> usize {
        self.errors.values().sum()
    }

    /// Whether some mutant was refused with an error of this kind: a variant name, or the
    /// start of a nested one (`"Npy"` matches `Npy/Header`; `"Npy/Header"` only that).
    pub fn refused_with(&self, kind: &str) -> bool {
        self.errors.keys().any(|k| k == kind || k.strip_prefix(kind).is_some_and(|rest| rest.starts_with('/')))
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} mutants in {:.2} s: {} accepted, {} refused [",
            self.name,
            self.mutants,
            self.elapsed.as_secs_f64(),
            self.accepted,
            self.rejected()
        )?;
        for (i, (kind, n)) in self.errors.iter().enumerate() {
            write!(f, "{}{kind} {n}", if i > 0 { ", " } else { "" })?;
        }
        write!(f, "]; largest request {} bytes, peak {} bytes live", self.largest_request, self.peak_live)
    }
}

/// How one mutant went wrong.
#[derive(Debug)]
enum Failure {
    Panic(String),
    OverCap(AllocStats),
    EmptyMessage(String),
    Unnamed(String),
    Slow(Duration, Duration),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Panic(m) => write!(f, "panicked: {m}"),
            Failure::OverCap(s) => write!(
                f,
                "asked for {} bytes (over the cap; {} requests refused, largest request {}, peak {} live)",
                s.refused.unwrap_or(0),
                s.refusals,
                s.largest_request,
                s.peak_live
            ),
            Failure::EmptyMessage(debug) => write!(f, "returned an error with an empty message: {debug}"),
            Failure::Unnamed(m) => write!(f, "returned an error that does not name the file: {m}"),
            Failure::Slow(took, limit) => {
                write!(f, "took {:.2} s (the limit is {:.2} s)", took.as_secs_f64(), limit.as_secs_f64())
            }
        }
    }
}

impl Campaign {
    /// A campaign named `name` (shown in reports and in the refusal message) mutating these
    /// valid inputs, with [`DEFAULT_MUTANTS`] mutants under [`alloc::DEFAULT_CAP`].
    ///
    /// # Panics
    /// If there are no inputs.
    pub fn new<I, B>(name: &'static str, inputs: I) -> Self
    where
        I: IntoIterator<Item = B>,
        B: Into<Vec<u8>>,
    {
        let inputs: Vec<Vec<u8>> = inputs.into_iter().map(Into::into).collect();
        assert!(!inputs.is_empty(), "campaign `{name}` needs at least one valid input");
        // FNV-1a of the name: each campaign explores its own mutants, the same ones every run.
        let base_seed =
            name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        Campaign {
            name,
            inputs,
            dictionary: Vec::new(),
            ops: Vec::new(),
            mutation: None,
            mutants: DEFAULT_MUTANTS,
            cap: alloc::DEFAULT_CAP,
            time_limit: DEFAULT_TIME_LIMIT,
            base_seed,
            mention: None,
        }
    }

    /// Run `n` mutants (the `LATENT_MUTANTS` variable overrides it).
    #[must_use]
    pub fn mutants(mut self, n: usize) -> Self {
        self.mutants = n;
        self
    }

    /// Cap allocations at `bytes` (one request, or live at once).
    #[must_use]
    pub fn cap(mut self, bytes: usize) -> Self {
        self.cap = bytes;
        self
    }

    /// Fail a mutant that takes longer than `limit` (a mutant that never ends is named on
    /// stderr by a watchdog after `max(10 s, 5 × limit)`).
    #[must_use]
    pub fn time_limit(mut self, limit: Duration) -> Self {
        self.time_limit = limit;
        self
    }

    /// Derive the mutants' seeds from `seed` instead of the campaign's name.
    #[must_use]
    pub fn base_seed(mut self, seed: u64) -> Self {
        self.base_seed = seed;
        self
    }

    /// Tokens of the format for the mutator to insert (keys, magic strings, type names).
    #[must_use]
    pub fn dictionary<I, B>(mut self, tokens: I) -> Self
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        self.dictionary = tokens.into_iter().map(|t| t.as_ref().to_vec()).collect();
        self
    }

    /// Draw only from these mutation operations (see [`Mutator::with_ops`](crate::Mutator::with_ops)).
    #[must_use]
    pub fn ops(mut self, ops: &[Op]) -> Self {
        self.ops = ops.to_vec();
        self
    }

    /// Mutate with `f` instead of [`Mutator::mutate`]: a structure-aware mutation (such as
    /// [`json::mutate_text`](crate::json::mutate_text), or
    /// [`reseal::mutate_file`](crate::reseal::mutate_file) for latent's safetensors files) that
    /// keeps the input well-formed enough to reach deeper checks.
    #[must_use]
    pub fn mutation(mut self, f: MutationFn) -> Self {
        self.mutation = Some(f);
        self
    }

    /// Require every error message to contain `text` (the file name the parser was given).
    #[must_use]
    pub fn errors_mention(mut self, text: impl Into<String>) -> Self {
        self.mention = Some(text.into());
        self
    }

    /// The seeds of this campaign's mutants, in order (or only `LATENT_MUTANT_SEED`'s).
    pub fn seeds(&self) -> Vec<u64> {
        if let Some(seed) = env_seed() {
            return vec![seed];
        }
        let n = env_usize("LATENT_MUTANTS").unwrap_or(self.mutants);
        (0..n as u64).map(|i| mutant_seed(self.base_seed, i)).collect()
    }

    /// The bytes of the mutant of `seed`.
    pub fn mutant(&self, seed: u64) -> Vec<u8> {
        let mut m = Mutator::new(seed).with_dictionary(&self.dictionary).with_ops(&self.ops);
        let input = &self.inputs[m.pick(self.inputs.len())];
        match self.mutation {
            Some(f) => f(&mut m, input, &self.inputs),
            None => m.mutate(input, &self.inputs),
        }
    }

    /// Runs `parse` on every valid input (each must be accepted) and then on every mutant, and
    /// returns what it saw.
    ///
    /// # Panics
    /// With a report naming each failing mutant's seed (see the [module docs](self)), if a valid
    /// input is refused, or if the allocator is not installed.
    pub fn run<T, E, F>(&self, parse: F) -> Summary
    where
        E: std::error::Error,
        F: Fn(&[u8]) -> Result<T, E>,
    {
        assert!(
            alloc::is_installed(),
            "latent-testkit: campaign `{}` needs `latent_testkit::cap_allocations!();` at the top of its test file",
            self.name
        );
        install_panic_hook();
        for (i, input) in self.inputs.iter().enumerate() {
            let label = Label { parser: self.name, seed: u64::MAX };
            match self.one(label, input, &parse) {
                (Ok(None), _) => {}
                (Ok(Some((kind, message))), _) => {
                    panic!("campaign `{}`: valid input {i} is refused ({kind}): {message}", self.name)
                }
                (Err(failure), _) => panic!("campaign `{}`: valid input {i} fails: {failure}", self.name),
            }
        }

        let start = Instant::now();
        let seeds = self.seeds();
        let mut summary = Summary {
            name: self.name,
            mutants: seeds.len(),
            accepted: 0,
            errors: BTreeMap::new(),
            largest_request: 0,
            peak_live: 0,
            elapsed: Duration::ZERO,
        };
        let mut failures: Vec<(u64, Vec<u8>, Failure)> = Vec::new();
        let mut failed = 0;
        let watchdog = Watchdog::start(self.name, (self.time_limit * 5).max(Duration::from_secs(10)));
        for seed in seeds {
            let bytes = self.mutant(seed);
            watchdog.running(seed);
            let began = Instant::now();
            let (mut outcome, stats) = self.one(Label { parser: self.name, seed }, &bytes, &parse);
            let took = began.elapsed();
            if took > self.time_limit && outcome.is_ok() {
                outcome = Err(Failure::Slow(took, self.time_limit));
            }
            summary.largest_request = summary.largest_request.max(stats.largest_request);
            summary.peak_live = summary.peak_live.max(stats.peak_live);
            match outcome {
                Ok(None) => summary.accepted += 1,
                Ok(Some((kind, _))) => *summary.errors.entry(kind).or_default() += 1,
                Err(failure) => {
                    failed += 1;
                    dump(self.name, seed, &bytes);
                    if failures.len() < REPORTED {
                        failures.push((seed, bytes, failure));
                    }
                }
            }
        }
        drop(watchdog);
        summary.elapsed = start.elapsed();
        println!("{summary}");
        if failed > 0 {
            let mut report = format!(
                "campaign `{}`: {failed} of {} mutants failed (cap {} bytes). First {}:\n",
                self.name,
                summary.mutants,
                self.cap,
                failures.len()
            );
            for (seed, bytes, failure) in &failures {
                report += &format!("  seed {seed:#018x} ({} bytes: {}): {failure}\n", bytes.len(), preview(bytes));
            }
            report += "Replay one with LATENT_MUTANT_SEED=<seed> and the same test (Campaign::mutant gives its bytes; \
                       LATENT_MUTANT_DUMP=<dir> writes every failing mutant).";
            panic!("{report}");
        }
        summary
    }

    /// One input under the cap and `catch_unwind`: `Ok(None)` if accepted, `Ok(Some((kind,
    /// message)))` if refused properly, else the failure.
    #[allow(clippy::type_complexity)]
    fn one<T, E, F>(
        &self,
        label: Label,
        bytes: &[u8],
        parse: &F,
    ) -> (Result<Option<(String, String)>, Failure>, AllocStats)
    where
        E: std::error::Error,
        F: Fn(&[u8]) -> Result<T, E>,
    {
        let (outcome, stats) = alloc::capped(self.cap, label, || {
            IN_CAMPAIGN.with(|c| c.replace(Some(String::new())));
            let caught = panic::catch_unwind(AssertUnwindSafe(|| {
                parse(bytes).map(drop).map_err(|e| (error_kind(&format!("{e:?}")), e.to_string(), format!("{e:?}")))
            }));
            let hooked = IN_CAMPAIGN.with(|c| c.replace(None));
            caught.map_err(|payload| panic_message(payload.as_ref(), hooked))
        });
        let outcome = match outcome {
            _ if stats.refused.is_some() => Err(Failure::OverCap(stats)),
            Err(message) => Err(Failure::Panic(message)),
            Ok(Ok(())) => Ok(None),
            Ok(Err((_, message, debug))) if message.trim().is_empty() => Err(Failure::EmptyMessage(debug)),
            Ok(Err((_, message, _))) if self.mention.as_ref().is_some_and(|m| !message.contains(m.as_str())) => {
                Err(Failure::Unnamed(message))
            }
            Ok(Err((kind, message, _))) => Ok(Some((kind, message))),
        };
        (outcome, stats)
    }
}

/// Runs a campaign with the defaults: `name`, these valid inputs, `parse`. The one call that
/// adds a parser to the mutation suite.
///
/// # Panics
/// As [`Campaign::run`].
pub fn check_parser<I, B, T, E, F>(name: &'static str, inputs: I, parse: F) -> Summary
where
    I: IntoIterator<Item = B>,
    B: Into<Vec<u8>>,
    E: std::error::Error,
    F: Fn(&[u8]) -> Result<T, E>,
{
    Campaign::new(name, inputs).run(parse)
}

/// A thread that names a mutant running for longer than `after` on stderr (a hang cannot be
/// caught, but it can be named), until dropped.
struct Watchdog {
    seed: Arc<AtomicU64>,
    since: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    epoch: Instant,
}

impl Watchdog {
    fn start(name: &'static str, after: Duration) -> Self {
        let (seed, since, stop) =
            (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(u64::MAX)), Arc::new(AtomicBool::new(false)));
        let epoch = Instant::now();
        let thread = {
            let (seed, since, stop) = (seed.clone(), since.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut named = u64::MAX;
                while !stop.load(Ordering::Relaxed) {
                    std::thread::park_timeout(Duration::from_millis(500));
                    let started = since.load(Ordering::Relaxed);
                    let now = epoch.elapsed().as_millis() as u64;
                    let current = seed.load(Ordering::Relaxed);
                    if started != u64::MAX && now.saturating_sub(started) > after.as_millis() as u64 && named != current
                    {
                        named = current;
                        eprintln!(
                            "latent-testkit: campaign `{name}`: mutant seed {current:#018x} has been running for over {} s \
                             (a hang?); replay it alone with LATENT_MUTANT_SEED={current:#018x}",
                            after.as_secs()
                        );
                    }
                }
            })
        };
        Watchdog { seed, since, stop, thread: Some(thread), epoch }
    }

    fn running(&self, seed: u64) {
        self.seed.store(seed, Ordering::Relaxed);
        self.since.store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

thread_local! {
    /// `Some` while this thread runs a mutant: the panic hook stores the panic's location
    /// there instead of printing it.
    static IN_CAMPAIGN: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once per process) a panic hook that keeps the location of a mutant's panic for the
/// report instead of printing it, and leaves every other panic to the previous hook.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let in_campaign = IN_CAMPAIGN.with(|c| {
                let mut c = c.borrow_mut();
                if let Some(slot) = c.as_mut() {
                    if let Some(loc) = info.location() {
                        *slot = format!("{}:{}:{}", loc.file(), loc.line(), loc.column());
                    }
                    true
                } else {
                    false
                }
            });
            if !in_campaign {
                previous(info);
            }
        }));
    });
}

fn panic_message(payload: &(dyn Any + Send), location: Option<String>) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a non-string panic payload)".into());
    match location {
        Some(at) if !at.is_empty() => format!("{message} (at {at})"),
        _ => message,
    }
}

/// The error's variant, from its `Debug` form: the first two names of variants or structs that
/// open a `{` or `(` outside string literals (`Npy { .., problem: Header(..) }` gives
/// `Npy/Header`).
fn error_kind(debug: &str) -> String {
    let bytes = debug.as_bytes();
    let mut names: Vec<&str> = Vec::new();
    let (mut i, mut in_string) = (0, false);
    while i < bytes.len() && names.len() < 2 {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if b.is_ascii_uppercase() && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')) {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let name = &debug[start..i];
            let rest = &debug[i..];
            let opens = rest.starts_with('(') || rest.starts_with(" {");
            if opens && name != "Some" {
                names.push(name);
            }
            if names.is_empty() && i == bytes.len() {
                names.push(name); // a unit variant alone
            }
            continue;
        }
        i += 1;
    }
    if names.is_empty() { debug.chars().take(24).collect() } else { names.join("/") }
}

/// The first bytes, in hex.
fn preview(bytes: &[u8]) -> String {
    let mut s: String = bytes.iter().take(24).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 24 {
        s.push('…');
    }
    s
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn env_seed() -> Option<u64> {
    let v = std::env::var("LATENT_MUTANT_SEED").ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

fn dump(name: &str, seed: u64, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("LATENT_MUTANT_DUMP") {
        let dir = std::path::PathBuf::from(dir);
        let _ = std::fs::create_dir_all(&dir);
        let file: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let _ = std::fs::write(dir.join(format!("{file}-{seed:016x}.bin")), bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_come_from_the_debug_form() {
        assert_eq!(error_kind(r#"Npy { path: "a(b", member: None, problem: Header("x") }"#), "Npy/Header");
        assert_eq!(error_kind(r#"Truncated { path: "Q {", what: "data" }"#), "Truncated");
        assert_eq!(error_kind("NotNpy"), "NotNpy");
        assert_eq!(error_kind(r#"Io { source: Os { code: 2 } }"#), "Io/Os");
        assert_eq!(error_kind(r#"Json(Error("x", line: 1))"#), "Json/Error");
        assert_eq!(error_kind(r#"Wrap(Some(Inner { a: 1 }))"#), "Wrap/Inner");
    }

    #[test]
    fn previews_are_short_hex() {
        assert_eq!(preview(&[0, 255, 16]), "00ff10");
        assert!(preview(&[7; 100]).ends_with('…'));
    }
}
