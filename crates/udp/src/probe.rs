//! What the kernel supports, asked once per socket (Linux): GSO, GRO, PKTINFO, ECN. Each
//! option that fails is left off quietly; the result is the socket's [`Capabilities`] part.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::SocketOptions;

/// Segments in one GSO send: the kernel's `UDP_MAX_SEGMENTS` since GSO appeared (4.18);
/// newer kernels accept more, this is the figure every GSO kernel takes.
const GSO_MAX_SEGMENTS: usize = 64;

/// The features that took.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Probed {
    pub(crate) gso_segments: usize,
    pub(crate) gro: bool,
    pub(crate) pktinfo: bool,
    pub(crate) ecn: bool,
}

fn set(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `fd` is a live socket for the borrow; the option value is a c_int on the stack
    // whose size we pass.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn get(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `fd` is a live socket; `value`/`len` are valid for writes of a c_int.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Switches on what `opts` asks for on an IPv4 (`ipv6 == false`) or IPv6 socket and reports
/// what took. Never fails: an unsupported feature is simply off.
pub(crate) fn probe(fd: BorrowedFd<'_>, ipv6: bool, opts: &SocketOptions) -> Probed {
    // Per-datagram ICMP errors stay out of the error queue; the kernel then reports them
    // only on connected sockets, as a late ECONNREFUSED (counted, never fatal).
    let _ = set(fd, libc::IPPROTO_IP, libc::IP_RECVERR, 0);
    if ipv6 {
        let _ = set(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVERR, 0);
    }

    // The local destination address: IPV6_RECVPKTINFO, plus IP_PKTINFO for IPv4 datagrams
    // reaching a dual-stack socket (fails harmlessly on a v6-only one).
    let pktinfo = if !opts.pktinfo {
        false
    } else if ipv6 {
        let v6 = set(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1).is_ok();
        let _ = set(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1);
        v6
    } else {
        set(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1).is_ok()
    };

    // Reading UDP_SEGMENT succeeds exactly when the kernel has UDP GSO; it sets nothing.
    let gso_segments = if opts.gso && get(fd, libc::SOL_UDP, libc::UDP_SEGMENT).is_ok() {
        GSO_MAX_SEGMENTS
    } else {
        1
    };

    let gro = opts.gro && set(fd, libc::SOL_UDP, libc::UDP_GRO, 1).is_ok();

    let ecn = opts.ecn && {
        if ipv6 {
            let v6 = set(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVTCLASS, 1).is_ok();
            let _ = set(fd, libc::IPPROTO_IP, libc::IP_RECVTOS, 1);
            v6
        } else {
            set(fd, libc::IPPROTO_IP, libc::IP_RECVTOS, 1).is_ok()
        }
    };

    Probed {
        gso_segments,
        gro,
        pktinfo,
        ecn,
    }
}
