//! The core's relay-socket commands, driven by hand on the virtual clock with no socket: an
//! Allocate yields `OpenRelay` and is answered only when the outcome comes back (success
//! with the bound port, or 508 with the port back in the pool), and a Refresh with lifetime
//! 0 yields `CloseRelay` for that port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;

use common::*;
use edge_stun::{Attribute, Class, Message, Method};
use edge_turn::{ClientAction, Command, Event};

/// A client that has its nonce (the 401 exchange done through the harness).
fn signed_in(h: &mut Harness) -> Client {
    let mut c = Client::new(udp_tuple("198.51.100.7:4000"), USER, PASS);
    let resp = c.call(h, Method::BINDING, &[]);
    assert_eq!(code_of(&resp), None);
    let probe = c.request(Method::REFRESH, &[]);
    let (_, resp) = h.input(c.tuple, &probe);
    let msg = Message::parse(&resp).unwrap();
    assert_eq!(error_code(&msg), Some(401));
    c.nonce = msg.nonce().unwrap().map(str::to_owned);
    c
}

fn bound(port: u16) -> std::io::Result<SocketAddr> {
    Ok(SocketAddr::new("192.0.2.10".parse().unwrap(), port))
}

#[test]
fn allocate_opens_then_answers_and_refresh_zero_closes() {
    let mut h = Harness::new(config());
    let mut c = signed_in(&mut h);
    assert_eq!(h.server.poll_command(), None);

    let req = c.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
    let action = h.server.handle_client(h.now, c.tuple, &req, &mut h.reply);
    assert_eq!(
        action,
        ClientAction::None,
        "no answer before the socket opens"
    );
    let Some(Command::OpenRelay { port }) = h.server.poll_command() else {
        panic!("no open command");
    };
    assert_eq!(h.server.poll_command(), None);
    assert_eq!(
        h.server.allocations(),
        0,
        "no allocation before the socket opens"
    );
    assert_eq!(h.server.free_ports(), 9, "the port is taken from the pool");

    // A retransmission while the socket opens gets no second command and no answer.
    let again = h.server.handle_client(h.now, c.tuple, &req, &mut h.reply);
    assert_eq!(again, ClientAction::None);
    assert_eq!(h.server.poll_command(), None);

    let (to, len) = h
        .server
        .handle_relay_opened(h.now, port, bound(port), &mut h.reply)
        .expect("the Allocate's answer");
    assert_eq!(to, c.tuple);
    let msg = Message::parse(&h.reply[..len]).unwrap();
    assert_eq!(msg.class(), Class::Success);
    assert_eq!(
        msg.transaction_id().0,
        Message::parse(&req).unwrap().transaction_id().0
    );
    msg.verify_integrity(&c.key).unwrap();
    assert_eq!(msg.xor_relayed_address().unwrap().unwrap().port(), port);
    assert_eq!(h.server.allocations(), 1);
    assert!(matches!(
        h.server.poll_event(),
        Some(Event::AllocationCreated { relay, .. }) if relay.port() == port
    ));
    assert_eq!(h.server.poll_command(), None);

    let del = c.request(Method::REFRESH, &[Attribute::Lifetime(0)]);
    let ClientAction::Reply { len } = h.server.handle_client(h.now, c.tuple, &del, &mut h.reply)
    else {
        panic!("no Refresh answer");
    };
    assert_eq!(code_of(&h.reply[..len]), None);
    assert_eq!(h.server.allocations(), 0);
    assert_eq!(
        h.server.free_ports(),
        9,
        "the port is held until its close is taken"
    );
    assert_eq!(h.server.poll_command(), Some(Command::CloseRelay { port }));
    assert_eq!(h.server.free_ports(), 10);
    assert_eq!(h.server.poll_command(), None);
}

#[test]
fn a_refused_open_is_answered_508_and_returns_the_port() {
    let mut cfg = config();
    cfg.port_range = "50000-50000".parse().unwrap();
    let mut h = Harness::new(cfg);
    let mut c = signed_in(&mut h);

    let req = c.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
    assert_eq!(
        h.server.handle_client(h.now, c.tuple, &req, &mut h.reply),
        ClientAction::None
    );
    assert_eq!(
        h.server.poll_command(),
        Some(Command::OpenRelay { port: 50000 })
    );
    assert_eq!(h.server.free_ports(), 0);
    let refused = Err(std::io::ErrorKind::AddrInUse.into());
    let (to, len) = h
        .server
        .handle_relay_opened(h.now, 50000, refused, &mut h.reply)
        .expect("the Allocate's answer");
    assert_eq!(to, c.tuple);
    let msg = Message::parse(&h.reply[..len]).unwrap();
    assert_eq!(error_code(&msg), Some(508));
    msg.verify_integrity(&c.key).unwrap();
    assert_eq!(h.server.poll_command(), None, "nothing to close");
    assert_eq!(h.server.free_ports(), 1, "the port is back in the pool");
    assert_eq!(h.server.allocations(), 0);
    assert_eq!(h.server.poll_event(), None);

    // The user's quota went back too: the next Allocate is tried, and succeeds.
    let req = c.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
    h.server.handle_client(h.now, c.tuple, &req, &mut h.reply);
    assert_eq!(
        h.server.poll_command(),
        Some(Command::OpenRelay { port: 50000 })
    );
    let (_, len) = h
        .server
        .handle_relay_opened(h.now, 50000, bound(50000), &mut h.reply)
        .unwrap();
    assert_eq!(code_of(&h.reply[..len]), None);
}

#[test]
fn a_refused_port_is_followed_by_the_next() {
    let mut cfg = config();
    cfg.port_range = "50000-50001".parse().unwrap();
    let mut h = Harness::new(cfg);
    let mut c = signed_in(&mut h);
    let req = c.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
    h.server.handle_client(h.now, c.tuple, &req, &mut h.reply);
    let Some(Command::OpenRelay { port: first }) = h.server.poll_command() else {
        panic!("no open command");
    };
    let refused = Err(std::io::ErrorKind::AddrInUse.into());
    assert!(h
        .server
        .handle_relay_opened(h.now, first, refused, &mut h.reply)
        .is_none());
    let Some(Command::OpenRelay { port: second }) = h.server.poll_command() else {
        panic!("no second open command");
    };
    assert_ne!(first, second);
    let (_, len) = h
        .server
        .handle_relay_opened(h.now, second, bound(second), &mut h.reply)
        .unwrap();
    let msg = Message::parse(&h.reply[..len]).unwrap();
    assert_eq!(msg.xor_relayed_address().unwrap().unwrap().port(), second);
    assert_eq!(h.server.free_ports(), 1, "the refused port is back");
}

#[test]
fn a_stream_client_gone_before_its_socket_opens_gets_it_closed() {
    let mut h = Harness::new(config());
    let mut tuple = udp_tuple("198.51.100.7:4000");
    tuple.transport = edge_turn::Transport::Tcp;
    let mut c = Client::new(tuple, USER, PASS);
    let probe = c.request(Method::REFRESH, &[]);
    let (_, resp) = h.input(c.tuple, &probe);
    c.nonce = Message::parse(&resp)
        .unwrap()
        .nonce()
        .unwrap()
        .map(str::to_owned);
    let req = c.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
    h.server.handle_client(h.now, c.tuple, &req, &mut h.reply);
    let Some(Command::OpenRelay { port }) = h.server.poll_command() else {
        panic!("no open command");
    };
    h.server.connection_closed(c.tuple);
    assert!(h
        .server
        .handle_relay_opened(h.now, port, bound(port), &mut h.reply)
        .is_none());
    assert_eq!(h.server.poll_command(), Some(Command::CloseRelay { port }));
    assert_eq!((h.server.allocations(), h.server.free_ports()), (0, 10));
}

#[test]
fn a_socket_bound_to_another_port_is_closed_and_the_next_port_tried() {
    let mut cfg = config();
    cfg.port_range = "50000-50001".parse().unwrap();
    let mut h = Harness::new(cfg);
    let mut c = signed_in(&mut h);
    let req = c.request(Method::ALLOCATE, &[Attribute::RequestedTransport(17)]);
    h.server.handle_client(h.now, c.tuple, &req, &mut h.reply);
    let Some(Command::OpenRelay { port: first }) = h.server.poll_command() else {
        panic!("no open command");
    };
    let elsewhere = bound(if first == 50000 { 40000 } else { 40001 });
    assert!(h
        .server
        .handle_relay_opened(h.now, first, elsewhere, &mut h.reply)
        .is_none());
    assert_eq!(
        h.server.poll_command(),
        Some(Command::CloseRelay { port: first })
    );
    let Some(Command::OpenRelay { port: second }) = h.server.poll_command() else {
        panic!("no second open command");
    };
    assert_ne!(first, second);
    let (_, len) = h
        .server
        .handle_relay_opened(h.now, second, bound(second), &mut h.reply)
        .unwrap();
    assert_eq!(code_of(&h.reply[..len]), None);
    // The first port is back once (a second release would trip the pool's debug check).
    assert_eq!(h.server.free_ports(), 1);
}
