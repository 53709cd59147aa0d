//! Several nodes, one service: two media-edge processes share failures and bans through a
//! real redis-server (Debian's `redis-server`, started here on a loopback port, no
//! persistence), as `[guard] redis` configures:
//!
//! - three wrong-password TURN Allocates from 127.0.0.5 at node A ban 127.0.0.5 at node B:
//!   B lists the ban, drops B's correct login from 127.0.0.5 (its banned counter rises) and
//!   still serves 127.0.0.2; the time from A's third 401 to B listing the ban is printed;
//! - failure counts are shared: one failure from 127.0.0.4 at A and two at B ban it on both;
//! - `DELETE /v1/bans/127.0.0.5` on B lifts the ban on A, where 127.0.0.5 allocates again;
//! - redis-server stopped: each node logs the loss once (however many retries follow),
//!   keeps serving good clients, and bans on its own guard (three failures at A ban
//!   127.0.0.6 at A, while B still serves it); redis-server back on the same port: each node
//!   logs the recovery once and A's offline ban reaches B.
//!
//! Waits are event waits with a 60 s hang guard; bans last ten minutes, longer than any run.
//! The binary is the one cargo built beside this test (`cargo build -p media-edge` first when
//! running this file alone).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use edge_suite::http_get;
use edge_suite::media::{ApiClient, TOKEN};
use edge_suite::redis::{free_tcp_port, RedisServer};
use edge_suite::turn::{TurnOptions, TurnServer, PASSWORD, USER};
use edge_suite::turn_client::{RawTurnClient, Refused, Via};

/// Hang guard of every wait on an event.
const HANG_GUARD: Duration = Duration::from_secs(60);
/// How long a banned source's request waits for the answer it must not get (see
/// `tests/turn_attack.rs`: this can only miss a late answer, the counters prove the drop).
const SILENCE: Duration = Duration::from_millis(300);
/// The test's fixed ports (below the namespace's ephemeral range, clear of other tests).
const BASE: u16 = 24_400;

/// The test's own HTTP requests (API, admin) come from 127.0.0.1, which is never banned
/// here: a ban covers every service, the API included.
const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5));
const GOOD: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const SPREAD: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));
const OFFLINE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 6));

/// A node: TURN on loopback (relay ports `65000 + 20 * n`), the forwarder, the API on
/// `BASE + 80 + n` and the admin listener on `BASE + 90 + n`, its guard shared through the
/// Redis on `redis`. The API's rate limit is raised far above the test's polling (every 5 ms,
/// API and admin listener together), which the default (20/s) would refuse.
struct Node {
    name: &'static str,
    turn: TurnServer,
    api: SocketAddr,
    admin: SocketAddr,
}

impl Node {
    fn start(name: &'static str, n: u16, redis: u16) -> Node {
        let relay = 65_000 + 20 * n;
        let mut options = TurnOptions::loopback_peers(relay..=relay + 19);
        options.streams = false;
        let public = BASE + 40 * n;
        let api = SocketAddr::from(([127, 0, 0, 1], BASE + 80 + n));
        let admin = SocketAddr::from(([127, 0, 0, 1], BASE + 90 + n));
        options.extra = format!(
            "\n[forward]\nworkers = 1\n\
             [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"{p0}-{p1}\"\n\
             [forward.enterprise]\ntransport-address = \"127.0.0.3\"\nport-range = \"{e0}-{e1}\"\n\
             [api]\nlisten = \"{api}\"\ntokens = [\"{TOKEN}\"]\n\
             [admin]\nlisten = \"{admin}\"\n\
             [guard]\nban-duration = 600\nredis = \"redis://127.0.0.1:{redis}/0\"\n\
             redis-prefix = \"guard-redis-test:\"\nredis-retry = 0.2\n\
             [guard.rate.api]\nrate = 10000\nburst = 10000\n",
            p0 = public,
            p1 = public + 19,
            e0 = public + 20,
            e1 = public + 39,
        );
        let turn = TurnServer::start(&options);
        let node = Node {
            name,
            turn,
            api,
            admin,
        };
        node.wait_log("shared guard: connected to Redis", 1);
        let deadline = Instant::now() + HANG_GUARD;
        while http_get(node.admin, "/readyz").0 != 200 {
            assert!(Instant::now() < deadline, "{name}: /readyz never 200");
            std::thread::sleep(Duration::from_millis(50));
        }
        node
    }

    /// Waits until the log holds `count` lines containing `needle`.
    fn wait_log(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + HANG_GUARD;
        while self.count_log(needle) < count {
            assert!(
                Instant::now() < deadline,
                "{}: fewer than {count} {needle:?} lines:\n{}",
                self.name,
                self.turn.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn count_log(&self, needle: &str) -> usize {
        self.turn
            .log()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// The networks `GET /v1/bans` lists.
    fn bans(&self) -> Vec<String> {
        let (status, body) = ApiClient::connect(self.api).request("GET", "/v1/bans", None);
        assert_eq!(status, 200, "{}: {body}", self.name);
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .map(|b| b["source"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Waits until whether `source` is listed as banned is `banned`; returns when it was seen.
    fn wait_banned(&self, source: IpAddr, banned: bool) -> Instant {
        let net = format!("{source}/32");
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let bans = self.bans();
            if bans.contains(&net) == banned {
                return Instant::now();
            }
            assert!(
                Instant::now() < deadline,
                "{}: {net} banned is never {banned}: {bans:?}\n{}",
                self.name,
                self.turn.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The value of the metric line starting with `series` (name and labels).
    fn metric(&self, series: &str) -> f64 {
        let (status, body) = http_get(self.admin, "/metrics");
        assert_eq!(status, 200);
        body.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{}: no {series} in\n{body}", self.name))
    }

    /// A wrong-password Allocate from `local`: one failure (the signed request's 401).
    fn fail_login(&self, local: IpAddr) {
        let mut c = RawTurnClient::connect(Via::Udp, local, self.turn.udp, USER, "wrong").unwrap();
        assert_eq!(c.allocate(), Err(Refused::Code(401)), "{}", self.name);
    }

    /// A correct Allocate from `local` succeeds.
    fn allocates(&self, local: IpAddr) {
        let mut c = RawTurnClient::connect(Via::Udp, local, self.turn.udp, USER, PASSWORD).unwrap();
        c.allocate()
            .unwrap_or_else(|e| panic!("{}: allocate from {local}: {e:?}", self.name));
    }

    /// A correct Allocate from `local` gets no answer, dropped as banned.
    fn refuses(&self, local: IpAddr) {
        let series = "media_edge_turn_dropped_total{reason=\"banned\"}";
        let before = self.metric(series);
        let mut c = RawTurnClient::connect(Via::Udp, local, self.turn.udp, USER, PASSWORD).unwrap();
        c.set_answer_timeout(SILENCE);
        assert_eq!(c.allocate(), Err(Refused::NoAnswer), "{}", self.name);
        // TURN publishes its counters once per loop iteration: wait for the drop to show.
        let deadline = Instant::now() + HANG_GUARD;
        while self.metric(series) <= before {
            assert!(
                Instant::now() < deadline,
                "{}: not dropped as banned",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn bans_and_failures_are_shared_and_each_node_stands_alone_without_redis() {
    let port = free_tcp_port();
    let mut redis = RedisServer::start(port);
    let a = Node::start("A", 0, port);
    let b = Node::start("B", 1, port);
    for node in [&a, &b] {
        assert_eq!(node.metric("media_edge_guard_shared_connected"), 1.0);
    }

    // Three failures at A ban the attacker at B.
    a.allocates(ATTACKER);
    b.allocates(ATTACKER);
    for _ in 0..3 {
        a.fail_login(ATTACKER);
    }
    let third = Instant::now();
    let seen = b.wait_banned(ATTACKER, true);
    println!(
        "ban propagation A -> B (third 401 at A to B's GET /v1/bans listing it, polled every \
         5 ms): {:?}",
        seen - third
    );
    a.wait_banned(ATTACKER, true);
    b.wait_log("ban source=127.0.0.5/32 service=turn failures=3", 1);
    assert_eq!(b.count_log("origin=shared"), 1, "{}", b.turn.log());
    b.refuses(ATTACKER);
    b.allocates(GOOD);
    a.refuses(ATTACKER);

    // Failures add up across nodes: one at A, two at B.
    a.fail_login(SPREAD);
    b.fail_login(SPREAD);
    b.fail_login(SPREAD);
    a.wait_banned(SPREAD, true);
    b.wait_banned(SPREAD, true);
    a.refuses(SPREAD);
    b.refuses(SPREAD);

    // Lifting on B lifts on A.
    let (status, body) =
        ApiClient::connect(b.api).request("DELETE", &format!("/v1/bans/{ATTACKER}"), None);
    assert_eq!(status, 204, "{body}");
    a.wait_banned(ATTACKER, false);
    a.wait_log("unban source=127.0.0.5/32 cause=lifted origin=shared", 1);
    a.allocates(ATTACKER);
    b.allocates(ATTACKER);
    assert!(b.metric("media_edge_guard_shared_events_total{direction=\"published\"}") >= 1.0);
    assert!(a.metric("media_edge_guard_shared_events_total{direction=\"received\"}") >= 1.0);

    // Redis goes away: each node says so once and stands alone.
    drop(redis);
    let lost = "shared guard: lost Redis";
    a.wait_log(lost, 1);
    b.wait_log(lost, 1);
    for node in [&a, &b] {
        let deadline = Instant::now() + HANG_GUARD;
        while node.metric("media_edge_guard_shared_connected") != 0.0 {
            assert!(Instant::now() < deadline, "{}: still connected", node.name);
            std::thread::sleep(Duration::from_millis(50));
        }
        node.allocates(GOOD);
        node.allocates(ATTACKER);
    }
    for _ in 0..3 {
        a.fail_login(OFFLINE);
    }
    a.wait_banned(OFFLINE, true);
    a.refuses(OFFLINE);
    b.allocates(OFFLINE);
    assert!(!b.bans().contains(&format!("{OFFLINE}/32")));
    // Retries every 0.2 s: many have failed once the error counter has moved by ten more.
    let errors = "media_edge_guard_shared_errors_total";
    let (a0, b0) = (a.metric(errors), b.metric(errors));
    let deadline = Instant::now() + HANG_GUARD;
    while a.metric(errors) < a0 + 10.0 || b.metric(errors) < b0 + 10.0 {
        assert!(Instant::now() < deadline, "no retries counted");
        std::thread::sleep(Duration::from_millis(100));
    }
    for node in [&a, &b] {
        assert_eq!(
            node.count_log(lost),
            1,
            "{}:\n{}",
            node.name,
            node.turn.log()
        );
        assert_eq!(node.count_log("cannot reach Redis"), 0, "{}", node.name);
    }

    // Redis back: each node says so once, and A's offline ban reaches B.
    redis = RedisServer::start(port);
    let back = "shared guard: Redis redis://127.0.0.1";
    a.wait_log(back, 1);
    b.wait_log(back, 1);
    b.wait_banned(OFFLINE, true);
    b.refuses(OFFLINE);
    for node in [&a, &b] {
        assert_eq!(node.count_log("reachable again"), 1, "{}", node.name);
        assert_eq!(node.count_log(lost), 1, "{}", node.name);
        assert_eq!(node.metric("media_edge_guard_shared_connected"), 1.0);
    }
    drop(redis);
}
