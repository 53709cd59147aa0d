//! The webrtc-rs `turn` crate's client against media-edge: Binding, Allocate, CreatePermission,
//! ChannelBind and datagrams both ways with a UDP echo peer; a wrong password gets 401 and
//! nothing is relayed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use edge_suite::turn::{EchoPeer, TurnOptions, TurnServer, PASSWORD, USER};
use turn::client::{Client, ClientConfig};
use webrtc_util::Conn;

async fn client(server: &TurnServer, password: &str) -> (Client, std::net::SocketAddr) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();
    let client = Client::new(ClientConfig {
        stun_serv_addr: server.udp.to_string(),
        turn_serv_addr: server.udp.to_string(),
        username: USER.into(),
        password: password.into(),
        realm: String::new(),
        software: String::new(),
        rto_in_ms: 0,
        conn: Arc::new(socket),
        vnet: None,
    })
    .await
    .unwrap();
    client.listen().await.unwrap();
    (client, local)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocate_bind_and_echo_both_ways() {
    let ports = 63800..=63809;
    let server = TurnServer::start(&TurnOptions::loopback_peers(ports.clone()));
    let echo = EchoPeer::start();
    let (client, local) = client(&server, PASSWORD).await;

    let reflexive = client.send_binding_request().await.unwrap();
    assert_eq!(reflexive, local, "Binding reflects the client's address");

    let relay = client.allocate().await.unwrap();
    let relayed = relay.local_addr().unwrap();
    assert!(ports.contains(&relayed.port()), "relayed address {relayed}");
    assert_eq!(server.relay_ports_open(&ports), 1, "one relay port open");

    // Request/response so a lost datagram is a failure, not a race: each packet must come
    // back from the peer, byte for byte, in order.
    let mut buf = vec![0u8; 1500];
    for i in 0..200u32 {
        let payload: Vec<u8> = (0..160u32).map(|j| (i * 7 + j) as u8).collect();
        relay.send_to(&payload, echo.addr).await.unwrap();
        let (n, from) = tokio::time::timeout(Duration::from_secs(30), relay.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("echo {i} did not come back\n{}", server.log()))
            .unwrap();
        assert_eq!(from, echo.addr);
        assert_eq!(&buf[..n], &payload[..], "packet {i}");
    }
    assert_eq!(echo.echoed(), 200);
    let log = server.log();
    assert!(
        log.contains("channel bound"),
        "the client bound a channel:\n{log}"
    );

    relay.close().await.unwrap();
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_gets_401_and_nothing_is_relayed() {
    let ports = 63810..=63819;
    let server = TurnServer::start(&TurnOptions::loopback_peers(ports.clone()));
    let echo = EchoPeer::start();
    let (client, _) = client(&server, "not-the-password").await;
    let err = match client.allocate().await {
        Ok(_) => panic!("allocated with a wrong password"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("401"), "{err}");
    assert_eq!(server.relay_ports_open(&ports), 0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(echo.echoed(), 0);
    assert!(!server.log().contains("allocation created"));
    client.close().await.unwrap();
}
