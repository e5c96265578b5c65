//! Fetching one file: from each mirror in turn, with timeouts, a minimum transfer rate and a
//! bounded number of retries, written atomically and verified by the SHA-256 of its decompressed
//! content before it is renamed into place.
//!
//! A file already present and valid is left alone. One present but invalid is removed first, so
//! that whatever happens no invalid file is left in place. Transient failures (timeouts, cut
//! transfers, 5xx answers, refused connections) are retried on the same mirror; permanent ones
//! move on to the next mirror: 404 and other 4xx answers, a missing file in a directory mirror,
//! a checksum mismatch, a file over the size limit (from a server or a directory alike), a
//! transfer slower than the minimum rate, and a host name that does not resolve (remembered for
//! the rest of the run, so an offline machine fails at once on every file). A destination that
//! cannot be written ends the file's fetch at once. Each attempt is announced on the log as it
//! starts, and each failure as it happens.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[cfg(doc)]
use crate::catalog::Digest;
use crate::catalog::NamedDataset;
use crate::error::DataError;

use super::atomic::{self, AtomicFile};
use super::mirror::Mirror;
use super::progress::{Progress, ProgressMode};

/// A file to fetch: its served name and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// The name on the mirrors and in the destination.
    pub name: String,
    /// The SHA-256, lowercase hex: of the decompressed content, or of the file as served when
    /// [`served`](Self::served) is set.
    pub sha256: String,
    /// Whether [`sha256`](Self::sha256) is of the file as served ([`Digest::Served`]).
    pub served: bool,
}

impl FileSpec {
    /// A file known by the SHA-256 of its decompressed content.
    pub fn content(name: impl Into<String>, sha256: impl Into<String>) -> Self {
        FileSpec { name: name.into(), sha256: sha256.into(), served: false }
    }

    /// The four files of a named data set with their digests.
    pub fn of(dataset: &NamedDataset) -> Vec<FileSpec> {
        dataset
            .files
            .iter()
            .map(|&(name, digest)| FileSpec {
                name: name.to_string(),
                sha256: digest.hex().to_string(),
                served: digest.is_served(),
            })
            .collect()
    }

    /// Checks the file at `path` against this digest.
    ///
    /// # Errors
    /// As [`Digest::verify`].
    pub fn verify(&self, path: &Path) -> Result<(), DataError> {
        if self.served {
            let found = crate::idx::hex(&crate::idx::file_sha256(path)?);
            if found.eq_ignore_ascii_case(&self.sha256) {
                Ok(())
            } else {
                Err(DataError::ServedChecksum {
                    path: path.to_path_buf(),
                    expected: self.sha256.to_ascii_lowercase(),
                    found,
                })
            }
        } else {
            crate::idx::verify_sha256(path, &self.sha256)
        }
    }
}

/// Timeouts, retries, limits and display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchConfig {
    /// The longest wait to resolve a host name, to connect, for the response headers, and for
    /// each read of the body: a server that stalls for this long fails the attempt. Also the
    /// window over which [`min_rate`](Self::min_rate) is measured.
    pub timeout: Duration,
    /// Retries per mirror after a transient failure (so `retries + 1` attempts).
    pub retries: u32,
    /// The pause before retry `k` is `k * retry_delay`.
    pub retry_delay: Duration,
    /// The largest file accepted, from any kind of mirror.
    pub max_bytes: u64,
    /// The slowest transfer accepted, in bytes per second, averaged over each successive
    /// [`timeout`](Self::timeout): a mirror that trickles slower is abandoned for the next one.
    /// 0 accepts any rate.
    pub min_rate: u64,
    /// How progress is shown.
    pub progress: ProgressMode,
}

/// The default of [`FetchConfig::min_rate`]: 10 KiB/s (the 26 MB Fashion-MNIST training images
/// in under 45 minutes).
pub const DEFAULT_MIN_RATE: u64 = 10 << 10;

/// The default of [`FetchConfig::max_bytes`]: 256 MiB, five times the largest file fetched.
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            timeout: Duration::from_secs(30),
            retries: 2,
            retry_delay: Duration::from_secs(1),
            max_bytes: DEFAULT_MAX_BYTES,
            min_rate: DEFAULT_MIN_RATE,
            progress: ProgressMode::detect(),
        }
    }
}

/// What became of a file that is now in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// It was already present and valid: nothing was transferred.
    Present,
    /// It was fetched from this mirror; `replaced` if an invalid file was there before.
    Fetched {
        /// The mirror that served it.
        mirror: Mirror,
        /// Whether an invalid file was removed first.
        replaced: bool,
    },
}

/// One failed attempt on one mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Where the file was looked for (URL or path).
    pub source: String,
    /// Why it failed.
    pub reason: String,
}

/// Why a file could not be put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The file.
    pub name: String,
    /// Every failed attempt, in order.
    pub attempts: Vec<Attempt>,
    /// A failure that ended the fetch regardless of mirrors (the destination not writable).
    pub fatal: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed", self.name)?;
        if let Some(fatal) = &self.fatal {
            write!(f, ": {fatal}")?;
        }
        if self.attempts.is_empty() && self.fatal.is_none() {
            write!(f, ": no mirror to try")?;
        }
        for a in &self.attempts {
            write!(f, "\n  - {}: {}", a.source, a.reason)?;
        }
        Ok(())
    }
}

/// The state of a file in the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Present, and its decompressed content has the expected digest.
    Valid,
    /// Not there.
    Missing,
    /// Present but unreadable or with another digest; the reason.
    Invalid(String),
}

/// Checks the file at `path` against `spec`'s digest.
pub fn check_file(path: &Path, spec: &FileSpec) -> FileState {
    if !path.exists() {
        return FileState::Missing;
    }
    match spec.verify(path) {
        Ok(()) => FileState::Valid,
        Err(e) => FileState::Invalid(e.to_string()),
    }
}

/// An attempt's failure and whether trying the same mirror again could help.
struct AttemptError {
    transient: bool,
    reason: String,
}

impl AttemptError {
    fn transient(reason: impl Into<String>) -> Self {
        AttemptError { transient: true, reason: reason.into() }
    }

    fn permanent(reason: impl Into<String>) -> Self {
        AttemptError { transient: false, reason: reason.into() }
    }
}

/// Resolves `host:port` to socket addresses.
type Resolve = fn(&str) -> io::Result<Vec<SocketAddr>>;

fn system_resolve(host_port: &str) -> io::Result<Vec<SocketAddr>> {
    host_port.to_socket_addrs().map(Iterator::collect)
}

/// The downloader: one HTTP agent, its configuration, and where it reports attempts.
pub struct Fetcher {
    agent: ureq::Agent,
    config: FetchConfig,
    log: Mutex<Box<dyn Write + Send>>,
    /// Whether requests go straight to the mirrors' hosts (no proxy), so that their names are
    /// resolved here and a failure to resolve is known for what it is.
    direct: bool,
    /// Host names already resolved in this run: `None` if they resolved, else why not.
    resolved: Mutex<HashMap<String, Option<String>>>,
    resolve: Resolve,
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher").field("config", &self.config).field("direct", &self.direct).finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A fetcher with these timeouts, retries and limits, reporting attempts on stderr (nothing
    /// with [`ProgressMode::Quiet`]).
    pub fn new(config: FetchConfig) -> Self {
        let t = Some(config.timeout);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_resolve(t)
            .timeout_connect(t)
            .timeout_recv_response(t)
            .timeout_per_read(t)
            .user_agent(concat!("latent-data/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        let log: Box<dyn Write + Send> =
            if config.progress == ProgressMode::Quiet { Box::new(io::sink()) } else { Box::new(io::stderr()) };
        Fetcher {
            agent,
            config,
            log: Mutex::new(log),
            direct: ureq::Proxy::try_from_env().is_none(),
            resolved: Mutex::new(HashMap::new()),
            resolve: system_resolve,
        }
    }

    /// Reports attempts and failures to `log` instead, one line each.
    #[must_use]
    pub fn with_log(mut self, log: impl Write + Send + 'static) -> Self {
        self.log = Mutex::new(Box::new(log));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    fn log(&self, line: fmt::Arguments<'_>) {
        let mut log = self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = writeln!(log, "{line}");
        let _ = log.flush();
    }

    /// Puts `spec` in `dest`, verified: skips it if already valid, else tries `mirrors` in
    /// order. Temporary files left in `dest` by fetches that were killed are removed first.
    ///
    /// # Errors
    /// A [`Failure`] listing every attempt, or naming the destination that cannot be written.
    pub fn fetch(&self, spec: &FileSpec, dest: &Path, mirrors: &[Mirror]) -> Result<Fetched, Failure> {
        let fail = |attempts: Vec<Attempt>, fatal: Option<String>| Failure { name: spec.name.clone(), attempts, fatal };
        if let Err(e) = std::fs::create_dir_all(dest) {
            return Err(fail(vec![], Some(format!("cannot create the destination {}: {e}", dest.display()))));
        }
        match atomic::sweep_stale(dest) {
            Ok(removed) => {
                for path in removed {
                    self.log(format_args!("removed {}, left by an interrupted fetch", path.display()));
                }
            }
            Err(e) => self.log(format_args!("warning: cannot sweep old temporary files in {}: {e}", dest.display())),
        }
        let final_path = dest.join(&spec.name);
        let replaced = match check_file(&final_path, spec) {
            FileState::Valid => return Ok(Fetched::Present),
            FileState::Missing => false,
            FileState::Invalid(reason) => {
                self.log(format_args!("{}: present but invalid ({reason}); replacing it", spec.name));
                if let Err(e) = std::fs::remove_file(&final_path) {
                    return Err(fail(vec![], Some(format!("cannot remove the invalid {}: {e}", final_path.display()))));
                }
                true
            }
        };

        let mut attempts = Vec::new();
        for mirror in mirrors {
            let source = mirror.location(&spec.name);
            let tries = self.config.retries.saturating_add(1);
            for k in 1..=tries {
                if k > 1 {
                    std::thread::sleep(self.config.retry_delay * (k - 1));
                }
                let of = if tries > 1 { format!(" (attempt {k} of {tries})") } else { String::new() };
                self.log(format_args!("{}: trying {source}{of}", spec.name));
                let mut out = match AtomicFile::create(dest, &spec.name) {
                    Ok(f) => f,
                    Err(e) => {
                        return Err(fail(attempts, Some(format!("cannot write in {}: {e}", dest.display()))));
                    }
                };
                let label = format!("{} from {mirror}", spec.name);
                let result = self
                    .transfer(mirror, &spec.name, &mut out, &label)
                    .and_then(|_| out.sync().map_err(|e| AttemptError::permanent(format!("cannot write: {e}"))))
                    .and_then(|()| verify(out.path(), spec));
                match result {
                    Ok(()) => {
                        return match out.commit(&final_path) {
                            Ok(()) => Ok(Fetched::Fetched { mirror: mirror.clone(), replaced }),
                            Err(e) => {
                                Err(fail(attempts, Some(format!("cannot rename into {}: {e}", final_path.display()))))
                            }
                        };
                    }
                    Err(e) => {
                        // The temporary file goes with `out`.
                        drop(out);
                        let next = if !e.transient || k == tries { "" } else { "; retrying" };
                        self.log(format_args!("{}: failed: {}{next}", spec.name, e.reason));
                        let reason =
                            if tries > 1 { format!("attempt {k} of {tries}: {}", e.reason) } else { e.reason.clone() };
                        attempts.push(Attempt { source: source.clone(), reason });
                        if !e.transient {
                            break;
                        }
                    }
                }
            }
        }
        Err(fail(attempts, None))
    }

    /// Copies `name` from `mirror` into `out`, showing progress.
    fn transfer(&self, mirror: &Mirror, name: &str, out: &mut AtomicFile, label: &str) -> Result<u64, AttemptError> {
        match mirror {
            Mirror::Http(base) => {
                self.check_resolves(base)?;
                self.download(&format!("{base}{name}"), out, label)
            }
            Mirror::Dir(dir) => {
                let path = dir.join(name);
                let file = File::open(&path).map_err(|e| {
                    let reason = format!("cannot open {}: {e}", path.display());
                    if e.kind() == io::ErrorKind::NotFound {
                        AttemptError::permanent(reason)
                    } else {
                        AttemptError::transient(reason)
                    }
                })?;
                // Devices and pipes report a length of 0: only regular files have a size to trust.
                let total = file.metadata().ok().filter(std::fs::Metadata::is_file).map(|m| m.len());
                if total.is_some_and(|t| t > self.config.max_bytes) {
                    return Err(self.too_large(total));
                }
                self.copy(file, total, out, label)
            }
        }
    }

    fn too_large(&self, reported: Option<u64>) -> AttemptError {
        let size = reported.map(|t| format!("{t} bytes, ")).unwrap_or_default();
        AttemptError::permanent(format!("too large: {size}more than the limit of {} bytes", self.config.max_bytes))
    }

    /// Fails at once, and for the rest of the run, if the host of `base` does not resolve, unless
    /// a proxy resolves names for us.
    fn check_resolves(&self, base: &str) -> Result<(), AttemptError> {
        if !self.direct {
            return Ok(());
        }
        // A URL that does not parse is ureq's to report.
        let Some((host, host_port)) = host_and_port(base) else { return Ok(()) };
        if host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok() {
            return Ok(());
        }
        let known = self.resolved.lock().unwrap_or_else(|p| p.into_inner()).get(&host_port).cloned();
        let outcome = match known {
            Some(outcome) => outcome,
            None => {
                let (tx, rx) = mpsc::channel();
                let (resolve, target) = (self.resolve, host_port.clone());
                std::thread::spawn(move || {
                    let _ = tx.send(resolve(&target));
                });
                let outcome = match rx.recv_timeout(self.config.timeout) {
                    Ok(Ok(addrs)) if !addrs.is_empty() => None,
                    Ok(Ok(_)) => Some("no addresses".to_string()),
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(_) => Some(format!("no answer in {} s", self.config.timeout.as_secs_f64())),
                };
                self.resolved.lock().unwrap_or_else(|p| p.into_inner()).insert(host_port, outcome.clone());
                outcome
            }
        };
        match outcome {
            None => Ok(()),
            Some(why) => {
                Err(AttemptError::permanent(format!("cannot resolve the host name {host}: {why} (not retried)")))
            }
        }
    }

    fn download(&self, url: &str, out: &mut AtomicFile, label: &str) -> Result<u64, AttemptError> {
        let response = self.agent.get(url).call().map_err(|e| {
            let reason = describe_ureq(&e);
            if is_name_resolution(&e) { AttemptError::permanent(reason) } else { AttemptError::transient(reason) }
        })?;
        let status = response.status();
        if !status.is_success() {
            let text = format!("HTTP {} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
            let text = text.trim_end().to_string();
            // Server errors and rate limits may pass; other answers will not.
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                AttemptError::transient(text)
            } else {
                AttemptError::permanent(text)
            });
        }
        let body = response.into_body();
        let total = body.content_length();
        if total.is_some_and(|t| t > self.config.max_bytes) {
            return Err(self.too_large(total));
        }
        // `copy` enforces the limit; ureq's own would only report it as a failed read.
        let reader = body.into_with_config().limit(self.config.max_bytes.saturating_add(1)).reader();
        self.copy(reader, total, out, label)
    }

    /// Streams `reader` into `out`, refusing more than the size limit and transfers slower than
    /// the minimum rate.
    fn copy(
        &self,
        mut reader: impl Read,
        total: Option<u64>,
        out: &mut AtomicFile,
        label: &str,
    ) -> Result<u64, AttemptError> {
        let mut progress = Progress::start(self.config.progress, label, total);
        let mut buf = vec![0u8; 1 << 16];
        let mut done = 0u64;
        let mut rate = RateCheck::new(self.config.min_rate, self.config.timeout);
        let outcome = loop {
            match reader.read(&mut buf) {
                Ok(0) => break Ok(done),
                Ok(n) => {
                    if done.saturating_add(n as u64) > self.config.max_bytes {
                        break Err(self.too_large(total));
                    }
                    if let Err(e) = out.write_all(&buf[..n]) {
                        break Err(AttemptError::permanent(format!("cannot write: {e}")));
                    }
                    done += n as u64;
                    progress.inc(n as u64);
                    if let Err(slow) = rate.record(n as u64) {
                        break Err(AttemptError::permanent(slow));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
                    break Err(AttemptError::transient(format!(
                        "transfer failed after {done}{of} bytes: {}",
                        describe_io(&e)
                    )));
                }
            }
        };
        if let (Ok(n), Some(t)) = (&outcome, total)
            && *n != t
        {
            progress.finish("failed");
            return Err(AttemptError::transient(format!("transfer ended after {n} of {t} bytes")));
        }
        progress.finish(if outcome.is_ok() { "done" } else { "failed" });
        outcome
    }
}

/// The minimum transfer rate, checked over successive windows.
struct RateCheck {
    min_rate: u64,
    window: Duration,
    start: Instant,
    bytes: u64,
}

impl RateCheck {
    fn new(min_rate: u64, window: Duration) -> Self {
        RateCheck { min_rate, window: window.max(Duration::from_millis(1)), start: Instant::now(), bytes: 0 }
    }

    /// Counts `n` more bytes; at the end of each window, fails if the window's average rate was
    /// below the minimum.
    fn record(&mut self, n: u64) -> Result<(), String> {
        self.bytes += n;
        let elapsed = self.start.elapsed();
        if self.min_rate == 0 || elapsed < self.window {
            return Ok(());
        }
        let secs = elapsed.as_secs_f64();
        if (self.bytes as f64) < self.min_rate as f64 * secs {
            return Err(format!(
                "too slow: {} bytes in {secs:.1} s, below the minimum of {} bytes/s; trying the next mirror",
                self.bytes, self.min_rate
            ));
        }
        self.start = Instant::now();
        self.bytes = 0;
        Ok(())
    }
}

/// The host of a base URL and its `host:port` (the scheme's port if none is given).
fn host_and_port(base: &str) -> Option<(String, String)> {
    let uri: ureq::http::Uri = base.parse().ok()?;
    let host = uri.host()?.to_string();
    let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
    let host_port = format!("{host}:{port}");
    Some((host, host_port))
}

/// Whether ureq failed to resolve the host's name (when it resolves names itself).
fn is_name_resolution(e: &ureq::Error) -> bool {
    matches!(e, ureq::Error::HostNotFound | ureq::Error::Timeout(ureq::Timeout::Resolve))
}

/// Checks a written temporary file's digest.
fn verify(path: &Path, spec: &FileSpec) -> Result<(), AttemptError> {
    spec.verify(path).map_err(|e| match e {
        DataError::Checksum { expected, found, .. } => AttemptError::permanent(format!(
            "checksum mismatch: expected SHA-256 {expected} of the decompressed content, found {found}"
        )),
        DataError::ServedChecksum { expected, found, .. } => AttemptError::permanent(format!(
            "checksum mismatch: expected SHA-256 {expected} of the file as served, found {found}"
        )),
        other => AttemptError::permanent(format!("the file served is not valid: {other}")),
    })
}

/// A ureq error in words, naming timeouts plainly.
fn describe_ureq(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::Io(io) => describe_io(io),
        ureq::Error::HostNotFound => "cannot resolve the host name (not retried)".to_string(),
        other => other.to_string(),
    }
}

/// An I/O error in words, unwrapping a ureq error inside it.
fn describe_io(e: &io::Error) -> String {
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<ureq::Error>()) {
        return describe_ureq(inner);
    }
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!("timed out ({e})"),
        io::ErrorKind::UnexpectedEof => format!("connection closed early ({e})"),
        _ => e.to_string(),
    }
}

#[cfg(test)]
impl Fetcher {
    /// Resolves host names with `resolve` instead of the system's resolver.
    pub(crate) fn with_resolver(mut self, resolve: Resolve) -> Self {
        self.resolve = resolve;
        self.direct = true;
        self
    }
}
