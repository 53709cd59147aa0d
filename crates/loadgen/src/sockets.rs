//! The load generator's client sockets: one per flow, optionally with UDP GRO (a burst of
//! replies to one flow then comes up in one receive, each datagram a `stride`-sized segment of
//! the buffer), and the receive batch that goes with them.
//!
//! GRO is off unless asked for (`--gro`): a server that sends GSO trains (media-edge) would
//! otherwise cost the generator one receive per train while a server sending datagram by
//! datagram (coturn, rtpengine) costs one per datagram, and a side-by-side comparison would
//! measure the generator's receive path instead of the servers.

use std::net::SocketAddr;

use edge_udp::{RecvBatch, SocketOptions, UdpSocket};

use crate::Error;

/// Binds a client socket on `addr` (port 0: any free port), receiving with UDP GRO when
/// `gro` is set and the kernel has it.
pub fn bind_client(addr: SocketAddr, gro: bool) -> Result<UdpSocket, Error> {
    let opts = SocketOptions {
        gro,
        ..SocketOptions::default()
    };
    UdpSocket::bind(addr, &opts).map_err(|source| Error::Udp { addr, source })
}

/// Receive memory for client sockets: slots large enough for a GRO train.
pub fn client_batch() -> RecvBatch {
    RecvBatch::new(edge_udp::DEFAULT_BATCH, edge_udp::MAX_SLOT_SIZE)
}

/// Whether a receive filled the whole batch, so that more may be queued. A batch that was
/// not filled emptied the socket: anything arriving later raises a new readiness edge
/// (Linux wakes an edge-triggered epoll for a datagram queued on an empty socket), which
/// saves the `recvmmsg` that would only say `WouldBlock`.
pub fn batch_filled(batch: &RecvBatch) -> bool {
    batch.len() >= batch.capacity()
}
