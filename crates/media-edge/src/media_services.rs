//! The media side of the service: the forwarder (edge-forward), its HTTP control API
//! (edge-control) and rtpengine's ng protocol (edge-ng), started from the `[forward]`,
//! `[dtls]`, `[api]` and `[ng]` sections.

use anyhow::{anyhow, Context as _};
use edge_control::{ApiConfig, ApiHandle};
use edge_forward::Forwarder;
use edge_guard::Guard;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Config, Dtls};

/// The running forwarder and, when configured, the API serving it.
pub struct Media {
    relay: Forwarder,
    api: Option<Api>,
    /// The API's request counts and latencies, for metrics.
    api_metrics: Option<edge_control::ApiMetrics>,
    ng: Option<Ng>,
}

/// The ng listeners and their engine.
struct Ng {
    engine: std::sync::Arc<edge_ng::Engine>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

struct Api {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), edge_control::Error>>,
    handle: ApiHandle,
    /// The token made up for a loopback API without `api.tokens`, kept across reloads.
    generated: Option<String>,
}

impl Media {
    /// Starts the forwarder and the API of `config`, or returns `None` without `[forward]`.
    /// Both share `guard` (bans and rate limits) with the TURN server. Must run inside the
    /// tokio runtime that is to serve the API.
    pub async fn start(config: &Config, guard: &Guard) -> anyhow::Result<Option<Media>> {
        let Some(mut relay_config) = config.forward.clone() else {
            return Ok(None);
        };
        relay_config.guard = Some(guard.clone());
        let dtls = dtls_config(&config.dtls)?;
        let fingerprint = dtls.certificate().fingerprint();
        let relay = Forwarder::start(relay_config, dtls).context("cannot start the forwarder")?;
        tracing::info!("media-edge forwarder: DTLS certificate {fingerprint}");
        let api_metrics = config
            .api
            .as_ref()
            .map(|_| edge_control::ApiMetrics::default());
        let api = match &config.api {
            Some(api_config) => {
                let mut api_config = api_config.clone();
                api_config.metrics = api_metrics.clone();
                api_config.turn = turn_rest(config);
                Some(start_api(api_config, relay.clone(), guard.clone()).await?)
            }
            None => None,
        };
        let ng = match &config.ng {
            Some(ng_config) => Some(start_ng(ng_config, relay.clone(), guard.clone()).await?),
            None => None,
        };
        Ok(Some(Media {
            relay,
            api,
            api_metrics,
            ng,
        }))
    }

    /// The forwarder.
    pub fn relay(&self) -> &Forwarder {
        &self.relay
    }

    /// The API's request counts and latencies, when there is an API.
    pub fn api_metrics(&self) -> Option<&edge_control::ApiMetrics> {
        self.api_metrics.as_ref()
    }

    /// The ng front end's request counters, when `[ng]` is configured.
    pub fn ng_metrics(&self) -> Option<std::sync::Arc<edge_ng::NgMetrics>> {
        self.ng
            .as_ref()
            .map(|ng| std::sync::Arc::clone(ng.engine.metrics()))
    }

    /// Whether the API and the ng listeners (when configured) still serve.
    pub fn is_running(&self) -> bool {
        self.api.as_ref().is_none_or(|api| !api.task.is_finished())
            && self.ng.as_ref().is_none_or(|ng| !ng.task.is_finished())
    }

    /// Calls that have not ended (a session ends when deleted or timed out).
    pub fn open_sessions(&self) -> usize {
        self.relay
            .sessions()
            .iter()
            .filter(|s| !s.state.is_ended())
            .count()
    }

    /// Starts the drain of the API: `POST /v1/sessions` answers 503 with `Retry-After`.
    pub fn drain(&self, retry_after: std::time::Duration) {
        if let Some(api) = &self.api {
            api.handle.drain(retry_after);
        }
        if let Some(ng) = &self.ng {
            ng.engine.drain();
        }
    }

    /// Re-reads the forwarder's DTLS certificate for new sessions (when `[dtls]` names one: a
    /// generated certificate stays, a new one would change the fingerprint for nothing),
    /// applies the `[api]` keys that change live from a reloaded `config` (tokens, CORS,
    /// clients and connection limits) and re-reads the API's certificate.
    ///
    /// # Errors
    /// A bad `[api]` value (nothing of it applied) or a certificate file that does not load
    /// (that certificate stays, the rest is applied), named.
    pub fn reload(&self, config: &Config, guard: &Guard) -> anyhow::Result<()> {
        let dtls = match config.dtls.certificate {
            Some(_) => dtls_config(&config.dtls).map(|dtls| {
                let fingerprint = self.relay.set_dtls(dtls);
                tracing::info!("reload: DTLS certificate {fingerprint} for new sessions");
            }),
            None => Ok(()),
        };
        let (Some(api), Some(api_config)) = (&self.api, &config.api) else {
            return dtls;
        };
        let mut api_config = api_config.clone();
        if api_config.tokens.is_empty() {
            api_config.tokens.extend(api.generated.clone());
        }
        api_config.guard = Some(guard.clone());
        api_config.turn = turn_rest(config);
        api.handle.reload(&api_config)?;
        dtls
    }

    /// Stops the API, then the forwarder's workers (which close every socket).
    pub async fn shutdown(self) -> anyhow::Result<()> {
        if let Some(ng) = self.ng {
            let _ = ng.stop.send(());
            ng.task.await.context("the ng task panicked")?;
        }
        if let Some(api) = self.api {
            // The API may have ended on its own: then there is no receiver left.
            let _ = api.stop.send(());
            api.task
                .await
                .context("the API task panicked")?
                .context("API")?;
        }
        self.relay.shutdown();
        Ok(())
    }
}

/// What `POST /v1/turn-credentials` signs with: the first of `[turn.auth] shared-secrets`
/// (put the new secret first when rotating) and `api.turn-uris`, or else a URI per TURN
/// listener (an unspecified listen address is announced as the forwarder's public address).
/// `None` without a shared secret.
fn turn_rest(config: &Config) -> Option<edge_control::TurnRest> {
    let secret = config.turn.auth.shared_secrets.first()?;
    let api = config.api.as_ref()?;
    let uris = if api.turn_uris.is_empty() {
        let public = config
            .forward
            .as_ref()
            .map(|r| r.public.advertised_address.unwrap_or(r.public.address));
        let host = |addr: std::net::SocketAddr| {
            let ip = match (addr.ip().is_unspecified(), public) {
                (true, Some(public)) => public,
                _ => addr.ip(),
            };
            std::net::SocketAddr::new(ip, addr.port())
        };
        let turn = &config.turn;
        turn.listen_udp
            .iter()
            .map(|a| format!("turn:{}?transport=udp", host(*a)))
            .chain(
                turn.listen_tcp
                    .iter()
                    .map(|a| format!("turn:{}?transport=tcp", host(*a))),
            )
            .chain(
                turn.listen_tls
                    .iter()
                    .map(|t| format!("turns:{}?transport=tcp", host(t.address))),
            )
            .collect()
    } else {
        api.turn_uris.clone()
    };
    Some(edge_control::TurnRest::new(
        secret.as_bytes().to_vec(),
        uris,
    ))
}

/// The forwarder's DTLS configuration: the `[dtls]` certificate, or a generated one.
fn dtls_config(dtls: &Dtls) -> anyhow::Result<edge_dtls::Config> {
    let certificate = match (&dtls.certificate, &dtls.private_key) {
        (Some(cert), Some(key)) => {
            let read = |path: &std::path::Path, key: &str| {
                std::fs::read_to_string(path)
                    .with_context(|| format!("dtls.{key}: cannot read {}", path.display()))
            };
            edge_dtls::Certificate::from_pem(
                &read(cert, "certificate")?,
                &read(key, "private-key")?,
            )
            .map_err(|e| anyhow!("dtls.certificate / dtls.private-key: {e}"))?
        }
        _ => edge_dtls::Certificate::generate()
            .map_err(|e| anyhow!("cannot generate the DTLS certificate: {e}"))?,
    };
    edge_dtls::ConfigBuilder::new(certificate)
        .build()
        .map_err(|e| anyhow!("dtls: {e}"))
}

/// Binds and serves the API. A loopback API without tokens gets one made up for this run,
/// logged once; anywhere else tokens must be configured.
async fn start_api(mut config: ApiConfig, relay: Forwarder, guard: Guard) -> anyhow::Result<Api> {
    let mut generated = None;
    if config.tokens.is_empty() && config.listen.ip().is_loopback() {
        let token = crate::random::token::<24>()?;
        tracing::warn!(
            "no API tokens configured: generated bearer token `{token}` for this run only \
             (loopback API only)"
        );
        config.tokens.push(token.clone());
        generated = Some(token);
    }
    config.guard = Some(guard);
    config.validate()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("api.listen: cannot bind {}", config.listen))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = ApiHandle::default();
    let stopping = async {
        let _ = stopped.await;
    };
    let task = tokio::spawn(edge_control::serve_with(
        config,
        listener,
        relay,
        stopping,
        handle.clone(),
    ));
    Ok(Api {
        stop,
        task,
        handle,
        generated,
    })
}

/// Binds and serves `[ng]` over `relay`'s sessions, behind `guard` and `ng.clients`.
async fn start_ng(
    config: &edge_ng::NgConfig,
    relay: Forwarder,
    guard: Guard,
) -> anyhow::Result<Ng> {
    let listeners = edge_ng::Listeners::bind(config).await?;
    let (udp, tcp, http) = listeners.local_addrs();
    let show = |a: Option<std::net::SocketAddr>| a.map_or("-".to_owned(), |a| a.to_string());
    tracing::info!(
        "ng control: udp {}, tcp {}, http {}; clients {}",
        show(udp),
        show(tcp),
        show(http),
        if config.clients.is_empty() {
            "any (loopback)".to_owned()
        } else {
            config
                .clients
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        }
    );
    let engine = std::sync::Arc::new(edge_ng::Engine::new(relay));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(edge_ng::serve(
        listeners,
        std::sync::Arc::clone(&engine),
        config.clients.clone(),
        guard,
        async {
            let _ = stopped.await;
        },
    ));
    Ok(Ng { engine, stop, task })
}

/// A one-line summary of the forwarder's sides and the API, for start-up and check-config.
pub fn summary(config: &Config) -> Option<String> {
    let forward = config.forward.as_ref()?;
    let public = &forward.public;
    let enterprise = &forward.enterprise;
    let enterprise_ports = match (enterprise.transport_port, &enterprise.port_range) {
        (Some(port), _) => format!("port {port}"),
        (None, Some(range)) => format!("ports {range}"),
        (None, None) => "-".to_owned(),
    };
    let advertised = public
        .advertised_address
        .map(|a| format!(" (announced as {a})"))
        .unwrap_or_default();
    let connections = if enterprise.connections.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = enterprise
            .connections
            .iter()
            .map(|(name, pinned)| format!("{name}={pinned}"))
            .collect();
        format!("; connections {}", list.join(", "))
    };
    let api = config
        .api
        .as_ref()
        .map(|a| {
            let scheme = if a.tls.is_some() { "https" } else { "http" };
            format!("{scheme}://{}", a.listen)
        })
        .unwrap_or_else(|| "-".to_owned());
    Some(format!(
        "media-edge forwarder: public {} ports {}{advertised}; enterprise {} \
         {enterprise_ports}{connections}; {} workers; api {api}",
        public.address, public.port_range, enterprise.transport_address, forward.workers,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::cli_pins::Pins;

    /// A configuration with `auth` in `[turn.auth]` and `api` in `[api]`.
    fn config(auth: &str, api: &str) -> Config {
        let text = format!(
            "[turn]\nlisten-udp = [\"0.0.0.0:3478\", \"127.0.0.1:3479\"]\n\
             listen-tcp = [\"127.0.0.1:3478\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
             [turn.auth]\n{auth}\n\
             [forward.public]\naddress = \"127.0.0.1\"\nadvertised-address = \"203.0.113.10\"\n\
             port-range = \"40000-40009\"\n[forward.enterprise]\ntransport-address = \
             \"127.0.0.1\"\nport-range = \"40010-40019\"\n[api]\n{api}"
        );
        Config::parse(&text, "test.toml", &Pins::default()).unwrap()
    }

    /// The first shared secret signs; the URIs come from the TURN listeners (an unspecified
    /// address announced as the forwarder's public one) unless `api.turn-uris` names them.
    #[test]
    fn turn_credentials_sign_with_the_first_secret() {
        let secrets =
            "shared-secrets = [\"first-secret-0123456789\", \"second-secret-0123456789\"]";
        let rest = turn_rest(&config(secrets, "")).unwrap();
        assert_eq!(rest.secret, b"first-secret-0123456789");
        assert_eq!(
            rest.uris,
            [
                "turn:203.0.113.10:3478?transport=udp",
                "turn:127.0.0.1:3479?transport=udp",
                "turn:127.0.0.1:3478?transport=tcp"
            ]
        );
        let named = config(secrets, "turn-uris = [\"turns:edge.example.com:5349\"]\n");
        assert_eq!(
            turn_rest(&named).unwrap().uris,
            ["turns:edge.example.com:5349"]
        );
        let users_only = "users = [{ name = \"agent\", password = \"agent-password\" }]";
        assert!(turn_rest(&config(users_only, "")).is_none());
    }
}
