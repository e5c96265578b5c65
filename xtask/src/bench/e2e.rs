//! The end-to-end measurement of one case: runs of latent and PyTorch alternated, then summed
//! up.
//!
//! Run `r` goes latent then torch when `r` is even and torch then latent when it is odd (ABBA
//! order), so a drift in the machine's load or clock over the case weighs on both sides alike.
//! A failed run is recorded and ends that side's runs for the case; the other side goes on, so
//! a broken Python never costs the latent figures already measured (nor the reverse).
//!
//! Besides the ratio of the two sides' medians, each round's two runs (adjacent in time) give a
//! ratio of their own, and the case reports the median and range of those: on a shared machine
//! whose speed wanders over minutes, a round's two runs see nearly the same machine, so the
//! paired ratios spread much less than the sides' own figures.

use serde::Serialize;

use super::sides::{Case, Model, RunFigure, Side};
use super::stats::Spread;

/// One side's runs of a case and their summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SideReport {
    /// Every successful run, in order.
    pub runs: Vec<RunFigure>,
    /// Why the side stopped early, if it did.
    pub failure: Option<String>,
    /// Median and range of the runs' samples/s.
    pub samples_per_s: Option<Spread>,
    /// Median and range of the runs' peak RSS, KiB.
    pub max_rss_kib: Option<Spread>,
}

impl SideReport {
    fn summarise(&mut self) {
        let sps: Vec<f64> = self.runs.iter().map(|r| r.samples_per_s).collect();
        self.samples_per_s = Spread::of(&sps);
        let rss: Option<Vec<f64>> = self.runs.iter().map(|r| r.max_rss_kib.map(|k| k as f64)).collect();
        self.max_rss_kib = rss.and_then(|v| Spread::of(&v));
    }
}

/// The figures of one (model, threads) case.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseReport {
    /// The model.
    pub model: Model,
    /// Threads of both sides.
    pub threads: usize,
    /// Examples per batch (both sides).
    pub batch_size: usize,
    /// Training batches per epoch (both sides).
    pub batches: usize,
    /// latent's runs.
    pub latent: SideReport,
    /// PyTorch's runs, when compared.
    pub torch: Option<SideReport>,
    /// latent's samples/s over PyTorch's, with the range the extremes allow.
    pub ratio: Option<Spread>,
    /// Median and range of each round's latent/PyTorch ratio (the two runs of a round are
    /// adjacent in time), over the rounds both sides completed; side by side, of each half's
    /// ratio of the sides' medians.
    pub paired_ratio: Option<Spread>,
    /// Seconds of each half, when the sides ran side by side ([`super::side_by_side`]) rather
    /// than alternated.
    pub side_by_side_s: Option<f64>,
}

impl CaseReport {
    /// Every failure of the case, as `model threads side: message`.
    pub fn failures(&self) -> Vec<String> {
        let sides = [("latent", Some(&self.latent)), ("torch", self.torch.as_ref())];
        sides
            .into_iter()
            .filter_map(|(label, side)| {
                let msg = side?.failure.as_ref()?;
                Some(format!("{} {}t, {label}: {msg}", self.model.name(), self.threads))
            })
            .collect()
    }
}

/// Runs `case` `runs` times on `latent` and, if given, on `torch`, alternated, reporting each
/// run through `progress`.
pub fn measure_case(
    case: &Case,
    latent: &dyn Side,
    torch: Option<&dyn Side>,
    runs: usize,
    progress: &mut dyn FnMut(&str),
) -> CaseReport {
    let mut reports = [SideReport::default(), SideReport::default()];
    for r in 0..runs {
        let order: [usize; 2] = if r % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let side = if i == 0 { Some(latent) } else { torch };
            let Some(side) = side else { continue };
            let report = &mut reports[i];
            if report.failure.is_some() {
                continue;
            }
            let head = format!("{} {}t run {}/{runs} {:<6}", case.model.name(), case.threads, r + 1, side.label());
            match side.run(case) {
                Ok(fig) => {
                    let rss = fig.max_rss_kib.map_or_else(|| "?".into(), |k| format!("{:.0}", k as f64 / 1024.0));
                    progress(&format!(
                        "{head} {:>10.1} samples/s  peak RSS {rss} MiB  ({:.1} s)",
                        fig.samples_per_s, fig.wall_s
                    ));
                    report.runs.push(fig);
                }
                Err(err) => {
                    progress(&format!("{head} FAILED: {err:#}"));
                    report.failure = Some(format!("{err:#}"));
                }
            }
        }
    }
    let [latent_report, torch_report] = reports;
    let paired_ratio = paired_ratios(&latent_report.runs, &torch_report.runs).and_then(|r| Spread::of(&r));
    case_report(case, latent_report, torch.map(|_| torch_report), paired_ratio, None)
}

/// The report of `case` from its sides' runs (summarised here) and its paired ratio.
pub(super) fn case_report(
    case: &Case,
    mut latent: SideReport,
    mut torch: Option<SideReport>,
    paired_ratio: Option<Spread>,
    side_by_side_s: Option<f64>,
) -> CaseReport {
    latent.summarise();
    if let Some(t) = torch.as_mut() {
        t.summarise();
    }
    let ratio = match (&latent.samples_per_s, torch.as_ref().and_then(|t| t.samples_per_s.as_ref())) {
        (Some(l), Some(t)) => l.ratio(t),
        _ => None,
    };
    CaseReport {
        model: case.model,
        threads: case.threads,
        batch_size: case.model.batch_size(),
        batches: case.batches,
        latent,
        torch,
        ratio,
        paired_ratio,
        side_by_side_s,
    }
}

/// Each round's latent/torch ratio, for the rounds both sides completed (a failure ends a side,
/// so run `i` of either side belongs to round `i`); `None` if a torch figure is not positive.
/// No completed round gives an empty list, which [`Spread::of`] turns into no figure.
fn paired_ratios(latent: &[RunFigure], torch: &[RunFigure]) -> Option<Vec<f64>> {
    latent.iter().zip(torch).map(|(l, t)| (t.samples_per_s > 0.0).then(|| l.samples_per_s / t.samples_per_s)).collect()
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// A side that returns scripted figures (an `Err` entry fails that run) and logs its calls.
    struct Scripted<'a> {
        label: &'static str,
        figures: RefCell<Vec<Result<f64, &'static str>>>,
        log: &'a RefCell<Vec<&'static str>>,
    }

    impl Side for Scripted<'_> {
        fn label(&self) -> &'static str {
            self.label
        }

        fn run(&self, _case: &Case) -> anyhow::Result<RunFigure> {
            self.log.borrow_mut().push(self.label);
            let next = self.figures.borrow_mut().remove(0);
            let samples_per_s = next.map_err(anyhow::Error::msg)?;
            Ok(RunFigure { samples_per_s, max_rss_kib: Some(1024 * samples_per_s as u64), wall_s: 1.0 })
        }
    }

    fn scripted<'a>(
        label: &'static str,
        figures: Vec<Result<f64, &'static str>>,
        log: &'a RefCell<Vec<&'static str>>,
    ) -> Scripted<'a> {
        Scripted { label, figures: RefCell::new(figures), log }
    }

    const CASE: Case = Case { model: Model::Vae, threads: 1, batches: 10, cpu: None };

    #[test]
    fn runs_alternate_and_are_summarised() {
        let log = RefCell::new(Vec::new());
        let latent = scripted("latent", vec![Ok(100.0), Ok(120.0), Ok(110.0)], &log);
        let torch = scripted("torch", vec![Ok(50.0), Ok(40.0), Ok(80.0)], &log);
        let mut lines = Vec::new();
        let report = measure_case(&CASE, &latent, Some(&torch), 3, &mut |l| lines.push(l.to_string()));
        assert_eq!(*log.borrow(), ["latent", "torch", "torch", "latent", "latent", "torch"]);
        assert_eq!(lines.len(), 6);
        assert!(lines[0].starts_with("vae 1t run 1/3 latent"), "{}", lines[0]);
        assert_eq!(report.latent.samples_per_s, Some(Spread { median: 110.0, min: 100.0, max: 120.0 }));
        assert_eq!(report.latent.max_rss_kib.unwrap().median, 110.0 * 1024.0);
        let torch = report.torch.as_ref().unwrap();
        assert_eq!(torch.samples_per_s, Some(Spread { median: 50.0, min: 40.0, max: 80.0 }));
        assert_eq!(report.ratio, Some(Spread { median: 110.0 / 50.0, min: 100.0 / 80.0, max: 120.0 / 40.0 }));
        // Rounds: 100/50, 120/40, 110/80.
        assert_eq!(report.paired_ratio, Some(Spread { median: 2.0, min: 110.0 / 80.0, max: 3.0 }));
        assert!(report.failures().is_empty());
    }

    #[test]
    fn a_failed_torch_run_keeps_the_latent_figures() {
        let log = RefCell::new(Vec::new());
        let latent = scripted("latent", vec![Ok(100.0), Ok(120.0), Ok(110.0)], &log);
        let torch = scripted("torch", vec![Ok(50.0), Err("No module named 'torch'")], &log);
        let report = measure_case(&CASE, &latent, Some(&torch), 3, &mut |_| {});
        // torch is not run again after its failure; latent runs all three times.
        assert_eq!(*log.borrow(), ["latent", "torch", "torch", "latent", "latent"]);
        assert_eq!(report.latent.runs.len(), 3);
        assert_eq!(report.latent.samples_per_s.unwrap().median, 110.0);
        let torch = report.torch.as_ref().unwrap();
        assert_eq!(torch.runs.len(), 1);
        assert_eq!(torch.failure.as_deref(), Some("No module named 'torch'"));
        // The one successful torch run still gives a (wide-open) ratio.
        assert_eq!(report.ratio.unwrap().median, 110.0 / 50.0);
        // Only round 1 has both runs.
        assert_eq!(report.paired_ratio, Some(Spread { median: 2.0, min: 2.0, max: 2.0 }));
        assert_eq!(report.failures(), ["vae 1t, torch: No module named 'torch'"]);
    }

    #[test]
    fn without_torch_there_is_no_ratio() {
        let log = RefCell::new(Vec::new());
        let latent = scripted("latent", vec![Err("killed")], &log);
        let report = measure_case(&CASE, &latent, None, 2, &mut |_| {});
        assert_eq!(*log.borrow(), ["latent"]);
        assert!(report.torch.is_none() && report.ratio.is_none() && report.paired_ratio.is_none());
        assert_eq!(report.latent.samples_per_s, None);
        assert_eq!(report.failures().len(), 1);
    }
}
