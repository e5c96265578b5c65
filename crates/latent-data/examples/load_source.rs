//! Times loading a `--data` source once, and makes large test files to time it on.
//!
//! ```sh
//! # A 60,000-row CSV (30 features and a label column) and 60,000 x 784 .npz archives
//! # (float32 `data` as Pythae writes it; uint8 `x_train` as Keras's mnist.npz):
//! cargo run --release -p latent-data --example load_source -- make /tmp/sources
//! # Load one (read, split, standardise), printing the time; under /usr/bin/time -v for the
//! # peak memory:
//! /usr/bin/time -v target/release/examples/load_source load /tmp/sources/table-60k.csv label
//! ```

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use latent_data::npy::NpzWriter;
use latent_data::source::{self, LoadOptions, Source};
use ndarray::Array;

/// A deterministic stream of numbers in [0, 1) (a 64-bit LCG), so the files are the same
/// every time.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn make(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let mut numbers = Numbers(1);
    let rows = 60_000;
    let csv = dir.join("table-60k.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv)?);
    let header: Vec<String> = (0..30).map(|j| format!("f{j}")).chain(["label".to_string()]).collect();
    writeln!(out, "{}", header.join(","))?;
    for i in 0..rows {
        let cells: Vec<String> = (0..30).map(|j| format!("{:.5}", numbers.next() * (j + 1) as f64)).collect();
        writeln!(out, "{},{}", cells.join(","), if i % 3 == 0 { "yes" } else { "no" })?;
    }
    out.flush()?;
    let floats = Array::from_shape_fn((rows, 784), |_| numbers.next() as f32);
    let mut npz = NpzWriter::create(dir.join("pythae-60k.npz"))?;
    npz.add("data", &floats)?;
    npz.finish()?;
    let bytes = Array::from_shape_fn((rows, 28, 28), |_| (numbers.next() * 256.0) as u8);
    let mut npz = NpzWriter::create(dir.join("keras-60k.npz"))?;
    npz.add("x_train", &bytes)?;
    npz.add("y_train", &Array::from_shape_fn(rows, |i| (i % 10) as u8))?;
    npz.finish()?;
    println!("wrote {}, pythae-60k.npz and keras-60k.npz in {}", csv.display(), dir.display());
    Ok(())
}

fn load(path: &Path, label_column: Option<String>) -> Result<(), Box<dyn std::error::Error>> {
    let options = LoadOptions { label_column, ..LoadOptions::default() };
    let t = Instant::now();
    let data = source::load(Source::from_path(path, None)?, &options)?.prepare(&options, None)?;
    println!(
        "{}: {} train + {} test examples of {}, values: {}, in {:.3} s",
        path.display(),
        data.train.len(),
        data.test.len(),
        data.spec().shape,
        data.spec().values.as_str(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["make", dir] => make(Path::new(dir)),
        ["load", path] => load(Path::new(path), None),
        ["load", path, label] => load(Path::new(path), Some(label.to_string())),
        _ => Err("usage: load_source make DIR | load_source load PATH [LABEL_COLUMN]".into()),
    }
}
