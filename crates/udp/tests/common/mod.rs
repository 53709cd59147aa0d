//! Helpers shared by edge-udp's loopback tests: bounded receive and send loops over real
//! sockets, and numbered payloads whose order and contents can be checked byte for byte.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use edge_udp::{RecvBatch, RecvMeta, Transmit, UdpSocket};

/// How long a test waits for datagrams that loopback delivers in microseconds: a guard
/// against hanging on a busy machine, never a window.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Datagram `i` of a test run: its number in the first bytes, then a pattern of both.
pub fn payload(i: usize, len: usize) -> Vec<u8> {
    let mut p: Vec<u8> = (0..len).map(|k| (k * 31 + i * 7) as u8).collect();
    let tag = (i as u32).to_be_bytes();
    let n = len.min(4);
    p[..n].copy_from_slice(&tag[4 - n..]);
    p
}

/// One received datagram, GRO trains already split at their stride.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Got {
    pub meta: RecvMeta,
    pub bytes: Vec<u8>,
    /// Whether it arrived inside a GRO train of several datagrams.
    pub in_train: bool,
}

/// Receives until `count` datagrams arrived or [`PATIENCE`] ran out.
pub fn recv_n(socket: &UdpSocket, batch: &mut RecvBatch, count: usize) -> Vec<Got> {
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    while got.len() < count && Instant::now() < deadline {
        match socket.recv(batch) {
            Ok(_) => {
                for (meta, data) in batch.iter() {
                    let in_train = meta.stride < meta.len;
                    for seg in data.chunks(meta.stride) {
                        got.push(Got {
                            meta: *meta,
                            bytes: seg.to_vec(),
                            in_train,
                        });
                    }
                    if data.is_empty() {
                        got.push(Got {
                            meta: *meta,
                            bytes: Vec::new(),
                            in_train,
                        });
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_micros(200))
            }
            Err(e) => panic!("recv failed: {e}"),
        }
    }
    got
}

/// Receives for a short while, to show that nothing more arrives.
pub fn recv_rest(socket: &UdpSocket, batch: &mut RecvBatch) -> usize {
    let deadline = Instant::now() + Duration::from_millis(50);
    let mut n = 0;
    while Instant::now() < deadline {
        match socket.recv(batch) {
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("recv failed: {e}"),
        }
    }
    n
}

/// Sends every transmit, waiting (bounded) when the socket buffer is full.
pub fn send_all(socket: &UdpSocket, transmits: &[Transmit<'_>]) {
    let deadline = Instant::now() + PATIENCE;
    let mut done = 0;
    while done < transmits.len() {
        assert!(Instant::now() < deadline, "send stuck at {done}");
        match socket.send(&transmits[done..]) {
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_micros(200))
            }
            Err(e) => panic!("send failed: {e}"),
        }
    }
}

/// A transmit of `contents` to `dst`, everything else default.
pub fn to(dst: SocketAddr, contents: &[u8]) -> Transmit<'_> {
    Transmit {
        dst,
        contents,
        ..Transmit::PLACEHOLDER
    }
}
