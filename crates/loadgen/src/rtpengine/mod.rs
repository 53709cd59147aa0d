//! `rtpengine` mode: the same SRTP calls as `webrtc` mode, set up through rtpengine's ng
//! control protocol (bencode over UDP, edge-ng's codec) instead of media-edge's HTTP API,
//! with SDES keys toward the load generator and plain RTP toward the echo. It puts rtpengine under exactly
//! the load media-edge gets, for the side-by-side benchmark.
//!
//! Each call: `offer` with our RTP/SAVP SDP (our `a=crypto`) asking for RTP/AVP on the
//! other side; `answer` with the echo's RTP/AVP SDP, whose reply is rtpengine's RTP/SAVP
//! answer to us (its port and `a=crypto`); at the end `delete` with no delay.

use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use edge_srtp::{CryptoAttribute, MasterKey, Profile};

use crate::echo::EchoPeer;
use crate::load::{self, LoadConfig};
use crate::measure::new_histogram;
use crate::media::fleet::{MediaFleet, MediaFlow};
use crate::media::rtp::RtpStream;
use crate::media::sdp::{Offer, RemoteDescription};
use crate::media::session::SrtpPair;
use crate::media::webrtc::MediaRun;
use crate::report::{Percentiles, RunInfo, SetupReport};
use crate::Error;
use edge_ng::Value;

/// How long one ng request waits for its answer, and how often it is sent.
const NG_TIMEOUT: Duration = Duration::from_millis(1_000);
const NG_TRIES: u32 = 3;
/// Set-up failures kept as messages.
const ERRORS_KEPT: usize = 5;

/// What `rtpengine` mode sets up.
#[derive(Debug, Clone)]
pub struct RtpengineSetup {
    /// rtpengine's ng control address.
    pub ng: SocketAddr,
    /// Calls to create.
    pub calls: usize,
    /// Local address of the caller-side sockets.
    pub local_ip: IpAddr,
    /// Receive with UDP GRO (see [`crate::sockets`]).
    pub gro: bool,
    /// The SDES crypto suite offered to rtpengine (the one profile of every call).
    pub profile: Profile,
    /// The callee side: an RTP echo.
    pub enterprise: EchoPeer,
    /// RTP payload bytes per packet.
    pub payload: usize,
}

/// A client of the ng protocol.
#[derive(Debug)]
pub struct NgClient {
    socket: StdUdpSocket,
    server: SocketAddr,
    cookie: u64,
}

impl NgClient {
    /// A client from an ephemeral socket on `local_ip`.
    pub fn new(server: SocketAddr, local_ip: IpAddr) -> Result<NgClient, Error> {
        let addr = SocketAddr::new(local_ip, 0);
        let io = |what| move |source| Error::Io { what, addr, source };
        let socket = StdUdpSocket::bind(addr).map_err(io("bind"))?;
        socket
            .set_read_timeout(Some(NG_TIMEOUT))
            .map_err(io("set timeout"))?;
        // rtpengine caches replies by cookie (to answer retransmissions): cookies must not
        // repeat across clients and runs, so they start from the clock.
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Ok(NgClient {
            socket,
            server,
            cookie: start ^ u64::from(std::process::id()) << 48,
        })
    }

    /// Sends one command (its dictionary's entries) and returns the reply's dictionary
    /// when its `result` is `ok`.
    pub fn command(
        &mut self,
        command: &'static str,
        entries: Vec<(&str, Value)>,
    ) -> Result<Value, Error> {
        let fail = |problem: String| Error::Ng { command, problem };
        self.cookie = self.cookie.wrapping_add(1);
        let cookie = format!("{:x}", self.cookie);
        let mut datagram = format!("{cookie} ").into_bytes();
        let mut all = vec![("command", Value::str(command))];
        all.extend(entries);
        Value::dict(all).encode(&mut datagram);
        let mut buf = vec![0u8; 65_536];
        for _ in 0..NG_TRIES {
            self.socket
                .send_to(&datagram, self.server)
                .map_err(|e| fail(format!("send to {}: {e}", self.server)))?;
            let deadline = Instant::now() + NG_TIMEOUT;
            while Instant::now() < deadline {
                let Ok((n, from)) = self.socket.recv_from(&mut buf) else {
                    break;
                };
                let reply = &buf[..n];
                let Some(body) = reply
                    .strip_prefix(cookie.as_bytes())
                    .and_then(|r| r.strip_prefix(b" "))
                else {
                    continue; // a late answer to an earlier try, or not from rtpengine
                };
                if from != self.server {
                    continue;
                }
                let v =
                    Value::decode(body).map_err(|e| fail(format!("reply is not bencode: {e}")))?;
                return match v.get("result").and_then(Value::as_str) {
                    Some("ok" | "pong") => Ok(v),
                    other => Err(fail(format!(
                        "result {:?}: {}",
                        other.unwrap_or("missing"),
                        v.get("error-reason").and_then(Value::as_str).unwrap_or("")
                    ))),
                };
            }
        }
        Err(fail(format!(
            "no answer from {} after {NG_TRIES} tries",
            self.server
        )))
    }
}

/// A whole `rtpengine` run: echo, calls, load, `delete` of every call made.
pub fn run(
    setup: &RtpengineSetup,
    config: &LoadConfig,
    stop: &AtomicBool,
) -> Result<MediaRun, Error> {
    crate::probe::check_payload(setup.payload)?;
    let echo = setup.enterprise.start()?;
    let mut ng = NgClient::new(setup.ng, setup.local_ip)?;
    ng.command("ping", vec![])?;
    if config.progress {
        eprintln!(
            "edge-loadgen rtpengine: {} calls through ng {}, callee echo {}",
            setup.calls,
            setup.ng,
            echo.addr()
        );
    }
    let tag = format!("{:x}", ng.cookie);
    let mut report = SetupReport {
        attempted: setup.calls,
        ..SetupReport::default()
    };
    let mut times_us = new_histogram(3_600_000_000);
    let mut flows = Vec::with_capacity(setup.calls);
    let mut made = Vec::new();
    for i in 0..setup.calls {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        let started = Instant::now();
        let call_id = format!("loadgen-{tag}-{i}");
        made.push(call_id.clone());
        match call(&mut ng, setup, &call_id, echo.addr(), i) {
            Ok(flow) => {
                let _ =
                    times_us.record((started.elapsed().as_micros() as u64).clamp(1, 3_600_000_000));
                flows.push(flow);
            }
            Err(e) if report.errors.len() < ERRORS_KEPT => {
                report.errors.push(format!("call {i}: {e}"))
            }
            Err(_) => {}
        }
    }
    report.succeeded = flows.len();
    report.us = Percentiles::of(&times_us);
    if config.progress {
        eprintln!(
            "set-up: {}/{} calls ready",
            report.succeeded, report.attempted
        );
    }
    let result = MediaFleet::new(flows, setup.payload).and_then(|mut fleet| {
        let info = RunInfo {
            mode: "rtpengine".into(),
            target: format!("ng {} (SDES-SRTP {})", setup.ng, setup.profile.sdes_name()),
            payload_bytes: setup.payload,
        };
        let report = load::measure(&mut fleet, config, info, report, stop)?;
        Ok(MediaRun {
            report,
            load_errors: std::mem::take(&mut fleet.load_errors),
        })
    });
    let mut deleted = Ok(());
    for call_id in &made {
        let r = ng.command(
            "delete",
            vec![
                ("call-id", Value::str(call_id)),
                ("delete-delay", Value::Int(0)),
            ],
        );
        // A call whose offer failed may not exist: only the first real failure counts.
        if let (Err(e), Ok(())) = (r, &deleted) {
            if !e.to_string().contains("Unknown call-id") {
                deleted = Err(e);
            }
        }
    }
    let finished = echo.finish();
    let mut run = result?;
    if let Err(e) = deleted {
        run.load_errors.push(e.to_string());
    }
    finished.map(|()| run)
}

/// Offers and answers one call; returns its flow toward rtpengine.
fn call(
    ng: &mut NgClient,
    setup: &RtpengineSetup,
    call_id: &str,
    echo: SocketAddr,
    i: usize,
) -> Result<MediaFlow, Error> {
    let any = SocketAddr::new(setup.local_ip, 0);
    let socket = crate::sockets::bind_client(any, setup.gro)?;
    let ours = CryptoAttribute::new(1, random_key(setup.profile, socket.local_addr())?);
    let ours_line = ours.to_string();
    let offer = Offer {
        addr: socket.local_addr(),
        webrtc: None,
        crypto: ours_line.strip_prefix("a=crypto:"),
        session_id: i as u64 + 1,
    }
    .to_sdp();
    let from_tag = format!("caller-{i}");
    let reply = ng.command(
        "offer",
        vec![
            ("call-id", Value::str(call_id)),
            ("from-tag", Value::str(&from_tag)),
            ("sdp", Value::str(&offer)),
            ("transport-protocol", Value::str("RTP/AVP")),
            ("ICE", Value::str("remove")),
        ],
    )?;
    let sdp_of = |v: &Value, command| {
        v.get("sdp")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(Error::Ng {
                command,
                problem: "reply has no sdp".into(),
            })
    };
    // rtpengine's offer toward the callee; the echo answers it from its own address.
    sdp_of(&reply, "offer").and_then(|s| RemoteDescription::parse(&s))?;
    let callee = Offer {
        addr: echo,
        webrtc: None,
        crypto: None,
        session_id: i as u64 + 1,
    }
    .to_sdp();
    let reply = ng.command(
        "answer",
        vec![
            ("call-id", Value::str(call_id)),
            ("from-tag", Value::str(&from_tag)),
            ("to-tag", Value::str(&format!("callee-{i}"))),
            ("sdp", Value::str(&callee)),
        ],
    )?;
    let answer = RemoteDescription::parse(&sdp_of(&reply, "answer")?)?;
    let remote = answer.media.ok_or(Error::Sdp {
        problem: "rtpengine's answer has no media address",
        line: String::new(),
    })?;
    let theirs = answer
        .crypto
        .iter()
        .find_map(|c| {
            CryptoAttribute::parse(c)
                .ok()
                .filter(|a| a.key.profile() == ours.key.profile())
        })
        .ok_or(Error::Sdp {
            problem: "rtpengine's answer has no usable a=crypto",
            line: answer.crypto.join(" | "),
        })?;
    Ok(MediaFlow {
        srtp: Some(SrtpPair::new(&ours.key, &theirs.key, remote)?),
        socket,
        remote,
        consent: None,
        rtp: RtpStream {
            payload_type: 0,
            ssrc: 0x2000_0000 + i as u32,
            ticks_per_packet: 160,
        },
    })
}

/// A fresh master key and salt of `profile` from the system's random source.
fn random_key(profile: Profile, peer: SocketAddr) -> Result<MasterKey, Error> {
    use ring::rand::SecureRandom as _;
    let (key_len, salt_len) = (profile.master_key_len(), profile.master_salt_len());
    let mut material = [0u8; 46];
    let material = &mut material[..key_len + salt_len];
    let srtp = |source| Error::Srtp { peer, source };
    ring::rand::SystemRandom::new()
        .fill(material)
        .map_err(|_| Error::Parameter {
            name: "random",
            problem: "the system random source failed",
        })?;
    MasterKey::new(profile, &material[..key_len], &material[key_len..]).map_err(srtp)
}
