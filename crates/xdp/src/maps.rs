//! The map records shared with bpf/turn_xdp.c: the same layout, field for field (`repr(C)`,
//! no implicit padding). Addresses and ports are stored in network byte order, as in the
//! packet.

use std::net::{Ipv4Addr, SocketAddrV4};

/// Key of the `channels` map: a client's 5-tuple (UDP implied) and a channel number.
/// Ordered client first, so one client's channels are one range.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ChannelKey {
    pub(crate) client_ip: u32,
    pub(crate) server_ip: u32,
    pub(crate) client_port: u16,
    pub(crate) server_port: u16,
    pub(crate) number: u16,
    pub(crate) pad: u16,
}

/// Value of the `channels` map: where the payload goes, and until when.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChannelVal {
    pub(crate) relay_ip: u32,
    pub(crate) peer_ip: u32,
    pub(crate) relay_port: u16,
    pub(crate) peer_port: u16,
    /// The channel's index into `stats` and `hops`.
    pub(crate) slot: u32,
    pub(crate) until_ns: u64,
}

/// Key of the `peers` map: a peer's address and the relay address it sends to.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerKey {
    pub(crate) peer_ip: u32,
    pub(crate) relay_ip: u32,
    pub(crate) peer_port: u16,
    pub(crate) relay_port: u16,
}

/// Value of the `peers` map: the client and channel to frame the datagram for.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerVal {
    pub(crate) client_ip: u32,
    pub(crate) server_ip: u32,
    pub(crate) client_port: u16,
    pub(crate) server_port: u16,
    pub(crate) number: u16,
    pub(crate) pad: u16,
    /// The channel's index into `stats` and `hops`.
    pub(crate) slot: u32,
    pub(crate) pad2: u32,
    pub(crate) until_ns: u64,
}

/// A channel's element of the per-CPU `stats` map: what the program relayed for it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ChannelStats {
    pub(crate) to_peer_packets: u64,
    pub(crate) to_peer_bytes: u64,
    pub(crate) to_client_packets: u64,
    pub(crate) to_client_bytes: u64,
}

/// A channel's element of the `hops` map (its client's and its peer's learned next hops,
/// written by the program): userspace only zeroes it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Hops {
    pub(crate) bytes: [u64; 4],
}

/// The one element of the per-CPU `counters` map: the program's totals, indexed as
/// `enum counter` in the C source.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) counters: [u64; 8],
}

/// Value of the `bans` map (keyed by the IPv4 source in network order).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BanVal {
    pub(crate) until_ns: u64,
}

/// The one entry of the `config` map.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConfigVal {
    pub(crate) interval_ns: u64,
    pub(crate) tolerance_ns: u64,
    pub(crate) listen_ports: [u16; crate::MAX_LISTEN_PORTS],
    pub(crate) relay_min: u16,
    pub(crate) relay_max: u16,
    pub(crate) mtu: u16,
    /// Non-zero while the `bans` map holds any source (zero: the program skips the lookup).
    pub(crate) bans: u16,
}

// SAFETY: each type is repr(C), made of integers only, laid out without implicit padding
// (explicit `pad` fields fill every gap: sizes 16, 24, 12, 32, 8, 32, 32, 32, 64 bytes), so every bit
// pattern is a valid value and every byte is initialised, as aya::Pod requires. The layout
// test in this module checks the sizes.
unsafe impl aya::Pod for ChannelKey {}
// SAFETY: as above.
unsafe impl aya::Pod for ChannelVal {}
// SAFETY: as above.
unsafe impl aya::Pod for PeerKey {}
// SAFETY: as above.
unsafe impl aya::Pod for PeerVal {}
// SAFETY: as above.
unsafe impl aya::Pod for BanVal {}
// SAFETY: as above.
unsafe impl aya::Pod for ConfigVal {}
// SAFETY: as above.
unsafe impl aya::Pod for ChannelStats {}
// SAFETY: as above.
unsafe impl aya::Pod for Hops {}
// SAFETY: as above.
unsafe impl aya::Pod for Totals {}

/// An IPv4 address as the packet carries it, read as a native integer.
pub(crate) fn ip(addr: Ipv4Addr) -> u32 {
    u32::from_ne_bytes(addr.octets())
}

/// A port as the packet carries it, read as a native integer.
pub(crate) fn port(port: u16) -> u16 {
    port.to_be()
}

/// Address and port of `addr` as the packet carries them.
pub(crate) fn endpoint(addr: SocketAddrV4) -> (u32, u16) {
    (ip(*addr.ip()), port(addr.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_c_structs() {
        assert_eq!(size_of::<ChannelKey>(), 16);
        assert_eq!(size_of::<ChannelVal>(), 24);
        assert_eq!(size_of::<PeerKey>(), 12);
        assert_eq!(size_of::<PeerVal>(), 32);
        assert_eq!(size_of::<BanVal>(), 8);
        assert_eq!(size_of::<ConfigVal>(), 32);
        assert_eq!(size_of::<ChannelStats>(), 32);
        assert_eq!(size_of::<Hops>(), 32);
        assert_eq!(size_of::<Totals>(), 64);
    }
}
