//! The allocator counts what each scope names and nothing else, closes its window when the
//! work panics and refuses overlapping process-wide windows, and keeps live bytes per
//! thread (process-wide live bytes: `live.rs`).
//! Its own test binary with `Counting` as the global allocator; the tests take turns (a
//! process-wide window would count a concurrent test's allocations).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::panic::catch_unwind;
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::thread::JoinHandle;

use edge_alloc_count::{count, thread_live_bytes, Counting, Scope};

#[global_allocator]
static GLOBAL: Counting = Counting;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A thread, started before any window, that makes `n` allocations between the first and
/// the second wait on the returned barrier (waiting allocates nothing).
fn allocating_thread(n: usize) -> (Arc<Barrier>, JoinHandle<()>) {
    let barrier = Arc::new(Barrier::new(2));
    let theirs = barrier.clone();
    let handle = std::thread::spawn(move || {
        theirs.wait();
        for _ in 0..n {
            drop(black_box(Vec::<u8>::with_capacity(black_box(32))));
        }
        theirs.wait();
    });
    (barrier, handle)
}

/// `n` allocations on the calling thread.
fn allocate_here(n: usize) {
    for _ in 0..n {
        drop(black_box(Vec::<u8>::with_capacity(black_box(32))));
    }
}

#[test]
fn this_thread_counts_its_own_allocations_only() {
    let _serial = serial();
    let (barrier, other) = allocating_thread(100);
    let ((), n) = count(Scope::ThisThread, || {
        allocate_here(7);
        barrier.wait();
        barrier.wait();
    });
    assert_eq!(
        n, 7,
        "this thread's allocations, none of the other thread's"
    );
    other.join().unwrap();
    let ((), none) = count(Scope::ThisThread, || black_box(()));
    assert_eq!(none, 0);
}

#[test]
fn realloc_and_alloc_zeroed_count() {
    let _serial = serial();
    let (v, n) = count(Scope::ThisThread, || {
        let mut v = Vec::<u8>::with_capacity(1);
        v.extend_from_slice(black_box(&[1u8; 100]));
        v
    });
    assert_eq!((v.len(), n), (100, 2), "one alloc, one realloc");
    let (v, n) = count(Scope::ThisThread, || black_box(vec![0u8; black_box(4096)]));
    assert_eq!((v.len(), n), (4096, 1), "alloc_zeroed");
}

#[test]
fn process_counts_every_thread() {
    let _serial = serial();
    let (barrier, other) = allocating_thread(100);
    let ((), n) = count(Scope::Process, || {
        allocate_here(7);
        barrier.wait();
        barrier.wait();
    });
    other.join().unwrap();
    assert!(n >= 107, "both threads counted: {n}");
}

#[test]
fn other_threads_skip_the_caller() {
    let _serial = serial();
    let (barrier, other) = allocating_thread(100);
    let ((), n) = count(Scope::OtherThreads, || {
        allocate_here(1000);
        barrier.wait();
        barrier.wait();
    });
    other.join().unwrap();
    assert!((100..1000).contains(&n), "only the other thread: {n}");
    // The caller counts again afterwards.
    let ((), n) = count(Scope::Process, || allocate_here(10));
    assert!(n >= 10, "{n}");
}

#[test]
fn windows_close_when_the_work_panics_and_never_overlap() {
    let _serial = serial();
    assert!(catch_unwind(|| count(Scope::Process, || panic!("work failed"))).is_err());
    assert!(catch_unwind(|| count(Scope::ThisThread, || panic!("work failed"))).is_err());
    // Closed: a new window opens, and the thread window counts nothing outside it.
    let (nested, _) = count(Scope::Process, || {
        catch_unwind(|| count(Scope::OtherThreads, || ())).is_err()
    });
    assert!(nested, "a second process-wide window is refused");
    let ((), n) = count(Scope::Process, || allocate_here(3));
    assert!(n >= 3, "{n}");
}

#[test]
fn thread_live_bytes_see_this_threads_heap_only() {
    // Another thread allocates a block between the first two waits and holds it until the
    // third (waiting allocates nothing).
    let barrier = Arc::new(Barrier::new(2));
    let theirs = barrier.clone();
    let other = std::thread::spawn(move || {
        theirs.wait();
        let held = black_box(Vec::<u8>::with_capacity(50_000));
        theirs.wait();
        theirs.wait();
        drop(held);
    });
    let before = thread_live_bytes();
    barrier.wait();
    let v = black_box(Vec::<u8>::with_capacity(10_000));
    barrier.wait();
    assert_eq!(thread_live_bytes() - before, 10_000);
    drop(v);
    assert_eq!(thread_live_bytes() - before, 0);
    barrier.wait();
    other.join().unwrap();
}
