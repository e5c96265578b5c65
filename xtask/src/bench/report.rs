//! What a benchmark leaves: the printed tables and the JSON record.
//!
//! The JSON file holds everything needed to compare it with a later one: when (Unix time and
//! UTC date), what (git commit, and whether the working tree had changes), where (CPU model,
//! logical CPUs, the load average before and after), how (every setting), every run's raw
//! figure, and the summaries the tables print. It is rewritten atomically after every case, so
//! an interrupted benchmark keeps what it measured; `complete` says whether it ran to the end.

use std::path::Path;
use std::process::Command;

use anyhow::Context;
use serde::Serialize;

use super::child;
use super::e2e::CaseReport;
use super::micro::MicroReport;
use super::stats::Spread;

/// Version of the JSON layout.
pub const SCHEMA: u32 = 1;

/// The machine the figures come from.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// The CPU's model name (`/proc/cpuinfo`), or `unknown`.
    pub cpu: String,
    /// CPUs this process may use.
    pub logical_cpus: usize,
    /// `std::env::consts::OS`.
    pub os: &'static str,
    /// `std::env::consts::ARCH`.
    pub arch: &'static str,
}

impl Machine {
    /// This machine.
    pub fn detect() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| cpu_model(&text))
            .unwrap_or_else(|| "unknown".into());
        let logical_cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Machine { cpu, logical_cpus, os: std::env::consts::OS, arch: std::env::consts::ARCH }
    }
}

/// The first `model name` of a `/proc/cpuinfo` text.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_string())
    })
}

/// The 1-minute load average (`/proc/loadavg`), if known.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// The code measured.
#[derive(Clone, Debug, Serialize)]
pub struct Git {
    /// `git rev-parse HEAD`, or `unknown`.
    pub commit: String,
    /// Whether tracked files differ from the commit (`None` if git could not tell).
    pub dirty: Option<bool>,
}

impl Git {
    /// The state of the repository at `root`. Read-only: `--no-optional-locks` keeps `git
    /// status` from refreshing the index.
    pub fn detect(root: &Path) -> Git {
        let git = |args: &[&str]| {
            Command::new("git")
                .arg("--no-optional-locks")
                .args(args)
                .current_dir(root)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        let commit = git(&["rev-parse", "HEAD"]).filter(|c| !c.is_empty()).unwrap_or_else(|| "unknown".into());
        let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty());
        Git { commit, dirty }
    }
}

/// The whole record.
#[derive(Clone, Debug, Serialize)]
pub struct Document<S: Serialize> {
    /// [`SCHEMA`].
    pub schema: u32,
    /// Seconds since the Unix epoch at the start.
    pub created_unix: u64,
    /// The same instant, `YYYY-MM-DDTHH:MM:SSZ`.
    pub date_utc: String,
    /// The code.
    pub git: Git,
    /// The machine.
    pub machine: Machine,
    /// The 1-minute load average before the first run.
    pub load_average_start: Option<f64>,
    /// The 1-minute load average when the record was written.
    pub load_average_now: Option<f64>,
    /// This process's own peak RSS, KiB: the floor of every child's figure (see [`child`]).
    pub bench_peak_rss_kib: Option<u64>,
    /// Every setting of the invocation.
    pub settings: S,
    /// The end-to-end cases measured so far.
    pub end_to_end: Vec<CaseReport>,
    /// The micro-benchmarks measured so far.
    pub micro: Vec<MicroReport>,
    /// Every failed run.
    pub failures: Vec<String>,
    /// Whether the benchmark ran to the end.
    pub complete: bool,
}

impl<S: Serialize> Document<S> {
    /// Writes the record to `path` atomically (a temporary file beside it, then a rename).
    ///
    /// # Errors
    /// If the directory cannot be created or the file written.
    pub fn save(&mut self, path: &Path) -> anyhow::Result<()> {
        self.load_average_now = load_average();
        self.bench_peak_rss_kib = child::own_peak_rss_kib();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        Ok(latent_fsio::write_bytes(path, text.as_bytes())?)
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for `unix` seconds (proleptic Gregorian calendar, UTC).
pub fn utc_date(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3_600, secs / 60 % 60, secs % 60)
}

/// `12,345` for 12345.4.
fn grouped(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if value < 0.0 { format!("-{out}") } else { out }
}

/// `median (min-max)` with thousands grouped, or `-`.
fn samples_cell(s: Option<&Spread>) -> String {
    s.map_or_else(|| "-".into(), |s| format!("{} ({}-{})", grouped(s.median), grouped(s.min), grouped(s.max)))
}

/// `median (min-max)` with `decimals`, or `-`.
fn plain_cell(s: Option<&Spread>, decimals: usize) -> String {
    s.map_or_else(|| "-".into(), |s| format!("{:.d$} ({:.d$}-{:.d$})", s.median, s.min, s.max, d = decimals))
}

/// A median RSS in MiB, or `-`.
fn rss_cell(s: Option<&Spread>) -> String {
    s.map_or_else(|| "-".into(), |s| format!("{:.0}", s.median / 1024.0))
}

/// The end-to-end table.
pub fn e2e_table(cases: &[CaseReport], runs: usize) -> String {
    let compared = cases.iter().any(|c| c.torch.is_some());
    let mut out = format!(
        "End to end: training samples/s of epoch 2 (epoch 1 is warm-up), median (min-max) of {runs} run(s); \
         latent/torch: ratio of the medians (worst-best pairing); paired: median (min-max) of each round's \
         two adjacent runs' ratio; peak RSS: median, MiB\n"
    );
    let mut row = |cells: [&str; 9]| {
        let line = format!(
            "{:<8} {:>3} {:>9}  {:<24} {:<24} {:<18} {:<18} {:>6} {:>6}",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7], cells[8]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    };
    row(["model", "thr", "batches", "latent samples/s", "torch samples/s", "latent/torch", "paired", "RSS L", "RSS T"]);
    for c in cases {
        let torch = c.torch.as_ref();
        let latent_cell = match (&c.latent.samples_per_s, &c.latent.failure) {
            (None, Some(_)) => "FAILED".to_string(),
            (s, _) => samples_cell(s.as_ref()),
        };
        let torch_cell = match torch {
            None => "-".to_string(),
            Some(t) if t.samples_per_s.is_none() && t.failure.is_some() => "FAILED".to_string(),
            Some(t) => samples_cell(t.samples_per_s.as_ref()),
        };
        let model =
            if c.side_by_side_s.is_some() { format!("{}*", c.model.name()) } else { c.model.name().to_string() };
        row([
            &model,
            &c.threads.to_string(),
            &format!("{}x{}", c.batches, c.batch_size),
            &latent_cell,
            &torch_cell,
            &plain_cell(c.ratio.as_ref(), 2),
            &plain_cell(c.paired_ratio.as_ref(), 2),
            &rss_cell(c.latent.max_rss_kib.as_ref()),
            &rss_cell(torch.and_then(|t| t.max_rss_kib.as_ref())),
        ]);
    }
    if !compared {
        out.push_str("(no PyTorch comparison: add --compare PYTHON)\n");
    }
    if let Some(secs) = cases.iter().find_map(|c| c.side_by_side_s) {
        out.push_str(&format!(
            "* side by side: latent and torch trained at the same time on CPUs of their own, {secs:.0} s, then {secs:.0} s \
             with the CPUs swapped; the runs started in time count; paired: the two halves' ratios of the medians\n"
        ));
    }
    out
}

/// The micro-benchmark table: one row per case, one column per thread count.
pub fn micro_table(reports: &[MicroReport], threads: &[usize], reps: usize) -> String {
    let mut out = format!("Micro-benchmarks: GFLOP/s, median (min-max) of {reps} repetitions\n");
    let mut header = format!("{:<36}", "kernel");
    for t in threads {
        header.push_str(&format!(" {:<20}", format!("{t} thread{}", if *t == 1 { "" } else { "s" })));
    }
    out.push_str(header.trim_end());
    out.push('\n');
    let mut names: Vec<&str> = Vec::new();
    for r in reports {
        if !names.contains(&r.name.as_str()) {
            names.push(&r.name);
        }
    }
    for name in names {
        let mut line = format!("{:<36}", name);
        for t in threads {
            let cell = reports.iter().find(|r| r.name == name && r.threads == *t).and_then(|r| r.summary.as_ref());
            line.push_str(&format!(" {:<20}", plain_cell(cell, 1)));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::e2e::SideReport;
    use crate::bench::sides::Model;

    #[test]
    fn the_micro_table_has_a_column_per_thread_count() {
        let r = |threads, median| MicroReport {
            name: "square 1024".into(),
            kernel: "gemm",
            shape: "1024x1024 · 1024x1024".into(),
            threads,
            flop_per_call: 2.0 * 1024f64.powi(3),
            calls_per_rep: 5,
            gflops: vec![median],
            summary: Spread::of(&[median]),
        };
        let table = micro_table(&[r(1, 97.25), r(2, 190.0)], &[1, 2], 1);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert_eq!(lines[1].split_whitespace().collect::<Vec<_>>(), ["kernel", "1", "thread", "2", "threads"]);
        assert!(lines[2].starts_with("square 1024"), "{}", lines[2]);
        assert!(lines[2].contains("97.2 (97.2-97.2)") && lines[2].ends_with("190.0 (190.0-190.0)"), "{}", lines[2]);
    }

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(utc_date(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_date(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc_date(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_date(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn cpu_model_is_the_first_model_name() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14\n\nprocessor\t: 1\nmodel name\t: other\n";
        assert_eq!(cpu_model(text).as_deref(), Some("AMD EPYC 9R14"));
        assert_eq!(cpu_model("processor : 0\n"), None);
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(grouped(0.4), "0");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(grouped(15_604.8), "15,605");
        assert_eq!(grouped(1_234_567.0), "1,234,567");
    }

    #[test]
    fn the_table_shows_figures_ratio_and_failures() {
        let side = |v: [f64; 3]| SideReport {
            samples_per_s: Spread::of(&v),
            max_rss_kib: Spread::of(&[102_400.0]),
            ..SideReport::default()
        };
        let latent = side([15_000.0, 16_000.0, 15_500.0]);
        let torch = side([10_000.0, 12_000.0, 11_000.0]);
        let ratio = latent.samples_per_s.unwrap().ratio(&torch.samples_per_s.unwrap());
        let ok = CaseReport {
            model: Model::Vae,
            threads: 1,
            batch_size: 128,
            batches: 100,
            latent,
            torch: Some(torch),
            ratio,
            paired_ratio: Spread::of(&[1.5, 1.25, 1.45]),
            side_by_side_s: None,
        };
        let failed = CaseReport {
            model: Model::Gan,
            torch: Some(SideReport { failure: Some("boom".into()), ..SideReport::default() }),
            ratio: None,
            paired_ratio: None,
            ..ok.clone()
        };
        let table = e2e_table(&[ok, failed], 3);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[2].starts_with("vae        1   100x128"), "{}", lines[2]);
        assert!(lines[2].contains("15,500 (15,000-16,000)"), "{}", lines[2]);
        assert!(lines[2].contains("11,000 (10,000-12,000)"), "{}", lines[2]);
        assert!(lines[2].contains("1.41 (1.25-1.60)   1.45 (1.25-1.50)"), "{}", lines[2]);
        assert!(lines[2].ends_with("100    100"), "{}", lines[2]);
        assert!(lines[3].contains("FAILED"), "{}", lines[3]);
    }

    #[test]
    fn side_by_side_rows_are_marked_and_explained() {
        let side = SideReport { samples_per_s: Spread::of(&[100.0]), ..SideReport::default() };
        let case = CaseReport {
            model: Model::Gan,
            threads: 1,
            batch_size: 64,
            batches: 200,
            latent: side.clone(),
            torch: Some(side),
            ratio: Spread::of(&[1.0]),
            paired_ratio: Spread::of(&[1.0, 1.0]),
            side_by_side_s: Some(300.0),
        };
        let table = e2e_table(&[case], 3);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[2].starts_with("gan*       1    200x64"), "{}", lines[2]);
        assert!(lines[3].starts_with("* side by side:") && lines[3].contains("300 s"), "{}", lines[3]);
    }
}
