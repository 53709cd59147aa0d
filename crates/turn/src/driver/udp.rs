//! UDP client listeners on edge-udp: a `recvmmsg` batch in, and the datagrams toward clients
//! gathered into `sendmmsg` batches out.
//!
//! Toward peers each datagram leaves from its own allocation's relay socket, so there is
//! nothing to batch on that side. Toward clients, the frames of one loop iteration (from
//! many relay sockets) all leave through a listener: they are queued in [`Outbox`] slots and
//! sent together. A relay datagram is received straight into an outbox slot after
//! [`PEER_HEADROOM`], the core writes the ChannelData or Data header in front of it, and the
//! slot is sent as it is: no copy.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;

use edge_udp::{RecvBatch, SocketOptions, Transmit, UdpSocket};

use super::Counters;
use crate::PEER_HEADROOM;

/// Frames queued toward clients before a `sendmmsg` (and the datagrams per `recvmmsg`).
pub(crate) const BATCH: usize = 32;
/// An outbox slot: headroom, the largest UDP payload, and padding room.
const SLOT: usize = PEER_HEADROOM + 65535 + 4;

/// One UDP client listener.
pub(crate) struct Listener {
    pub(crate) socket: UdpSocket,
    pub(crate) local: SocketAddr,
}

impl Listener {
    /// Binds `addr` with `buffer`-sized socket buffers (v6-only for IPv6 addresses, so
    /// `[::]` and `0.0.0.0` can both be listened on).
    pub(crate) fn bind(addr: SocketAddr, buffer: Option<usize>) -> io::Result<Self> {
        let opts = SocketOptions {
            recv_buffer: buffer,
            send_buffer: buffer,
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
    slots: Box<[Box<[u8]>]>,
    /// (listener index, client address, frame range in its slot) per queued frame.
    queued: [(usize, SocketAddr, Range<usize>); BATCH],
    len: usize,
}

impl Outbox {
    pub(crate) fn new() -> Self {
        Self {
            slots: (0..BATCH)
                .map(|_| vec![0u8; SLOT].into_boxed_slice())
                .collect(),
            queued: std::array::from_fn(|_| (0, SocketAddr::from(([0, 0, 0, 0], 0)), 0..0)),
            len: 0,
        }
    }

    /// The next free slot, to receive a relay datagram into at [`PEER_HEADROOM`]. The
    /// caller flushes first when [`Outbox::is_full`].
    pub(crate) fn next_slot(&mut self) -> &mut [u8] {
        &mut self.slots[self.len.min(BATCH - 1)]
    }

    /// Queues the frame at `range` of the slot [`Outbox::next_slot`] returned.
    pub(crate) fn push(&mut self, listener: usize, to: SocketAddr, range: Range<usize>) {
        if self.len < BATCH {
            self.queued[self.len] = (listener, to, range);
            self.len += 1;
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == BATCH
    }

    /// Sends everything queued, one `sendmmsg` per run of frames for the same listener.
    /// Frames the socket cannot take now are dropped and counted.
    pub(crate) fn flush(&mut self, listeners: &[Listener], counters: &Counters) {
        let mut start = 0;
        while start < self.len {
            let listener = self.queued[start].0;
            let mut txs = [Transmit::PLACEHOLDER; BATCH];
            let mut n = 0;
            while start + n < self.len && self.queued[start + n].0 == listener {
                let (_, to, range) = &self.queued[start + n];
                txs[n] = Transmit {
                    dst: *to,
                    contents: &self.slots[start + n][range.clone()],
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
    }
}
