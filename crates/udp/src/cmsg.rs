//! Control messages (Linux): building the send-side ones (`IP_PKTINFO`/`IPV6_PKTINFO` for the
//! source address, `UDP_SEGMENT` for GSO, `IP_TOS`/`IPV6_TCLASS` for ECN) into a fixed buffer,
//! and reading the receive-side ones into a [`RecvMeta`].

use std::mem::size_of;
use std::net::IpAddr;

use crate::sockaddr::canonical;
use crate::{EcnCodepoint, RecvMeta};

/// Bytes of control-message space per datagram: enough for the largest set either direction
/// uses (IPv6 and IPv4 PKTINFO, GRO or GSO size, TOS or traffic class), with room to spare.
pub(crate) const SPACE: usize = 160;

/// One datagram's control-message buffer, aligned for `cmsghdr`.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub(crate) struct Buf(pub(crate) [u8; SPACE]);

const fn cmsg_space(len: usize) -> usize {
    // SAFETY: CMSG_SPACE is arithmetic on its argument; no memory is touched.
    unsafe { libc::CMSG_SPACE(len as u32) as usize }
}

const fn cmsg_len(len: usize) -> usize {
    // SAFETY: as above.
    unsafe { libc::CMSG_LEN(len as u32) as usize }
}

// Every send-side combination must fit: IPv6 PKTINFO + UDP_SEGMENT + TCLASS.
const _: () = assert!(
    cmsg_space(size_of::<libc::in6_pktinfo>())
        + cmsg_space(size_of::<u16>())
        + cmsg_space(size_of::<libc::c_int>())
        <= SPACE
);
// And every receive-side one: both PKTINFOs + GRO + TOS + TCLASS.
const _: () = assert!(
    cmsg_space(size_of::<libc::in6_pktinfo>())
        + cmsg_space(size_of::<libc::in_pktinfo>())
        + 3 * cmsg_space(size_of::<libc::c_int>())
        <= SPACE
);

/// Appends control messages to a [`Buf`].
pub(crate) struct Encoder<'a> {
    buf: &'a mut Buf,
    used: usize,
}

impl<'a> Encoder<'a> {
    pub(crate) fn new(buf: &'a mut Buf) -> Self {
        Self { buf, used: 0 }
    }

    /// Bytes written so far (the `msg_controllen`).
    pub(crate) fn len(&self) -> usize {
        self.used
    }

    fn push<T: Copy>(&mut self, level: libc::c_int, kind: libc::c_int, value: T) {
        let space = cmsg_space(size_of::<T>());
        // The const assertions above guarantee room for what `source_ip`, `segment_size`
        // and `ecn` push (at most one each); slicing keeps even a future mistake in bounds.
        let Some(dst) = self.buf.0.get_mut(self.used..self.used + space) else {
            return;
        };
        dst.fill(0);
        // SAFETY: cmsghdr is plain integers (and padding on some libcs): all-zero is valid.
        let mut hdr: libc::cmsghdr = unsafe { std::mem::zeroed() };
        hdr.cmsg_len = cmsg_len(size_of::<T>()) as _;
        hdr.cmsg_level = level;
        hdr.cmsg_type = kind;
        let base = dst.as_mut_ptr();
        // SAFETY: `dst` is `space` bytes, which holds the header (CMSG_LEN(0) bytes) followed
        // by the value; the buffer is 8-aligned and `used` is a multiple of CMSG_SPACE's
        // alignment, but the writes are unaligned anyway.
        unsafe {
            base.cast::<libc::cmsghdr>().write_unaligned(hdr);
            base.add(cmsg_len(0)).cast::<T>().write_unaligned(value);
        }
        self.used += space;
    }

    /// The source address: `IP_PKTINFO` for IPv4 (also on a dual-stack socket sending to an
    /// IPv4 peer), `IPV6_PKTINFO` for IPv6.
    pub(crate) fn source_ip(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) => {
                let info = libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from_ne_bytes(v4.octets()),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                self.push(libc::IPPROTO_IP, libc::IP_PKTINFO, info);
            }
            IpAddr::V6(v6) => {
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: v6.octets(),
                    },
                    ipi6_ifindex: 0,
                };
                self.push(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, info);
            }
        }
    }

    /// GSO: the kernel splits the payload into datagrams of `size` bytes.
    pub(crate) fn segment_size(&mut self, size: u16) {
        self.push(libc::SOL_UDP, libc::UDP_SEGMENT, size);
    }

    /// The ECN bits, as `IP_TOS` for an IPv4 destination or `IPV6_TCLASS` for IPv6.
    pub(crate) fn ecn(&mut self, ecn: EcnCodepoint, ipv4_destination: bool) {
        let bits = libc::c_int::from(ecn.bits());
        if ipv4_destination {
            self.push(libc::IPPROTO_IP, libc::IP_TOS, bits);
        } else {
            self.push(libc::IPPROTO_IPV6, libc::IPV6_TCLASS, bits);
        }
    }
}

/// Reads the control messages the kernel attached to `hdr` into `meta` (`dst_ip`, `stride`,
/// `ecn`). Unknown messages are ignored.
///
/// # Safety
/// `hdr.msg_control` must point at a buffer the kernel filled with `hdr.msg_controllen`
/// bytes of control messages (as `recvmmsg` leaves it).
pub(crate) unsafe fn decode(hdr: &libc::msghdr, meta: &mut RecvMeta) {
    // SAFETY: the caller guarantees msg_control/msg_controllen describe kernel-written
    // control messages; CMSG_FIRSTHDR/NXTHDR stay within msg_controllen and return null at
    // the end.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(hdr) };
    while !cmsg.is_null() {
        // SAFETY: non-null cmsg pointers from CMSG_FIRSTHDR/NXTHDR point at a whole header.
        let c = unsafe { cmsg.read_unaligned() };
        // SAFETY: the data follows the header inside the same message.
        let data = unsafe { libc::CMSG_DATA(cmsg) };
        let data_len = (c.cmsg_len as usize).saturating_sub(cmsg_len(0));
        // Each read below is guarded by the size it needs and is unaligned.
        match (c.cmsg_level, c.cmsg_type) {
            (libc::IPPROTO_IP, libc::IP_PKTINFO) if data_len >= size_of::<libc::in_pktinfo>() => {
                // SAFETY: the kernel wrote `data_len` >= size_of::<in_pktinfo>() bytes here.
                let info = unsafe { data.cast::<libc::in_pktinfo>().read_unaligned() };
                meta.dst_ip = Some(IpAddr::from(info.ipi_addr.s_addr.to_ne_bytes()));
            }
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO)
                if data_len >= size_of::<libc::in6_pktinfo>() =>
            {
                // SAFETY: the kernel wrote `data_len` >= size_of::<in6_pktinfo>() bytes here.
                let info = unsafe { data.cast::<libc::in6_pktinfo>().read_unaligned() };
                meta.dst_ip = Some(canonical(info.ipi6_addr.s6_addr.into()));
            }
            (libc::SOL_UDP, libc::UDP_GRO) if data_len >= size_of::<libc::c_int>() => {
                // SAFETY: the kernel wrote `data_len` >= size_of::<c_int>() bytes here.
                let stride = unsafe { data.cast::<libc::c_int>().read_unaligned() };
                if let Ok(stride @ 1..) = usize::try_from(stride) {
                    meta.stride = stride.min(meta.len.max(1));
                }
            }
            (libc::IPPROTO_IP, libc::IP_TOS) if data_len >= 1 => {
                // SAFETY: the kernel wrote `data_len` >= 1 byte here.
                meta.ecn = EcnCodepoint::from_bits(unsafe { data.read() });
            }
            (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) if data_len >= size_of::<libc::c_int>() => {
                // SAFETY: the kernel wrote `data_len` >= size_of::<c_int>() bytes here.
                let tclass = unsafe { data.cast::<libc::c_int>().read_unaligned() };
                meta.ecn = EcnCodepoint::from_bits(tclass as u8);
            }
            _ => {}
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        cmsg = unsafe { libc::CMSG_NXTHDR(hdr, cmsg) };
    }
}
