//! The forwarder's configuration: the `[forward]` section of media-edge's config file.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use edge_config::{seconds, PortRange, MAX_SOCKET_BUFFER, MIN_SOCKET_BUFFER};
use serde::Deserialize;

use crate::{connection, ClientSidePort, Error};

/// Settings of the forwarder. Deserializes from kebab-case keys and refuses unknown ones;
/// every key but `public` and `enterprise` has a default. Durations are seconds (integer or
/// fractional).
///
/// ```toml
/// [forward]
/// workers = 2
/// media-timeout = 30
///
/// [forward.public]
/// address = "0.0.0.0"
/// advertised-address = "203.0.113.10"
/// port-range = "40000-40999"
///
/// [forward.enterprise]
/// transport-address = "10.1.2.3"
/// port-range = "30000-30999"
///
/// [forward.enterprise.connections]
/// pbx-a = "port=41000;address=10.1.2.3"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct ForwardConfig {
    /// The browser (internet) side.
    pub public: PublicSide,
    /// The enterprise (RTP network) side.
    pub enterprise: EnterpriseSide,
    /// Data-plane threads. Default: one per core.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// An established session (DTLS-SRTP keys in place) that receives no media on either
    /// leg for this long ends and frees its ports. Default 30 s.
    #[serde(default = "default_media_timeout", deserialize_with = "seconds")]
    pub media_timeout: Duration,
    /// A session not yet established (ICE and DTLS-SRTP with the browser) ends after this
    /// long, counted from its creation or the latest `set_*_remote`. Default 60 s.
    #[serde(default = "default_setup_timeout", deserialize_with = "seconds")]
    pub setup_timeout: Duration,
    /// ICE consent freshness (RFC 7675): once the browser nominated a pair, a session without
    /// a valid connectivity check from it for this long ends. Default 30 s.
    #[serde(default = "default_consent_timeout", deserialize_with = "seconds")]
    pub consent_timeout: Duration,
    /// How long an ended session stays visible (state `Ended` with its reason and counters)
    /// before it disappears. Its ports are free from the moment it ends. Default 60 s.
    #[serde(default = "default_linger", deserialize_with = "seconds")]
    pub ended_linger: Duration,
    /// Most live sessions at once, 1 to 1,000,000; more are refused. Default 1000.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
    /// Whether sessions accept enterprise media only from the configured remote address
    /// (otherwise they latch onto the source of valid media: symmetric RTP). A session may
    /// override it. Default false.
    #[serde(default)]
    pub strict_source: bool,
    /// SRTP/SRTCP replay window in packets, 64 to 1024. Default 128.
    #[serde(default = "default_replay_window")]
    pub replay_window: u64,
    /// SO_RCVBUF / SO_SNDBUF of each media socket in bytes, 4096 to 1 GiB (edge-config's
    /// bounds; the kernel caps it further at net.core.rmem_max / wmem_max). Default 1 MiB.
    #[serde(default = "default_socket_buffer")]
    pub socket_buffer: usize,
    /// Bans and per-source rate limits for the ICE checks and DTLS ClientHellos arriving at
    /// the public ports (service `ice`), usually one guard shared with the TURN server and
    /// the API. Not a config-file key: the binary builds it from its `[guard]` section.
    /// `None`: the relay makes its own with edge-guard's defaults (3 failures within 600 s
    /// ban for 600 s; 100 checks/s, burst 400, per source).
    #[serde(skip)]
    pub guard: Option<edge_guard::Guard>,
}

/// The browser side: where the public SRTP sockets bind and what SDP announces.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct PublicSide {
    /// Address the public sockets bind to.
    pub address: IpAddr,
    /// Address written into `a=candidate` when it differs from `address` (1:1 NAT, or
    /// `address` unspecified). Required when `address` is unspecified.
    #[serde(default)]
    pub advertised_address: Option<IpAddr>,
    /// Ports for public sockets, one per session (both ends included).
    pub port_range: PortRange,
}

impl PublicSide {
    /// A public side binding `address` in `port_range`, advertised as itself.
    pub fn new(address: IpAddr, port_range: PortRange) -> Self {
        PublicSide {
            address,
            advertised_address: None,
            port_range,
        }
    }
}

/// The enterprise side: the pinned local address and ports of the RTP legs.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct EnterpriseSide {
    /// The local address every enterprise socket binds to (and so sends from).
    pub transport_address: IpAddr,
    /// Ports for enterprise sockets: RTP on an even port, RTCP (without rtcp-mux) on the
    /// next. Give this or `transport-port`, not both.
    #[serde(default)]
    pub port_range: Option<PortRange>,
    /// One fixed RTP port (RTCP on the next without rtcp-mux). Only one session at a time
    /// can hold it: further sessions are refused (naming the port) while it lives.
    #[serde(default)]
    pub transport_port: Option<u16>,
    /// Named connections, each pinned to one exact local tuple written
    /// `port=<n>;address=<ip>` ([`ClientSidePort`]). A session that names one
    /// ([`crate::SessionSpec::connection`]) binds its enterprise RTP socket to exactly that
    /// tuple (RTCP without rtcp-mux on the next port), so one session at a time can use it.
    /// Sessions naming none use the default leg (`transport-address` with `port-range` or
    /// `transport-port`). Default: none.
    #[serde(default)]
    pub connections: BTreeMap<String, ClientSidePort>,
}

impl EnterpriseSide {
    /// An enterprise side on `transport_address` with ports from `port_range`.
    pub fn new(transport_address: IpAddr, port_range: PortRange) -> Self {
        EnterpriseSide {
            transport_address,
            port_range: Some(port_range),
            transport_port: None,
            connections: BTreeMap::new(),
        }
    }

    /// An enterprise side on `transport_address` with the one fixed `transport_port`.
    pub fn fixed(transport_address: IpAddr, transport_port: u16) -> Self {
        EnterpriseSide {
            transport_address,
            port_range: None,
            transport_port: Some(transport_port),
            connections: BTreeMap::new(),
        }
    }
}

impl ForwardConfig {
    /// A configuration with every default, for the given sides.
    pub fn new(public: PublicSide, enterprise: EnterpriseSide) -> Self {
        ForwardConfig {
            public,
            enterprise,
            workers: default_workers(),
            media_timeout: default_media_timeout(),
            setup_timeout: default_setup_timeout(),
            consent_timeout: default_consent_timeout(),
            ended_linger: default_linger(),
            max_sessions: default_max_sessions(),
            strict_source: false,
            replay_window: default_replay_window(),
            socket_buffer: default_socket_buffer(),
            guard: None,
        }
    }

    /// Checks values that deserialization alone cannot: ranges, required combinations.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key that is wrong.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |key: &'static str, reason: String| Err(Error::Config { key, reason });
        if self.workers == 0 || self.workers > 256 {
            return bad("workers", format!("{} is not within 1..=256", self.workers));
        }
        for (key, value) in [
            ("media-timeout", self.media_timeout),
            ("setup-timeout", self.setup_timeout),
            ("consent-timeout", self.consent_timeout),
        ] {
            if value < Duration::from_millis(100) {
                return bad(key, format!("{value:?} is shorter than 100 ms"));
            }
        }
        if self.max_sessions == 0 {
            return bad("max-sessions", "must be at least 1".into());
        }
        if self.max_sessions > MAX_SESSIONS {
            return bad(
                "max-sessions",
                format!("{} is above {MAX_SESSIONS}", self.max_sessions),
            );
        }
        if !(64..=1024).contains(&self.replay_window) {
            return bad(
                "replay-window",
                format!("{} is not within 64..=1024 packets", self.replay_window),
            );
        }
        if self.socket_buffer < MIN_SOCKET_BUFFER {
            return bad(
                "socket-buffer",
                format!("{} is below {MIN_SOCKET_BUFFER} bytes", self.socket_buffer),
            );
        }
        if self.socket_buffer > MAX_SOCKET_BUFFER {
            return bad(
                "socket-buffer",
                format!("{} is above {MAX_SOCKET_BUFFER} bytes", self.socket_buffer),
            );
        }
        let p = &self.public;
        if p.address.is_unspecified() && p.advertised_address.is_none() {
            return bad(
                "public.advertised-address",
                format!("required when public.address is {}", p.address),
            );
        }
        if p.advertised_address.is_some_and(|a| a.is_unspecified()) {
            return bad(
                "public.advertised-address",
                "must not be unspecified".into(),
            );
        }
        let e = &self.enterprise;
        if e.transport_address.is_unspecified() {
            return bad(
                "enterprise.transport-address",
                format!(
                    "{} is unspecified: pin the local address",
                    e.transport_address
                ),
            );
        }
        match (e.port_range, e.transport_port) {
            (Some(_), Some(_)) => {
                return bad(
                    "enterprise.transport-port",
                    "give either enterprise.port-range or enterprise.transport-port, not both"
                        .into(),
                )
            }
            (None, None) => {
                return bad(
                    "enterprise.port-range",
                    "required unless enterprise.transport-port is given".into(),
                )
            }
            (None, Some(port)) if port == 0 || port == u16::MAX => {
                return bad(
                    "enterprise.transport-port",
                    format!("{port} leaves no room for RTP and RTCP (the next port)"),
                )
            }
            _ => {}
        }
        connection::check(e, p)
    }
}

/// The most live sessions `max-sessions` may allow (each also needs a public port).
const MAX_SESSIONS: usize = 1_000_000;

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn default_media_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_setup_timeout() -> Duration {
    Duration::from_secs(60)
}

fn default_consent_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_linger() -> Duration {
    Duration::from_secs(60)
}

fn default_max_sessions() -> usize {
    1000
}

fn default_replay_window() -> u64 {
    128
}

fn default_socket_buffer() -> usize {
    1 << 20
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [public]
        address = "127.0.0.1"
        port-range = "40000-40099"
        [enterprise]
        transport-address = "127.0.0.2"
        port-range = "30000-30099"
    "#;

    #[test]
    fn minimal_config_gets_defaults() {
        let c: ForwardConfig = toml::from_str(MINIMAL).unwrap();
        c.validate().unwrap();
        assert!(c.workers >= 1);
        assert_eq!(c.media_timeout, Duration::from_secs(30));
        assert_eq!(c.consent_timeout, Duration::from_secs(30));
        assert_eq!(c.public.port_range, PortRange::new(40000, 40099).unwrap());
        assert_eq!(c.enterprise.transport_port, None);
    }

    #[test]
    fn durations_take_fractional_seconds() {
        let c: ForwardConfig = toml::from_str(&format!("media-timeout = 0.5\n{MINIMAL}")).unwrap();
        assert_eq!(c.media_timeout, Duration::from_millis(500));
        let e = toml::from_str::<ForwardConfig>(&format!("media-timeout = -1\n{MINIMAL}"));
        assert!(e.unwrap_err().to_string().contains("-1"));
    }

    #[test]
    fn unknown_keys_and_bad_ranges_are_named() {
        let e = toml::from_str::<ForwardConfig>(&format!("colour = 1\n{MINIMAL}")).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let e = toml::from_str::<ForwardConfig>(&MINIMAL.replace("40000-40099", "40099-40000"))
            .unwrap_err();
        assert!(e.to_string().contains("40099-40000"), "{e}");
        let e =
            toml::from_str::<ForwardConfig>(&MINIMAL.replace("40000-40099", "a-b")).unwrap_err();
        assert!(e.to_string().contains("a-b"), "{e}");
    }

    #[test]
    fn validation_names_the_key() {
        let base: ForwardConfig = toml::from_str(MINIMAL).unwrap();
        let key = |c: ForwardConfig| match c.validate() {
            Err(Error::Config { key, .. }) => key,
            other => panic!("{other:?}"),
        };
        let mut c = base.clone();
        c.workers = 0;
        assert_eq!(key(c), "workers");
        let mut c = base.clone();
        c.public.address = "0.0.0.0".parse().unwrap();
        assert_eq!(key(c), "public.advertised-address");
        let mut c = base.clone();
        c.enterprise.transport_address = "::".parse().unwrap();
        assert_eq!(key(c), "enterprise.transport-address");
        let mut c = base.clone();
        c.enterprise.transport_port = Some(30000);
        assert_eq!(key(c), "enterprise.transport-port");
        let mut c = base.clone();
        c.enterprise.port_range = None;
        assert_eq!(key(c), "enterprise.port-range");
        let mut c = base.clone();
        c.replay_window = 32;
        assert_eq!(key(c), "replay-window");
        let mut c = base.clone();
        c.max_sessions = MAX_SESSIONS + 1;
        assert_eq!(key(c), "max-sessions");
        let mut c = base.clone();
        c.socket_buffer = edge_config::MAX_SOCKET_BUFFER + 1;
        assert_eq!(key(c), "socket-buffer");
        let mut c = base;
        c.media_timeout = Duration::ZERO;
        assert_eq!(key(c), "media-timeout");
    }
}
