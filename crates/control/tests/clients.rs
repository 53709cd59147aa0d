//! Inbound client-side port definition over real TCP: an unlisted source is closed at
//! accept, a listed client's connection beyond its limit too, and without a list a source's
//! connection beyond the limit, and any connection beyond the total of all sources;
//! `/v1/stats` counts exactly those, and closed connections give their places back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::{config, connect_from, is_closed, request, Server, IO_TIMEOUT, TOKEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The source port the port-pinned client entry names (outside the ephemeral range and
/// the other tests' fixed ports).
const PINNED_PORT: u16 = 36_101;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

async fn stats(s: &mut TcpStream) -> serde_json::Value {
    let r = request(s, "GET", "/v1/stats", Some(TOKEN), &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.json()
}

#[tokio::test]
async fn unlisted_and_over_limit_connections_are_refused_and_counted() {
    let mut c = config();
    c.clients = vec![
        "127.0.0.1".parse().unwrap(),
        "127.0.0.2".parse().unwrap(),
        format!("127.0.0.7:{PINNED_PORT}").parse().unwrap(),
    ];
    c.max_connections_per_client = 2;
    let server = Server::start(20, c).await;

    // Unlisted: closed at accept, whatever it sends.
    let mut unlisted = connect_from(ip("127.0.0.3"), server.addr).await;
    assert!(is_closed(&mut unlisted).await);

    // A listed client: two connections, each answered; the third is closed at accept.
    let listed = ip("127.0.0.2");
    let mut first = connect_from(listed, server.addr).await;
    let mut second = connect_from(listed, server.addr).await;
    for s in [&mut first, &mut second] {
        assert_eq!(
            request(s, "GET", "/v1/sessions", Some(TOKEN), &[])
                .await
                .status,
            200
        );
    }
    let mut third = connect_from(listed, server.addr).await;
    assert!(is_closed(&mut third).await);

    // The pinned entry admits its port only. The port may still be in TIME_WAIT from an
    // earlier run (this side closes first); each run's server port differs.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket
        .bind(SocketAddr::new(ip("127.0.0.7"), PINNED_PORT))
        .unwrap();
    let mut pinned = tokio::time::timeout(IO_TIMEOUT, socket.connect(server.addr))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        request(&mut pinned, "GET", "/v1/sessions", Some(TOKEN), &[])
            .await
            .status,
        200
    );
    let mut other_port = connect_from(ip("127.0.0.7"), server.addr).await;
    assert!(is_closed(&mut other_port).await);

    let mut admin = connect_from(ip("127.0.0.1"), server.addr).await;
    let s = stats(&mut admin).await;
    assert_eq!(s["accepted"], 4, "{s}");
    assert_eq!(s["refused-unlisted"], 2, "{s}");
    assert_eq!(s["refused-over-limit"], 1, "{s}");
    assert_eq!(s["refused-banned"], 0, "{s}");
    assert_eq!(s["open"], 4, "{s}");

    // Closing gives the places back: the client connects twice again.
    drop((first, second, pinned));
    let deadline = Instant::now() + IO_TIMEOUT;
    while stats(&mut admin).await["open"] != 1 {
        assert!(Instant::now() < deadline, "connections not released");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut again = Vec::new();
    for _ in 0..2 {
        let mut s = connect_from(listed, server.addr).await;
        assert_eq!(
            request(&mut s, "GET", "/v1/sessions", Some(TOKEN), &[])
                .await
                .status,
            200
        );
        again.push(s);
    }
    let s = stats(&mut admin).await;
    assert_eq!(
        (
            s["accepted"].as_u64(),
            s["refused-over-limit"].as_u64(),
            s["open"].as_u64()
        ),
        (Some(6), Some(1), Some(3)),
        "{s}"
    );
    server.stop().await;
}

/// Polls `/v1/stats` on `admin` until `open` is `want`, for at most [`IO_TIMEOUT`].
async fn wait_open(admin: &mut TcpStream, want: u64) {
    let deadline = Instant::now() + IO_TIMEOUT;
    while stats(admin).await["open"] != want {
        assert!(Instant::now() < deadline, "open never fell to {want}");
        // 20 polls a second: within the default rate limit of 20/s.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Served one request on a new connection from `from`, which stays open.
async fn served(from: IpAddr, server: &Server) -> TcpStream {
    let mut s = connect_from(from, server.addr).await;
    let r = request(&mut s, "GET", "/v1/sessions", Some(TOKEN), &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    s
}

/// Without `api.clients` every source is admitted, each with at most
/// `max-connections-per-client` connections: a 4th from 127.0.0.1 is closed at accept while
/// 127.0.0.2 is served; a connection that ends (closed by the client, or by the server on a
/// protocol error) gives its place back.
#[tokio::test]
async fn without_a_list_each_source_is_capped() {
    let mut c = config();
    c.max_connections_per_client = 3;
    let server = Server::start(22, c).await;
    let capped = ip("127.0.0.1");

    let mut three = Vec::new();
    for _ in 0..3 {
        three.push(served(capped, &server).await);
    }
    for _ in 0..2 {
        let mut over = connect_from(capped, server.addr).await;
        assert!(is_closed(&mut over).await);
    }
    let mut admin = served(ip("127.0.0.2"), &server).await;
    let s = stats(&mut admin).await;
    assert_eq!(
        (
            s["accepted"].as_u64(),
            s["refused-over-limit"].as_u64(),
            s["refused-unlisted"].as_u64(),
            s["open"].as_u64()
        ),
        (Some(4), Some(2), Some(0), Some(4)),
        "{s}"
    );

    // The client closes one: its place comes back.
    drop(three.pop());
    wait_open(&mut admin, 3).await;
    three.push(served(capped, &server).await);

    // The server closes one on a protocol error: its place comes back too.
    let mut garbage = three.pop().unwrap();
    garbage.write_all(b"NOT HTTP\r\n\r\n").await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(IO_TIMEOUT, garbage.read_to_end(&mut rest))
        .await
        .expect("the server closes in time")
        .unwrap();
    wait_open(&mut admin, 3).await;
    three.push(served(capped, &server).await);

    let s = stats(&mut admin).await;
    assert_eq!(
        (
            s["accepted"].as_u64(),
            s["refused-over-limit"].as_u64(),
            s["open"].as_u64()
        ),
        (Some(6), Some(2), Some(4)),
        "{s}"
    );
    drop(garbage);
    server.stop().await;
}

/// `max-connections` caps all sources together: with 3 in all (16 per source), one
/// connection each from 127.0.0.1, .2 and .3 is served, one from 127.0.0.4 is closed at
/// accept without an HTTP answer and counted once as `refused-over-total`; after one closes,
/// 127.0.0.4 is served.
#[tokio::test]
async fn all_sources_together_are_capped() {
    let mut c = config();
    c.max_connections_per_client = 16;
    c.max_connections = 3;
    let server = Server::start(23, c).await;

    let mut admin = served(ip("127.0.0.1"), &server).await;
    let mut held = vec![
        served(ip("127.0.0.2"), &server).await,
        served(ip("127.0.0.3"), &server).await,
    ];
    let fourth = ip("127.0.0.4");
    let mut over = connect_from(fourth, server.addr).await;
    assert!(is_closed(&mut over).await);
    let s = stats(&mut admin).await;
    assert_eq!(
        (
            s["accepted"].as_u64(),
            s["refused-over-total"].as_u64(),
            s["refused-over-limit"].as_u64(),
            s["refused-unlisted"].as_u64(),
            s["refused-banned"].as_u64(),
            s["open"].as_u64()
        ),
        (Some(3), Some(1), Some(0), Some(0), Some(0), Some(3)),
        "{s}"
    );

    drop(held.pop());
    wait_open(&mut admin, 2).await;
    held.push(served(fourth, &server).await);
    let s = stats(&mut admin).await;
    assert_eq!(
        (
            s["accepted"].as_u64(),
            s["refused-over-total"].as_u64(),
            s["open"].as_u64()
        ),
        (Some(4), Some(1), Some(3)),
        "{s}"
    );
    server.stop().await;
}

/// Shutdown closes idle connections and `serve` returns; the listener is gone.
#[tokio::test]
async fn shutdown_closes_connections_and_the_listener() {
    let server = Server::start(21, config()).await;
    let addr = server.addr;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        request(&mut idle, "GET", "/v1/sessions", Some(TOKEN), &[])
            .await
            .status,
        200
    );
    server.stop().await;
    assert!(is_closed(&mut idle).await);
    assert!(TcpStream::connect(addr).await.is_err());
}
