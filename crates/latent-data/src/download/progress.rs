//! Transfer progress: an indicatif bar with bytes and rate on a terminal, plain lines otherwise,
//! nothing in tests.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A live bar on stderr.
    Bar,
    /// One line when a transfer starts and one when it ends, on stderr.
    Plain,
    /// Nothing.
    Quiet,
}

impl ProgressMode {
    /// A bar if stderr is a terminal, else plain lines.
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal() { ProgressMode::Bar } else { ProgressMode::Plain }
    }
}

/// The progress of one transfer.
pub struct Progress {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    label: String,
    bytes: u64,
    start: Instant,
}

impl Progress {
    /// Starts showing a transfer of `total` bytes (if known) labelled `label`.
    pub fn start(mode: ProgressMode, label: &str, total: Option<u64>) -> Self {
        let bar = match mode {
            ProgressMode::Bar => {
                let template = if total.is_some() {
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}"
                } else {
                    "{msg} {bytes} {binary_bytes_per_sec}"
                };
                let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
                if let Ok(style) = ProgressStyle::with_template(template) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(label.to_string());
                Some(bar)
            }
            ProgressMode::Plain => {
                match total {
                    Some(t) => eprintln!("{label}: {t} bytes ..."),
                    None => eprintln!("{label}: ..."),
                }
                None
            }
            ProgressMode::Quiet => None,
        };
        Progress { mode, bar, label: label.to_string(), bytes: 0, start: Instant::now() }
    }

    /// Records `n` more bytes.
    pub fn inc(&mut self, n: u64) {
        self.bytes += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Ends the display; `outcome` is a short word such as `done` or `failed`.
    pub fn finish(self, outcome: &str) {
        let secs = self.start.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { self.bytes as f64 / secs / 1e6 } else { 0.0 };
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.mode != ProgressMode::Quiet {
            eprintln!("{}: {outcome}, {} bytes in {secs:.2} s ({rate:.1} MB/s)", self.label, self.bytes);
        }
    }
}
