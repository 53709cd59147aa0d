//! How a socket is made: [`SocketOptions`], and for range binds [`PortRange`] and
//! [`PortOrder`].

use std::fmt;

use crate::Error;

/// Socket set-up. `SocketOptions::default()` suits the data plane; change fields with
/// struct-update syntax: `SocketOptions { gro: true, ..Default::default() }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketOptions {
    /// Set `SO_REUSEPORT` before binding so several workers can share one port (the kernel
    /// spreads flows over them). Ignored by [`crate::UdpSocket::bind_in_range`], where it would
    /// let two allocations share a port. Default off.
    pub reuse_port: bool,
    /// `SO_RCVBUF` to ask for, in bytes; the kernel caps it at `net.core.rmem_max` and
    /// [`crate::Capabilities::recv_buffer`] reports what it granted. `None` keeps the
    /// system default. Default 4 MiB.
    pub recv_buffer: Option<usize>,
    /// `SO_SNDBUF` to ask for, as for `recv_buffer`. Default 4 MiB.
    pub send_buffer: Option<usize>,
    /// Use UDP GSO when the kernel has it: explicit `segment_size` transmits and coalesced
    /// runs of equal-size datagrams go out as one send. Default on.
    pub gso: bool,
    /// Ask for UDP GRO: the kernel may hand several datagrams of one flow over as one train
    /// (see [`crate::RecvMeta::stride`]); batches then need [`crate::MAX_SLOT_SIZE`] slots.
    /// Default off, because a train's segments lie back to back, leaving no room to grow
    /// each one in place.
    pub gro: bool,
    /// Report each datagram's local destination address ([`crate::RecvMeta::dst_ip`]) and
    /// let transmits choose their source address (`IP_PKTINFO` / `IPV6_RECVPKTINFO`), which a
    /// socket bound to a wildcard address needs to answer from the right address. Default
    /// on; a socket bound to one address can turn it off and save a control message per
    /// datagram.
    pub pktinfo: bool,
    /// Receive each datagram's ECN codepoint ([`crate::RecvMeta::ecn`]). Default off. (A
    /// transmit's own `ecn` is sent on the batched path either way.)
    pub ecn: bool,
    /// For IPv6 sockets: refuse IPv4 (`IPV6_V6ONLY`). Off (dual-stack) by default, whatever
    /// the system's `bindv6only` says.
    pub ipv6_only: bool,
    /// Batched system calls or the portable one-datagram-per-call loop. Default
    /// [`IoMode::Batched`].
    pub io: IoMode,
}

impl Default for SocketOptions {
    fn default() -> Self {
        Self {
            reuse_port: false,
            recv_buffer: Some(4 << 20),
            send_buffer: Some(4 << 20),
            gso: true,
            gro: false,
            pktinfo: true,
            ecn: false,
            ipv6_only: false,
            io: IoMode::Batched,
        }
    }
}

/// Which system calls move the datagrams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IoMode {
    /// `recvmmsg`/`sendmmsg` with control messages (GSO, GRO, PKTINFO, ECN) on Linux; the
    /// portable loop elsewhere.
    Batched,
    /// One `recv_from`/`send_to` per datagram, no control messages: no GSO/GRO, no ECN, and
    /// `src_ip` honoured only when it is the address the socket is bound to. The reference
    /// the batched path is tested against, and a way out on kernels or sandboxes that
    /// mishandle the batched calls.
    Portable,
}

/// An inclusive range of UDP ports, e.g. the SRTP or RTP range a firewall opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    /// `first..=last`; refuses port 0 and reversed ranges.
    pub fn new(first: u16, last: u16) -> Result<Self, Error> {
        if first == 0 || first > last {
            return Err(Error::InvalidPortRange { first, last });
        }
        Ok(Self { first, last })
    }

    /// The first port.
    pub fn first(&self) -> u16 {
        self.first
    }

    /// The last port (included).
    pub fn last(&self) -> u16 {
        self.last
    }

    /// How many ports the range holds (at least 1).
    pub fn len(&self) -> usize {
        usize::from(self.last - self.first) + 1
    }

    /// Always false: a range holds at least one port. (Here for clippy's `len_without_is_empty`.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `port` lies in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }

    /// The ports in the given order; every port exactly once.
    pub fn ports(&self, order: PortOrder) -> impl Iterator<Item = u16> {
        let n = self.len() as u64;
        let (offset, stride) = match order {
            PortOrder::Ascending => (0, 1),
            PortOrder::Shuffled { seed } => {
                let h = mix(seed);
                (h % n, coprime_stride(h >> 32, n))
            }
        };
        let first = u64::from(self.first);
        // offset + k * stride (mod n) visits each residue once because gcd(stride, n) = 1;
        // the sum stays below 2^32 as n <= 65535. The result is first + (< n) <= last: no
        // truncation in the cast.
        (0..n).map(move |k| (first + (offset + k * stride) % n) as u16)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// A stride in `1..n` (1 when n is 1 or 2) with gcd(stride, n) = 1, derived from `seed`.
fn coprime_stride(seed: u64, n: u64) -> u64 {
    if n <= 2 {
        return 1;
    }
    let mut stride = seed % (n - 1) + 1;
    while gcd(stride, n) != 1 {
        // Terminates: stride = 1 is coprime to every n and is reached after wrapping.
        stride = stride % (n - 1) + 1;
    }
    stride
}

/// splitmix64's finaliser: nearby seeds give unrelated orders.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The order in which [`crate::UdpSocket::bind_in_range`] tries the ports of a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortOrder {
    /// Lowest first: the first free port.
    Ascending,
    /// A permutation of the range chosen by `seed` (the caller owns the randomness, so tests
    /// can replay it); every port is still tried once.
    Shuffled {
        /// Any value; equal seeds give equal orders.
        seed: u64,
    },
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn ranges_refuse_port_zero_and_reversal() {
        assert!(matches!(
            PortRange::new(0, 10),
            Err(Error::InvalidPortRange { first: 0, last: 10 })
        ));
        assert!(PortRange::new(11, 10).is_err());
        let r = PortRange::new(40000, 40000).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r.to_string(), "40000-40000");
    }

    #[test]
    fn every_order_visits_every_port_once() {
        for (first, last) in [(1, 1), (5, 6), (100, 199), (40000, 40999), (1, 65535)] {
            let r = PortRange::new(first, last).unwrap();
            for order in [
                PortOrder::Ascending,
                PortOrder::Shuffled { seed: 0 },
                PortOrder::Shuffled { seed: 7 },
                PortOrder::Shuffled { seed: u64::MAX },
            ] {
                let mut seen = vec![false; r.len()];
                for p in r.ports(order) {
                    assert!(r.contains(p));
                    let i = usize::from(p - first);
                    assert!(!seen[i], "{p} twice in {r} {order:?}");
                    seen[i] = true;
                }
                assert!(seen.iter().all(|s| *s), "{r} {order:?} missed a port");
            }
        }
    }

    #[test]
    fn shuffled_orders_differ_by_seed_and_repeat_by_seed() {
        let r = PortRange::new(40000, 40999).unwrap();
        let a: Vec<u16> = r.ports(PortOrder::Shuffled { seed: 1 }).collect();
        let b: Vec<u16> = r.ports(PortOrder::Shuffled { seed: 1 }).collect();
        let c: Vec<u16> = r.ports(PortOrder::Shuffled { seed: 99_999 }).collect();
        let asc: Vec<u16> = r.ports(PortOrder::Ascending).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, asc);
        assert_eq!(asc[0], 40000);
    }
}
