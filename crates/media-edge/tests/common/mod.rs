//! The binary as a child process: scratch config files, start and stop, its log lines, and
//! a one-shot HTTP client for its API.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_media-edge");

/// How long a test waits for what must happen (a log line, an answer, an exit): a guard
/// against hanging only, never a window a busy machine could miss.
pub const HANG_GUARD: Duration = Duration::from_secs(30);

/// Writes `text` to a file `name` in this test binary's scratch directory.
pub fn scratch(name: &str, text: &str) -> PathBuf {
    let path = scratch_dir().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The scratch directory of this test binary: one per test file, under Cargo's
/// `CARGO_TARGET_TMPDIR` (not the system's temp dir), emptied when the binary first uses it,
/// so each run replaces the last one's files instead of adding to them.
fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // `<test file>::common`: the integration test crate is named after its file.
        let test = module_path!().split("::").next().unwrap_or("test");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("media-edge-{test}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// Runs the binary to completion (check-config, firewall-rules, a refused start).
pub fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A start that was supposed to be refused must not serve forever.
    let deadline = Instant::now() + HANG_GUARD;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("media-edge did not exit within {HANG_GUARD:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Stderr of a run that must fail.
pub fn refused<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "accepted; stderr: {stderr}");
    stderr
}

/// Stdout of a run that must succeed.
pub fn accepted<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = run(args);
    assert!(
        out.status.success(),
        "refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A running service; killed on drop if the test did not stop it.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Running {
    /// Starts the binary with `args`; its log (stderr) is collected line by line.
    pub fn start<I, S>(args: I) -> Running
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::start_with_env(args, &[])
    }

    /// [`Running::start`] with environment variables set (`NOTIFY_SOCKET`, ...).
    pub fn start_with_env<I, S>(args: I, env: &[(&str, &OsStr)]) -> Running
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = Command::new(BIN)
            .args(args)
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let all = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                all.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Running { child, lines, log }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next log line containing `needle` (waiting up to [`HANG_GUARD`]).
    pub fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line with {needle:?}; log:\n{}", self.log()),
            }
        }
    }

    /// Every log line so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The address after `prefix` in the first log line holding it, e.g. the bound API.
    pub fn address_after(&self, prefix: &str) -> SocketAddr {
        let line = self.wait_for(prefix);
        let rest = &line[line.find(prefix).unwrap() + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_hexdigit() || ".:[]".contains(c)))
            .unwrap_or(rest.len());
        rest[..end].parse().unwrap()
    }

    /// Sends `signal` (`HUP`, `TERM`, `USR1`, ...).
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal}");
    }

    /// The exit status, waiting up to `limit`; `None` while it still runs.
    pub fn exited_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit status. SIGTERM drains: with nothing open the process exits
    /// at once; when something is still open (an allocation a test client left behind) a
    /// second SIGTERM stops it at once, sent only after the first was handled (signals of
    /// one kind do not queue).
    pub fn stop(&mut self) -> ExitStatus {
        self.signal("TERM");
        if let Some(status) = self.exited_within(Duration::from_secs(3)) {
            return status;
        }
        let deadline = Instant::now() + HANG_GUARD;
        while !self.log().contains("SIGTERM: draining") {
            assert!(
                Instant::now() < deadline,
                "SIGTERM not handled:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.signal("TERM");
        self.exited_within(HANG_GUARD)
            .unwrap_or_else(|| panic!("no exit after a second SIGTERM:\n{}", self.log()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP/1.1 request on a fresh connection; returns the status code and the body.
pub fn http(api: SocketAddr, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let stream = TcpStream::connect(api).unwrap();
    exchange(stream, method, path, token, body)
}

/// One HTTP/1.1 request on `stream` (no Authorization header when `token` is empty); the
/// status code (0 when the server closed without an
/// answer) and the body.
pub fn exchange(
    stream: TcpStream,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, String) {
    let authorization = if token.is_empty() {
        String::new()
    } else {
        format!("Authorization: Bearer {token}\r\n")
    };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: media-edge\r\n{authorization}\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let Some(response) = send_raw(stream, &request) else {
        return (0, String::new());
    };
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

/// Writes `request` as it is on `stream` and reads until the server closes: the whole
/// response (status line, headers, body), or `None` when the exchange failed.
pub fn send_raw(mut stream: TcpStream, request: &str) -> Option<String> {
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// How many UDP sockets process `pid` holds bound to exactly `addr` (IPv4), read back from
/// the kernel: /proc/net/udp's entries for that local tuple whose inode is one of the
/// process's file descriptors.
pub fn udp_sockets_of(pid: u32, addr: SocketAddr) -> usize {
    let SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only: {addr}")
    };
    let local = format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(v4.ip().octets()),
        v4.port()
    );
    let inodes: HashSet<String> = stable("/proc/net/udp")
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1) == Some(&local.as_str())).then(|| f.get(9).map(|i| (*i).to_owned()))?
        })
        .collect();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap();
    let held: HashSet<String> = fds
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|t| {
            let t = t.to_string_lossy().into_owned();
            Some(t.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    inodes.intersection(&held).count()
}

/// A consistent read of a /proc/net table: the kernel renders it a chunk per read, so a
/// single read can race with sockets opening elsewhere; two equal reads in a row cannot.
fn stable(path: &str) -> String {
    let mut last = std::fs::read_to_string(path).unwrap();
    for _ in 0..100 {
        let next = std::fs::read_to_string(path).unwrap();
        if next == last {
            return next;
        }
        last = next;
    }
    panic!("{path} never read the same twice in a row");
}

/// A TURN client (webrtc-rs) holding one allocation on the server, from `source`.
pub struct Allocation {
    pub client: turn::client::Client,
    pub relay: Box<dyn webrtc_util::Conn + Send + Sync>,
    /// The relayed transport address.
    pub relayed: SocketAddr,
}

impl Allocation {
    /// Allocates on `server` as `user`/`password`: the allocation, or the client's error
    /// text (`"no answer"` when the server stays silent for 5 s).
    pub async fn new(
        server: SocketAddr,
        source: &str,
        user: &str,
        password: &str,
    ) -> Result<Allocation, String> {
        let socket = tokio::net::UdpSocket::bind((source, 0)).await.unwrap();
        let client = turn::client::Client::new(turn::client::ClientConfig {
            stun_serv_addr: server.to_string(),
            turn_serv_addr: server.to_string(),
            username: user.into(),
            password: password.into(),
            realm: String::new(),
            software: String::new(),
            rto_in_ms: 0,
            conn: Arc::new(socket),
            vnet: None,
        })
        .await
        .unwrap();
        client.listen().await.unwrap();
        match tokio::time::timeout(Duration::from_secs(5), client.allocate()).await {
            Ok(Ok(relay)) => {
                use webrtc_util::Conn as _;
                let relayed = relay.local_addr().unwrap();
                Ok(Allocation {
                    client,
                    relay: Box::new(relay),
                    relayed,
                })
            }
            Ok(Err(e)) => {
                client.close().await.unwrap();
                Err(e.to_string())
            }
            Err(_) => {
                client.close().await.unwrap();
                Err("no answer".to_owned())
            }
        }
    }

    /// Relays `payload` to `peer` and checks that `peer` receives it (within 10 s).
    pub async fn relays_to(&self, peer: &tokio::net::UdpSocket, payload: &[u8]) {
        let to = peer.local_addr().unwrap();
        let mut buf = [0u8; 1500];
        // The first send also creates the permission; resend until one arrives.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.relay.send_to(payload, to).await.unwrap();
            match tokio::time::timeout(Duration::from_millis(500), peer.recv_from(&mut buf)).await {
                Ok(Ok((n, from))) if &buf[..n] == payload => {
                    assert_eq!(from, self.relayed, "relayed from the allocation's address");
                    return;
                }
                _ => assert!(Instant::now() < deadline, "{payload:?} was not relayed"),
            }
        }
    }

    /// Deletes the allocation (Refresh, lifetime 0) and stops the client.
    pub async fn close(self) {
        self.relay.close().await.unwrap();
        self.client.close().await.unwrap();
    }
}
