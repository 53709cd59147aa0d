//! Binding session sockets inside a configured range on a configured address.
//!
//! The free ports of a range are [`edge_config::PortPool`]'s (the pool TURN's relay range
//! uses too): shuffled, and a released port reused last, so packets still in flight toward
//! an ended session do not land in a new one. The operating system stays the arbiter of
//! which ports are really free: a port whose bind fails with `EADDRINUSE` (another process,
//! another pool on the same address) is skipped, and returned to the pool once the search
//! is over. The sockets bound on ports of the pool carry a [`Lease`] that returns the ports
//! when they are dropped, after the sockets are closed, on every path.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

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

/// The free ports of a range, shared by every thread that binds sessions.
type SharedPool = Arc<Mutex<edge_config::PortPool>>;

/// [`Ports`], with a range's free ports.
#[derive(Debug)]
enum Source {
    Range(PortRange, SharedPool),
    Fixed(u16),
}

/// The sockets of one leg: RTP (or the one multiplexed socket), and RTCP on the next port
/// when not multiplexed.
#[derive(Debug)]
pub(crate) struct Bound {
    pub(crate) rtp: UdpSocket,
    pub(crate) rtcp: Option<UdpSocket>,
    /// Declared after the sockets, so it is dropped after they are closed.
    _lease: Lease,
}

/// The ports a [`Bound`] took from its range's pool, returned to it when dropped.
#[derive(Debug)]
struct Lease {
    /// The pool, or `None` for a fixed port, which no pool hands out.
    pool: Option<SharedPool>,
    port: u16,
    pair: bool,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(pool) = &self.pool {
            release(pool, self.port, self.pair);
        }
    }
}

/// The pool stays consistent whatever a panicking thread left behind (every update is
/// complete before anything can panic), so a poisoned lock is used as it is.
fn lock(pool: &SharedPool) -> MutexGuard<'_, edge_config::PortPool> {
    pool.lock().unwrap_or_else(PoisonError::into_inner)
}

fn release(pool: &SharedPool, port: u16, pair: bool) {
    let mut pool = lock(pool);
    pool.release(port);
    if pair {
        pool.release(port.wrapping_add(1));
    }
}

/// A side's local address and ports.
#[derive(Debug)]
pub(crate) struct PortPool {
    side: Side,
    ip: IpAddr,
    ports: Source,
    options: SocketOptions,
    /// The named enterprise connection this pool binds, if it is one.
    connection: Option<(String, ClientSidePort)>,
}

impl PortPool {
    /// A pool on `ip`; a range's ports are handed out in an order drawn from `seed`.
    pub(crate) fn new(
        side: Side,
        ip: IpAddr,
        ports: Ports,
        options: SocketOptions,
        seed: u64,
    ) -> Self {
        let ports = match ports {
            Ports::Range(range) => Source::Range(
                range,
                Arc::new(Mutex::new(edge_config::PortPool::new(range, seed))),
            ),
            Ports::Fixed(port) => Source::Fixed(port),
        };
        PortPool {
            side,
            ip,
            ports,
            options,
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
                0,
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
        let (range, pool) = match &self.ports {
            Source::Range(range, pool) => (*range, pool),
            &Source::Fixed(port) => {
                let (rtp, rtcp) =
                    self.bind_at(port, pair)
                        .map_err(|f| match (f, &self.connection) {
                            (Failure::InUse(_), Some((name, tuple))) => Error::ConnectionBusy {
                                name: name.clone(),
                                tuple: *tuple,
                            },
                            (f, _) => f.into_error(self.side),
                        })?;
                return Ok(Bound {
                    rtp,
                    rtcp,
                    _lease: Lease {
                        pool: None,
                        port,
                        pair,
                    },
                });
            }
        };
        // Ports the system refused stay out of the pool until the search is over, so none
        // is tried twice; the search ends, as each try takes a port.
        let mut refused = Vec::new();
        let outcome = loop {
            let taken = {
                let mut pool = lock(pool);
                if pair {
                    pool.take_pair()
                } else {
                    pool.take(false)
                }
            };
            let Some(port) = taken else {
                break Err(Error::PortsExhausted {
                    side: self.side,
                    ip: self.ip,
                    range,
                });
            };
            match self.bind_at(port, pair) {
                Ok((rtp, rtcp)) => {
                    break Ok(Bound {
                        rtp,
                        rtcp,
                        _lease: Lease {
                            pool: Some(pool.clone()),
                            port,
                            pair,
                        },
                    })
                }
                Err(Failure::InUse(_)) => refused.push(port),
                Err(failure) => {
                    refused.push(port);
                    break Err(failure.into_error(self.side));
                }
            }
        };
        for port in refused {
            release(pool, port, pair);
        }
        outcome
    }

    /// Binds `port` (and `port + 1` for a pair); on any failure every socket made here is
    /// closed again.
    fn bind_at(&self, port: u16, pair: bool) -> Result<(UdpSocket, Option<UdpSocket>), Failure> {
        let rtp = self.bind_port(port)?;
        let rtcp = if pair {
            let next = port.checked_add(1).ok_or(Failure::InUse(self.addr(port)))?;
            // On this error `rtp` is dropped, which frees its port.
            Some(self.bind_port(next)?)
        } else {
            None
        };
        Ok((rtp, rtcp))
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
            Source::Fixed(port) => self.bind_at(port, true).map(drop),
            Source::Range(..) => self.bind_port(0).map(drop),
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
