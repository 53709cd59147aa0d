//! `webrtc` mode: N browser-like sessions created through media-edge's HTTP API (POST
//! /v1/sessions with an SDP offer, the enterprise side pointed at an RTP echo), each set up
//! with ICE checks and a DTLS-SRTP handshake, then loaded with SRTP probes that the relay
//! decrypts, forwards as RTP to the echo, and encrypts again on the way back.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use edge_udp::{Transmit, UdpSocket};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use serde_json::json;

use super::api::ApiClient;
use super::fleet::{MediaFleet, MediaFlow};
use super::ice::Checker;
use super::rtp::RtpStream;
use super::sdp::{Offer, RemoteDescription, WebrtcOffer};
use super::session::{MediaSetup, Phase};
use crate::echo::EchoPeer;
use crate::load::{self, LoadConfig};
use crate::measure::new_histogram;
use crate::report::{Percentiles, RunInfo, SetupReport};
use crate::{Error, Report};

/// Set-up failures kept as messages.
const ERRORS_KEPT: usize = 5;
/// How long a run waits for the API to accept connections (a service still starting).
const API_PATIENCE: Duration = Duration::from_secs(10);

/// What `webrtc` mode sets up.
#[derive(Debug, Clone)]
pub struct WebrtcSetup {
    /// media-edge's control API.
    pub api: SocketAddr,
    /// Its bearer token.
    pub token: String,
    /// Sessions (calls) to create.
    pub sessions: usize,
    /// Local address of the browser-side sockets.
    pub local_ip: IpAddr,
    /// Receive with UDP GRO (see [`crate::sockets`]).
    pub gro: bool,
    /// The one SRTP profile offered in the DTLS handshake (`use_srtp`).
    pub profile: edge_dtls::SrtpProfile,
    /// The enterprise side: an RTP echo.
    pub enterprise: EchoPeer,
    /// Payload bytes per packet (the RTP payload: 160 for G.711 at 20 ms).
    pub payload: usize,
    /// Sessions being set up at once.
    pub parallel: usize,
    /// Give up on set-ups not done by then.
    pub timeout: Duration,
}

/// What a media run produced.
#[derive(Debug)]
pub struct MediaRun {
    /// The measurements.
    pub report: Report,
    /// Failures after set-up, first few.
    pub load_errors: Vec<String>,
}

struct Pending {
    socket: UdpSocket,
    setup: MediaSetup,
    id: String,
    started: Instant,
    ssrc: u32,
}

/// A whole `webrtc` run: echo, sessions, load, teardown (DELETE of every session made).
pub fn run(setup: &WebrtcSetup, config: &LoadConfig, stop: &AtomicBool) -> Result<MediaRun, Error> {
    crate::probe::check_payload(setup.payload)?;
    let echo = setup.enterprise.start()?;
    let echo_addr = echo.addr();
    let mut api = ApiClient::new(setup.api, &setup.token);
    api.wait_until_up(API_PATIENCE)?;
    if config.progress {
        eprintln!(
            "edge-loadgen webrtc: {} sessions through http://{}, enterprise echo {echo_addr}",
            setup.sessions, setup.api
        );
    }
    let result = set_up(setup, &mut api, echo_addr, stop).and_then(|(flows, ids, report)| {
        if config.progress {
            eprintln!(
                "set-up: {}/{} sessions ready",
                report.succeeded, report.attempted
            );
        }
        let mut fleet = MediaFleet::new(flows, setup.payload)?;
        let info = RunInfo {
            mode: "webrtc".into(),
            target: format!("http://{} (DTLS-SRTP {})", setup.api, setup.profile),
            payload_bytes: setup.payload,
        };
        let measured = load::measure(&mut fleet, config, info, report, stop);
        let mut load_errors = std::mem::take(&mut fleet.load_errors);
        drop(fleet);
        for id in &ids {
            if let Err(e) = delete(&mut api, id) {
                if load_errors.len() < ERRORS_KEPT {
                    load_errors.push(e.to_string());
                }
            }
        }
        Ok(MediaRun {
            report: measured?,
            load_errors,
        })
    });
    let finished = echo.finish();
    let run = result?;
    finished.map(|()| run)
}

fn delete(api: &mut ApiClient, id: &str) -> Result<(), Error> {
    let path = format!("/v1/sessions/{id}");
    match api.request("DELETE", &path, None)? {
        (204 | 404, _) => Ok(()),
        (status, body) => Err(Error::Api {
            method: "DELETE",
            url: path,
            problem: format!("status {status}: {body}"),
        }),
    }
}

/// Creates and connects the sessions: returns the ready flows, the ids of every session
/// created (ready or not, for teardown) and the set-up report.
fn set_up(
    setup: &WebrtcSetup,
    api: &mut ApiClient,
    echo: SocketAddr,
    stop: &AtomicBool,
) -> Result<(Vec<MediaFlow>, Vec<String>, SetupReport), Error> {
    let any = SocketAddr::new(setup.local_ip, 0);
    let io = |what| {
        move |source| Error::Io {
            what,
            addr: any,
            source,
        }
    };
    let cert = edge_dtls::Certificate::generate().map_err(|source| Error::Dtls {
        peer: setup.api,
        source,
    })?;
    let dtls = edge_dtls::ConfigBuilder::new(cert)
        .srtp_profiles(&[setup.profile])
        .build()
        .map_err(|source| Error::Dtls {
            peer: setup.api,
            source,
        })?;
    let fingerprint = dtls.certificate().fingerprint().to_string();
    let mut poll = Poll::new().map_err(io("poll"))?;
    let mut events = Events::with_capacity(256);
    let mut batch = crate::sockets::client_batch();
    let mut report = SetupReport {
        attempted: setup.sessions,
        ..SetupReport::default()
    };
    let mut times_us = new_histogram(3_600_000_000);
    let mut pending: Vec<Option<Pending>> = Vec::with_capacity(setup.sessions);
    let mut flows = Vec::with_capacity(setup.sessions);
    let mut ids = Vec::with_capacity(setup.sessions);
    let mut rng = seed();
    let mut in_flight = 0usize;
    let deadline = Instant::now() + setup.timeout;
    let keep = |report: &mut SetupReport, i: usize, e: &Error| {
        if report.errors.len() < ERRORS_KEPT {
            report.errors.push(format!("session {i}: {e}"));
        }
    };
    while (pending.len() < setup.sessions || in_flight > 0)
        && !stop.load(Ordering::Relaxed)
        && Instant::now() < deadline
    {
        while pending.len() < setup.sessions && in_flight < setup.parallel.max(1) {
            let i = pending.len();
            match create(setup, api, echo, &fingerprint, &mut rng, Instant::now()) {
                Ok(p) => {
                    ids.push(p.id.clone());
                    poll.registry()
                        .register(
                            &mut SourceFd(&p.socket.as_raw_fd()),
                            Token(i),
                            Interest::READABLE,
                        )
                        .map_err(io("register"))?;
                    pending.push(Some(p));
                    in_flight += 1;
                }
                Err(e) => {
                    keep(&mut report, i, &e);
                    pending.push(None);
                }
            }
        }
        match poll.poll(&mut events, Some(Duration::from_millis(5))) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io("poll")(e)),
        }
        let now = Instant::now();
        for event in events.iter() {
            let Some(Some(p)) = pending.get_mut(event.token().0) else {
                continue;
            };
            while let Ok(n) = p.socket.recv(&mut batch) {
                for (meta, data) in batch.iter().take(n) {
                    if meta.src == p.setup.remote() {
                        for datagram in data[..meta.len].chunks(meta.stride) {
                            p.setup.handle_input(now, datagram, &dtls);
                        }
                    }
                }
            }
        }
        for (i, slot) in pending.iter_mut().enumerate() {
            let Some(p) = slot else { continue };
            if p.setup.poll_timeout().is_some_and(|t| t <= now) {
                p.setup.handle_timeout(now);
            }
            while let Some(datagram) = p.setup.poll_transmit() {
                let tx = Transmit {
                    dst: p.setup.remote(),
                    contents: &datagram,
                    ..Transmit::PLACEHOLDER
                };
                // A full buffer loses the datagram; ICE and DTLS retransmit.
                let _ = p.socket.send(&[tx]);
            }
            match p.setup.phase() {
                Phase::Ready | Phase::Failed => {}
                _ => continue,
            }
            let Some(mut p) = slot.take() else { continue };
            in_flight -= 1;
            let _ = poll
                .registry()
                .deregister(&mut SourceFd(&p.socket.as_raw_fd()));
            if let Some(e) = p.setup.take_error() {
                keep(&mut report, i, &e);
                continue;
            }
            let us = p.started.elapsed().as_micros() as u64;
            let _ = times_us.record(us.clamp(1, 3_600_000_000));
            let remote = p.setup.remote();
            let (srtp, checker) = p.setup.into_parts();
            flows.push(MediaFlow {
                socket: p.socket,
                remote,
                srtp,
                consent: Some(checker),
                rtp: RtpStream {
                    payload_type: 0,
                    ssrc: p.ssrc,
                    ticks_per_packet: 160,
                },
            });
        }
    }
    report.succeeded = flows.len();
    report.us = Percentiles::of(&times_us);
    if report.succeeded < report.attempted && report.errors.is_empty() {
        report.errors.push(format!(
            "{} sessions not ready when set-up ended",
            report.attempted - report.succeeded
        ));
    }
    Ok((flows, ids, report))
}

/// Opens a socket, offers, and starts connecting one session.
fn create(
    setup: &WebrtcSetup,
    api: &mut ApiClient,
    echo: SocketAddr,
    fingerprint: &str,
    rng: &mut u64,
    started: Instant,
) -> Result<Pending, Error> {
    let any = SocketAddr::new(setup.local_ip, 0);
    let socket = crate::sockets::bind_client(any, setup.gro)?;
    let ufrag = token(rng, 8);
    let pwd = token(rng, 24);
    let offer = Offer {
        addr: socket.local_addr(),
        webrtc: Some(WebrtcOffer {
            ice_ufrag: &ufrag,
            ice_pwd: &pwd,
            fingerprint,
        }),
        crypto: None,
        session_id: next(rng) >> 2,
    }
    .to_sdp();
    let body = json!({
        "offer": offer,
        "enterprise": { "rtp": echo.to_string() },
        "enterprise-srtp": "none",
    });
    let (status, reply) = api.request("POST", "/v1/sessions", Some(&body))?;
    let (Some(id), Some(answer)) = (reply["id"].as_str(), reply["answer"].as_str()) else {
        return Err(Error::Api {
            method: "POST",
            url: format!("http://{}/v1/sessions", setup.api),
            problem: format!("status {status}: {reply}"),
        });
    };
    let remote = RemoteDescription::parse(answer)?;
    let missing = |problem| Error::Sdp {
        problem,
        line: String::new(),
    };
    let media = remote.media.ok_or_else(|| missing("no media address"))?;
    let checker = Checker::new(
        &ufrag,
        &pwd,
        remote
            .ice_ufrag
            .as_deref()
            .ok_or_else(|| missing("answer has no a=ice-ufrag"))?,
        remote
            .ice_pwd
            .as_deref()
            .ok_or_else(|| missing("answer has no a=ice-pwd"))?,
        next(rng),
    );
    let role = remote
        .setup
        .as_deref()
        .ok_or_else(|| missing("answer has no a=setup"))?;
    let setup = MediaSetup::new(media, checker, role, &remote.fingerprints, Instant::now())?;
    Ok(Pending {
        socket,
        setup,
        id: id.to_owned(),
        started,
        ssrc: next(rng) as u32,
    })
}

/// A seed from the clock: ICE credentials and SSRCs only need to differ between runs.
fn seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0x1234_5678, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()) << 32
}

/// splitmix64.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `len` characters of the ICE alphabet (RFC 8445 section 5.3: ALPHA / DIGIT / "+" / "/").
fn token(rng: &mut u64, len: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..len)
        .map(|_| ALPHABET[(next(rng) & 63) as usize] as char)
        .collect()
}
