//! `latent serve`'s page in a real browser: headless Chromium driven through ChromeDriver
//! (WebDriver) draws a stroke on the canvas, sees a reconstruction appear that is not blank,
//! clicks the latent map and sees the decoded image change, draws again with a finger (touch),
//! and saves a screenshot.
//!
//! It needs `chromium` (or `chromium-browser`, `google-chrome`) and `chromedriver` on the PATH
//! (Debian: `apt-get install chromium chromium-driver`; `.ci/run` installs them). Without them
//! the test says so and passes, except in CI (`CI=true`), where it fails.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, ok, s};
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction, TouchActions};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// The first of `names` found on the PATH.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file()))
}

/// ChromeDriver, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(program: &Path) -> Driver {
        // A free port: the system picks one, which is then handed to ChromeDriver.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", program.display()));
        let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port} within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A 2-D VAE trained briefly on the bundled sample.
fn trained_run() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-browser-runs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let run = dir.join("vae2d");
    ok(&[
        "train",
        "vae",
        "--preset",
        "2d",
        "--dataset",
        "mnist-sample",
        "--epochs",
        "1",
        "--limit-batches",
        "30",
        "--quiet",
        "--out",
        s(&run),
    ]);
    run
}

/// Polls `script` (a function body returning a value) until `done` holds, for at most 30 s.
async fn wait_for(client: &Client, what: &str, script: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = client.execute(script, vec![]).await.expect("the script runs");
        if done(&value) {
            return value;
        }
        if Instant::now() > deadline {
            let status = client.execute("return document.getElementById('status').textContent", vec![]).await;
            panic!("timed out waiting for {what}: last {value}; the page's status: {status:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The sum of a canvas's red channel (-1 while nothing was drawn on it).
const INK: &str = "const c = document.getElementById(arguments[0]);
    if (!c.dataset.filled) return -1;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s;";

#[test]
fn the_page_encodes_a_drawing_and_decodes_a_click_on_the_map() {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let browser = on_path(&["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]);
    let driver = on_path(&["chromedriver"]);
    let (Some(browser), Some(driver)) = (browser, driver) else {
        assert!(
            !in_ci,
            "CI must run the browser test: install Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver; .ci/run does)"
        );
        eprintln!(
            "SKIPPED the browser test of latent serve: no chromium and chromedriver on the PATH (Debian: apt-get install chromium chromium-driver)"
        );
        return;
    };
    let started = Instant::now();
    let run = trained_run();
    let server = Server::start(&[s(&run), "--threads", "2"]);
    let driver = Driver::start(&driver);
    let profile = tempfile::tempdir().unwrap();
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-browser.png");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": browser,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,1400",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("a Chromium session starts");
        let outcome = exercise(&client, &server.base, &screenshot).await;
        let _ = client.close().await;
        outcome
    });
    eprintln!("browser test done in {:.1} s; screenshot {}", started.elapsed().as_secs_f64(), screenshot.display());
}

/// What a user does on the page, checked step by step.
async fn exercise(client: &Client, base: &str, screenshot: &Path) {
    client.goto(&format!("{base}/?run=vae2d")).await.unwrap();
    wait_for(client, "the page to load the run", "return document.getElementById('status').textContent", |v| {
        v == "ready"
    })
    .await;

    // A stroke on the drawing canvas, as a mouse draws it: a "7".
    let canvas = client.find(Locator::Id("draw")).await.unwrap();
    let stroke = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement { element: canvas, duration: None, x: -70.0, y: -80.0 })
        .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
        .then(PointerAction::MoveBy { duration: Some(Duration::from_millis(150)), x: 130.0, y: 0.0 })
        .then(PointerAction::MoveBy { duration: Some(Duration::from_millis(150)), x: -60.0, y: 170.0 })
        .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
    client.perform_actions(stroke).await.unwrap();
    let drawn = client.execute(
        "const c = document.getElementById('draw'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
         let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s;",
        vec![],
    );
    assert!(drawn.await.unwrap().as_f64().unwrap() > 0.0, "the stroke left no ink on the canvas");
    // Its reconstruction appears beside it, and is not blank.
    let ink =
        wait_for(client, "a reconstruction that is not blank", INK.replace("arguments[0]", "'recon'").as_str(), |v| {
            v.as_f64().is_some_and(|s| s > 0.0)
        })
        .await;
    eprintln!("the reconstruction's ink: {ink}");
    // And its anomaly score, against the threshold fitted on the training digits.
    let verdict = wait_for(
        client,
        "the drawing's anomaly score",
        "return document.getElementById('draw-anomaly').textContent",
        |v| v.as_str().is_some_and(|t| t.starts_with("anomaly score ") && t.contains("threshold")),
    )
    .await;
    eprintln!("{verdict}");

    // A click on the latent map decodes that point: the decoded picture changes.
    let before = client.execute("return document.getElementById('decoded').toDataURL()", vec![]).await.unwrap();
    let map = client.find(Locator::Id("map")).await.unwrap();
    let click = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement { element: map, duration: None, x: 120.0, y: -110.0 })
        .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
        .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
    client.perform_actions(click).await.unwrap();
    wait_for(client, "the decoded picture to change", "return document.getElementById('decoded').toDataURL()", |v| {
        *v != before
    })
    .await;

    // A finger draws too: cleared, then a touch stroke, and a reconstruction appears again.
    client.find(Locator::Id("clear")).await.unwrap().click().await.unwrap();
    let canvas = client.find(Locator::Id("draw")).await.unwrap();
    let touch = TouchActions::new("finger".into())
        .then(PointerAction::MoveToElement { element: canvas, duration: None, x: 0.0, y: -90.0 })
        .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
        .then(PointerAction::MoveBy { duration: Some(Duration::from_millis(200)), x: 0.0, y: 180.0 })
        .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
    client.perform_actions(touch).await.unwrap();
    wait_for(client, "the reconstruction of a touch stroke", INK.replace("arguments[0]", "'recon'").as_str(), |v| {
        v.as_f64().is_some_and(|s| s > 0.0)
    })
    .await;
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshot, png).unwrap();
}
