//! The campaign fails, naming the mutant's seed, on each kind of misbehaviour it promises to
//! catch: a panic, an allocation over the cap (handled by the caller or aborting the process),
//! an error with an empty message or one that does not name the file.

use std::panic::{self, AssertUnwindSafe};
use std::process::Command;

use latent_testkit::{Campaign, check_parser};

latent_testkit::cap_allocations!();

#[derive(Debug)]
struct ToyError(String);

impl std::fmt::Display for ToyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ToyError {}

/// The valid input of the toy format: a little-endian u32 count, then that many bytes.
fn valid() -> Vec<u8> {
    let mut v = 8u32.to_le_bytes().to_vec();
    v.extend_from_slice(b"abcdefgh");
    v
}

fn count(bytes: &[u8]) -> Result<usize, ToyError> {
    let head = bytes.get(..4).ok_or_else(|| ToyError("toy.bin: too short".into()))?;
    Ok(u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize)
}

/// The campaign's panic message, when it fails.
fn failure_of(run: impl FnOnce()) -> String {
    let payload = panic::catch_unwind(AssertUnwindSafe(run)).expect_err("the campaign should fail");
    payload.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn a_careful_parser_passes_and_the_summary_counts_what_happened() {
    let summary = Campaign::new("careful", [valid()]).mutants(2000).errors_mention("toy.bin").run(|b| {
        let n = count(b)?;
        let body = b.get(4..).filter(|body| body.len() == n).ok_or_else(|| ToyError("toy.bin: wrong length".into()))?;
        Ok::<_, ToyError>(body.to_vec())
    });
    assert_eq!(summary.mutants, 2000);
    assert_eq!(summary.accepted + summary.rejected(), 2000);
    assert!(summary.accepted > 0 && summary.rejected() > 1000, "{summary}");
    assert_eq!(summary.errors.keys().collect::<Vec<_>>(), ["ToyError"]);
    assert!(summary.largest_request > 0 && summary.largest_request < 1 << 20, "{summary}");
    assert!(summary.to_string().starts_with("careful: 2000 mutants"), "{summary}");
}

#[test]
fn a_panic_is_reported_with_the_seed_and_location() {
    let report = failure_of(|| {
        check_parser("panicky", [valid()], |b| {
            let n = count(b)?;
            Ok::<_, ToyError>(b[4..4 + n].to_vec()) // slices past the end on a bad count
        });
    });
    assert!(report.contains("campaign `panicky`") && report.contains("mutants failed"), "{report}");
    assert!(report.contains("seed 0x") && report.contains("panicked: range end index"), "{report}");
    assert!(report.contains("tests/campaign.rs:"), "the panic's location: {report}");
    assert!(report.contains("LATENT_MUTANT_SEED"), "{report}");
}

#[test]
fn an_allocation_over_the_cap_fails_the_campaign_when_the_parser_survives_it() {
    let report = failure_of(|| {
        Campaign::new("greedy-but-fallible", [valid()]).mutants(40).cap(1 << 20).run(|b| {
            let mut v: Vec<u8> = Vec::new();
            v.try_reserve_exact(count(b)?).map_err(|e| ToyError(format!("toy.bin: {e}")))?;
            Ok::<_, ToyError>(v)
        });
    });
    assert!(report.contains("over the cap") && report.contains("cap 1048576 bytes"), "{report}");
}

#[test]
fn errors_without_a_message_or_the_file_name_fail() {
    let empty = failure_of(|| {
        check_parser("mute", [valid()], |b| if b == valid() { Ok(()) } else { Err(ToyError(String::new())) });
    });
    assert!(empty.contains("an empty message"), "{empty}");
    let unnamed = failure_of(|| {
        Campaign::new("vague", [valid()])
            .errors_mention("toy.bin")
            .run(|b| if b == valid() { Ok(()) } else { Err(ToyError("bad".into())) });
    });
    assert!(unnamed.contains("does not name the file: bad"), "{unnamed}");
    let wired_wrong = failure_of(|| {
        check_parser("wired-wrong", [valid()], |_| Err::<(), _>(ToyError("always".into())));
    });
    assert!(wired_wrong.contains("valid input 0 is refused"), "{wired_wrong}");
}

/// Run by [`an_infallible_allocation_over_the_cap_aborts_naming_the_seed`] in a child process.
#[test]
#[ignore = "aborts the process on purpose; run by another test in a child process"]
fn child_allocating_infallibly() {
    Campaign::new("greedy", [valid()]).cap(1 << 20).run(|b| {
        let n = count(b)?;
        Ok::<_, ToyError>(Vec::<u8>::with_capacity(n)) // trusts the count: aborts on a huge one
    });
}

#[test]
fn an_infallible_allocation_over_the_cap_aborts_naming_the_seed() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_allocating_infallibly", "--ignored", "--nocapture", "--test-threads=1"])
        .env_remove("LATENT_MUTANT_SEED")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the child should abort: {stderr}");
    let line = stderr.lines().find(|l| l.starts_with("latent-testkit:")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("parser `greedy`, mutant seed 0x"), "{line}");
    assert!(line.contains("refused an allocation of") && line.contains("the cap is 1048576"), "{line}");
    // The named seed replays the same mutant.
    let seed = line.split("mutant seed ").nth(1).unwrap().split(':').next().unwrap();
    let replay = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_allocating_infallibly", "--ignored", "--nocapture"])
        .env("LATENT_MUTANT_SEED", seed)
        .output()
        .unwrap();
    let replayed = String::from_utf8_lossy(&replay.stderr);
    assert!(!replay.status.success() && replayed.contains(&format!("mutant seed {seed}")), "{replayed}");
}

#[test]
fn a_mutant_over_the_time_limit_fails() {
    let report = failure_of(|| {
        Campaign::new("slow", [valid()]).mutants(200).time_limit(std::time::Duration::from_millis(20)).run(|b| {
            if count(b)? > 1 << 20 {
                std::thread::sleep(std::time::Duration::from_millis(50)); // super-linear work
            }
            Ok::<_, ToyError>(())
        });
    });
    assert!(report.contains("took 0.") && report.contains("(the limit is 0.02 s)"), "{report}");
}
