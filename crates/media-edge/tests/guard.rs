//! Bans at the binary level, one guard for every service (`[guard] max-failures = 3`, the
//! default 600 s ban): three bad TURN logins from 127.0.0.1 (the webrtc-rs client, wrong
//! password after the 401 nonce dance) ban it while 127.0.0.2 still allocates, until the ban
//! is lifted through the API; three bad API tokens from 127.0.0.3 ban it at the API and at
//! TURN while 127.0.0.2 is served. The log carries the stable `auth-failure` / `ban` /
//! `unban` lines and the shipped fail2ban filter matches exactly the failure lines. Ports
//! 38200-38299.
//!
//! No step races a timer: a ban outlives the test until lifted (its expiry on time is
//! edge-guard's test, on a virtual clock), a banned request's drop is awaited as the guard's
//! `banned-drops` counter rising in the `stats` line (`[log] stats-interval = 1`), and every
//! answer that must come is awaited for up to [`HANG_GUARD`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::{exchange, scratch, Running, HANG_GUARD};
use turn::client::{Client, ClientConfig};

const USER: &str = "alice";
const PASSWORD: &str = "correct-horse-battery";
const TOKEN: &str = "good-token-0123456789";

/// Allocates from `source` with `password`: `Ok(())` or the error text.
async fn allocate(server: SocketAddr, source: String, password: String) -> Result<(), String> {
    let socket = tokio::net::UdpSocket::bind((source.as_str(), 0))
        .await
        .unwrap();
    let client = Client::new(ClientConfig {
        stun_serv_addr: server.to_string(),
        turn_serv_addr: server.to_string(),
        username: USER.into(),
        password,
        realm: String::new(),
        software: String::new(),
        rto_in_ms: 0,
        conn: Arc::new(socket),
        vnet: None,
    })
    .await
    .unwrap();
    client.listen().await.unwrap();
    let result = match tokio::time::timeout(HANG_GUARD, client.allocate()).await {
        Ok(Ok(relay)) => {
            drop(relay);
            Ok(())
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {HANG_GUARD:?}")),
    };
    client.close().await.unwrap();
    result
}

/// The guard's `banned-drops` in the last `stats` line logged so far, 0 before the first.
fn banned_drops(edge: &Running) -> u64 {
    edge.log()
        .lines()
        .rev()
        .find_map(|l| l.split_once("banned-drops=").map(|(_, rest)| rest))
        .map_or(0, |rest| {
            let end = rest.find(' ').unwrap_or(rest.len());
            rest[..end].parse().unwrap()
        })
}

/// Tries to allocate from the banned `source` with the right password: the server must drop
/// the request unanswered. Waits for the drop itself (the guard's `banned-drops` rising in a
/// `stats` line), then checks that no allocation succeeded meanwhile.
async fn dropped_unanswered(edge: &Running, turn: SocketAddr, source: &str) {
    let before = banned_drops(edge);
    let attempt = tokio::spawn(allocate(turn, source.to_owned(), PASSWORD.to_owned()));
    loop {
        let line = edge.wait_for("stats guard:");
        if banned_drops(edge) > before {
            assert!(line.contains("banned-drops="), "{line}");
            break;
        }
    }
    if attempt.is_finished() {
        assert!(
            attempt.await.unwrap().is_err(),
            "a banned source was answered"
        );
    } else {
        attempt.abort();
    }
}

/// One API request from `source`: the status code, 0 when the connection was closed
/// unanswered.
async fn api_request(api: SocketAddr, source: &str, method: &str, path: &str, token: &str) -> u16 {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(source.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    let stream = socket.connect(api).await.unwrap().into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    let (method, path, token) = (method.to_owned(), path.to_owned(), token.to_owned());
    tokio::task::spawn_blocking(move || exchange(stream, &method, &path, &token, "").0)
        .await
        .unwrap()
}

/// `GET /v1/sessions` from `source` with `token`.
async fn sessions(api: SocketAddr, source: &str, token: &str) -> u16 {
    api_request(api, source, "GET", "/v1/sessions", token).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_bad_login_bans_the_source_at_every_door_until_the_ban_is_lifted() {
    let path = scratch(
        "guard.toml",
        &format!(
            "[log]\nstats-interval = 1\n\
             [guard]\nmax-failures = 3\n\
             [turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
             port-range = \"38200-38209\"\n\
             [[turn.auth.users]]\nname = \"{USER}\"\npassword = \"{PASSWORD}\"\n\
             [forward]\nworkers = 1\n\
             [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"38210-38219\"\n\
             [forward.enterprise]\ntransport-address = \"127.0.0.1\"\nport-range = \"38220-38229\"\n\
             [api]\nlisten = \"127.0.0.1:0\"\ntokens = [\"{TOKEN}\"]\n"
        ),
    );
    let mut edge = Running::start(["--config", path.to_str().unwrap()]);
    let turn = edge.address_after("media-edge TURN: udp ");
    let api = edge.address_after("plain HTTP on ");
    let lift = |source: &'static str| async move {
        let path = format!("/v1/bans/{source}");
        api_request(api, "127.0.0.2", "DELETE", &path, TOKEN).await
    };

    // TURN: three wrong passwords from 127.0.0.1, each answered 401.
    for attempt in 1..=3 {
        let e = allocate(turn, "127.0.0.1".into(), "wrong-password".into())
            .await
            .unwrap_err();
        assert!(e.contains("401"), "attempt {attempt}: {e}");
        edge.wait_for(&format!(
            "auth-failure service=turn source=127.0.0.1 reason=\"bad-integrity\" user=\"{USER}\" \
             failures={attempt}/3"
        ));
    }
    edge.wait_for("ban source=127.0.0.1/32 service=turn failures=3 duration=600s");
    // Banned: even the right password gets no answer; another source allocates.
    dropped_unanswered(&edge, turn, "127.0.0.1").await;
    let other = allocate(turn, "127.0.0.2".into(), PASSWORD.into()).await;
    assert_eq!(other, Ok(()));
    // Lifted (through the API, from another source): 127.0.0.1 allocates again.
    assert_eq!(lift("127.0.0.1").await, 204);
    edge.wait_for("unban source=127.0.0.1/32 cause=lifted");
    let again = allocate(turn, "127.0.0.1".into(), PASSWORD.into()).await;
    assert_eq!(again, Ok(()));

    // API: three bad tokens from 127.0.0.3, each answered 401.
    for attempt in 1..=3 {
        assert_eq!(
            sessions(api, "127.0.0.3", "bad-token-0123456789").await,
            401
        );
        edge.wait_for(&format!(
            "auth-failure service=api source=127.0.0.3 reason=\"bad-token\" user=\"\" \
             failures={attempt}/3"
        ));
    }
    edge.wait_for("ban source=127.0.0.3/32 service=api failures=3 duration=600s");
    assert_eq!(
        sessions(api, "127.0.0.3", TOKEN).await,
        0,
        "closed at accept"
    );
    assert_eq!(sessions(api, "127.0.0.2", TOKEN).await, 200);
    // One guard: the API ban closes TURN to that source too.
    dropped_unanswered(&edge, turn, "127.0.0.3").await;
    assert_eq!(lift("127.0.0.3").await, 204);
    assert_eq!(sessions(api, "127.0.0.3", TOKEN).await, 200);

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
