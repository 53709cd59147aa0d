//! Batches with headroom, datagrams from several sockets gathered into one batch with
//! `recv_append`, and `drained`: a receive that returns fewer datagrams than it offered slots
//! found the queue empty, one that fills every slot did not. Real loopback sockets, batched
//! and portable I/O alike.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{payload, PATIENCE};
use edge_udp::{IoMode, RecvBatch, SocketOptions, Transmit, UdpSocket};

const MODES: [IoMode; 2] = [IoMode::Batched, IoMode::Portable];

fn bind(io: IoMode) -> UdpSocket {
    let opts = SocketOptions {
        io,
        pktinfo: false,
        ..SocketOptions::default()
    };
    UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &opts).unwrap()
}

/// Sends datagrams `first..first + n` (numbered payloads of 100 + i bytes) to `to`.
fn send(from: &UdpSocket, to: SocketAddr, first: usize, n: usize) {
    let payloads: Vec<Vec<u8>> = (first..first + n).map(|i| payload(i, 100 + i)).collect();
    let txs: Vec<Transmit<'_>> = payloads
        .iter()
        .map(|p| Transmit {
            dst: to,
            contents: p,
            ..Transmit::PLACEHOLDER
        })
        .collect();
    assert_eq!(from.send(&txs).unwrap(), n);
}

/// Waits until `socket` has datagrams queued (loopback delivers within the send call, but
/// the test must not race it), bounded by PATIENCE.
fn wait_queued(socket: &UdpSocket) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut queued: libc::c_int = 0;
        // SAFETY: SIOCINQ on a UDP socket writes one int (the size of the next datagram,
        // or 0), which `queued` provides; the descriptor is open for the call.
        let rc = unsafe {
            libc::ioctl(
                std::os::fd::AsRawFd::as_raw_fd(socket),
                libc::FIONREAD,
                &mut queued,
            )
        };
        assert_eq!(rc, 0);
        // FIONREAD tells only whether something is queued; give the rest a moment to land.
        if queued > 0 {
            std::thread::sleep(Duration::from_millis(20));
            return;
        }
        assert!(Instant::now() < deadline, "nothing arrived");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn headroom_puts_each_datagram_behind_untouched_bytes() {
    for io in MODES {
        let (rx, tx) = (bind(io), bind(io));
        let mut batch = RecvBatch::with_headroom(8, 2048, 36);
        assert_eq!((batch.headroom(), batch.slot_size()), (36, 2048));
        // A first round, to mark the slots it used.
        send(&tx, rx.local_addr(), 100, 3);
        wait_queued(&rx);
        assert_eq!(rx.recv(&mut batch).unwrap(), 3, "{io:?}");
        for (_, slot) in batch.slots_mut() {
            slot.fill(0xEE);
        }
        send(&tx, rx.local_addr(), 0, 3);
        wait_queued(&rx);
        assert_eq!(rx.recv(&mut batch).unwrap(), 3, "{io:?}");
        assert!(
            batch.drained(),
            "{io:?}: 3 datagrams for 8 slots drain the queue"
        );
        for i in 0..3 {
            let want = payload(i, 100 + i);
            assert_eq!(batch.datagram(i), &want[..], "{io:?}");
            assert_eq!(batch.metas()[i].src, tx.local_addr());
            let slot = batch.slot(i);
            assert_eq!(slot.len(), 36 + 2048);
            assert_eq!(&slot[36..36 + want.len()], &want[..]);
            assert!(
                slot[..36].iter().all(|&b| b == 0xEE),
                "{io:?}: headroom written"
            );
        }
        // A header written into the headroom in place, right in front of the datagram.
        let slot = batch.slot_mut(1);
        slot[32..36].copy_from_slice(&[0x40, 0x00, 0x00, 101]);
        assert_eq!(&batch.slot(1)[32..36], &[0x40, 0, 0, 101]);
        assert_eq!(batch.datagram(1), &payload(1, 101)[..]);
    }
}

#[test]
fn append_gathers_datagrams_from_several_sockets_until_the_batch_is_full() {
    for io in MODES {
        let (a, b, tx) = (bind(io), bind(io), bind(io));
        send(&tx, a.local_addr(), 0, 3);
        send(&tx, b.local_addr(), 10, 3);
        wait_queued(&a);
        wait_queued(&b);
        let mut batch = RecvBatch::with_headroom(4, 2048, 8);
        assert_eq!(a.recv_append(&mut batch).unwrap(), 3, "{io:?}");
        assert!(batch.drained());
        assert_eq!(batch.free_slots(), 1);
        // One free slot left: b fills it and is not drained.
        assert_eq!(b.recv_append(&mut batch).unwrap(), 1, "{io:?}");
        assert!(
            !batch.drained(),
            "{io:?}: a full batch may have left datagrams behind"
        );
        assert_eq!(batch.free_slots(), 0);
        assert_eq!(
            b.recv_append(&mut batch).unwrap(),
            0,
            "{io:?}: no room, nothing taken"
        );
        let got: Vec<Vec<u8>> = batch.iter().map(|(_, d)| d.to_vec()).collect();
        let want: Vec<Vec<u8>> = [0, 1, 2, 10].iter().map(|&i| payload(i, 100 + i)).collect();
        assert_eq!(got, want, "{io:?}: in order, each where it was received");
        let srcs: Vec<SocketAddr> = batch.metas().iter().map(|m| m.src).collect();
        assert_eq!(srcs, [tx.local_addr(); 4]);

        // Cleared, the batch takes b's other two datagrams from slot 0: nothing was lost.
        batch.clear();
        assert_eq!(b.recv_append(&mut batch).unwrap(), 2, "{io:?}");
        assert!(batch.drained());
        assert_eq!(batch.datagram(0), &payload(11, 111)[..]);
        assert_eq!(batch.datagram(1), &payload(12, 112)[..]);
        // A plain recv starts over at slot 0 and finds nothing.
        let e = b.recv(&mut batch).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(batch.is_empty() && batch.drained());
    }
}

#[test]
fn a_receive_that_fills_every_slot_is_not_drained() {
    for io in MODES {
        let (rx, tx) = (bind(io), bind(io));
        send(&tx, rx.local_addr(), 0, 8);
        wait_queued(&rx);
        let mut batch = RecvBatch::new(4, 2048);
        assert_eq!(rx.recv(&mut batch).unwrap(), 4);
        assert!(!batch.drained(), "{io:?}");
        assert_eq!(batch.datagram(0), &payload(0, 100)[..]);
        // Exactly 4 left for 4 slots: still not known to be drained.
        assert_eq!(rx.recv(&mut batch).unwrap(), 4);
        assert!(!batch.drained(), "{io:?}");
        assert_eq!(batch.datagram(3), &payload(7, 107)[..]);
        let e = rx.recv(&mut batch).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{io:?}");
        assert!(batch.drained());
    }
}

#[test]
fn oversized_datagrams_are_counted_not_delivered() {
    for io in MODES {
        let (rx, tx) = (bind(io), bind(io));
        let big = payload(1, 3000);
        let small = payload(2, 100);
        let txs = [big.as_slice(), small.as_slice()].map(|p| Transmit {
            dst: rx.local_addr(),
            contents: p,
            ..Transmit::PLACEHOLDER
        });
        assert_eq!(tx.send(&txs).unwrap(), 2);
        wait_queued(&rx);
        let mut batch = RecvBatch::with_headroom(4, 1024, 16);
        assert_eq!(rx.recv_append(&mut batch).unwrap(), 1, "{io:?}");
        assert_eq!(batch.datagram(0), &small[..]);
        assert_eq!(rx.stats().truncated, 1);
        assert!(batch.drained());
    }
}
