//! The enterprise leg of a session: where its media goes, which sources it accepts, and its
//! SDES-SRTP contexts.
//!
//! Strict mode accepts media only from the configured remote. Otherwise the leg latches
//! (symmetric RTP, RFC 4961; latching as RFC 7362 describes it): the first source of valid
//! media on a socket becomes where that socket's media goes, and from then on only that
//! source is accepted, so a stray or hostile sender cannot take over a running call. A new
//! remote from the control plane (a re-offer, a transfer) releases the latch; the previous
//! remote's and latched addresses are refused from then on (the leg moved away from them).

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
    /// The latched sources (symmetric RTP) of the RTP and RTCP sockets.
    latched: [Option<SocketAddr>; 2],
    /// Addresses the leg moved away from (the last move's remote and latched sources).
    retired: [Option<SocketAddr>; 4],
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
            retired: [None; 4],
            inbound: None,
            outbound,
        }
    }

    /// Sets (or changes) the remote. `rtcp` defaults to the RTP port + 1 (or the RTP
    /// address with mux). Latched sources are forgotten: the new remote is where media goes
    /// until media arrives from elsewhere; the previous remote's and latched addresses that
    /// the new remote does not use again are refused from now on.
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
        let (old_rtp, old_rtcp) = self.remote.unzip();
        let old = [old_rtp, old_rtcp, self.latched[0], self.latched[1]];
        if old.iter().any(Option::is_some) {
            self.retired = old.map(|a| a.filter(|&a| a != rtp && a != rtcp));
        }
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
    /// be accepted: in strict mode only from the remote's address; otherwise from the
    /// latched source, or from anyone while nothing is latched.
    pub(crate) fn accepts(&self, from: SocketAddr, rtcp_socket: bool) -> bool {
        if self.retired.contains(&Some(from)) {
            return false;
        }
        if self.strict {
            return match self.remote {
                Some((rtp, rtcp)) => from == if rtcp_socket { rtcp } else { rtp },
                None => false,
            };
        }
        self.latched[usize::from(rtcp_socket)].is_none_or(|latched| latched == from)
    }

    /// Latches `from`, the source of valid media on a socket, if nothing is latched there
    /// yet; returns the new RTP destination when it changed.
    pub(crate) fn latch(&mut self, from: SocketAddr, rtcp_socket: bool) -> Option<SocketAddr> {
        let slot = &mut self.latched[usize::from(rtcp_socket)];
        if self.strict || slot.is_some() {
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
    fn latching_takes_the_first_source_and_holds_it_unless_strict() {
        let mut e = Enterprise::new(false, false, None);
        e.set_remote(a(5000), None, None);
        assert!(e.accepts(a(6000), false));
        assert_eq!(e.latch(a(6000), false), Some(a(6000)));
        assert_eq!(e.destination(false), Some(a(6000)));
        // Held: others are refused and cannot move it.
        assert!(!e.accepts(a(7000), false));
        assert_eq!(e.latch(a(7000), false), None);
        assert_eq!(e.destination(false), Some(a(6000)));
        assert_eq!(e.destination(true), Some(a(5001)));
        assert_eq!(e.latch(a(6001), true), None);
        assert_eq!(e.destination(true), Some(a(6001)));
        // A new remote releases the latch; the addresses moved away from are refused.
        e.set_remote(a(8000), None, None);
        assert!(e.accepts(a(7000), false));
        assert!(!e.accepts(a(6000), false));
        assert!(!e.accepts(a(5000), false));
        assert_eq!(e.destination(false), Some(a(8000)));
        // Moving back to an address takes it off the refused list.
        e.set_remote(a(5000), None, None);
        assert!(e.accepts(a(5000), false));

        let mut s = Enterprise::new(false, true, None);
        assert!(!s.accepts(a(5000), false));
        s.set_remote(a(5000), None, None);
        assert!(s.accepts(a(5000), false));
        assert!(!s.accepts(a(6000), false));
        assert!(s.accepts(a(5001), true));
        assert!(!s.accepts(a(5000), true));
    }
}
