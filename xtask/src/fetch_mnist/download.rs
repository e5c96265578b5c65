//! Fetching one file: from each mirror in turn, with timeouts and a bounded number of retries,
//! written atomically and verified by the SHA-256 of its decompressed content before it is
//! renamed into place.
//!
//! A file already present and valid is left alone. One present but invalid is removed first, so
//! that whatever happens no invalid file is left in place. Transient failures (timeouts, cut
//! transfers, 5xx answers, refused connections) are retried on the same mirror; permanent ones
//! (404 and other 4xx answers, a missing file in a directory mirror, a checksum mismatch) move
//! on to the next mirror. A destination that cannot be written ends the file's fetch at once.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Duration;

use latent_data::DataError;

use super::mirror::Mirror;
use super::progress::{Progress, ProgressMode};
use latent_fsio::AtomicFile;

/// A file to fetch: its served name and the SHA-256 of its decompressed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// The name on the mirrors and in the destination.
    pub name: String,
    /// The SHA-256 of the decompressed content, lowercase hex.
    pub sha256: String,
}

impl FileSpec {
    /// The four MNIST files with their canonical digests.
    pub fn mnist() -> Vec<FileSpec> {
        latent_data::mnist::CANONICAL_SHA256
            .iter()
            .map(|&(name, sha)| FileSpec { name: name.to_string(), sha256: sha.to_string() })
            .collect()
    }
}

/// Timeouts, retries and display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchConfig {
    /// The longest wait to connect, for the response headers, and for each read of the body:
    /// a server that stalls for this long fails the attempt.
    pub timeout: Duration,
    /// Retries per mirror after a transient failure (so `retries + 1` attempts).
    pub retries: u32,
    /// The pause before retry `k` is `k * retry_delay`.
    pub retry_delay: Duration,
    /// The largest file accepted.
    pub max_bytes: u64,
    /// How progress is shown.
    pub progress: ProgressMode,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            timeout: Duration::from_secs(30),
            retries: 2,
            retry_delay: Duration::from_secs(1),
            max_bytes: 256 << 20,
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

/// Checks the file at `path` against `sha256` (of its decompressed content).
pub fn check_file(path: &Path, sha256: &str) -> FileState {
    if !path.exists() {
        return FileState::Missing;
    }
    match latent_data::idx::verify_sha256(path, sha256) {
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

/// The downloader: one HTTP agent and its configuration.
pub struct Fetcher {
    agent: ureq::Agent,
    config: FetchConfig,
}

impl Fetcher {
    /// A fetcher with these timeouts and retries.
    pub fn new(config: FetchConfig) -> Self {
        let t = Some(config.timeout);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(t)
            .timeout_recv_response(t)
            .timeout_per_read(t)
            .user_agent(concat!("latent-xtask/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Fetcher { agent, config }
    }

    /// Puts `spec` in `dest`, verified: skips it if already valid, else tries `mirrors` in
    /// order.
    pub fn fetch(&self, spec: &FileSpec, dest: &Path, mirrors: &[Mirror]) -> Result<Fetched, Failure> {
        let fail = |attempts: Vec<Attempt>, fatal: Option<String>| Failure { name: spec.name.clone(), attempts, fatal };
        if let Err(e) = std::fs::create_dir_all(dest) {
            return Err(fail(vec![], Some(format!("cannot create the destination {}: {e}", dest.display()))));
        }
        let final_path = dest.join(&spec.name);
        let replaced = match check_file(&final_path, &spec.sha256) {
            FileState::Valid => return Ok(Fetched::Present),
            FileState::Missing => false,
            FileState::Invalid(reason) => {
                eprintln!("{}: present but invalid ({reason}); replacing it", spec.name);
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
                let mut out = match AtomicFile::create(&final_path) {
                    Ok(f) => f,
                    Err(e) => return Err(fail(attempts, Some(e.to_string()))),
                };
                let label = format!("{} from {mirror}", spec.name);
                let result = self
                    .transfer(mirror, &spec.name, &mut out, &label)
                    .and_then(|_| out.sync().map_err(|e| AttemptError::permanent(e.to_string())))
                    .and_then(|()| verify(out.temp_path(), &spec.sha256));
                match result {
                    Ok(()) => {
                        return match out.commit() {
                            Ok(()) => Ok(Fetched::Fetched { mirror: mirror.clone(), replaced }),
                            Err(e) => Err(fail(attempts, Some(e.to_string()))),
                        };
                    }
                    Err(e) => {
                        // `out` is dropped here or at the next iteration: its temporary file
                        // goes with it.
                        drop(out);
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
            Mirror::Http(base) => self.download(&format!("{base}{name}"), out, label),
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
                let total = file.metadata().ok().map(|m| m.len());
                if total.is_some_and(|t| t > self.config.max_bytes) {
                    return Err(AttemptError::permanent(format!(
                        "larger than the limit of {} bytes",
                        self.config.max_bytes
                    )));
                }
                self.copy(file, total, out, label)
            }
        }
    }

    fn download(&self, url: &str, out: &mut AtomicFile, label: &str) -> Result<u64, AttemptError> {
        let response = self.agent.get(url).call().map_err(|e| AttemptError::transient(describe_ureq(&e)))?;
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
            return Err(AttemptError::permanent(format!(
                "Content-Length {} exceeds the limit of {} bytes",
                total.unwrap_or(0),
                self.config.max_bytes
            )));
        }
        let reader = body.into_with_config().limit(self.config.max_bytes).reader();
        self.copy(reader, total, out, label)
    }

    /// Streams `reader` into `out`.
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
        let outcome = loop {
            match reader.read(&mut buf) {
                Ok(0) => break Ok(done),
                Ok(n) => {
                    if let Err(e) = out.write_all(&buf[..n]) {
                        break Err(AttemptError::permanent(format!("cannot write: {e}")));
                    }
                    done += n as u64;
                    progress.inc(n as u64);
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
        if let (Ok(n), Some(t)) = (&outcome, total) {
            if *n != t {
                progress.finish("failed");
                return Err(AttemptError::transient(format!("transfer ended after {n} of {t} bytes")));
            }
        }
        progress.finish(if outcome.is_ok() { "done" } else { "failed" });
        outcome
    }
}

/// Checks a written temporary file's decompressed digest.
fn verify(path: &Path, sha256: &str) -> Result<(), AttemptError> {
    latent_data::idx::verify_sha256(path, sha256).map_err(|e| match e {
        DataError::Checksum { expected, found, .. } => AttemptError::permanent(format!(
            "checksum mismatch: expected SHA-256 {expected} of the decompressed content, found {found}"
        )),
        other => AttemptError::permanent(format!("the file served is not valid: {other}")),
    })
}

/// A ureq error in words, naming timeouts plainly.
fn describe_ureq(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::Io(io) => describe_io(io),
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
