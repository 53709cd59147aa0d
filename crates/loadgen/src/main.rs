//! `edge-loadgen`: load generator for media-edge. See `edge-loadgen --help` and the crate
//! documentation of `edge_loadgen`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use edge_loadgen::echo::Echo;
use edge_loadgen::load::{self, Clock, LoadConfig, LoadOutcome, Phase};
use edge_loadgen::report::{ServerCpu, SetupReport};
use edge_loadgen::turn::conn::{TlsSetup, TransportKind};
use edge_loadgen::turn::credentials::Credentials;
use edge_loadgen::turn::fleet::{TurnFleet, TurnSetup};
use edge_loadgen::{cpu, Report};

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
    /// Echo every UDP datagram back to its sender (the enterprise RTP side).
    RtpEcho(EchoArgs),
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
    /// Payload bytes per packet (>= 24; 160 = G.711 20 ms, ~100 = Opus).
    #[arg(long, default_value_t = 172)]
    size: usize,
    /// Measure this server process's CPU time over the load phase (/proc/PID/stat).
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Exit with status 2 when the loss ratio is above this (or a set-up failed).
    #[arg(long, default_value_t = 0.0)]
    max_loss: f64,
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
    #[arg(long, default_value = "127.0.0.1:0")]
    peer_bind: SocketAddr,
    #[command(flatten)]
    load: LoadArgs,
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
        Mode::RtpEcho(args) => rtp_echo(args, &stop),
    }
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
    let echo = Echo::bind(&[args.peer_bind]).context("echo peer")?;
    let peer = echo.local_addrs()[0];
    let echo_stop = Arc::new(AtomicBool::new(false));
    let echo_thread = echo.spawn(echo_stop.clone());

    let setup = TurnSetup {
        server: args.server,
        transport,
        tls,
        username,
        password,
        allocations: args.allocations as usize,
        peer,
        local_ip: args.local_ip,
        payload: args.load.size,
        parallel: args.parallel,
        timeout: seconds("setup-timeout", args.setup_timeout, 3_600.0)?,
    };
    let progress = !args.load.quiet;
    if progress {
        eprintln!(
            "edge-loadgen turn: {} allocations over {:?} to {}, echo peer {peer}",
            setup.allocations, transport, setup.server
        );
    }
    let mut fleet = TurnFleet::setup(&setup, stop)?;
    let setup_report = fleet.setup_report().clone();
    if progress {
        eprintln!(
            "set-up: {}/{} allocations ready",
            setup_report.succeeded, setup_report.attempted
        );
    }
    let target = format!("{} ({})", setup.server, args.transport.name());
    let result = measure(&mut fleet, &args.load, stop, "turn", target, setup_report);
    fleet.close(Duration::from_secs(2))?;
    for e in &fleet.load_errors {
        eprintln!("edge-loadgen: during load: {e}");
    }
    echo_stop.store(true, Ordering::Relaxed);
    match echo_thread.join() {
        Ok(r) => {
            r.context("echo peer")?;
        }
        Err(_) => bail!("echo peer thread panicked"),
    }
    finish(result?, &args.load)
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

/// Runs the load phase over `fleet` and builds the report.
fn measure(
    fleet: &mut dyn load::Fleet,
    args: &LoadArgs,
    stop: &AtomicBool,
    mode: &str,
    target: String,
    setup: SetupReport,
) -> anyhow::Result<Report> {
    let config = LoadConfig {
        rate: (!args.flood).then_some(args.rate),
        duration: seconds("duration", args.duration, 3_600.0)?,
        drain: seconds("drain", args.drain, 60.0)?,
        window: args.window.into(),
        progress: !args.quiet,
    };
    let clock = Clock::new();
    let mut cpu_start = None;
    let mut cpu_used = None;
    let mut cpu_error = None;
    let outcome = if fleet.flows() == 0 || stop.load(Ordering::Relaxed) {
        None
    } else {
        Some(load::run(fleet, &config, &clock, stop, &mut |phase| {
            let Some(pid) = args.server_pid else { return };
            match (phase, cpu::process_cpu_s(pid)) {
                (Phase::LoadStart, Ok(t)) => cpu_start = Some(t),
                (Phase::DrainEnd, Ok(t)) => cpu_used = cpu_start.map(|s| t - s),
                (_, Err(e)) => cpu_error = Some(e),
            }
        })?)
    };
    if let Some(e) = cpu_error {
        eprintln!("edge-loadgen: cannot read server CPU time: {e}");
    }
    Ok(report(mode, target, args, setup, outcome, stop, cpu_used))
}

fn report(
    mode: &str,
    target: String,
    args: &LoadArgs,
    setup: SetupReport,
    outcome: Option<LoadOutcome>,
    stop: &AtomicBool,
    cpu_used: Option<f64>,
) -> Report {
    use edge_loadgen::report::Percentiles;
    let flows = setup.succeeded;
    let (m, duration, blocked, interrupted) = match &outcome {
        Some(o) => (
            Some(&o.measurements),
            o.duration.as_secs_f64(),
            o.send_blocked,
            o.interrupted,
        ),
        None => (None, 0.0, 0, stop.load(Ordering::Relaxed)),
    };
    let totals = m.map(|m| m.totals()).unwrap_or_default();
    let lost = totals.sent.saturating_sub(totals.received);
    let server = match (args.server_pid, cpu_used) {
        (Some(pid), Some(cpu_s)) => Some(ServerCpu {
            pid,
            cpu_s,
            forwarded_per_cpu_s: if cpu_s > 0.0 {
                2.0 * totals.received as f64 / cpu_s
            } else {
                0.0
            },
        }),
        _ => None,
    };
    Report {
        mode: mode.to_owned(),
        target,
        flows,
        rate_pps: (!args.flood).then_some(args.rate),
        payload_bytes: args.size,
        duration_s: duration,
        sent: totals.sent,
        received: totals.received,
        lost,
        loss_ratio: if totals.sent > 0 {
            lost as f64 / totals.sent as f64
        } else {
            0.0
        },
        duplicates: totals.duplicates,
        reordered: totals.reordered,
        stray: m.map_or(0, |m| m.stray()),
        send_blocked: blocked,
        delivered_pps: if duration > 0.0 {
            totals.received as f64 / duration
        } else {
            0.0
        },
        rtt_us: m.map(|m| Percentiles::of(m.rtt_us())).unwrap_or_default(),
        jitter_us: totals.jitter_us,
        setup,
        server,
        interrupted,
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
    let limit = seconds("duration", args.duration, 86_400.0 * 365.0)?;
    if !limit.is_zero() {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            stop.store(true, Ordering::Relaxed);
        });
    }
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
