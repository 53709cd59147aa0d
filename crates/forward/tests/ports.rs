//! Sockets are bound only inside the configured ranges and to the configured addresses, as
//! the kernel reports them (/proc/net/udp), and every port is free again after removal,
//! timeout, failure and shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::time::Duration;

use common::{bound_in, eventually, Browser, Echo, ENTERPRISE_IP, HANG_GUARD, PUBLIC_IP};
use edge_forward::{
    EndReason, EnterpriseRemote, EnterpriseSide, Error, Forwarder, SessionId, SessionSnapshot,
    SessionSpec, SessionState, Side,
};

fn spec(echo: &Echo) -> SessionSpec {
    let mut s = SessionSpec::new();
    s.enterprise = Some(echo.remote());
    s
}

#[test]
fn sockets_sit_in_the_ranges_on_the_pinned_addresses_and_go_on_removal() {
    let (public, enterprise) = ((42000, 42009), (32000, 32009));
    let relay =
        Forwarder::start(common::config(public, enterprise, 2), common::dtls_config()).unwrap();
    let echo = Echo::start();
    assert!(bound_in(PUBLIC_IP, public.0, public.1).is_empty());

    let infos: Vec<_> = (0..4)
        .map(|_| relay.create_session(spec(&echo)).unwrap())
        .collect();
    let mut expected_public: Vec<u16> = infos.iter().map(|i| i.public_addr.port()).collect();
    let mut expected_enterprise: Vec<u16> = infos
        .iter()
        .flat_map(|i| [i.enterprise_rtp.port(), i.enterprise_rtcp.unwrap().port()])
        .collect();
    expected_public.sort_unstable();
    expected_enterprise.sort_unstable();
    // Exactly these, and nothing of ours on the other address or outside the ranges.
    assert_eq!(bound_in(PUBLIC_IP, public.0, public.1), expected_public);
    assert_eq!(
        bound_in(ENTERPRISE_IP, enterprise.0, enterprise.1),
        expected_enterprise
    );
    assert!(bound_in(ENTERPRISE_IP, public.0, public.1).is_empty());
    assert!(bound_in(PUBLIC_IP, enterprise.0, enterprise.1).is_empty());
    for info in &infos {
        assert_eq!(info.enterprise_rtp.ip(), IpAddr::V4(ENTERPRISE_IP));
        assert_eq!(info.enterprise_rtp.port() % 2, 0, "RTP on an even port");
    }
    // Each enterprise socket is bound to the address itself, not a wildcard: what the OS
    // says about the socket matches the pinned address (getsockname through the snapshot).
    for info in &infos {
        let snap = relay.session(info.id).unwrap();
        assert_eq!(snap.enterprise_rtp, info.enterprise_rtp);
    }

    for info in &infos {
        relay.remove_session(info.id).unwrap();
        // Freed before remove_session returned.
        assert!(!bound_in(PUBLIC_IP, public.0, public.1).contains(&info.public_addr.port()));
        let rtp = info.enterprise_rtp.port();
        assert!(!bound_in(ENTERPRISE_IP, enterprise.0, enterprise.1).contains(&rtp));
        assert!(relay.session(info.id).is_none());
        assert!(matches!(
            relay.remove_session(info.id),
            Err(Error::UnknownSession(_))
        ));
    }
    assert!(bound_in(PUBLIC_IP, public.0, public.1).is_empty());
    assert!(bound_in(ENTERPRISE_IP, enterprise.0, enterprise.1).is_empty());
    relay.shutdown();
}

#[test]
fn exhausted_ranges_fail_cleanly_without_leaking_the_other_leg() {
    // One enterprise pair only: the second session gets its public port, then fails on the
    // enterprise side, and must give the public port back.
    let (public, enterprise) = ((42100, 42109), (32100, 32101));
    let relay =
        Forwarder::start(common::config(public, enterprise, 1), common::dtls_config()).unwrap();
    let echo = Echo::start();
    let first = relay.create_session(spec(&echo)).unwrap();
    let err = relay.create_session(spec(&echo)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::PortsExhausted {
                side: Side::Enterprise,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("32100-32101"), "{err}");
    assert_eq!(
        bound_in(PUBLIC_IP, public.0, public.1),
        vec![first.public_addr.port()]
    );
    // A port taken by someone else is skipped, not double-booked: with the pair held by a
    // stranger the range stays exhausted after the first session goes.
    relay.remove_session(first.id).unwrap();
    let stranger = UdpSocket::bind((ENTERPRISE_IP, 32101)).unwrap();
    assert!(matches!(
        relay.create_session(spec(&echo)),
        Err(Error::PortsExhausted { .. })
    ));
    drop(stranger);
    let again = relay.create_session(spec(&echo)).unwrap();
    assert_eq!(again.enterprise_rtp.port(), 32100);
    // The failed attempts left nothing behind.
    assert_eq!(
        bound_in(PUBLIC_IP, public.0, public.1),
        vec![again.public_addr.port()]
    );
    assert_eq!(relay.sessions().len(), 1);
    relay.shutdown();
    assert!(bound_in(PUBLIC_IP, public.0, public.1).is_empty());
    assert!(bound_in(ENTERPRISE_IP, enterprise.0, enterprise.1).is_empty());
}

#[test]
fn a_fixed_transport_port_serves_one_session_at_a_time() {
    let mut config = common::config((42200, 42209), (1, 1), 1);
    config.enterprise = EnterpriseSide::fixed(IpAddr::V4(ENTERPRISE_IP), 32200);
    let relay = Forwarder::start(config.clone(), common::dtls_config()).unwrap();
    let echo = Echo::start();
    let first = relay.create_session(spec(&echo)).unwrap();
    assert_eq!(first.enterprise_rtp.port(), 32200);
    assert_eq!(first.enterprise_rtcp.unwrap().port(), 32201);
    let err = relay.create_session(spec(&echo)).unwrap_err();
    assert!(
        matches!(err, Error::Bind { side: Side::Enterprise, addr, .. } if addr.port() == 32200),
        "{err}"
    );
    assert!(err.to_string().contains("127.0.0.2:32200"), "{err}");
    assert_eq!(
        bound_in(PUBLIC_IP, 42200, 42209).len(),
        1,
        "no public port leaked"
    );
    relay.remove_session(first.id).unwrap();
    let second = relay.create_session(spec(&echo)).unwrap();
    assert_eq!(second.enterprise_rtp.port(), 32200);

    // A second relay refuses to start on the busy fixed port, naming it.
    let err = Forwarder::start(config, common::dtls_config())
        .err()
        .unwrap();
    assert!(err.to_string().contains("32200"), "{err}");
    relay.shutdown();
}

#[test]
fn start_refuses_addresses_that_are_not_local() {
    let mut config = common::config((42300, 42309), (32300, 32309), 1);
    config.enterprise = EnterpriseSide::new(
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        edge_forward::PortRange::new(32300, 32309).unwrap(),
    );
    let err = Forwarder::start(config, common::dtls_config())
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            Error::Bind {
                side: Side::Enterprise,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("192.0.2.1"), "{err}");
}

/// The ended session `id`'s snapshot, once it has ended (waited for, as an event).
fn ended(relay: &Forwarder, id: SessionId) -> SessionSnapshot {
    let mut snap = None;
    assert!(
        eventually(HANG_GUARD, || {
            snap = relay.session(id).filter(|s| s.state.is_ended());
            snap.is_some()
        }),
        "session {id:?} never ended"
    );
    snap.unwrap()
}

// The timeouts' exact timing is the session core's, tested on its virtual clock
// (crates/forward/src/session/tests.rs); these tests check that the real relay ends sessions
// by them and frees their ports. A timer that nothing has to beat is short; the media timeout,
// which a round trip through a busy machine has to beat, is seconds, far beyond any delay.
#[test]
fn a_session_nobody_connects_to_times_out_frees_its_ports_and_lingers() {
    let (public, enterprise) = ((42400, 42409), (32400, 32409));
    let mut config = common::config(public, enterprise, 1);
    config.setup_timeout = Duration::from_millis(300);
    let relay = Forwarder::start(config, common::dtls_config()).unwrap();
    let echo = Echo::start();
    let idle = relay.create_session(spec(&echo)).unwrap();

    let snap = ended(&relay, idle.id);
    assert_eq!(
        snap.state,
        SessionState::Ended {
            reason: EndReason::SetupTimeout
        }
    );
    assert!(bound_in(PUBLIC_IP, public.0, public.1).is_empty());
    assert!(bound_in(ENTERPRISE_IP, enterprise.0, enterprise.1).is_empty());
    // An ended session can be read (it lingers 60 s by default) but not changed.
    assert!(relay.session(idle.id).is_some());
    assert!(matches!(
        relay.set_enterprise_remote(idle.id, EnterpriseRemote::new(echo.rtp)),
        Err(Error::SessionEnded(_))
    ));
    relay.shutdown();
}

#[test]
fn a_session_that_goes_quiet_times_out_and_frees_its_ports() {
    let (public, enterprise) = ((42600, 42609), (32600, 32609));
    let mut config = common::config(public, enterprise, 1);
    config.media_timeout = Duration::from_secs(3);
    let relay = Forwarder::start(config, common::dtls_config()).unwrap();
    let echo = Echo::start();
    // Connects, exchanges media, then goes quiet.
    let mut browser = Browser::new();
    let mut s = spec(&echo);
    s.browser = Some(browser.remote());
    let quiet = relay.create_session(s).unwrap();
    browser.connect(&quiet).unwrap();
    browser.send_rtp(1, &common::payload(0, 1));
    assert!(browser.recv_media(HANG_GUARD).is_some());
    assert_eq!(bound_in(PUBLIC_IP, public.0, public.1).len(), 1);

    let snap = ended(&relay, quiet.id);
    assert_eq!(
        snap.state,
        SessionState::Ended {
            reason: EndReason::MediaTimeout
        }
    );
    assert_eq!(snap.counters.browser_to_enterprise.rtp_packets, 1);
    assert!(bound_in(PUBLIC_IP, public.0, public.1).is_empty());
    assert!(bound_in(ENTERPRISE_IP, enterprise.0, enterprise.1).is_empty());
    relay.shutdown();
}

#[test]
fn ended_sessions_vanish_after_the_linger_time() {
    let (public, enterprise) = ((42700, 42709), (32700, 32709));
    let mut config = common::config(public, enterprise, 1);
    config.setup_timeout = Duration::from_millis(100);
    config.ended_linger = Duration::from_millis(100);
    let relay = Forwarder::start(config, common::dtls_config()).unwrap();
    let echo = Echo::start();
    let idle = relay.create_session(spec(&echo)).unwrap();
    assert!(eventually(HANG_GUARD, || relay.session(idle.id).is_none()
        && relay.sessions().is_empty()));
    assert!(bound_in(PUBLIC_IP, public.0, public.1).is_empty());
    relay.shutdown();
}

#[test]
fn shutdown_and_dropping_the_last_handle_free_everything() {
    let (public, enterprise) = ((42500, 42509), (32500, 32509));
    let relay =
        Forwarder::start(common::config(public, enterprise, 2), common::dtls_config()).unwrap();
    let echo = Echo::start();
    let clone = relay.clone();
    for _ in 0..3 {
        clone.create_session(spec(&echo)).unwrap();
    }
    assert_eq!(bound_in(PUBLIC_IP, public.0, public.1).len(), 3);
    drop(clone);
    drop(relay);
    assert!(bound_in(PUBLIC_IP, public.0, public.1).is_empty());
    assert!(bound_in(ENTERPRISE_IP, enterprise.0, enterprise.1).is_empty());

    let relay =
        Forwarder::start(common::config(public, enterprise, 1), common::dtls_config()).unwrap();
    let info = relay.create_session(spec(&echo)).unwrap();
    let other = relay.clone();
    relay.shutdown();
    assert!(bound_in(PUBLIC_IP, public.0, public.1).is_empty());
    assert!(matches!(
        other.create_session(spec(&echo)),
        Err(Error::Stopped)
    ));
    assert!(matches!(
        other.session(info.id).map(|s| s.state),
        Some(SessionState::Ended {
            reason: EndReason::Shutdown
        })
    ));
}

#[test]
fn the_session_cap_refuses_by_name_and_binds_nothing() {
    let (public, enterprise) = ((48200, 48209), (38200, 38209));
    let mut config = common::config(public, enterprise, 2);
    config.max_sessions = 2;
    let relay = Forwarder::start(config, common::dtls_config()).unwrap();
    let echo = Echo::start();
    let first = relay.create_session(spec(&echo)).unwrap();
    relay.create_session(spec(&echo)).unwrap();
    let held = (
        bound_in(PUBLIC_IP, public.0, public.1),
        bound_in(ENTERPRISE_IP, enterprise.0, enterprise.1),
    );
    assert_eq!((held.0.len(), held.1.len()), (2, 4));
    for _ in 0..5 {
        let err = relay.create_session(spec(&echo)).unwrap_err();
        assert!(matches!(err, Error::TooManySessions { limit: 2 }), "{err}");
        assert!(err.to_string().contains("forward.max-sessions"), "{err}");
        assert!(err.to_string().contains('2'), "{err}");
    }
    // The refusals bound nothing, and the count did not drift.
    assert_eq!(
        (
            bound_in(PUBLIC_IP, public.0, public.1),
            bound_in(ENTERPRISE_IP, enterprise.0, enterprise.1),
        ),
        held
    );
    relay.remove_session(first.id).unwrap();
    relay.create_session(spec(&echo)).unwrap();
    assert!(matches!(
        relay.create_session(spec(&echo)),
        Err(Error::TooManySessions { limit: 2 })
    ));
    relay.shutdown();
    assert!(bound_in(PUBLIC_IP, public.0, public.1).is_empty());
}
