//! The media-edge service binary: `media-edge [--config FILE]` runs the service,
//! `media-edge check-config [--config FILE]` validates a configuration and exits.
//! Without `--config` the embedded default runs TURN on 127.0.0.1:3478, the forwarder on
//! loopback port ranges and the HTTP control API on 127.0.0.1:8080.

mod config;
mod media;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use base64::Engine as _;
use clap::{Parser, Subcommand};
use edge_turn::{LocalAddrs, Service, ServiceConfig};
use rand::RngCore as _;

use crate::config::{Config, EMBEDDED_DEFAULT};
use crate::media::Media;

/// The media edge of a contact centre: TURN server for browsers, DTLS-SRTP <-> RTP
/// forwarder toward the enterprise, and its HTTP control API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML); the embedded loopback default when absent.
    #[arg(long, short, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the configuration, print what would run, and exit.
    CheckConfig,
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
    let config = Config::parse(&text, &origin)?;
    init_logging(&config.log.level)?;

    let generated = config.has_no_credentials().then(|| {
        let mut bytes = [0u8; 18];
        rand::rng().fill_bytes(&mut bytes);
        let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        (GENERATED_USER.to_owned(), password)
    });
    let mut nonce_secret = vec![0u8; 32];
    rand::rng().fill_bytes(&mut nonce_secret);
    let service_config = config.service(generated.clone(), nonce_secret, rand::random())?;

    if let Some(Command::CheckConfig) = cli.command {
        println!("{origin}: OK");
        println!("{}", summary(&service_config, None));
        if let Some(line) = media::summary(&config) {
            println!("{line}");
        }
        return Ok(());
    }

    // Signal handlers go in before anything is announced, so a SIGTERM right after the
    // start-up line is a clean shutdown and not the default (killing) action.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let term = runtime.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    })?;
    let interrupt = runtime.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
    })?;
    let service = Service::start(service_config.clone()).context("cannot start TURN")?;
    tracing::info!("{}", summary(&service_config, Some(service.local_addrs())));
    if let Some((user, password)) = &generated {
        tracing::warn!(
            "no TURN credentials configured: generated user `{user}` with password \
             `{password}` for this run only (loopback listeners only)"
        );
    }
    runtime.block_on(async {
        let media = Media::start(&config).await?;
        if let Some(line) = media::summary(&config) {
            tracing::info!("{line}");
        }
        let waited = wait_for_shutdown(&service, media.as_ref(), term, interrupt).await;
        tracing::info!("shutting down");
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
        "media-edge TURN: udp {udp} tcp {tcp} tls {tls}; relay {} ports {}-{}{}; realm {:?}; \
         {} users, {} shared secrets; peers allow [{}] deny [{}]",
        s.relay_address,
        s.port_range.start(),
        s.port_range.end(),
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

fn init_logging(level: &str) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => tracing_subscriber::EnvFilter::try_new(env),
        _ => tracing_subscriber::EnvFilter::try_new(level),
    }
    .with_context(|| format!("log.level: {level:?} is not a tracing filter"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}

/// Waits for SIGINT or SIGTERM, or until the TURN loop or the API dies on its own.
async fn wait_for_shutdown(
    service: &Service,
    media: Option<&Media>,
    mut term: tokio::signal::unix::Signal,
    mut interrupt: tokio::signal::unix::Signal,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = interrupt.recv() => return Ok(()),
            _ = term.recv() => return Ok(()),
            _ = tick.tick() => {
                if !service.is_running() {
                    anyhow::bail!("the TURN event loop stopped unexpectedly");
                }
                if media.is_some_and(|m| !m.is_running()) {
                    anyhow::bail!("the control API stopped unexpectedly");
                }
            }
        }
    }
}
