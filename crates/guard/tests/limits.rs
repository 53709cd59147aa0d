//! Rate limits, bounded tables under a spoofed flood, threads hammering one guard.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::ip;
use edge_guard::{Guard, GuardConfig, RateLimit, RateLimits, Service, SHARDS};

#[test]
fn rate_limit_per_service_and_source_refills_at_rate() {
    let g = Guard::new(GuardConfig {
        rate: RateLimits {
            turn: RateLimit {
                rate: 10.0,
                burst: 5,
            },
            api: RateLimit {
                rate: 1.0,
                burst: 2,
            },
            ..RateLimits::default()
        },
        ..GuardConfig::default()
    })
    .unwrap();
    let t0 = Instant::now();
    let a = ip("203.0.113.1");
    let b = ip("203.0.113.2");
    assert!((0..5).all(|_| g.allow_request(t0, a, Service::Turn)));
    assert!(!g.allow_request(t0, a, Service::Turn));
    // Another source and another service have their own buckets.
    assert!((0..5).all(|_| g.allow_request(t0, b, Service::Turn)));
    assert!(g.allow_request(t0, a, Service::Api));
    assert!(g.allow_request(t0, a, Service::Api));
    assert!(!g.allow_request(t0, a, Service::Api));
    // 100 ms gives source a one TURN token back; 1 s gives one API token.
    let t1 = t0 + Duration::from_millis(100);
    assert!(g.allow_request(t1, a, Service::Turn));
    assert!(!g.allow_request(t1, a, Service::Turn));
    assert!(!g.allow_request(t1, a, Service::Api));
    assert!(g.allow_request(t0 + Duration::from_secs(1), a, Service::Api));
    // Sustained: over 10 s of one attempt per millisecond, burst + 10/s x 10 s pass.
    let t2 = t0 + Duration::from_secs(100);
    let passed = (0..10_000u64)
        .filter(|ms| g.allow_request(t2 + Duration::from_millis(*ms), b, Service::Turn))
        .count();
    assert_eq!(passed, 5 + 100 - 1);
    let refused = g.stats().rate_refused;
    assert_eq!(refused.turn, 1 + 1 + (10_000 - 104));
    assert_eq!(refused.api, 2);
    assert_eq!(refused.ice, 0);
}

/// A million distinct (spoofed) sources failing and sending requests: every table stays under
/// its cap, and a ban made before the flood is still there after it.
#[test]
fn spoofed_flood_of_a_million_sources_stays_bounded() {
    let cap = 10_000;
    let g = Guard::new(GuardConfig {
        max_tracked: cap,
        ..GuardConfig::default()
    })
    .unwrap();
    let bound = cap.div_ceil(SHARDS) * SHARDS;
    let t0 = Instant::now();
    let victim = ip("192.0.2.200");
    for _ in 0..3 {
        g.record_failure(t0, victim, Service::Turn, "bad-integrity", None);
    }
    for i in 0..1_000_000u32 {
        let src = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | i));
        let now = t0 + Duration::from_micros(u64::from(i));
        g.record_failure(now, src, Service::Turn, "bad-integrity", Some("spoofed"));
        g.allow_request(now, src, Service::Turn);
    }
    // IPv6 sources spread over distinct /64s.
    for i in 0..100_000u64 {
        let src = IpAddr::V6(Ipv6Addr::from(
            (0x2001_0db8u128 << 96) | (u128::from(i) << 64),
        ));
        g.record_failure(
            t0 + Duration::from_secs(1),
            src,
            Service::Ice,
            "bad-integrity",
            None,
        );
    }
    let stats = g.stats();
    assert!(stats.failure_records <= bound, "{stats:?}");
    assert!(stats.rate_buckets <= bound, "{stats:?}");
    assert!(
        stats.failure_records > bound / 2,
        "the cap is used, not undershot: {stats:?}"
    );
    assert!(stats.tracked_evicted > 1_000_000, "{stats:?}");
    assert_eq!(stats.bans_started, 1);
    assert!(g.is_banned(t0 + Duration::from_secs(2), victim));
}

#[test]
fn ban_table_is_bounded_too() {
    let g = Guard::new(GuardConfig {
        max_failures: 1,
        max_tracked: 64,
        ..GuardConfig::default()
    })
    .unwrap();
    let t0 = Instant::now();
    for i in 0..10_000u32 {
        let src = IpAddr::V4(Ipv4Addr::from(0xc633_0000 | i));
        let now = t0 + Duration::from_millis(u64::from(i));
        assert!(g
            .record_failure(now, src, Service::Api, "bad-token", None)
            .is_some());
    }
    let stats = g.stats();
    assert!(stats.bans <= 64, "{stats:?}");
    assert_eq!(stats.bans_started, 10_000);
    assert_eq!(stats.bans_evicted + stats.bans as u64, 10_000);
    // The newest ban is kept: the soonest to end go first.
    assert!(g.is_banned(
        t0 + Duration::from_secs(10),
        IpAddr::V4(Ipv4Addr::from(0xc633_0000 | 9_999))
    ));
}

/// Threads hammer `is_banned`, `allow_request` and `record_failure` on one guard: no deadlock,
/// and every count adds up.
#[test]
fn threads_hammering_one_guard_agree_on_the_counts() {
    let g = Arc::new(Guard::new(GuardConfig::default()).unwrap());
    let t0 = Instant::now();
    let writers = 4u32;
    let sources_each = 500u32;
    let mut handles = Vec::new();
    for w in 0..writers {
        let g = Arc::clone(&g);
        handles.push(std::thread::spawn(move || {
            for s in 0..sources_each {
                let src = IpAddr::V4(Ipv4Addr::from((w << 16) | s | 0x0100_0000));
                for _ in 0..3 {
                    g.record_failure(t0, src, Service::Turn, "bad-integrity", None);
                }
                assert!(g.is_banned(t0, src));
            }
            0u64
        }));
    }
    for r in 0..2u32 {
        let g = Arc::clone(&g);
        handles.push(std::thread::spawn(move || {
            let mut banned = 0u64;
            for i in 0..200_000u32 {
                let src = IpAddr::V4(Ipv4Addr::from(((i % 4) << 16) | (i % 500) | 0x0100_0000));
                banned += u64::from(g.is_banned(t0, src));
                g.allow_request(
                    t0,
                    IpAddr::V4(Ipv4Addr::from(r << 8 | (i % 7))),
                    Service::Ice,
                );
            }
            banned
        }));
    }
    let reader_banned: u64 = handles
        .into_iter()
        .enumerate()
        .map(|(i, h)| h.join().unwrap_or_else(|_| panic!("thread {i} panicked")))
        .sum();
    let total = u64::from(writers * sources_each);
    let stats = g.stats();
    assert_eq!(stats.failures, 3 * total);
    assert_eq!(stats.bans_started, total);
    assert_eq!(stats.bans as u64, total);
    assert_eq!(g.bans(t0).len() as u64, total);
    assert_eq!(stats.banned_drops, total + reader_banned);
    // 2 readers x 7 sources x 200k/7 requests at one instant: each bucket passes its burst.
    assert_eq!(stats.rate_refused.ice, 2 * 200_000 - 2 * 7 * 400);
}
