//! What the end-to-end tests share: running the `latent` binary hermetically (without the
//! caller's `LATENT_DATA_DIR` or `LATENT_MAX_MEMORY`) and checking how it ended.

#![allow(dead_code)] // each test file uses its own part

use std::path::Path;
use std::process::{Command, Output};

/// Runs `latent args` and returns how it ended.
pub fn latent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latent"))
        .args(args)
        .env_remove("LATENT_DATA_DIR")
        .env_remove("LATENT_MAX_MEMORY")
        .output()
        .expect("the latent binary runs")
}

/// Runs `latent args`, which must succeed; returns its stdout followed by its stderr.
pub fn ok(args: &[&str]) -> String {
    let out = latent(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "latent {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned() + &stderr
}

/// Runs `latent args`, which must fail with `expected` in its error.
pub fn fails(args: &[&str], expected: &str) {
    let out = latent(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "latent {args:?} should fail");
    assert!(stderr.contains(expected), "latent {args:?}: expected `{expected}` in:\n{stderr}");
}

/// A path as the `&str` an argument list takes.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A `latent serve` process on a free loopback port, stopped when dropped.
pub struct Server {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base: String,
    /// What the server printed on stderr after its address (read in the background).
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    /// Starts `latent serve ARGS --port 0` and waits until it prints its address.
    pub fn start(args: &[&str]) -> Server {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(env!("CARGO_BIN_EXE_latent"))
            .arg("serve")
            .args(args)
            .args(["--port", "0"])
            .env_remove("LATENT_DATA_DIR")
            .env_remove("LATENT_MAX_MEMORY")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the latent binary runs");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
        let mut said = String::new();
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    said.push_str(&line);
                    said.push('\n');
                    if let Some(at) = line.find("http://") {
                        let url = line[at..].split_whitespace().next().unwrap_or_default();
                        break url.trim_end_matches('/').to_string();
                    }
                }
                _ => {
                    let _ = child.kill();
                    let status = child.wait();
                    panic!("latent serve {args:?} stopped before listening ({status:?}):\n{said}");
                }
            }
        };
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut log = sink.lock().unwrap_or_else(|p| p.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        Server { child, base, log }
    }

    /// The `host:port` the server listens on.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
