//! An allocation-capping global allocator for test binaries.
//!
//! [`CapAlloc`] forwards to the system allocator and, on a thread that has armed it with
//! [`capped`], watches every request: the largest single request, and the bytes allocated and
//! not yet freed on that thread since arming (the peak of which is what the code under test held
//! at once). A request that would exceed the cap, alone or on top of what is live, is
//! **recorded and refused** (the allocator returns null):
//!
//! - Code that allocates fallibly (`Vec::try_reserve`, ...) gets an error and carries on; the
//!   record makes [`capped`]'s [`AllocStats::refused`] say what happened, and the campaign
//!   fails the test naming the mutant.
//! - Code that allocates infallibly (`vec![0; n]`, `Vec::with_capacity`) makes the standard
//!   library abort the process ("memory allocation of N bytes failed"), which no test harness
//!   can catch. So before returning null the allocator writes one line to stderr naming the
//!   label given to [`capped`] (the parser and the mutant's seed), the size and the cap: the
//!   abort is never silent and the mutant can be replayed.
//!
//! Other threads, and the armed thread outside [`capped`], are not watched, so tests running in
//! parallel do not disturb each other. Memory that code under test allocates on another thread
//! (a thread pool) is not counted: the parsers checked here allocate on the caller's thread.
//!
//! Install it once per test binary with [`cap_allocations!`](crate::cap_allocations):
//!
//! ```
//! latent_testkit::cap_allocations!();
//!
//! # fn main() {
//! use latent_testkit::alloc::{Label, capped};
//!
//! let label = Label { parser: "demo", seed: 42 };
//! let (result, stats) = capped(1 << 20, label, || Vec::<u8>::new().try_reserve_exact(1 << 30));
//! assert!(result.is_err()); // refused: a fallible caller sees an error
//! assert_eq!(stats.refused, Some(1 << 30));
//! let (_, stats) = capped(1 << 20, label, || vec![0u8; 1000]);
//! assert!(stats.refused.is_none() && stats.largest_request >= 1000);
//! # }
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// The default cap: 256 MiB, far above what any parser needs for the small inputs mutated in
/// tests, far below what a hostile length field asks for.
pub const DEFAULT_CAP: usize = 256 << 20;

/// Whether a [`CapAlloc`] is the global allocator of this process (set by its first use).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// What the allocator knows on one thread.
struct ThreadState {
    armed: Cell<bool>,
    cap: Cell<usize>,
    live: Cell<isize>,
    peak: Cell<isize>,
    largest: Cell<usize>,
    refused: Cell<Option<usize>>,
    refusals: Cell<usize>,
    label: Cell<Label>,
}

thread_local! {
    static STATE: ThreadState = const {
        ThreadState {
            armed: Cell::new(false),
            cap: Cell::new(usize::MAX),
            live: Cell::new(0),
            peak: Cell::new(0),
            largest: Cell::new(0),
            refused: Cell::new(None),
            refusals: Cell::new(0),
            label: Cell::new(Label { parser: "", seed: 0 }),
        }
    };
}

/// What an armed thread is running, for the line written when a request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label {
    /// The parser (or any name of the code under test).
    pub parser: &'static str,
    /// The mutant's seed.
    pub seed: u64,
}

/// The allocations of one [`capped`] call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// The largest single request, in bytes (refused ones included).
    pub largest_request: usize,
    /// The most bytes allocated on the thread and not yet freed at any moment of the call
    /// (relative to its start).
    pub peak_live: usize,
    /// The first refused request's size, if any was refused.
    pub refused: Option<usize>,
    /// How many requests were refused.
    pub refusals: usize,
}

/// The system allocator, capped on armed threads (see the [module docs](self)).
#[derive(Clone, Copy, Debug, Default)]
pub struct CapAlloc;

impl CapAlloc {
    /// The allocator, for a `#[global_allocator]` static.
    pub const fn new() -> Self {
        CapAlloc
    }
}

/// Whether a [`CapAlloc`] is this process's global allocator.
pub fn is_installed() -> bool {
    // Allocate once, so a freshly started process has gone through the allocator.
    drop(std::hint::black_box(Box::new(0u64)));
    INSTALLED.load(Ordering::Relaxed)
}

/// Bookkeeping for a request of `size` bytes on top of `freed` bytes given back (a
/// reallocation); whether to serve it.
fn admit(size: usize, freed: usize) -> bool {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
    STATE
        .try_with(|s| {
            if !s.armed.get() {
                return true;
            }
            s.largest.set(s.largest.get().max(size));
            let live = s.live.get() - freed as isize;
            let would_be = live.saturating_add(size.min(isize::MAX as usize) as isize);
            let cap = s.cap.get();
            if size > cap || would_be > cap.min(isize::MAX as usize) as isize {
                s.refusals.set(s.refusals.get() + 1);
                if s.refused.get().is_none() {
                    s.refused.set(Some(size));
                    report_refusal(s.label.get(), size, live.max(0) as usize, cap);
                }
                return false;
            }
            s.live.set(would_be);
            s.peak.set(s.peak.get().max(would_be));
            true
        })
        .unwrap_or(true)
}

fn note_free(size: usize) {
    let _ = STATE.try_with(|s| {
        if s.armed.get() {
            s.live.set(s.live.get() - size as isize);
        }
    });
}

/// A fixed buffer to format into without allocating.
struct LineBuf {
    buf: [u8; 512],
    len: usize,
}

impl std::fmt::Write for LineBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Writes the refusal line to stderr without allocating (the armed thread is inside the
/// allocator).
fn report_refusal(label: Label, size: usize, live: usize, cap: usize) {
    let mut line = LineBuf { buf: [0; 512], len: 0 };
    let _ = writeln!(
        line,
        "latent-testkit: parser `{}`, mutant seed {:#018x}: refused an allocation of {} bytes ({} already live; \
         the cap is {}). A caller that cannot handle a failed allocation now aborts the process; \
         to replay this mutant alone, run the same test with LATENT_MUTANT_SEED={:#018x}.",
        label.parser, label.seed, size, live, cap, label.seed
    );
    let _ = std::io::stderr().write_all(&line.buf[..line.len]);
}

// SAFETY: every method forwards to `System` with the caller's arguments, or returns null, which
// `GlobalAlloc` allows for a failed allocation. The bookkeeping neither allocates (const
// thread-locals without destructors, a stack buffer for the message) nor unwinds.
unsafe impl GlobalAlloc for CapAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size(), 0) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size(), 0) {
            return std::ptr::null_mut();
        }
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free(layout.size());
        // SAFETY: `ptr` was allocated by `System` (through this allocator) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !admit(new_size, layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as for `dealloc`; `new_size` meets `realloc`'s contract by the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` with this thread's allocations capped at `cap` bytes (no single request above it,
/// and no more than it live at once), labelled `label` in the refusal message. Returns `f`'s
/// result and what was allocated.
///
/// If `f` panics, the thread is disarmed and the panic goes on.
///
/// # Panics
/// If no [`CapAlloc`] is installed (see [`cap_allocations!`](crate::cap_allocations)), or if
/// called inside another `capped` on the same thread.
pub fn capped<R>(cap: usize, label: Label, f: impl FnOnce() -> R) -> (R, AllocStats) {
    assert!(
        is_installed(),
        "latent-testkit: the allocation cap needs `latent_testkit::cap_allocations!();` at the top of the test file"
    );
    STATE.with(|s| {
        assert!(!s.armed.get(), "latent-testkit: `capped` calls do not nest");
        s.cap.set(cap);
        s.live.set(0);
        s.peak.set(0);
        s.largest.set(0);
        s.refused.set(None);
        s.refusals.set(0);
        s.label.set(label);
        s.armed.set(true);
    });
    /// Disarms the thread when dropped, also while unwinding.
    struct Disarm;
    impl Drop for Disarm {
        fn drop(&mut self) {
            let _ = STATE.try_with(|s| s.armed.set(false));
        }
    }
    let guard = Disarm;
    let result = f();
    drop(guard);
    let stats = STATE.with(|s| AllocStats {
        largest_request: s.largest.get(),
        peak_live: s.peak.get().max(0) as usize,
        refused: s.refused.get(),
        refusals: s.refusals.get(),
    });
    (result, stats)
}

/// Makes [`CapAlloc`] the global allocator of the test binary it is written in (once, at the
/// top level of the test file). [`capped`] and [`Campaign`](crate::Campaign) need it.
///
/// ```
/// latent_testkit::cap_allocations!();
/// # fn main() { assert!(latent_testkit::alloc::is_installed()); }
/// ```
#[macro_export]
macro_rules! cap_allocations {
    () => {
        #[global_allocator]
        static LATENT_TESTKIT_ALLOCATOR: $crate::alloc::CapAlloc = $crate::alloc::CapAlloc::new();
    };
}
