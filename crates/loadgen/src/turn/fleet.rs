//! `turn` mode's flows: N TURN allocations, each over its own UDP socket or TCP/TLS
//! connection, each with a channel bound to the echo peer. Set-up runs a bounded number of
//! allocations at once; the load phase sends probes as ChannelData (bursts of equal frames
//! go out as one GSO send) and reads them back from the same transports.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use edge_stun::{ChannelData, PacketKind, CHANNEL_DATA_HEADER_LEN};
use edge_turn::client::{AllocationClient, AllocationConfig, State};
use edge_udp::RecvBatch;
use mio::{Events, Poll, Token};

use super::conn::{Conn, TlsSetup, TransportKind};
use crate::load::{Clock, Fleet};
use crate::measure::{new_histogram, Measurements};
use crate::probe::Probe;
use crate::report::{Percentiles, SetupReport};
use crate::Error;

/// The channel every allocation binds (channels are per allocation).
const CHANNEL: u16 = 0x4000;
/// Set-up failures kept as messages for the report.
const ERRORS_KEPT: usize = 5;
/// Largest STUN message a client writes.
const STUN_BUF: usize = 1_500;
/// How often the load loop looks at the clients' refresh timers.
const TIMER_CHECK: Duration = Duration::from_millis(10);

/// What `turn` mode sets up.
#[derive(Debug, Clone)]
pub struct TurnSetup {
    /// The TURN server.
    pub server: SocketAddr,
    /// UDP, TCP or TLS.
    pub transport: TransportKind,
    /// TLS settings (for [`TransportKind::Tls`]).
    pub tls: Option<TlsSetup>,
    /// Username and password.
    pub username: String,
    /// Password.
    pub password: String,
    /// Allocations to make.
    pub allocations: usize,
    /// The echo peer, as the server's relay reaches it.
    pub peer: SocketAddr,
    /// Local address the client sockets bind to.
    pub local_ip: IpAddr,
    /// Receive with UDP GRO (see [`crate::sockets`]).
    pub gro: bool,
    /// Payload bytes per probe (at least [`crate::PROBE_LEN`]).
    pub payload: usize,
    /// Allocations being set up at once.
    pub parallel: usize,
    /// Give up on set-ups not done by then.
    pub timeout: Duration,
}

struct Member {
    client: AllocationClient,
    conn: Conn,
    started: Instant,
}

/// The allocations of a run. Build with [`TurnFleet::setup`], load through [`Fleet`],
/// end with [`TurnFleet::close`].
pub struct TurnFleet {
    poll: Poll,
    events: Events,
    members: Vec<Member>,
    /// Member index of each flow (the allocations that were set up).
    flows: Vec<usize>,
    server: SocketAddr,
    payload: usize,
    batch: RecvBatch,
    /// Outgoing probe frames of one burst.
    frames: Vec<u8>,
    stun: Vec<u8>,
    next_timer_check: Instant,
    /// Set-up is running: failures belong to the set-up report.
    setting_up: bool,
    setup: SetupReport,
    /// Failures after set-up (a refresh refused, a connection lost).
    pub load_errors: Vec<String>,
}

impl std::fmt::Debug for TurnFleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnFleet")
            .field("server", &self.server)
            .field("members", &self.members.len())
            .field("flows", &self.flows.len())
            .finish()
    }
}

impl TurnFleet {
    /// Sets up `setup.allocations` allocations, `setup.parallel` at a time, until all are
    /// ready or failed, the timeout passes, or `stop` is set. Failures are counted in
    /// [`TurnFleet::setup_report`]; the ones that worked carry the load.
    pub fn setup(setup: &TurnSetup, stop: &AtomicBool) -> Result<TurnFleet, Error> {
        crate::probe::check_payload(setup.payload)?;
        let poll = Poll::new().map_err(|source| Error::Io {
            what: "poll",
            addr: setup.server,
            source,
        })?;
        let mut fleet = TurnFleet {
            poll,
            events: Events::with_capacity(1_024),
            members: Vec::with_capacity(setup.allocations),
            flows: Vec::with_capacity(setup.allocations),
            server: setup.server,
            payload: setup.payload,
            batch: crate::sockets::client_batch(),
            frames: vec![0; edge_udp::MAX_BATCH * (CHANNEL_DATA_HEADER_LEN + setup.payload + 3)],
            stun: vec![0; STUN_BUF],
            next_timer_check: Instant::now(),
            setting_up: true,
            setup: SetupReport {
                attempted: setup.allocations,
                ..SetupReport::default()
            },
            load_errors: Vec::new(),
        };
        let mut times_us = new_histogram(3_600_000_000);
        let deadline = Instant::now() + setup.timeout;
        let mut attempts = 0usize;
        let mut in_progress = 0usize;
        let mut finished = Vec::with_capacity(setup.allocations);
        let mut done = 0usize;
        while done < setup.allocations && !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            while attempts < setup.allocations && in_progress < setup.parallel.max(1) {
                attempts += 1;
                match fleet.open(setup, now) {
                    Ok(()) => {
                        in_progress += 1;
                        finished.push(false);
                    }
                    Err(e) => {
                        fleet.keep_setup_error(attempts - 1, &e);
                        done += 1;
                    }
                }
            }
            fleet.pump(Duration::from_millis(5), None)?;
            for (i, m) in fleet.members.iter_mut().enumerate() {
                if finished[i] {
                    continue;
                }
                match m.client.state() {
                    State::Ready => {
                        let us = m.started.elapsed().as_micros() as u64;
                        let _ = times_us.record(us.clamp(1, 3_600_000_000));
                        fleet.flows.push(i);
                    }
                    State::Failed | State::Closed => {
                        if let Some(e) = m.client.take_error() {
                            if fleet.setup.errors.len() < ERRORS_KEPT {
                                fleet.setup.errors.push(format!("allocation {i}: {e}"));
                            }
                        }
                    }
                    _ => continue,
                }
                finished[i] = true;
                done += 1;
                in_progress -= 1;
            }
        }
        fleet.setting_up = false;
        fleet.setup.succeeded = fleet.flows.len();
        fleet.setup.us = Percentiles::of(&times_us);
        if fleet.setup.succeeded < fleet.setup.attempted && fleet.setup.errors.is_empty() {
            fleet.setup.errors.push(format!(
                "{} allocations not ready when set-up ended",
                fleet.setup.attempted - fleet.setup.succeeded
            ));
        }
        Ok(fleet)
    }

    /// How set-up went.
    pub fn setup_report(&self) -> &SetupReport {
        &self.setup
    }

    /// The relayed addresses of the flows, in flow order.
    pub fn relayed(&self) -> Vec<Option<SocketAddr>> {
        self.flows
            .iter()
            .map(|&i| self.members[i].client.relayed())
            .collect()
    }

    /// Deallocates every allocation (Refresh with LIFETIME 0) and waits up to `timeout`
    /// for the answers, so that the server frees its relay ports now.
    pub fn close(&mut self, timeout: Duration) -> Result<(), Error> {
        let now = Instant::now();
        for m in &mut self.members {
            m.client.close(now);
        }
        let deadline = now + timeout;
        while Instant::now() < deadline
            && self
                .members
                .iter()
                .any(|m| m.client.state() == State::Closing)
        {
            self.pump(Duration::from_millis(5), None)?;
        }
        for m in &mut self.members {
            let _ = m.conn.deregister(self.poll.registry());
        }
        Ok(())
    }

    fn open(&mut self, setup: &TurnSetup, now: Instant) -> Result<(), Error> {
        let i = self.members.len();
        let mut conn = Conn::open(
            setup.transport,
            setup.server,
            setup.local_ip,
            setup.gro,
            setup.tls.as_ref(),
        )?;
        conn.register(self.poll.registry(), Token(i))
            .map_err(|source| Error::Io {
                what: "register",
                addr: setup.server,
                source,
            })?;
        let client = AllocationClient::new(
            AllocationConfig {
                server: setup.server,
                username: setup.username.clone(),
                password: setup.password.clone(),
                peer: setup.peer,
                channel: CHANNEL,
                reliable: setup.transport != TransportKind::Udp,
                lifetime: None,
                seed: i as u64,
            },
            now,
        );
        let mut member = Member {
            client,
            conn,
            started: now,
        };
        transmit(&mut member, self.server, &mut self.stun)?;
        self.members.push(member);
        Ok(())
    }

    fn keep_setup_error(&mut self, attempt: usize, e: &Error) {
        if self.setup.errors.len() < ERRORS_KEPT {
            self.setup.errors.push(format!("allocation {attempt}: {e}"));
        }
    }

    /// One round of I/O: wait up to `timeout`, read every ready transport (probes into
    /// `m`), answer the clients, run their timers.
    fn pump(
        &mut self,
        timeout: Duration,
        mut m: Option<(&mut Measurements, &Clock)>,
    ) -> Result<(), Error> {
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Ok(()),
            Err(source) => {
                return Err(Error::Io {
                    what: "poll",
                    addr: self.server,
                    source,
                })
            }
        }
        let now = Instant::now();
        for event in self.events.iter() {
            let Some(member) = self.members.get_mut(event.token().0) else {
                continue;
            };
            let Member { client, conn, .. } = member;
            let mut recv_ns = None;
            let result = conn.receive(&mut self.batch, &mut |frame| match frame
                .first()
                .map(|&b| edge_stun::classify(b))
            {
                Some(PacketKind::Stun) => client.handle_input(now, frame),
                Some(PacketKind::ChannelData) => {
                    let Some((m, clock)) = m.as_mut() else { return };
                    let ns = *recv_ns.get_or_insert_with(|| clock.now_ns());
                    match ChannelData::parse(frame)
                        .ok()
                        .and_then(|cd| Probe::read(cd.payload()))
                    {
                        Some(p) => m.received(p, ns),
                        None => m.record_stray(),
                    }
                }
                _ => {
                    if let Some((m, _)) = m.as_mut() {
                        m.record_stray();
                    }
                }
            });
            let result = result.and_then(|()| {
                if event.is_writable() {
                    member.conn.flush()
                } else {
                    Ok(())
                }
            });
            let result = result.and_then(|()| transmit(member, self.server, &mut self.stun));
            if let Err(e) = result {
                let errors = error_sink(self.setting_up, &mut self.setup, &mut self.load_errors);
                fail_member(member, e, errors);
            }
        }
        if now >= self.next_timer_check {
            self.next_timer_check = now + TIMER_CHECK;
            for member in &mut self.members {
                if member.client.poll_timeout().is_some_and(|t| t <= now) {
                    member.client.handle_timeout(now);
                    if let Err(e) = transmit(member, self.server, &mut self.stun) {
                        let errors =
                            error_sink(self.setting_up, &mut self.setup, &mut self.load_errors);
                        fail_member(member, e, errors);
                    }
                }
                if !self.setting_up {
                    if let Some(e) = member.client.take_error() {
                        if self.load_errors.len() < ERRORS_KEPT {
                            self.load_errors.push(e.to_string());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Sends what the client has queued.
fn transmit(member: &mut Member, server: SocketAddr, buf: &mut [u8]) -> Result<(), Error> {
    while let Some(len) = member.client.poll_transmit(buf) {
        // A full UDP buffer drops the request; the client retransmits it.
        member.conn.send(server, &buf[..len], None)?;
    }
    Ok(())
}

/// Where a failure is reported: the set-up report while setting up, the load errors after.
fn error_sink<'a>(
    setting_up: bool,
    setup: &'a mut SetupReport,
    load: &'a mut Vec<String>,
) -> &'a mut Vec<String> {
    if setting_up {
        &mut setup.errors
    } else {
        load
    }
}

fn fail_member(member: &mut Member, e: Error, errors: &mut Vec<String>) {
    if errors.len() < ERRORS_KEPT {
        errors.push(e.to_string());
    }
    member.client.close(Instant::now());
}

impl Fleet for TurnFleet {
    fn flows(&self) -> usize {
        self.flows.len()
    }

    fn send(
        &mut self,
        flow: usize,
        first_seq: u64,
        count: usize,
        sent_ns: u64,
    ) -> Result<usize, Error> {
        let Some(member) = self.flows.get(flow).and_then(|&i| self.members.get_mut(i)) else {
            return Ok(0);
        };
        if member.client.state() != State::Ready {
            return Ok(0);
        }
        let framing = member.conn.framing();
        let payload = self.payload;
        let frame_len = match framing {
            edge_stun::Transport::Datagram => CHANNEL_DATA_HEADER_LEN + payload,
            edge_stun::Transport::Stream => CHANNEL_DATA_HEADER_LEN + payload.next_multiple_of(4),
        };
        let count = count.min(self.frames.len() / frame_len);
        for k in 0..count {
            let frame = &mut self.frames[k * frame_len..(k + 1) * frame_len];
            let probe = Probe {
                flow: flow as u32,
                seq: first_seq + k as u64,
                sent_ns,
            };
            probe.write(&mut frame[CHANNEL_DATA_HEADER_LEN..]);
            ChannelData::encode_in_place(frame, member.client.channel(), payload, framing)
                .map_err(|source| Error::Malformed {
                    what: "ChannelData",
                    from: self.server,
                    source,
                })?;
        }
        let bytes = &self.frames[..count * frame_len];
        let sent = member.conn.send(self.server, bytes, Some(frame_len))?;
        Ok(if sent { count } else { 0 })
    }

    fn poll(
        &mut self,
        timeout: Duration,
        clock: &Clock,
        m: &mut Measurements,
    ) -> Result<(), Error> {
        self.pump(timeout, Some((m, clock)))
    }
}
