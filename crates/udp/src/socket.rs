//! [`UdpSocket`]: a nonblocking UDP socket, probed once, with batched `recv` and `send`.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::stats::Counters;
use crate::{portable, Error, IoMode, RecvBatch, SocketOptions, SocketStats, Transmit};

/// What a socket turned out to support, probed once when it was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The system calls in use: [`IoMode::Portable`] when asked for, or on systems other than
    /// Linux.
    pub io: IoMode,
    /// Datagrams one GSO send may carry; 1 without GSO. Drops to 1 for good if the kernel
    /// fails a GSO send with `EIO` (a device without checksum offload).
    pub max_gso_segments: usize,
    /// Whether GRO is on (asked for and granted).
    pub gro: bool,
    /// Whether each datagram's local destination address is reported
    /// ([`crate::RecvMeta::dst_ip`]) and transmits may choose their source address.
    pub pktinfo: bool,
    /// Whether ECN codepoints are received.
    pub ecn: bool,
    /// `SO_RCVBUF` as granted by the kernel, in bytes (Linux reports twice what it will use
    /// for data, the rest being bookkeeping).
    pub recv_buffer: usize,
    /// `SO_SNDBUF` as granted by the kernel, in bytes.
    pub send_buffer: usize,
}

/// A nonblocking UDP socket with batched receive and send.
///
/// Make one with [`bind`](Self::bind) or [`from_std`](Self::from_std); each probes the kernel once ([`capabilities`](Self::capabilities)).
/// Then the two I/O calls, [`recv`](Self::recv) and [`send`](Self::send), which never block,
/// allocate or lock; [`stats`](Self::stats) reads the counters. The socket closes when
/// dropped. Register it with an event loop through [`as_std`](Self::as_std) (or its raw fd).
pub struct UdpSocket {
    socket: std::net::UdpSocket,
    local: SocketAddr,
    caps: Capabilities,
    /// `caps.max_gso_segments`, lowered to 1 if a GSO send fails with `EIO`.
    gso_segments: AtomicUsize,
    counters: Counters,
}

impl UdpSocket {
    /// Binds a socket to `addr` with `opts` (`SO_REUSEPORT` when asked) and probes it.
    pub fn bind(addr: SocketAddr, opts: &SocketOptions) -> Result<Self, Error> {
        let socket = new_socket(addr, opts)?;
        if opts.reuse_port {
            set_reuse_port(&socket, addr)?;
        }
        socket
            .bind(&addr.into())
            .map_err(|source| Error::Bind { addr, source })?;
        Self::configure(socket.into(), opts, addr)
    }

    /// Takes over a bound socket made elsewhere, makes it nonblocking and probes it with
    /// `opts` (`reuse_port` and `ipv6_only` no longer apply).
    pub fn from_std(socket: std::net::UdpSocket, opts: &SocketOptions) -> Result<Self, Error> {
        let addr = socket.local_addr().map_err(|source| Error::Option {
            option: "getsockname",
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
        Self::configure(socket, opts, addr)
    }

    fn configure(
        socket: std::net::UdpSocket,
        opts: &SocketOptions,
        addr: SocketAddr,
    ) -> Result<Self, Error> {
        let option_error = |option| {
            move |source| Error::Option {
                option,
                addr,
                source,
            }
        };
        socket
            .set_nonblocking(true)
            .map_err(option_error("O_NONBLOCK"))?;
        let local = socket.local_addr().map_err(option_error("getsockname"))?;
        let sock = SockRef::from(&socket);
        // The kernel caps these at net.core.[rw]mem_max without failing; what it granted is
        // read back below and reported.
        if let Some(size) = opts.recv_buffer {
            sock.set_recv_buffer_size(size)
                .map_err(option_error("SO_RCVBUF"))?;
        }
        if let Some(size) = opts.send_buffer {
            sock.set_send_buffer_size(size)
                .map_err(option_error("SO_SNDBUF"))?;
        }
        let recv_buffer = sock.recv_buffer_size().map_err(option_error("SO_RCVBUF"))?;
        let send_buffer = sock.send_buffer_size().map_err(option_error("SO_SNDBUF"))?;

        let caps = probe(&socket, local, opts, recv_buffer, send_buffer);
        Ok(Self {
            socket,
            local,
            gso_segments: AtomicUsize::new(caps.max_gso_segments),
            caps,
            counters: Counters::new(),
        })
    }

    /// The address the socket is bound to (with the port the kernel chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// What the socket supports (see [`Capabilities`]).
    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_gso_segments: self.gso_segments.load(Relaxed),
            ..self.caps
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> SocketStats {
        self.counters.snapshot()
    }

    /// The underlying socket, e.g. to register it with an event loop. Receiving or sending
    /// through it directly bypasses the counters.
    pub fn as_std(&self) -> &std::net::UdpSocket {
        &self.socket
    }

    /// Receives what is queued, up to `batch.capacity()` datagrams, into `batch` (one
    /// `recvmmsg` on Linux). Returns `batch.len()`.
    ///
    /// - `Err(WouldBlock)`: nothing was queued; wait for readability.
    /// - `Ok(0)`: datagrams arrived but none was usable (all larger than a slot, counted
    ///   in [`SocketStats::truncated`]) or only late ICMP errors were pending
    ///   ([`SocketStats::async_errors`]); call again.
    /// - Other errors concern the socket itself, not a datagram.
    ///
    /// [`RecvBatch::drained`] then tells whether the queue was found empty, so that an
    /// edge-triggered loop need not call again just to see `WouldBlock`.
    pub fn recv(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        self.receive(batch, false)
    }

    /// Like [`recv`](Self::recv), but keeps the datagrams already in `batch` and fills only
    /// its free slots after them ([`RecvBatch::free_slots`]), so one batch can gather
    /// datagrams from several sockets before they are all sent on. Returns how many
    /// datagrams it added; with no free slot it receives nothing and returns `Ok(0)`.
    pub fn recv_append(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        self.receive(batch, true)
    }

    fn receive(&self, batch: &mut RecvBatch, append: bool) -> io::Result<usize> {
        match self.caps.io {
            #[cfg(target_os = "linux")]
            IoMode::Batched => {
                crate::mmsg::recv(raw_fd(&self.socket), batch, append, &self.counters)
            }
            _ => portable::recv(&self.socket, batch, append, &self.counters),
        }
    }

    /// Sends `transmits` in order (`sendmmsg` calls of up to [`crate::MAX_BATCH`] messages on
    /// Linux, each consecutive run of equal-size datagrams to one destination coalesced into
    /// one GSO message when GSO is on). Returns how many transmits, from the front, are done.
    ///
    /// - `Ok(transmits.len())`: all done. A datagram the kernel refused (`EMSGSIZE`, no
    ///   route, wrong address family, ...) counts as done: it is dropped, counted in
    ///   [`SocketStats::send_dropped`] and logged rate-limited; the rest still go out.
    /// - `Ok(n < len)`: the socket buffer filled after `n`; wait for writability and send
    ///   `&transmits[n..]`.
    /// - `Err(WouldBlock)`: the buffer was full from the start.
    /// - Other errors concern the socket itself (closed, not a socket).
    ///
    /// A late `ECONNREFUSED` (from an ICMP error about an earlier datagram) is counted in
    /// [`SocketStats::async_errors`] and the datagram it interrupted is sent again, once.
    pub fn send(&self, transmits: &[Transmit<'_>]) -> io::Result<usize> {
        match self.caps.io {
            #[cfg(target_os = "linux")]
            IoMode::Batched => crate::mmsg::send(
                raw_fd(&self.socket),
                self.local.is_ipv6(),
                &self.gso_segments,
                transmits,
                &self.counters,
            ),
            _ => portable::send(&self.socket, self.local, transmits, &self.counters),
        }
    }
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local)
            .field("capabilities", &self.capabilities())
            .finish()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for UdpSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.socket.as_raw_fd()
    }
}

#[cfg(target_os = "linux")]
fn raw_fd(socket: &std::net::UdpSocket) -> std::os::fd::RawFd {
    std::os::fd::AsRawFd::as_raw_fd(socket)
}

fn new_socket(addr: SocketAddr, opts: &SocketOptions) -> Result<Socket, Error> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(|source| Error::Create { addr, source })?;
    if addr.is_ipv6() {
        socket
            .set_only_v6(opts.ipv6_only)
            .map_err(|source| Error::Option {
                option: "IPV6_V6ONLY",
                addr,
                source,
            })?;
    }
    Ok(socket)
}

#[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
fn set_reuse_port(socket: &Socket, addr: SocketAddr) -> Result<(), Error> {
    socket.set_reuse_port(true).map_err(|source| Error::Option {
        option: "SO_REUSEPORT",
        addr,
        source,
    })
}

#[cfg(not(all(unix, not(any(target_os = "solaris", target_os = "illumos")))))]
fn set_reuse_port(_socket: &Socket, addr: SocketAddr) -> Result<(), Error> {
    Err(Error::Option {
        option: "SO_REUSEPORT",
        addr,
        source: io::Error::from(io::ErrorKind::Unsupported),
    })
}

#[cfg(target_os = "linux")]
fn probe(
    socket: &std::net::UdpSocket,
    local: SocketAddr,
    opts: &SocketOptions,
    recv_buffer: usize,
    send_buffer: usize,
) -> Capabilities {
    use std::os::fd::AsFd;
    let portable = Capabilities {
        io: IoMode::Portable,
        max_gso_segments: 1,
        gro: false,
        pktinfo: false,
        ecn: false,
        recv_buffer,
        send_buffer,
    };
    if opts.io == IoMode::Portable {
        return portable;
    }
    let p = crate::probe::probe(socket.as_fd(), local.is_ipv6(), opts);
    Capabilities {
        io: IoMode::Batched,
        max_gso_segments: p.gso_segments,
        gro: p.gro,
        pktinfo: p.pktinfo,
        ecn: p.ecn,
        ..portable
    }
}

#[cfg(not(target_os = "linux"))]
fn probe(
    _socket: &std::net::UdpSocket,
    _local: SocketAddr,
    _opts: &SocketOptions,
    recv_buffer: usize,
    send_buffer: usize,
) -> Capabilities {
    Capabilities {
        io: IoMode::Portable,
        max_gso_segments: 1,
        gro: false,
        pktinfo: false,
        ecn: false,
        recv_buffer,
        send_buffer,
    }
}
