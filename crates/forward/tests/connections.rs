//! Named enterprise connections: a session naming one binds exactly its tuple (as the kernel
//! lists the sockets, and as the enterprise peer sees the packets' source), one session at a
//! time holds a tuple, unknown names and busy tuples are refused by name without leaking a
//! port, and start-up refuses a tuple that cannot be bound or collides, naming it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

use common::{bound_in, bound_udp_ports, Browser, Echo, ENTERPRISE_IP, HANG_GUARD, PUBLIC_IP};
use edge_forward::{ClientSidePort, Error, ForwardConfig, Forwarder, SessionSpec};

/// A third loopback address for the second connection.
const OTHER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);
const PUBLIC: (u16, u16) = (48100, 48109);

fn config() -> ForwardConfig {
    let mut config = common::config(PUBLIC, (38100, 38109), 1);
    for (name, definition) in [
        ("pbx-a", "port=38120;address=127.0.0.2"),
        ("pbx-b", " address = 127.0.0.4 ; port = 38130 "),
    ] {
        config
            .enterprise
            .connections
            .insert(name.into(), definition.parse().unwrap());
    }
    config
}

fn spec(echo: &Echo, connection: Option<&str>) -> SessionSpec {
    let mut s = SessionSpec::new();
    s.enterprise = Some(echo.remote());
    s.connection = connection.map(str::to_owned);
    s
}

/// A call on `connection`: RTP from the browser reaches the echo and comes back.
fn call(relay: &Forwarder, echo: &Echo, connection: &str) -> (edge_forward::SessionInfo, Browser) {
    let mut browser = Browser::new();
    let mut s = spec(echo, Some(connection));
    s.browser = Some(browser.remote());
    let info = relay.create_session(s).unwrap();
    browser.connect(&info).unwrap();
    browser.send_rtp(7, &common::payload(7, 7));
    assert!(browser.recv_media(HANG_GUARD).is_some());
    (info, browser)
}

#[test]
fn sessions_on_named_connections_bind_exactly_their_tuples() {
    let relay = Forwarder::start(config(), common::dtls_config()).unwrap();
    let echo = Echo::start();
    let (a, _ba) = call(&relay, &echo, "pbx-a");
    let (b, _bb) = call(&relay, &echo, "pbx-b");
    assert_eq!(a.enterprise_rtp, SocketAddr::from((ENTERPRISE_IP, 38120)));
    assert_eq!(
        a.enterprise_rtcp,
        Some(SocketAddr::from((ENTERPRISE_IP, 38121)))
    );
    assert_eq!(b.enterprise_rtp, SocketAddr::from((OTHER_IP, 38130)));
    assert_eq!(a.connection.as_deref(), Some("pbx-a"));
    assert_eq!(
        relay.session(b.id).unwrap().connection.as_deref(),
        Some("pbx-b")
    );
    // The kernel's socket table: exactly these ports on these addresses.
    assert!(bound_udp_ports(ENTERPRISE_IP).contains(&38120));
    assert!(bound_udp_ports(ENTERPRISE_IP).contains(&38121));
    assert_eq!(bound_in(OTHER_IP, 38100, 38199), vec![38130, 38131]);
    // The enterprise peer saw the media come from exactly those tuples.
    let sources = echo.sources.lock().unwrap().clone();
    assert!(sources.contains(&a.enterprise_rtp), "{sources:?}");
    assert!(sources.contains(&b.enterprise_rtp), "{sources:?}");
    assert_eq!(sources.len(), 2, "{sources:?}");

    // A second session on a busy tuple is refused, naming the connection; it leaves no
    // public port behind.
    let before = bound_in(PUBLIC_IP, PUBLIC.0, PUBLIC.1);
    let err = relay
        .create_session(spec(&echo, Some("pbx-a")))
        .unwrap_err();
    assert!(
        matches!(&err, Error::ConnectionBusy { name, tuple } if name == "pbx-a" && tuple.port() == 38120),
        "{err}"
    );
    assert!(err.to_string().contains("\"pbx-a\""), "{err}");
    assert!(err.to_string().contains("busy"), "{err}");
    // With rtcp-mux only the RTP port is needed, but that one is taken too.
    let mut muxed = spec(&echo, Some("pbx-a"));
    muxed.rtcp_mux_enterprise = true;
    assert!(matches!(
        relay.create_session(muxed),
        Err(Error::ConnectionBusy { .. })
    ));
    // An unknown name is refused by name.
    let err = relay
        .create_session(spec(&echo, Some("pbx-z")))
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnknownConnection { name } if name == "pbx-z"),
        "{err}"
    );
    assert!(err.to_string().contains("pbx-z"), "{err}");
    assert_eq!(bound_in(PUBLIC_IP, PUBLIC.0, PUBLIC.1), before);
    // A session naming no connection takes the default leg.
    let default = relay.create_session(spec(&echo, None)).unwrap();
    assert!((38100..=38109).contains(&default.enterprise_rtp.port()));
    assert_eq!(default.connection, None);

    // Removing the session frees the tuple at once, for the next session.
    relay.remove_session(a.id).unwrap();
    assert!(!bound_udp_ports(ENTERPRISE_IP).contains(&38120));
    assert!(!bound_udp_ports(ENTERPRISE_IP).contains(&38121));
    let again = relay.create_session(spec(&echo, Some("pbx-a"))).unwrap();
    assert_eq!(again.enterprise_rtp.port(), 38120);
    relay.shutdown();
    assert!(bound_in(OTHER_IP, 38100, 38199).is_empty());
    assert!(!bound_udp_ports(ENTERPRISE_IP).contains(&38120));
}

#[test]
fn start_up_refuses_busy_colliding_and_foreign_tuples_by_name() {
    // The tuple is taken by another socket.
    let mut c = common::config((48110, 48119), (38140, 38149), 1);
    c.enterprise.connections.insert(
        "pbx-a".into(),
        "port=38160;address=127.0.0.2".parse().unwrap(),
    );
    let stranger = UdpSocket::bind((ENTERPRISE_IP, 38161)).unwrap();
    let err = Forwarder::start(c.clone(), common::dtls_config())
        .err()
        .unwrap();
    let message = err.to_string();
    assert!(
        message.contains("enterprise.connections")
            && message.contains("pbx-a")
            && message.contains("port=38160;address=127.0.0.2"),
        "{message}"
    );
    drop(stranger);
    Forwarder::start(c.clone(), common::dtls_config())
        .unwrap()
        .shutdown();

    // Two names for one tuple.
    let mut twice = c.clone();
    twice.enterprise.connections.insert(
        "pbx-b".into(),
        "address=127.0.0.2;port=38160".parse().unwrap(),
    );
    let message = Forwarder::start(twice, common::dtls_config())
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.contains("pbx-a") && message.contains("pbx-b"),
        "{message}"
    );

    // Inside the default leg's range on the same address.
    let mut inside = c.clone();
    inside.enterprise.connections.insert(
        "pbx-c".into(),
        "port=38144;address=127.0.0.2".parse().unwrap(),
    );
    let message = Forwarder::start(inside, common::dtls_config())
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.contains("pbx-c") && message.contains("enterprise.port-range"),
        "{message}"
    );

    // An address that is not local.
    let mut foreign = c;
    foreign.enterprise.connections.insert(
        "pbx-d".into(),
        ClientSidePort::new("192.0.2.1".parse().unwrap(), 38170).unwrap(),
    );
    let message = Forwarder::start(foreign, common::dtls_config())
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.contains("pbx-d") && message.contains("192.0.2.1"),
        "{message}"
    );
}

#[test]
fn connections_come_from_the_config_file() {
    let c: ForwardConfig = toml::from_str(
        r#"
        [public]
        address = "127.0.0.1"
        port-range = "48120-48129"
        [enterprise]
        transport-address = "127.0.0.2"
        port-range = "38180-38189"
        [enterprise.connections]
        pbx-a = "port=38190;address=127.0.0.2"
        "#,
    )
    .unwrap();
    c.validate().unwrap();
    assert_eq!(
        c.enterprise.connections["pbx-a"].socket_addr(),
        SocketAddr::from((ENTERPRISE_IP, 38190))
    );
    let err = toml::from_str::<ForwardConfig>(
        r#"
        [public]
        address = "127.0.0.1"
        port-range = "48120-48129"
        [enterprise]
        transport-address = "127.0.0.2"
        port-range = "38180-38189"
        [enterprise.connections]
        pbx-a = "port=38190;address=127.0.0.2;port=38192"
        "#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("port is given twice") && err.contains("pbx-a"),
        "{err}"
    );
}
