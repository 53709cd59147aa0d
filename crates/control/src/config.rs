//! The control API's configuration: the `[api]` section of media-edge's config file.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::{ClientAddr, Error, Origin};

/// Settings of the control API. Deserializes from kebab-case keys and refuses unknown ones.
///
/// ```toml
/// [api]
/// listen = "0.0.0.0:8443"
/// tokens = ["6f1c0c6e0b5f4d0e9a3b1f7e2d4c8a90"]
/// tls = { certificate = "/etc/media-edge/api.pem", private-key = "/etc/media-edge/api.key" }
/// cors.domain-whitelist = ["https://app.example.com", "http://localhost:3000"]
/// clients = ["192.0.2.10", "192.0.2.11:40000", "[2001:db8::1]"]
/// max-connections-per-client = 16
/// max-connections = 1024
/// demo = false
/// turn-uris = ["turn:203.0.113.10:3478?transport=udp"]
/// ```
///
/// `Debug` prints the number of tokens, never the tokens.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct ApiConfig {
    /// Where the listener binds. Default `127.0.0.1:8080`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Bearer tokens that may use the API (`Authorization: Bearer <token>`): at least one,
    /// each 16 to 256 characters of RFC 6750's token alphabet. The media-edge binary makes
    /// one up for the run when none is configured on a loopback `listen` address.
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) with this certificate and key, both re-read
    /// on SIGHUP. Without it the API speaks plain HTTP.
    #[serde(default)]
    pub tls: Option<Tls>,
    /// Plain HTTP is served only on a loopback `listen` address unless this is true (the
    /// tokens then travel in the clear: for a TLS terminator in front). Default false.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// `[api.cors]`: which web origins may call the API from a browser.
    #[serde(default)]
    pub cors: Cors,
    /// Inbound client-side port definition: when not empty, only these clients (address,
    /// optionally the source port) may connect; any other connection is closed at accept.
    /// Default empty: every source may connect (still `max-connections-per-client` each).
    #[serde(default)]
    pub clients: Vec<ClientAddr>,
    /// Most connections held at once by one entry of `clients` when the list is set, or by
    /// one source address when it is empty (IPv6 sources per `guard.ipv6-prefix` network,
    /// /64 by default); the next is closed at accept, before TLS. Default 16, at most 100000.
    #[serde(default = "default_max_connections_per_client")]
    pub max_connections_per_client: usize,
    /// Most connections held at once by all sources together; the next is closed at
    /// accept, before TLS. Default 1024, at most 1000000.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// The largest request body accepted, in bytes. Default 65536.
    #[serde(default = "default_max_body")]
    pub max_body: usize,
    /// Serve the test-call page at `GET /demo` (no token needed to load it; the page asks for
    /// one and uses the API with it). Default false: `/demo` answers 404 `demo-disabled`.
    #[serde(default)]
    pub demo: bool,
    /// The TURN URIs `POST /v1/turn-credentials` hands out (`turn:host:port?transport=udp`,
    /// `turns:...`). Empty (the default): the binary derives them from `[turn]`'s listeners.
    #[serde(default)]
    pub turn_uris: Vec<String>,
    /// The TURN REST shared secret and URIs for `POST /v1/turn-credentials`; `None`: the
    /// route answers 404 `turn-not-configured`. Set by the binary from
    /// `[turn.auth] shared-secrets` (the first) and `turn-uris`; not part of the `[api]`
    /// section.
    #[serde(skip)]
    pub turn: Option<TurnRest>,
    /// Bans and rate limits, shared with the TURN server and the forwarder in the binary.
    /// `None`: the API makes its own with `GuardConfig::default()` (3 failures ban for 600 s;
    /// 20 requests/s per source, burst 100). Not part of the `[api]` section.
    #[serde(skip)]
    pub guard: Option<edge_guard::Guard>,
    /// Where requests are counted and timed, for metrics; none when `None`. Not part of the
    /// `[api]` section.
    #[serde(skip)]
    pub metrics: Option<crate::ApiMetrics>,
}

/// What `POST /v1/turn-credentials` issues credentials for: the TURN server's REST shared
/// secret (coturn's `static-auth-secret`) and the URIs to hand out with them.
///
/// `Debug` never prints the secret.
#[derive(Clone)]
#[non_exhaustive]
pub struct TurnRest {
    /// The shared secret the TURN server checks `HMAC-SHA1(secret, username)` against.
    pub secret: Vec<u8>,
    /// The `turn:`/`turns:` URIs of the TURN server.
    pub uris: Vec<String>,
}

impl TurnRest {
    /// Credentials under `secret` for the TURN server at `uris`.
    pub fn new(secret: impl Into<Vec<u8>>, uris: Vec<String>) -> Self {
        TurnRest {
            secret: secret.into(),
            uris,
        }
    }
}

impl fmt::Debug for TurnRest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnRest")
            .field("secret", &"<secret>")
            .field("uris", &self.uris)
            .finish()
    }
}

/// `api.tls`: PEM files, re-read on SIGHUP.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct Tls {
    /// The certificate chain, leaf first.
    pub certificate: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key: PathBuf,
}

impl Tls {
    /// The certificate chain and key files.
    pub fn new(certificate: impl Into<PathBuf>, private_key: impl Into<PathBuf>) -> Self {
        Tls {
            certificate: certificate.into(),
            private_key: private_key.into(),
        }
    }
}

/// `[api.cors]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct Cors {
    /// The origins (`scheme://host[:port]`, RFC 6454) whose pages may call the API. A request
    /// from any other origin gets 403. Empty (the default): every origin is allowed.
    pub domain_whitelist: Vec<Origin>,
}

impl Cors {
    /// A whitelist of `origins`.
    pub fn new(domain_whitelist: Vec<Origin>) -> Self {
        Cors { domain_whitelist }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_max_connections_per_client() -> usize {
    16
}

fn default_max_connections() -> usize {
    1024
}

fn default_max_body() -> usize {
    64 * 1024
}

impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("listen", &self.listen)
            .field("tokens", &format_args!("<{} tokens>", self.tokens.len()))
            .field("tls", &self.tls)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("cors", &self.cors)
            .field("clients", &self.clients)
            .field(
                "max_connections_per_client",
                &self.max_connections_per_client,
            )
            .field("max_connections", &self.max_connections)
            .field("max_body", &self.max_body)
            .field("demo", &self.demo)
            .field("turn_uris", &self.turn_uris)
            .field("turn", &self.turn)
            .field("guard", &self.guard.as_ref().map(|_| "<shared>"))
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

impl ApiConfig {
    /// A configuration listening on `listen` that accepts `tokens`, other keys at their
    /// defaults.
    pub fn new(listen: SocketAddr, tokens: Vec<String>) -> Self {
        ApiConfig {
            listen,
            tokens,
            tls: None,
            allow_insecure_http: false,
            cors: Cors::default(),
            clients: Vec::new(),
            max_connections_per_client: default_max_connections_per_client(),
            max_connections: default_max_connections(),
            max_body: default_max_body(),
            demo: false,
            turn_uris: Vec::new(),
            turn: None,
            guard: None,
            metrics: None,
        }
    }

    /// Checks what deserialization alone cannot.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key that is wrong.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |key, reason: String| Err(Error::Config { key, reason });
        if self.tokens.is_empty() {
            return bad("tokens", "at least one token is required".into());
        }
        // RFC 6750 b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then "="s.
        let token_char = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
        for (i, token) in self.tokens.iter().enumerate() {
            if !(16..=256).contains(&token.len()) || !token.bytes().all(token_char) {
                return bad(
                    "tokens",
                    format!("token {i} must be 16 to 256 characters of A-Z a-z 0-9 - . _ ~ + / ="),
                );
            }
        }
        self.check_plain_http(self.listen)?;
        if !(1..=100_000).contains(&self.max_connections_per_client) {
            return bad(
                "max-connections-per-client",
                format!(
                    "{} is not within 1..=100000",
                    self.max_connections_per_client
                ),
            );
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return bad(
                "max-connections",
                format!("{} is not within 1..=1000000", self.max_connections),
            );
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.max_body) {
            return bad(
                "max-body",
                format!("{} is not within 1024..=16777216 bytes", self.max_body),
            );
        }
        for (i, uri) in self.turn_uris.iter().enumerate() {
            let scheme_ok = uri.starts_with("turn:") || uri.starts_with("turns:");
            if !scheme_ok || uri.chars().any(|c| c.is_whitespace() || c == '"') {
                return bad(
                    "turn-uris",
                    format!("entry {i} {uri:?} is not a turn: or turns: URI (RFC 7065)"),
                );
            }
        }
        Ok(())
    }

    /// Refuses plain HTTP on `addr` (the configured or the actual listening address) unless
    /// it is loopback or `allow-insecure-http` is set.
    pub(crate) fn check_plain_http(&self, addr: SocketAddr) -> Result<(), Error> {
        if self.tls.is_some() || addr.ip().to_canonical().is_loopback() || self.allow_insecure_http
        {
            return Ok(());
        }
        Err(Error::Config {
            key: "listen",
            reason: format!(
                "{addr} is not a loopback address: configure api.tls (certificate and \
                 private-key) to serve HTTPS there, or set api.allow-insecure-http = true to \
                 serve plain HTTP (bearer tokens in the clear, for a TLS terminator in front)"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn config(json: &str) -> Result<ApiConfig, String> {
        let c: ApiConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn defaults_and_keys() {
        let c = config(r#"{"tokens": ["0123456789abcdef"]}"#).unwrap();
        assert_eq!(c.listen, default_listen());
        assert_eq!(c.max_body, 65536);
        assert_eq!(c.max_connections_per_client, 16);
        assert_eq!(c.max_connections, 1024);
        assert!(!c.allow_insecure_http);
        assert!(c.tls.is_none() && c.clients.is_empty() && c.guard.is_none());
        assert!(c.cors.domain_whitelist.is_empty());
        let debug = format!("{c:?}");
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (json, key) in [
            (r#"{"tokens": []}"#, "api.tokens"),
            (r#"{"tokens": ["short"]}"#, "api.tokens"),
            (
                r#"{"tokens": ["0123456789abcdef with space"]}"#,
                "api.tokens",
            ),
            (
                r#"{"tokens": ["0123456789abcdef"], "listen": "0.0.0.0:80"}"#,
                "api.listen",
            ),
            (
                r#"{"tokens": ["0123456789abcdef"], "max-body": 10}"#,
                "api.max-body",
            ),
        ] {
            let err = config(json).unwrap_err();
            assert!(err.starts_with(key), "{json}: {err}");
        }
        for uri in ["http://x", "turn:a b", "stun:192.0.2.1"] {
            let json = format!(r#"{{"tokens": ["0123456789abcdef"], "turn-uris": ["{uri}"]}}"#);
            let err = config(&json).unwrap_err();
            assert!(err.starts_with("api.turn-uris: entry 0"), "{err}");
        }
        let c = config(
            r#"{"tokens": ["0123456789abcdef"], "demo": true,
                "turn-uris": ["turn:192.0.2.1:3478?transport=udp", "turns:edge.example.com:5349"]}"#,
        )
        .unwrap();
        assert!(c.demo && c.turn_uris.len() == 2 && c.turn.is_none());
        let err = config(r#"{"tokens": ["0123456789abcdef"], "token": "x"}"#).unwrap_err();
        assert!(err.contains("unknown field `token`"), "{err}");
        // The old name is gone, not silently ignored.
        let err =
            config(r#"{"tokens": ["0123456789abcdef"], "allow-plain-http": true}"#).unwrap_err();
        assert!(err.contains("unknown field `allow-plain-http`"), "{err}");
        for json in [
            r#"{"tokens": ["0123456789abcdef"], "max-connections-per-client": 0}"#,
            r#"{"tokens": ["0123456789abcdef"], "max-connections-per-client": 100001}"#,
        ] {
            let err = config(json).unwrap_err();
            assert!(err.starts_with("api.max-connections-per-client"), "{err}");
        }
        for (value, ok) in [(0, false), (1, true), (1_000_000, true), (1_000_001, false)] {
            let json = format!(r#"{{"tokens": ["0123456789abcdef"], "max-connections": {value}}}"#);
            match config(&json) {
                Ok(c) => assert!(ok && c.max_connections == value, "{value}"),
                Err(err) => assert!(
                    !ok && err.starts_with(&format!("api.max-connections: {value} ")),
                    "{value}: {err}"
                ),
            }
        }
    }

    /// Plain HTTP off loopback is refused, naming `api.listen` and the keys that allow it.
    #[test]
    fn plain_http_only_on_loopback() {
        for listen in [
            "0.0.0.0:80",
            "192.0.2.1:8080",
            "[::]:8080",
            "[2001:db8::1]:80",
        ] {
            let json = format!(r#"{{"tokens": ["0123456789abcdef"], "listen": "{listen}"}}"#);
            let err = config(&json).unwrap_err();
            assert!(err.starts_with("api.listen: "), "{err}");
            assert!(err.contains("api.allow-insecure-http = true"), "{err}");
            assert!(err.contains("api.tls"), "{err}");
            let json = format!(
                r#"{{"tokens": ["0123456789abcdef"], "listen": "{listen}",
                    "allow-insecure-http": true}}"#
            );
            config(&json).unwrap();
            let json = format!(
                r#"{{"tokens": ["0123456789abcdef"], "listen": "{listen}",
                    "tls": {{"certificate": "c.pem", "private-key": "k.pem"}}}}"#
            );
            config(&json).unwrap();
        }
        for listen in [
            "127.0.0.1:8080",
            "127.0.0.2:80",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:80",
        ] {
            let json = format!(r#"{{"tokens": ["0123456789abcdef"], "listen": "{listen}"}}"#);
            config(&json).unwrap();
        }
    }

    #[test]
    fn cors_and_clients_are_checked_at_load_naming_the_entry() {
        let c = config(
            r#"{"tokens": ["0123456789abcdef"],
                "cors": {"domain-whitelist": ["HTTPS://App.Example.com:443", "http://localhost:3000"]},
                "clients": ["192.0.2.10", "192.0.2.11:40000", "[2001:db8::1]"],
                "max-connections-per-client": 2}"#,
        )
        .unwrap();
        let origins: Vec<String> = c
            .cors
            .domain_whitelist
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        let clients: Vec<String> = c.clients.iter().map(ToString::to_string).collect();
        assert_eq!(clients, ["192.0.2.10", "192.0.2.11:40000", "[2001:db8::1]"]);
        let err = config(
            r#"{"tokens": ["0123456789abcdef"],
                "cors": {"domain-whitelist": ["https://ok.example", "https://app.example.com/"]}}"#,
        )
        .unwrap_err();
        assert!(
            err.contains("\"https://app.example.com/\" is not an origin"),
            "{err}"
        );
        let err =
            config(r#"{"tokens": ["0123456789abcdef"], "clients": ["192.0.2.300"]}"#).unwrap_err();
        assert!(
            err.contains("\"192.0.2.300\" is not a client address"),
            "{err}"
        );
    }
}
