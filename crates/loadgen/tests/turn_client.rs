//! The sans-IO TURN client against edge-turn's sans-IO server core, on a virtual clock:
//! the whole allocation life (401 dance, permission, channel, data both ways, refreshes
//! past every lifetime, deallocation), REST credentials, refusals, loss and retransmission,
//! and garbage input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use edge_loadgen::turn::client::{ClientConfig, State, TurnClient};
use edge_loadgen::turn::credentials::Credentials;
use edge_loadgen::Error;
use edge_stun::{ChannelData, Transport as Framing};
use edge_turn::{ClientAction, Command, Event, FiveTuple, Server, ServerConfig, Transport};

const SERVER: &str = "127.0.0.1:3478";
const CLIENT: &str = "127.0.0.1:50000";
const PEER: &str = "127.0.0.1:40000";

/// Carries out the server core's relay-socket commands without sockets: every open
/// succeeds. Returns the answer the core then has (an Allocate's response) in `reply`.
fn no_sockets(now: Instant, server: &mut Server, reply: &mut [u8]) -> Option<usize> {
    let mut answer = None;
    while let Some(command) = server.poll_command() {
        if let Command::OpenRelay { port } = command {
            let bound = SocketAddr::new("127.0.0.1".parse().unwrap(), port);
            answer = answer.or(server
                .handle_relay_opened(now, port, Ok(bound), reply)
                .map(|(_, len)| len));
        }
    }
    answer
}

struct Pair {
    now: Instant,
    server: Server,
    client: TurnClient,
    /// Drop the next n client -> server messages.
    drop_next: usize,
    sent: usize,
}

fn server_config() -> ServerConfig {
    let mut c = ServerConfig::new("example.org", "127.0.0.1".parse().unwrap());
    c.users = vec![("alice".into(), "secret".into())];
    c.shared_secrets = vec![b"rest-shared-secret-0123".to_vec()];
    c.nonce_secret = vec![7; 32];
    c.peer_allow = vec!["127.0.0.0/8".parse().unwrap()];
    c.port_range = 50_100..=50_199;
    c
}

fn client_config(username: &str, password: &str) -> ClientConfig {
    ClientConfig {
        server: SERVER.parse().unwrap(),
        username: username.into(),
        password: password.into(),
        peer: PEER.parse().unwrap(),
        channel: 0x4001,
        reliable: false,
        lifetime: None,
        seed: 1,
    }
}

fn tuple() -> FiveTuple {
    FiveTuple {
        transport: Transport::Udp,
        local: SERVER.parse().unwrap(),
        remote: CLIENT.parse().unwrap(),
        socket: 0,
    }
}

impl Pair {
    fn new(config: ServerConfig, client: ClientConfig) -> Pair {
        let now = Instant::now();
        Pair {
            now,
            server: Server::new(config, now, Duration::from_secs(1_700_000_000)).unwrap(),
            client: TurnClient::new(client, now),
            drop_next: 0,
            sent: 0,
        }
    }

    /// Moves messages both ways until the client has nothing to send.
    fn exchange(&mut self) {
        let mut buf = [0u8; 1500];
        let mut reply = [0u8; 1500];
        while let Some(len) = self.client.poll_transmit(&mut buf) {
            self.sent += 1;
            if self.drop_next > 0 {
                self.drop_next -= 1;
                continue;
            }
            let action = self
                .server
                .handle_client(self.now, tuple(), &buf[..len], &mut reply);
            if let ClientAction::Reply { len } = action {
                self.client.handle_input(self.now, &reply[..len]);
            }
            if let Some(len) = no_sockets(self.now, &mut self.server, &mut reply) {
                self.client.handle_input(self.now, &reply[..len]);
            }
        }
    }

    /// Advances the virtual clock by `d` in steps, running both sides' timers.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|&t| t > self.now)
                .min()
                .unwrap_or(end)
                .min(end);
            self.now = next;
            self.server.handle_timeout(self.now);
            no_sockets(self.now, &mut self.server, &mut [0; 1500]);
            self.client.handle_timeout(self.now);
            self.exchange();
        }
    }

    /// A payload from the client through the channel; returns what reached the peer.
    fn send_to_peer(&mut self, payload: &[u8]) -> Option<(SocketAddr, Vec<u8>)> {
        let mut frame = vec![0u8; 4 + payload.len()];
        frame[4..].copy_from_slice(payload);
        let n = ChannelData::encode_in_place(
            &mut frame,
            self.client.channel(),
            payload.len(),
            Framing::Datagram,
        )
        .unwrap();
        let mut reply = [0u8; 1500];
        match self
            .server
            .handle_client(self.now, tuple(), &frame[..n], &mut reply)
        {
            ClientAction::Relay { peer, payload, .. } => Some((peer, frame[payload].to_vec())),
            _ => None,
        }
    }

    /// A payload from the peer; returns the ChannelData payload the client would get.
    fn receive_from_peer(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let port = self.client.relayed()?.port();
        let head = edge_turn::PEER_HEADROOM;
        let mut buf = vec![0u8; head + payload.len() + 3];
        buf[head..head + payload.len()].copy_from_slice(payload);
        let (to, range) = self.server.handle_peer(
            self.now,
            port,
            PEER.parse().unwrap(),
            &mut buf,
            head..head + payload.len(),
        )?;
        assert_eq!(to, tuple());
        let cd = ChannelData::parse(&buf[range]).ok()?;
        assert_eq!(cd.number(), self.client.channel());
        Some(cd.payload().to_vec())
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.server.poll_event()).collect()
    }
}

#[test]
fn allocation_life_with_long_term_credentials() {
    let mut p = Pair::new(server_config(), client_config("alice", "secret"));
    p.exchange();
    assert_eq!(p.client.state(), State::Ready);
    // Allocate (401), Allocate, CreatePermission, ChannelBind.
    assert_eq!(p.sent, 4);
    let relayed = p.client.relayed().unwrap();
    assert_eq!(relayed.ip().to_string(), "127.0.0.1");
    assert!((50_100..=50_199).contains(&relayed.port()));
    assert_eq!(p.client.mapped(), Some(CLIENT.parse().unwrap()));

    assert_eq!(
        p.send_to_peer(b"hello peer"),
        Some((PEER.parse().unwrap(), b"hello peer".to_vec()))
    );
    assert_eq!(
        p.receive_from_peer(b"hello client").as_deref(),
        Some(&b"hello client"[..])
    );

    // An hour: the allocation (600 s), permission (300 s) and channel (600 s) would all
    // have expired without the client's refreshes.
    p.advance(Duration::from_secs(3_600));
    assert_eq!(p.client.state(), State::Ready);
    assert_eq!(
        p.send_to_peer(b"still here").map(|x| x.1),
        Some(b"still here".to_vec())
    );
    assert!(p.receive_from_peer(b"and back").is_some());
    assert!(p.server.has_allocation(&tuple()));

    p.client.close(p.now);
    p.exchange();
    assert_eq!(p.client.state(), State::Closed);
    assert!(!p.server.has_allocation(&tuple()));
    assert!(p.events().iter().any(|e| matches!(
        e,
        Event::AllocationClosed {
            reason: edge_turn::CloseReason::Deleted,
            ..
        }
    )));
    assert!(p.client.take_error().is_none());
}

#[test]
fn rest_credentials_are_accepted() {
    let creds = Credentials::Rest {
        secret: "rest-shared-secret-0123".into(),
        user: "load".into(),
        ttl_s: 3_600,
    };
    let (u, pw) = creds.derive(1_700_000_000);
    let mut p = Pair::new(server_config(), client_config(&u, &pw));
    p.exchange();
    assert_eq!(
        p.client.state(),
        State::Ready,
        "{:?}",
        p.client.take_error()
    );

    // Expired REST credentials are refused.
    let (u, pw) = creds.derive(1_700_000_000 - 7_200);
    let mut p = Pair::new(server_config(), client_config(&u, &pw));
    p.exchange();
    assert_eq!(p.client.state(), State::Failed);
    assert!(matches!(
        p.client.take_error(),
        Some(Error::Rejected { code: 401, .. })
    ));
}

#[test]
fn wrong_password_fails_with_401_named() {
    let mut p = Pair::new(server_config(), client_config("alice", "wrong"));
    p.exchange();
    assert_eq!(p.client.state(), State::Failed);
    let e = p.client.take_error().unwrap();
    assert!(
        matches!(
            e,
            Error::Rejected {
                method: "Allocate",
                code: 401,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("127.0.0.1:3478"), "{e}");
}

#[test]
fn refused_peer_fails_with_403() {
    let mut config = server_config();
    config.peer_allow.clear();
    let mut p = Pair::new(config, client_config("alice", "secret"));
    p.exchange();
    assert_eq!(p.client.state(), State::Failed);
    assert!(matches!(
        p.client.take_error(),
        Some(Error::Rejected {
            method: "CreatePermission",
            code: 403,
            ..
        })
    ));
    // The allocation exists; closing releases it.
    p.client.close(p.now);
    p.exchange();
    assert!(!p.server.has_allocation(&tuple()));
}

#[test]
fn lost_requests_are_retransmitted() {
    let mut p = Pair::new(server_config(), client_config("alice", "secret"));
    p.drop_next = 3;
    p.exchange();
    assert_eq!(p.client.state(), State::SettingUp);
    p.advance(Duration::from_secs(5));
    assert_eq!(p.client.state(), State::Ready);
    assert_eq!(
        p.sent, 7,
        "three lost sends plus the four of a clean set-up"
    );
}

#[test]
fn silence_times_out_after_five_tries() {
    let mut p = Pair::new(server_config(), client_config("alice", "secret"));
    p.drop_next = usize::MAX;
    p.exchange();
    p.advance(Duration::from_secs(60));
    assert_eq!(p.client.state(), State::Failed);
    assert_eq!(p.sent, 5);
    assert!(matches!(
        p.client.take_error(),
        Some(Error::Timeout {
            method: "Allocate",
            tries: 5,
            ..
        })
    ));
    assert_eq!(
        p.client.poll_timeout(),
        None,
        "a failed client asks for no timer"
    );
}

#[test]
fn garbage_and_truncated_responses_never_panic() {
    let mut p = Pair::new(server_config(), client_config("alice", "secret"));
    let mut buf = [0u8; 1500];
    let len = p.client.poll_transmit(&mut buf).unwrap();
    let mut reply = [0u8; 1500];
    let ClientAction::Reply { len: rlen } =
        p.server
            .handle_client(p.now, tuple(), &buf[..len], &mut reply)
    else {
        panic!("no 401");
    };
    // Every truncation of the real 401, then seeded random bytes and bit flips of it.
    for cut in 0..rlen {
        p.client.handle_input(p.now, &reply[..cut]);
    }
    let mut x = 0x1234_5678_9ABC_DEF0u64;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..5_000 {
        let n = (rnd() % 300) as usize;
        let junk: Vec<u8> = (0..n).map(|_| rnd() as u8).collect();
        p.client.handle_input(p.now, &junk);
        let mut flipped = reply[..rlen].to_vec();
        let i = (rnd() as usize) % rlen;
        flipped[i] ^= 1 << (rnd() % 8);
        p.client.handle_input(p.now, &flipped);
    }
    // Whatever it made of that, it is in a defined state and keeps working or failed cleanly.
    assert!(matches!(p.client.state(), State::SettingUp | State::Failed));
}
