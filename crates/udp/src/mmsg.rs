//! The batched path (Linux): `recvmmsg` into a [`RecvBatch`], `sendmmsg` from
//! [`Transmit`]s, with control messages for PKTINFO, GSO/GRO and ECN. Every array the kernel
//! reads or writes lives on the stack of the call; nothing is allocated.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use crate::cmsg::{self, Encoder};
use crate::portable::MAX_LATE_ERRORS;
use crate::sockaddr::{self, Storage};
use crate::stats::{Counters, ErrorClass};
use crate::{RecvBatch, RecvMeta, Transmit, MAX_BATCH};

/// `iovec`s per `sendmmsg` call, one per transmit: a call covers at most this many.
const MAX_IOVS: usize = 2 * MAX_BATCH;

/// The largest UDP payload of one GSO send: the IPv6 payload-length limit less the UDP
/// header, which IPv4 (65,507 bytes) also accepts.
const MAX_GSO_BYTES: usize = 65_535 - 40 - 8;

fn empty_msghdr() -> libc::msghdr {
    // SAFETY: msghdr is pointers, lengths and flags (plus padding on some libcs): all-zero is
    // a valid, empty header.
    unsafe { std::mem::zeroed() }
}

/// One `recvmmsg` into the batch's free slots (all of them unless `append`); returns how
/// many datagrams it added. See [`crate::UdpSocket::recv`] and
/// [`crate::UdpSocket::recv_append`].
pub(crate) fn recv(
    fd: RawFd,
    batch: &mut RecvBatch,
    append: bool,
    counters: &Counters,
) -> io::Result<usize> {
    let before = if append { batch.len() } else { 0 };
    let (first, free) = batch.start_recv(append);
    let mut names = [MaybeUninit::<Storage>::uninit(); MAX_BATCH];
    let mut controls = [MaybeUninit::<cmsg::Buf>::uninit(); MAX_BATCH];
    let mut iovs = [MaybeUninit::<libc::iovec>::uninit(); MAX_BATCH];
    let mut hdrs = [MaybeUninit::<libc::mmsghdr>::uninit(); MAX_BATCH];
    let mut slots = 0;
    // A batch has at most MAX_BATCH slots (RecvBatch::new clamps), so the zip covers them all.
    for (i, room) in free.enumerate().take(MAX_BATCH) {
        let iov = iovs[i].write(libc::iovec {
            iov_base: room.as_mut_ptr().cast(),
            iov_len: room.len(),
        });
        let mut hdr = empty_msghdr();
        hdr.msg_name = names[i].as_mut_ptr().cast();
        hdr.msg_namelen = size_of::<Storage>() as libc::socklen_t;
        hdr.msg_iov = iov;
        hdr.msg_iovlen = 1;
        hdr.msg_control = controls[i].as_mut_ptr().cast();
        hdr.msg_controllen = cmsg::SPACE as _;
        hdrs[i].write(libc::mmsghdr {
            msg_hdr: hdr,
            msg_len: 0,
        });
        slots = i + 1;
    }
    if slots == 0 {
        // A full batch (only when appending): nothing offered, nothing learnt.
        batch.finish_recv(0, 0, false);
        return Ok(0);
    }

    let mut late = 0;
    let n = loop {
        // SAFETY: the first `slots` headers are initialised; each points at a name, control
        // buffer and iovec of this frame, and its iovec at a distinct free slot of the
        // batch's buffer, which we hold mutably (nothing else touches it until the call
        // returns). All outlive the call, and the kernel writes within the lengths given.
        let rc = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr().cast(),
                slots as libc::c_uint,
                libc::MSG_DONTWAIT as _,
                ptr::null_mut(),
            )
        };
        if let Ok(n) = usize::try_from(rc) {
            break n.min(slots);
        }
        let e = io::Error::last_os_error();
        match ErrorClass::of(&e) {
            ErrorClass::Retry => {}
            // A pending ICMP error is reported before any queued datagram: note it, go on.
            ErrorClass::Async if late < MAX_LATE_ERRORS => {
                late += 1;
                counters.late_error(&e);
            }
            ErrorClass::Async => {
                batch.finish_recv(slots, 0, false);
                return Ok(0);
            }
            _ => {
                batch.finish_recv(slots, 0, e.kind() == io::ErrorKind::WouldBlock);
                return Err(e);
            }
        }
    };

    let mut received = 0;
    for (i, hdr) in hdrs.iter().take(n).enumerate() {
        // SAFETY: header i < slots was initialised above (the kernel updated its lengths and
        // flags in place).
        let h = unsafe { hdr.assume_init_ref() };
        if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            Counters::add(&counters.truncated, 1);
            continue;
        }
        // SAFETY: the kernel wrote `msg_namelen` bytes of the sender's address into names[i].
        let Some(src) = (unsafe { sockaddr::decode(&names[i], h.msg_hdr.msg_namelen) }) else {
            continue;
        };
        let len = h.msg_len as usize;
        let mut meta = RecvMeta {
            src,
            dst_ip: None,
            len,
            stride: len.max(1),
            ecn: None,
        };
        // SAFETY: msg_control points at controls[i], which the kernel filled with
        // `msg_controllen` bytes of control messages.
        unsafe { cmsg::decode(&h.msg_hdr, &mut meta) };
        received += len.div_ceil(meta.stride).max(1);
        batch.push(first + i, meta);
    }
    batch.finish_recv(slots, n, n < slots);
    Counters::add(&counters.recv_calls, 1);
    Counters::add(&counters.received, received);
    Ok(batch.len() - before)
}

/// A position in a slice of transmits: transmit `index`, `offset` bytes into its contents
/// (non-zero only inside a train that needs several sends).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Cursor {
    index: usize,
    offset: usize,
}

/// What one message of a `sendmmsg` call carries.
#[derive(Clone, Copy, Debug, Default)]
struct Plan {
    start: Cursor,
    end: Cursor,
    datagrams: usize,
    gso: bool,
}

/// The arrays one `sendmmsg` call reads.
struct SendArrays {
    names: [MaybeUninit<Storage>; MAX_BATCH],
    controls: [MaybeUninit<cmsg::Buf>; MAX_BATCH],
    iovs: [MaybeUninit<libc::iovec>; MAX_IOVS],
    hdrs: [MaybeUninit<libc::mmsghdr>; MAX_BATCH],
    plans: [Plan; MAX_BATCH],
}

/// Sends `transmits` with as few `sendmmsg` calls as it takes. See
/// [`crate::UdpSocket::send`] for what the result means.
pub(crate) fn send(
    fd: RawFd,
    ipv6_socket: bool,
    gso_segments: &AtomicUsize,
    transmits: &[Transmit<'_>],
    counters: &Counters,
) -> io::Result<usize> {
    let mut a = SendArrays {
        names: [MaybeUninit::uninit(); MAX_BATCH],
        controls: [MaybeUninit::uninit(); MAX_BATCH],
        iovs: [MaybeUninit::uninit(); MAX_IOVS],
        hdrs: [MaybeUninit::uninit(); MAX_BATCH],
        plans: [Plan::default(); MAX_BATCH],
    };
    let mut cursor = Cursor::default();
    let mut late_retry_at = None;
    while cursor.index < transmits.len() {
        let count = build(
            transmits,
            cursor,
            gso_segments.load(Relaxed),
            ipv6_socket,
            &mut a,
        );
        // SAFETY: `build` initialised the first `count` headers (count >= 1 as a transmit is
        // left); each points at names, control buffers and iovecs in `a`, and the iovecs at
        // the contents of `transmits`, all alive and unchanged during the call. The kernel
        // only reads them, apart from writing each header's msg_len.
        let rc = unsafe {
            libc::sendmmsg(
                fd,
                a.hdrs.as_mut_ptr().cast(),
                count as libc::c_uint,
                libc::MSG_DONTWAIT as _,
            )
        };
        Counters::add(&counters.send_calls, 1);
        if let Ok(sent @ 1..) = usize::try_from(rc) {
            let sent = sent.min(count);
            Counters::add(
                &counters.sent,
                a.plans[..sent].iter().map(|p| p.datagrams).sum(),
            );
            cursor = a.plans[sent - 1].end;
            continue;
        }
        let e = io::Error::last_os_error();
        let plan = a.plans[0];
        match ErrorClass::of(&e) {
            ErrorClass::Retry => {}
            ErrorClass::WouldBlock => return stopped_at(cursor, transmits, &e, counters),
            ErrorClass::Async if late_retry_at != Some(cursor) => {
                // The error belongs to an earlier datagram; this one was not sent. Once.
                late_retry_at = Some(cursor);
                counters.late_error(&e);
            }
            ErrorClass::Fatal => return Err(e),
            _ if plan.gso && e.raw_os_error() == Some(libc::EIO) => {
                // The egress device cannot checksum segments: send datagrams one by one.
                gso_segments.store(1, Relaxed);
                log::warn!("udp: GSO send failed ({e}), GSO is now off for this socket");
            }
            _ => {
                let dst = transmits[plan.start.index].dst;
                counters.dropped(&e, dst, plan.datagrams);
                cursor = plan.end;
            }
        }
    }
    Ok(transmits.len())
}

/// The result of a send that hit `WouldBlock` at `cursor`: the error itself when nothing was
/// done, else how many transmits are done. A train cut in the middle counts as done and its
/// unsent segments as dropped, so a retry never duplicates datagrams.
fn stopped_at(
    cursor: Cursor,
    transmits: &[Transmit<'_>],
    e: &io::Error,
    counters: &Counters,
) -> io::Result<usize> {
    if cursor == Cursor::default() {
        return Err(io::Error::from(io::ErrorKind::WouldBlock));
    }
    if cursor.offset == 0 {
        return Ok(cursor.index);
    }
    let t = &transmits[cursor.index];
    let size = t.segment_size.unwrap_or(1).max(1);
    let left = t
        .contents
        .len()
        .saturating_sub(cursor.offset)
        .div_ceil(size);
    counters.dropped(e, t.dst, left);
    Ok(cursor.index + 1)
}

/// Whether `next` may ride in the same GSO send as `first`.
fn same_flow(first: &Transmit<'_>, next: &Transmit<'_>) -> bool {
    next.segment_size.is_none_or(|s| s == 0)
        && next.dst == first.dst
        && next.src_ip == first.src_ip
        && next.ecn == first.ecn
}

/// Fills `a` with the messages of one `sendmmsg` call starting at `cursor`; returns how many.
fn build(
    transmits: &[Transmit<'_>],
    mut cursor: Cursor,
    gso_max: usize,
    ipv6_socket: bool,
    a: &mut SendArrays,
) -> usize {
    let iov = |bytes: &[u8]| libc::iovec {
        // The kernel only reads from a send iovec; the cast to *mut is what the type wants.
        iov_base: bytes.as_ptr().cast_mut().cast(),
        iov_len: bytes.len(),
    };
    let mut count = 0;
    let mut iov_used = 0;
    while count < MAX_BATCH && iov_used < MAX_IOVS {
        let Some(t) = transmits.get(cursor.index) else {
            break;
        };
        let start = cursor;
        let first_iov = iov_used;
        let (datagrams, segment) = match t.segment_size {
            Some(size) if size > 0 => {
                // An explicit train: as many segments per send as GSO allows (1 without).
                let rest = t.contents.get(cursor.offset..).unwrap_or_default();
                let per_send = (MAX_GSO_BYTES / size).clamp(1, gso_max.max(1));
                let take = rest.len().min(per_send * size);
                a.iovs[iov_used].write(iov(&rest[..take]));
                iov_used += 1;
                cursor = if cursor.offset + take >= t.contents.len() {
                    Cursor {
                        index: cursor.index + 1,
                        offset: 0,
                    }
                } else {
                    Cursor {
                        index: cursor.index,
                        offset: cursor.offset + take,
                    }
                };
                let datagrams = take.div_ceil(size).max(1);
                (datagrams, (datagrams > 1).then_some(size))
            }
            _ => {
                // One datagram, plus the following ones of the same flow and size (the last
                // may be shorter) when GSO is on: one iovec each, no copy.
                a.iovs[iov_used].write(iov(t.contents));
                iov_used += 1;
                cursor.index += 1;
                let size = t.contents.len();
                let mut datagrams = 1;
                let mut total = size;
                while size > 0 && datagrams < gso_max && iov_used < MAX_IOVS {
                    let Some(next) = transmits.get(cursor.index) else {
                        break;
                    };
                    let len = next.contents.len();
                    if !same_flow(t, next) || len == 0 || len > size || total + len > MAX_GSO_BYTES
                    {
                        break;
                    }
                    a.iovs[iov_used].write(iov(next.contents));
                    iov_used += 1;
                    cursor.index += 1;
                    datagrams += 1;
                    total += len;
                    if len < size {
                        break;
                    }
                }
                (datagrams, (datagrams > 1).then_some(size))
            }
        };

        let mut hdr = empty_msghdr();
        hdr.msg_namelen = sockaddr::encode(t.dst, ipv6_socket, &mut a.names[count]);
        hdr.msg_name = a.names[count].as_mut_ptr().cast();
        hdr.msg_iov = a.iovs[first_iov].as_mut_ptr();
        hdr.msg_iovlen = (iov_used - first_iov) as _;
        if t.src_ip.is_some() || segment.is_some() || t.ecn.is_some() {
            let buf = a.controls[count].write(cmsg::Buf([0; cmsg::SPACE]));
            let mut enc = Encoder::new(buf);
            if let Some(ip) = t.src_ip {
                enc.source_ip(ip);
            }
            if let Some(size) = segment {
                // A GSO send has at least two segments within MAX_GSO_BYTES: size < 2^16.
                enc.segment_size(u16::try_from(size).unwrap_or(u16::MAX));
            }
            if let Some(ecn) = t.ecn {
                let ipv4 = match t.dst {
                    SocketAddr::V4(_) => true,
                    SocketAddr::V6(v6) => v6.ip().to_ipv4_mapped().is_some(),
                };
                enc.ecn(ecn, ipv4);
            }
            hdr.msg_controllen = enc.len() as _;
            hdr.msg_control = a.controls[count].as_mut_ptr().cast();
        }
        a.hdrs[count].write(libc::mmsghdr {
            msg_hdr: hdr,
            msg_len: 0,
        });
        a.plans[count] = Plan {
            start,
            end: cursor,
            datagrams,
            gso: segment.is_some(),
        };
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::EcnCodepoint;

    fn arrays() -> SendArrays {
        SendArrays {
            names: [MaybeUninit::uninit(); MAX_BATCH],
            controls: [MaybeUninit::uninit(); MAX_BATCH],
            iovs: [MaybeUninit::uninit(); MAX_IOVS],
            hdrs: [MaybeUninit::uninit(); MAX_BATCH],
            plans: [Plan::default(); MAX_BATCH],
        }
    }

    /// (datagrams, GSO?, iovecs) of each message of the first `sendmmsg` call.
    #[allow(clippy::unnecessary_cast)] // msg_iovlen is usize on glibc, c_int on musl
    fn messages(transmits: &[Transmit<'_>], gso_max: usize) -> Vec<(usize, bool, usize)> {
        let mut a = arrays();
        let n = build(transmits, Cursor::default(), gso_max, false, &mut a);
        (0..n)
            .map(|i| {
                // SAFETY: build initialised the first n headers.
                let iovlen = unsafe { a.hdrs[i].assume_init_ref() }.msg_hdr.msg_iovlen;
                (a.plans[i].datagrams, a.plans[i].gso, iovlen as usize)
            })
            .collect()
    }

    fn to(port: u16, contents: &[u8]) -> Transmit<'_> {
        Transmit {
            dst: SocketAddr::from(([127, 0, 0, 1], port)),
            contents,
            ..Transmit::PLACEHOLDER
        }
    }

    #[test]
    fn equal_datagrams_to_one_destination_share_a_gso_message() {
        let p = [0u8; 172];
        let five = [to(1, &p); 5];
        assert_eq!(messages(&five, 64), [(5, true, 5)]);
        assert_eq!(messages(&five, 1), [(1, false, 1); 5]);
    }

    #[test]
    fn runs_end_at_a_shorter_datagram_or_another_flow() {
        let (p, short, long) = ([0u8; 172], [0u8; 100], [0u8; 200]);
        let mut t = [to(1, &p), to(1, &p), to(1, &short), to(1, &p), to(1, &long)];
        assert_eq!(
            messages(&t, 64),
            [(3, true, 3), (1, false, 1), (1, false, 1)]
        );
        t = [to(1, &p), to(2, &p), to(2, &p), to(2, &p), to(2, &p)];
        t[3].src_ip = Some("127.0.0.2".parse().unwrap());
        t[4].ecn = Some(EcnCodepoint::Ce);
        assert_eq!(
            messages(&t, 64),
            [(1, false, 1), (2, true, 2), (1, false, 1), (1, false, 1)]
        );
        let empty = [to(1, &[]), to(1, &[]), to(1, &[])];
        assert_eq!(messages(&empty, 64), [(1, false, 1); 3]);
    }

    #[test]
    fn runs_stop_at_the_segment_and_byte_limits() {
        let p = [0u8; 172];
        let many = [to(1, &p); 100];
        assert_eq!(messages(&many, 64), [(64, true, 64), (36, true, 36)]);
        let big = vec![0u8; 40_000];
        assert_eq!(
            messages(&[to(1, &big), to(1, &big)], 64),
            [(1, false, 1); 2]
        );
    }

    #[test]
    fn explicit_trains_split_at_the_gso_limit_or_per_segment() {
        let train = vec![0u8; 150 * 172 + 50];
        let t = Transmit {
            segment_size: Some(172),
            ..to(1, &train)
        };
        assert_eq!(
            messages(&[t], 64),
            [(64, true, 1), (64, true, 1), (23, true, 1)]
        );
        // Without GSO one datagram per message, a call's worth at a time.
        assert_eq!(messages(&[t], 1), [(1, false, 1); MAX_BATCH]);
        let mut a = arrays();
        build(&[t], Cursor::default(), 1, false, &mut a);
        assert_eq!(
            a.plans[MAX_BATCH - 1].end,
            Cursor {
                index: 0,
                offset: MAX_BATCH * 172
            }
        );
    }

    #[test]
    fn would_block_reports_progress_and_never_resends() {
        let counters = Counters::new();
        let e = io::Error::from(io::ErrorKind::WouldBlock);
        let (p, train) = ([0u8; 10], vec![0u8; 1000]);
        let t = [
            to(1, &p),
            Transmit {
                segment_size: Some(172),
                ..to(1, &train)
            },
            to(1, &p),
        ];
        let at = |index, offset| Cursor { index, offset };
        let nothing = stopped_at(at(0, 0), &t, &e, &counters).unwrap_err();
        assert_eq!(nothing.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(stopped_at(at(1, 0), &t, &e, &counters).unwrap(), 1);
        // Cut inside the train: it counts as done, its 4 unsent segments as dropped.
        assert_eq!(stopped_at(at(1, 344), &t, &e, &counters).unwrap(), 2);
        assert_eq!(counters.snapshot().send_dropped, 4);
    }
}
