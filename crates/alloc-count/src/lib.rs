//! A counting global allocator for the workspace's zero-allocation tests.
//!
//! A global allocator must be declared in the binary that uses it, so each test binary
//! that proves a path allocates nothing keeps its own `#[global_allocator]` line and
//! measures a window with [`count`]:
//!
//! ```
//! use edge_alloc_count::{count, Counting, Scope};
//!
//! #[global_allocator]
//! static GLOBAL: Counting = Counting;
//!
//! fn main() {
//!     let buf = [3u8; 64];
//!     let (sum, allocations) = count(Scope::ThisThread, || buf.iter().map(|&b| u32::from(b)).sum::<u32>());
//!     assert_eq!((sum, allocations), (192, 0));
//!     let (v, allocations) = count(Scope::ThisThread, || Vec::<u8>::with_capacity(64));
//!     assert_eq!((v.capacity(), allocations), (64, 1));
//! }
//! ```
//!
//! [`Counting`] forwards every call to [`System`] unchanged. It counts allocations
//! (`alloc`, `alloc_zeroed` and `realloc`) made inside a [`count`] window, by the threads
//! the window's [`Scope`] names, and it always tracks the bytes live on the heap
//! ([`live_bytes`]), for tests that check state is released.
#![deny(missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicU64, AtomicU8, Ordering::Relaxed};

/// The counting global allocator: forwards to [`System`], counts what [`count`] asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

/// Which threads' allocations a [`count`] window counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    /// Only the calling thread: the test harness's own threads (progress, output capture)
    /// and any other thread are not counted. Windows on different threads are independent.
    ThisThread,
    /// Every thread of the process, the calling one included (an I/O thread the test
    /// drives, say). One process-wide window at a time.
    Process,
    /// Every thread except the calling one: the workers a test drives from a thread whose
    /// own test peers allocate. One process-wide window at a time.
    OtherThreads,
}

/// No process-wide window is open.
const OFF: u8 = 0;
/// A [`Scope::Process`] window is open.
const PROCESS: u8 = 1;
/// A [`Scope::OtherThreads`] window is open.
const OTHER_THREADS: u8 = 2;

/// The open process-wide window, if any: [`OFF`], [`PROCESS`] or [`OTHER_THREADS`].
static WINDOW: AtomicU8 = AtomicU8::new(OFF);
/// Allocations counted by process-wide windows.
static PROCESS_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
/// Bytes allocated and not yet freed, by every thread, always.
static LIVE: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    /// This thread counts into [`THREAD_ALLOCATIONS`] (a [`Scope::ThisThread`] window).
    static THREAD_WINDOW: Cell<bool> = const { Cell::new(false) };
    /// Allocations counted on this thread by its [`Scope::ThisThread`] windows.
    static THREAD_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// This thread opened a [`Scope::OtherThreads`] window and is not counted by it.
    static EXEMPT: Cell<bool> = const { Cell::new(false) };
    /// Bytes this thread allocated minus bytes it freed ([`thread_live_bytes`]).
    static THREAD_LIVE: Cell<isize> = const { Cell::new(0) };
}

/// Records one allocation in the windows that cover the calling thread. Never allocates:
/// the thread-locals are const-initialised `Cell`s without destructors, and `try_with`
/// keeps a thread being torn down from panicking.
fn record() {
    if THREAD_WINDOW.try_with(Cell::get).unwrap_or(false) {
        let _ = THREAD_ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
    let counted = match WINDOW.load(Relaxed) {
        PROCESS => true,
        OTHER_THREADS => !EXEMPT.try_with(Cell::get).unwrap_or(false),
        _ => false,
    };
    if counted {
        PROCESS_ALLOCATIONS.fetch_add(1, Relaxed);
    }
}

/// Adds `bytes` (negative: frees) to the live total.
fn live_add(bytes: isize) {
    LIVE.fetch_add(bytes, Relaxed);
    let _ = THREAD_LIVE.try_with(|n| n.set(n.get().wrapping_add(bytes)));
}

/// A layout size as a signed byte count (sizes never exceed `isize::MAX`).
fn signed(size: usize) -> isize {
    isize::try_from(size).unwrap_or(isize::MAX)
}

/// Adds a fresh block of `layout` to the live total, unless the allocation failed.
fn allocated(ptr: *mut u8, layout: Layout) -> *mut u8 {
    if !ptr.is_null() {
        live_add(signed(layout.size()));
    }
    ptr
}

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds the
// `GlobalAlloc` contract; the only additions are atomics and const-initialised thread-local
// `Cell`s, which never allocate (so never re-enter the allocator) and touch no memory
// handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: the caller's contract for `alloc` is passed through.
        allocated(unsafe { System.alloc(layout) }, layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: the caller's contract for `alloc_zeroed` is passed through.
        allocated(unsafe { System.alloc_zeroed(layout) }, layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        live_add(-signed(layout.size()));
        // SAFETY: `ptr` came from `System` through this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record();
        // SAFETY: the caller's contract for `realloc` is passed through.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            live_add(signed(new_size) - signed(layout.size()));
        }
        new
    }
}

/// Closes a window when dropped, also when the measured work panics.
struct Close<F: FnMut()>(F);

impl<F: FnMut()> Drop for Close<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// Runs `work` and returns its result with the heap allocations (`alloc`, `alloc_zeroed`,
/// `realloc`) made meanwhile by the threads `scope` names. Counts only when the binary's
/// global allocator is [`Counting`] (otherwise it returns 0).
///
/// # Panics
///
/// If a [`Scope::Process`] or [`Scope::OtherThreads`] window is already open: two
/// process-wide windows would count each other's allocations.
pub fn count<R>(scope: Scope, work: impl FnOnce() -> R) -> (R, u64) {
    match scope {
        Scope::ThisThread => {
            let before = THREAD_ALLOCATIONS.with(Cell::get);
            let outer = THREAD_WINDOW.with(|w| w.replace(true));
            let result = {
                let _close = Close(|| THREAD_WINDOW.with(|w| w.set(outer)));
                work()
            };
            (result, THREAD_ALLOCATIONS.with(Cell::get) - before)
        }
        Scope::Process | Scope::OtherThreads => {
            let window = if scope == Scope::Process {
                PROCESS
            } else {
                OTHER_THREADS
            };
            let before = PROCESS_ALLOCATIONS.load(Relaxed);
            let exempt = EXEMPT.with(|e| e.replace(window == OTHER_THREADS));
            if WINDOW
                .compare_exchange(OFF, window, Relaxed, Relaxed)
                .is_err()
            {
                EXEMPT.with(|e| e.set(exempt));
                panic!("edge-alloc-count: a process-wide count window is already open");
            }
            let result = {
                let _close = Close(|| {
                    WINDOW.store(OFF, Relaxed);
                    EXEMPT.with(|e| e.set(exempt));
                });
                work()
            };
            (result, PROCESS_ALLOCATIONS.load(Relaxed) - before)
        }
    }
}

/// Bytes allocated through [`Counting`] by every thread and not yet freed: compare two
/// readings to see what a piece of work holds, or that dropping it returned everything.
pub fn live_bytes() -> isize {
    LIVE.load(Relaxed)
}

/// Bytes allocated through [`Counting`] by the calling thread minus bytes it freed: like
/// [`live_bytes`], but blind to other threads (the test harness's own, say), so two readings
/// around single-threaded work show what that work holds. A block one thread allocates and
/// another frees counts on both, with opposite signs.
pub fn thread_live_bytes() -> isize {
    THREAD_LIVE.try_with(Cell::get).unwrap_or(0)
}
