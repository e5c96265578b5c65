//! Times loading MNIST: `cargo run --release -p latent-data --example load_time [-- DIR]`.
//!
//! With a directory, loads it as the full data (checked against the canonical digests);
//! without, loads whatever [`mnist::load`] finds. Prints the time of the training split alone
//! and of both splits, best of five runs.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use latent_data::mnist::{self, DataDir, Origin, Split};

fn main() -> Result<(), latent_data::DataError> {
    let dir = match std::env::args_os().nth(1) {
        Some(d) => DataDir { path: PathBuf::from(d), origin: Origin::Full },
        None => mnist::locate(None)?,
    };
    let verify = dir.verification()?;
    let mut best_train = Duration::MAX;
    let mut best_all = Duration::MAX;
    let mut n = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let train = mnist::load_split(&dir.path, Split::Train, &verify)?;
        best_train = best_train.min(t.elapsed());
        n = train.len();
        let t = Instant::now();
        let all = mnist::load_from(dir.clone())?;
        best_all = best_all.min(t.elapsed());
        assert_eq!(all.train.len(), n);
    }
    println!(
        "{}: {n} training images (found as {:?}, digests checked): {:.3} s; both splits: {:.3} s (best of 5)",
        dir.path.display(),
        dir.origin,
        best_train.as_secs_f64(),
        best_all.as_secs_f64()
    );
    Ok(())
}
