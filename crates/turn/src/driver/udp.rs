//! UDP client listeners on edge-udp: a `recvmmsg` batch in, and the datagrams toward clients
//! gathered into `sendmmsg` batches out.
//!
//! Toward clients, the frames of one loop iteration (from many relay sockets) all leave
//! through a listener: relay datagrams are received with `recvmmsg` straight into the free
//! slots of the [`Outbox`]'s batch, behind [`PEER_HEADROOM`] bytes, the core writes the
//! ChannelData or Data header in front of each, and the slots are sent together as they are:
//! no copy, one `sendmmsg` for many flows (GSO when several frames go to one client).

use std::io;
use std::net::SocketAddr;
use std::ops::Range;

use edge_udp::{RecvBatch, SocketOptions, Transmit, UdpSocket};

use super::Counters;
use crate::PEER_HEADROOM;

/// Frames queued toward clients before a `sendmmsg` (and the datagrams per `recvmmsg`).
pub(crate) const BATCH: usize = 32;
/// Room for a peer datagram in an outbox slot: the largest UDP payload (65,535 bytes at
/// most, 65,507 over IPv4) plus padding room (a stream client's ChannelData frame is padded
/// to a multiple of 4).
const PEER_ROOM: usize = edge_udp::MAX_SLOT_SIZE;

/// One UDP client listener.
pub(crate) struct Listener {
    pub(crate) socket: UdpSocket,
    pub(crate) local: SocketAddr,
}

impl Listener {
    /// Binds `addr` with `buffer`-sized socket buffers (v6-only for IPv6 addresses, so
    /// `[::]` and `0.0.0.0` can both be listened on), with `SO_REUSEPORT` when several loops
    /// share the address.
    pub(crate) fn bind(
        addr: SocketAddr,
        buffer: Option<usize>,
        reuse_port: bool,
    ) -> io::Result<Self> {
        let opts = SocketOptions {
            reuse_port,
            recv_buffer: buffer,
            send_buffer: buffer,
            // Each datagram's local address matters only to a wildcard listener.
            pktinfo: addr.ip().is_unspecified(),
            ipv6_only: true,
            ..SocketOptions::default()
        };
        let socket = UdpSocket::bind(addr, &opts).map_err(io::Error::other)?;
        let local = socket.local_addr();
        Ok(Self { socket, local })
    }

    /// Sends one datagram (a response); a full socket buffer drops it.
    pub(crate) fn send_one(&self, to: SocketAddr, datagram: &[u8], counters: &Counters) {
        let tx = Transmit {
            dst: to,
            contents: datagram,
            ..Transmit::PLACEHOLDER
        };
        if !matches!(self.socket.send(&[tx]), Ok(1)) {
            counters.dropped();
        }
    }
}

/// A receive batch big enough for any datagram (a TURN client may send up to 64 KiB).
pub(crate) fn recv_batch() -> RecvBatch {
    RecvBatch::new(BATCH, edge_udp::MAX_SLOT_SIZE)
}

/// Frames waiting to go to clients through UDP listeners.
pub(crate) struct Outbox {
    /// Relay datagrams of this iteration, each behind [`PEER_HEADROOM`] bytes of its slot.
    pub(crate) batch: RecvBatch,
    /// (datagram index in `batch`, listener index, client address, frame range in its
    /// slot) per queued frame.
    queued: [(usize, usize, SocketAddr, Range<usize>); BATCH],
    len: usize,
}

impl Outbox {
    pub(crate) fn new() -> Self {
        Self {
            batch: RecvBatch::with_headroom(BATCH, PEER_ROOM, PEER_HEADROOM),
            queued: std::array::from_fn(|_| (0, 0, SocketAddr::from(([0, 0, 0, 0], 0)), 0..0)),
            len: 0,
        }
    }

    /// Queues the frame at `range` of datagram `i`'s slot toward `to` through `listener`.
    pub(crate) fn push(&mut self, i: usize, listener: usize, to: SocketAddr, range: Range<usize>) {
        if self.len < BATCH {
            self.queued[self.len] = (i, listener, to, range);
            self.len += 1;
        }
    }

    /// Whether every slot is used: flush before receiving more.
    pub(crate) fn is_full(&self) -> bool {
        self.batch.free_slots() == 0
    }

    /// Sends everything queued, one `sendmmsg` per run of frames for the same listener,
    /// and empties the batch. Frames the socket cannot take now are dropped and counted.
    pub(crate) fn flush(&mut self, listeners: &[Listener], counters: &Counters) {
        let mut start = 0;
        while start < self.len {
            let listener = self.queued[start].1;
            let mut txs = [Transmit::PLACEHOLDER; BATCH];
            let mut n = 0;
            while start + n < self.len && self.queued[start + n].1 == listener {
                let (i, _, to, range) = &self.queued[start + n];
                txs[n] = Transmit {
                    dst: *to,
                    contents: &self.batch.slot(*i)[range.clone()],
                    ..Transmit::PLACEHOLDER
                };
                n += 1;
            }
            let sent = listeners
                .get(listener)
                .map_or(0, |l| l.socket.send(&txs[..n]).unwrap_or(0));
            for _ in sent..n {
                counters.dropped();
            }
            start += n;
        }
        self.len = 0;
        self.batch.clear();
    }
}
