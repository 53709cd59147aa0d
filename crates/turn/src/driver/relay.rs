//! Relay sockets: one UDP socket per allocation, registered with the event loop under a token
//! derived from its port, so a readable event needs no lookup to find its socket.

use std::io;
use std::net::{IpAddr, SocketAddr};

use mio::net::UdpSocket;
use mio::{Interest, Registry, Token};

use crate::RelayPorts;

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

    /// Closes every socket (at shutdown).
    pub(crate) fn close_all(&mut self) {
        for port in 0..self.sockets.len() {
            let port = self.first_port.saturating_add(port as u16);
            self.close(port);
        }
    }
}

impl RelayPorts for Relays {
    fn open(&mut self, port: u16) -> io::Result<()> {
        let i = usize::from(
            port.checked_sub(self.first_port)
                .ok_or(io::ErrorKind::InvalidInput)?,
        );
        let slot = self.sockets.get_mut(i).ok_or(io::ErrorKind::InvalidInput)?;
        let mut socket = super::udp_socket(SocketAddr::new(self.address, port), self.buffer)?;
        self.registry.register(
            &mut socket,
            Token(RELAY_TOKEN_BASE + usize::from(port)),
            Interest::READABLE,
        )?;
        *slot = Some(socket);
        Ok(())
    }

    fn close(&mut self, port: u16) {
        let Some(i) = port.checked_sub(self.first_port).map(usize::from) else {
            return;
        };
        if let Some(mut socket) = self.sockets.get_mut(i).and_then(Option::take) {
            // Deregistering a socket that is about to be dropped cannot leak anything if it
            // fails: closing the descriptor removes it from the poller.
            let _ = self.registry.deregister(&mut socket);
        }
    }
}
