//! The side-by-side measurement of a one-thread case: latent and PyTorch train at the same time,
//! each pinned to a CPU of its own, so that whatever the machine does to one side's speed over
//! the window (a neighbour on a shared host, a clock that wanders) it does to the other's.
//!
//! # Why
//! Alternated runs ([`super::e2e`]) compare runs minutes apart. On a shared virtual machine
//! whose speed wanders by ±30% within minutes, 7 alternated rounds of the MLP GAN gave paired
//! ratios from 1.16 to 1.62, and four such comparisons pooled still left its median uncertain
//! by ±0.1. Run side by side for 5 minutes on each CPU (this scheme, by a shell script, the
//! same hour), the same model gave 1.501 and 1.506.
//!
//! # How
//! Two halves of `window` each. In the first, latent's runs go to the first of two CPUs and
//! PyTorch's to the second, each side starting run after run until the half's deadline (a run
//! under way at the deadline finishes, so each side runs at least once per half); in the second
//! half the CPUs are swapped, so that a difference between the CPUs (a busy hyper-thread
//! sibling, another vCPU's host core) weighs on both sides alike. A side whose counted runs are
//! over while the other's last one is still going keeps the machine as loaded with runs that are
//! not counted, so that no counted run ends on a machine to itself. Each side's figures are its
//! counted runs; the paired ratio is each half's ratio of the sides' medians.
//!
//! The two processes share the caches and memory bandwidth that a run alone has to itself, so
//! the samples/s are those of a loaded machine: the ratio, not the figures, is what compares.
//! Nor is the load the same mix for both: a run's untimed parts (start-up, data loading, test
//! passes, writing images) overlap the other side's timed epochs, and the two sides' runs differ
//! in length and in those parts. Only one-thread cases can run this way on two CPUs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::e2e::{CaseReport, SideReport, case_report};
use super::sides::{Case, RunFigure, Side};
use super::stats::Spread;

/// Runs `case` (one thread) side by side on `cpus` for two halves of `window`, reporting each
/// run through `progress` as it ends.
pub fn measure_case(
    case: &Case,
    latent: &(dyn Side + Sync),
    torch: &(dyn Side + Sync),
    cpus: [usize; 2],
    window: Duration,
    progress: &mut dyn FnMut(&str),
) -> CaseReport {
    let mut reports = [SideReport::default(), SideReport::default()];
    let mut half_ratios = Vec::new();
    for half in 0..2 {
        let deadline = Instant::now() + window;
        let placed: [(&(dyn Side + Sync), usize); 2] = [(latent, cpus[half]), (torch, cpus[1 - half])];
        let (tx, rx) = mpsc::channel::<String>();
        let counting = AtomicUsize::new(2);
        let counting = &counting;
        let results: Vec<(Vec<RunFigure>, Option<String>)> = thread::scope(|scope| {
            let workers: Vec<_> = placed
                .iter()
                .zip(&reports)
                .map(|(&(side, cpu), report)| {
                    let tx = tx.clone();
                    let failed_before = report.failure.is_some();
                    let case = Case { cpu: Some(cpu), ..*case };
                    scope.spawn(move || run_until(&case, side, half, deadline, failed_before, counting, &tx))
                })
                .collect();
            drop(tx);
            for line in rx {
                progress(&line);
            }
            workers.into_iter().map(|w| w.join().unwrap_or_else(|_| (Vec::new(), Some("panicked".into())))).collect()
        });
        let mut medians = [None, None];
        for ((report, (runs, failure)), median) in reports.iter_mut().zip(results).zip(&mut medians) {
            let sps: Vec<f64> = runs.iter().map(|r| r.samples_per_s).collect();
            *median = Spread::of(&sps).map(|s| s.median);
            report.runs.extend(runs);
            if report.failure.is_none() {
                report.failure = failure;
            }
        }
        if let [Some(l), Some(t)] = medians
            && t > 0.0
        {
            half_ratios.push(l / t);
        }
    }
    let [latent_report, torch_report] = reports;
    case_report(case, latent_report, Some(torch_report), Spread::of(&half_ratios), Some(window.as_secs_f64()))
}

/// One side's runs of one half: run after run until `deadline` (at least one), stopping at the
/// first failure; nothing if the side failed in an earlier half. `counting` is the number of
/// sides still making counted runs: this side takes itself off when its own are over, then runs
/// uncounted ones while the other side is still counting.
fn run_until(
    case: &Case,
    side: &(dyn Side + Sync),
    half: usize,
    deadline: Instant,
    failed_before: bool,
    counting: &AtomicUsize,
    progress: &mpsc::Sender<String>,
) -> (Vec<RunFigure>, Option<String>) {
    if failed_before {
        counting.fetch_sub(1, Ordering::SeqCst);
        return (Vec::new(), None);
    }
    let (runs, failure) = counted_runs(case, side, half, deadline, progress);
    counting.fetch_sub(1, Ordering::SeqCst);
    if failure.is_none() {
        while counting.load(Ordering::SeqCst) > 0 {
            let outcome = side.run(case);
            let _ = progress.send(format!(
                "{} {}t half {}/2 {} (not counted, keeping the load while the other side finishes): {}",
                case.model.name(),
                case.threads,
                half + 1,
                side.label(),
                outcome
                    .as_ref()
                    .map_or_else(|e| format!("FAILED: {e:#}"), |f| format!("{:.1} samples/s", f.samples_per_s))
            ));
            if outcome.is_err() {
                break;
            }
        }
    }
    (runs, failure)
}

/// The counted runs of [`run_until`].
fn counted_runs(
    case: &Case,
    side: &(dyn Side + Sync),
    half: usize,
    deadline: Instant,
    progress: &mpsc::Sender<String>,
) -> (Vec<RunFigure>, Option<String>) {
    let mut runs = Vec::new();
    let cpu = case.cpu.map_or_else(|| "?".into(), |c| c.to_string());
    loop {
        let head = format!(
            "{} {}t half {}/2 run {} {:<6} on CPU {cpu}",
            case.model.name(),
            case.threads,
            half + 1,
            runs.len() + 1,
            side.label()
        );
        match side.run(case) {
            Ok(fig) => {
                let _ = progress.send(format!("{head} {:>10.1} samples/s  ({:.1} s)", fig.samples_per_s, fig.wall_s));
                runs.push(fig);
            }
            Err(err) => {
                let _ = progress.send(format!("{head} FAILED: {err:#}"));
                return (runs, Some(format!("{err:#}")));
            }
        }
        if Instant::now() >= deadline {
            return (runs, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::bench::sides::Model;

    /// A side whose runs take `run_ms` and report `value(cpu)`; fails from run `fail_at` on.
    struct Timed {
        label: &'static str,
        run_ms: u64,
        value: fn(usize) -> f64,
        fail_at: Option<usize>,
        calls: Mutex<Vec<usize>>,
    }

    impl Side for Timed {
        fn label(&self) -> &'static str {
            self.label
        }

        fn run(&self, case: &Case) -> anyhow::Result<RunFigure> {
            let cpu = case.cpu.expect("side by side pins every run");
            let n = {
                let mut calls = self.calls.lock().unwrap();
                calls.push(cpu);
                calls.len()
            };
            thread::sleep(Duration::from_millis(self.run_ms));
            if self.fail_at.is_some_and(|f| n >= f) {
                anyhow::bail!("killed");
            }
            Ok(RunFigure { samples_per_s: (self.value)(cpu), max_rss_kib: Some(1024), wall_s: 0.0 })
        }
    }

    fn timed(label: &'static str, run_ms: u64, value: fn(usize) -> f64, fail_at: Option<usize>) -> Timed {
        Timed { label, run_ms, value, fail_at, calls: Mutex::new(Vec::new()) }
    }

    const CASE: Case = Case { model: Model::Gan, threads: 1, batches: 10, cpu: None };

    #[test]
    fn sides_swap_cpus_halfway_and_each_half_gives_a_ratio() {
        // CPU 7 runs everything at half the speed of CPU 3: the halves' ratios are 4 and 1, and
        // the swap is what lets the two sides see both CPUs.
        let latent = timed("latent", 5, |cpu| if cpu == 3 { 200.0 } else { 100.0 }, None);
        let torch = timed("torch", 15, |cpu| if cpu == 3 { 100.0 } else { 50.0 }, None);
        let mut lines = Vec::new();
        let report =
            measure_case(&CASE, &latent, &torch, [3, 7], Duration::from_millis(60), &mut |l| lines.push(l.to_string()));
        let (lc, tc) = (latent.calls.lock().unwrap().clone(), torch.calls.lock().unwrap().clone());
        let first_half = |calls: &[usize], cpu| calls.iter().take_while(|&&c| c == cpu).count();
        assert!(first_half(&lc, 3) >= 2 && lc[first_half(&lc, 3)..].iter().all(|&c| c == 7), "{lc:?}");
        assert!(first_half(&tc, 7) >= 1 && tc[first_half(&tc, 7)..].iter().all(|&c| c == 3), "{tc:?}");
        assert!(lc.len() > tc.len(), "the faster side runs more often: {lc:?} {tc:?}");
        assert_eq!(lines.len(), lc.len() + tc.len(), "every run is reported, counted or not");
        assert!(lines.iter().any(|l| l.starts_with("gan 1t half 2/2 run 1 torch  on CPU 3")), "{lines:?}");
        assert_eq!(report.paired_ratio, Some(Spread { median: 2.5, min: 1.0, max: 4.0 }));
        assert_eq!(report.side_by_side_s, Some(0.06));
        let counted = report.latent.runs.len() + report.torch.as_ref().unwrap().runs.len();
        assert!(counted >= 4 && counted <= lc.len() + tc.len());
        assert!(report.ratio.is_some() && report.failures().is_empty());
    }

    #[test]
    fn a_failed_side_stops_for_good_and_the_other_goes_on() {
        let latent = timed("latent", 2, |_| 100.0, None);
        let torch = timed("torch", 2, |_| 50.0, Some(2));
        let report = measure_case(&CASE, &latent, &torch, [0, 1], Duration::from_millis(20), &mut |_| {});
        // torch: one good run, then the failure; nothing in the second half.
        assert_eq!(torch.calls.lock().unwrap().len(), 2);
        assert!(latent.calls.lock().unwrap().contains(&1), "latent runs in the second half too");
        assert_eq!(report.torch.as_ref().unwrap().runs.len(), 1);
        assert_eq!(report.failures(), ["gan 1t, torch: killed"]);
        // Only the first half has both sides.
        assert_eq!(report.paired_ratio, Some(Spread { median: 2.0, min: 2.0, max: 2.0 }));
    }

    #[test]
    fn a_window_shorter_than_a_run_still_counts_one_run_per_side_and_half() {
        let latent = timed("latent", 10, |_| 10.0, None);
        let torch = timed("torch", 10, |_| 10.0, None);
        let report = measure_case(&CASE, &latent, &torch, [0, 1], Duration::ZERO, &mut |_| {});
        assert_eq!(report.latent.runs.len(), 2);
        assert_eq!(report.torch.as_ref().unwrap().runs.len(), 2);
        let calls = latent.calls.lock().unwrap().clone();
        assert!(calls[0] == 0 && calls.last() == Some(&1), "{calls:?}");
        assert_eq!(report.paired_ratio.unwrap().median, 1.0);
    }

    #[test]
    fn the_side_done_first_keeps_the_load_with_uncounted_runs() {
        // Within each half: latent's one counted run takes 2 ms, torch's 40 ms; latent keeps
        // running meanwhile, uncounted, and torch, done last, does not.
        let latent = timed("latent", 2, |_| 100.0, None);
        let torch = timed("torch", 40, |_| 50.0, None);
        let mut lines = Vec::new();
        let report = measure_case(&CASE, &latent, &torch, [0, 1], Duration::ZERO, &mut |l| lines.push(l.to_string()));
        assert_eq!(report.latent.runs.len(), 2);
        assert!(latent.calls.lock().unwrap().len() > 4, "{:?}", latent.calls.lock().unwrap());
        assert_eq!(*torch.calls.lock().unwrap(), [1, 0]);
        assert!(lines.iter().any(|l| l.contains("latent (not counted")), "{lines:?}");
        assert_eq!(report.paired_ratio.unwrap().median, 2.0);
    }
}
