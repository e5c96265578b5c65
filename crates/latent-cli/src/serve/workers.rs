//! The compute workers: a fixed number of threads, each with its own copy of every served model,
//! taking jobs from one bounded queue. They are what bounds the server's work: at most
//! `threads` requests compute at once, at most [`QUEUE`] more wait, and a request beyond that is
//! answered at once with a 503 instead of piling up.
//!
//! Each worker runs its jobs on a rayon pool of one thread, so the kernels of a small request
//! run inline, without handing tasks between threads, and every answer has the same bits
//! whichever worker computed it. A job that panics is answered with a 500 and the worker goes
//! on.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use latent_models::Model;

use super::error::ApiError;
use super::runs::ServedRun;

/// Jobs that may wait for a worker; a request beyond them is refused as busy.
pub const QUEUE: usize = 256;

/// A worker's models, one per served run, in the order the runs were given.
pub type Models = [Box<dyn Model>];

type Job = Box<dyn FnOnce(&mut Models) + Send>;

/// The pool of compute workers.
pub struct Workers {
    queue: SyncSender<Job>,
    threads: usize,
}

impl Workers {
    /// Start `threads` workers (at least one), each loading its own copy of every run's model.
    ///
    /// # Errors
    /// If a model cannot be loaded or a thread cannot start.
    pub fn start(runs: &[Arc<ServedRun>], threads: usize) -> anyhow::Result<Self> {
        let threads = threads.max(1);
        let (queue, jobs) = sync_channel::<Job>(QUEUE);
        let jobs = Arc::new(Mutex::new(jobs));
        for w in 0..threads {
            let models = runs.iter().map(|r| r.load_model()).collect::<anyhow::Result<Vec<_>>>()?;
            let jobs = Arc::clone(&jobs);
            std::thread::Builder::new().name(format!("latent-serve-{w}")).spawn(move || {
                // Kernels run inline on this pool's one thread.
                let _ = latent_tensor::threads::run_in_pool(Some(1), move || work(&jobs, models));
            })?;
        }
        Ok(Self { queue, threads })
    }

    /// The number of workers.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Run `f` on a worker with its models and wait for the answer.
    ///
    /// # Errors
    /// `f`'s error; a 503 when the queue is full; a 500 if `f` panics.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Models) -> Result<T, ApiError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |models| {
            let answer = catch_unwind(AssertUnwindSafe(|| f(models))).unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(ToString::to_string)
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(ApiError::internal(format!("the request failed inside latent (a bug; please report it): {what}")))
            });
            // The client may have gone; nobody is left to tell.
            let _ = tx.send(answer);
        });
        self.queue.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => {
                ApiError::busy(format!("{QUEUE} requests are already waiting; try again in a moment"))
            }
            TrySendError::Disconnected(_) => ApiError::internal("the compute workers have stopped"),
        })?;
        rx.await.map_err(|_| ApiError::internal("a compute worker stopped before answering"))?
    }
}

/// A worker's loop: take a job, run it on this worker's models, until the queue closes.
fn work(jobs: &Mutex<Receiver<Job>>, mut models: Vec<Box<dyn Model>>) {
    loop {
        let job = {
            let jobs = jobs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        job(&mut models);
    }
}
