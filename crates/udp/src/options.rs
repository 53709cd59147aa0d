//! How a socket is made: [`SocketOptions`] and [`IoMode`].

/// Socket set-up. `SocketOptions::default()` suits the data plane; change fields with
/// struct-update syntax: `SocketOptions { gro: true, ..Default::default() }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketOptions {
    /// Set `SO_REUSEPORT` before binding so several workers can share one port (the kernel
    /// spreads flows over them). Default off.
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
