//! `SocketAddr` <-> `sockaddr_in`/`sockaddr_in6` for the batched calls (Linux).

use std::mem::{size_of, MaybeUninit};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Room for either address family, aligned for both.
pub(crate) type Storage = libc::sockaddr_storage;

/// Writes `addr` into `out` for a socket of the given family and returns the length to pass.
/// On an IPv6 socket an IPv4 address becomes IPv4-mapped; on an IPv4 socket an IPv6 address
/// stays IPv6, and the kernel refuses it (a dropped, counted datagram).
pub(crate) fn encode(addr: SocketAddr, ipv6_socket: bool, out: &mut MaybeUninit<Storage>) -> u32 {
    let addr = match addr {
        SocketAddr::V4(a) if ipv6_socket => {
            SocketAddr::V6(SocketAddrV6::new(a.ip().to_ipv6_mapped(), a.port(), 0, 0))
        }
        other => other,
    };
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned at least as sockaddr_in;
            // `out` is valid for writes of a whole Storage.
            unsafe { out.as_mut_ptr().cast::<libc::sockaddr_in>().write(sin) };
            size_of::<libc::sockaddr_in>() as u32
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo().to_be(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { out.as_mut_ptr().cast::<libc::sockaddr_in6>().write(sin6) };
            size_of::<libc::sockaddr_in6>() as u32
        }
    }
}

/// Reads the address the kernel wrote (`len` bytes) into `storage`. IPv4-mapped IPv6
/// addresses come back as IPv4. `None` for a family other than IPv4/IPv6 or a short length.
///
/// # Safety
/// `storage` must have its first `len` bytes initialised (by the kernel).
pub(crate) unsafe fn decode(storage: &MaybeUninit<Storage>, len: u32) -> Option<SocketAddr> {
    let len = len as usize;
    if len < size_of::<libc::sa_family_t>() {
        return None;
    }
    let ptr = storage.as_ptr();
    // SAFETY: the family field leads every sockaddr and `len` covers it (caller's contract).
    let family = unsafe { (*ptr).ss_family };
    match i32::from(family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: initialised for `len` bytes, which cover a sockaddr_in; aligned by Storage.
            let sin = unsafe { ptr.cast::<libc::sockaddr_in>().read() };
            let ip = std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above for sockaddr_in6.
            let sin6 = unsafe { ptr.cast::<libc::sockaddr_in6>().read() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let port = u16::from_be(sin6.sin6_port);
            Some(match ip.to_ipv4_mapped() {
                Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, port)),
                None => SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    port,
                    u32::from_be(sin6.sin6_flowinfo),
                    sin6.sin6_scope_id,
                )),
            })
        }
        _ => None,
    }
}

/// An IPv6 address as the address it stands for: IPv4-mapped addresses become IPv4.
pub(crate) fn canonical(ip: Ipv6Addr) -> IpAddr {
    match ip.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(ip),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn roundtrip(addr: SocketAddr, ipv6_socket: bool) -> Option<SocketAddr> {
        let mut s = MaybeUninit::<Storage>::zeroed();
        let len = encode(addr, ipv6_socket, &mut s);
        // SAFETY: encode initialised `len` bytes (and the rest is zeroed).
        unsafe { decode(&s, len) }
    }

    #[test]
    fn addresses_survive_encode_decode() {
        for a in [
            "127.0.0.1:3478",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "[::1]:5004",
            "[fe80::1%7]:9",
            "[2001:db8::2]:40000",
        ] {
            let a: SocketAddr = a.parse().unwrap();
            assert_eq!(roundtrip(a, a.is_ipv6()), Some(a));
        }
    }

    #[test]
    fn ipv4_on_an_ipv6_socket_is_mapped_and_comes_back_as_ipv4() {
        let a: SocketAddr = "192.0.2.7:1234".parse().unwrap();
        let mut s = MaybeUninit::<Storage>::zeroed();
        let len = encode(a, true, &mut s);
        assert_eq!(len as usize, size_of::<libc::sockaddr_in6>());
        // SAFETY: initialised by encode.
        assert_eq!(unsafe { decode(&s, len) }, Some(a));
    }

    #[test]
    fn short_or_foreign_addresses_are_refused() {
        let mut s = MaybeUninit::<Storage>::zeroed();
        let len = encode("[::1]:1".parse().unwrap(), true, &mut s);
        // SAFETY: the storage is fully zeroed, then partly written by encode.
        unsafe {
            assert_eq!(decode(&s, 0), None);
            assert_eq!(decode(&s, len - 1), None);
            (*s.as_mut_ptr()).ss_family = libc::AF_UNIX as libc::sa_family_t;
            assert_eq!(decode(&s, len), None);
        }
    }
}
