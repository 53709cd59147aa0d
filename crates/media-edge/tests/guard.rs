//! Bans at the binary level, one guard for every service (`[guard] max-failures = 3,
//! ban-duration = 2`): three bad TURN logins from 127.0.0.1 (the webrtc-rs client, wrong
//! password after the 401 nonce dance) ban it while 127.0.0.2 still allocates, and the ban
//! lifts after 2 s; three bad API tokens from 127.0.0.3 ban it at the API and at TURN while
//! 127.0.0.2 is served. The log carries the stable `auth-failure` / `ban` lines and the
//! shipped fail2ban filter matches exactly the failure lines. Ports 38200-38299.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{exchange, scratch, Running};
use turn::client::{Client, ClientConfig};

const USER: &str = "alice";
const PASSWORD: &str = "correct-horse-battery";
const TOKEN: &str = "good-token-0123456789";

/// Allocates from `source` with `password`: `Ok(())`, the error text, or `Err("no answer")`
/// when the server stays silent (a banned source).
async fn allocate(server: SocketAddr, source: &str, password: &str) -> Result<(), String> {
    let socket = tokio::net::UdpSocket::bind((source, 0)).await.unwrap();
    let client = Client::new(ClientConfig {
        stun_serv_addr: server.to_string(),
        turn_serv_addr: server.to_string(),
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
    let result = match tokio::time::timeout(Duration::from_millis(800), client.allocate()).await {
        Ok(Ok(relay)) => {
            drop(relay);
            Ok(())
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer".to_owned()),
    };
    client.close().await.unwrap();
    result
}

/// One API request from `source`: the status code, 0 when the connection was closed unanswered.
async fn api_request(api: SocketAddr, source: &str, token: &str) -> u16 {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(source.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    let stream = socket.connect(api).await.unwrap().into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    let token = token.to_owned();
    tokio::task::spawn_blocking(move || exchange(stream, "GET", "/v1/sessions", &token, "").0)
        .await
        .unwrap()
}

/// Waits for the end of the ban that started at `since` (2 s), with a margin.
async fn until_lifted(since: Instant) {
    let lifted = since + Duration::from_millis(2300);
    tokio::time::sleep(lifted.saturating_duration_since(Instant::now())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_bad_login_bans_the_source_at_every_door_until_the_ban_ends() {
    let path = scratch(
        "guard.toml",
        &format!(
            "[guard]\nmax-failures = 3\nban-duration = 2\n\
             [turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
             port-range = \"38200-38209\"\n\
             [[turn.auth.users]]\nname = \"{USER}\"\npassword = \"{PASSWORD}\"\n\
             [relay]\nworkers = 1\n\
             [relay.public]\naddress = \"127.0.0.1\"\nport-range = \"38210-38219\"\n\
             [relay.enterprise]\ntransport-address = \"127.0.0.1\"\nport-range = \"38220-38229\"\n\
             [api]\nlisten = \"127.0.0.1:0\"\ntokens = [\"{TOKEN}\"]\n"
        ),
    );
    let mut edge = Running::start(["--config", path.to_str().unwrap()]);
    let turn = edge.address_after("media-edge TURN: udp ");
    let api = edge.address_after("plain HTTP on ");

    // TURN: three wrong passwords from 127.0.0.1, each answered 401.
    for attempt in 1..=3 {
        let e = allocate(turn, "127.0.0.1", "wrong-password")
            .await
            .unwrap_err();
        assert!(e.contains("401"), "attempt {attempt}: {e}");
        edge.wait_for(&format!(
            "auth-failure service=turn source=127.0.0.1 reason=\"bad-integrity\" user=\"{USER}\" \
             failures={attempt}/3"
        ));
    }
    edge.wait_for("ban source=127.0.0.1/32 service=turn failures=3 duration=2s");
    let banned_at = Instant::now();
    // Banned: even the right password gets no answer; another source allocates.
    assert_eq!(
        allocate(turn, "127.0.0.1", PASSWORD).await,
        Err("no answer".to_owned())
    );
    assert_eq!(allocate(turn, "127.0.0.2", PASSWORD).await, Ok(()));
    until_lifted(banned_at).await;
    assert_eq!(allocate(turn, "127.0.0.1", PASSWORD).await, Ok(()));
    edge.wait_for("unban source=127.0.0.1/32 cause=expired");

    // API: three bad tokens from 127.0.0.3, each answered 401.
    for attempt in 1..=3 {
        assert_eq!(
            api_request(api, "127.0.0.3", "bad-token-0123456789").await,
            401
        );
        edge.wait_for(&format!(
            "auth-failure service=api source=127.0.0.3 reason=\"bad-token\" user=\"\" \
             failures={attempt}/3"
        ));
    }
    edge.wait_for("ban source=127.0.0.3/32 service=api failures=3 duration=2s");
    let banned_at = Instant::now();
    assert_eq!(
        api_request(api, "127.0.0.3", TOKEN).await,
        0,
        "closed at accept"
    );
    assert_eq!(api_request(api, "127.0.0.2", TOKEN).await, 200);
    // One guard: the API ban closes TURN to that source too.
    assert_eq!(
        allocate(turn, "127.0.0.3", PASSWORD).await,
        Err("no answer".to_owned())
    );
    until_lifted(banned_at).await;
    assert_eq!(api_request(api, "127.0.0.3", TOKEN).await, 200);

    assert!(edge.stop().success());
    let log = edge.log();
    fail2ban_matches_exactly_the_failures(&log);
}

/// `fail2ban-regex` with the shipped filter over the binary's own log finds the six failure
/// lines and nothing else.
fn fail2ban_matches_exactly_the_failures(log: &str) {
    let file = scratch("guard.log", &format!("{log}\n"));
    let filter = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/fail2ban/filter.d/media-edge.conf");
    let run = |args: &[&str]| {
        let out = Command::new("fail2ban-regex")
            .args(args)
            .arg(&file)
            .arg(&filter)
            .output()
            .unwrap_or_else(|e| panic!("fail2ban-regex (Debian package fail2ban): {e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let matched: Vec<String> = run(&["-o", "ip"]).lines().map(str::to_owned).collect();
    assert_eq!(
        matched,
        [
            "127.0.0.1",
            "127.0.0.1",
            "127.0.0.1",
            "127.0.0.3",
            "127.0.0.3",
            "127.0.0.3"
        ],
        "log:\n{log}"
    );
    let failures = log.lines().filter(|l| l.contains("auth-failure ")).count();
    assert_eq!(failures, 6, "{log}");
    let lines = log.lines().count();
    let summary = run(&[]);
    assert!(
        summary.contains(&format!(
            "Lines: {lines} lines, 0 ignored, 6 matched, {} missed",
            lines - 6
        )),
        "{summary}"
    );
}
