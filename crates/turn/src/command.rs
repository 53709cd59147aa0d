//! What the core asks its driver to do with sockets: open and close relay sockets. An
//! Allocate waits for its relay socket to open, and is answered when the driver reports the
//! outcome (RFC 8656 §7.2: success with the relayed address, or 508 when no port could be
//! opened).

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use edge_stun::IntegrityKey;

use crate::request::{secs, Head, Outcome};
use crate::server::{Event, Server};
use crate::transport::FiveTuple;

/// A relay-socket operation for the driver, from [`Server::poll_command`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Bind a UDP socket on `port` of the relay address
    /// ([`ServerConfig::relay_address`](crate::ServerConfig::relay_address)), then report
    /// the outcome with [`Server::handle_relay_opened`].
    OpenRelay {
        /// The relay port.
        port: u16,
    },
    /// Close the relay socket on `port` (one the driver opened). Nothing to report: the
    /// port is back in the pool from the moment the command is polled, so close it before
    /// feeding the core anything else.
    CloseRelay {
        /// The relay port.
        port: u16,
    },
}

/// An Allocate that passed every check, charged to its user, waiting for its relay socket.
#[derive(Debug)]
pub(crate) struct Opening {
    /// The port asked for in the last [`Command::OpenRelay`].
    port: u16,
    tuple: FiveTuple,
    username: String,
    head: Head,
    key: IntegrityKey,
    lifetime: Duration,
    even: bool,
    /// Ports the system refused for it: back to the pool once it is settled, so none is
    /// tried twice.
    refused: Vec<u16>,
    /// Its client went away (a TCP/TLS connection closed, a shutdown) before the socket
    /// opened: nothing is answered, and the socket is closed if it opens.
    abandoned: bool,
}

impl Opening {
    pub(crate) fn new(
        port: u16,
        tuple: FiveTuple,
        username: &str,
        head: Head,
        key: IntegrityKey,
        lifetime: Duration,
        even: bool,
    ) -> Self {
        Self {
            port,
            tuple,
            username: username.to_owned(),
            head,
            key,
            lifetime,
            even,
            refused: Vec::new(),
            abandoned: false,
        }
    }

    pub(crate) fn tuple(&self) -> &FiveTuple {
        &self.tuple
    }

    pub(crate) fn txid(&self) -> [u8; 12] {
        self.head.tid.0
    }

    pub(crate) fn abandon(&mut self) {
        self.abandoned = true;
    }
}

impl Server {
    /// The next relay socket to open or close, oldest first. A driver drains this after
    /// every input ([`handle_client`](Server::handle_client),
    /// [`handle_timeout`](Server::handle_timeout),
    /// [`connection_closed`](Server::connection_closed),
    /// [`release_banned`](Server::release_banned), [`close_all`](Server::close_all) and
    /// [`handle_relay_opened`](Server::handle_relay_opened) itself), carrying out each
    /// command before polling the next.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.allocations.take_command()
    }

    /// The outcome of a [`Command::OpenRelay`] for `port`: the socket's bound address, or
    /// the error that kept it from binding.
    ///
    /// Bound: the allocation is created and the success response to its Allocate is written
    /// into `reply`. Refused (the port is in use by another program, say): the next free port
    /// is tried with another [`Command::OpenRelay`], and when none is left the Allocate gets
    /// 508 (Insufficient Capacity) and every port it tried goes back to the pool. Returns the
    /// client to send `reply[..len]` to, if there is an answer now. An outcome for a port
    /// the core did not ask to open is ignored.
    pub fn handle_relay_opened(
        &mut self,
        now: Instant,
        port: u16,
        outcome: io::Result<SocketAddr>,
        reply: &mut [u8],
    ) -> Option<(FiveTuple, usize)> {
        let Some(i) = self.openings.iter().position(|o| o.port == port) else {
            tracing::debug!(port, "relay socket outcome for a port not being opened");
            return None;
        };
        // A socket bound elsewhere is the driver's mistake: whatever it opened is filed under
        // `port`, so it is closed, and the port goes back to the pool as that close is taken.
        let misbound = matches!(&outcome, Ok(bound) if bound.port() != port);
        if misbound {
            self.allocations.push_command(Command::CloseRelay { port });
        }
        let ledger = self.allocations.ledger().clone();
        let mut opening = match outcome {
            Ok(_) if !misbound => self.openings.swap_remove(i),
            refused => {
                match refused {
                    Err(e) => tracing::debug!(port, error = %e, "relay port refused by the system"),
                    Ok(bound) => tracing::warn!(port, %bound, "relay socket bound to another port"),
                }
                let o = &mut self.openings[i];
                if !misbound {
                    o.refused.push(port);
                }
                if !o.abandoned {
                    if let Some(next) = ledger.next_port(o.even) {
                        o.port = next;
                        self.allocations
                            .push_command(Command::OpenRelay { port: next });
                        return None;
                    }
                }
                let opening = self.openings.swap_remove(i);
                ledger.release_ports(&opening.refused);
                ledger.release_user(&opening.username);
                if opening.abandoned {
                    return None;
                }
                let len = self.answer(reply, &opening, Outcome::Error(508))?;
                return Some((opening.tuple, len));
            }
        };
        ledger.release_ports(&std::mem::take(&mut opening.refused));
        if opening.abandoned {
            ledger.release_user(&opening.username);
            self.allocations.push_command(Command::CloseRelay { port });
            return None;
        }
        let Opening {
            tuple,
            ref username,
            head,
            lifetime,
            ..
        } = opening;
        self.allocations
            .insert(now, tuple, username, head.tid.0, lifetime, port);
        let relayed = self.relayed_address(port);
        self.push_event(Event::AllocationCreated {
            tuple,
            relay: relayed,
            username: username.clone(),
        });
        let success = Outcome::Success {
            lifetime: Some(secs(lifetime)),
            relayed: Some(relayed),
        };
        let len = self.answer(reply, &opening, success)?;
        Some((tuple, len))
    }

    /// The signed answer to an opening's Allocate.
    fn answer(&mut self, reply: &mut [u8], opening: &Opening, outcome: Outcome) -> Option<usize> {
        self.encode_answer(
            &opening.head,
            reply,
            &opening.tuple,
            outcome,
            Some(&opening.key),
        )
    }
}
