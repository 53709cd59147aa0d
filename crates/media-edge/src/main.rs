//! The media-edge service binary: `media-edge [--config FILE]` runs the service,
//! `media-edge check-config [--config FILE]` validates a configuration and exits,
//! `media-edge firewall-rules [--config FILE]` prints the nftables rules matching it,
//! `media-edge health [--config FILE]` probes a running instance's `/readyz` (exit 0 or 1).
//! Without `--config` the embedded default runs TURN on 127.0.0.1:3478, the forwarder on
//! loopback port ranges and the HTTP control API on 127.0.0.1:8080.

#![forbid(unsafe_code)]

mod admin;
mod cli_pins;
mod config;
mod firewall;
mod health;
mod host_checks;
mod ip_forwarding;
mod lifecycle;
mod logging;
mod media_services;
mod metrics;
mod notify;
mod procfs;
mod random;
mod reload;
mod signals;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, Context as _};
use clap::{Parser, Subcommand};
use edge_guard::{Guard, GuardConfig, GuardStats, SharedStore};
use edge_turn::{LocalAddrs, Service, ServiceConfig};

use crate::cli_pins::Pins;
use crate::config::{Config, EMBEDDED_DEFAULT};
use crate::lifecycle::Lifecycle;
use crate::logging::Logs;
use crate::media_services::Media;
use crate::reload::Reloader;
use crate::signals::{Process, Signals};

/// The media edge of a contact centre: TURN server for browsers, DTLS-SRTP <-> RTP
/// forwarder toward the enterprise, and its HTTP control API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML); the embedded loopback default when absent.
    #[arg(long, short, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The local address the forwarder's enterprise legs bind to and send from
    /// (forward.enterprise.transport-address); must match the file's if it has one.
    #[arg(long, global = true, value_name = "IP")]
    transport_address: Option<IpAddr>,
    /// Pins the enterprise legs to this one local port, RTCP on the next
    /// (forward.enterprise.transport-port); must match the file's if it has one, or lie in
    /// its forward.enterprise.port-range (then only this port of the range is used).
    #[arg(long, global = true, value_name = "PORT",
          value_parser = clap::value_parser!(u16).range(1..65535))]
    transport_port: Option<u16>,
    /// A named enterprise connection pinned to one local tuple
    /// (forward.enterprise.connections.NAME); repeatable; must match the file's definition of
    /// the same name if it has one.
    #[arg(long = "connection", global = true, value_name = "NAME=port=<n>;address=<ip>",
          value_parser = cli_pins::parse_connection)]
    connections: Vec<(String, edge_forward::ClientSidePort)>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the configuration, print what would run, and exit.
    CheckConfig,
    /// Print the nftables ruleset (table inet media_edge) matching the configuration.
    FirewallRules {
        /// Exempt UDP to and from media-edge's ports from connection tracking (a `notrack`
        /// chain at raw priority): no conntrack table slot per media flow or flooding source.
        #[arg(long)]
        notrack: bool,
    },
    /// Probe the running instance's admin listener (/readyz): exit 0 when ready, 1 with the
    /// reason when not (a container healthcheck).
    Health {
        /// Longest wait for the connection and for the answer, seconds.
        #[arg(long, default_value_t = 5.0)]
        timeout: f64,
    },
}

/// The username generated when no credentials are configured.
const GENERATED_USER: &str = "media-edge";

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("media-edge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let (text, origin) = match &cli.config {
        Some(path) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?,
            path.display().to_string(),
        ),
        None => (
            EMBEDDED_DEFAULT.to_owned(),
            "embedded default config".to_owned(),
        ),
    };
    let pins = Pins::new(cli.transport_address, cli.transport_port, cli.connections)?;
    let config = Config::parse(&text, &origin, &pins)?;
    if let Some(Command::FirewallRules { notrack }) = cli.command {
        print!("{}", firewall::rules(&config, &origin, notrack)?);
        return Ok(());
    }
    if let Some(Command::Health { timeout }) = cli.command {
        let timeout = edge_config::duration_from_secs(timeout).context("--timeout")?;
        println!("{}", health::probe(&config, timeout)?);
        return Ok(());
    }
    let forwarding = ip_forwarding::check(&config, std::path::Path::new("/"));
    let logs = Logs::init(&config.log)?;
    for note in &config.deprecated {
        tracing::warn!("{note}");
    }
    // One guard for TURN, the forwarder's ICE responder and the API: a source failing at one
    // door is banned at all of them.
    let guard = Guard::new(config.guard.clone()).map_err(|e| anyhow!("guard.{e}"))?;

    let generated = if config.has_no_credentials() {
        Some((GENERATED_USER.to_owned(), random::token::<18>()?))
    } else {
        None
    };
    let service_config = config.service(
        generated.clone(),
        random::bytes::<32>()?.to_vec(),
        u64::from_ne_bytes(random::bytes()?),
        guard.clone(),
    )?;

    if let Some(Command::CheckConfig) = cli.command {
        println!("{origin}: OK");
        for note in &config.deprecated {
            eprintln!("warning: {note}");
        }
        println!("{}", summary(&service_config, None));
        if let Some(line) = media_services::summary(&config) {
            println!("{line}");
        }
        println!("{}", guard_summary(&config.guard));
        for problem in host_checks::problems(&config) {
            eprintln!("warning: on this host, start-up would refuse: {problem}");
        }
        if let Some(forwarding) = &forwarding {
            let what = match config.security.refuse_ip_forwarding {
                true => "on this host, start-up would refuse (security.refuse-ip-forwarding)",
                false => "on this host",
            };
            eprintln!("warning: {what}: {forwarding}");
        }
        return Ok(());
    }

    let mut problems = host_checks::problems(&config);
    match forwarding {
        Some(f) if config.security.refuse_ip_forwarding => {
            problems.push(format!("security.refuse-ip-forwarding: {f}"));
        }
        Some(f) => tracing::warn!("{f}"),
        None => {}
    }
    if !problems.is_empty() {
        anyhow::bail!("{origin}: start-up checks failed: {}", problems.join("; "));
    }

    // Signal handlers go in before anything is announced, so a SIGTERM right after the
    // start-up line is a clean shutdown and not the default (killing) action.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let signals = runtime.block_on(async { Signals::install() })?;
    let lifecycle = Arc::new(Lifecycle::default());
    let service = Service::start(service_config.clone()).map_err(|e| match e {
        // Name the key whose setting failed: capabilities, interface, kernel support.
        edge_turn::Error::Xdp(_) | edge_turn::Error::Config { field: "xdp", .. } => {
            anyhow::Error::new(e).context("turn.xdp")
        }
        e => anyhow::Error::new(e).context("cannot start TURN"),
    })?;
    tracing::info!("{}", summary(&service_config, Some(service.local_addrs())));
    if let Some((user, password)) = &generated {
        tracing::warn!(
            "no TURN credentials configured: generated user `{user}` with password \
             `{password}` for this run only (loopback listeners only)"
        );
    }
    tracing::info!("{}", guard_summary(&guard.config()));
    // With `[guard] redis`: failures and bans shared with the other nodes, until exit.
    let _shared = SharedStore::start(&guard).map_err(|e| anyhow!("guard.{e}"))?;
    runtime.block_on(async {
        let media = Media::start(&config, &guard).await?;
        if let Some(line) = media_services::summary(&config) {
            tracing::info!("{line}");
        }
        let admin = admin::start(&config, &service, media.as_ref(), &lifecycle, &guard).await?;
        lifecycle.mark_bound();
        notify::notify("READY=1");
        if let Some(interval) = notify::watchdog_interval() {
            let relay = media.as_ref().map(|m| m.relay().clone());
            tokio::spawn(notify::watchdog(interval, service.reader(), relay));
        }
        let process = Process {
            service: &service,
            media: media.as_ref(),
            guard: &guard,
            lifecycle: &lifecycle,
            logs: &logs,
            reloader: Reloader::new(cli.config.clone(), origin, pins, &text, &config, generated),
            stats_interval: config.log.stats_interval,
        };
        let waited = signals::run(signals, process).await;
        tracing::info!("shutting down");
        if let Some(admin) = admin {
            admin.shutdown().await;
        }
        if let Some(media) = media {
            media.shutdown().await?;
        }
        waited
    })?;
    service.shutdown().context("TURN shutdown")?;
    Ok(())
}

/// A one-line start-up summary of listeners and ranges.
fn summary(config: &ServiceConfig, bound: Option<&LocalAddrs>) -> String {
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "-".to_owned()
        } else {
            v.join(",")
        }
    };
    let show = |a: &[std::net::SocketAddr]| list(a.iter().map(ToString::to_string).collect());
    let (udp, tcp, tls) = match bound {
        Some(b) => (show(&b.udp), show(&b.tcp), show(&b.tls)),
        None => (
            show(&config.udp),
            show(&config.tcp),
            list(config.tls.iter().map(|t| t.addr.to_string()).collect()),
        ),
    };
    let s = &config.server;
    format!(
        "media-edge TURN: udp {udp} tcp {tcp} tls {tls}; relay {} ports {}{}; realm {:?}; \
         {} users, {} shared secrets; peers allow [{}] deny [{}]",
        s.relay_address,
        s.port_range,
        s.external_address
            .map(|a| format!(" (announced as {a})"))
            .unwrap_or_default(),
        s.realm,
        s.users.len(),
        s.shared_secrets.len(),
        list(s.peer_allow.iter().map(ToString::to_string).collect()),
        list(s.peer_deny.iter().map(ToString::to_string).collect()),
    )
}

/// The guard's settings in one line, for start-up and check-config.
fn guard_summary(g: &GuardConfig) -> String {
    let rate = |r: &edge_guard::RateLimit| format!("{}/s burst {}", r.rate, r.burst);
    format!(
        "media-edge guard: ban after {} failures within {} s for {} s; allow [{}]; IPv6 per /{}; \
         rate limits turn {}, api {}, ice {}; {}",
        g.max_failures,
        g.find_window.as_secs_f64(),
        g.ban_duration.as_secs_f64(),
        g.allow
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        g.ipv6_prefix,
        rate(&g.rate.turn),
        rate(&g.rate.api),
        rate(&g.rate.ice),
        match &g.redis {
            Some(url) => format!("shared through Redis {url} (prefix {:?})", g.redis_prefix),
            None => "not shared".to_owned(),
        },
    )
}

/// The periodic `stats` line: the guard's counters since start and its table sizes.
fn stats_line(s: &GuardStats) -> String {
    format!(
        "stats guard: failures={} bans-started={} bans-expired={} bans-lifted={} \
         bans-evicted={} banned-drops={} rate-refused-turn={} rate-refused-api={} \
         rate-refused-ice={} tracked-evicted={} bans={} failure-records={} rate-buckets={}",
        s.failures,
        s.bans_started,
        s.bans_expired,
        s.bans_lifted,
        s.bans_evicted,
        s.banned_drops,
        s.rate_refused.turn,
        s.rate_refused.api,
        s.rate_refused.ice,
        s.tracked_evicted,
        s.bans,
        s.failure_records,
        s.rate_buckets,
    )
}
