//! TURN on two threads (`ServiceConfig::threads = 2`), in-process on loopback: each thread
//! has its own SO_REUSEPORT listener and owns the allocations it created, and what must be
//! global stays global.
//!
//! - quotas: a user holding its one allocation on one thread is refused (486) by the other;
//! - bans: three failed logins counted on one thread ban the source on the other too;
//! - ports: 2,000 allocations from 2,000 source ports, spread over both threads, get 2,000
//!   distinct relay ports (the whole range), the next one gets 508, and deleting them all
//!   gives every port back;
//! - several UDP sockets per thread (`udp_sockets = 4`, eight in one SO_REUSEPORT group):
//!   40 clients hashed over them all allocate, bind a channel and get their echoes back.
//!
//! Which thread a client lands on is the kernel's choice (a hash of its 5-tuple): the tests
//! find out from the per-thread counters ([`Service::snapshot_per_thread`]) and keep trying
//! new source ports until the case they need comes up, bounded (64 tries: the chance that
//! all land on one thread is 2^-63).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use edge_guard::{Guard, GuardConfig};
use edge_stun::{Attribute, Method};
use edge_suite::turn_client::{RawTurnClient, Refused, Via};
use edge_turn::{ServerConfig, Service, ServiceConfig, Snapshot};

const USER: &str = "alice";
const PASSWORD: &str = "threads-password";
const TRIES: usize = 64;
/// A hang guard only: every wait below ends as soon as what it waits for happens.
const DEADLINE: Duration = Duration::from_secs(30);

fn service(ports: std::ops::RangeInclusive<u16>, user_quota: u32, guard: Guard) -> Service {
    service_with_sockets(ports, user_quota, guard, 1)
}

fn service_with_sockets(
    ports: std::ops::RangeInclusive<u16>,
    user_quota: u32,
    guard: Guard,
    udp_sockets: usize,
) -> Service {
    let mut server = ServerConfig::new("threads.test", "127.0.0.1".parse().unwrap());
    server.users = vec![(USER.into(), PASSWORD.into())];
    server.nonce_secret = b"threads-test-nonce-secret".to_vec();
    server.port_range = ports.try_into().unwrap();
    server.user_quota = user_quota;
    server.total_quota = 10_000;
    server.guard = Some(guard);
    // The echo peer lives on loopback.
    server.peer_allow = vec!["127.0.0.0/8".parse().unwrap()];
    let mut config = ServiceConfig::new(server);
    config.udp = vec!["127.0.0.1:0".parse().unwrap()];
    config.threads = 2;
    config.udp_sockets = udp_sockets;
    Service::start(config).unwrap()
}

fn client(local: IpAddr, server: SocketAddr, password: &str) -> RawTurnClient {
    RawTurnClient::connect(Via::Udp, local, server, USER, password).unwrap()
}

/// Waits until `done` holds for the per-thread counters, and returns them.
fn wait_for(service: &Service, what: &str, done: impl Fn(&[Snapshot]) -> bool) -> Vec<Snapshot> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let per_thread = service.snapshot_per_thread();
        if done(&per_thread) {
            return per_thread;
        }
        assert!(Instant::now() < deadline, "waited {DEADLINE:?} for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The thread holding the service's only allocation, once the counters show it.
fn thread_of_only_allocation(service: &Service) -> usize {
    let per_thread = wait_for(service, "one allocation", |t| {
        t.iter().map(|s| s.allocations).sum::<u64>() == 1
    });
    per_thread.iter().position(|s| s.allocations == 1).unwrap()
}

fn delete(c: &mut RawTurnClient) {
    c.request(Method::REFRESH, &[Attribute::Lifetime(0)])
        .unwrap();
}

#[test]
fn a_user_at_its_quota_on_one_thread_is_refused_on_the_other() {
    let guard = Guard::new(GuardConfig::default()).unwrap();
    let service = service(62800..=62819, 1, guard);
    let server = service.local_addrs().udp[0];
    let local: IpAddr = "127.0.0.1".parse().unwrap();

    let mut holder = client(local, server, PASSWORD);
    holder.allocate().unwrap();
    let mut holder_thread = thread_of_only_allocation(&service);
    for _ in 0..TRIES {
        let mut other = client(local, server, PASSWORD);
        assert_eq!(other.allocate(), Err(Refused::Code(486)), "over the quota");
        // Where did `other` land? Free the quota and let it allocate: the kernel keeps its
        // 5-tuple on the thread that refused it.
        delete(&mut holder);
        wait_for(&service, "the deletion", |t| {
            t.iter().all(|s| s.allocations == 0)
        });
        other.allocate().unwrap();
        let thread = thread_of_only_allocation(&service);
        if thread != holder_thread {
            // `other` was refused on `thread` while the quota was held on `holder_thread`.
            return;
        }
        (holder, holder_thread) = (other, thread);
    }
    panic!("{TRIES} clients all landed on thread {holder_thread}: SO_REUSEPORT spread nothing");
}

#[test]
fn a_ban_earned_on_one_thread_holds_on_the_other() {
    let guard = Guard::new(GuardConfig {
        max_failures: 3,
        // Far longer than the test: the ban cannot run out while it is checked.
        ban_duration: Duration::from_secs(3600),
        ..GuardConfig::default()
    })
    .unwrap();
    let service = service(62820..=62839, 10, guard.clone());
    let server = service.local_addrs().udp[0];
    let attacker: IpAddr = "127.0.0.5".parse().unwrap();

    // Three failed logins from one socket: one 5-tuple, so one thread counts them all.
    let mut bad = client(attacker, server, "wrong-password");
    for attempt in 1..=3 {
        assert_eq!(bad.allocate(), Err(Refused::Code(401)), "attempt {attempt}");
    }
    let per_thread = wait_for(&service, "three failures", |t| {
        t.iter().map(|s| s.auth_failures).sum::<u64>() == 3
    });
    let failed_on = per_thread
        .iter()
        .position(|s| s.auth_failures == 3)
        .unwrap();
    assert_eq!(guard.bans(Instant::now()).len(), 1);

    // Correct logins from new source ports of the banned address: each is dropped unanswered
    // and counted as banned on its thread; go on until one lands on the other thread.
    for tried in 0..TRIES {
        let mut c = client(attacker, server, PASSWORD);
        // Silence is expected: the banned counter the test then waits for proves the drop.
        c.set_answer_timeout(Duration::from_millis(300));
        assert_eq!(c.allocate(), Err(Refused::NoAnswer), "try {tried}");
        // One unanswered request per client: the client gives up after it.
        let expected = tried as u64 + 1;
        let per_thread = wait_for(&service, "the drops", |t| {
            t.iter().map(|s| s.banned).sum::<u64>() >= expected
        });
        if per_thread
            .iter()
            .enumerate()
            .any(|(i, s)| i != failed_on && s.banned > 0)
        {
            assert_eq!(service.snapshot().allocations, 0);
            return;
        }
    }
    panic!("{TRIES} clients all landed on thread {failed_on}: SO_REUSEPORT spread nothing");
}

#[test]
fn two_thousand_allocations_over_two_threads_get_every_port_once() {
    const N: u16 = 2000;
    let guard = Guard::new(GuardConfig {
        // One test client opens every allocation from 127.0.0.1: exempt it from the
        // per-source request rate limit.
        allow: vec!["127.0.0.0/8".parse().unwrap()],
        ..GuardConfig::default()
    })
    .unwrap();
    let first = 50_000;
    let service = service(first..=first + N - 1, u32::from(N) + 1, guard);
    let server = service.local_addrs().udp[0];
    let local: IpAddr = "127.0.0.1".parse().unwrap();

    let mut clients = Vec::with_capacity(usize::from(N));
    let mut ports = Vec::with_capacity(usize::from(N));
    for _ in 0..N {
        let mut c = client(local, server, PASSWORD);
        ports.push(c.allocate().unwrap().port());
        clients.push(c);
    }
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(
        ports,
        (first..first + N).collect::<Vec<_>>(),
        "each port once"
    );
    let mut late = client(local, server, PASSWORD);
    assert_eq!(
        late.allocate(),
        Err(Refused::Code(508)),
        "the range is used up"
    );

    let per_thread = wait_for(&service, "every allocation counted", |t| {
        t.iter().map(|s| s.allocations).sum::<u64>() == u64::from(N)
    });
    // The kernel's 5-tuple hash spreads them: each thread holds a fair share (a quarter is
    // 22 standard deviations below the mean of a fair coin over 2,000 clients).
    for (i, s) in per_thread.iter().enumerate() {
        assert!(
            s.allocations >= u64::from(N / 4),
            "thread {i} holds {} of {N}: {per_thread:?}",
            s.allocations
        );
    }
    assert_eq!(service.snapshot().free_ports, 0);

    for c in &mut clients {
        delete(c);
    }
    wait_for(&service, "every allocation deleted", |t| {
        t.iter().all(|s| s.allocations == 0)
    });
    assert_eq!(
        service.snapshot().free_ports,
        u64::from(N),
        "every port back"
    );
    service.shutdown().unwrap();
}

#[test]
fn clients_spread_over_several_sockets_per_thread_relay_both_ways() {
    let guard = Guard::new(GuardConfig {
        allow: vec!["127.0.0.0/8".parse().unwrap()],
        ..GuardConfig::default()
    })
    .unwrap();
    let service = service_with_sockets(62840..=62899, 100, guard, 4);
    let server = service.local_addrs().udp[0];
    assert_eq!(
        service.local_addrs().udp.len(),
        1,
        "one address, however many sockets"
    );
    // /proc/net/udp lists one line per socket bound to the port: 2 threads x 4.
    let port = format!(":{:04X}", server.port());
    let bound = std::fs::read_to_string("/proc/net/udp")
        .unwrap()
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| a.ends_with(&port))
        })
        .count();
    assert_eq!(bound, 8, "UDP sockets on {server}");
    let echo = edge_suite::turn::EchoPeer::start();
    let local: IpAddr = "127.0.0.1".parse().unwrap();
    let mut clients: Vec<RawTurnClient> = (0..40)
        .map(|_| {
            let mut c = client(local, server, PASSWORD);
            c.allocate().unwrap();
            c.channel_bind(0x4000, echo.addr).unwrap();
            c
        })
        .collect();
    for round in 0..5u8 {
        for (i, c) in clients.iter_mut().enumerate() {
            let payload = [round, i as u8, 0xab, 0xcd];
            c.send_channel_data(0x4000, &payload).unwrap();
            assert_eq!(
                c.recv_data(DEADLINE).as_deref(),
                Some(&payload[..]),
                "client {i}, round {round}"
            );
        }
    }
    let per_thread = service.snapshot_per_thread();
    assert!(
        per_thread.iter().all(|s| s.allocations > 0),
        "{per_thread:?}"
    );
    service.shutdown().unwrap();
}
