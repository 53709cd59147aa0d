//! The Binding flood sends what it says: well-formed Binding requests, each with its own
//! transaction ID, from its one source address, no more than its rate allows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::net::UdpSocket;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use edge_loadgen::binding_flood::{run, FloodSetup};
use edge_stun::{Class, Message, Method};

#[test]
fn paced_flood_sends_distinct_binding_requests_from_one_address() {
    let target = UdpSocket::bind("127.0.0.1:0").unwrap();
    // A hang guard: the receiver stops once nothing came for this long after the flood.
    target
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let addr = target.local_addr().unwrap();
    // Read while the flood runs: a default receive buffer holds only a few hundred.
    let receiver = std::thread::spawn(move || {
        let mut ids = HashSet::new();
        let mut buf = [0u8; 1500];
        let mut source = None;
        while let Ok((n, from)) = target.recv_from(&mut buf) {
            let m = Message::parse(&buf[..n]).unwrap();
            assert_eq!((m.class(), m.method()), (Class::Request, Method::BINDING));
            assert!(ids.insert(m.transaction_id()), "a transaction ID twice");
            assert_eq!(*source.get_or_insert(from), from, "one source address");
        }
        (ids.len(), source)
    });
    let setup = FloodSetup {
        target: addr,
        local: "127.0.0.3:0".parse().unwrap(),
        rate: Some(1_000),
        duration: Duration::from_millis(500),
    };
    let report = run(&setup, &AtomicBool::new(false)).unwrap();
    // Pacing holds the count at the rate: a batch of 32 starts only while due within the
    // 0.5 s, so at most 500 + 31 (and a busy machine can only send fewer).
    assert!(report.sent > 0 && report.sent <= 500 + 32, "{report:?}");
    assert_eq!(report.answered, 0, "nobody answers here");

    let (ids, source) = receiver.join().unwrap();
    assert_eq!(ids as u64, report.sent, "every request sent arrived");
    assert_eq!(source.unwrap().ip().to_string(), "127.0.0.3");
}
