//! The service configuration: a TOML file with kebab-case keys, unknown keys refused, every
//! error naming the key path (`turn.relay.port-range: 60000-50000 is empty`).
//!
//! Each library owns its section (schema, defaults, bounds, checks); this module composes
//! them and checks what spans sections. Top-level sections: `[log]`, `[turn]` (the TURN
//! server, see edge-turn's `TurnConfig`), `[guard]` (bans and rate limits shared by TURN,
//! the forwarder's ICE responder and the API, see edge-guard's `GuardConfig`), and for media
//! sessions `[forward]` (the forwarder, see edge-forward's `ForwardConfig`), `[dtls]` (its
//! certificate) and `[api]` (the HTTP control API, see edge-control's `ApiConfig`);
//! `[admin]`, `[drain]` and `[security]` (see `ip_forwarding.rs`) for operations.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use edge_config::seconds;
use edge_guard::{Guard, GuardConfig};
use edge_turn::{ServiceConfig, TurnConfig};
use serde::Deserialize;

use crate::cli_pins::Pins;

/// The configuration used when no `--config` is given: TURN on 127.0.0.1:3478 (UDP and
/// TCP), loopback relay, and no credentials (one user with a random password is made at
/// start-up and logged).
pub const EMBEDDED_DEFAULT: &str = include_str!("default.toml");

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Logging.
    #[serde(default)]
    pub log: Log,
    /// `[turn]`: the TURN server, see edge-turn's `TurnConfig`.
    pub turn: TurnConfig,
    /// `[guard]`: bans after failed logins and per-source rate limits, one guard for all
    /// services; fail2ban-like defaults when absent.
    #[serde(default)]
    pub guard: GuardConfig,
    /// `[forward]`: the DTLS-SRTP <-> RTP forwarder; no media sessions without it. (Its old
    /// name `[forward]` is still read, with a deprecation warning; see [`Config::deprecated`].)
    pub forward: Option<edge_forward::ForwardConfig>,
    /// `[dtls]`: the certificate the forwarder presents to browsers.
    #[serde(default)]
    pub dtls: Dtls,
    /// `[api]`: the HTTP control API of the forwarder; needs `[forward]`.
    pub api: Option<edge_control::ApiConfig>,
    /// `[ng]`: rtpengine's ng control protocol over the same sessions; needs `[forward]`.
    pub ng: Option<edge_ng::NgConfig>,
    /// `[drain]`: what SIGTERM does before the process exits.
    #[serde(default)]
    pub drain: Drain,
    /// `[admin]`: the admin listener (Prometheus metrics, health and readiness probes);
    /// none without the section (the embedded default has it).
    pub admin: Option<Admin>,
    /// `[security]`: never a router (the forwarding check, the firewall's forward chain).
    #[serde(default)]
    pub security: crate::ip_forwarding::Security,
    /// Deprecated names the file used (each with its new name), for a warning at start-up.
    #[serde(skip)]
    pub deprecated: Vec<String>,
}

/// Sections renamed in this release: (old name, new name). The old name is read for one
/// release, with a warning.
const RENAMED_SECTIONS: &[(&str, &str)] = &[("relay", "forward")];

/// Moves each section under a deprecated name to its new name in the parsed document, and
/// says which it moved; a document with both names is refused, naming both.
fn rename_deprecated(doc: &mut toml::de::DeTable<'_>, origin: &str) -> anyhow::Result<Vec<String>> {
    let mut moved = Vec::new();
    for &(old, new) in RENAMED_SECTIONS {
        let Some((key, value)) = doc.remove_entry(old) else {
            continue;
        };
        if doc.contains_key(new) {
            bail!("{origin}: [{old}] and [{new}] both given: [{old}] is the deprecated name of [{new}]");
        }
        doc.insert(
            toml::Spanned::new(key.span(), std::borrow::Cow::Borrowed(new)),
            value,
        );
        moved.push(format!(
            "{origin}: [{old}] is deprecated, call the section [{new}] (the old name is read until the next release)"
        ));
    }
    Ok(moved)
}

/// `[admin]`: `/metrics`, `/healthz` and `/readyz` over HTTP, no token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Admin {
    /// Where the admin listener binds. Default `127.0.0.1:9480`.
    #[serde(default = "default_admin_listen")]
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate and key (loaded like `api.tls`).
    pub tls: Option<edge_control::Tls>,
    /// Plain HTTP is served only on a loopback `listen` address unless this is true (for a
    /// scraper on a trusted network). Default false.
    #[serde(default)]
    pub allow_insecure_http: bool,
}

/// The admin listener's default address: loopback, port 9480.
pub const DEFAULT_ADMIN_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9480);

fn default_admin_listen() -> SocketAddr {
    DEFAULT_ADMIN_LISTEN
}

/// `[drain]`: on the first SIGTERM the process stops taking new work (readiness false, no
/// new TURN allocation, no new API session) and waits for the running allocations and
/// calls to end, at most `timeout` seconds, then exits 0.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Drain {
    /// Longest wait for running allocations and calls, seconds; 0 stops at once. Default
    /// 600 (the unit's TimeoutStopSec must be longer).
    #[serde(default = "default_drain_timeout", deserialize_with = "seconds")]
    pub timeout: Duration,
    /// Where a new TURN Allocate is sent while draining (300 Try Alternate with
    /// ALTERNATE-SERVER); without it the answer is 508 Insufficient Capacity.
    pub turn_alternate_server: Option<SocketAddr>,
    /// `Retry-After` seconds of the API's 503 to `POST /v1/sessions` while draining.
    /// Default 5.
    #[serde(default = "default_retry_after", deserialize_with = "seconds")]
    pub retry_after: Duration,
}

impl Default for Drain {
    fn default() -> Self {
        Self {
            timeout: default_drain_timeout(),
            turn_alternate_server: None,
            retry_after: default_retry_after(),
        }
    }
}

fn default_drain_timeout() -> Duration {
    Duration::from_secs(600)
}
fn default_retry_after() -> Duration {
    Duration::from_secs(5)
}

/// `[dtls]`: a certificate and key from PEM files, or (both keys absent) an ECDSA P-256
/// certificate generated at start-up.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Dtls {
    /// PEM certificate file.
    pub certificate: Option<PathBuf>,
    /// PEM private key file (ECDSA P-256).
    pub private_key: Option<PathBuf>,
}

/// `[log]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Log {
    /// A tracing filter: `info`, `debug`, `edge_turn=debug,info`, ...
    #[serde(default = "default_level")]
    pub level: String,
    /// Seconds between two `stats` lines (the guard's counters), logged only when a counter
    /// moved; 0 logs none. Default 60.
    #[serde(default = "default_stats_interval", deserialize_with = "seconds")]
    pub stats_interval: Duration,
    /// `text` (one human-readable line per event, the default) or `json` (one JSON object
    /// per line, tracing-subscriber's JSON format).
    #[serde(default)]
    pub format: LogFormat,
    /// Append to this file instead of writing to stderr; reopened on SIGUSR1 (logrotate).
    pub file: Option<PathBuf>,
}

/// `log.format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// `2026-01-01T00:00:00.000000Z  INFO target: message key=value`.
    #[default]
    Text,
    /// `{"timestamp":..,"level":"INFO","fields":{"message":..,..},"target":..}`.
    Json,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            level: default_level(),
            stats_interval: default_stats_interval(),
            format: LogFormat::default(),
            file: None,
        }
    }
}

fn default_level() -> String {
    "info".into()
}
fn default_stats_interval() -> Duration {
    Duration::from_secs(60)
}

impl Config {
    /// Parses a TOML document with the command line's `pins` written into it; errors name
    /// the key path and line, or the command line for a value it gave.
    pub fn parse(text: &str, origin: &str, pins: &Pins) -> anyhow::Result<Config> {
        let mut doc = toml::de::DeTable::parse(text)
            .map_err(|e| anyhow!("{origin}: {}", e.to_string().trim_end()))?;
        let deprecated = rename_deprecated(doc.get_mut(), origin)?;
        let from_command_line = pins.apply(doc.get_mut(), origin)?;
        let de = toml::Deserializer::from(doc);
        let mut config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let place = if from_command_line.contains(&path) {
                " (command line)".to_owned()
            } else {
                inner
                    .span()
                    .map(|s| {
                        format!(
                            " (line {})",
                            text[..s.start.min(text.len())].lines().count().max(1)
                        )
                    })
                    .unwrap_or_default()
            };
            anyhow!("{origin}: {path}: {}{place}", inner.message())
        })?;
        config.check().with_context(|| origin.to_owned())?;
        config.deprecated = deprecated;
        Ok(config)
    }

    /// Checks across keys that serde cannot.
    fn check(&self) -> anyhow::Result<()> {
        if self.api.is_some() && self.forward.is_none() {
            bail!("api: needs a [forward] section (the API sets up the forwarder's sessions)");
        }
        if let Some(ng) = &self.ng {
            if self.forward.is_none() {
                bail!("ng: needs a [forward] section (ng sets up the forwarder's sessions)");
            }
            ng.validate()?;
        }
        self.guard.validate().map_err(|e| anyhow!("guard.{e}"))?;
        self.security.validate()?;
        if let Some(admin) = &self.admin {
            let ip = admin.listen.ip().to_canonical();
            if admin.tls.is_none() && !admin.allow_insecure_http && !ip.is_loopback() {
                bail!(
                    "admin.listen: {} is not a loopback address: configure admin.tls \
                     (certificate and private-key) to serve HTTPS there, or set \
                     admin.allow-insecure-http = true to serve plain HTTP",
                    admin.listen
                );
            }
        }
        if let Some(forward) = &self.forward {
            forward.validate()?;
        }
        if self.dtls.certificate.is_some() != self.dtls.private_key.is_some() {
            bail!("dtls: give both certificate and private-key, or neither (generated)");
        }
        self.turn.validate().map_err(|e| anyhow!("turn.{e}"))?;
        Ok(())
    }

    /// What TURN must never relay to: the control API and the forwarder's enterprise legs
    /// (RTP and RTCP ports), so no allocation reaches into the API or injects media into an
    /// enterprise leg from a local address. The forwarder's public ports stay reachable:
    /// a browser whose only way in is TURN relays to them. (TURN adds its own listeners.)
    fn protected_peers(&self) -> Vec<SocketAddr> {
        let mut peers: Vec<SocketAddr> = self.api.iter().map(|a| a.listen).collect();
        peers.extend(self.admin.iter().map(|a| a.listen));
        if let Some(forward) = &self.forward {
            let e = &forward.enterprise;
            let ip = e.transport_address;
            let (first, last) = match (e.transport_port, e.port_range) {
                (Some(port), _) => (port, port.saturating_add(1)),
                (None, Some(range)) => (range.first(), range.last()),
                (None, None) => (1, 0),
            };
            peers.extend((first..=last).map(|port| SocketAddr::new(ip, port)));
            for pinned in e.connections.values() {
                let rtcp = pinned.port().saturating_add(1);
                peers.extend([
                    pinned.socket_addr(),
                    SocketAddr::new(pinned.address(), rtcp),
                ]);
            }
        }
        peers
    }

    /// Whether neither users nor shared secrets are configured.
    pub fn has_no_credentials(&self) -> bool {
        self.turn.has_no_credentials()
    }

    /// The TURN service configuration: `[turn]` converted by edge-turn, plus what the file
    /// does not hold. `generated` is the user made up for a configuration without
    /// credentials (loopback only); `nonce_secret` and `seed` are fresh randomness; `guard`
    /// is the one shared with the forwarder and the API; the other services' addresses are
    /// protected peers.
    pub fn service(
        &self,
        generated: Option<(String, String)>,
        nonce_secret: Vec<u8>,
        seed: u64,
        guard: Guard,
    ) -> anyhow::Result<ServiceConfig> {
        let mut service = self
            .turn
            .service_config(nonce_secret, seed)
            .map_err(|e| anyhow!("turn.{e}"))?;
        let server = &mut service.server;
        server.users.extend(generated);
        server.guard = Some(guard);
        server.protected_peers = self.protected_peers();
        server.validate().map_err(|e| anyhow!("turn: {e}"))?;
        Ok(service)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn err(text: &str) -> String {
        format!(
            "{:#}",
            Config::parse(text, "test.toml", &Pins::default()).unwrap_err()
        )
    }

    const MINIMAL: &str =
        "[turn]\nlisten-udp = [\"127.0.0.1:3478\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n";

    #[test]
    fn embedded_default_parses_and_is_loopback_only() {
        let c = Config::parse(EMBEDDED_DEFAULT, "embedded", &Pins::default()).unwrap();
        assert_eq!(
            c.turn.listen_udp,
            vec!["127.0.0.1:3478".parse::<SocketAddr>().unwrap()]
        );
        assert!(c.has_no_credentials());
    }

    #[test]
    fn example_config_in_deploy_parses() {
        let text = include_str!("../../../deploy/media-edge.toml");
        let c = Config::parse(text, "deploy/media-edge.toml", &Pins::default()).unwrap();
        c.service(None, vec![0; 32], 1, Guard::new(c.guard.clone()).unwrap())
            .unwrap();
    }

    #[test]
    fn the_deprecated_relay_section_is_read_as_forward_with_a_warning() {
        let forward = "[forward]\n[forward.public]\naddress = \"127.0.0.1\"\n\
                       port-range = \"40000-40009\"\n[forward.enterprise]\n\
                       transport-address = \"127.0.0.1\"\nport-range = \"41000-41009\"\n";
        let new = Config::parse(&format!("{MINIMAL}{forward}"), "t", &Pins::default()).unwrap();
        assert!(new.deprecated.is_empty(), "{:?}", new.deprecated);

        let old_name = forward.replace("[forward", "[relay");
        let old = Config::parse(&format!("{MINIMAL}{old_name}"), "t", &Pins::default()).unwrap();
        let (a, b) = (new.forward.unwrap(), old.forward.unwrap());
        assert_eq!(a.public.port_range, b.public.port_range);
        assert_eq!(a.enterprise.port_range, b.enterprise.port_range);
        assert_eq!(old.deprecated.len(), 1);
        assert!(
            old.deprecated[0].contains("[relay] is deprecated"),
            "{:?}",
            old.deprecated
        );

        // The command line's pins land in the section whatever its name.
        let pins = Pins::new(None, Some(41005), Vec::new()).unwrap();
        let pinned = Config::parse(&format!("{MINIMAL}{old_name}"), "t", &pins).unwrap();
        assert_eq!(
            pinned.forward.unwrap().enterprise.transport_port,
            Some(41005)
        );

        let both = err(&format!("{MINIMAL}{forward}[relay]\nworkers = 1\n"));
        assert!(both.contains("[relay] and [forward] both given"), "{both}");
    }

    #[test]
    fn errors_name_the_key() {
        let empty = MINIMAL.replace(
            "address = \"127.0.0.1\"",
            "address = \"127.0.0.1\"\nport-range = \"60000-50000\"",
        );
        assert!(
            err(&empty).contains("turn.relay.port-range: 60000-50000 is not a port range"),
            "{}",
            err(&empty)
        );
        let unknown = format!("{MINIMAL}colour = \"blue\"\n");
        let e = err(&unknown);
        assert!(e.contains("turn.relay") && e.contains("colour"), "{e}");
        let bad_addr = MINIMAL.replace("127.0.0.1:3478", "localhost");
        assert!(
            err(&bad_addr).contains("turn.listen-udp"),
            "{}",
            err(&bad_addr)
        );
        let bad_net = format!("{MINIMAL}[turn.peers]\nallow = [\"10.0.0.0/33\"]\n");
        assert!(
            err(&bad_net).contains("turn.peers.allow"),
            "{}",
            err(&bad_net)
        );
        let top = format!("{MINIMAL}[api]\nport = 1\n");
        assert!(err(&top).contains("api"), "{}", err(&top));
    }

    #[test]
    fn coalescing_window_reaches_the_service_and_is_bounded() {
        let service = |us: &str| {
            let text =
                MINIMAL.replace("[turn.relay]", &format!("coalesce-us = {us}\n[turn.relay]"));
            let c = Config::parse(&text, "t", &Pins::default()).unwrap();
            let user = Some(("u".to_owned(), "p".to_owned()));
            c.service(user, vec![0; 32], 1, Guard::new(c.guard.clone()).unwrap())
                .map(|s| s.coalesce)
                .map_err(|e| format!("{e:#}"))
        };
        assert_eq!(service("0").unwrap(), std::time::Duration::ZERO);
        assert_eq!(
            service("1000").unwrap(),
            std::time::Duration::from_millis(1)
        );
        let e = service("20000").unwrap_err();
        assert!(e.starts_with("turn.coalesce-us: 20000"), "{e}");
        let c = Config::parse(MINIMAL, "t", &Pins::default()).unwrap();
        assert_eq!(c.turn.coalesce_us, 200, "the default");
    }

    #[test]
    fn turn_threads_reach_the_service_and_are_bounded() {
        let service = |line: &str| {
            let text = MINIMAL.replace("[turn.relay]", &format!("{line}\n[turn.relay]"));
            let c = Config::parse(&text, "t", &Pins::default()).unwrap();
            let user = Some(("u".to_owned(), "p".to_owned()));
            c.service(user, vec![0; 32], 1, Guard::new(c.guard.clone()).unwrap())
                .map(|s| s.threads)
                .map_err(|e| format!("{e:#}"))
        };
        assert_eq!(service("threads = 3").unwrap(), 3);
        let sockets = |line: &str| {
            let text = MINIMAL.replace("[turn.relay]", &format!("{line}\n[turn.relay]"));
            let c = Config::parse(&text, "t", &Pins::default()).unwrap();
            let user = Some(("u".to_owned(), "p".to_owned()));
            c.service(user, vec![0; 32], 1, Guard::new(c.guard.clone()).unwrap())
                .map(|s| s.udp_sockets)
                .map_err(|e| format!("{e:#}"))
        };
        assert_eq!(sockets("").unwrap(), 1, "the default");
        let xdp = |section: &str| {
            let text = format!("{MINIMAL}\n{section}");
            let c = Config::parse(&text, "t", &Pins::default()).map_err(|e| format!("{e:#}"))?;
            let user = Some(("u".to_owned(), "p".to_owned()));
            c.service(user, vec![0; 32], 1, Guard::new(c.guard.clone()).unwrap())
                .map(|s| s.xdp)
                .map_err(|e| format!("{e:#}"))
        };
        assert_eq!(xdp("").unwrap(), None, "off by default");
        let on = xdp("[turn.xdp]\ninterface = \"eth1\"\nsource-pps = 500")
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                on.interface.as_str(),
                on.mode,
                on.source_pps,
                on.source_burst
            ),
            ("eth1", edge_turn::XdpMode::Native, 500, 500)
        );
        let generic = xdp("[turn.xdp]\ninterface = \"lo\"\nmode = \"generic\"").unwrap();
        assert_eq!(generic.unwrap().mode, edge_turn::XdpMode::Generic);
        let e = xdp("[turn.xdp]\ninterface = \"\"").unwrap_err();
        assert!(e.starts_with("turn.xdp.interface: empty"), "{e}");
        let e = xdp("[turn.xdp]\ninterface = \"lo\"\nmode = \"fast\"").unwrap_err();
        assert!(e.contains("turn.xdp.mode"), "{e}");
        assert_eq!(sockets("udp-sockets = 4").unwrap(), 4);
        let e = sockets("udp-sockets = 65").unwrap_err();
        assert!(e.starts_with("turn.udp-sockets: 65"), "{e}");
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(service("").unwrap(), cores, "one per core by default");
        let e = service("threads = 0").unwrap_err();
        assert!(e.starts_with("turn.threads: 0"), "{e}");
        let e = service("threads = 100000").unwrap_err();
        assert!(e.starts_with("turn.threads: 100000"), "{e}");
    }

    #[test]
    fn log_and_drain_keys() {
        let c = Config::parse(MINIMAL, "t", &Pins::default()).unwrap();
        assert_eq!(c.log.format, LogFormat::Text);
        assert!(c.log.file.is_none());
        assert_eq!(
            (c.drain.timeout, c.drain.retry_after),
            (Duration::from_secs(600), Duration::from_secs(5))
        );
        assert!(c.drain.turn_alternate_server.is_none());
        let text = format!(
            "[log]\nformat = \"json\"\nfile = \"/var/log/m.log\"\n{MINIMAL}[drain]\n\
             timeout = 30\nturn-alternate-server = \"192.0.2.1:3478\"\nretry-after = 9\n"
        );
        let c = Config::parse(&text, "t", &Pins::default()).unwrap();
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.log.file, Some(PathBuf::from("/var/log/m.log")));
        assert_eq!(
            (c.drain.timeout, c.drain.retry_after),
            (Duration::from_secs(30), Duration::from_secs(9))
        );
        assert_eq!(
            c.drain.turn_alternate_server,
            Some("192.0.2.1:3478".parse().unwrap())
        );
        let e = err(&format!("[log]\nformat = \"xml\"\n{MINIMAL}"));
        assert!(e.contains("log.format") && e.contains("(line 2)"), "{e}");
        let e = err(&format!(
            "{MINIMAL}[drain]\nturn-alternate-server = \"nowhere\"\n"
        ));
        assert!(e.contains("drain.turn-alternate-server"), "{e}");
    }

    #[test]
    fn credentials_are_required_off_loopback() {
        let public = MINIMAL.replace("127.0.0.1:3478", "0.0.0.0:3478");
        assert!(err(&public).contains("turn.auth"), "{}", err(&public));
        let with_user = format!("{public}[[turn.auth.users]]\nname = \"a\"\npassword = \"b\"\n");
        Config::parse(&with_user, "t", &Pins::default()).unwrap();
    }

    #[test]
    fn short_secret_and_unspecified_relay_are_refused() {
        let short = format!("{MINIMAL}[turn.auth]\nshared-secrets = [\"short\"]\n");
        assert!(
            err(&short).contains("turn.auth.shared-secrets[0]"),
            "{}",
            err(&short)
        );
        let any = MINIMAL.replace("address = \"127.0.0.1\"", "address = \"0.0.0.0\"");
        assert!(
            err(&any).contains("turn.relay.external-address"),
            "{}",
            err(&any)
        );
    }
}
