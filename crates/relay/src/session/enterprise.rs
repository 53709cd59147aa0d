//! The enterprise leg of a session: where its media goes, which sources it accepts
//! (strict mode, or symmetric-RTP latching), and its SDES-SRTP contexts.

use std::net::SocketAddr;

use edge_srtp::{Inbound, Outbound};

/// The enterprise leg's addressing and crypto.
pub(crate) struct Enterprise {
    /// RTCP shares the RTP socket and address (RFC 5761).
    pub(crate) mux: bool,
    /// Accept media only from the configured remote.
    pub(crate) strict: bool,
    /// Whether the leg is SDES-SRTP (then both contexts are needed to forward).
    pub(crate) sdes: bool,
    /// The configured remote: RTP and (without mux) RTCP.
    remote: Option<(SocketAddr, SocketAddr)>,
    /// Sources of valid media seen last (symmetric RTP), RTP and RTCP socket.
    latched: [Option<SocketAddr>; 2],
    /// Unprotects what the enterprise sends (the remote's SDES key).
    pub(crate) inbound: Option<Inbound>,
    /// Protects what the relay sends (the relay's SDES key).
    pub(crate) outbound: Option<Outbound>,
}

impl Enterprise {
    pub(crate) fn new(mux: bool, strict: bool, outbound: Option<Outbound>) -> Self {
        Enterprise {
            mux,
            strict,
            sdes: outbound.is_some(),
            remote: None,
            latched: [None; 2],
            inbound: None,
            outbound,
        }
    }

    /// Sets (or changes) the remote. `rtcp` defaults to the RTP port + 1 (or the RTP
    /// address with mux). Latched sources are forgotten: the new remote is where media goes
    /// until media arrives from elsewhere.
    pub(crate) fn set_remote(
        &mut self,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
        inbound: Option<Inbound>,
    ) {
        let rtcp = if self.mux {
            rtp
        } else {
            rtcp.unwrap_or_else(|| SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1)))
        };
        self.remote = Some((rtp, rtcp));
        self.latched = [None; 2];
        if inbound.is_some() {
            self.inbound = inbound;
        }
    }

    /// Where RTP (`rtcp == false`) or RTCP goes: the latched source, else the remote.
    pub(crate) fn destination(&self, rtcp: bool) -> Option<SocketAddr> {
        let socket = usize::from(rtcp && !self.mux);
        self.latched[socket].or(self.remote.map(
            |(rtp, rtcp_addr)| {
                if socket == 1 {
                    rtcp_addr
                } else {
                    rtp
                }
            },
        ))
    }

    /// Whether a packet from `from` on the RTP (`rtcp_socket == false`) or RTCP socket may
    /// be accepted: anything when not strict, only the remote's address when strict.
    pub(crate) fn accepts(&self, from: SocketAddr, rtcp_socket: bool) -> bool {
        if !self.strict {
            return true;
        }
        match self.remote {
            Some((rtp, rtcp)) => from == if rtcp_socket { rtcp } else { rtp },
            None => false,
        }
    }

    /// Records `from` as the source of valid media on a socket; returns the new RTP
    /// destination when it changed.
    pub(crate) fn latch(&mut self, from: SocketAddr, rtcp_socket: bool) -> Option<SocketAddr> {
        let slot = &mut self.latched[usize::from(rtcp_socket)];
        if *slot == Some(from) {
            return None;
        }
        *slot = Some(from);
        (!rtcp_socket).then_some(from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    #[test]
    fn rtcp_goes_to_the_next_port_or_the_rtp_address_with_mux() {
        let mut e = Enterprise::new(false, false, None);
        assert_eq!(e.destination(false), None);
        e.set_remote(a(5000), None, None);
        assert_eq!(e.destination(false), Some(a(5000)));
        assert_eq!(e.destination(true), Some(a(5001)));
        e.set_remote(a(5000), Some(a(7000)), None);
        assert_eq!(e.destination(true), Some(a(7000)));
        let mut m = Enterprise::new(true, false, None);
        m.set_remote(a(5000), Some(a(7000)), None);
        assert_eq!(m.destination(true), Some(a(5000)));
    }

    #[test]
    fn latching_follows_the_source_unless_strict() {
        let mut e = Enterprise::new(false, false, None);
        e.set_remote(a(5000), None, None);
        assert!(e.accepts(a(6000), false));
        assert_eq!(e.latch(a(6000), false), Some(a(6000)));
        assert_eq!(e.latch(a(6000), false), None);
        assert_eq!(e.destination(false), Some(a(6000)));
        assert_eq!(e.destination(true), Some(a(5001)));
        assert_eq!(e.latch(a(6001), true), None);
        assert_eq!(e.destination(true), Some(a(6001)));

        let mut s = Enterprise::new(false, true, None);
        assert!(!s.accepts(a(5000), false));
        s.set_remote(a(5000), None, None);
        assert!(s.accepts(a(5000), false));
        assert!(!s.accepts(a(6000), false));
        assert!(s.accepts(a(5001), true));
        assert!(!s.accepts(a(5000), true));
    }
}
