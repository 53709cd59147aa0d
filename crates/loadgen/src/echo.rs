//! The echo peer: every datagram goes back to where it came from, unchanged. It plays the
//! TURN peer in `turn` mode and the enterprise RTP side in `webrtc` and `rtp-echo` modes.
//!
//! One thread, one mio loop over one or more UDP sockets, batched both ways: a `recvmmsg`
//! with GRO (a train of one flow's datagrams arrives as one buffer) is answered by one
//! `sendmmsg` whose transmits are those same buffers, GSO-segmented at the received stride.
//! Nothing is copied or allocated per datagram.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use edge_udp::{RecvBatch, SocketOptions, Transmit, UdpSocket, MAX_BATCH};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use serde::Serialize;

use crate::Error;

/// What an echo did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EchoStats {
    /// Datagrams received.
    pub received: u64,
    /// Datagrams sent back.
    pub echoed: u64,
    /// Datagrams dropped because a socket's send buffer was full.
    pub dropped: u64,
}

/// UDP echo sockets, bound and ready to run.
#[derive(Debug)]
pub struct Echo {
    sockets: Vec<UdpSocket>,
}

impl Echo {
    /// Binds one socket per address (port 0 picks a free port), with GRO and GSO when the
    /// kernel has them.
    pub fn bind(addrs: &[SocketAddr]) -> Result<Echo, Error> {
        let opts = SocketOptions {
            gro: true,
            ..SocketOptions::default()
        };
        let sockets = addrs
            .iter()
            .map(|&addr| UdpSocket::bind(addr, &opts).map_err(|source| Error::Udp { addr, source }))
            .collect::<Result<_, _>>()?;
        Ok(Echo { sockets })
    }

    /// The bound addresses, in the order given to [`Echo::bind`].
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets.iter().map(UdpSocket::local_addr).collect()
    }

    /// Echoes until `stop` is set (checked at least every 50 ms).
    pub fn run(self, stop: &AtomicBool) -> Result<EchoStats, Error> {
        let io_err = |what, addr| move |source| Error::Io { what, addr, source };
        let first = self.sockets.first().map(UdpSocket::local_addr);
        let any = first.unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
        let mut poll = Poll::new().map_err(io_err("poll", any))?;
        for (i, s) in self.sockets.iter().enumerate() {
            poll.registry()
                .register(&mut SourceFd(&s.as_raw_fd()), Token(i), Interest::READABLE)
                .map_err(io_err("register", s.local_addr()))?;
        }
        let mut events = Events::with_capacity(self.sockets.len().max(1));
        let mut batch = RecvBatch::new(
            edge_udp::DEFAULT_BATCH,
            if self.sockets.iter().any(|s| s.capabilities().gro) {
                edge_udp::MAX_SLOT_SIZE
            } else {
                edge_udp::DEFAULT_SLOT_SIZE
            },
        );
        let mut stats = EchoStats::default();
        while !stop.load(Ordering::Relaxed) {
            match poll.poll(&mut events, Some(Duration::from_millis(50))) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("poll", any)(e)),
            }
            for event in events.iter() {
                if let Some(socket) = self.sockets.get(event.token().0) {
                    echo_all(socket, &mut batch, &mut stats)
                        .map_err(io_err("echo", socket.local_addr()))?;
                }
            }
        }
        Ok(stats)
    }

    /// Runs the echo on its own thread until `stop` is set.
    pub fn spawn(self, stop: Arc<AtomicBool>) -> JoinHandle<Result<EchoStats, Error>> {
        std::thread::spawn(move || self.run(&stop))
    }
}

/// Echoes everything queued on `socket`, reading until the socket is empty (mio's
/// readiness is edge-triggered). A datagram the full send buffer will not take is dropped and counted.
fn echo_all(
    socket: &UdpSocket,
    batch: &mut RecvBatch,
    stats: &mut EchoStats,
) -> std::io::Result<()> {
    loop {
        let n = match socket.recv(batch) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut out = [Transmit::PLACEHOLDER; MAX_BATCH];
        let mut count = 0u64;
        for ((meta, data), tx) in batch.iter().zip(out.iter_mut()) {
            count += datagrams(meta.len, Some(meta.stride));
            *tx = Transmit {
                dst: meta.src,
                src_ip: meta.dst_ip,
                contents: &data[..meta.len],
                segment_size: (meta.len > meta.stride).then_some(meta.stride),
                ..Transmit::PLACEHOLDER
            };
        }
        stats.received += count;
        let mut done = 0;
        while done < n {
            match socket.send(&out[done..n]) {
                Ok(k) if k > 0 => done += k,
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        let echoed: u64 = out[..done]
            .iter()
            .map(|t| datagrams(t.contents.len(), t.segment_size))
            .sum();
        stats.echoed += echoed;
        stats.dropped += count - echoed;
        if !crate::sockets::batch_filled(batch) {
            return Ok(());
        }
    }
}

/// Datagrams in `len` bytes cut at `stride` (an empty datagram is one).
fn datagrams(len: usize, stride: Option<usize>) -> u64 {
    match stride {
        Some(s) if s > 0 && len > 0 => len.div_ceil(s) as u64,
        _ => 1,
    }
}

/// The echo a load run sends to: one it starts itself, or one already running elsewhere
/// (`edge-loadgen rtp-echo` in another container or on another address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoPeer {
    /// Start an echo bound here (port 0: any free port) for the run.
    Own(SocketAddr),
    /// Use the echo at this address.
    At(SocketAddr),
}

/// A running (or borrowed) echo for the length of a run.
#[derive(Debug)]
pub struct EchoGuard {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<EchoStats, Error>>>,
}

impl EchoPeer {
    /// Starts the echo (for [`EchoPeer::Own`]).
    pub fn start(self) -> Result<EchoGuard, Error> {
        let stop = Arc::new(AtomicBool::new(false));
        Ok(match self {
            EchoPeer::Own(bind) => {
                let echo = Echo::bind(&[bind])?;
                let addr = echo.local_addrs()[0];
                EchoGuard {
                    addr,
                    thread: Some(echo.spawn(stop.clone())),
                    stop,
                }
            }
            EchoPeer::At(addr) => EchoGuard {
                addr,
                stop,
                thread: None,
            },
        })
    }
}

impl EchoGuard {
    /// Where the echo listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops an echo this run started; reports its failure, if any.
    pub fn finish(mut self) -> Result<(), Error> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r.map(|_| ()),
            Some(Err(_)) => Err(Error::EchoPanicked),
            None => Ok(()),
        }
    }
}

impl Drop for EchoGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
