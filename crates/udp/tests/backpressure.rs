//! A full socket send buffer, for real: this binary re-runs itself inside a private network
//! namespace (`unshare --net`) whose loopback is slowed by a token-bucket qdisc, so sent
//! datagrams wait in the qdisc holding the small send buffer and `send` meets `EAGAIN`. It
//! checks the contract event loops rely on: `Ok(n)` short of the whole slice or
//! `Err(WouldBlock)`, then resending the rest delivers every datagram exactly once, in order.
//!
//! No test harness (`harness = false`): the parent and the child are the same `main`. Needs
//! root, `unshare` and `taskset` (util-linux) and `tc`/`ip` (iproute2), which `scripts/test.sh` installs;
//! without them the test fails rather than skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{payload, to};
use edge_udp::{IoMode, RecvBatch, SocketOptions, Transmit, UdpSocket};

const CHILD: &str = "EDGE_UDP_BACKPRESSURE_CHILD";
const DATAGRAMS: usize = 2000;
const SIZE: usize = 1200;

fn main() {
    if std::env::var_os(CHILD).is_some() {
        for (name, opts) in modes() {
            would_block_then_resume(name, &opts);
        }
        return;
    }
    let exe = std::env::current_exe().unwrap();
    // 50 Mbit/s: the 2.4 MB of each run drain in about half a second. The child runs on one
    // CPU: loopback queues a datagram on the backlog of the CPU that hands it on, and with
    // the sender moving between CPUs (or the qdisc's timer firing on another one) two CPUs'
    // backlogs can deliver out of the order the socket sent in (seen on a loaded machine:
    // datagrams 552-558 arriving after 559, none lost). Pinned, the order is the socket's.
    let script = "ip link set lo up && \
                  tc qdisc add dev lo root tbf rate 50mbit burst 16kb limit 64mb && \
                  exec taskset -c 0 \"$0\"";
    let status = Command::new("unshare")
        .args(["--net", "sh", "-c", script])
        .arg(&exe)
        .env(CHILD, "1")
        .status()
        .expect("unshare (util-linux) runs");
    assert!(status.success(), "the namespaced run failed: {status}");
    println!("test full_send_buffer_would_block_then_resume ... ok");
    println!("1 passed, 0 failed");
}

fn modes() -> [(&'static str, SocketOptions); 3] {
    let small = SocketOptions {
        send_buffer: Some(16 * 1024),
        gso: false,
        ..SocketOptions::default()
    };
    [
        ("batched", small.clone()),
        (
            "batched+gso",
            SocketOptions {
                gso: true,
                ..small.clone()
            },
        ),
        (
            "portable",
            SocketOptions {
                io: IoMode::Portable,
                ..small
            },
        ),
    ]
}

fn would_block_then_resume(name: &str, opts: &SocketOptions) {
    let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), opts).unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &SocketOptions::default()).unwrap();
    let p: Vec<Vec<u8>> = (0..DATAGRAMS).map(|i| payload(i, SIZE)).collect();
    let txs: Vec<Transmit<'_>> = p.iter().map(|p| to(rx.local_addr(), p)).collect();
    let mut batch = RecvBatch::for_socket(&rx);
    let (mut done, mut next) = (0, 0);
    let (mut short, mut would_block) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while next < DATAGRAMS {
        assert!(
            Instant::now() < deadline,
            "{name}: stuck at sent {done}, got {next}"
        );
        if done < DATAGRAMS {
            match tx.send(&txs[done..]) {
                Ok(n) => {
                    assert!(n > 0, "{name}: Ok(0) for a non-empty slice");
                    if done + n < DATAGRAMS {
                        short += 1;
                    }
                    done += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => would_block += 1,
                Err(e) => panic!("{name}: {e}"),
            }
        }
        match rx.recv(&mut batch) {
            Ok(_) => {
                for (_, data) in batch.iter() {
                    if data != &p[next][..] {
                        let got = data
                            .get(..4)
                            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                        panic!(
                            "{name}: datagram {next} expected, datagram {got:?} arrived; sender {:?}, \
                             receiver {:?}; kernel (this namespace): {}",
                            tx.stats(),
                            rx.stats(),
                            udp_counters()
                        );
                    }
                    next += 1;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_micros(500))
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    let s = tx.stats();
    assert!(short > 0, "{name}: no short send, {s:?}");
    assert!(would_block > 0, "{name}: send never said WouldBlock, {s:?}");
    assert_eq!(s.send_dropped, 0, "{name}: {s:?}");
    assert_eq!(s.sent, DATAGRAMS as u64, "{name}: {s:?}");
    println!("{name}: {DATAGRAMS} datagrams in order after {short} short sends and {would_block} WouldBlocks");
}

/// The kernel's UDP counters of this namespace (`Udp:` of /proc/net/snmp: where a lost
/// datagram was dropped, RcvbufErrors or SndbufErrors), for a failure's message.
fn udp_counters() -> String {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    match (udp.next(), udp.next()) {
        (Some(names), Some(values)) => names
            .split_whitespace()
            .zip(values.split_whitespace())
            .skip(1)
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        _ => "unavailable".to_owned(),
    }
}
