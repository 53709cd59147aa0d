//! Bans and rate limits over real TCP from two source addresses: the third bad token bans
//! its source (even its good token is refused after), another source still works, the ban
//! is listed, lifted, and once run out no longer applies; a burst beyond the rate limit gets
//! 429. No test has to beat a timer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::{config, connect_from, is_closed, request, Server, TOKEN};
use edge_control::guard::{Guard, GuardConfig, RateLimit};
use serde_json::json;

const BAD: &str = "not-the-token-0123456789";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

async fn start(slot: u16, guard: GuardConfig) -> Server {
    let mut c = config();
    c.guard = Some(Guard::new(guard).unwrap());
    Server::start(slot, c).await
}

#[tokio::test]
async fn third_bad_token_bans_the_source_until_lifted() {
    let server = start(10, GuardConfig::default()).await;
    let attacker = ip("127.0.0.1");
    let other = ip("127.0.0.2");
    let mut a = connect_from(attacker, server.addr).await;

    // No Authorization header is no failed login: however often, no ban.
    for _ in 0..5 {
        let r = request(&mut a, "GET", "/v1/sessions", None, &[]).await;
        assert_eq!(r.status, 401);
    }
    // A wrong scheme and wrong tokens are.
    let r = request(
        &mut a,
        "GET",
        "/v1/sessions",
        None,
        &[("Authorization", &format!("Basic {TOKEN}"))],
    )
    .await;
    assert_eq!(r.status, 401);
    for _ in 0..2 {
        let r = request(&mut a, "GET", "/v1/sessions", Some(BAD), &[]).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["error"], "unauthorized");
    }
    // Banned now: the good token is refused on the open connection, which is then closed...
    let r = request(&mut a, "GET", "/v1/sessions", Some(TOKEN), &[]).await;
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(
        r.json(),
        json!({"error": "forbidden", "detail": "request refused"})
    );
    assert_eq!(r.header("connection"), Some("close"));
    assert!(is_closed(&mut a).await);
    // ... and a new connection is closed at accept.
    let mut a = connect_from(attacker, server.addr).await;
    assert!(is_closed(&mut a).await);

    // Another source still works, and sees the ban.
    let mut b = connect_from(other, server.addr).await;
    let r = request(&mut b, "GET", "/v1/sessions", Some(TOKEN), &[]).await;
    assert_eq!(r.status, 200);
    let bans = request(&mut b, "GET", "/v1/bans", Some(TOKEN), &[])
        .await
        .json();
    let listed = bans.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{bans}");
    assert_eq!(listed[0]["source"], "127.0.0.1/32");
    assert_eq!(listed[0]["service"], "api");
    assert_eq!(listed[0]["failures"], 3);
    let remaining = listed[0]["remaining-seconds"].as_u64().unwrap();
    assert!((590..=600).contains(&remaining), "{remaining}");
    let stats = request(&mut b, "GET", "/v1/stats", Some(TOKEN), &[])
        .await
        .json();
    assert_eq!(stats["auth-failures"], 3, "{stats}");
    assert_eq!(stats["banned-requests"], 1, "{stats}");
    assert_eq!(stats["refused-banned"], 1, "{stats}");
    assert_eq!(stats["bans"], 1, "{stats}");

    // Lifting: 204, then 404 as nothing is banned; a non-address is a 400 naming it.
    let r = request(&mut b, "DELETE", "/v1/bans/127.0.0.1", Some(TOKEN), &[]).await;
    assert_eq!(r.status, 204, "{r:?}");
    let r = request(&mut b, "DELETE", "/v1/bans/127.0.0.1", Some(TOKEN), &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "not-banned");
    let r = request(
        &mut b,
        "DELETE",
        "/v1/bans/not-an-address",
        Some(TOKEN),
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("\"not-an-address\""));
    // The ban endpoints are behind the token like the rest.
    let r = request(&mut b, "GET", "/v1/bans", None, &[]).await;
    assert_eq!(r.status, 401);

    let mut a = connect_from(attacker, server.addr).await;
    let r = request(&mut a, "GET", "/v1/sessions", Some(TOKEN), &[]).await;
    assert_eq!(r.status, 200);
    let bans = request(&mut a, "GET", "/v1/bans", Some(TOKEN), &[])
        .await
        .json();
    assert_eq!(bans, json!([]));
    server.stop().await;
}

#[tokio::test]
async fn a_ban_that_ran_out_no_longer_applies_without_a_lift() {
    // A 50 ms ban, and a test that never has to beat it: it waits until the guard itself
    // says the ban is over (an event on the clock, however late it is seen), then the
    // server, reading the clock later still, must let the source back in. That a ban lasts
    // exactly its duration is edge-guard's test, on its virtual clock.
    let guard = Guard::new(GuardConfig {
        ban_duration: Duration::from_millis(50),
        ..GuardConfig::default()
    })
    .unwrap();
    let mut c = config();
    c.guard = Some(guard.clone());
    let server = Server::start(11, c).await;
    let source = ip("127.0.0.4");
    let mut s = connect_from(source, server.addr).await;
    for _ in 0..3 {
        let r = request(&mut s, "GET", "/v1/sessions", Some(BAD), &[]).await;
        assert_eq!(r.status, 401);
    }
    assert_eq!(guard.stats().bans_started, 1);
    let deadline = Instant::now() + common::IO_TIMEOUT;
    while !guard.bans(Instant::now()).is_empty() {
        assert!(Instant::now() < deadline, "the ban never ran out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut s = connect_from(source, server.addr).await;
    let r = request(&mut s, "GET", "/v1/sessions", Some(TOKEN), &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    let stats = guard.stats();
    assert_eq!((stats.bans_expired, stats.bans_lifted), (1, 0), "{stats:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_burst_beyond_the_rate_limit_gets_429_with_retry_after() {
    let mut guard = GuardConfig::default();
    guard.rate.api = RateLimit {
        rate: 0.001,
        burst: 5,
    };
    let server = start(12, guard).await;
    let mut s = connect_from(ip("127.0.0.5"), server.addr).await;
    let statuses: Vec<(u16, Option<String>)> = {
        let mut v = Vec::new();
        for _ in 0..15 {
            let r = request(&mut s, "GET", "/v1/sessions", Some(TOKEN), &[]).await;
            if r.status == 429 {
                assert_eq!(r.json()["error"], "rate-limited");
            }
            v.push((r.status, r.header("retry-after").map(str::to_owned)));
        }
        v
    };
    // A token refills every 1000 s: however slow the run, exactly the burst passes.
    let expected: Vec<(u16, Option<String>)> = (0..15)
        .map(|i| {
            if i < 5 {
                (200, None)
            } else {
                (429, Some("1000".to_owned()))
            }
        })
        .collect();
    assert_eq!(statuses, expected);
    // Another source has its own bucket.
    let mut other = connect_from(ip("127.0.0.6"), server.addr).await;
    let r = request(&mut other, "GET", "/v1/stats", Some(TOKEN), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["rate-limited"], 10);
    server.stop().await;
}
