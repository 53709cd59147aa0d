//! The load phase of the media modes: one UDP socket per flow (one call's browser side),
//! probes framed as RTP and protected with SRTP in place when the flow has keys, bursts of
//! equal packets sent as one GSO send, replies unprotected in place and read back. ICE
//! consent (RFC 7675) is kept fresh with a Binding request every few seconds.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use edge_stun::{classify, PacketKind};
use edge_udp::{RecvBatch, Transmit, UdpSocket};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use super::ice::{Check, Checker};
use super::rtp::{self, RtpStream, RTP_HEADER_LEN};
use super::session::SrtpPair;
use crate::load::{Clock, Fleet};
use crate::measure::Measurements;
use crate::probe::Probe;
use crate::Error;

/// How often each flow renews consent (RFC 7675 wants one at least every 30 s; browsers
/// send one every 5 s or so).
const CONSENT_EVERY: Duration = Duration::from_secs(5);
/// Tag room after each packet (the largest SRTP overhead, AEAD's 16 bytes).
const TAILROOM: usize = 16;

/// One call's browser side, ready to carry load.
#[derive(Debug)]
pub struct MediaFlow {
    /// Its socket.
    pub socket: UdpSocket,
    /// Where its media goes.
    pub remote: SocketAddr,
    /// SRTP contexts, `None` for plain RTP.
    pub srtp: Option<SrtpPair>,
    /// ICE credentials for consent checks, `None` without ICE.
    pub consent: Option<Checker>,
    /// Its RTP header fields.
    pub rtp: RtpStream,
}

/// The flows of a media run.
pub struct MediaFleet {
    poll: Poll,
    events: Events,
    flows: Vec<MediaFlow>,
    next_consent: Vec<Instant>,
    next_consent_check: Instant,
    payload: usize,
    batch: RecvBatch,
    frames: Vec<u8>,
    /// Failures during the load phase (SRTP, sockets), first few.
    pub load_errors: Vec<String>,
}

impl std::fmt::Debug for MediaFleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaFleet")
            .field("flows", &self.flows.len())
            .finish_non_exhaustive()
    }
}

impl MediaFleet {
    /// A fleet of `flows` sending `payload`-byte probes.
    pub fn new(flows: Vec<MediaFlow>, payload: usize) -> Result<MediaFleet, Error> {
        let any = SocketAddr::from(([0, 0, 0, 0], 0));
        let io = |what| {
            move |source| Error::Io {
                what,
                addr: any,
                source,
            }
        };
        let poll = Poll::new().map_err(io("poll"))?;
        for (i, f) in flows.iter().enumerate() {
            poll.registry()
                .register(
                    &mut SourceFd(&f.socket.as_raw_fd()),
                    Token(i),
                    Interest::READABLE,
                )
                .map_err(io("register"))?;
        }
        let now = Instant::now();
        let n = flows.len();
        // Spread the consent checks over the interval.
        let next_consent = (0..n)
            .map(|i| now + CONSENT_EVERY.mul_f64((i + 1) as f64 / n.max(1) as f64))
            .collect();
        Ok(MediaFleet {
            poll,
            events: Events::with_capacity(1_024),
            flows,
            next_consent,
            next_consent_check: now,
            payload,
            batch: crate::sockets::client_batch(),
            frames: vec![0; edge_udp::MAX_BATCH * (RTP_HEADER_LEN + payload + TAILROOM)],
            load_errors: Vec::new(),
        })
    }

    /// The flows (to tear their sessions down).
    pub fn flows(&self) -> &[MediaFlow] {
        &self.flows
    }

    fn keep(&mut self, e: Error) {
        if self.load_errors.len() < 5 {
            self.load_errors.push(e.to_string());
        }
    }

    fn renew_consent(&mut self, now: Instant) {
        let mut buf = [0u8; 512];
        for (flow, next) in self.flows.iter_mut().zip(self.next_consent.iter_mut()) {
            let Some(checker) = &mut flow.consent else {
                continue;
            };
            if now < *next {
                continue;
            }
            *next = now + CONSENT_EVERY;
            if let Ok(n) = checker.request(&mut buf, false) {
                let tx = Transmit {
                    dst: flow.remote,
                    contents: &buf[..n],
                    ..Transmit::PLACEHOLDER
                };
                // A full buffer skips one renewal; the next comes in 5 s.
                let _ = flow.socket.send(&[tx]);
            }
        }
    }
}

impl Fleet for MediaFleet {
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
        let Some(f) = self.flows.get_mut(flow) else {
            return Ok(0);
        };
        let plain = RTP_HEADER_LEN + self.payload;
        let overhead = f
            .srtp
            .as_ref()
            .map_or(0, |s| s.outbound.profile().rtp_overhead());
        let frame_len = plain + overhead;
        let stride = plain + TAILROOM;
        let count = count.min(self.frames.len() / stride);
        for k in 0..count {
            let seq = first_seq + k as u64;
            let frame = &mut self.frames[k * frame_len..k * frame_len + stride];
            f.rtp.write_header(frame, seq);
            let probe = Probe {
                flow: flow as u32,
                seq,
                sent_ns,
            };
            probe.write(&mut frame[RTP_HEADER_LEN..]);
            if let Some(srtp) = &mut f.srtp {
                srtp.outbound
                    .protect_rtp(frame, plain)
                    .map_err(|source| Error::Srtp {
                        peer: f.remote,
                        source,
                    })?;
            }
        }
        let tx = Transmit {
            dst: f.remote,
            contents: &self.frames[..count * frame_len],
            segment_size: (count > 1).then_some(frame_len),
            ..Transmit::PLACEHOLDER
        };
        match f.socket.send(&[tx]) {
            Ok(1) => Ok(count),
            Ok(_) => Ok(0),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
            Err(source) => Err(Error::Io {
                what: "send",
                addr: f.remote,
                source,
            }),
        }
    }

    fn poll(
        &mut self,
        timeout: Duration,
        clock: &Clock,
        m: &mut Measurements,
    ) -> Result<(), Error> {
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Ok(()),
            Err(source) => {
                return Err(Error::Io {
                    what: "poll",
                    addr: SocketAddr::from(([0, 0, 0, 0], 0)),
                    source,
                })
            }
        }
        let mut failures = Vec::new();
        for event in self.events.iter() {
            let Some(f) = self.flows.get_mut(event.token().0) else {
                continue;
            };
            loop {
                match f.socket.recv(&mut self.batch) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(source) => {
                        failures.push(Error::Io {
                            what: "receive",
                            addr: f.socket.local_addr(),
                            source,
                        });
                        break;
                    }
                }
                let now_ns = clock.now_ns();
                for (meta, slot) in self.batch.slots_mut() {
                    // A GRO train: `stride`-sized datagrams back to back.
                    for datagram in slot[..meta.len].chunks_mut(meta.stride) {
                        let len = datagram.len();
                        receive(f, datagram, len, now_ns, m);
                    }
                }
                if !crate::sockets::batch_filled(&self.batch) {
                    break;
                }
            }
        }
        for e in failures {
            self.keep(e);
        }
        let now = Instant::now();
        if now >= self.next_consent_check {
            self.next_consent_check = now + Duration::from_millis(100);
            self.renew_consent(now);
        }
        Ok(())
    }
}

/// One datagram from the other side: media is unprotected in place and read, consent
/// answers and anything else are not probes.
fn receive(f: &mut MediaFlow, slot: &mut [u8], len: usize, now_ns: u64, m: &mut Measurements) {
    let Some(&first) = slot.first() else { return };
    match classify(first) {
        PacketKind::Rtp => {
            let len = match &mut f.srtp {
                Some(s) => match s.inbound.unprotect_rtp(slot, len) {
                    Ok(n) => n,
                    Err(_) => return m.record_stray(),
                },
                None => len,
            };
            match rtp::payload(&slot[..len]).and_then(Probe::read) {
                Some(p) => m.received(p, now_ns),
                None => m.record_stray(),
            }
        }
        PacketKind::Stun => {
            if let Some(c) = &mut f.consent {
                let mut out = [0u8; 512];
                if let Check::Answered(n) = c.handle(&slot[..len], f.remote, &mut out) {
                    let tx = Transmit {
                        dst: f.remote,
                        contents: &out[..n],
                        ..Transmit::PLACEHOLDER
                    };
                    let _ = f.socket.send(&[tx]);
                }
            }
        }
        // Retransmitted DTLS flights after set-up, and junk.
        _ => {}
    }
}
