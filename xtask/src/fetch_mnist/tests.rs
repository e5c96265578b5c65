//! The downloader against a local HTTP server on 127.0.0.1 and local directories: success, a
//! 404 then another mirror, checksum mismatch, a cut transfer, a stall, an unwritable
//! destination; and in every case nothing half-written left behind.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use latent_data::IdxArray;

use super::download::{FetchConfig, Fetched, Fetcher, FileSpec, FileState, check_file};
use super::mirror::Mirror;
use super::progress::ProgressMode;
use super::test_server::{Reply, TestServer};
use super::{fetch_all, verify_dir};

/// A fresh directory under the system temp dir, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "latent-xtask-test-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The names in the directory, sorted, hidden temporary files included.
    pub fn entries(&self) -> Vec<String> {
        entries(&self.0)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Four small gzip IDX files standing in for MNIST, with their specs.
fn files() -> Vec<(FileSpec, Vec<u8>)> {
    (0..4u8)
        .map(|i| {
            let data: Vec<u8> = (0..300u32).map(|k| (k as u8).wrapping_mul(i + 3)).collect();
            let a = IdxArray::new(vec![3, 10, 10], data).unwrap();
            let spec =
                FileSpec { name: format!("file{i}-idx3-ubyte.gz"), sha256: latent_data::idx::hex(&a.content_sha256()) };
            (spec, a.to_gzip())
        })
        .collect()
}

fn specs(files: &[(FileSpec, Vec<u8>)]) -> Vec<FileSpec> {
    files.iter().map(|(s, _)| s.clone()).collect()
}

fn quick() -> FetchConfig {
    FetchConfig {
        timeout: Duration::from_secs(1),
        retries: 1,
        retry_delay: Duration::from_millis(10),
        max_bytes: 1 << 20,
        progress: ProgressMode::Quiet,
    }
}

/// Routes serving every file under `prefix` (e.g. `/a/`).
fn serving(prefix: &str, files: &[(FileSpec, Vec<u8>)]) -> Vec<(String, Vec<Reply>)> {
    files.iter().map(|(s, b)| (format!("{prefix}{}", s.name), vec![Reply::Ok(b.clone())])).collect()
}

fn assert_all_valid(dest: &Path, specs: &[FileSpec]) {
    for s in specs {
        assert_eq!(check_file(&dest.join(&s.name), &s.sha256), FileState::Valid, "{}", s.name);
    }
    let mut names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    names.sort();
    assert_eq!(entries(dest), names, "only the files, no temporaries");
}

#[test]
fn success_then_a_rerun_downloads_nothing() {
    let files = files();
    let specs = specs(&files);
    let server = TestServer::start(serving("/m/", &files));
    let dir = Scratch::new("success");
    let dest = dir.path().join("mnist");
    let mirrors = [Mirror::parse(&format!("{}m", server.url()))];
    assert_eq!(fetch_all(&specs, &dest, &mirrors, quick()), ExitCode::SUCCESS);
    assert_all_valid(&dest, &specs);
    for s in &specs {
        assert_eq!(server.hits(&format!("/m/{}", s.name)), 1);
    }
    // Second run: everything present, nothing requested.
    let fetcher = Fetcher::new(quick());
    for s in &specs {
        assert_eq!(fetcher.fetch(s, &dest, &mirrors), Ok(Fetched::Present));
        assert_eq!(server.hits(&format!("/m/{}", s.name)), 1);
    }
    assert_eq!(verify_dir(&dest, &specs), ExitCode::SUCCESS);
}

#[test]
fn a_404_moves_on_to_the_next_mirror() {
    let files = files();
    let specs = specs(&files);
    // `/a/` has nothing; `/b/` has everything.
    let server = TestServer::start(serving("/b/", &files));
    let dir = Scratch::new("404");
    let mirrors = [Mirror::parse(&format!("{}a/", server.url())), Mirror::parse(&format!("{}b/", server.url()))];
    let fetcher = Fetcher::new(quick());
    for s in &specs {
        let got = fetcher.fetch(s, dir.path(), &mirrors).unwrap();
        assert_eq!(got, Fetched::Fetched { mirror: mirrors[1].clone(), replaced: false });
        // A 404 is not retried.
        assert_eq!(server.hits(&format!("/a/{}", s.name)), 1);
    }
    assert_all_valid(dir.path(), &specs);
}

#[test]
fn a_checksum_mismatch_is_never_left_in_place() {
    let files = files();
    let spec = files[0].0.clone();
    // Serve file 1's bytes under file 0's name: valid gzip IDX, wrong content.
    let server = TestServer::start(vec![(format!("/{}", spec.name), vec![Reply::Ok(files[1].1.clone())])]);
    let dir = Scratch::new("mismatch");
    let mirrors = [Mirror::parse(&server.url())];
    let failure = Fetcher::new(quick()).fetch(&spec, dir.path(), &mirrors).unwrap_err();
    assert_eq!(failure.attempts.len(), 1, "a mismatch is not retried: {failure}");
    let text = failure.to_string();
    assert!(text.contains("checksum mismatch") && text.contains(&spec.sha256), "{text}");
    assert!(text.contains(&mirrors[0].location(&spec.name)), "{text}");
    assert_eq!(dir.entries(), Vec::<String>::new());
}

#[test]
fn a_cut_transfer_is_retried_and_never_left_half_written() {
    let files = files();
    let (spec, body) = files[0].clone();
    let path = format!("/{}", spec.name);
    let cut = Reply::Truncated { body: body.clone(), sent: body.len() / 2 };
    // Always cut: fails after 1 + retries attempts.
    let server = TestServer::start(vec![(path.clone(), vec![cut.clone()])]);
    let dir = Scratch::new("cut");
    let mirrors = [Mirror::parse(&server.url())];
    let failure = Fetcher::new(quick()).fetch(&spec, dir.path(), &mirrors).unwrap_err();
    assert_eq!(server.hits(&path), 2);
    assert_eq!(failure.attempts.len(), 2);
    let text = failure.to_string();
    assert!(text.contains("attempt 2 of 2"), "{text}");
    assert!(text.contains(&format!("of {} bytes", body.len())), "{text}");
    assert_eq!(dir.entries(), Vec::<String>::new());
    // Cut once, then whole: the retry succeeds.
    let server = TestServer::start(vec![(path.clone(), vec![cut, Reply::Ok(body)])]);
    let mirrors = [Mirror::parse(&server.url())];
    let got = Fetcher::new(quick()).fetch(&spec, dir.path(), &mirrors).unwrap();
    assert!(matches!(got, Fetched::Fetched { .. }));
    assert_eq!(server.hits(&path), 2);
    assert_all_valid(dir.path(), &[spec]);
}

#[test]
fn a_stalling_server_times_out() {
    let files = files();
    let (spec, body) = files[0].clone();
    let path = format!("/{}", spec.name);
    let server = TestServer::start(vec![
        (path.clone(), vec![Reply::Stall { body: body.clone(), sent: 10, sleep: Duration::from_secs(4) }]),
        (format!("/silent{path}"), vec![Reply::Silent { sleep: Duration::from_secs(4) }]),
    ]);
    let dir = Scratch::new("stall");
    let config = FetchConfig { retries: 0, ..quick() };
    for base in [server.url(), format!("{}silent/", server.url())] {
        let start = Instant::now();
        let failure = Fetcher::new(config).fetch(&spec, dir.path(), &[Mirror::parse(&base)]).unwrap_err();
        let took = start.elapsed();
        assert!(took < Duration::from_millis(3000), "took {took:?}");
        assert!(took >= Duration::from_millis(900), "took {took:?}");
        assert!(failure.to_string().contains("timed out"), "{failure}");
        assert_eq!(dir.entries(), Vec::<String>::new());
    }
}

#[test]
fn an_unwritable_destination_fails_at_once_and_writes_nothing() {
    let files = files();
    let specs = specs(&files);
    let server = TestServer::start(serving("/", &files));
    let dir = Scratch::new("unwritable");
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let dest = blocker.join("mnist");
    let mirrors = [Mirror::parse(&server.url())];
    let failure = Fetcher::new(quick()).fetch(&specs[0], &dest, &mirrors).unwrap_err();
    let fatal = failure.fatal.clone().unwrap_or_default();
    assert!(fatal.contains("cannot create the destination"), "{failure}");
    assert!(fatal.contains(&dest.display().to_string()), "{failure}");
    assert!(failure.attempts.is_empty());
    assert_eq!(server.hits(&format!("/{}", specs[0].name)), 0);
    assert_eq!(fetch_all(&specs, &dest, &mirrors, quick()), ExitCode::FAILURE);
    assert_eq!(dir.entries(), vec!["a-file".to_string()]);
    assert_eq!(std::fs::read(&blocker).unwrap(), b"not a directory");
}

#[test]
fn a_corrupted_file_is_replaced_and_verify_notices_it() {
    let files = files();
    let specs = specs(&files);
    let src = Scratch::new("dir-mirror");
    for (s, b) in &files {
        std::fs::write(src.path().join(&s.name), b).unwrap();
    }
    let dest = Scratch::new("dest");
    // Directory mirror, given as a file:// URL.
    let mirrors = [Mirror::parse(&format!("file://{}", src.path().display()))];
    assert_eq!(fetch_all(&specs, dest.path(), &mirrors, quick()), ExitCode::SUCCESS);
    assert_all_valid(dest.path(), &specs);
    // Corrupt one by hand.
    let victim = dest.path().join(&specs[2].name);
    std::fs::write(&victim, b"garbage").unwrap();
    assert!(matches!(check_file(&victim, &specs[2].sha256), FileState::Invalid(_)));
    assert_eq!(verify_dir(dest.path(), &specs), ExitCode::FAILURE);
    let fetcher = Fetcher::new(quick());
    assert_eq!(fetcher.fetch(&specs[0], dest.path(), &mirrors), Ok(Fetched::Present));
    assert_eq!(
        fetcher.fetch(&specs[2], dest.path(), &mirrors),
        Ok(Fetched::Fetched { mirror: mirrors[0].clone(), replaced: true })
    );
    assert_all_valid(dest.path(), &specs);
    // A missing file is a verify failure too.
    std::fs::remove_file(dest.path().join(&specs[3].name)).unwrap();
    assert_eq!(verify_dir(dest.path(), &specs), ExitCode::FAILURE);
}

#[test]
fn a_corrupted_file_that_cannot_be_refetched_is_removed() {
    let files = files();
    let spec = files[0].0.clone();
    let dest = Scratch::new("no-refetch");
    std::fs::write(dest.path().join(&spec.name), b"garbage").unwrap();
    let empty = Scratch::new("empty-mirror");
    let failure =
        Fetcher::new(quick()).fetch(&spec, dest.path(), &[Mirror::Dir(empty.path().to_path_buf())]).unwrap_err();
    assert!(failure.to_string().contains("cannot open"), "{failure}");
    assert_eq!(dest.entries(), Vec::<String>::new());
}

#[test]
fn server_errors_are_retried_then_reported_per_mirror() {
    let files = files();
    let (spec, body) = files[0].clone();
    let path = format!("/{}", spec.name);
    let server = TestServer::start(vec![(path.clone(), vec![Reply::Status(503), Reply::Ok(body)])]);
    let dir = Scratch::new("503");
    let got = Fetcher::new(quick()).fetch(&spec, dir.path(), &[Mirror::parse(&server.url())]);
    assert!(matches!(got, Ok(Fetched::Fetched { .. })), "{got:?}");
    assert_eq!(server.hits(&path), 2);
    // Nothing listening: a refused connection on each mirror, each named.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mirrors = [Mirror::parse(&format!("http://{closed}/x/")), Mirror::parse(&format!("http://{closed}/y/"))];
    let other = Scratch::new("refused");
    let failure = Fetcher::new(quick()).fetch(&spec, other.path(), &mirrors).unwrap_err();
    let text = failure.to_string();
    assert_eq!(failure.attempts.len(), 4, "{text}");
    assert!(text.contains("/x/") && text.contains("/y/"), "{text}");
    assert_eq!(other.entries(), Vec::<String>::new());
}

/// The real thing, from the offline mirror when the machine has it.
#[test]
fn the_real_mnist_from_the_offline_mirror() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/mnist");
    if !shared.is_dir() {
        eprintln!("skipped: no offline mirror at {}", shared.display());
        return;
    }
    let dest = Scratch::new("real");
    let specs = FileSpec::mnist();
    let mirrors = [Mirror::Dir(shared)];
    assert_eq!(fetch_all(&specs, dest.path(), &mirrors, quick_real()), ExitCode::SUCCESS);
    assert_all_valid(dest.path(), &specs);
    let data = latent_data::mnist::load_dir(dest.path()).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
}

fn quick_real() -> FetchConfig {
    FetchConfig { max_bytes: 64 << 20, ..quick() }
}
