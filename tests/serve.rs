//! `latent serve`'s JSON API, against the real command on an ephemeral loopback port: what it
//! answers, what it refuses (always a 4xx with a JSON error, never a crash), and how it holds up
//! under a burst of concurrent requests.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use common::{Server, ok, s};
use serde_json::{Value, json};

/// Small runs, trained once per test binary into the target's scratch directory: a VAE with
/// 2-D codes, one with 8-D codes, a conditional VAE, a GAN, a plain autoencoder and a VAE of
/// the bundled table.
fn runs() -> &'static Path {
    static RUNS: OnceLock<PathBuf> = OnceLock::new();
    RUNS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-api-runs");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let table = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/latent-data/sample/table/wdbc-200.csv");
        let common = ["--dataset", "mnist-sample", "--epochs", "1", "--quiet"];
        let runs: [(&str, Vec<&str>); 6] = [
            ("vae2d", vec!["vae", "--preset", "2d", "--limit-batches", "20"]),
            ("vae8", vec!["vae", "--latent-dim", "8", "--limit-batches", "20"]),
            ("cvae", vec!["cvae", "--limit-batches", "10"]),
            ("gan", vec!["gan", "--limit-batches", "5"]),
            ("ae", vec!["ae", "--preset", "shallow", "--limit-batches", "5"]),
            ("table", vec!["vae", "--data", s(&table), "--label-column", "diagnosis", "--epochs", "3"]),
        ];
        for (name, args) in runs {
            let out = dir.join(name);
            let mut all: Vec<&str> = vec!["train"];
            all.extend(&args);
            if name != "table" {
                all.extend(common);
            } else {
                all.push("--quiet");
            }
            all.extend(["--out", s(&out)]);
            ok(&all);
        }
        dir
    })
}

fn run(name: &str) -> String {
    runs().join(name).display().to_string()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .new_agent()
}

/// The status and JSON body of an answer.
fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
    let response = response.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().expect("a readable body");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, value)
}

fn get(server: &Server, path: &str) -> (u16, Value) {
    answer(agent().get(format!("{}{path}", server.base)).call())
}

fn post_text(server: &Server, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    answer(agent().post(format!("{}{path}", server.base)).header("content-type", content_type).send(body))
}

fn post(server: &Server, path: &str, body: &Value) -> (u16, Value) {
    post_text(server, path, "application/json", &body.to_string())
}

/// A request that must succeed; its body.
fn ok_post(server: &Server, path: &str, body: &Value) -> Value {
    let (status, value) = post(server, path, body);
    assert_eq!(status, 200, "POST {path} {body}: {value}");
    value
}

fn ok_get(server: &Server, path: &str) -> Value {
    let (status, value) = get(server, path);
    assert_eq!(status, 200, "GET {path}: {value}");
    value
}

/// A refusal with `status` and a JSON error containing `expected`.
fn refused(got: (u16, Value), status: u16, expected: &str) {
    let (code, value) = got;
    assert_eq!(code, status, "{value}");
    assert_eq!(value["status"], status, "{value}");
    let message = value["error"].as_str().unwrap_or_else(|| panic!("no error message: {value}"));
    assert!(message.contains(expected), "expected `{expected}` in: {message}");
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}")).iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// A raw HTTP/1.1 exchange (for what a well-behaved client does not send); the whole answer.
fn raw(server: &Server, head: &str, body: Vec<u8>) -> String {
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    // The body goes in the background: the server may answer (and close) before reading it all.
    let mut writer = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(&body);
    });
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    let _ = sending.join();
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn codes_round_trip_and_the_map_shows_the_test_codes() {
    let server = Server::start(&[&run("vae2d"), &run("vae8"), "--threads", "2"]);
    let listed = ok_get(&server, "/api/runs");
    let names: Vec<&str> = listed["runs"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["vae2d", "vae8"]);
    assert_eq!(
        listed["runs"][0]["capabilities"],
        json!({"encode": true, "decode": true, "sample": true, "classes": null, "anomaly": true})
    );
    assert_eq!(listed["runs"][0]["data"]["dims"], json!([1, 28, 28]));
    let info = ok_get(&server, "/api/runs/vae2d");
    assert_eq!(info["info"]["preset"], "vae/2d");
    assert!(info["info"]["parameters"].as_u64().unwrap() > 1000, "{}", info["info"]);

    // The page and its files.
    let page = agent().get(format!("{}/", server.base)).call().unwrap();
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
    let js = agent().get(format!("{}/page.js", server.base)).call().unwrap().into_body().read_to_string().unwrap();
    assert!(js.contains("/api/runs"));

    // Encode a test digit, decode its code: the reconstruction `reconstruct` answers.
    let example = ok_get(&server, "/api/runs/vae2d/test/0");
    let input = floats(&example["input"]);
    assert_eq!(input.len(), 784);
    let encoded = ok_post(&server, "/api/runs/vae2d/encode", &json!({ "inputs": [input] }));
    let code = floats(&encoded["codes"][0]);
    assert_eq!(code.len(), 2);
    let decoded = ok_post(&server, "/api/runs/vae2d/decode", &json!({ "codes": [code] }));
    let out = floats(&decoded["outputs"][0]);
    assert_eq!(out.len(), 784);
    assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(out.iter().any(|&v| v > 0.2), "the decoding is blank");
    let recon = ok_post(&server, "/api/runs/vae2d/reconstruct", &json!({ "test_indices": [0] }));
    assert!(max_diff(&floats(&recon["outputs"][0]), &out) < 1e-3);
    assert!(max_diff(&floats(&recon["codes"][0]), &code) < 1e-5);
    assert!(recon["mse"][0].as_f64().unwrap() < 0.2, "{}", recon["mse"]);

    // 2-D codes are their own map; the first point is test digit 0's code.
    let map = ok_get(&server, "/api/runs/vae2d/map");
    assert_eq!(map["projection"]["kind"], "identity");
    assert_eq!(map["points"].as_array().unwrap().len(), 2000);
    assert_eq!(map["labels"][0], example["label"]);
    assert!(max_diff(&floats(&map["points"][0]), &code) < 1e-4);
    assert!(max_diff(&floats(&encoded["points"][0]), &code) < 1e-6);
    // A point of the map decodes as its code.
    let at_point = ok_post(&server, "/api/runs/vae2d/decode", &json!({ "points": [code] }));
    assert!(max_diff(&floats(&at_point["outputs"][0]), &out) < 1e-3);

    // Wider codes: the map is their principal plane, and a point decodes as mean + x·PC1 + y·PC2.
    let map8 = ok_get(&server, "/api/runs/vae8/map");
    assert_eq!(map8["projection"]["kind"], "pca");
    let explained = floats(&map8["projection"]["explained"]);
    assert!(explained[0] >= explained[1] && explained[0] + explained[1] <= 1.0 + 1e-6, "{explained:?}");
    assert_eq!(map8["ranges"].as_array().unwrap().len(), 8);
    let at = ok_post(&server, "/api/runs/vae8/decode", &json!({ "points": [[1.0, -0.5]] }));
    let mean = floats(&map8["projection"]["mean"]);
    let (a, b) = (floats(&map8["projection"]["axes"][0]), floats(&map8["projection"]["axes"][1]));
    let expected: Vec<f32> = (0..8).map(|j| mean[j] + a[j] - 0.5 * b[j]).collect();
    assert!(max_diff(&floats(&at["codes"][0]), &expected) < 1e-5);

    // Interpolation: its ends are the two digits' codes.
    let line = ok_post(
        &server,
        "/api/runs/vae8/interpolate",
        &json!({ "from": { "test_index": 3 }, "to": { "input": input }, "steps": 5 }),
    );
    assert_eq!(line["outputs"].as_array().unwrap().len(), 5);
    let ends = ok_post(&server, "/api/runs/vae8/reconstruct", &json!({ "test_indices": [3, 0] }));
    assert!(max_diff(&floats(&line["codes"][0]), &floats(&ends["codes"][0])) < 1e-5);
    assert!(max_diff(&floats(&line["codes"][4]), &floats(&ends["codes"][1])) < 1e-5);

    // Samples are `latent sample`'s for the same seed.
    let drawn = ok_post(&server, "/api/runs/vae8/sample", &json!({ "n": 4, "seed": 3 }));
    let npy = runs().join("vae8-samples.npy");
    ok(&["sample", &run("vae8"), "--n", "4", "--seed", "3", "--out", s(&npy)]);
    let cli: ndarray::ArrayD<f32> = latent_data::npy::read_npy(&npy).unwrap();
    for i in 0..4 {
        let row: Vec<f32> = cli.index_axis(ndarray::Axis(0), i).iter().copied().collect();
        assert!(max_diff(&floats(&drawn["outputs"][i]), &row) < 1e-4, "sample {i}");
    }

    // The nearest training digits, nearest first, each with its label and digit.
    let near = ok_post(&server, "/api/runs/vae2d/nearest", &json!({ "input": input, "k": 3 }));
    let found = near["neighbours"].as_array().unwrap();
    assert_eq!(found.len(), 3);
    let mses: Vec<f64> = found.iter().map(|n| n["mse"].as_f64().unwrap()).collect();
    assert!(mses.windows(2).all(|w| w[0] <= w[1]), "{mses:?}");
    assert_eq!(floats(&found[0]["input"]).len(), 784);
    let from_code = ok_post(&server, "/api/runs/vae2d/nearest", &json!({ "code": code, "k": 1 }));
    assert!(max_diff(&floats(&from_code["query"]), &out) < 1e-3);
}

#[test]
fn bad_requests_get_a_4xx_with_a_json_error_and_the_server_goes_on() {
    let server = Server::start(&[&run("vae2d"), &run("gan"), &run("ae"), &run("cvae"), "--threads", "2"]);
    let digit = vec![0.5f32; 784];
    // Malformed bodies, methods and paths.
    refused(post_text(&server, "/api/runs/vae2d/encode", "application/json", "{\"inputs\": [[0.1,"), 400, "");
    refused(post_text(&server, "/api/runs/vae2d/encode", "text/plain", "{}"), 415, "application/json");
    refused(
        post(&server, "/api/runs/vae2d/encode", &json!({ "inputs": [digit], "colour": 1 })),
        422,
        "unknown field `colour`",
    );
    refused(post(&server, "/api/runs/vae2d/encode", &json!({ "inputs": "many" })), 422, "inputs");
    refused(post(&server, "/api/runs/nope/encode", &json!({ "inputs": [digit] })), 404, "no run named `nope`");
    refused(get(&server, "/api/runs/nope"), 404, "the runs are: vae2d, gan, ae, cvae");
    refused(get(&server, "/etc/passwd"), 404, "nothing is served at /etc/passwd");
    refused(get(&server, "/api/runs/..%2F..%2Fetc%2Fpasswd/map"), 404, "no run named `../../etc/passwd`");
    refused(get(&server, "/api/runs/vae2d/encode"), 405, "GET is not allowed");
    refused(get(&server, "/api/runs/vae2d/test/abc"), 400, "test index `abc`");
    refused(get(&server, "/api/runs/vae2d/test/2000"), 422, "the test set has 2000 examples");
    // Values that do not fit the run.
    refused(
        post(&server, "/api/runs/vae2d/encode", &json!({ "inputs": [[0.5, 0.5]] })),
        422,
        "inputs[0] has 2 values; this run's examples have 784",
    );
    let mut bright = digit.clone();
    bright[10] = 2.0;
    refused(
        post(&server, "/api/runs/vae2d/encode", &json!({ "inputs": [bright] })),
        422,
        "inputs[0][10] is 2: pixel values are in [0, 1]",
    );
    refused(post(&server, "/api/runs/vae2d/encode", &json!({ "inputs": [] })), 422, "send 1 to 256, found 0");
    refused(
        post(&server, "/api/runs/vae2d/decode", &json!({ "codes": [[0.0, 0.0, 0.0]] })),
        422,
        "codes[0] has 3 values; this run's codes have 2",
    );
    refused(
        post(&server, "/api/runs/vae2d/decode", &json!({ "codes": [[0.0, 0.0]], "points": [[0.0, 0.0]] })),
        400,
        "either `codes` or `points`",
    );
    refused(
        post(&server, "/api/runs/vae2d/decode", &json!({ "codes": [[0.0, 0.0]], "label": 1 })),
        422,
        "not conditioned on labels",
    );
    refused(post(&server, "/api/runs/vae2d/sample", &json!({ "n": 1000 })), 422, "send 1 to 256, found 1000");
    refused(
        post(&server, "/api/runs/vae2d/reconstruct", &json!({ "test_indices": [0], "noise": "fog:1" })),
        422,
        "`noise`",
    );
    refused(
        post(
            &server,
            "/api/runs/vae2d/interpolate",
            &json!({ "from": { "test_index": 0 }, "to": { "test_index": 1 }, "steps": 1 }),
        ),
        422,
        "`steps`: send 2 to 64",
    );
    refused(
        post(&server, "/api/runs/vae2d/interpolate", &json!({ "from": {}, "to": { "test_index": 1 } })),
        400,
        "`from`: send one of",
    );
    refused(post(&server, "/api/runs/vae2d/nearest", &json!({ "input": digit, "k": 0 })), 422, "`k`");
    // Operations the model lacks.
    refused(
        post(&server, "/api/runs/gan/encode", &json!({ "inputs": [digit] })),
        422,
        "cannot encode: it has no encoder",
    );
    refused(
        post(&server, "/api/runs/gan/interpolate", &json!({ "from": { "test_index": 0 }, "to": { "test_index": 1 } })),
        422,
        "no encoder; send a `code`",
    );
    refused(post(&server, "/api/runs/ae/sample", &json!({ "n": 2 })), 422, "cannot sample: it has no prior");
    // Labels of a conditional model.
    let cvae_dim = ok_get(&server, "/api/runs/cvae")["latent_dim"].as_u64().unwrap() as usize;
    let zero = vec![0.0f32; cvae_dim];
    refused(
        post(&server, "/api/runs/cvae/decode", &json!({ "codes": [zero] })),
        422,
        "run `cvae` is conditional: send `label`",
    );
    refused(
        post(&server, "/api/runs/cvae/decode", &json!({ "codes": [zero], "label": 10 })),
        422,
        "label 10 is out of range: run `cvae` knows labels 0 to 9",
    );
    refused(
        post(&server, "/api/runs/cvae/decode", &json!({ "codes": [zero], "labels": [1, 2] })),
        422,
        "`labels` has 2 labels for 1 examples",
    );
    // A body over the limit: refused once 8 MiB have come, before the rest is read.
    let big = vec![b' '; 9 << 20];
    let head = format!(
        "POST /api/runs/vae2d/encode HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.addr(),
        big.len()
    );
    let said = raw(&server, &head, big);
    assert!(said.starts_with("HTTP/1.1 413"), "{}", &said[..said.len().min(300)]);
    assert!(said.contains("larger than the 8388608 bytes"), "{said}");
    // A request to another host name (a DNS rebinding attack) is refused.
    let said = raw(&server, "GET /api/runs HTTP/1.1\r\nHost: evil.example:80\r\nConnection: close\r\n\r\n", vec![]);
    assert!(said.starts_with("HTTP/1.1 403") && said.contains("loopback"), "{said}");
    // After all that, it still answers, and never panicked.
    let listed = ok_get(&server, "/api/runs");
    assert_eq!(listed["runs"].as_array().unwrap().len(), 4);
    let log = server.log.lock().unwrap().clone();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn conditional_adversarial_and_table_runs_serve_what_they_can() {
    let server = Server::start(&[&run("cvae"), &run("gan"), &run("table"), "--threads", "2"]);
    // A conditional VAE: the same code decodes differently with another label; samples cycle
    // through the classes unless told one.
    let dim = ok_get(&server, "/api/runs/cvae")["latent_dim"].as_u64().unwrap() as usize;
    let three = ok_post(&server, "/api/runs/cvae/decode", &json!({ "codes": [vec![0.0; dim]], "label": 3 }));
    let five = ok_post(&server, "/api/runs/cvae/decode", &json!({ "codes": [vec![0.0; dim]], "label": 5 }));
    assert!(max_diff(&floats(&three["outputs"][0]), &floats(&five["outputs"][0])) > 0.01);
    let cycled = ok_post(&server, "/api/runs/cvae/sample", &json!({ "n": 12 }));
    assert_eq!(cycled["labels"], json!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]));
    let sevens = ok_post(&server, "/api/runs/cvae/sample", &json!({ "n": 3, "label": 7 }));
    assert_eq!(sevens["labels"], json!([7, 7, 7]));
    // Test examples are encoded with their own labels; a line needs the label to decode with.
    let line = ok_post(
        &server,
        "/api/runs/cvae/interpolate",
        &json!({ "from": { "test_index": 0 }, "to": { "test_index": 1 }, "steps": 3, "label": 2 }),
    );
    assert_eq!(line["outputs"].as_array().unwrap().len(), 3);
    refused(
        post(&server, "/api/runs/cvae/interpolate", &json!({ "from": { "test_index": 0 }, "to": { "test_index": 1 } })),
        422,
        "conditional",
    );
    assert_eq!(ok_get(&server, "/api/runs/cvae/map")["points"].as_array().unwrap().len(), 2000);

    // A GAN: samples and walks between codes; its map is the prior's plane, without points.
    let gan = ok_get(&server, "/api/runs/gan");
    assert_eq!(
        gan["capabilities"],
        json!({"encode": false, "decode": true, "sample": true, "classes": null, "anomaly": false})
    );
    let map = ok_get(&server, "/api/runs/gan/map");
    assert_eq!(map["projection"]["kind"], "prior");
    assert!(map["points"].as_array().unwrap().is_empty());
    let samples = ok_post(&server, "/api/runs/gan/sample", &json!({ "n": 2, "seed": 1 }));
    let again = ok_post(&server, "/api/runs/gan/sample", &json!({ "n": 2, "seed": 1 }));
    assert_eq!(samples, again, "the same seed draws the same samples");
    let walk = ok_post(
        &server,
        "/api/runs/gan/interpolate",
        &json!({ "from": { "code": samples["codes"][0] }, "to": { "code": samples["codes"][1] }, "steps": 4 }),
    );
    assert!(max_diff(&floats(&walk["outputs"][0]), &floats(&samples["outputs"][0])) < 1e-3);
    assert!(max_diff(&floats(&walk["outputs"][3]), &floats(&samples["outputs"][1])) < 1e-3);

    // A table: rows in the table's own units in and out.
    let table = ok_get(&server, "/api/runs/table");
    assert_eq!(table["data"]["values"], "real");
    assert_eq!(table["data"]["feature_names"][3], "area_mean");
    let row = ok_get(&server, "/api/runs/table/test/0");
    let values = floats(&row["input"]);
    assert_eq!(values.len(), 30);
    assert!(values[3] > 100.0, "area_mean in its own units: {}", values[3]);
    let recon = ok_post(
        &server,
        "/api/runs/table/reconstruct",
        &json!({ "inputs": [values], "noise": "gaussian:0.5", "seed": 2 }),
    );
    let out = floats(&recon["outputs"][0]);
    assert!(out[3] > 100.0, "the reconstruction's area_mean in its own units: {}", out[3]);
    assert_ne!(recon["corrupted"], recon["inputs"]);
    let near = ok_post(&server, "/api/runs/table/nearest", &json!({ "input": floats(&row["input"]), "k": 2 }));
    assert_eq!(floats(&near["neighbours"][0]["input"]).len(), 30);
    refused(
        post(&server, "/api/runs/table/encode", &json!({ "inputs": [vec![1e39f64; 30]] })),
        422,
        "not a finite number",
    );
}

#[test]
fn a_burst_of_concurrent_requests_is_answered_and_its_latency_measured() {
    let server = Server::start(&[&run("vae8"), "--threads", "2"]);
    let code = [0.3f32, -0.2, 0.1, 0.0, 0.5, -0.4, 0.2, 0.1];
    let body = json!({ "codes": [code] });
    let url = format!("{}/api/runs/vae8/decode", server.base);
    let first = ok_post(&server, "/api/runs/vae8/decode", &body);

    // One request at a time: the latency a person dragging a slider sees.
    let mut alone = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        ok_post(&server, "/api/runs/vae8/decode", &body);
        alone.push(t.elapsed());
    }

    // A burst of 100 at once, each from its own client on its own connection (opened by a
    // first request before the burst, as a page's is).
    let n = 100;
    let start = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (start, url, body) = (Arc::clone(&start), url.clone(), body.to_string());
            std::thread::spawn(move || {
                let agent = agent();
                let warm = answer(agent.post(&url).header("content-type", "application/json").send(&body));
                assert_eq!(warm.0, 200, "{}", warm.1);
                start.wait();
                let t = Instant::now();
                let got = answer(agent.post(&url).header("content-type", "application/json").send(body));
                (t.elapsed(), got)
            })
        })
        .collect();
    let mut burst = Vec::new();
    for h in handles {
        let (took, (status, value)) = h.join().unwrap();
        assert_eq!(status, 200, "{value}");
        // Every worker computes the same bits.
        assert_eq!(value, first);
        burst.push(took);
    }
    let quantile = |v: &mut Vec<Duration>, q: f64| {
        v.sort();
        v[((v.len() - 1) as f64 * q).round() as usize]
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (alone_median, alone_p99) = (quantile(&mut alone, 0.5), quantile(&mut alone, 0.99));
    let (burst_median, burst_p99) = (quantile(&mut burst, 0.5), quantile(&mut burst, 0.99));
    eprintln!(
        "decode one 28x28 image (vae, 8-D codes, 2 workers): alone median {:.2} ms, p99 {:.2} ms; \
         burst of {n}: median {:.2} ms, p99 {:.2} ms",
        ms(alone_median),
        ms(alone_p99),
        ms(burst_median),
        ms(burst_p99)
    );
    // Generous bounds: the machine running the tests may be busy; the figures are printed.
    assert!(alone_median < Duration::from_secs(1) && burst_p99 < Duration::from_secs(30));
}

/// `latent serve`'s anomaly scores are `latent anomaly`'s: without `anomaly.json` the server fits
/// the command's default threshold (and writes nothing); with it, the server uses the stored one.
#[test]
fn anomaly_scores_and_thresholds_are_those_of_latent_anomaly() {
    // A copy of the autoencoder run, so no other test sees its anomaly.json.
    let dir = runs().join("ae-anomaly");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(runs().join("ae")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    let fitted_by_server = {
        let server = Server::start(&[s(&dir), &run("gan"), "--threads", "2"]);
        assert_eq!(ok_get(&server, "/api/runs/ae-anomaly")["capabilities"]["anomaly"], true);
        let scored = ok_post(&server, "/api/runs/ae-anomaly/anomaly", &json!({ "test_indices": [0, 1, 2] }));
        assert_eq!(scored["score"], "recon");
        assert_eq!(scored["from_run_file"], false);
        assert_eq!(scored["rule"], "quantile:0.95");
        let threshold = scored["threshold"].as_f64().unwrap();
        let scores: Vec<f64> = scored["scores"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let flagged: Vec<bool> = scored["flagged"].as_array().unwrap().iter().map(|v| v.as_bool().unwrap()).collect();
        assert_eq!(flagged, scores.iter().map(|&v| v > threshold).collect::<Vec<_>>());
        // Noise is far from any digit: flagged, far above the training scores.
        let noise: Vec<f32> = (0..784).map(|i| ((i * 7919) % 101) as f32 / 100.0).collect();
        let odd = ok_post(&server, "/api/runs/ae-anomaly/anomaly", &json!({ "inputs": [noise] }));
        assert_eq!(odd["flagged"][0], true, "{odd}");
        assert!(odd["scores"][0].as_f64().unwrap() > odd["normal_scores"]["max"].as_f64().unwrap());
        // The GAN reconstructs nothing.
        refused(post(&server, "/api/runs/gan/anomaly", &json!({ "test_indices": [0] })), 422, "reconstruct");
        refused(
            post(&server, "/api/runs/ae-anomaly/anomaly", &json!({ "test_indices": [99999] })),
            422,
            "test_indices",
        );
        assert!(!dir.join("anomaly.json").exists(), "the server writes nothing into a run");
        (threshold, scores)
    };

    // The command, with its default rule, fits the same threshold and gives the same scores.
    let out = dir.join("report");
    let report: Value =
        serde_json::from_str(&ok(&["anomaly", s(&dir), "--json", "--out", s(&out), "--threads", "1"])).unwrap();
    let (threshold, scores) = fitted_by_server;
    assert!((report["threshold"].as_f64().unwrap() - threshold).abs() <= 1e-5 * threshold.abs(), "{report}");
    let csv = std::fs::read_to_string(out.join("scores.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|h| *h == "score").unwrap();
    for (i, line) in csv.lines().skip(1).take(3).enumerate() {
        let cli: f64 = line.split(',').nth(column).unwrap().parse().unwrap();
        assert!((cli - scores[i]).abs() <= 1e-4 * cli.abs().max(1.0), "example {i}: {cli} vs {}", scores[i]);
    }

    // Refitted by the command with another rule, the stored threshold is what the server uses.
    let refit: Value =
        serde_json::from_str(&ok(&["anomaly", s(&dir), "--json", "--threshold", "quantile:0.5", "--out", s(&out)]))
            .unwrap();
    let server = Server::start(&[s(&dir)]);
    let scored = ok_post(&server, "/api/runs/ae-anomaly/anomaly", &json!({ "test_indices": [0] }));
    assert_eq!(scored["from_run_file"], true);
    assert_eq!(scored["rule"], "quantile:0.5");
    assert_eq!(scored["threshold"].as_f64().unwrap(), refit["threshold"].as_f64().unwrap());
}
