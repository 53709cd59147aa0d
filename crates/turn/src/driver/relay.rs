//! Relay sockets: one UDP socket per allocation (edge-udp: `recvmmsg` in, `sendmmsg` with GSO
//! out), registered with the event loop under a token derived from its port, so a readable
//! event needs no lookup to find its socket. They are opened and closed as the core's
//! [`Command`]s say ([`Relays::execute`]).
//!
//! Every peer an allocation permits must be able to reach the client through the relay
//! address, so the sockets stay unconnected (a connected socket would drop datagrams from
//! every other permitted peer); an unconnected UDP socket without `IP_RECVERR` also never
//! reports ICMP errors, which is what lets a short receive batch mean "drained".

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;

use std::ops::Range;

use edge_udp::{RecvBatch, SocketOptions, Transmit, UdpSocket};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::udp::BATCH;
use super::Counters;
use crate::{Command, FiveTuple, Server};

/// Tokens at and above this are relay sockets: `RELAY_TOKEN_BASE + port`.
pub(crate) const RELAY_TOKEN_BASE: usize = 1 << 20;

/// The relay sockets of every live allocation, indexed by `port - first port`.
pub(crate) struct Relays {
    pub(crate) sockets: Vec<Option<UdpSocket>>,
    pub(crate) first_port: u16,
    pub(crate) address: IpAddr,
    pub(crate) registry: Registry,
    /// SO_RCVBUF/SO_SNDBUF for relay sockets.
    pub(crate) buffer: Option<usize>,
}

impl Relays {
    /// The socket on `port`, if open.
    pub(crate) fn socket(&self, port: u16) -> Option<&UdpSocket> {
        let i = usize::from(port.checked_sub(self.first_port)?);
        self.sockets.get(i)?.as_ref()
    }

    /// Sends `payload` from relay `port` to `peer`; a datagram that cannot go out now is
    /// dropped and counted.
    pub(crate) fn send_one(
        &self,
        port: u16,
        peer: SocketAddr,
        payload: &[u8],
        counters: &Counters,
    ) {
        let Some(socket) = self.socket(port) else {
            return;
        };
        let tx = Transmit {
            dst: peer,
            contents: payload,
            ..Transmit::PLACEHOLDER
        };
        if !matches!(socket.send(&[tx]), Ok(1)) {
            counters.dropped();
        }
    }

    /// Closes every socket (at shutdown).
    pub(crate) fn close_all(&mut self) {
        for port in 0..self.sockets.len() {
            let port = self.first_port.saturating_add(port as u16);
            self.close(port);
        }
    }

    /// Carries out `server`'s relay-socket commands until none is left, reporting each
    /// open's outcome back; an answer the core then has for a client (an Allocate's
    /// response, written into `reply`) goes to `answer`.
    pub(crate) fn execute(
        &mut self,
        now: std::time::Instant,
        server: &mut Server,
        reply: &mut [u8],
        mut answer: impl FnMut(FiveTuple, &[u8]),
    ) {
        while let Some(command) = server.poll_command() {
            match command {
                Command::OpenRelay { port } => {
                    let outcome = self.open(port);
                    if let Some((tuple, len)) =
                        server.handle_relay_opened(now, port, outcome, reply)
                    {
                        answer(tuple, &reply[..len]);
                    }
                }
                Command::CloseRelay { port } => self.close(port),
            }
        }
    }

    /// Binds and registers the relay socket for `port` on the relay address; returns the
    /// bound address.
    fn open(&mut self, port: u16) -> io::Result<SocketAddr> {
        let i = usize::from(
            port.checked_sub(self.first_port)
                .ok_or(io::ErrorKind::InvalidInput)?,
        );
        let slot = self.sockets.get_mut(i).ok_or(io::ErrorKind::InvalidInput)?;
        // Bound to one address: no PKTINFO needed. No GRO: each peer datagram needs its own
        // header in front of it. GSO on: datagrams of one batch to the same peer leave in
        // one send.
        let opts = SocketOptions {
            recv_buffer: self.buffer,
            send_buffer: self.buffer,
            pktinfo: false,
            ipv6_only: true,
            ..SocketOptions::default()
        };
        let socket =
            UdpSocket::bind(SocketAddr::new(self.address, port), &opts).map_err(|e| match e {
                edge_udp::Error::Bind { source, .. } => source,
                other => io::Error::other(other),
            })?;
        self.registry.register(
            &mut SourceFd(&socket.as_raw_fd()),
            Token(RELAY_TOKEN_BASE + usize::from(port)),
            Interest::READABLE,
        )?;
        let bound = socket.local_addr();
        *slot = Some(socket);
        Ok(bound)
    }

    /// Deregisters and closes the relay socket for `port`, if open.
    fn close(&mut self, port: u16) {
        let Some(i) = port.checked_sub(self.first_port).map(usize::from) else {
            return;
        };
        if let Some(socket) = self.sockets.get_mut(i).and_then(Option::take) {
            // Deregistering a socket that is about to be dropped cannot leak anything if it
            // fails: closing the descriptor removes it from the poller.
            let _ = self.registry.deregister(&mut SourceFd(&socket.as_raw_fd()));
        }
    }
}

/// The payloads of one client batch going to peers, sent per relay socket: one `sendmmsg`
/// for all of a socket's datagrams (one GSO send for a run of equal-size ones to one peer)
/// instead of one `sendto` each.
pub(crate) struct ToPeers {
    /// (relay port, peer, datagram index in the client batch, payload range in it).
    queued: [(u16, SocketAddr, usize, Range<usize>); BATCH],
    len: usize,
}

impl ToPeers {
    pub(crate) fn new() -> Self {
        Self {
            queued: std::array::from_fn(|_| (0, SocketAddr::from(([0, 0, 0, 0], 0)), 0, 0..0)),
            len: 0,
        }
    }

    /// Queues `payload` of datagram `i` of the client batch, from relay `port` to `peer`.
    pub(crate) fn push(&mut self, port: u16, peer: SocketAddr, i: usize, payload: Range<usize>) {
        if self.len < BATCH {
            self.queued[self.len] = (port, peer, i, payload);
            self.len += 1;
        }
    }

    /// Sends everything queued out of `batch` (the client batch the payloads lie in), each
    /// relay socket's datagrams in arrival order in one call; what a socket cannot take now
    /// is dropped and counted.
    pub(crate) fn flush(&mut self, relays: &Relays, batch: &RecvBatch, counters: &Counters) {
        let mut done = [false; BATCH];
        for first in 0..self.len {
            if done[first] {
                continue;
            }
            let port = self.queued[first].0;
            let mut txs = [Transmit::PLACEHOLDER; BATCH];
            let mut n = 0;
            for (k, (p, peer, i, payload)) in self.queued[..self.len].iter().enumerate().skip(first)
            {
                if *p == port && !done[k] {
                    done[k] = true;
                    txs[n] = Transmit {
                        dst: *peer,
                        contents: batch.datagram(*i).get(payload.clone()).unwrap_or_default(),
                        ..Transmit::PLACEHOLDER
                    };
                    n += 1;
                }
            }
            let sent = relays
                .socket(port)
                .map_or(0, |s| s.send(&txs[..n]).unwrap_or(0));
            for _ in sent..n {
                counters.dropped();
            }
        }
        self.len = 0;
    }
}
