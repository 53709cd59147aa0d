//! The guard's gates, alone and with two threads at once, beside the naive design (one global
//! `Mutex<HashMap>`) to show what the sharding buys.
//!
//! cargo bench -p edge-guard --bench guard
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use edge_guard::{Guard, GuardConfig, Service};

const BANNED: u32 = 10_000;
const THREADS: usize = 2;

fn addr(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | i))
}

/// A guard holding `BANNED` bans (sources 0..BANNED).
fn loaded(now: Instant) -> Guard {
    let g = Guard::new(GuardConfig {
        max_failures: 1,
        ..GuardConfig::default()
    })
    .unwrap();
    for i in 0..BANNED {
        g.record_failure(now, addr(i), Service::Turn, "bad-integrity", None);
    }
    g
}

/// The naive design: one lock over every ban and bucket.
struct Naive {
    bans: Mutex<HashMap<IpAddr, Instant>>,
    buckets: Mutex<HashMap<(Service, IpAddr), (f64, Instant)>>,
}

impl Naive {
    fn loaded(now: Instant) -> Self {
        let bans = (0..BANNED)
            .map(|i| (addr(i), now + Duration::from_secs(600)))
            .collect();
        Self {
            bans: Mutex::new(bans),
            buckets: Mutex::new(HashMap::new()),
        }
    }
    fn is_banned(&self, now: Instant, source: IpAddr) -> bool {
        self.bans
            .lock()
            .unwrap()
            .get(&source)
            .is_some_and(|until| *until > now)
    }
    fn allow_request(&self, now: Instant, source: IpAddr, service: Service) -> bool {
        let (rate, burst) = (50.0, 200.0);
        let mut buckets = self.buckets.lock().unwrap();
        let (tokens, at) = buckets.entry((service, source)).or_insert((burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        let ok = *tokens >= 1.0;
        if ok {
            *tokens -= 1.0;
        }
        ok
    }
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
    let empty = Guard::new(GuardConfig::default()).unwrap();
    let g = loaded(now);
    let naive = Naive::loaded(now);
    let miss = |i: u32| addr(BANNED + (i % 1_000_000));
    let hit = |i: u32| addr(i % BANNED);
    let mut group = c.benchmark_group("guard_1_thread");
    group.bench_function("is_banned/edge_guard/no_bans", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(empty.is_banned(now, miss(i)))
        })
    });
    group.bench_function("is_banned/edge_guard/10k_bans_miss", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(g.is_banned(now, miss(i)))
        })
    });
    group.bench_function("is_banned/global_mutex/10k_bans_miss", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(naive.is_banned(now, miss(i)))
        })
    });
    group.bench_function("is_banned/edge_guard/10k_bans_hit", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(g.is_banned(now, hit(i)))
        })
    });
    group.bench_function("is_banned/global_mutex/10k_bans_hit", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(naive.is_banned(now, hit(i)))
        })
    });
    // 1 ms per call keeps the 1,000 buckets under their limit.
    let t_of = |i: u32| now + Duration::from_millis(u64::from(i));
    group.bench_function("allow_request/edge_guard/1k_sources", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(empty.allow_request(t_of(i), addr(i % 1000), Service::Turn))
        })
    });
    group.bench_function("allow_request/global_mutex/1k_sources", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(naive.allow_request(t_of(i), addr(i % 1000), Service::Turn))
        })
    });
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
    let g = loaded(now);
    let naive = Naive::loaded(now);
    let mut group = c.benchmark_group("guard_2_threads");
    // Both threads look up sources of which one in ten is banned.
    let src = |t: usize, i: u64| addr(((i as u32).wrapping_mul(7919) ^ (t as u32)) % (10 * BANNED));
    group.bench_function("is_banned/edge_guard", |b| {
        b.iter_custom(|iters| {
            parallel(iters, |t, i| {
                black_box(g.is_banned(now, src(t, i)));
            })
        })
    });
    group.bench_function("is_banned/global_mutex", |b| {
        b.iter_custom(|iters| {
            parallel(iters, |t, i| {
                black_box(naive.is_banned(now, src(t, i)));
            })
        })
    });
    let t_of = |i: u64| now + Duration::from_micros(i * 100);
    group.bench_function("allow_request/edge_guard", |b| {
        b.iter_custom(|iters| {
            parallel(iters, |t, i| {
                black_box(g.allow_request(t_of(i), src(t, i), Service::Ice));
            })
        })
    });
    group.bench_function("allow_request/global_mutex", |b| {
        b.iter_custom(|iters| {
            parallel(iters, |t, i| {
                black_box(naive.allow_request(t_of(i), src(t, i), Service::Ice));
            })
        })
    });
    group.finish();
}

criterion_group!(benches, single, contended);
criterion_main!(benches);
