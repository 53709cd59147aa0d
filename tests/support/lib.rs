//! Shared harness for media-edge's end-to-end tests and benchmarks: locating the real peers
//! (coturn's tools, openssl, the Python venv with aiortc and pylibsrtp) that `scripts/test.sh`
//! installs, and a redis-server of a test's own. A missing peer is a test failure, never a silent skip.

use std::path::PathBuf;

/// The Python interpreter of the test venv (aiortc, pylibsrtp), from `MEDIA_EDGE_PYTHON`
/// as exported by `scripts/test.sh`.
///
/// # Panics
/// When the variable is unset or names no file: the test cannot run without its peer, and
/// saying so loudly is the point.
pub fn python() -> PathBuf {
    let path = std::env::var_os("MEDIA_EDGE_PYTHON").map(PathBuf::from);
    match path {
        Some(p) if p.is_file() => p,
        _ => panic!(
            "MEDIA_EDGE_PYTHON does not name the test venv's python: run the suite through \
             scripts/test.sh, which installs aiortc and pylibsrtp"
        ),
    }
}

/// The absolute path of an external program the tests drive (`turnutils_uclient`, `openssl`).
///
/// # Panics
/// When the program is not on `PATH`: `scripts/test.sh` installs every one of them.
pub fn require_program(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    match found {
        Some(path) => path,
        None => panic!("{name} is not on PATH: run the suite through scripts/test.sh"),
    }
}

pub mod chromium;
pub mod media;
pub mod netns;
pub mod redis;
pub mod rtpengine;
pub mod sip;
pub mod srtp;
pub mod turn;
pub mod turn_client;

/// A consistent snapshot of a `/proc/net` table such as `/proc/net/udp`, or `None` when it
/// cannot be read (no IPv6, say). The kernel writes such a table a chunk per `read`, walking
/// its hash table afresh each time, so while other threads open and close sockets one read can
/// show a socket twice or not at all: this reads until two reads agree.
///
/// # Panics
/// When the table keeps changing for 100 reads in a row.
pub fn stable_proc_table(path: &str) -> Option<String> {
    let mut last = std::fs::read_to_string(path).ok()?;
    for _ in 0..100 {
        let next = std::fs::read_to_string(path).ok()?;
        if next == last {
            return Some(next);
        }
        last = next;
    }
    panic!("{path} never read the same twice in a row");
}
