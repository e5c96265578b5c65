//! The size of the rayon pool that runs the parallel kernels.
//!
//! Every parallel kernel (`kernels::matmul::gemm`, convolution, pooling) runs on
//! whichever rayon pool it is called from: the global pool by default, or a pool of your own
//! inside `rayon::ThreadPool::install`. The global pool's size is chosen once, at its first use:
//! - by [`set_num_threads`], if it is called before any parallel computation, or
//! - by the `RAYON_NUM_THREADS` environment variable (read by rayon itself), or
//! - as the number of logical CPUs.
//!
//! A program that drives training from its main thread should wrap the work in [`run_in_pool`]:
//! the work then runs on a pool worker, so a parallel kernel starts on the calling thread while
//! the other workers join in, instead of handing every task to sleeping workers and blocking
//! until one wakes (tens of microseconds per op on a virtual machine). With one thread, parallel
//! code then runs inline, with no thread switch at all.
//!
//! Between two parallel kernels, rayon's idle workers spin for a few dozen yields and then
//! sleep; the next kernel has to wake them, and on a virtual machine a wake-up takes long
//! enough that the caller has often done the work alone by the time the helper arrives. A
//! training loop runs hundreds of kernels a second with short serial stretches between them, so
//! it holds a [`WarmWorkers`] guard ([`keep_workers_warm`]): while it lives, the pool's other
//! workers keep polling for work instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use thiserror::Error;

/// Why [`set_num_threads`] could not give the global pool the requested size.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ThreadsError {
    /// Zero threads were requested; a pool needs at least one.
    #[error("set_num_threads: the number of threads must be at least 1")]
    Zero,
    /// The global pool already exists (something ran in parallel, or the pool was configured
    /// earlier) with a different size, and rayon cannot resize it.
    #[error(
        "set_num_threads({requested}): the global thread pool already runs {current} threads and \
         cannot be resized; call set_num_threads before any computation, or set the \
         RAYON_NUM_THREADS environment variable"
    )]
    AlreadyInitialized {
        /// The size that was asked for.
        requested: usize,
        /// The size the global pool has.
        current: usize,
    },
    /// The operating system refused to start the pool's threads.
    #[error("cannot start a pool of {threads} threads (0: the default size): {reason}")]
    Build {
        /// The size that was asked for (0 for the default).
        threads: usize,
        /// The operating system's reason.
        reason: String,
    },
}

/// Sets the number of threads of the global rayon pool, which runs the parallel kernels.
///
/// Call it once, early, before any tensor computation: rayon builds its global pool on first
/// use and can never resize it. Calling it again (or after the pool exists) succeeds only if the
/// pool already has `n` threads.
///
/// # Errors
/// [`ThreadsError::Zero`] if `n == 0`; [`ThreadsError::AlreadyInitialized`] if the global pool
/// already exists with another size.
pub fn set_num_threads(n: usize) -> Result<(), ThreadsError> {
    if n == 0 {
        return Err(ThreadsError::Zero);
    }
    match rayon::ThreadPoolBuilder::new().num_threads(n).build_global() {
        Ok(()) => Ok(()),
        Err(_) => {
            // The only way `build_global` fails after validation is that the global pool exists
            // already (thread spawning failures also land here, and then the pool size tells).
            let current = global_num_threads();
            if current == n { Ok(()) } else { Err(ThreadsError::AlreadyInitialized { requested: n, current }) }
        }
    }
}

/// Runs `f` on a worker of a new rayon pool of `threads` threads and returns its result; every
/// parallel kernel `f` calls runs on that pool (see the module docs for why this is faster than
/// calling them from a thread outside the pool).
///
/// `threads: None` takes `RAYON_NUM_THREADS` if it is set to a positive number, else the number
/// of logical CPUs. Workers get 16 MiB stacks (the main thread's usual 8 MiB, with room to spare).
///
/// # Errors
/// [`ThreadsError::Zero`] for `Some(0)`; [`ThreadsError::Build`] if the threads cannot start.
pub fn run_in_pool<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> Result<R, ThreadsError> {
    if threads == Some(0) {
        return Err(ThreadsError::Zero);
    }
    // Without a size, rayon takes RAYON_NUM_THREADS, else the number of logical CPUs.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .stack_size(16 << 20)
        .thread_name(|i| format!("latent-worker-{i}"))
        .build()
        .map_err(|e| ThreadsError::Build { threads: threads.unwrap_or(0), reason: e.to_string() })?;
    Ok(pool.install(f))
}

/// The number of threads parallel kernels use when called from here: the size of the rayon pool
/// the caller runs in (inside `ThreadPool::install`), else of the global pool (building it if
/// it does not exist yet, with its default size).
pub fn num_threads() -> usize {
    rayon::current_num_threads()
}

/// While it lives, the other workers of the pool it was started in poll for work instead of
/// going to sleep; see [`keep_workers_warm`]. Dropping it lets them sleep again.
#[must_use = "the workers stay warm only while the guard lives"]
#[derive(Debug)]
pub struct WarmWorkers {
    done: Arc<AtomicBool>,
    /// How many workers are polling for this guard now (for the tests).
    polling: Arc<AtomicUsize>,
}

impl Drop for WarmWorkers {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
    }
}

/// How long a warm worker polls without finding work before it naps between polls, so that a
/// long serial stretch (a checkpoint written, an evaluation's pictures) does not keep a core
/// busy throughout. OpenMP runtimes spin about as long (`KMP_BLOCKTIME`, 200 ms) by default.
const POLL_BEFORE_NAPPING: Duration = Duration::from_millis(100);
/// A napping warm worker's pause between polls.
const NAP: Duration = Duration::from_millis(1);

/// Keeps the other workers of the current rayon pool (the global pool if the caller is not on
/// a worker) polling for work until the returned guard is dropped, so each parallel kernel finds
/// them awake instead of waking them. For a loop that calls many short parallel kernels: a
/// training step at two threads.
///
/// Each worker runs a task that calls [`rayon::yield_now`] in a loop, which runs any pending
/// job of the pool (its own, a stolen one, an injected one), and yields the CPU to other
/// processes when there is none; after 100 ms without work it pauses a millisecond between
/// polls. The calling thread's own task returns at once, so that the caller never runs a poller
/// above its own frames. What the kernels compute does not depend on which worker runs them.
///
/// Measured on a 2-core virtual machine (`latent train MODEL --threads 2`, 12 to 150 batches,
/// medians of 3 to 5 alternating runs, samples/s with the guard against without): conv
/// autoencoder 9,346 / 8,862 (+5%), conv VAE 9,085 / 8,425 (+8%), DCGAN 1,605 / 1,491 (+8%),
/// VAE 48,831 / 44,248 (+10%), AE 37,513 / 34,689 (+8%), MLP GAN 11,799 / 10,609 (+11%).
/// Training writes the same bytes either way.
/// The price is CPU time: an idle worker keeps its core busy for up to 100 ms.
///
/// With one thread there is nothing to keep warm and the guard does nothing.
///
/// # Example
/// ```
/// use rayon::prelude::*;
///
/// let total = latent_tensor::threads::run_in_pool(Some(2), || {
///     let _warm = latent_tensor::threads::keep_workers_warm();
///     (0..100).map(|step| (0..10_000u64).into_par_iter().map(|i| i * step).sum::<u64>()).sum::<u64>()
/// })
/// .unwrap();
/// assert_eq!(total, 4950 * 49_995_000);
/// ```
pub fn keep_workers_warm() -> WarmWorkers {
    let guard = WarmWorkers { done: Arc::new(AtomicBool::new(false)), polling: Arc::new(AtomicUsize::new(0)) };
    if rayon::current_num_threads() > 1 {
        let caller = rayon::current_thread_index();
        let (done, polling) = (Arc::clone(&guard.done), Arc::clone(&guard.polling));
        rayon::spawn_broadcast(move |ctx| {
            if Some(ctx.index()) != caller {
                polling.fetch_add(1, Ordering::Relaxed);
                poll_for_work(&done);
                polling.fetch_sub(1, Ordering::Release);
            }
        });
    }
    guard
}

/// Runs the pool's pending jobs until `done`, napping when there has been none for a while.
fn poll_for_work(done: &AtomicBool) {
    let mut idle_since: Option<Instant> = None;
    while !done.load(Ordering::Acquire) {
        if rayon::yield_now() == Some(rayon::Yield::Executed) {
            idle_since = None;
        } else if idle_since.get_or_insert_with(Instant::now).elapsed() < POLL_BEFORE_NAPPING {
            std::thread::yield_now();
        } else {
            std::thread::sleep(NAP);
        }
    }
}

/// The global pool's size, whatever pool the caller runs in.
fn global_num_threads() -> usize {
    match rayon::current_thread_index() {
        // On a worker of some pool: ask the global pool from outside that pool's context.
        Some(_) => std::thread::scope(|s| s.spawn(rayon::current_num_threads).join().unwrap_or(0)),
        None => rayon::current_num_threads(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_in_pool_runs_on_a_worker_of_the_requested_size() {
        assert_eq!(run_in_pool(Some(0), || ()), Err(ThreadsError::Zero));
        for n in [1, 3] {
            let (size, on_worker) =
                run_in_pool(Some(n), || (num_threads(), rayon::current_thread_index().is_some())).unwrap();
            assert_eq!((size, on_worker), (n, true));
        }
        assert!(run_in_pool(None, num_threads).unwrap() >= 1);
    }

    /// Waits (up to 10 s) until `polling` reads `n`.
    fn wait_for_pollers(polling: &AtomicUsize, n: usize) -> bool {
        let start = Instant::now();
        while polling.load(Ordering::Acquire) != n {
            if start.elapsed() > Duration::from_secs(10) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// A sum by nested joins, down to single elements: many small jobs, each waiting on others.
    fn nested_sum(values: &[u64]) -> u64 {
        match values {
            [] => 0,
            [v] => *v,
            _ => {
                let (a, b) = values.split_at(values.len() / 2);
                let (a, b) = rayon::join(|| nested_sum(a), || nested_sum(b));
                a + b
            }
        }
    }

    #[test]
    fn warm_workers_run_nested_work_and_stop_when_dropped() {
        let values: Vec<u64> = (0..4096).map(|i| i * i % 1013).collect();
        let expected: u64 = values.iter().sum();
        for threads in [1, 2, 3, 4] {
            let polling = run_in_pool(Some(threads), || {
                let warm = keep_workers_warm();
                // Every worker but the caller polls (none with one thread).
                assert!(wait_for_pollers(&warm.polling, threads - 1), "{threads} threads: pollers did not start");
                for _ in 0..50 {
                    assert_eq!(nested_sum(&values), expected, "{threads} threads");
                }
                // A guard inside the first one's lifetime works too and stops with its own drop.
                let inner = keep_workers_warm();
                assert_eq!(nested_sum(&values), expected);
                let inner_polling = Arc::clone(&inner.polling);
                drop(inner);
                assert!(wait_for_pollers(&inner_polling, 0), "{threads} threads: inner pollers did not stop");
                let polling = Arc::clone(&warm.polling);
                drop(warm);
                polling
            })
            .unwrap();
            assert!(wait_for_pollers(&polling, 0), "{threads} threads: pollers did not stop");
        }
    }

    #[test]
    fn warm_workers_serve_a_caller_outside_the_pool() {
        // The test thread is on no pool: every worker of the global pool polls, and the work
        // this thread injects runs on them.
        assert_eq!(rayon::current_thread_index(), None);
        let warm = keep_workers_warm();
        let workers = rayon::current_num_threads();
        assert!(wait_for_pollers(&warm.polling, if workers > 1 { workers } else { 0 }));
        let values: Vec<u64> = (0..1000).collect();
        assert_eq!(nested_sum(&values), 499_500);
        let polling = Arc::clone(&warm.polling);
        drop(warm);
        assert!(wait_for_pollers(&polling, 0));
    }

    // The global pool is process-wide and test threads share it, so one test does every step
    // that touches it, in order.
    #[test]
    fn global_pool_is_configured_once() {
        assert_eq!(set_num_threads(0), Err(ThreadsError::Zero));
        // Either this sets the size, or another test already built the pool with its default.
        let first = set_num_threads(2);
        let size = num_threads();
        match first {
            Ok(()) => assert_eq!(size, 2),
            Err(ThreadsError::AlreadyInitialized { requested: 2, current }) => assert_eq!(current, size),
            Err(e) => panic!("unexpected error {e}"),
        }
        // Asking again for the size it has succeeds; another size fails with a clear message.
        assert_eq!(set_num_threads(size), Ok(()));
        let err = set_num_threads(size + 1).unwrap_err();
        assert_eq!(err, ThreadsError::AlreadyInitialized { requested: size + 1, current: size });
        let message = err.to_string();
        assert!(message.contains("before any computation") && message.contains("RAYON_NUM_THREADS"));
        // Inside a local pool, num_threads reports that pool, but set_num_threads still judges
        // the global one.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(size + 2).build().unwrap();
        pool.install(|| {
            assert_eq!(num_threads(), size + 2);
            assert_eq!(set_num_threads(size), Ok(()));
        });
    }
}
