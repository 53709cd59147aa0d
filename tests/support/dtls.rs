//! Helpers for the DTLS interop tests (`tests/dtls_*.rs`): a real-UDP driver for an
//! `edge_dtls::Handshake`, a guard that owns a peer process and reads its output with
//! timeouts, and a scratch directory.
//!
//! This file uses edge-dtls, a dev-dependency, so it is not a module of the `edge_suite`
//! library: the DTLS test files include it with `#[path = "support/dtls.rs"] mod dtls_support;`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use edge_dtls::{Error, Handshake, Role, SrtpKeys};

/// Runs `handshake` over `socket` until it yields keys, fails, or `limit` passes (a test
/// failure). `peer` is where to send; a server learns it from the first datagram.
/// Returns the outcome and the peer's address.
pub fn drive(
    handshake: &mut Handshake,
    socket: &UdpSocket,
    mut peer: Option<SocketAddr>,
    limit: Duration,
) -> (Result<SrtpKeys, Error>, Option<SocketAddr>) {
    let give_up = Instant::now() + limit;
    let mut out = Vec::new();
    let mut rx = vec![0u8; 65536];
    loop {
        flush(handshake, socket, peer, &mut out);
        if let Some(keys) = handshake.poll_keys() {
            return (Ok(keys), peer);
        }
        let now = Instant::now();
        assert!(
            now < give_up,
            "handshake neither finished nor failed within {limit:?}"
        );
        let wake = handshake
            .poll_timeout()
            .unwrap_or(now + Duration::from_millis(50))
            .min(give_up);
        let wait = wake
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        socket.set_read_timeout(Some(wait)).unwrap();
        let result = match socket.recv_from(&mut rx) {
            Ok((n, from)) => {
                peer.get_or_insert(from);
                handshake.handle_input(Instant::now(), &rx[..n])
            }
            Err(e) if is_timeout(&e) => handshake.handle_timeout(Instant::now()),
            Err(e) => panic!("recv_from failed: {e}"),
        };
        if let Err(error) = result {
            flush(handshake, socket, peer, &mut out);
            return (Err(error), peer);
        }
    }
}

/// Keeps answering the peer after the handshake (a lost last flight makes the peer repeat
/// its own), handing every non-DTLS datagram to `other`, until `other` says it has all it
/// waits for (true) or `limit` passes (a hang guard). Returns whether `other` was satisfied.
pub fn serve_until(
    handshake: &mut Handshake,
    socket: &UdpSocket,
    peer: SocketAddr,
    limit: Duration,
    mut other: impl FnMut(&[u8]) -> bool,
) -> bool {
    let until = Instant::now() + limit;
    let mut out = Vec::new();
    let mut rx = vec![0u8; 65536];
    while let Some(wait) = until.checked_duration_since(Instant::now()) {
        socket
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .unwrap();
        match socket.recv_from(&mut rx) {
            Ok((n, _)) if (20..=63).contains(&rx[0]) => {
                // A DTLS datagram after the handshake: a repeat or close_notify.
                let _ = handshake.handle_input(Instant::now(), &rx[..n]);
                flush(handshake, socket, Some(peer), &mut out);
            }
            Ok((n, _)) => {
                if other(&rx[..n]) {
                    return true;
                }
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("recv_from failed: {e}"),
        }
    }
    false
}

fn flush(
    handshake: &mut Handshake,
    socket: &UdpSocket,
    peer: Option<SocketAddr>,
    out: &mut Vec<u8>,
) {
    out.clear();
    while let Some(len) = handshake.poll_transmit(out) {
        if let Some(peer) = peer {
            socket.send_to(&out[out.len() - len..], peer).unwrap();
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// The exported keying material in RFC 5764 order (client key, server key, client salt,
/// server salt), rebuilt from one side's keys to compare with what OpenSSL prints.
pub fn keying_material(keys: &SrtpKeys, role: Role) -> Vec<u8> {
    let (client, server) = match role {
        Role::Client => (
            (&keys.local_master_key, &keys.local_master_salt),
            (&keys.remote_master_key, &keys.remote_master_salt),
        ),
        Role::Server => (
            (&keys.remote_master_key, &keys.remote_master_salt),
            (&keys.local_master_key, &keys.local_master_salt),
        ),
    };
    [client.0.as_slice(), server.0, client.1, server.1].concat()
}

/// Upper-case hex, as OpenSSL prints keying material.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A peer process. Its stdout and stderr lines arrive on a channel; dropping the guard kills
/// and reaps it, on every path.
pub struct PeerProcess {
    child: Child,
    lines: Receiver<String>,
    pub transcript: Vec<String>,
}

impl PeerProcess {
    /// Spawns `command` with stdin null (or piped when `keep_stdin`) and captured output.
    pub fn spawn(command: &mut Command, keep_stdin: bool) -> Self {
        command
            .stdin(if keep_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn peer process");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || forward(stdout, &tx));
        std::thread::spawn(move || forward(stderr, &tx2));
        PeerProcess {
            child,
            lines,
            transcript: Vec::new(),
        }
    }

    /// The first output line (within `timeout`) for which `pick` returns something.
    pub fn wait_for<T>(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(&str) -> Option<T>,
    ) -> Option<T> {
        let until = Instant::now() + timeout;
        loop {
            let left = until.checked_duration_since(Instant::now())?;
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = pick(&line);
                    self.transcript.push(line);
                    if found.is_some() {
                        return found;
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Everything the process printed so far, for assertion messages.
    pub fn output(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.transcript.push(line);
        }
        self.transcript.join("\n")
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    pub fn stdin(&mut self) -> &mut std::process::ChildStdin {
        self.child.stdin.as_mut().expect("spawned with keep_stdin")
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward(stream: impl std::io::Read, tx: &mpsc::Sender<String>) {
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        if tx.send(line).is_err() {
            return;
        }
    }
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("edge-dtls-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback UDP socket on an ephemeral port.
pub fn loopback_socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

/// A loopback UDP port that was free a moment ago (for a peer that must bind it itself).
pub fn free_udp_port() -> u16 {
    loopback_socket().local_addr().unwrap().port()
}

/// Writes an ECDSA P-256 self-signed certificate and PKCS#8 key made by `openssl req`.
pub fn openssl_certificate(openssl: &Path, dir: &Scratch) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.path("cert.pem"), dir.path("key.pem"));
    let status = Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=openssl-peer",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "openssl req failed");
    (cert, key)
}
