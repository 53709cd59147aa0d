//! Port pools: binding session sockets inside a configured range on a configured address.
//!
//! The operating system is the source of truth for which ports are taken: a pool tries
//! ports in turn and skips those whose bind fails with `EADDRINUSE`, so a port held by
//! another process is never double-booked, and a port returns to the pool simply by its
//! socket being closed (dropped) on every path. Each pool keeps a cursor that moves past
//! the last port it handed out, so a port just freed is the last to be reused: packets still
//! in flight toward an ended session do not land in a new one.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use edge_config::PortRange;
use edge_udp::{SocketOptions, UdpSocket};

use crate::{ClientSidePort, Error, Side};

/// Where a pool binds: anywhere in a range, or exactly one port.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ports {
    /// Any free port (or even/odd pair) of the range.
    Range(PortRange),
    /// Exactly this port (and the next for RTCP).
    Fixed(u16),
}

/// The sockets of one leg: RTP, and RTCP on the next port when not multiplexed.
#[derive(Debug)]
pub(crate) struct Bound {
    pub(crate) rtp: UdpSocket,
    pub(crate) rtcp: Option<UdpSocket>,
}

/// A side's local address and ports.
#[derive(Debug)]
pub(crate) struct PortPool {
    side: Side,
    ip: IpAddr,
    ports: Ports,
    options: SocketOptions,
    /// Offset into the range where the next search starts.
    cursor: AtomicUsize,
    /// The named enterprise connection this pool binds, if it is one.
    connection: Option<(String, ClientSidePort)>,
}

impl PortPool {
    pub(crate) fn new(side: Side, ip: IpAddr, ports: Ports, options: SocketOptions) -> Self {
        PortPool {
            side,
            ip,
            ports,
            options,
            cursor: AtomicUsize::new(0),
            connection: None,
        }
    }

    /// The pool of the named enterprise connection `name`: exactly its tuple.
    pub(crate) fn connection(name: &str, tuple: ClientSidePort, options: SocketOptions) -> Self {
        PortPool {
            connection: Some((name.to_owned(), tuple)),
            ..Self::new(
                Side::Enterprise,
                tuple.address(),
                Ports::Fixed(tuple.port()),
                options,
            )
        }
    }

    /// The local address.
    pub(crate) fn ip(&self) -> IpAddr {
        self.ip
    }

    /// Binds one socket (`pair == false`) on any free port, or an RTP socket on an even
    /// port with an RTCP socket on the next (`pair == true`).
    ///
    /// # Errors
    /// [`Error::PortsExhausted`] when every candidate is taken; [`Error::ConnectionBusy`]
    /// when a named connection's tuple is in use; [`Error::Bind`] for any other failure
    /// (address not local, permission) or a fixed transport-port in use.
    pub(crate) fn bind(&self, pair: bool) -> Result<Bound, Error> {
        let range = match self.ports {
            Ports::Fixed(port) => {
                return self
                    .bind_at(port, pair)
                    .map_err(|f| match (f, &self.connection) {
                        (Failure::InUse(_), Some((name, tuple))) => Error::ConnectionBusy {
                            name: name.clone(),
                            tuple: *tuple,
                        },
                        (f, _) => f.into_error(self.side),
                    })
            }
            Ports::Range(range) => range,
        };
        let n = range.len();
        let start = self.cursor.load(Relaxed) % n;
        for k in 0..n {
            let offset = (start + k) % n;
            // `offset < n <= 65535`, so the port stays within the range.
            let port = range.first() + offset as u16;
            if pair && (port % 2 != 0 || port == range.last()) {
                continue;
            }
            match self.bind_at(port, pair) {
                Ok(bound) => {
                    self.cursor
                        .store(offset + if pair { 2 } else { 1 }, Relaxed);
                    return Ok(bound);
                }
                Err(Failure::InUse(_)) => {}
                Err(failure) => return Err(failure.into_error(self.side)),
            }
        }
        Err(Error::PortsExhausted {
            side: self.side,
            ip: self.ip,
            range,
        })
    }

    /// Binds `port` (and `port + 1` for a pair); on any failure every socket made here is
    /// closed again.
    fn bind_at(&self, port: u16, pair: bool) -> Result<Bound, Failure> {
        let rtp = self.bind_port(port)?;
        let rtcp = if pair {
            let next = port.checked_add(1).ok_or(Failure::InUse(self.addr(port)))?;
            // On this error `rtp` is dropped, which frees its port.
            Some(self.bind_port(next)?)
        } else {
            None
        };
        Ok(Bound { rtp, rtcp })
    }

    fn bind_port(&self, port: u16) -> Result<UdpSocket, Failure> {
        let addr = self.addr(port);
        UdpSocket::bind(addr, &self.options).map_err(|e| match &e {
            edge_udp::Error::Bind { source, .. } if source.kind() == io::ErrorKind::AddrInUse => {
                Failure::InUse(addr)
            }
            _ => Failure::Other(addr, e),
        })
    }

    fn addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.ip, port)
    }

    /// Checks at start-up that the address is local and, for a fixed port, that the port
    /// and the next are free now.
    pub(crate) fn check(&self) -> Result<(), Error> {
        match self.ports {
            Ports::Fixed(port) => self.bind_at(port, true).map(drop),
            Ports::Range(_) => self.bind_port(0).map(drop),
        }
        .map_err(|f| f.into_error(self.side))
    }
}

/// Why one bind attempt failed.
enum Failure {
    InUse(SocketAddr),
    Other(SocketAddr, edge_udp::Error),
}

impl Failure {
    fn into_error(self, side: Side) -> Error {
        match self {
            Failure::InUse(addr) => Error::Bind {
                side,
                addr,
                source: edge_udp::Error::Bind {
                    addr,
                    source: io::Error::from(io::ErrorKind::AddrInUse),
                },
            },
            Failure::Other(addr, source) => Error::Bind { side, addr, source },
        }
    }
}
