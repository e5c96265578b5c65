//! The downloader against a local HTTP server on 127.0.0.1 and local directories: success, a
//! 404 then another mirror, checksum mismatch, a cut transfer, a stall, a trickle, a host that
//! does not resolve, a directory mirror without end, an unwritable destination; and in every case
//! nothing half-written left behind. Nothing here talks to anything but 127.0.0.1.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::IdxArray;

use super::mirror::Mirror;
use super::progress::ProgressMode;
use super::test_server::{Reply, TestServer};
use sha2::Digest as _;

use super::{FetchConfig, Fetched, Fetcher, FileSpec, FileState, check_file, fetch_all, verify_dir};

/// A fresh directory under the system temp dir, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "latent-download-test-{}-{tag}-{}",
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
            let spec = FileSpec::content(format!("file{i}-idx3-ubyte.gz"), crate::idx::hex(&a.content_sha256()));
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
        min_rate: 0,
        progress: ProgressMode::Quiet,
    }
}

/// Whether every file was put in place.
fn all_ok(outcomes: &[(String, Result<Fetched, super::Failure>)]) -> bool {
    outcomes.iter().all(|(_, r)| r.is_ok())
}

/// Whether every file is valid.
fn all_valid(states: &[(String, FileState)]) -> bool {
    states.iter().all(|(_, s)| *s == FileState::Valid)
}

/// A log the test can read while the fetcher writes it.
#[derive(Clone, Default)]
struct SharedLog(Arc<Mutex<Vec<u8>>>);

impl SharedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for SharedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Routes serving every file under `prefix` (e.g. `/a/`).
fn serving(prefix: &str, files: &[(FileSpec, Vec<u8>)]) -> Vec<(String, Vec<Reply>)> {
    files.iter().map(|(s, b)| (format!("{prefix}{}", s.name), vec![Reply::Ok(b.clone())])).collect()
}

fn assert_all_valid(dest: &Path, specs: &[FileSpec]) {
    for s in specs {
        assert_eq!(check_file(&dest.join(&s.name), s), FileState::Valid, "{}", s.name);
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
    let fetcher = Fetcher::new(quick());
    assert!(all_ok(&fetch_all(&fetcher, &specs, &dest, &mirrors)));
    assert_all_valid(&dest, &specs);
    for s in &specs {
        assert_eq!(server.hits(&format!("/m/{}", s.name)), 1);
    }
    // Second run: everything present, nothing requested.
    for s in &specs {
        assert_eq!(fetcher.fetch(s, &dest, &mirrors), Ok(Fetched::Present));
        assert_eq!(server.hits(&format!("/m/{}", s.name)), 1);
    }
    assert!(all_valid(&verify_dir(&dest, &specs)));
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

/// A file known by the digest of its bytes as served (KMNIST's case) is checked as served: the
/// same content compressed differently is refused, and the file is kept byte for byte.
#[test]
fn served_digests_hold_the_file_to_its_exact_bytes() {
    let files = files();
    let (content_spec, gz) = files[0].clone();
    let served = FileSpec { served: true, sha256: crate::idx::hex(&sha2::Sha256::digest(&gz)), ..content_spec.clone() };
    let server = TestServer::start(serving("/", &files[..1]));
    let dir = Scratch::new("served");
    let mirrors = [Mirror::parse(&server.url())];
    let fetcher = Fetcher::new(quick());
    assert!(matches!(fetcher.fetch(&served, dir.path(), &mirrors), Ok(Fetched::Fetched { .. })));
    assert_eq!(std::fs::read(dir.path().join(&served.name)).unwrap(), gz);
    assert_eq!(check_file(&dir.path().join(&served.name), &served), FileState::Valid);

    // The same content recompressed (another gzip header) passes the content digest only.
    let mut other = gz.clone();
    other[4] ^= 1; // the gzip header's modification time
    let server = TestServer::start(vec![(format!("/{}", served.name), vec![Reply::Ok(other)])]);
    let dir = Scratch::new("served-other");
    let mirrors = [Mirror::parse(&server.url())];
    assert!(fetcher.fetch(&content_spec, dir.path(), &mirrors).is_ok());
    std::fs::remove_file(dir.path().join(&served.name)).unwrap();
    let failure = fetcher.fetch(&served, dir.path(), &mirrors).unwrap_err().to_string();
    assert!(failure.contains("of the file as served") && failure.contains(&served.sha256), "{failure}");
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
    let outcomes = fetch_all(&Fetcher::new(quick()), &specs, &dest, &mirrors);
    assert!(outcomes.iter().all(|(_, r)| r.as_ref().is_err_and(|f| f.fatal.is_some())));
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
    assert!(all_ok(&fetch_all(&Fetcher::new(quick()), &specs, dest.path(), &mirrors)));
    assert_all_valid(dest.path(), &specs);
    // Corrupt one by hand.
    let victim = dest.path().join(&specs[2].name);
    std::fs::write(&victim, b"garbage").unwrap();
    assert!(matches!(check_file(&victim, &specs[2]), FileState::Invalid(_)));
    let states = verify_dir(dest.path(), &specs);
    assert!(matches!(states[2].1, FileState::Invalid(_)) && states[0].1 == FileState::Valid, "{states:?}");
    let fetcher = Fetcher::new(quick());
    assert_eq!(fetcher.fetch(&specs[0], dest.path(), &mirrors), Ok(Fetched::Present));
    assert_eq!(
        fetcher.fetch(&specs[2], dest.path(), &mirrors),
        Ok(Fetched::Fetched { mirror: mirrors[0].clone(), replaced: true })
    );
    assert_all_valid(dest.path(), &specs);
    // A missing file is a verify failure too.
    std::fs::remove_file(dest.path().join(&specs[3].name)).unwrap();
    assert_eq!(verify_dir(dest.path(), &specs)[3].1, FileState::Missing);
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

/// Issue 17, item 9: a mirror that keeps sending a byte now and then, never stalling long enough
/// for the read timeout, is abandoned once it falls below the minimum rate, and the next mirror
/// serves the file. Without the rate check this trickle would take 30 s.
#[test]
fn a_trickling_mirror_is_abandoned_for_the_next() {
    let files = files();
    let (spec, body) = files[0].clone();
    let server = TestServer::start(vec![
        (
            format!("/slow/{}", spec.name),
            vec![Reply::Trickle { body: body.clone(), every: Duration::from_millis(100) }],
        ),
        (format!("/fast/{}", spec.name), vec![Reply::Ok(body)]),
    ]);
    let dir = Scratch::new("trickle");
    let mirrors = [Mirror::parse(&format!("{}slow/", server.url())), Mirror::parse(&format!("{}fast/", server.url()))];
    let config = FetchConfig { min_rate: 1024, retries: 2, ..quick() };
    let log = SharedLog::default();
    let start = Instant::now();
    let got = Fetcher::new(config).with_log(log.clone()).fetch(&spec, dir.path(), &mirrors).unwrap();
    let took = start.elapsed();
    assert_eq!(got, Fetched::Fetched { mirror: mirrors[1].clone(), replaced: false });
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // Too slow is not worth retrying on the same mirror.
    assert_eq!(server.hits(&format!("/slow/{}", spec.name)), 1);
    let text = log.text();
    assert!(text.contains("too slow") && text.contains("below the minimum of 1024 bytes/s"), "{text}");
    assert_all_valid(dir.path(), &[spec]);
}

/// Issue 17, item 11: a directory mirror whose file has no size (a pipe or a device, like
/// /dev/zero) is held to the same size limit as a server, and nothing is left behind. Without
/// the limit the whole stream is copied and only the checksum then fails.
#[cfg(unix)]
#[test]
fn a_directory_mirror_is_held_to_the_size_limit() {
    let files = files();
    let spec = files[0].0.clone();
    let mirror = Scratch::new("fifo-mirror");
    let fifo = mirror.path().join(&spec.name);
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    // Twice the limit, then the writer stops (a reader that hangs up makes its write fail).
    let config = FetchConfig { max_bytes: 64 << 10, retries: 0, ..quick() };
    let limit = usize::try_from(config.max_bytes).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            let chunk = vec![0u8; 4096];
            let mut sent = 0;
            while sent < 2 * limit {
                if w.write_all(&chunk).is_err() {
                    break;
                }
                sent += chunk.len();
            }
        })
    };
    let dest = Scratch::new("fifo-dest");
    let failure =
        Fetcher::new(config).fetch(&spec, dest.path(), &[Mirror::Dir(mirror.path().to_path_buf())]).unwrap_err();
    writer.join().unwrap();
    let text = failure.to_string();
    assert!(text.contains(&format!("more than the limit of {limit} bytes")), "{text}");
    assert_eq!(failure.attempts.len(), 1, "{text}");
    assert_eq!(dest.entries(), Vec::<String>::new());
    // A regular file over the limit is refused by its size, before copying.
    std::fs::remove_file(&fifo).unwrap();
    std::fs::write(&fifo, vec![0u8; limit + 1]).unwrap();
    let failure =
        Fetcher::new(config).fetch(&spec, dest.path(), &[Mirror::Dir(mirror.path().to_path_buf())]).unwrap_err();
    assert!(failure.to_string().contains(&format!("{} bytes, more than the limit", limit + 1)), "{failure}");
}

/// Resolves nothing but 127.0.0.1's own name; `mirror.invalid` fails as an offline machine's
/// lookups do. Counts the lookups.
fn offline_resolve(host_port: &str) -> std::io::Result<Vec<std::net::SocketAddr>> {
    LOOKUPS.fetch_add(1, Ordering::SeqCst);
    Err(std::io::Error::other(format!("failed to lookup address information: {host_port}: name not known")))
}

static LOOKUPS: AtomicUsize = AtomicUsize::new(0);

/// Issue 17, item 11: a host name that does not resolve fails at once, is not retried, and is
/// not looked up again for the next file; the next mirror is tried straight away. Before, each
/// failed lookup counted as transient and was retried on every file.
#[test]
fn an_unresolvable_host_fails_at_once_without_retries() {
    let files = files();
    let specs = specs(&files);
    let server = TestServer::start(serving("/m/", &files));
    let dir = Scratch::new("dns");
    let mirrors = [Mirror::parse("http://mirror.invalid/mnist/"), Mirror::parse(&format!("{}m/", server.url()))];
    let config = FetchConfig { retries: 2, retry_delay: Duration::from_millis(500), ..quick() };
    let log = SharedLog::default();
    let fetcher = Fetcher::new(config).with_resolver(offline_resolve).with_log(log.clone());
    let start = Instant::now();
    let outcomes = fetch_all(&fetcher, &specs, dir.path(), &mirrors);
    assert!(all_ok(&outcomes), "{outcomes:?}");
    assert!(start.elapsed() < Duration::from_millis(1500), "took {:?}", start.elapsed());
    assert_eq!(LOOKUPS.load(Ordering::SeqCst), 1, "one lookup for the whole run");
    let text = log.text();
    assert_eq!(text.matches("mirror.invalid/mnist/file0-idx3-ubyte.gz (attempt 1 of 3)").count(), 1, "{text}");
    assert!(!text.contains("mirror.invalid/mnist/file0-idx3-ubyte.gz (attempt 2 of 3)"), "{text}");
    assert!(text.contains("cannot resolve the host name mirror.invalid"), "{text}");
    // With no other mirror, the failure has one attempt per file, saying why.
    let other = Scratch::new("dns-only");
    let failure = fetcher.fetch(&specs[0], other.path(), &mirrors[..1]).unwrap_err();
    assert_eq!(failure.attempts.len(), 1, "{failure}");
    assert!(failure.to_string().contains("not retried"), "{failure}");
    assert_eq!(other.entries(), Vec::<String>::new());
}

/// Issue 17, item 11: every attempt is announced when it starts, before any answer, so a slow
/// mirror is never a silent wait.
#[test]
fn each_attempt_is_announced_as_it_starts() {
    let files = files();
    let spec = files[0].0.clone();
    let path = format!("/{}", spec.name);
    let server = TestServer::start(vec![(path.clone(), vec![Reply::Silent { sleep: Duration::from_secs(3) }])]);
    let dir = Scratch::new("announce");
    let log = SharedLog::default();
    let fetcher = Fetcher::new(FetchConfig { retries: 1, ..quick() }).with_log(log.clone());
    let mirrors = [Mirror::parse(&server.url())];
    std::thread::scope(|scope| {
        let fetch = scope.spawn(|| fetcher.fetch(&spec, dir.path(), &mirrors));
        // The first attempt is waiting for an answer that does not come: already announced.
        std::thread::sleep(Duration::from_millis(400));
        let early = log.text();
        assert!(
            early.contains(&format!("{}: trying {}{} (attempt 1 of 2)", spec.name, server.url(), spec.name)),
            "{early}"
        );
        assert!(!early.contains("attempt 2 of 2"), "{early}");
        let failure = fetch.join().unwrap().unwrap_err();
        assert_eq!(failure.attempts.len(), 2);
    });
    let text = log.text();
    assert!(text.contains("(attempt 2 of 2)") && text.matches("failed: timed out").count() == 2, "{text}");
}

/// The real thing, from the offline mirror when the machine has it.
#[test]
fn the_real_mnist_from_the_offline_mirror() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/mnist");
    if !shared.is_dir() {
        eprintln!("skipped: no offline mirror at {}", shared.display());
        return;
    }
    let dest = Scratch::new("real");
    let specs = FileSpec::of(&crate::catalog::MNIST);
    let mirrors = [Mirror::Dir(shared)];
    assert!(all_ok(&fetch_all(&Fetcher::new(quick_real()), &specs, dest.path(), &mirrors)));
    assert_all_valid(dest.path(), &specs);
    let data = crate::mnist::load_dir(dest.path()).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
}

fn quick_real() -> FetchConfig {
    FetchConfig { max_bytes: 64 << 20, ..quick() }
}
