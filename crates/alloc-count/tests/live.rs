//! Live bytes are tracked exactly. Its own binary with a single test: the live total is
//! process wide, and a neighbouring test's thread freeing its state (its name, its
//! captured output) while this one measures would move it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use edge_alloc_count::{live_bytes, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn live_bytes_follow_allocation_and_release() {
    let before = live_bytes();
    let mut v = black_box(Vec::<u8>::with_capacity(10_000));
    assert_eq!(live_bytes() - before, 10_000);
    v.reserve_exact(20_000);
    assert_eq!(live_bytes() - before, 20_000);
    drop(v);
    assert_eq!(live_bytes() - before, 0);
}
