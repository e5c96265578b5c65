//! Times reading an image folder: `cargo run --release -p latent-data --example load_images --
//! DIR [THREADS] [HxW]` (write one with `latent fetch shapes --dest DIR`).
//!
//! Reads the folder once with THREADS decoding threads (default: every core), resized to HxW if
//! given, and prints the time and what was read. Run it under `/usr/bin/time -v` for the peak
//! memory.

use std::path::PathBuf;
use std::time::Instant;

use latent_data::images::{ImageOptions, read_folder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: load_images DIR [THREADS] [HxW]")?);
    let threads: usize = args.next().map_or(Ok(0), |t| t.parse())?;
    let size = args.next().map(|s| s.parse()).transpose()?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let options = ImageOptions { size, ..ImageOptions::default() };
    let t = Instant::now();
    let (train, test) = pool.install(|| read_folder(&dir, &options))?;
    let seconds = t.elapsed().as_secs_f64();
    let n = train.len() + test.as_ref().map_or(0, |t| t.len());
    println!(
        "{}: {n} images of {} with {} threads in {seconds:.3} s ({:.0} images/s)",
        dir.display(),
        train.shape(),
        pool.current_num_threads(),
        n as f64 / seconds
    );
    Ok(())
}
