//! The guard's gates, alone and with two threads at once, beside two other designs of the same
//! tables: one global `Mutex<HashMap>` (the naive design) and `dashmap` (sharded
//! `RwLock<HashMap>`s, the crate the design names for shared maps), to show what the guard's
//! own sharding and lock-free ban filter buy. All three use the same keyed hasher
//! ([`KeyedState`]) and the same token bucket ([`TokenBucket`]), so only the tables differ.
//!
//! cargo bench -p edge-guard --bench guard
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::LazyLock;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use dashmap::DashMap;
use edge_guard::{Guard, GuardConfig, KeyedState, Refill, Service, TokenBucket};

const BANNED: u32 = 10_000;
const THREADS: usize = 2;
/// The rate limit the other designs apply: the guard's default for TURN, 50 per second,
/// burst 200.
static RATE: LazyLock<Refill> = LazyLock::new(|| Refill::new(50.0, 200));

fn addr(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | i))
}

/// What every design answers.
trait Gate: Sync {
    fn is_banned(&self, now: Instant, source: IpAddr) -> bool;
    fn allow_request(&self, now: Instant, source: IpAddr, service: Service) -> bool;
}

impl Gate for Guard {
    fn is_banned(&self, now: Instant, source: IpAddr) -> bool {
        Guard::is_banned(self, now, source)
    }
    fn allow_request(&self, now: Instant, source: IpAddr, service: Service) -> bool {
        Guard::allow_request(self, now, source, service)
    }
}

/// The naive design: one lock over every ban and bucket.
#[derive(Default)]
struct GlobalMutex {
    bans: Mutex<HashMap<IpAddr, Instant, KeyedState>>,
    buckets: Mutex<HashMap<(Service, IpAddr), TokenBucket, KeyedState>>,
}

impl Gate for GlobalMutex {
    fn is_banned(&self, now: Instant, source: IpAddr) -> bool {
        self.bans
            .lock()
            .unwrap()
            .get(&source)
            .is_some_and(|until| *until > now)
    }
    fn allow_request(&self, now: Instant, source: IpAddr, service: Service) -> bool {
        let mut buckets = self.buckets.lock().unwrap();
        buckets
            .entry((service, source))
            .or_insert_with(|| TokenBucket::full(now))
            .take(now, 1, &RATE)
    }
}

/// The same tables in dashmap.
#[derive(Default)]
struct Dash {
    bans: DashMap<IpAddr, Instant, KeyedState>,
    buckets: DashMap<(Service, IpAddr), TokenBucket, KeyedState>,
}

impl Gate for Dash {
    fn is_banned(&self, now: Instant, source: IpAddr) -> bool {
        self.bans.get(&source).is_some_and(|until| *until > now)
    }
    fn allow_request(&self, now: Instant, source: IpAddr, service: Service) -> bool {
        self.buckets
            .entry((service, source))
            .or_insert_with(|| TokenBucket::full(now))
            .take(now, 1, &RATE)
    }
}

/// The three designs, each holding `bans` bans (sources 0..bans).
fn designs(now: Instant, bans: u32) -> Vec<(&'static str, Box<dyn Gate>)> {
    let guard = Guard::new(GuardConfig {
        max_failures: 1,
        ..GuardConfig::default()
    })
    .unwrap();
    let (global, dash) = (GlobalMutex::default(), Dash::default());
    let until = now + Duration::from_secs(600);
    for i in 0..bans {
        guard.record_failure(now, addr(i), Service::Turn, "bad-integrity", None);
        global.bans.lock().unwrap().insert(addr(i), until);
        dash.bans.insert(addr(i), until);
    }
    vec![
        ("edge_guard", Box::new(guard)),
        ("global_mutex", Box::new(global)),
        ("dashmap", Box::new(dash)),
    ]
}

/// Nanoseconds per call per thread, `THREADS` threads each making `iters` calls.
fn parallel(iters: u64, call: impl Fn(usize, u64) + Sync) -> Duration {
    let barrier = Barrier::new(THREADS + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (barrier, call) = (&barrier, &call);
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for i in 0..iters {
                        call(t, i);
                    }
                    start.elapsed()
                })
            })
            .collect();
        barrier.wait();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .max()
            .unwrap()
    })
}

fn single(c: &mut Criterion) {
    let now = Instant::now();
    let miss = |i: u32| addr(BANNED + (i % 1_000_000));
    let hit = |i: u32| addr(i % BANNED);
    // 1 ms per call keeps the 1,000 buckets under their limit.
    let t_of = |i: u32| now + Duration::from_millis(u64::from(i));
    let mut group = c.benchmark_group("guard_1_thread");
    for (bans, label) in [(0, "no_bans"), (BANNED, "10k_bans")] {
        for (name, gate) in designs(now, bans) {
            group.bench_function(format!("is_banned/{name}/{label}_miss"), |b| {
                let mut i = 0u32;
                b.iter(|| {
                    i = i.wrapping_add(1);
                    black_box(gate.is_banned(now, miss(i)))
                })
            });
            if bans > 0 {
                group.bench_function(format!("is_banned/{name}/{label}_hit"), |b| {
                    let mut i = 0u32;
                    b.iter(|| {
                        i = i.wrapping_add(1);
                        black_box(gate.is_banned(now, hit(i)))
                    })
                });
            } else {
                group.bench_function(format!("allow_request/{name}/1k_sources"), |b| {
                    let mut i = 0u32;
                    b.iter(|| {
                        i = i.wrapping_add(1);
                        black_box(gate.allow_request(t_of(i), addr(i % 1000), Service::Turn))
                    })
                });
            }
        }
    }
    group.bench_function("record_failure/edge_guard/no_subscriber", |b| {
        let mut i = 0u32;
        let g = Guard::new(GuardConfig::default()).unwrap();
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(g.record_failure(now, addr(i % 50_000), Service::Turn, "bad-integrity", None))
        })
    });
    group.finish();
}

fn contended(c: &mut Criterion) {
    let now = Instant::now();
    let mut group = c.benchmark_group("guard_2_threads");
    // Both threads look up sources of which one in ten is banned.
    let src = |t: usize, i: u64| addr(((i as u32).wrapping_mul(7919) ^ (t as u32)) % (10 * BANNED));
    let t_of = |i: u64| now + Duration::from_micros(i * 100);
    for (name, gate) in designs(now, BANNED) {
        group.bench_function(format!("is_banned/{name}"), |b| {
            b.iter_custom(|iters| {
                parallel(iters, |t, i| {
                    black_box(gate.is_banned(now, src(t, i)));
                })
            })
        });
        group.bench_function(format!("allow_request/{name}"), |b| {
            b.iter_custom(|iters| {
                parallel(iters, |t, i| {
                    black_box(gate.allow_request(t_of(i), src(t, i), Service::Ice));
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, single, contended);
criterion_main!(benches);
