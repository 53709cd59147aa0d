//! A one-source STUN Binding flood: the attacker of the flood-isolation benchmark
//! (benches/turn_flood_isolation.sh). One socket sends Binding requests (a new transaction ID
//! each) to a TURN listener in `sendmmsg` batches, at a set rate or as fast as it can, for a
//! bounded time, and counts the answers. Run it beside a paced `turn` load to see what a flood
//! from one address costs everyone else.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use edge_stun::{Class, MessageEncoder, Method, TransactionId, HEADER_LEN};
use edge_udp::{RecvBatch, SocketOptions, Transmit, UdpSocket};
use serde::Serialize;

use crate::Error;

/// Requests per `sendmmsg`.
const BATCH: usize = 32;

/// What to flood and how hard.
#[derive(Debug, Clone)]
pub struct FloodSetup {
    /// The TURN listener.
    pub target: SocketAddr,
    /// The one source address (port 0: any).
    pub local: SocketAddr,
    /// Requests per second; `None` sends as fast as one thread can.
    pub rate: Option<u32>,
    /// How long to send.
    pub duration: Duration,
}

/// What the flood did.
#[derive(Debug, Clone, Serialize)]
pub struct FloodReport {
    /// Binding requests the kernel accepted for sending.
    pub sent: u64,
    /// Binding responses received.
    pub answered: u64,
    /// Seconds of sending.
    pub seconds: f64,
    /// `sent / seconds`.
    pub offered_per_s: f64,
}

/// Floods `setup.target` until `setup.duration` passes or `stop` is set.
pub fn run(setup: &FloodSetup, stop: &AtomicBool) -> Result<FloodReport, Error> {
    let udp = |source| Error::Udp {
        addr: setup.local,
        source,
    };
    let socket = UdpSocket::bind(setup.local, &SocketOptions::default()).map_err(udp)?;
    socket
        .as_std()
        .set_nonblocking(true)
        .map_err(|source| Error::Io {
            what: "set_nonblocking",
            addr: setup.local,
            source,
        })?;
    let mut requests = [[0u8; HEADER_LEN]; BATCH];
    let mut batch = RecvBatch::for_socket(&socket);
    let (mut sent, mut answered) = (0u64, 0u64);
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) && start.elapsed() < setup.duration {
        if let Some(rate) = setup.rate {
            // Paced: never ahead of `rate` requests per second since the start, and no batch
            // due after the end.
            let offset = Duration::from_secs_f64(sent as f64 / f64::from(rate.max(1)));
            if offset >= setup.duration {
                break;
            }
            if let Some(wait) = (start + offset).checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        for (i, request) in requests.iter_mut().enumerate() {
            let mut id = [0u8; 12];
            id[4..].copy_from_slice(&(sent + i as u64).to_be_bytes());
            MessageEncoder::new(request, Class::Request, Method::BINDING, TransactionId(id))
                .map_err(|_| Error::Parameter {
                    name: "binding request",
                    problem: "does not fit its buffer",
                })?
                .finish();
        }
        let transmits = requests.each_ref().map(|contents| Transmit {
            dst: setup.target,
            contents,
            ..Transmit::PLACEHOLDER
        });
        // A full send buffer refuses some: they were not sent, and are not counted.
        sent += socket.send(&transmits).unwrap_or(0) as u64;
        while let Ok(n) = socket.recv(&mut batch) {
            if n == 0 {
                break;
            }
            answered += n as u64;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(FloodReport {
        sent,
        answered,
        seconds,
        offered_per_s: sent as f64 / seconds.max(f64::EPSILON),
    })
}
