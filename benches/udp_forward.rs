//! The plain UDP forwarder ceiling: how many 172-byte datagrams per second one thread moves
//! client -> forwarder -> sink over loopback, with nothing but the I/O in the way.
//!
//! Each iteration queues 4,096 datagrams at the forwarder (unmeasured), then measures the
//! forwarder draining its socket into the sink's, then checks (unmeasured) that the sink got
//! them all, byte for byte. What is measured is the forwarding thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), the kernel's work included (loopback delivers to the sink
//! inside the sender's system call), so the throughput reads as datagrams per CPU-second and
//! holds on a busy machine; on an idle core it equals wall-clock throughput. Variants, side
//! by side:
//!
//! - `recv_from_send_to`: one std `recv_from` and one `send_to` per datagram;
//! - `webrtc_util_conn`: webrtc-rs's `Conn` over a tokio `UdpSocket`, one `recv_from` and one
//!   `send_to` per datagram, as webrtc-rs moves packets;
//! - `recvmmsg_sendmmsg_32`: edge-udp batches of 32 both ways, GSO off;
//! - `recvmmsg_gso_32`: edge-udp, 32 per `recvmmsg`, each batch to the one sink coalesced
//!   into a GSO send;
//! - `gro_gso_32`: edge-udp with GRO on the forwarder (the client sends GSO trains), each
//!   train forwarded as one GSO send. An upper bound, not the product's path: media-edge
//!   receives with GRO off, and browsers send datagram by datagram; compare the product with
//!   `recvmmsg_sendmmsg_32` and `recvmmsg_gso_32`.
//!
//! Run: `cargo bench --bench udp_forward`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpu_time::ThreadTime;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use edge_udp::{RecvBatch, SocketOptions, Transmit, UdpSocket, DEFAULT_BATCH};
use webrtc_util::Conn;

/// Datagrams per iteration at most; fewer when the receive buffers the kernel grants (capped
/// by net.core.rmem_max) could not hold them all (see [`per_iteration`]).
const MAX_N: usize = 4096;
const SIZE: usize = 172;

fn options(gso: bool, gro: bool) -> SocketOptions {
    SocketOptions {
        gso,
        gro,
        ..SocketOptions::default()
    }
}

/// Datagrams per iteration: [`MAX_N`], or fewer (a multiple of 32) when the receive buffer
/// the kernel grants could not queue that many. A 172-byte datagram takes up to 2 KiB of it.
fn per_iteration() -> usize {
    let probe = UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &options(false, false)).unwrap();
    let fits = probe.capabilities().recv_buffer / 2048;
    (fits / DEFAULT_BATCH * DEFAULT_BATCH).clamp(DEFAULT_BATCH, MAX_N)
}

struct Rig {
    client: UdpSocket,
    forwarder: UdpSocket,
    sink: UdpSocket,
    sink_batch: RecvBatch,
    payloads: Vec<[u8; SIZE]>,
}

impl Rig {
    /// `client_gso`: whether the client sends its datagrams as GSO trains (which a GRO
    /// forwarder then receives as trains).
    fn new(forwarder: SocketOptions, client_gso: bool) -> Self {
        let bind = |o: &SocketOptions| UdpSocket::bind("127.0.0.1:0".parse().unwrap(), o).unwrap();
        let sink = bind(&options(false, false));
        let payloads = (0..per_iteration())
            .map(|i| {
                let mut p = [0x80u8; SIZE];
                p[..4].copy_from_slice(&(i as u32).to_be_bytes());
                p
            })
            .collect();
        Self {
            client: bind(&options(client_gso, false)),
            forwarder: bind(&forwarder),
            sink_batch: RecvBatch::for_socket(&sink),
            sink,
            payloads,
        }
    }

    /// Queues all the datagrams at the forwarder.
    fn fill(&self) {
        let dst = self.forwarder.local_addr();
        for chunk in self.payloads.chunks(DEFAULT_BATCH) {
            let mut txs = [Transmit::PLACEHOLDER; DEFAULT_BATCH];
            for (t, p) in txs.iter_mut().zip(chunk) {
                *t = Transmit {
                    dst,
                    contents: p,
                    ..Transmit::PLACEHOLDER
                };
            }
            let mut done = 0;
            while done < chunk.len() {
                done += self.client.send(&txs[done..chunk.len()]).unwrap();
            }
        }
    }

    /// Drains the sink and checks every datagram arrived, in order, intact.
    fn check(&mut self) {
        let mut next = 0;
        let deadline = Instant::now() + Duration::from_secs(5);
        let n = self.payloads.len();
        while next < n && Instant::now() < deadline {
            match self.sink.recv(&mut self.sink_batch) {
                Ok(_) => {
                    for (_, d) in self.sink_batch.iter() {
                        for seg in d.chunks(SIZE) {
                            assert_eq!(seg, &self.payloads[next][..], "datagram {next}");
                            next += 1;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(next, n, "the sink got {next} of {n} datagrams");
    }

    fn sink_addr(&self) -> SocketAddr {
        self.sink.local_addr()
    }
}

/// The CPU time `forward` (which must move every queued datagram and return how many) takes
/// per iteration, with filling and checking outside the measurement.
fn timed(rig: &mut Rig, iters: u64, mut forward: impl FnMut(&Rig) -> usize) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        rig.fill();
        let start = ThreadTime::now();
        let moved = forward(rig);
        total += start.elapsed();
        let n = rig.payloads.len();
        assert_eq!(moved, n, "forwarded {moved} of {n}");
        rig.check();
    }
    total
}

/// The edge-udp forwarder loop: receive a batch, send it from the same memory, until the
/// socket is empty. GRO trains go on as GSO trains of the same stride.
fn forward_batched(rig: &Rig, batch: &mut RecvBatch) -> usize {
    let sink = rig.sink_addr();
    let mut moved = 0;
    loop {
        let n = match rig.forwarder.recv(batch) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return moved,
            Err(e) => panic!("{e}"),
        };
        let mut out = [Transmit::PLACEHOLDER; DEFAULT_BATCH];
        for ((meta, slot), t) in batch.slots_mut().zip(out.iter_mut()) {
            moved += meta.len.div_ceil(meta.stride);
            *t = Transmit {
                dst: sink,
                contents: &slot[..meta.len],
                segment_size: (meta.stride < meta.len).then_some(meta.stride),
                ..Transmit::PLACEHOLDER
            };
        }
        let mut done = 0;
        while done < n {
            done += rig.forwarder.send(&out[done..n]).unwrap();
        }
    }
}

fn udp_forward(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("udp_forward_{SIZE}B"));
    group.throughput(Throughput::Elements(per_iteration() as u64));
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));

    group.bench_function("recv_from_send_to", |b| {
        let mut rig = Rig::new(options(false, false), false);
        let mut buf = [0u8; 2048];
        b.iter_custom(|iters| {
            timed(&mut rig, iters, |rig| {
                let (fwd, sink) = (rig.forwarder.as_std(), rig.sink_addr());
                let mut moved = 0;
                loop {
                    match fwd.recv_from(&mut buf) {
                        Ok((len, _)) => {
                            fwd.send_to(&buf[..len], sink).unwrap();
                            moved += 1;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return moved,
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
    });

    group.bench_function("webrtc_util_conn", |b| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut rig = Rig::new(options(false, false), false);
        let conn: Arc<dyn Conn + Send + Sync> = rt.block_on(async {
            let std = rig.forwarder.as_std().try_clone().unwrap();
            Arc::new(tokio::net::UdpSocket::from_std(std).unwrap())
        });
        let mut buf = [0u8; 2048];
        b.iter_custom(|iters| {
            timed(&mut rig, iters, |rig| {
                let (sink, n) = (rig.sink_addr(), rig.payloads.len());
                rt.block_on(async {
                    let mut moved = 0;
                    // Everything is queued: a receive that would wait means the socket is empty.
                    while let Ok(Ok((len, _))) =
                        tokio::time::timeout(Duration::from_millis(20), conn.recv_from(&mut buf))
                            .await
                    {
                        conn.send_to(&buf[..len], sink).await.unwrap();
                        moved += 1;
                        if moved == n {
                            break;
                        }
                    }
                    moved
                })
            })
        })
    });

    for (name, gso, gro) in [
        ("recvmmsg_sendmmsg_32", false, false),
        ("recvmmsg_gso_32", true, false),
        ("gro_gso_32", true, true),
    ] {
        group.bench_function(name, |b| {
            let mut rig = Rig::new(options(gso, gro), gro);
            let mut batch = RecvBatch::for_socket(&rig.forwarder);
            b.iter_custom(|iters| timed(&mut rig, iters, |rig| forward_batched(rig, &mut batch)))
        });
    }
    group.finish();
}

criterion_group!(benches, udp_forward);
criterion_main!(benches);
