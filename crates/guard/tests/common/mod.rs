//! Shared test helpers: a virtual clock start and a tracing capture.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use edge_guard::{Guard, GuardConfig};

/// Parses an address.
pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A guard with `config`, made after the log capture is installed: every test of a binary
/// that reads the log makes its guard through here, so no log line is reached before the
/// capturing subscriber is in place (see edge-log-capture).
pub fn guard(config: GuardConfig) -> Guard {
    edge_log_capture::install();
    Guard::new(config).unwrap()
}

/// Runs `f` and returns what this thread logged meanwhile, in the subscriber's default
/// format (timestamp, level, target, no colours), as a log file or journald would hold it.
pub fn capture(f: impl FnOnce()) -> String {
    edge_log_capture::capture(f).1
}

/// The messages of the `edge_guard` lines in `log`.
pub fn messages(log: &str) -> Vec<&str> {
    log.lines()
        .filter_map(|l| l.split_once(" edge_guard: ").map(|(_, m)| m))
        .collect()
}
