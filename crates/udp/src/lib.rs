//! Batched UDP I/O for media-edge's data plane: `recvmmsg`/`sendmmsg`, UDP GSO and GRO, the
//! local destination address of each datagram, ECN, all probed once per socket.
//!
//! This is the one crate of the workspace with `libc` and `unsafe` socket code. Its shape
//! follows quinn-udp: a socket is probed once when it is made ([`UdpSocket::bind`],
//! [`UdpSocket::from_std`]) and whatever the kernel does not support is turned off quietly
//! and reported in [`Capabilities`].
//!
//! # The hot loop
//! - **Receive** with [`UdpSocket::recv`] into a caller-owned [`RecvBatch`]: one buffer
//!   allocated at set-up, split into slots, filled by one `recvmmsg` call. Each datagram comes
//!   with a [`RecvMeta`] (source, local destination address, length, GRO stride, ECN).
//! - **Transform in place**: [`RecvBatch::slots_mut`] hands out each datagram's whole slot as
//!   `&mut [u8]` (the datagram first, free tailroom after it), so an SRTP tag or a TURN header
//!   can be written without copying.
//! - **Know when to stop**: a receive that returns fewer datagrams than it offered slots
//!   found the queue empty ([`RecvBatch::drained`]), so an edge-triggered loop waits for the
//!   next readiness event instead of calling again to see `WouldBlock`.
//! - **Gather from many sockets**: [`UdpSocket::recv_append`] fills only a batch's free slots,
//!   and [`RecvBatch::with_headroom`] leaves room in front of each datagram, so datagrams of
//!   many sockets (a TURN server's relay sockets) can be framed in place and leave together.
//! - **Send from the same memory** with [`UdpSocket::send`]: a slice of [`Transmit`]s
//!   borrowing the slots goes out in `sendmmsg` calls. Consecutive datagrams of equal size to
//!   the same destination are coalesced into one GSO datagram on the way (no copy: one
//!   `iovec` per datagram). A fixed array such as `[Transmit::PLACEHOLDER; 32]` on the stack
//!   holds them without allocating.
//!
//! Neither call allocates nor takes a lock; the control-message and header arrays live on the
//! stack. `recv` and `send` never block: `WouldBlock` comes back as such, so an event loop
//! (mio) can wait for readiness. Per-datagram send errors (an ICMP-reported `ECONNREFUSED`,
//! `EMSGSIZE`, no route, ...) are counted in [`SocketStats`], logged rate-limited through the
//! `log` crate, and the datagram is dropped: the loop never sticks on one bad datagram.
//!
//! # What it does not do
//! No event loop, no threads, no timers, no protocol: the TURN relay and the forwarder drive
//! these sockets from their own mio loops. No connected sockets, no multicast, no io_uring.
//! On other systems than Linux (and with [`IoMode::Portable`]) the same API runs a
//! `recv_from`/`send_to` loop without GSO, GRO, ECN or per-datagram source addresses.
//!
//! # Example
//! ```
//! use edge_udp::{RecvBatch, SocketOptions, Transmit, UdpSocket};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let opts = SocketOptions::default();
//! let forwarder = UdpSocket::bind("127.0.0.1:0".parse()?, &opts)?;
//! let client = UdpSocket::bind("127.0.0.1:0".parse()?, &opts)?;
//! let sink = UdpSocket::bind("127.0.0.1:0".parse()?, &opts)?;
//!
//! let hello = Transmit { dst: forwarder.local_addr(), ..Transmit::PLACEHOLDER };
//! client.send(&[Transmit { contents: b"hello", ..hello }])?;
//!
//! let mut batch = RecvBatch::for_socket(&forwarder);
//! let mut out = [Transmit::PLACEHOLDER; 32];
//! // A real loop waits for readability (mio) when this says WouldBlock.
//! let n = forwarder.recv(&mut batch)?;
//! for ((meta, slot), tx) in batch.slots_mut().zip(out.iter_mut()) {
//!     slot[..meta.len].make_ascii_uppercase(); // transform in place
//!     *tx = Transmit { dst: sink.local_addr(), contents: &slot[..meta.len], ..Transmit::PLACEHOLDER };
//! }
//! assert_eq!(forwarder.send(&out[..n])?, n);
//! # Ok(())
//! # }
//! ```

#![deny(clippy::undocumented_unsafe_blocks)]

mod batch;
mod error;
mod options;
mod portable;
mod socket;
mod stats;

#[cfg(target_os = "linux")]
mod cmsg;
#[cfg(target_os = "linux")]
mod mmsg;
#[cfg(target_os = "linux")]
mod probe;
#[cfg(target_os = "linux")]
mod sockaddr;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

pub use batch::RecvBatch;
pub use error::Error;
pub use options::{IoMode, SocketOptions};
pub use socket::{Capabilities, UdpSocket};
pub use stats::SocketStats;

/// Most datagrams one `recvmmsg` or `sendmmsg` call moves, and most slots of a [`RecvBatch`].
pub const MAX_BATCH: usize = 64;

/// Slots of a batch made by [`RecvBatch::for_socket`].
pub const DEFAULT_BATCH: usize = 32;

/// Slot size of a batch made by [`RecvBatch::for_socket`] without GRO: a 1500-byte MTU
/// datagram plus tailroom for in-place growth (an SRTP tag, a TURN ChannelData header).
pub const DEFAULT_SLOT_SIZE: usize = 2048;

/// Slot size with GRO on, and the largest slot a batch has: room for the largest UDP payload,
/// which GRO may build out of many coalesced segments.
pub const MAX_SLOT_SIZE: usize = 65_536;

/// The ECN codepoint of a datagram (RFC 3168): the low two bits of the IP TOS / traffic class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EcnCodepoint {
    /// ECN-capable transport, codepoint 0 (`0b10`).
    Ect0,
    /// ECN-capable transport, codepoint 1 (`0b01`).
    Ect1,
    /// Congestion experienced (`0b11`).
    Ce,
}

impl EcnCodepoint {
    /// The codepoint in the low two bits of a TOS / traffic-class byte; `None` for Not-ECT.
    pub fn from_bits(tos: u8) -> Option<Self> {
        match tos & 0b11 {
            0b10 => Some(Self::Ect0),
            0b01 => Some(Self::Ect1),
            0b11 => Some(Self::Ce),
            _ => None,
        }
    }

    /// The two ECN bits of this codepoint.
    pub fn bits(self) -> u8 {
        match self {
            Self::Ect0 => 0b10,
            Self::Ect1 => 0b01,
            Self::Ce => 0b11,
        }
    }
}

/// What the kernel said about one received datagram (or one GRO train of segments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecvMeta {
    /// The sender. IPv4 senders reaching a dual-stack IPv6 socket appear as IPv4 addresses.
    pub src: SocketAddr,
    /// The local address the datagram was sent to (from `IP_PKTINFO`/`IPV6_PKTINFO`):
    /// what a wildcard-bound socket must use as `src_ip` when it answers. `None` when the
    /// socket cannot tell.
    pub dst_ip: Option<IpAddr>,
    /// Bytes received. With GRO this covers every segment.
    pub len: usize,
    /// The size of each segment when GRO coalesced several datagrams of one flow (the last
    /// may be shorter); equal to `len` otherwise. Never 0: `data.chunks(meta.stride)` yields
    /// the original datagrams.
    pub stride: usize,
    /// The ECN codepoint, when ECN reception is on and the datagram carried one.
    pub ecn: Option<EcnCodepoint>,
}

impl RecvMeta {
    pub(crate) const EMPTY: Self = Self {
        src: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
        dst_ip: None,
        len: 0,
        stride: 1,
        ecn: None,
    };
}

/// One datagram (or, with `segment_size`, a GSO train of datagrams) to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// Where it goes. An IPv4 destination works on a dual-stack IPv6 socket.
    pub dst: SocketAddr,
    /// The local address to send from, for sockets bound to a wildcard address (`IP_PKTINFO`
    /// / `IPV6_PKTINFO`). `None` lets the kernel choose.
    pub src_ip: Option<IpAddr>,
    /// The payload, usually borrowed from a [`RecvBatch`] slot.
    pub contents: &'a [u8],
    /// Split `contents` into datagrams of this size (the last may be shorter): one GSO send
    /// when the socket supports it, one datagram at a time otherwise. `None` sends `contents`
    /// as one datagram.
    pub segment_size: Option<usize>,
    /// The ECN codepoint to mark (`IP_TOS` / `IPV6_TCLASS`); the portable path sends every
    /// datagram Not-ECT.
    pub ecn: Option<EcnCodepoint>,
}

impl Transmit<'static> {
    /// An empty datagram to the unspecified address: the filler for a fixed array of
    /// transmits (`[Transmit::PLACEHOLDER; 32]`) and the base for struct-update syntax.
    /// Sending it fails and is counted like any undeliverable datagram.
    pub const PLACEHOLDER: Self = Self {
        dst: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
        src_ip: None,
        contents: &[],
        segment_size: None,
        ecn: None,
    };
}
