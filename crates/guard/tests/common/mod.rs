//! Shared test helpers: a virtual clock start and a tracing capture.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Parses an address.
pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for Buffer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with a tracing fmt subscriber in its default format (timestamp, level, target,
/// no colours), as a log file or journald would hold it, and returns what it wrote.
pub fn capture(f: impl FnOnce()) -> String {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buffer.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

/// The messages of the `edge_guard` lines in `log`.
pub fn messages(log: &str) -> Vec<&str> {
    log.lines()
        .filter_map(|l| l.split_once(" edge_guard: ").map(|(_, m)| m))
        .collect()
}
