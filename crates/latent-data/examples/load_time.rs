//! Times loading MNIST: `cargo run --release -p latent-data --example load_time [-- DIR]`.
//!
//! With a directory, loads it as the full MNIST (checked against the canonical digests);
//! without, loads whatever [`mnist::load`] finds. Prints the time of the training split alone
//! (for a directory) and of both splits, best of five runs.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use latent_data::Source;
use latent_data::catalog::MNIST;
use latent_data::mnist::{self, Split};

fn main() -> Result<(), latent_data::DataError> {
    let source = match std::env::args_os().nth(1) {
        Some(d) => Source::Named { dataset: &MNIST, path: PathBuf::from(d) },
        None => mnist::locate(None)?,
    };
    let verify = source.verification()?;
    let mut best_train = Duration::MAX;
    let mut best_all = Duration::MAX;
    let mut n = 0;
    for _ in 0..5 {
        if let Some(dir) = source.path() {
            let t = Instant::now();
            mnist::load_split(dir, Split::Train, &verify)?;
            best_train = best_train.min(t.elapsed());
        }
        let t = Instant::now();
        let all = mnist::load_from(source.clone())?;
        best_all = best_all.min(t.elapsed());
        n = all.train.len();
    }
    let train =
        if best_train == Duration::MAX { "-".to_string() } else { format!("{:.3} s", best_train.as_secs_f64()) };
    println!(
        "{}: {n} training images (found as {source:?}, digests checked): {train}; both splits: {:.3} s (best of 5)",
        source.name(),
        best_all.as_secs_f64()
    );
    Ok(())
}
