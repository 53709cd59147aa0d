//! `forward` mode: the plain UDP forwarder the side-by-side benchmarks use as a ceiling.
//! Like a media relay it holds two sockets per flow: datagrams arriving on the flow's
//! public socket go out of its inner socket to one fixed destination (the echo), and what
//! comes back on the inner socket goes to the last public sender. No protocol, no
//! parsing, no copy: `recvmmsg` into a batch, `sendmmsg` of the same buffers (equal-size
//! runs coalesced by GSO). One thread, one mio loop.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use edge_udp::{RecvBatch, SocketOptions, Transmit, UdpSocket, MAX_BATCH};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use serde::Serialize;

use crate::Error;

/// What the forwarder moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ForwardStats {
    /// Datagrams forwarded toward the destination.
    pub outbound: u64,
    /// Datagrams forwarded back to the senders.
    pub inbound: u64,
    /// Datagrams dropped (send buffer full, or nothing to answer yet).
    pub dropped: u64,
}

struct Pair {
    public: UdpSocket,
    inner: UdpSocket,
    client: Option<SocketAddr>,
}

/// The bound forwarder.
pub struct Forwarder {
    pairs: Vec<Pair>,
    to: SocketAddr,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("flows", &self.pairs.len())
            .field("to", &self.to)
            .finish()
    }
}

impl Forwarder {
    /// Binds `flows` public sockets on consecutive ports from `first` (port 0: any ports)
    /// and as many inner sockets on `inner_ip`, all forwarding to `to`.
    pub fn bind(
        first: SocketAddr,
        flows: usize,
        inner_ip: IpAddr,
        to: SocketAddr,
    ) -> Result<Forwarder, Error> {
        let opts = SocketOptions::default();
        let bind = |addr: SocketAddr| {
            UdpSocket::bind(addr, &opts).map_err(|source| Error::Udp { addr, source })
        };
        let mut pairs = Vec::with_capacity(flows);
        for i in 0..flows {
            let port = match first.port() {
                0 => 0,
                p => p.checked_add(i as u16).ok_or(Error::Parameter {
                    name: "listen",
                    problem: "the port range runs past 65535",
                })?,
            };
            pairs.push(Pair {
                public: bind(SocketAddr::new(first.ip(), port))?,
                inner: bind(SocketAddr::new(inner_ip, 0))?,
                client: None,
            });
        }
        Ok(Forwarder { pairs, to })
    }

    /// The public addresses, flow by flow.
    pub fn public_addrs(&self) -> Vec<SocketAddr> {
        self.pairs.iter().map(|p| p.public.local_addr()).collect()
    }

    /// Forwards until `stop` is set (checked every 50 ms at least).
    pub fn run(mut self, stop: &AtomicBool) -> Result<ForwardStats, Error> {
        let io = |what, addr| move |source| Error::Io { what, addr, source };
        let to = self.to;
        let mut poll = Poll::new().map_err(io("poll", to))?;
        for (i, p) in self.pairs.iter().enumerate() {
            for (k, s) in [&p.public, &p.inner].into_iter().enumerate() {
                poll.registry()
                    .register(
                        &mut SourceFd(&s.as_raw_fd()),
                        Token(2 * i + k),
                        Interest::READABLE,
                    )
                    .map_err(io("register", s.local_addr()))?;
            }
        }
        let mut events = Events::with_capacity(1_024);
        let mut batch = RecvBatch::new(edge_udp::DEFAULT_BATCH, edge_udp::DEFAULT_SLOT_SIZE);
        let mut stats = ForwardStats::default();
        while !stop.load(Ordering::Relaxed) {
            match poll.poll(&mut events, Some(Duration::from_millis(50))) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io("poll", to)(e)),
            }
            for event in events.iter() {
                let (i, inner) = (event.token().0 / 2, event.token().0 % 2 == 1);
                let Some(pair) = self.pairs.get_mut(i) else {
                    continue;
                };
                pair.forward(inner, to, &mut batch, &mut stats)
                    .map_err(io("forward", pair.public.local_addr()))?;
            }
        }
        Ok(stats)
    }
}

impl Pair {
    /// Moves everything queued on one side of the pair to the other.
    fn forward(
        &mut self,
        from_inner: bool,
        to: SocketAddr,
        batch: &mut RecvBatch,
        stats: &mut ForwardStats,
    ) -> std::io::Result<()> {
        let (rx, tx) = if from_inner {
            (&self.inner, &self.public)
        } else {
            (&self.public, &self.inner)
        };
        loop {
            let n = match rx.recv(batch) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if !from_inner {
                self.client = batch.metas().last().map(|m| m.src);
            }
            let Some(dst) = (if from_inner { self.client } else { Some(to) }) else {
                stats.dropped += n as u64;
                continue;
            };
            let mut out = [Transmit::PLACEHOLDER; MAX_BATCH];
            for ((meta, data), t) in batch.iter().zip(out.iter_mut()) {
                *t = Transmit {
                    dst,
                    contents: &data[..meta.len],
                    ..Transmit::PLACEHOLDER
                };
            }
            let sent = match tx.send(&out[..n]) {
                Ok(k) => k,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
                Err(e) => return Err(e),
            };
            stats.dropped += (n - sent) as u64;
            if from_inner {
                stats.inbound += sent as u64;
            } else {
                stats.outbound += sent as u64;
            }
            if !crate::sockets::batch_filled(batch) {
                return Ok(());
            }
        }
    }
}
