//! `latent fetch` as a process: interrupted by Ctrl-C or SIGTERM in the middle of a download, it
//! removes its partial file and exits with 128 + the signal (issue 17, item 10).

#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Polls `done` every 20 ms for up to `limit`.
fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_signal_during_a_download_removes_the_partial_file() {
    for (signal, status) in [("TERM", 143), ("INT", 130)] {
        // A directory mirror whose file is a pipe nobody writes: the download starts (its
        // temporary file in place) and then waits for data for ever.
        let mirror = tempfile::tempdir().unwrap();
        let pipe = mirror.path().join("train-images-idx3-ubyte.gz");
        assert!(Command::new("mkfifo").arg(&pipe).status().unwrap().success());
        let dest = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_latent"))
            .args(["fetch", "mnist", "--no-default-mirrors", "--timeout", "60", "--mirror"])
            .arg(mirror.path())
            .arg("--dest")
            .arg(dest.path())
            .env("HOME", home.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = wait_for(Duration::from_secs(30), || names(dest.path()).iter().any(|n| n.ends_with(".tmp")));
        if !started {
            let _ = child.kill();
            panic!("SIG{signal}: no temporary file appeared in {}", dest.path().display());
        }
        assert!(Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status().unwrap().success());
        let exited = wait_for(Duration::from_secs(30), || child.try_wait().unwrap().is_some());
        if !exited {
            let _ = child.kill();
            panic!("SIG{signal}: latent fetch did not exit");
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(status), "SIG{signal}: {:?}\n{stderr}", output.status);
        assert!(stderr.contains("interrupted: removed 1 partial download file"), "{stderr}");
        assert_eq!(names(dest.path()), Vec::<String>::new(), "SIG{signal}: left behind");
    }
}

/// KMNIST's files are checked by the digests of its `.gz` files as served: a mirror with other
/// bytes fails with both digests, nothing is left in place, and the by-hand instructions say
/// which digest to compare (of the `.gz`, not of its content).
#[test]
fn kmnist_is_checked_against_the_digests_of_its_served_files() {
    let mirror = tempfile::tempdir().unwrap();
    for name in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        std::fs::write(mirror.path().join(name), b"not the real file").unwrap();
    }
    let dest = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_latent"))
        .args(["fetch", "kmnist", "--no-default-mirrors", "--mirror"])
        .arg(mirror.path())
        .arg("--dest")
        .arg(dest.path())
        .env("HOME", home.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("of the file as served"), "{stderr}");
    assert!(stderr.contains("51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"), "{stderr}");
    assert!(stderr.contains("of the .gz files as served (`sha256sum FILE`)"), "{stderr}");
    assert_eq!(names(dest.path()), Vec::<String>::new(), "nothing left behind");
}
