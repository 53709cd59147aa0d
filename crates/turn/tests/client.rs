//! The sans-IO TURN client against edge-turn's sans-IO server core, on a virtual clock, no
//! socket: the whole allocation life (401 dance, permission, channel, data both ways,
//! refreshes past every lifetime, deallocation), REST credentials, refusals, loss and
//! retransmission, and garbage input; then the transaction layer on its own (stale nonce,
//! Send and Data indications, ChannelData both ways, refresh 0) and the stream framing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::Harness;
use edge_stun::{ChannelData, Transport as Framing};
use edge_turn::client::{
    read_data, AllocationClient as TurnClient, AllocationConfig as ClientConfig, Client, Data,
    Error, Request, Response, State, StreamReader,
};
use edge_turn::{ClientAction, Event, FiveTuple, ServerConfig, Transport};

const SERVER: &str = "127.0.0.1:3478";
const CLIENT: &str = "127.0.0.1:50000";
const PEER: &str = "127.0.0.1:40000";

struct Pair {
    h: Harness,
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
    c.port_range = "50100-50199".parse().unwrap();
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
        let h = Harness::new(config);
        Pair {
            client: TurnClient::new(client, h.now),
            h,
            drop_next: 0,
            sent: 0,
        }
    }

    /// Moves messages both ways until the client has nothing to send.
    fn exchange(&mut self) {
        let mut buf = [0u8; 1500];
        while let Some(len) = self.client.poll_transmit(&mut buf) {
            self.sent += 1;
            if self.drop_next > 0 {
                self.drop_next -= 1;
                continue;
            }
            let (_, answer) = self.h.input(tuple(), &buf[..len]);
            if !answer.is_empty() {
                self.client.handle_input(self.h.now, &answer);
            }
        }
    }

    /// Advances the virtual clock by `d` in steps, running both sides' timers.
    fn advance(&mut self, d: Duration) {
        let end = self.h.now + d;
        while self.h.now < end {
            let next = [self.client.poll_timeout(), self.h.server.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|&t| t > self.h.now)
                .min()
                .unwrap_or(end)
                .min(end);
            self.h.now = next;
            self.h.server.handle_timeout(self.h.now);
            self.h.run_commands();
            self.client.handle_timeout(self.h.now);
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
        match self.h.input(tuple(), &frame[..n]).0 {
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
        let (to, range) = self.h.server.handle_peer(
            self.h.now,
            port,
            PEER.parse().unwrap(),
            &mut buf,
            head..head + payload.len(),
        )?;
        assert_eq!(to, tuple());
        let Some(Data::Channel { number, payload }) = read_data(&buf[range]) else {
            return None;
        };
        assert_eq!(number, self.client.channel());
        Some(payload.to_vec())
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.h.server.poll_event()).collect()
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
    assert!(p.h.server.has_allocation(&tuple()));

    p.client.close(p.h.now);
    p.exchange();
    assert_eq!(p.client.state(), State::Closed);
    assert!(!p.h.server.has_allocation(&tuple()));
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
    // TURN REST credentials: `expiry:user` and the password derived from it.
    let derive = |unix_now_s: u64| {
        let username = format!("{}:load", unix_now_s + 3_600);
        let password = edge_turn::rest_password(b"rest-shared-secret-0123", &username);
        (username, password)
    };
    let (u, pw) = derive(common::UNIX_START);
    let mut p = Pair::new(server_config(), client_config(&u, &pw));
    p.exchange();
    assert_eq!(
        p.client.state(),
        State::Ready,
        "{:?}",
        p.client.take_error()
    );

    // Expired REST credentials are refused.
    let (u, pw) = derive(1_700_000_000 - 7_200);
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
    p.client.close(p.h.now);
    p.exchange();
    assert!(!p.h.server.has_allocation(&tuple()));
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
    let (ClientAction::Reply { len: rlen }, reply) = p.h.input(tuple(), &buf[..len]) else {
        panic!("no 401");
    };
    // Every truncation of the real 401, then seeded random bytes and bit flips of it.
    for cut in 0..rlen {
        p.client.handle_input(p.h.now, &reply[..cut]);
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
        p.client.handle_input(p.h.now, &junk);
        let mut flipped = reply[..rlen].to_vec();
        let i = (rnd() as usize) % rlen;
        flipped[i] ^= 1 << (rnd() % 8);
        p.client.handle_input(p.h.now, &flipped);
    }
    // Whatever it made of that, it is in a defined state and keeps working or failed cleanly.
    assert!(matches!(p.client.state(), State::SettingUp | State::Failed));
}

/// The transaction layer alone against the core of `common`: one request at a time, its
/// challenges followed.
struct Transactions {
    h: common::Harness,
    client: Client,
    tuple: FiveTuple,
    /// Challenges followed so far.
    challenges: Vec<u16>,
}

const PUBLIC_PEER: &str = "1.2.3.5:7000";

/// What a [`Client`] request writer returns.
type Written = Result<Request, edge_stun::Error>;

impl Transactions {
    fn new(config: ServerConfig, password: &str) -> Transactions {
        Transactions {
            h: common::Harness::new(config),
            client: Client::new(common::USER, password, 9),
            tuple: common::udp_tuple("203.0.113.4:40000"),
            challenges: Vec::new(),
        }
    }

    /// Writes a request with `write`, feeds it to the core, follows up to three challenges;
    /// returns the last request and the answer's bytes.
    fn call(&mut self, write: impl Fn(&mut Client, &mut [u8]) -> Written) -> (Request, Vec<u8>) {
        let mut buf = [0u8; 1500];
        for _ in 0..4 {
            let request = write(&mut self.client, &mut buf).unwrap();
            assert_eq!(request.len(), request_len(&buf));
            let (_, reply) = self.h.input(self.tuple, &buf[..request.len()]);
            match self.client.read_response(&request, &reply) {
                Some(Response::Challenge { code }) => self.challenges.push(code),
                Some(_) => return (request, reply),
                None => panic!("no answer to {:?}", request.method()),
            }
        }
        panic!("challenged four times in a row");
    }

    /// Calls and expects a success; returns its bytes.
    fn succeed(&mut self, write: impl Fn(&mut Client, &mut [u8]) -> Written) -> Vec<u8> {
        let (request, reply) = self.call(write);
        match self.client.read_response(&request, &reply) {
            Some(Response::Success(_)) => reply,
            other => panic!("{:?}: {other:?}", request.method()),
        }
    }

    /// Feeds data from the client to the core; returns where it relays what.
    fn relay(&mut self, bytes: &[u8]) -> (SocketAddr, Vec<u8>) {
        match self.h.input(self.tuple, bytes).0 {
            ClientAction::Relay { peer, payload, .. } => (peer, bytes[payload].to_vec()),
            other => panic!("{other:?}"),
        }
    }
}

fn request_len(buf: &[u8]) -> usize {
    20 + usize::from(u16::from_be_bytes([buf[2], buf[3]]))
}

#[test]
fn transactions_allocate_permit_bind_relay_both_ways_and_refresh_to_zero() {
    let mut t = Transactions::new(common::config(), common::PASS);
    let peer: SocketAddr = PUBLIC_PEER.parse().unwrap();
    assert!(!t.client.is_authenticating());
    let reply = t.succeed(|c, buf| c.allocate(None, buf));
    assert_eq!(t.challenges, [401], "the first Allocate is challenged once");
    assert!(t.client.is_authenticating());
    let relayed = edge_stun::Message::parse(&reply)
        .unwrap()
        .xor_relayed_address()
        .unwrap()
        .unwrap();
    assert!(t.h.relays.open.contains(&relayed.port()));

    t.succeed(|c, buf| c.create_permission(peer, buf));
    // A Send indication reaches the peer; the peer's answer comes back as a Data indication.
    let mut buf = [0u8; 1500];
    let n = t
        .client
        .send_indication(peer, b"by indication", &mut buf)
        .unwrap();
    assert_eq!(t.relay(&buf[..n]), (peer, b"by indication".to_vec()));
    let (to, framed) =
        t.h.peer_datagram(relayed.port(), peer, b"indicated back")
            .unwrap();
    assert_eq!(to, t.tuple);
    assert_eq!(
        read_data(&framed),
        Some(Data::Indication {
            peer,
            payload: b"indicated back"
        })
    );

    // ChannelData both ways once the channel is bound.
    t.succeed(|c, buf| c.channel_bind(0x4002, peer, buf));
    let payload = b"by channel";
    let mut frame = [0u8; 64];
    frame[4..4 + payload.len()].copy_from_slice(payload);
    let n =
        ChannelData::encode_in_place(&mut frame, 0x4002, payload.len(), Framing::Datagram).unwrap();
    assert_eq!(t.relay(&frame[..n]), (peer, b"by channel".to_vec()));
    let (_, framed) =
        t.h.peer_datagram(relayed.port(), peer, b"channel back")
            .unwrap();
    let data = read_data(&framed).unwrap();
    assert_eq!(
        data,
        Data::Channel {
            number: 0x4002,
            payload: b"channel back"
        }
    );
    assert_eq!(data.payload(), b"channel back");

    // Refresh with LIFETIME 0 deallocates and frees the relay port.
    t.succeed(|c, buf| c.refresh(0, buf));
    assert!(!t.h.server.has_allocation(&t.tuple));
    assert!(t.h.relays.open.is_empty());
    assert_eq!(t.challenges, [401], "no other challenge on the way");
}

#[test]
fn a_stale_nonce_is_followed_and_a_wrong_password_is_refused() {
    let mut config = common::config();
    config.nonce_lifetime = Duration::from_secs(60);
    let mut t = Transactions::new(config, common::PASS);
    t.succeed(|c, buf| c.allocate(Some(600), buf));
    t.h.advance(Duration::from_secs(120));
    let reply = t.succeed(|c, buf| c.refresh(600, buf));
    assert_eq!(t.challenges, [401, 438], "the refresh met a stale nonce");
    assert_eq!(
        edge_stun::Message::parse(&reply)
            .unwrap()
            .lifetime()
            .unwrap(),
        Some(600)
    );

    // Wrong credentials: the challenge is followed once, then the same nonce is a refusal.
    let mut t = Transactions::new(common::config(), "not the password");
    let (request, reply) = t.call(|c, buf| c.allocate(None, buf));
    assert_eq!(t.challenges, [401]);
    assert!(matches!(
        t.client.read_response(&request, &reply),
        Some(Response::Refused { code: 401, .. })
    ));
    // Another transaction's answer is none of this one's business.
    let mut buf = [0u8; 1500];
    let other = t.client.refresh(0, &mut buf).unwrap();
    assert_ne!(other.tid(), request.tid());
    assert!(t.client.read_response(&other, &reply).is_none());
}

#[test]
fn stream_reader_cuts_frames_however_the_bytes_arrive() {
    let mut t = Transactions::new(common::config(), common::PASS);
    let mut stream = Vec::new();
    let mut buf = [0u8; 1500];
    let request = t.client.allocate(None, &mut buf).unwrap();
    let (_, challenge) = t.h.input(t.tuple, &buf[..request.len()]);
    stream.extend_from_slice(&challenge);
    let mut frame = [0u8; 16];
    frame[4..9].copy_from_slice(b"five!");
    let n = ChannelData::encode_in_place(&mut frame, 0x4001, 5, Framing::Stream).unwrap();
    assert_eq!(n, 12, "padded to 4 bytes on a stream");
    stream.extend_from_slice(&frame[..n]);
    stream.extend_from_slice(&challenge);

    for chunk in [1, 3, 7, stream.len()] {
        let mut reader = StreamReader::new();
        let mut frames: Vec<Vec<u8>> = Vec::new();
        for piece in stream.chunks(chunk) {
            reader.spare()[..piece.len()].copy_from_slice(piece);
            reader.filled(piece.len());
            while let Some(f) = reader.next_frame().unwrap() {
                frames.push(f.to_vec());
            }
        }
        assert_eq!(frames.len(), 3, "chunks of {chunk}");
        assert_eq!(frames[0], challenge);
        assert_eq!(
            read_data(&frames[1]),
            Some(Data::Channel {
                number: 0x4001,
                payload: b"five!"
            })
        );
        assert_eq!(frames[2], challenge);
        // A client that has not seen the challenge yet takes it as one.
        let mut fresh = Client::new(common::USER, common::PASS, 9);
        assert!(matches!(
            fresh.read_response(&request, &frames[2]),
            Some(Response::Challenge { code: 401 })
        ));
    }
}

#[test]
fn the_response_reader_and_framing_never_panic_on_garbage() {
    let mut t = Transactions::new(common::config(), common::PASS);
    let mut buf = [0u8; 1500];
    let request = t.client.allocate(None, &mut buf).unwrap();
    let (_, challenge) = t.h.input(t.tuple, &buf[..request.len()]);
    let signed = t.client.read_response(&request, &challenge);
    assert!(matches!(signed, Some(Response::Challenge { code: 401 })));
    let request = t.client.allocate(None, &mut buf).unwrap();
    let (_, success) = t.h.input(t.tuple, &buf[..request.len()]);
    let mut x = 0x0DDB_1A5E_5BAD_5EEDu64;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut reader = StreamReader::new();
    for real in [&challenge, &success] {
        // Every truncation, then seeded random bytes and bit flips.
        for cut in 0..real.len() {
            let _ = t.client.read_response(&request, &real[..cut]);
            let _ = read_data(&real[..cut]);
        }
        for _ in 0..5_000 {
            let n = (rnd() % 300) as usize;
            let junk: Vec<u8> = (0..n).map(|_| rnd() as u8).collect();
            let _ = t.client.read_response(&request, &junk);
            let _ = read_data(&junk);
            let mut flipped = real.to_vec();
            let i = (rnd() as usize) % flipped.len();
            flipped[i] ^= 1 << (rnd() % 8);
            let _ = t.client.read_response(&request, &flipped);
            let _ = read_data(&flipped);
            // The stream reader: junk either frames, waits for more, or is refused.
            let spare = reader.spare();
            let take = junk.len().min(spare.len());
            spare[..take].copy_from_slice(&junk[..take]);
            reader.filled(take);
            for _ in 0..64 {
                match reader.next_frame() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => {
                        reader = StreamReader::new();
                        break;
                    }
                }
            }
            if reader.spare().is_empty() {
                reader = StreamReader::new();
            }
        }
    }
    // The real success still reads as one after all that.
    assert!(matches!(
        t.client.read_response(&request, &success),
        Some(Response::Success(_))
    ));
}
