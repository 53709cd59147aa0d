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

/// Kills `child` and, when it leads a process group of its own (spawned with
/// `CommandExt::process_group(0)`), every process of that group, then reaps it. Programs that
/// fork (Kamailio's workers, Chromium's renderers) would otherwise outlive a kill of their
/// main process, holding ports and writing into directories the test removes. For a child
/// that leads no group there is no group with its pid, and only the child is killed.
pub fn kill_group(child: &mut std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(std::process::Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
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

/// One plain HTTP/1.1 GET with no token (the admin listener needs none): the status (0 when
/// the connection or the request failed) and the body. Reads until the server closes, at most
/// 30 s (a hang guard).
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return (0, String::new());
    };
    if stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .is_err()
    {
        return (0, String::new());
    }
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
