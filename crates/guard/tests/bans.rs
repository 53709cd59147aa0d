//! Bans on a virtual clock: counting, windows, expiry, allow list, lifting, services, IPv6.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::ip;
use edge_guard::{Guard, GuardConfig, Service};

const S: Duration = Duration::from_secs(1);

fn guard() -> Guard {
    common::guard(GuardConfig::default())
}

#[test]
fn third_failure_bans_and_only_that_source() {
    let g = guard();
    let t0 = Instant::now();
    let bad = ip("203.0.113.7");
    assert!(g
        .record_failure(t0, bad, Service::Turn, "bad-integrity", Some("alice"))
        .is_none());
    assert!(g
        .record_failure(t0 + S, bad, Service::Turn, "bad-integrity", None)
        .is_none());
    assert!(!g.is_banned(t0 + S, bad));
    let ban = g
        .record_failure(t0 + 2 * S, bad, Service::Turn, "bad-integrity", None)
        .expect("the third failure bans");
    assert_eq!(ban.source.to_string(), "203.0.113.7/32");
    assert_eq!(ban.service, Service::Turn);
    assert_eq!(ban.failures, 3);
    assert_eq!(ban.since, t0 + 2 * S);
    assert_eq!(ban.until, t0 + 602 * S);
    assert!(g.is_banned(t0 + 2 * S, bad));
    assert!(!g.is_banned(t0 + 2 * S, ip("203.0.113.8")));
    assert_eq!(g.bans(t0 + 3 * S), [ban]);
    // A fourth failure while banned (a request already in flight) starts no second ban.
    assert!(g
        .record_failure(t0 + 3 * S, bad, Service::Turn, "bad-integrity", None)
        .is_none());
    let stats = g.stats();
    assert_eq!(stats.failures, 4);
    assert_eq!(stats.bans_started, 1);
    assert_eq!(stats.bans, 1);
    assert_eq!(stats.banned_drops, 1);
}

#[test]
fn two_failures_then_the_window_passes_no_ban() {
    let g = guard();
    let t0 = Instant::now();
    let src = ip("198.51.100.1");
    g.record_failure(t0, src, Service::Api, "bad-token", None);
    g.record_failure(t0 + 100 * S, src, Service::Api, "bad-token", None);
    // At t0 + 600 s the first failure has left the 600 s window: 2 in the window, no ban.
    assert!(g
        .record_failure(t0 + 600 * S, src, Service::Api, "bad-token", None)
        .is_none());
    assert!(!g.is_banned(t0 + 600 * S, src));
    // The window slides: the failures at 100 s and 600 s are still in it at 650 s.
    assert!(g
        .record_failure(t0 + 650 * S, src, Service::Api, "bad-token", None)
        .is_some());
}

#[test]
fn ban_expires_after_the_duration() {
    let g = common::guard(GuardConfig {
        ban_duration: Duration::from_millis(1500),
        ..GuardConfig::default()
    });
    let t0 = Instant::now();
    let src = ip("192.0.2.50");
    for _ in 0..3 {
        g.record_failure(t0, src, Service::Turn, "bad-integrity", None);
    }
    assert!(g.is_banned(t0 + Duration::from_millis(1499), src));
    let log = common::capture(|| assert!(!g.is_banned(t0 + Duration::from_millis(1500), src)));
    assert_eq!(
        common::messages(&log),
        ["unban source=192.0.2.50/32 cause=expired"]
    );
    assert!(g.bans(t0 + 2 * S).is_empty());
    let stats = g.stats();
    assert_eq!((stats.bans, stats.bans_expired), (0, 1));
    // Failures were reset by the ban: one more failure does not ban again.
    assert!(g
        .record_failure(t0 + 2 * S, src, Service::Turn, "bad-integrity", None)
        .is_none());
}

#[test]
fn sweep_ends_expired_bans_and_forgets_old_records() {
    let g = guard();
    let t0 = Instant::now();
    for _ in 0..3 {
        g.record_failure(t0, ip("192.0.2.1"), Service::Turn, "bad-integrity", None);
    }
    g.record_failure(t0, ip("192.0.2.2"), Service::Turn, "bad-integrity", None);
    assert!(g.allow_request(t0, ip("192.0.2.3"), Service::Api));
    let stats = g.stats();
    assert_eq!(
        (stats.bans, stats.failure_records, stats.rate_buckets),
        (1, 1, 1)
    );
    g.sweep(t0 + 599 * S);
    assert_eq!(g.stats().bans, 1);
    let log = common::capture(|| g.sweep(t0 + 600 * S));
    assert_eq!(
        common::messages(&log),
        ["unban source=192.0.2.1/32 cause=expired"]
    );
    let stats = g.stats();
    assert_eq!(
        (stats.bans, stats.failure_records, stats.rate_buckets),
        (0, 0, 0)
    );
    assert_eq!(stats.bans_expired, 1);
}

#[test]
fn allow_listed_sources_are_never_banned_nor_limited() {
    let g = common::guard(GuardConfig {
        allow: vec![
            "10.9.0.0/16".parse().unwrap(),
            "2001:db8:aa::/48".parse().unwrap(),
        ],
        ..GuardConfig::default()
    });
    let t0 = Instant::now();
    for src in [
        ip("10.9.3.4"),
        ip("::ffff:10.9.3.5"),
        ip("2001:db8:aa:1::9"),
    ] {
        for i in 0..10 {
            assert!(g
                .record_failure(t0 + i * S, src, Service::Api, "bad-token", None)
                .is_none());
        }
        assert!(!g.is_banned(t0 + 10 * S, src));
        assert!((0..1000).all(|_| g.allow_request(t0, src, Service::Api)));
    }
    let stats = g.stats();
    assert_eq!(
        (stats.failures, stats.bans_started, stats.failure_records),
        (30, 0, 0)
    );
    assert_eq!(stats.rate_refused.api, 0);
    // Just outside the allowed network: banned as usual.
    for _ in 0..3 {
        g.record_failure(t0, ip("10.10.0.1"), Service::Api, "bad-token", None);
    }
    assert!(g.is_banned(t0, ip("10.10.0.1")));
}

#[test]
fn lift_ends_a_ban_and_forgets_the_failures() {
    let g = guard();
    let t0 = Instant::now();
    let src = ip("203.0.113.9");
    for _ in 0..3 {
        g.record_failure(t0, src, Service::Api, "bad-token", None);
    }
    let log = common::capture(|| assert!(g.lift(t0 + S, src)));
    assert_eq!(
        common::messages(&log),
        ["unban source=203.0.113.9/32 cause=lifted"]
    );
    assert!(!g.is_banned(t0 + S, src));
    assert!(g.bans(t0 + S).is_empty());
    assert!(!g.lift(t0 + S, src), "nothing left to lift");
    // Counting starts again from zero.
    g.record_failure(t0 + 2 * S, src, Service::Api, "bad-token", None);
    g.record_failure(t0 + 2 * S, src, Service::Api, "bad-token", None);
    assert!(!g.is_banned(t0 + 2 * S, src));
    assert_eq!(g.stats().bans_lifted, 1);
}

#[test]
fn failures_add_up_across_services_and_the_ban_covers_all() {
    let g = guard();
    let t0 = Instant::now();
    let src = ip("198.51.100.77");
    assert!(g
        .record_failure(t0, src, Service::Turn, "bad-integrity", Some("bob"))
        .is_none());
    assert!(g
        .record_failure(t0 + S, src, Service::Api, "bad-token", None)
        .is_none());
    let ban = g
        .record_failure(t0 + 2 * S, src, Service::Api, "bad-token", None)
        .unwrap();
    assert_eq!(ban.service, Service::Api);
    // One ban, checked the same way by every listener.
    assert!(g.is_banned(t0 + 3 * S, src));
    assert_eq!(g.bans(t0 + 3 * S).len(), 1);
}

#[test]
fn ipv6_counts_per_prefix_and_mapped_ipv4_is_ipv4() {
    let g = guard();
    let t0 = Instant::now();
    // Three addresses of one /64 add up and ban the /64.
    for a in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] {
        g.record_failure(t0, ip(a), Service::Turn, "bad-integrity", None);
    }
    assert!(g.is_banned(t0, ip("2001:db8:1:2:abcd::99")));
    assert!(!g.is_banned(t0, ip("2001:db8:1:3::1")));
    assert_eq!(g.bans(t0)[0].source.to_string(), "2001:db8:1:2::/64");
    // IPv4-mapped and plain IPv4 are one source.
    g.record_failure(
        t0,
        ip("::ffff:192.0.2.7"),
        Service::Ice,
        "bad-integrity",
        None,
    );
    g.record_failure(t0, ip("192.0.2.7"), Service::Ice, "bad-integrity", None);
    g.record_failure(
        t0,
        ip("::ffff:192.0.2.7"),
        Service::Ice,
        "bad-integrity",
        None,
    );
    assert!(g.is_banned(t0, ip("192.0.2.7")));
    assert!(g.is_banned(t0, ip("::ffff:192.0.2.7")));
    assert!(g.lift(t0, ip("::ffff:192.0.2.7")));

    // With prefix 128, every IPv6 address stands alone.
    let g = common::guard(GuardConfig {
        ipv6_prefix: 128,
        ..GuardConfig::default()
    });
    for a in ["2001:db8::1", "2001:db8::2", "2001:db8::3"] {
        g.record_failure(t0, ip(a), Service::Turn, "bad-integrity", None);
    }
    assert!(!g.is_banned(t0, ip("2001:db8::1")));
}

#[test]
fn guard_clones_share_one_state() {
    let g = guard();
    let other = g.clone();
    let t0 = Instant::now();
    for _ in 0..3 {
        other.record_failure(t0, ip("192.0.2.99"), Service::Ice, "bad-integrity", None);
    }
    assert!(g.is_banned(t0, ip("192.0.2.99")));
}

#[test]
fn bans_started_changes_only_when_a_ban_starts() {
    let g = guard();
    let clone = g.clone();
    let t0 = Instant::now();
    let (a, b) = (ip("203.0.113.21"), ip("203.0.113.22"));
    assert_eq!(g.bans_started(), 0);
    // Failures short of a ban, and a fourth failure while banned, start nothing.
    g.record_failure(t0, a, Service::Turn, "bad-integrity", None);
    g.record_failure(t0, a, Service::Turn, "bad-integrity", None);
    assert_eq!(g.bans_started(), 0);
    g.record_failure(t0, a, Service::Turn, "bad-integrity", None);
    assert_eq!(g.bans_started(), 1);
    assert!(g.is_banned(t0, a), "a counted ban is visible to is_banned");
    g.record_failure(t0 + S, a, Service::Turn, "bad-integrity", None);
    assert_eq!(g.bans_started(), 1);
    // Lifting, expiring and sweeping end bans, they start none.
    assert!(g.lift(t0 + S, a));
    for _ in 0..3 {
        g.record_failure(t0 + S, b, Service::Api, "bad-token", None);
    }
    assert_eq!((g.bans_started(), clone.bans_started()), (2, 2));
    g.sweep(t0 + 700 * S);
    assert!(!g.is_banned(t0 + 700 * S, b));
    assert_eq!(g.bans_started(), g.stats().bans_started);
    assert_eq!(g.bans_started(), 2);
}

/// A reload: the new max-failures, ban duration, allow list and rate limits apply to what
/// comes next; a ban in force keeps its end; the table shape (ipv6-prefix) stays.
#[test]
fn reconfigure_applies_to_what_comes_next() {
    let g = guard();
    let t0 = Instant::now();
    let early = ip("203.0.113.7");
    for k in 0..3 {
        g.record_failure(t0 + k * S, early, Service::Api, "bad-token", None);
    }
    let old_ban = g.bans(t0 + 3 * S)[0];

    let mut config = GuardConfig {
        max_failures: 2,
        ban_duration: 30 * S,
        allow: vec!["198.51.100.0/24".parse().unwrap()],
        ipv6_prefix: 128,
        ..GuardConfig::default()
    };
    config.rate.api.rate = 1.0;
    config.rate.api.burst = 1;
    g.reconfigure(config).unwrap();
    assert_eq!(g.config().max_failures, 2);
    assert_eq!(g.config().ipv6_prefix, 64, "the tables' prefix stays");

    let late = ip("203.0.113.8");
    assert!(g
        .record_failure(t0 + 4 * S, late, Service::Turn, "bad-integrity", None)
        .is_none());
    let ban = g
        .record_failure(t0 + 5 * S, late, Service::Turn, "bad-integrity", None)
        .expect("the second failure bans now");
    assert_eq!(ban.until, t0 + 35 * S);
    assert_eq!(g.bans(t0 + 5 * S).len(), 2);
    assert!(
        g.bans(t0 + 5 * S).contains(&old_ban),
        "the old ban keeps its end"
    );
    // Allow-listed now: never banned, never limited.
    let friend = ip("198.51.100.9");
    for k in 0..5 {
        assert!(g
            .record_failure(t0 + 6 * S, friend, Service::Api, "bad-token", None)
            .is_none());
        assert!(g.allow_request(t0 + 6 * S, friend, Service::Api), "{k}");
    }
    // The API's new rate: one request, then refused within the same second.
    let other = ip("192.0.2.1");
    assert!(g.allow_request(t0 + 7 * S, other, Service::Api));
    assert!(!g.allow_request(t0 + 7 * S, other, Service::Api));
    // A bad configuration changes nothing.
    let bad = GuardConfig {
        max_failures: 0,
        ..GuardConfig::default()
    };
    assert!(g.reconfigure(bad).is_err());
    assert_eq!(g.config().max_failures, 2);
}
