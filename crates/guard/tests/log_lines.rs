//! The log lines exactly as a subscriber writes them, hostile names escaped, and the
//! configuration section.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{capture, ip, messages};
use edge_guard::{Error, Guard, GuardConfig, RateLimit, Service};

#[test]
fn failure_ban_and_unban_lines_are_exact() {
    let g = common::guard(GuardConfig {
        allow: vec!["192.0.2.0/24".parse().unwrap()],
        ..GuardConfig::default()
    });
    let t0 = Instant::now();
    let log = capture(|| {
        let src = ip("203.0.113.7");
        g.record_failure(t0, src, Service::Turn, "bad-integrity", Some("alice"));
        g.record_failure(
            t0,
            ip("::ffff:203.0.113.7"),
            Service::Api,
            "bad-token",
            None,
        );
        g.record_failure(t0, src, Service::Ice, "bad-integrity", Some("ufrag:x"));
        g.record_failure(
            t0,
            ip("2001:db8::5"),
            Service::Turn,
            "unknown-user",
            Some("eve"),
        );
        g.record_failure(t0, ip("192.0.2.1"), Service::Api, "bad-token", None);
        g.lift(t0, src);
    });
    assert_eq!(
        messages(&log),
        [
            r#"auth-failure service=turn source=203.0.113.7 reason="bad-integrity" user="alice" failures=1/3"#,
            r#"auth-failure service=api source=203.0.113.7 reason="bad-token" user="" failures=2/3"#,
            r#"auth-failure service=ice source=203.0.113.7 reason="bad-integrity" user="ufrag:x" failures=3/3"#,
            "ban source=203.0.113.7/32 service=ice failures=3 duration=600s",
            r#"auth-failure service=turn source=2001:db8::5 reason="unknown-user" user="eve" failures=1/3"#,
            r#"auth-failure service=api source=192.0.2.1 reason="bad-token" user="" failures=0/3"#,
            "unban source=203.0.113.7/32 cause=lifted",
        ]
    );
    // Levels: failures and bans warn, unbans inform.
    let levels: Vec<&str> = log
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        levels,
        ["WARN", "WARN", "WARN", "WARN", "WARN", "WARN", "INFO"]
    );
}

#[test]
fn hostile_usernames_cannot_forge_a_line_or_a_field() {
    let g = common::guard(GuardConfig::default());
    let t0 = Instant::now();
    let hostile = [
        "x\nWARN edge_guard: auth-failure service=turn source=6.6.6.6 reason=\"r\" user=\"\" failures=1/3",
        "x\" failures=0/3",
        "x\r\u{1b}[2J\u{0}\u{85}\u{2028}",
        "\\\" source=6.6.6.6",
        &"long".repeat(1000),
    ];
    let log = capture(|| {
        for (i, user) in hostile.iter().enumerate() {
            let src = ip(&format!("198.51.100.{i}"));
            g.record_failure(t0, src, Service::Turn, "bad-integrity", Some(user));
        }
    });
    // One line per failure, nothing else.
    assert_eq!(log.lines().count(), hostile.len(), "{log}");
    for (i, m) in messages(&log).into_iter().enumerate() {
        let head = format!(
            r#"auth-failure service=turn source=198.51.100.{i} reason="bad-integrity" user=""#
        );
        assert!(m.starts_with(&head), "{m}");
        assert!(m.ends_with("\" failures=1/3"), "{m}");
        let user = &m[head.len()..m.len() - "\" failures=1/3".len()];
        assert!(
            !user.contains([' ', '"', '\n', '\r', '\u{1b}', '\0']),
            "{user}"
        );
        assert!(user.is_ascii() && user.len() <= 128 * 10 + 3, "{user}");
    }
    assert_eq!(
        messages(&log)[1],
        r#"auth-failure service=turn source=198.51.100.1 reason="bad-integrity" user="x\x22\x20failures=0/3" failures=1/3"#
    );
}

#[test]
fn config_defaults_and_toml() {
    let empty: GuardConfig = toml::from_str("").unwrap();
    assert_eq!(empty, GuardConfig::default());
    assert_eq!(empty.max_failures, 3);
    assert_eq!(empty.find_window, Duration::from_secs(600));
    assert_eq!(empty.ban_duration, Duration::from_secs(600));
    assert_eq!(empty.ipv6_prefix, 64);

    let c: GuardConfig = toml::from_str(
        r#"
        max-failures = 5
        find-window = 60
        ban-duration = 0.5
        allow = ["127.0.0.1", "10.0.0.0/8", "::1"]
        ipv6-prefix = 56
        max-tracked = 1000
        [rate.api]
        rate = 2.5
        burst = 10
        "#,
    )
    .unwrap();
    assert_eq!(c.max_failures, 5);
    assert_eq!(c.find_window, Duration::from_secs(60));
    assert_eq!(c.ban_duration, Duration::from_millis(500));
    let allow: Vec<String> = c.allow.iter().map(ToString::to_string).collect();
    assert_eq!(allow, ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]);
    assert_eq!(
        c.rate.api,
        RateLimit {
            rate: 2.5,
            burst: 10
        }
    );
    assert_eq!(c.rate.turn, GuardConfig::default().rate.turn);
    common::guard(c);

    for (text, needle) in [
        ("max-failure = 3", "unknown field `max-failure`"),
        ("ban-duration = -1", "-1 is not a number of seconds"),
        (
            "allow = [\"10.0.0.300\"]",
            "\"10.0.0.300\" is neither an address nor a network",
        ),
        ("[rate.ice]\nrate = 1", "missing field `burst`"),
    ] {
        let err = toml::from_str::<GuardConfig>(text).unwrap_err().to_string();
        assert!(err.contains(needle), "{text}: {err}");
    }
}

#[test]
fn bad_values_are_refused_naming_the_key() {
    let bad = |c: GuardConfig| -> String {
        let err: Error = Guard::new(c).expect_err("refused");
        err.to_string()
    };
    let d = GuardConfig::default;
    assert_eq!(
        bad(GuardConfig {
            max_failures: 0,
            ..d()
        }),
        "max-failures: 0 is outside 1..=64"
    );
    assert!(bad(GuardConfig {
        find_window: Duration::ZERO,
        ..d()
    })
    .starts_with("find-window: "));
    assert!(bad(GuardConfig {
        ban_duration: Duration::from_secs(u64::MAX),
        ..d()
    })
    .starts_with("ban-duration: "));
    assert_eq!(
        bad(GuardConfig {
            ipv6_prefix: 129,
            ..d()
        }),
        "ipv6-prefix: 129 is longer than 128"
    );
    assert!(bad(GuardConfig {
        max_tracked: 0,
        ..d()
    })
    .starts_with("max-tracked: "));
    assert_eq!(
        bad(GuardConfig {
            max_tracked: edge_guard::MAX_TRACKED_LIMIT + 1,
            ..d()
        }),
        "max-tracked: 4194305 is above 4194304"
    );
    let mut c = d();
    c.rate.ice.burst = 0;
    assert_eq!(bad(c), "rate.ice: burst 0 refuses every request");
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e10] {
        let mut c = d();
        c.rate.turn.rate = rate;
        assert!(bad(c).starts_with("rate.turn: rate "), "{rate}");
    }
    let mut c = d();
    c.rate.api = RateLimit {
        rate: 1e-8,
        burst: u32::MAX,
    };
    assert!(bad(c).starts_with("rate.api: burst "));
}

#[test]
fn redis_settings_are_checked_and_the_password_never_printed() {
    let c: GuardConfig = toml::from_str(
        r#"
        redis = "redis://:s3cret@10.0.0.5:6380/2"
        redis-prefix = "edge-a:"
        redis-timeout = 0.5
        redis-retry = 2
        "#,
    )
    .unwrap();
    let url = c.redis.as_ref().unwrap();
    assert_eq!(url.as_str(), "redis://:s3cret@10.0.0.5:6380/2");
    assert_eq!(url.to_string(), "redis://***@10.0.0.5:6380/2");
    assert!(!format!("{c:?}").contains("s3cret"));
    assert_eq!(c.redis_prefix, "edge-a:");
    assert_eq!(c.redis_timeout, Duration::from_millis(500));
    assert_eq!(c.redis_retry, Duration::from_secs(2));
    let d = GuardConfig::default();
    assert_eq!(d.redis, None);
    assert_eq!(d.redis_prefix, "media-edge:");
    assert_eq!(
        (d.redis_timeout, d.redis_retry),
        (Duration::from_secs(1), Duration::from_secs(1))
    );

    let err = toml::from_str::<GuardConfig>("redis = \"http://example.com\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("redis: not a Redis URL"), "{err}");
    let bad = |c: GuardConfig| Guard::new(c).expect_err("refused").to_string();
    for prefix in ["", "a*", "a b", &"x".repeat(65)] {
        let e = bad(GuardConfig {
            redis_prefix: prefix.to_owned(),
            ..GuardConfig::default()
        });
        assert!(e.starts_with("redis-prefix: "), "{prefix:?}: {e}");
    }
    for wait in [
        Duration::ZERO,
        Duration::from_millis(9),
        Duration::from_secs(61),
    ] {
        let e = bad(GuardConfig {
            redis_timeout: wait,
            ..GuardConfig::default()
        });
        assert!(e.starts_with("redis-timeout: "), "{e}");
        let e = bad(GuardConfig {
            redis_retry: wait,
            ..GuardConfig::default()
        });
        assert!(e.starts_with("redis-retry: "), "{e}");
    }
    // A shared store starts once per guard.
    let g = common::guard(GuardConfig {
        redis: Some(edge_guard::RedisUrl::new("redis://127.0.0.1:1/0").unwrap()),
        ..GuardConfig::default()
    });
    let store = edge_guard::SharedStore::start(&g).unwrap().unwrap();
    assert!(matches!(
        edge_guard::SharedStore::start(&g),
        Err(Error::AlreadyShared)
    ));
    store.stop();
    assert!(
        edge_guard::SharedStore::start(&common::guard(GuardConfig::default()))
            .unwrap()
            .is_none()
    );
}
