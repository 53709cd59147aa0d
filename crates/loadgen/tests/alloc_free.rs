//! The load generator's per-packet path allocates nothing: once flows are set up, sending
//! probes (RTP, SRTP-protected, ChannelData) and receiving them back (unprotecting,
//! recording in the histogram and the flow records) make no heap allocation on the load
//! thread. A counting global allocator (this test binary's own) counts the allocations of
//! the measuring thread only; the echo and the TURN server run on other threads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edge_alloc_count::Scope;
use edge_loadgen::echo::Echo;
use edge_loadgen::load::{Clock, Fleet};
use edge_loadgen::measure::Measurements;
use edge_loadgen::media::fleet::{MediaFleet, MediaFlow};
use edge_loadgen::media::rtp::RtpStream;
use edge_loadgen::media::session::SrtpPair;
use edge_loadgen::turn::conn::TransportKind;
use edge_loadgen::turn::fleet::{TurnFleet, TurnSetup};
use edge_srtp::{MasterKey, Profile};
use edge_udp::{SocketOptions, UdpSocket};

#[global_allocator]
static GLOBAL: edge_alloc_count::Counting = edge_alloc_count::Counting;

/// Runs `rounds` of send-then-poll over every flow, counting this thread's allocations.
fn allocations_while_loading(fleet: &mut dyn Fleet, rounds: u64) -> (u64, Measurements) {
    let clock = Clock::new();
    let mut m = Measurements::new(fleet.flows());
    // Warm up: first sends and receives may size kernel-side things, not ours.
    drive(fleet, &clock, &mut m, 0..20);
    let ((), allocations) = edge_alloc_count::count(Scope::ThisThread, || {
        drive(fleet, &clock, &mut m, 20..20 + rounds)
    });
    // Drain what is in flight (not counted); the deadline only guards against a hang.
    let deadline = Instant::now() + Duration::from_secs(30);
    while m.received_total() < m.sent_total() && Instant::now() < deadline {
        fleet
            .poll(Duration::from_millis(5), &clock, &mut m)
            .unwrap();
    }
    (allocations, m)
}

fn drive(fleet: &mut dyn Fleet, clock: &Clock, m: &mut Measurements, rounds: std::ops::Range<u64>) {
    for _ in rounds {
        for flow in 0..fleet.flows() {
            let seq = m.next_seq(flow);
            let n = fleet.send(flow, seq, 4, clock.now_ns()).unwrap();
            m.sent(flow, n as u64);
        }
        fleet.poll(Duration::from_millis(1), clock, m).unwrap();
    }
}

fn echo() -> (std::net::SocketAddr, Arc<AtomicBool>) {
    let echo = Echo::bind(&["127.0.0.1:0".parse().unwrap()]).unwrap();
    let addr = echo.local_addrs()[0];
    let stop = Arc::new(AtomicBool::new(false));
    echo.spawn(stop.clone());
    (addr, stop)
}

fn media_fleet(srtp: bool) -> MediaFleet {
    let (echo, _stop) = echo();
    let key = MasterKey::new(Profile::Aes128CmHmacSha1_80, &[7; 16], &[9; 14]).unwrap();
    let flows = (0..4)
        .map(|i| MediaFlow {
            socket: UdpSocket::bind("127.0.0.1:0".parse().unwrap(), &SocketOptions::default())
                .unwrap(),
            remote: echo,
            // The echo reflects our SRTP: receiving it back needs our own key.
            srtp: srtp.then(|| SrtpPair::new(&key, &key, echo).unwrap()),
            consent: None,
            rtp: RtpStream {
                payload_type: 0,
                ssrc: 100 + i,
                ticks_per_packet: 160,
            },
        })
        .collect();
    MediaFleet::new(flows, 160).unwrap()
}

#[test]
fn rtp_and_srtp_probes_allocate_nothing() {
    for srtp in [false, true] {
        let mut fleet = media_fleet(srtp);
        let (allocations, m) = allocations_while_loading(&mut fleet, 200);
        assert!(
            m.sent_total() >= 4 * 4 * 200,
            "srtp {srtp}: sent {}",
            m.sent_total()
        );
        assert_eq!(m.received_total(), m.sent_total(), "srtp {srtp}: all back");
        assert_eq!(
            m.stray(),
            0,
            "srtp {srtp}: every reply unprotected and read"
        );
        assert_eq!(allocations, 0, "srtp {srtp}: allocations on the load path");
    }
}

#[test]
fn turn_channel_data_allocates_nothing() {
    let mut server = edge_turn::ServerConfig::new("alloc.test", "127.0.0.1".parse().unwrap());
    server.users = vec![("u".into(), "p".into())];
    server.nonce_secret = vec![3; 32];
    server.peer_allow = vec!["127.0.0.0/8".parse().unwrap()];
    server.port_range = "53200-53249".parse().unwrap();
    let mut config = edge_turn::ServiceConfig::new(server);
    config.udp = vec!["127.0.0.1:0".parse().unwrap()];
    let service = edge_turn::Service::start(config).unwrap();
    let (peer, _stop) = echo();
    let setup = TurnSetup {
        server: service.local_addrs().udp[0],
        transport: TransportKind::Udp,
        tls: None,
        username: "u".into(),
        password: "p".into(),
        allocations: 4,
        peer,
        local_ip: "127.0.0.1".parse().unwrap(),
        gro: true,
        payload: 172,
        parallel: 4,
        timeout: Duration::from_secs(10),
    };
    let mut fleet = TurnFleet::setup(&setup, &AtomicBool::new(false)).unwrap();
    assert_eq!(
        fleet.setup_report().succeeded,
        4,
        "{:?}",
        fleet.setup_report().errors
    );
    let (allocations, m) = allocations_while_loading(&mut fleet, 200);
    assert_eq!(m.received_total(), m.sent_total());
    assert_eq!(allocations, 0, "allocations on the TURN load path");
    fleet.close(Duration::from_secs(2)).unwrap();
    service.shutdown().unwrap();
}
