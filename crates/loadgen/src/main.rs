//! `edge-loadgen`: load generator for media-edge. See `edge-loadgen --help` and the crate
//! documentation of `edge_loadgen`.

#![forbid(unsafe_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use edge_loadgen::binding_flood::FloodSetup;
use edge_loadgen::echo::Echo;
use edge_loadgen::echo::EchoPeer;
use edge_loadgen::forward::Forwarder;
use edge_loadgen::load::LoadConfig;
use edge_loadgen::media::webrtc::WebrtcSetup;
use edge_loadgen::rtpengine::RtpengineSetup;
use edge_loadgen::turn::conn::{TlsSetup, TransportKind};
use edge_loadgen::turn::credentials::Credentials;
use edge_loadgen::turn::fleet::TurnSetup;
use edge_loadgen::Report;
use edge_srtp::Profile;

/// Load generator for media-edge: TURN allocations, WebRTC-like sessions, RTP echo.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// N TURN allocations sending ChannelData through a channel to an echo peer run here.
    Turn(Box<TurnArgs>),
    /// N browser-like sessions through media-edge's HTTP API: ICE, DTLS-SRTP, SRTP load
    /// to an RTP echo on the enterprise side.
    Webrtc(Box<WebrtcArgs>),
    /// The same SRTP calls set up through rtpengine's ng protocol (SDES toward us, plain
    /// RTP toward an echo): the reference for the media side-by-side benchmark.
    Rtpengine(Box<RtpengineArgs>),
    /// Echo every UDP datagram back to its sender (the enterprise RTP side).
    RtpEcho(EchoArgs),
    /// STUN Binding requests from one address to a TURN listener, paced or flat out.
    BindingFlood(FloodArgs),
    /// Plain RTP probes, flow i to port P+i of --target (no signalling, no SRTP).
    Rtp(RtpArgs),
    /// A plain recvmmsg/sendmmsg forwarder with two sockets per flow: the ceiling the
    /// side-by-side benchmarks compare servers with.
    Forward(ForwardArgs),
}

/// Load shape and output, common to the load modes.
#[derive(Debug, Args)]
struct LoadArgs {
    /// Probes per second per flow (50 = one packet per 20 ms, like G.711 or Opus).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    rate: u32,
    /// Flood instead of pacing: each flow keeps --window probes in flight.
    #[arg(long, conflicts_with = "rate")]
    flood: bool,
    /// Probes in flight per flow when flooding (1..=64).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=64))]
    window: u16,
    /// Seconds of sending (at most 3600).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds to wait for stragglers after sending stops (at most 60).
    #[arg(long, default_value_t = 1.0)]
    drain: f64,
    /// Payload bytes per packet (>= 24; 160 = G.711 20 ms, ~100 = Opus). Default: 172 in
    /// turn mode (a 160-byte G.711 frame with its RTP header), 160 in webrtc mode.
    #[arg(long)]
    size: Option<usize>,
    /// Measure this server process's CPU time over the load phase (/proc/PID/task/*/schedstat).
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Exit with status 2 when the loss ratio is above this (or a set-up failed).
    #[arg(long, default_value_t = 0.0)]
    max_loss: f64,
    /// Receive with UDP GRO (off by default, so that every server's datagrams cost the
    /// generator the same: one receive each, whether the server sends GSO trains or not).
    #[arg(long)]
    gro: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct TurnArgs {
    /// The TURN server.
    #[arg(long)]
    server: SocketAddr,
    /// Transport to the server.
    #[arg(long, value_enum, default_value_t = Transport::Udp)]
    transport: Transport,
    /// PEM file of the CA (or self-signed certificate) to trust, for --transport tls.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Name the server's certificate must carry (DNS name or IP).
    #[arg(long, default_value = "localhost")]
    tls_name: String,
    /// Long-term username.
    #[arg(long, requires = "password", conflicts_with = "secret")]
    user: Option<String>,
    /// Long-term password.
    #[arg(long)]
    password: Option<String>,
    /// TURN REST API shared secret (credentials "expiry:rest-user" derived per run).
    #[arg(long)]
    secret: Option<String>,
    /// User part of REST usernames.
    #[arg(long, default_value = "loadgen")]
    rest_user: String,
    /// Allocations (flows), at most 60000.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    allocations: u32,
    /// Allocations being set up at once.
    #[arg(long, default_value_t = 64)]
    parallel: usize,
    /// Seconds allowed for set-up.
    #[arg(long, default_value_t = 30.0)]
    setup_timeout: f64,
    /// Local address of the client sockets.
    #[arg(long, default_value = "127.0.0.1")]
    local_ip: IpAddr,
    /// Where the echo peer binds (port 0: any free port); the relay must reach it there.
    #[arg(long, default_value = "127.0.0.1:0", conflicts_with = "peer")]
    peer_bind: SocketAddr,
    /// Use an echo already running there (`edge-loadgen rtp-echo`) as the peer instead.
    #[arg(long)]
    peer: Option<SocketAddr>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Args)]
struct WebrtcArgs {
    /// media-edge's control API (host:port, plain HTTP).
    #[arg(long)]
    api: SocketAddr,
    /// Bearer token of the API.
    #[arg(long, env = "MEDIA_EDGE_TOKEN")]
    token: String,
    /// Sessions (calls), at most 20000.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=20_000))]
    sessions: u32,
    /// Sessions being set up at once.
    #[arg(long, default_value_t = 32)]
    parallel: usize,
    /// The one SRTP profile offered (SDES crypto-suite name, e.g. AES_CM_128_HMAC_SHA1_80 or
    /// AEAD_AES_128_GCM), so that side-by-side runs compare the same cipher.
    #[arg(long, default_value = "AES_CM_128_HMAC_SHA1_80", value_parser = parse_profile)]
    srtp_profile: Profile,

    /// Seconds allowed for set-up.
    #[arg(long, default_value_t = 60.0)]
    setup_timeout: f64,
    /// Local address of the browser-side sockets.
    #[arg(long, default_value = "127.0.0.1")]
    local_ip: IpAddr,
    /// Bind the enterprise-side echo here (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0", conflicts_with = "echo")]
    echo_bind: SocketAddr,
    /// Use an echo already running there (e.g. `edge-loadgen rtp-echo` elsewhere) instead.
    #[arg(long)]
    echo: Option<SocketAddr>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Args)]
struct RtpengineArgs {
    /// rtpengine's ng control address (--listen-ng).
    #[arg(long)]
    ng: SocketAddr,
    /// Calls, at most 20000.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=20_000))]
    calls: u32,
    /// The one SRTP profile offered (SDES crypto-suite name, e.g. AES_CM_128_HMAC_SHA1_80 or
    /// AEAD_AES_128_GCM), so that side-by-side runs compare the same cipher.
    #[arg(long, default_value = "AES_CM_128_HMAC_SHA1_80", value_parser = parse_profile)]
    srtp_profile: Profile,

    /// Local address of the caller-side sockets.
    #[arg(long, default_value = "127.0.0.1")]
    local_ip: IpAddr,
    /// Bind the callee-side echo here (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0", conflicts_with = "echo")]
    echo_bind: SocketAddr,
    /// Use an echo already running there instead.
    #[arg(long)]
    echo: Option<SocketAddr>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Args)]
struct RtpArgs {
    /// The first target; flow i goes to its port + i.
    #[arg(long)]
    target: SocketAddr,
    /// Flows, at most 20000.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=20_000))]
    flows: u32,
    /// Local address of the sockets.
    #[arg(long, default_value = "127.0.0.1")]
    local_ip: IpAddr,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Args)]
struct ForwardArgs {
    /// First public address; flow i listens on its port + i.
    #[arg(long)]
    listen: SocketAddr,
    /// Flows (socket pairs), at most 20000.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=20_000))]
    flows: u32,
    /// Where everything received on the public sockets goes (an RTP echo).
    #[arg(long)]
    to: SocketAddr,
    /// Address of the inner sockets (toward --to).
    #[arg(long, default_value = "127.0.0.1")]
    inner_ip: IpAddr,
    /// Stop after this many seconds (0: run until Ctrl-C or SIGTERM).
    #[arg(long, default_value_t = 0.0)]
    duration: f64,
}

#[derive(Debug, Args)]
struct EchoArgs {
    /// Addresses to echo on (repeat or comma-separate for several ports).
    #[arg(long, required = true, value_delimiter = ',')]
    listen: Vec<SocketAddr>,
    /// Stop after this many seconds (0: run until Ctrl-C or SIGTERM).
    #[arg(long, default_value_t = 0.0)]
    duration: f64,
    /// Print the final counters as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct FloodArgs {
    /// The TURN listener.
    #[arg(long)]
    target: SocketAddr,
    /// The one source address (port 0: any free port).
    #[arg(long, default_value = "127.0.0.3:0")]
    local: SocketAddr,
    /// Requests per second (0: as fast as one thread can send).
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Seconds of sending (at most 3600).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Transport {
    Udp,
    Tcp,
    Tls,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("edge-loadgen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }
    match cli.mode {
        Mode::Turn(args) => turn(*args, &stop),
        Mode::Webrtc(args) => webrtc(*args, &stop),
        Mode::Rtpengine(args) => rtpengine(*args, &stop),
        Mode::RtpEcho(args) => rtp_echo(args, &stop),
        Mode::BindingFlood(args) => binding_flood(args, &stop),
        Mode::Rtp(args) => rtp(args, &stop),
        Mode::Forward(args) => forward(args, &stop),
    }
}

/// An SDES crypto-suite name as `--srtp-profile` takes it.
fn parse_profile(name: &str) -> Result<Profile, String> {
    Profile::from_sdes_name(name).ok_or_else(|| {
        let known: Vec<_> = Profile::ALL.iter().map(|p| p.sdes_name()).collect();
        format!(
            "unknown SRTP profile {name:?} (known: {})",
            known.join(", ")
        )
    })
}

fn seconds(name: &str, value: f64, max: f64) -> anyhow::Result<Duration> {
    if !(0.0..=max).contains(&value) {
        bail!("--{name} {value}: must be between 0 and {max} seconds");
    }
    Ok(Duration::from_secs_f64(value))
}

fn turn(args: TurnArgs, stop: &Arc<AtomicBool>) -> anyhow::Result<ExitCode> {
    let credentials = match (&args.user, &args.password, &args.secret) {
        (Some(u), Some(p), None) => Credentials::LongTerm {
            username: u.clone(),
            password: p.clone(),
        },
        (None, _, Some(s)) => Credentials::Rest {
            secret: s.clone(),
            user: args.rest_user.clone(),
            ttl_s: 86_400,
        },
        _ => bail!("give either --user and --password, or --secret"),
    };
    let unix_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_secs();
    let (username, password) = credentials.derive(unix_now);
    let transport = match args.transport {
        Transport::Udp => TransportKind::Udp,
        Transport::Tcp => TransportKind::Tcp,
        Transport::Tls => TransportKind::Tls,
    };
    let tls = match (transport, &args.tls_ca) {
        (TransportKind::Tls, Some(ca)) => Some(TlsSetup::new(ca, &args.tls_name)?),
        (TransportKind::Tls, None) => bail!("--transport tls needs --tls-ca"),
        _ => None,
    };
    let setup = TurnSetup {
        server: args.server,
        transport,
        tls,
        username,
        password,
        allocations: args.allocations as usize,
        peer: args.peer_bind,
        local_ip: args.local_ip,
        gro: args.load.gro,
        payload: args.load.size.unwrap_or(172),
        parallel: args.parallel,
        timeout: seconds("setup-timeout", args.setup_timeout, 3_600.0)?,
    };
    let config = args.load.config()?;
    let peer = match args.peer {
        Some(addr) => EchoPeer::At(addr),
        None => EchoPeer::Own(args.peer_bind),
    };
    let run = edge_loadgen::turn::run(&setup, peer, &config, stop)?;
    for e in &run.load_errors {
        eprintln!("edge-loadgen: during load: {e}");
    }
    finish(run.report, &args.load)
}

impl LoadArgs {
    fn config(&self) -> anyhow::Result<LoadConfig> {
        Ok(LoadConfig {
            rate: (!self.flood).then_some(self.rate),
            duration: seconds("duration", self.duration, 3_600.0)?,
            drain: seconds("drain", self.drain, 60.0)?,
            window: self.window.into(),
            progress: !self.quiet,
            server_pid: self.server_pid,
        })
    }
}

/// Prints the report and picks the exit status: 2 when it broke its bounds.
fn finish(report: Report, args: &LoadArgs) -> anyhow::Result<ExitCode> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    if report.passed(args.max_loss) {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "edge-loadgen: FAILED: loss {:.4}% (bound {:.4}%), set-up {}/{}, received {}",
            report.loss_ratio * 100.0,
            args.max_loss * 100.0,
            report.setup.succeeded,
            report.setup.attempted,
            report.received
        );
        Ok(ExitCode::from(2))
    }
}

fn webrtc(args: WebrtcArgs, stop: &Arc<AtomicBool>) -> anyhow::Result<ExitCode> {
    let profile = args
        .srtp_profile
        .dtls_id()
        .and_then(edge_dtls::SrtpProfile::from_id)
        .with_context(|| {
            format!(
                "--srtp-profile {}: DTLS-SRTP cannot negotiate it",
                args.srtp_profile.sdes_name()
            )
        })?;
    let setup = WebrtcSetup {
        api: args.api,
        token: args.token.clone(),
        sessions: args.sessions as usize,
        local_ip: args.local_ip,
        gro: args.load.gro,
        profile,
        enterprise: match args.echo {
            Some(addr) => EchoPeer::At(addr),
            None => EchoPeer::Own(args.echo_bind),
        },
        payload: args.load.size.unwrap_or(160),
        parallel: args.parallel,
        timeout: seconds("setup-timeout", args.setup_timeout, 3_600.0)?,
    };
    let config = args.load.config()?;
    let run = edge_loadgen::media::webrtc::run(&setup, &config, stop)?;
    for e in &run.load_errors {
        eprintln!("edge-loadgen: during load: {e}");
    }
    finish(run.report, &args.load)
}

fn rtpengine(args: RtpengineArgs, stop: &Arc<AtomicBool>) -> anyhow::Result<ExitCode> {
    let setup = RtpengineSetup {
        ng: args.ng,
        calls: args.calls as usize,
        local_ip: args.local_ip,
        gro: args.load.gro,
        profile: args.srtp_profile,
        enterprise: match args.echo {
            Some(addr) => EchoPeer::At(addr),
            None => EchoPeer::Own(args.echo_bind),
        },
        payload: args.load.size.unwrap_or(160),
    };
    let config = args.load.config()?;
    let run = edge_loadgen::rtpengine::run(&setup, &config, stop)?;
    for e in &run.load_errors {
        eprintln!("edge-loadgen: during load: {e}");
    }
    finish(run.report, &args.load)
}

fn rtp(args: RtpArgs, stop: &Arc<AtomicBool>) -> anyhow::Result<ExitCode> {
    let first = args.target.port();
    let targets = (0..args.flows as u16)
        .map(|i| {
            let port = first
                .checked_add(i)
                .context("--target port + --flows runs past 65535")?;
            Ok(SocketAddr::new(args.target.ip(), port))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let config = args.load.config()?;
    let size = args.load.size.unwrap_or(160);
    let run = edge_loadgen::media::plain::run(
        &targets,
        args.local_ip,
        args.load.gro,
        size,
        &config,
        stop,
    )?;
    for e in &run.load_errors {
        eprintln!("edge-loadgen: during load: {e}");
    }
    finish(run.report, &args.load)
}

fn forward(args: ForwardArgs, stop: &Arc<AtomicBool>) -> anyhow::Result<ExitCode> {
    let forwarder = Forwarder::bind(args.listen, args.flows as usize, args.inner_ip, args.to)
        .context("binding the forwarder's sockets")?;
    let addrs = forwarder.public_addrs();
    eprintln!(
        "edge-loadgen forward: {} flows on {}..{} -> {}",
        addrs.len(),
        addrs.first().map(ToString::to_string).unwrap_or_default(),
        addrs.last().map(ToString::to_string).unwrap_or_default(),
        args.to
    );
    stop_after(stop, seconds("duration", args.duration, 86_400.0 * 365.0)?);
    let stats = forwarder.run(stop)?;
    println!(
        "forward: outbound {} inbound {} dropped {}",
        stats.outbound, stats.inbound, stats.dropped
    );
    Ok(ExitCode::SUCCESS)
}

/// Sets `stop` after `limit` (never when it is zero).
fn stop_after(stop: &Arc<AtomicBool>, limit: Duration) {
    if !limit.is_zero() {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            stop.store(true, Ordering::Relaxed);
        });
    }
}

fn binding_flood(args: FloodArgs, stop: &Arc<AtomicBool>) -> anyhow::Result<ExitCode> {
    let setup = FloodSetup {
        target: args.target,
        local: args.local,
        rate: (args.rate > 0).then_some(args.rate),
        duration: seconds("duration", args.duration, 3_600.0)?,
    };
    let report = edge_loadgen::binding_flood::run(&setup, stop)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "binding-flood: sent {} ({:.0}/s) answered {} in {:.2} s",
            report.sent, report.offered_per_s, report.answered, report.seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn rtp_echo(args: EchoArgs, stop: &Arc<AtomicBool>) -> anyhow::Result<ExitCode> {
    let echo = Echo::bind(&args.listen).context("binding the echo sockets")?;
    let addrs = echo.local_addrs();
    eprintln!(
        "edge-loadgen rtp-echo: echoing on {}",
        addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    stop_after(stop, seconds("duration", args.duration, 86_400.0 * 365.0)?);
    let stats = echo.run(stop)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
    } else {
        println!(
            "rtp-echo: received {} echoed {} dropped {}",
            stats.received, stats.echoed, stats.dropped
        );
    }
    Ok(ExitCode::SUCCESS)
}
