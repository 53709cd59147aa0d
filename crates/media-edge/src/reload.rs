//! SIGHUP: re-read the configuration file and apply what can change live, leaving running
//! allocations and calls untouched.
//!
//! - The file is parsed and checked exactly as at start-up. If it does not load, nothing
//!   changes and the error names the key and line.
//! - Live keys ([`LIVE`]) are applied: TURN users and shared secrets (the next Allocate,
//!   Refresh or permission needs the new credentials; relaying goes on), TURN TLS
//!   certificate files, API tokens, CORS whitelist, clients and connection limits,
//!   `[guard]` (bans, allow list, rate limits; not its table shape), `[drain]` and `[dtls]`.
//!   Every certificate (TURN TLS, API TLS, the forwarder's DTLS certificate when one is
//!   configured) is re-read even when its file name is unchanged: the next handshake (the
//!   next session, for DTLS) presents the new one, open connections and running calls keep
//!   theirs.
//! - Any other key that differs from the running configuration (listen addresses, port
//!   ranges, the relay, the guard's table shape, ...) is refused by name, once per reload, and keeps its
//!   running value; the live keys are applied all the same.

use std::path::PathBuf;

use edge_guard::Guard;
use edge_turn::{Reload, Service};
use toml::{Table, Value};

use crate::cli_pins::Pins;
use crate::config::{Config, Drain, EMBEDDED_DEFAULT};
use crate::media_services::Media;

/// Key paths applied live; a key below one of them (`turn.auth.users[0].password`) too.
const LIVE: &[&str] = &[
    "turn.auth.users",
    "turn.auth.shared-secrets",
    "api.tokens",
    "api.cors",
    "api.clients",
    "api.max-connections-per-client",
    "api.max-connections",
    "api.demo",
    "api.turn-uris",
    "drain",
    "guard",
    "dtls",
];

/// Keys below a live one that still need a restart: they shape the guard's tables, or its
/// shared store's connection.
const RESTART: &[&str] = &[
    "guard.ipv6-prefix",
    "guard.max-tracked",
    "guard.redis",
    "guard.redis-prefix",
    "guard.redis-timeout",
    "guard.redis-retry",
];

/// Keys of a `[[turn.listen-tls]]` entry applied live (its address needs a restart).
const LIVE_TLS: &[&str] = &["certificate", "private-key"];

/// What a reload compares against and keeps.
pub struct Reloader {
    /// The file, or `None` for the embedded default.
    path: Option<PathBuf>,
    origin: String,
    pins: Pins,
    /// The document the process started with: a key that differs from it needs a restart.
    started: Table,
    /// The document last applied, to name what a reload changed.
    last: Table,
    /// The TURN user generated for a configuration without credentials.
    generated: Option<(String, String)>,
    /// `[drain]` as last loaded.
    drain: Drain,
}

impl Reloader {
    /// A reloader for the process started from `text` (read from `path`, or the embedded
    /// default) with `config` parsed from it.
    pub fn new(
        path: Option<PathBuf>,
        origin: String,
        pins: Pins,
        text: &str,
        config: &Config,
        generated: Option<(String, String)>,
    ) -> Reloader {
        let started = text.parse::<Table>().unwrap_or_default();
        Reloader {
            path,
            origin,
            pins,
            last: started.clone(),
            started,
            generated,
            drain: config.drain.clone(),
        }
    }

    /// `[drain]` as last loaded.
    pub fn drain(&self) -> &Drain {
        &self.drain
    }

    /// Re-reads the file and applies it; every outcome is logged.
    pub fn reload(&mut self, service: &Service, media: Option<&Media>, guard: &Guard) {
        let (text, config) = match self.load() {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::error!(
                    "reload: {} not applied, keeping the running configuration: {e:#}",
                    self.origin
                );
                return;
            }
        };
        let new = text.parse::<Table>().unwrap_or_default();
        let mut refused = Vec::new();
        diff("", &self.started, &new, &mut refused);
        refused.retain(|key| !is_live(key));
        for key in &refused {
            tracing::warn!(
                "reload: {key} changed in {}, but needs a restart: the running value stays",
                self.origin
            );
        }
        let mut changed = Vec::new();
        diff("", &self.last, &new, &mut changed);
        changed.retain(|key| is_live(key));

        let mut failed = false;
        // Checked by Config::parse; its table shape stays (the restart keys above).
        if let Err(e) = guard.reconfigure(config.guard.clone()) {
            tracing::error!("reload: guard.{e}");
            failed = true;
        }
        if let Err(e) = self.reload_turn(service, &config, guard) {
            tracing::error!("reload: {e:#}");
            failed = true;
        }
        if let Some(media) = media {
            if let Err(e) = media.reload(&config, guard) {
                tracing::error!("reload: {e:#}");
                failed = true;
            }
        }
        self.drain = config.drain.clone();
        self.last = new;
        let changed = if changed.is_empty() {
            "no live key changed".to_owned()
        } else {
            format!("applied {}", changed.join(", "))
        };
        tracing::info!(
            "reload: {}: {changed}; certificates re-read{}; {} key(s) refused (need a restart)",
            self.origin,
            if failed {
                " (with errors, see above)"
            } else {
                ""
            },
            refused.len()
        );
    }

    /// The file's text and configuration, checked as at start-up.
    fn load(&self) -> anyhow::Result<(String, Config)> {
        let text = match &self.path {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
            None => EMBEDDED_DEFAULT.to_owned(),
        };
        let config = Config::parse(&text, &self.origin, &self.pins)?;
        Ok((text, config))
    }

    /// TURN credentials and TLS certificates, converted as at start-up.
    fn reload_turn(&self, service: &Service, config: &Config, guard: &Guard) -> anyhow::Result<()> {
        let generated = config
            .has_no_credentials()
            .then(|| self.generated.clone())
            .flatten();
        // Only the credentials and TLS files are taken from this; the rest stays running.
        let converted = config.service(generated, vec![0; 32], 0, guard.clone())?;
        let mut reload = Reload::default();
        reload.users = converted.server.users;
        reload.shared_secrets = converted.server.shared_secrets;
        reload.tls = converted.tls;
        service
            .reload(reload)
            .map_err(|e| anyhow::anyhow!("TURN: {e}"))
    }
}

/// Whether `key` is applied live.
fn is_live(key: &str) -> bool {
    let below = |prefix: &str| {
        key.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    };
    if RESTART.iter().any(|prefix| below(prefix)) {
        return false;
    }
    if LIVE.iter().any(|prefix| below(prefix)) {
        return true;
    }
    // turn.listen-tls[N].certificate
    key.strip_prefix("turn.listen-tls[")
        .and_then(|rest| rest.split_once("]."))
        .is_some_and(|(index, field)| {
            index.bytes().all(|b| b.is_ascii_digit()) && LIVE_TLS.contains(&field)
        })
}

/// The key paths whose values differ between `a` and `b` (tables recursively, arrays of
/// the same length element by element, anything else as a whole).
fn diff(path: &str, a: &Table, b: &Table, out: &mut Vec<String>) {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        diff_value(path, a.get(key), b.get(key), out);
    }
}

fn diff_value(path: String, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<String>) {
    match (a, b) {
        (Some(Value::Table(x)), Some(Value::Table(y))) => diff(&path, x, y, out),
        (Some(Value::Array(x)), Some(Value::Array(y)))
            if x.len() == y.len() && x.iter().chain(y).all(Value::is_table) =>
        {
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                diff_value(format!("{path}[{i}]"), Some(x), Some(y), out);
            }
        }
        (x, y) if x == y => {}
        _ => out.push(path),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn changes(a: &str, b: &str) -> Vec<String> {
        let mut out = Vec::new();
        diff(
            "",
            &a.parse::<Table>().unwrap(),
            &b.parse::<Table>().unwrap(),
            &mut out,
        );
        out
    }

    #[test]
    fn diff_names_each_changed_key() {
        let a = "[turn]\nlisten-udp = [\"127.0.0.1:3478\"]\n[[turn.auth.users]]\nname = \"a\"\n\
                 password = \"p\"\n[turn.relay]\nport-range = \"50000-50100\"\n";
        assert!(changes(a, a).is_empty());
        let b = a.replace("password = \"p\"", "password = \"q\"");
        assert_eq!(changes(a, &b), ["turn.auth.users[0].password"]);
        let c = b.replace("50000-50100", "50000-50200");
        assert_eq!(
            changes(a, &c),
            ["turn.auth.users[0].password", "turn.relay.port-range"]
        );
        let d = format!("{a}[api]\nlisten = \"127.0.0.1:1\"\n");
        assert_eq!(changes(a, &d), ["api"]);
    }

    #[test]
    fn live_keys() {
        for live in [
            "turn.auth.users",
            "turn.auth.users[2].password",
            "turn.auth.shared-secrets",
            "api.tokens",
            "api.cors.domain-whitelist",
            "api.demo",
            "api.turn-uris",
            "turn.listen-tls[0].certificate",
            "turn.listen-tls[1].private-key",
            "drain.timeout",
            "guard.max-failures",
            "guard.allow",
            "guard.rate.api.burst",
        ] {
            assert!(is_live(live), "{live}");
        }
        for restart in [
            "turn.relay.port-range",
            "turn.listen-udp",
            "turn.listen-tls[0].address",
            "turn.listen-tls",
            "api.listen",
            "api.tls",
            "api.tokensx",
            "forward.public.port-range",
            "guard.ipv6-prefix",
            "guard.max-tracked",
        ] {
            assert!(!is_live(restart), "{restart}");
        }
    }
}
