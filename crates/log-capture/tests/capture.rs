//! The capture sees exactly its own thread's lines, nests, survives a panic, and the process
//! log sees every thread.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::catch_unwind;

use edge_log_capture::{capture, process_log};

#[test]
fn a_capture_holds_its_threads_lines_only() {
    let ((), log) = capture(|| {
        tracing::info!(marker = "own", "from the test thread");
        std::thread::spawn(|| tracing::info!(marker = "other", "from another thread"))
            .join()
            .unwrap();
        tracing::debug!(marker = "debug", "below INFO");
    });
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(
        log.contains(" INFO capture: from the test thread marker=\"own\""),
        "{log}"
    );
    let all = process_log();
    assert!(
        all.contains("marker=\"own\"") && all.contains("marker=\"other\""),
        "{all}"
    );
    assert!(!all.contains("marker=\"debug\""), "{all}");
}

#[test]
fn captures_nest_and_a_panic_restores_the_outer_one() {
    let ((), outer) = capture(|| {
        tracing::info!("outer before");
        let ((), inner) = capture(|| tracing::info!("inner"));
        assert!(
            inner.contains("inner") && !inner.contains("outer"),
            "{inner}"
        );
        assert!(catch_unwind(|| capture(|| panic!("work failed"))).is_err());
        tracing::info!("outer after");
    });
    let lines: Vec<_> = outer.lines().collect();
    assert_eq!(lines.len(), 2, "{outer}");
    assert!(
        lines[0].ends_with("outer before") && lines[1].ends_with("outer after"),
        "{outer}"
    );
}
