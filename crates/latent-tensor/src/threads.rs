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
