//! The training progress display: [`Progress`].
//!
//! It shows the epoch, batch `i/n`, the epoch's running mean of each figure it is given, each
//! under its name (`loss` for most models, `d_loss` and `g_loss` for a GAN), samples per second
//! and the estimated time left (for the epoch and the whole run). On a terminal it is an `indicatif`
//! bar on stderr with one summary line per finished epoch scrolling above it. When stderr is not
//! a terminal (CI, `2> log`), it prints plain lines instead, so logs stay readable: one line at
//! about every 10% of an epoch and one summary line per epoch. [`ProgressMode::Quiet`] prints
//! nothing.
//!
//! ```
//! use latent_cli::progress::{Progress, ProgressMode};
//! let mut p = Progress::new(2, 3, ProgressMode::Quiet);
//! for epoch in 1..=2 {
//!     p.start_epoch(epoch);
//!     for _ in 0..3 {
//!         p.batch(128, 0.25);
//!     }
//!     p.end_epoch(&[("test", 0.27)]);
//! }
//! p.finish();
//! ```

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where and how progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar if stderr is a terminal, else plain lines.
    #[default]
    Auto,
    /// An `indicatif` bar on stderr.
    Bar,
    /// Plain lines on stderr.
    Plain,
    /// Nothing at all.
    Quiet,
}

enum Output {
    Bar(ProgressBar),
    Plain(Box<dyn Write + Send>),
    Quiet,
}

/// Progress of a training run of `epochs` epochs of `batches` batches each.
pub struct Progress {
    out: Output,
    epochs: usize,
    batches: usize,
    epoch: usize,
    batch: usize,
    samples: u64,
    /// Each figure's name and its sum over this epoch's samples.
    sums: Vec<(String, f64)>,
    started: Instant,
    next_line: usize,
    last_draw: Option<Instant>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.out {
            Output::Bar(_) => "bar",
            Output::Plain(_) => "plain",
            Output::Quiet => "quiet",
        };
        f.debug_struct("Progress")
            .field("mode", &mode)
            .field("epoch", &self.epoch)
            .field("epochs", &self.epochs)
            .field("batch", &self.batch)
            .field("batches", &self.batches)
            .finish_non_exhaustive()
    }
}

/// The bar is redrawn at most this often.
const REDRAW: Duration = Duration::from_millis(100);

impl Progress {
    /// Progress for `epochs` epochs of `batches_per_epoch` batches, shown as `mode` says.
    pub fn new(epochs: usize, batches_per_epoch: usize, mode: ProgressMode) -> Self {
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Plain,
            m => m,
        };
        let out = match mode {
            ProgressMode::Bar => {
                let bar = ProgressBar::with_draw_target(Some(batches_per_epoch as u64), ProgressDrawTarget::stderr());
                if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}") {
                    bar.set_style(style.progress_chars("=> "));
                }
                Output::Bar(bar)
            }
            ProgressMode::Plain => Output::Plain(Box::new(std::io::stderr())),
            _ => Output::Quiet,
        };
        Self::with_output(out, epochs, batches_per_epoch)
    }

    /// Plain-line progress written to `writer` (a log file, or a buffer in tests).
    pub fn plain_to(writer: Box<dyn Write + Send>, epochs: usize, batches_per_epoch: usize) -> Self {
        Self::with_output(Output::Plain(writer), epochs, batches_per_epoch)
    }

    fn with_output(out: Output, epochs: usize, batches: usize) -> Self {
        Progress {
            out,
            epochs,
            batches,
            epoch: 0,
            batch: 0,
            samples: 0,
            sums: Vec::new(),
            started: Instant::now(),
            next_line: 1,
            last_draw: None,
        }
    }

    /// Starts epoch `epoch` (counted from 1; a resumed run may start later than 1).
    pub fn start_epoch(&mut self, epoch: usize) {
        self.epoch = epoch;
        self.batch = 0;
        self.samples = 0;
        self.sums.clear();
        self.started = Instant::now();
        self.next_line = self.line_after(0);
        self.last_draw = None;
        if let Output::Bar(bar) = &self.out {
            bar.reset();
            bar.set_length(self.batches as u64);
            bar.set_prefix(self.epoch_label());
            bar.set_message("");
        }
    }

    /// Records one finished batch of `samples` samples with mean loss `loss` (shown as `loss`).
    pub fn batch(&mut self, samples: usize, loss: f64) {
        self.batch_parts(samples, &[("loss", loss)]);
    }

    /// Records one finished batch of `samples` samples with the mean of each named figure
    /// (`[("d_loss", 1.2), ("g_loss", 0.8)]`); each is shown under its name.
    pub fn batch_parts(&mut self, samples: usize, parts: &[(&str, f64)]) {
        self.batch += 1;
        self.samples += samples as u64;
        for &(name, value) in parts {
            match self.sums.iter_mut().find(|(n, _)| n == name) {
                Some((_, sum)) => *sum += value * samples as f64,
                None => self.sums.push((name.to_string(), value * samples as f64)),
            }
        }
        match &mut self.out {
            Output::Quiet => {}
            Output::Bar(bar) => {
                bar.set_position(self.batch as u64);
                let now = Instant::now();
                if self.last_draw.is_none_or(|t| now - t >= REDRAW) || self.batch >= self.batches {
                    self.last_draw = Some(now);
                    let msg = self.status();
                    if let Output::Bar(bar) = &self.out {
                        bar.set_message(msg);
                    }
                }
            }
            Output::Plain(_) => {
                if self.batch >= self.next_line && self.batch < self.batches {
                    self.next_line = self.line_after(self.batch);
                    let line = format!(
                        "{}  batch {}/{} ({:.0}%)  {}",
                        self.epoch_label(),
                        self.batch,
                        self.batches,
                        100.0 * self.batch as f64 / self.batches.max(1) as f64,
                        self.status()
                    );
                    self.print(&line);
                }
            }
        }
    }

    /// Ends the epoch and prints its summary line: the mean of each training figure, then
    /// `metrics` (e.g. `[("test", 0.27), ("kl", 3.1)]`), the epoch's duration and throughput.
    pub fn end_epoch(&mut self, metrics: &[(&str, f64)]) {
        let secs = self.started.elapsed().as_secs_f64();
        let mut line = format!("{}  {}", self.epoch_label(), self.running_figures());
        for (name, value) in metrics {
            let _ = write!(line, "  {name} {}", format_value(*value));
        }
        let _ = write!(line, "  ({}, {:.0} samples/s)", format_duration(secs), self.samples_per_second());
        if let Output::Bar(bar) = &self.out {
            bar.set_position(self.batch as u64);
        }
        self.print(&line);
    }

    /// Prints a line of text (not in quiet mode) without garbling the bar.
    pub fn println(&mut self, line: &str) {
        self.print(line);
    }

    /// Removes the bar; call when training ends or stops.
    pub fn finish(&mut self) {
        match &mut self.out {
            Output::Bar(bar) => bar.finish_and_clear(),
            Output::Plain(w) => {
                let _ = w.flush();
            }
            Output::Quiet => {}
        }
    }

    /// The mean loss of this epoch's batches so far, weighted by their sizes: the first figure
    /// given (`loss`, or a GAN's `d_loss`); NaN before the first batch, and once any batch's
    /// value was NaN.
    pub fn running_loss(&self) -> f64 {
        self.running_means().first().map_or(f64::NAN, |&(_, v)| v)
    }

    /// Each figure's mean over this epoch's batches so far, weighted by their sizes.
    pub fn running_means(&self) -> Vec<(&str, f64)> {
        let n = self.samples as f64;
        self.sums.iter().map(|(name, sum)| (name.as_str(), if n > 0.0 { sum / n } else { f64::NAN })).collect()
    }

    /// "loss 0.1234", or "d_loss 1.234  g_loss 0.8765": each running mean under its name
    /// ("loss nan" before the first batch).
    fn running_figures(&self) -> String {
        let means = self.running_means();
        if means.is_empty() {
            return format!("loss {}", format_value(f64::NAN));
        }
        means.iter().map(|(name, v)| format!("{name} {}", format_value(*v))).collect::<Vec<_>>().join("  ")
    }

    /// Samples per second in this epoch so far.
    pub fn samples_per_second(&self) -> f64 {
        let secs = self.started.elapsed().as_secs_f64();
        if secs > 0.0 { self.samples as f64 / secs } else { 0.0 }
    }

    /// Estimated seconds left in this epoch and in the whole run, from this epoch's batch rate;
    /// `None` before the first batch.
    pub fn eta(&self) -> Option<(f64, f64)> {
        if self.batch == 0 {
            return None;
        }
        let per_batch = self.started.elapsed().as_secs_f64() / self.batch as f64;
        let epoch_left = self.batches.saturating_sub(self.batch) as f64 * per_batch;
        let later = self.epochs.saturating_sub(self.epoch.max(1)) as f64 * self.batches as f64 * per_batch;
        Some((epoch_left, epoch_left + later))
    }

    fn epoch_label(&self) -> String {
        format!("epoch {}/{}", self.epoch, self.epochs)
    }

    /// "loss 0.1234  5012 samples/s  eta 23s (run 4m12s)" (a GAN's: "d_loss 1.234  g_loss
    /// 0.8765  ...").
    fn status(&self) -> String {
        let mut s = format!("{}  {:.0} samples/s", self.running_figures(), self.samples_per_second());
        if let Some((epoch, run)) = self.eta() {
            let _ = write!(s, "  eta {}", format_duration(epoch));
            if run > epoch {
                let _ = write!(s, " (run {})", format_duration(run));
            }
        }
        s
    }

    /// The first batch index above `batch` at which a plain line is due: every ~10%.
    fn line_after(&self, batch: usize) -> usize {
        (1..10).map(|k| (k * self.batches).div_ceil(10).max(1)).find(|&b| b > batch).unwrap_or(usize::MAX)
    }

    fn print(&mut self, line: &str) {
        match &mut self.out {
            Output::Quiet => {}
            Output::Bar(bar) => bar.suspend(|| eprintln!("{line}")),
            Output::Plain(w) => {
                // Progress must never stop training: a closed stderr is ignored.
                let _ = writeln!(w, "{line}");
                let _ = w.flush();
            }
        }
    }
}

/// Four significant digits, scientific for very large or small magnitudes, `nan`/`inf` as such.
pub fn format_value(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}").to_lowercase();
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.3e}")
    } else {
        let places = (3 - a.log10().floor() as i64).clamp(0, 6) as usize;
        format!("{v:.places$}")
    }
}

/// `42s`, `3m07s`, `1h02m`; `-` for a non-finite or negative duration.
pub fn format_duration(secs: f64) -> String {
    if !(secs.is_finite() && secs >= 0.0) {
        return "-".into();
    }
    if secs < 10.0 {
        return format!("{secs:.1}s");
    }
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn run(batches: usize, epochs: usize) -> Vec<String> {
        let buf = Shared::default();
        let mut p = Progress::plain_to(Box::new(buf.clone()), epochs, batches);
        for e in 1..=epochs {
            p.start_epoch(e);
            for b in 0..batches {
                p.batch(64, 1.0 / (b + 1) as f64);
            }
            p.end_epoch(&[("test", 0.5), ("kl", 12.25)]);
        }
        p.finish();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn plain_mode_prints_every_tenth_and_a_summary() {
        let lines = run(100, 2);
        assert_eq!(lines.len(), 2 * 10, "{lines:#?}");
        assert!(lines[0].starts_with("epoch 1/2  batch 10/100 (10%)  loss "), "{}", lines[0]);
        assert!(lines[0].contains("samples/s") && lines[0].contains("eta "), "{}", lines[0]);
        assert!(lines[0].contains("(run "), "{}", lines[0]);
        assert!(lines[8].contains("batch 90/100 (90%)"), "{}", lines[8]);
        assert!(lines[9].starts_with("epoch 1/2  loss ") && lines[9].contains("test 0.5000  kl 12.25"), "{}", lines[9]);
        assert!(lines[19].starts_with("epoch 2/2  loss "));
    }

    #[test]
    fn few_batches_print_each_once() {
        let lines = run(3, 1);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(lines[0].contains("batch 1/3") && lines[1].contains("batch 2/3"));
        assert_eq!(run(1, 1).len(), 1);
        assert_eq!(run(0, 1).len(), 1);
    }

    /// A GAN's figures are shown under their names: its `loss` is only D's, so an unlabelled
    /// "loss" (what the line used to show) said the wrong thing.
    #[test]
    fn each_figure_is_shown_under_its_name() {
        let buf = Shared::default();
        let mut p = Progress::plain_to(Box::new(buf.clone()), 1, 4);
        p.start_epoch(1);
        for b in 0..4 {
            p.batch_parts(64, &[("d_loss", 1.0 + b as f64), ("g_loss", 0.5)]);
        }
        p.end_epoch(&[("test d_loss", 1.25)]);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("epoch 1/1  batch 1/4 (25%)  d_loss 1.000  g_loss 0.5000  "), "{text}");
        assert!(lines[3].starts_with("epoch 1/1  d_loss 2.500  g_loss 0.5000  test d_loss 1.250  ("), "{text}");
        assert!(!text.contains(" loss "), "no unlabelled loss: {text}");
        assert_eq!(p.running_means(), vec![("d_loss", 2.5), ("g_loss", 0.5)]);
    }

    #[test]
    fn running_loss_is_sample_weighted() {
        let mut p = Progress::new(1, 2, ProgressMode::Quiet);
        p.start_epoch(1);
        assert!(p.running_loss().is_nan() && p.eta().is_none());
        p.batch(3, 1.0);
        p.batch(1, 5.0);
        assert_eq!(p.running_loss(), 2.0);
        let (epoch, run) = p.eta().unwrap();
        assert!(epoch == 0.0 && run == 0.0);
    }

    #[test]
    fn bar_mode_does_not_panic_without_a_terminal() {
        let mut p = Progress::new(2, 5, ProgressMode::Bar);
        p.start_epoch(1);
        for _ in 0..7 {
            p.batch(10, f64::NAN);
        }
        p.end_epoch(&[]);
        p.println("saved checkpoint");
        p.finish();
    }

    #[test]
    fn values_and_durations_are_short() {
        assert_eq!(format_value(0.123456), "0.1235");
        assert_eq!(format_value(123.456), "123.5");
        assert_eq!(format_value(12345.6), "12346");
        assert_eq!(format_value(1.5e-5), "1.500e-5");
        assert_eq!(format_value(f64::NAN), "nan");
        assert_eq!(format_value(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_duration(3.21), "3.2s");
        assert_eq!(format_duration(42.4), "42s");
        assert_eq!(format_duration(187.0), "3m07s");
        assert_eq!(format_duration(3725.0), "1h02m");
        assert_eq!(format_duration(f64::INFINITY), "-");
    }
}
