//! The portable path: one `recv_from`/`send_to` per datagram, no control messages. Used on
//! systems other than Linux and with [`crate::IoMode::Portable`]; the reference the batched
//! path is tested against.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr, SocketAddrV6, UdpSocket};

use socket2::{MaybeUninitSlice, SockRef};

use crate::stats::{Counters, ErrorClass};
use crate::{RecvBatch, RecvMeta, Transmit, MAX_BATCH};

/// Late (ICMP-reported) errors absorbed in one receive call before giving the loop back.
pub(crate) const MAX_LATE_ERRORS: usize = 8;

/// Fills the batch's free slots (all of them unless `append`), one `recv_from` each, until
/// the socket has no more; returns how many datagrams it added.
pub(crate) fn recv(
    socket: &UdpSocket,
    batch: &mut RecvBatch,
    append: bool,
    counters: &Counters,
) -> io::Result<usize> {
    let (first, free) = batch.start_recv(append);
    let sock = SockRef::from(socket);
    let mut metas = [(0, RecvMeta::EMPTY); MAX_BATCH];
    let mut got = 0;
    let mut used = 0;
    let mut late = 0;
    let mut calls = 0;
    let mut stop = None;
    let mut drained = false;
    'slots: for bytes in free {
        used += 1;
        loop {
            // SAFETY: the kernel only writes initialised bytes into the buffer, so viewing
            // initialised memory as MaybeUninit for the call cannot de-initialise any of it.
            let uninit = unsafe { &mut *(&mut *bytes as *mut [u8] as *mut [MaybeUninit<u8>]) };
            match sock.recv_from_vectored(&mut [MaybeUninitSlice::new(uninit)]) {
                Ok((len, flags, addr)) => {
                    calls += 1;
                    if flags.is_truncated() {
                        Counters::add(&counters.truncated, 1);
                        continue;
                    }
                    // Only IP sockets come here, so the address is always IPv4 or IPv6.
                    let Some(src) = addr.as_socket().map(canonical) else {
                        continue;
                    };
                    metas[got] = (
                        first + used - 1,
                        RecvMeta {
                            src,
                            dst_ip: None,
                            len,
                            stride: len.max(1),
                            ecn: None,
                        },
                    );
                    got += 1;
                    continue 'slots;
                }
                Err(e) => match ErrorClass::of(&e) {
                    ErrorClass::Retry => {}
                    ErrorClass::Async if late < MAX_LATE_ERRORS => {
                        late += 1;
                        counters.late_error(&e);
                    }
                    ErrorClass::Async => {}
                    _ => {
                        drained = e.kind() == io::ErrorKind::WouldBlock;
                        stop = Some(e);
                    }
                },
            }
            if stop.is_some() || late >= MAX_LATE_ERRORS {
                used -= 1;
                break 'slots;
            }
        }
    }
    for &(slot, meta) in metas.iter().take(got) {
        batch.push(slot, meta);
    }
    batch.finish_recv(used, used, drained);
    Counters::add(&counters.recv_calls, calls);
    Counters::add(&counters.received, got);
    match stop {
        Some(e) if got == 0 => Err(e),
        _ => Ok(got),
    }
}

/// Sends each transmit (each segment of it) with one `send_to`. See
/// [`crate::UdpSocket::send`] for what the result means.
pub(crate) fn send(
    socket: &UdpSocket,
    local: SocketAddr,
    transmits: &[Transmit<'_>],
    counters: &Counters,
) -> io::Result<usize> {
    for (i, t) in transmits.iter().enumerate() {
        let seg = match t.segment_size {
            Some(s) if s > 0 => s,
            _ => t.contents.len().max(1),
        };
        let segments = t.contents.len().div_ceil(seg).max(1);
        if t.src_ip.is_some_and(|ip| ip != local.ip()) {
            // Without control messages the source is the bound address: refuse to send
            // from any other, rather than silently from the wrong one.
            let e = io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                "portable I/O sends only from the bound address",
            );
            counters.dropped(&e, t.dst, segments);
            continue;
        }
        let dst = match (t.dst, local) {
            (SocketAddr::V4(v4), SocketAddr::V6(_)) => {
                SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
            }
            (dst, _) => dst,
        };
        let mut late_retried = false;
        let mut k = 0;
        while k < segments {
            let chunk = t
                .contents
                .get(k * seg..t.contents.len().min((k + 1) * seg))
                .unwrap_or_default();
            Counters::add(&counters.send_calls, 1);
            match socket.send_to(chunk, dst) {
                Ok(_) => {
                    Counters::add(&counters.sent, 1);
                    k += 1;
                }
                Err(e) => match ErrorClass::of(&e) {
                    ErrorClass::Retry => {}
                    ErrorClass::WouldBlock if i == 0 && k == 0 => return Err(e),
                    ErrorClass::WouldBlock if k == 0 => return Ok(i),
                    ErrorClass::WouldBlock => {
                        // Part of this train went out: it counts as sent, the rest is lost.
                        counters.dropped(&e, t.dst, segments - k);
                        return Ok(i + 1);
                    }
                    ErrorClass::Async if !late_retried => {
                        late_retried = true;
                        counters.late_error(&e);
                    }
                    ErrorClass::Fatal => return Err(e),
                    _ => {
                        counters.dropped(&e, t.dst, 1);
                        k += 1;
                    }
                },
            }
        }
    }
    Ok(transmits.len())
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), a.port()),
            None => addr,
        },
        v4 => v4,
    }
}
