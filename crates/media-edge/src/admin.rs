//! The admin listener (`[admin]`): `GET /metrics` (Prometheus text, or OpenMetrics when the
//! `Accept` header asks for it), `GET /healthz` (the process and its threads are alive) and
//! `GET /readyz` (every listener bound and not draining). No token and no secrets in any
//! answer; `HEAD` too; any other method 405, a request with a body 413, any other path 404.
//! Each request passes the shared guard first, as the API's do: a banned source gets 403, a
//! source over its `api` rate limit 429 (the admin listener spends the same per-source
//! bucket as the API). HTTP/1.1 only, plain on loopback, HTTPS with `admin.tls` (the
//! control API's certificate loader).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use edge_control::Certificates;
use edge_forward::Forwarder;
use edge_guard::Guard;
use edge_turn::SnapshotReader;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinHandle;

use crate::config::Admin;
use crate::lifecycle::Lifecycle;

/// Most admin connections open at once; the next waits in the kernel's backlog.
const MAX_CONNECTIONS: usize = 64;
/// Longest a client may take to send a request's headers, or a TLS handshake.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The OpenMetrics text content type.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What `/healthz` checks: the TURN loop and the forwarder's worker threads.
pub struct Health {
    /// The TURN service's liveness.
    pub turn: SnapshotReader,
    /// The forwarder, when configured.
    pub relay: Option<Forwarder>,
}

impl Health {
    /// `None` when alive, else what is not.
    fn problem(&self) -> Option<&'static str> {
        if !self.turn.is_alive() {
            return Some("the TURN event loop stopped");
        }
        if self.relay.as_ref().is_some_and(|r| !r.workers_alive()) {
            return Some("a forwarder worker stopped");
        }
        None
    }
}

/// Everything a request handler reads.
struct State {
    registry: Registry,
    health: Health,
    lifecycle: Arc<Lifecycle>,
    guard: Guard,
}

/// Starts the admin listener of `config` over the running services, or returns `None`
/// without an `[admin]` section.
pub async fn start(
    config: &crate::config::Config,
    service: &edge_turn::Service,
    media: Option<&crate::media_services::Media>,
    lifecycle: &Arc<Lifecycle>,
    guard: &Guard,
) -> anyhow::Result<Option<AdminServer>> {
    let Some(admin) = &config.admin else {
        return Ok(None);
    };
    let relay = media.map(crate::media_services::Media::relay);
    let sources = crate::metrics::Sources {
        turn: service.reader(),
        turn_ports: config.turn.relay.port_range.len() as u64,
        relay: relay.cloned(),
        api: media.and_then(|m| m.api_metrics().cloned()),
        ng: media.and_then(crate::media_services::Media::ng_metrics),
        guard: guard.clone(),
        lifecycle: lifecycle.clone(),
    };
    let health = Health {
        turn: service.reader(),
        relay: relay.cloned(),
    };
    let registry = crate::metrics::registry(sources);
    AdminServer::start(admin, registry, health, lifecycle.clone(), guard.clone())
        .await
        .map(Some)
}

/// The running admin listener.
pub struct AdminServer {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl AdminServer {
    /// Binds `config.listen` and serves. Must run inside the tokio runtime that is to serve.
    pub async fn start(
        config: &Admin,
        registry: Registry,
        health: Health,
        lifecycle: Arc<Lifecycle>,
        guard: Guard,
    ) -> anyhow::Result<AdminServer> {
        let tls = match &config.tls {
            Some(files) => Some(Arc::new(
                Certificates::load(files).map_err(|e| anyhow!("admin.{e}"))?,
            )),
            None => None,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("admin.listen: cannot bind {}", config.listen))?;
        let local = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!("admin listener: {scheme}://{local} (/metrics, /healthz, /readyz)");
        let state = Arc::new(State {
            registry,
            health,
            lifecycle,
            guard,
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, tls, state, stopped));
        Ok(AdminServer { stop, task })
    }

    /// Stops accepting, ends open connections and waits for the task.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn serve(
    listener: TcpListener,
    tls: Option<Arc<Certificates>>,
    state: Arc<State>,
    mut stopped: oneshot::Receiver<()>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = &mut stopped => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::debug!("admin listener: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // A banned source is closed at accept, before TLS.
        if state.guard.is_banned(Instant::now(), peer.ip()) {
            continue;
        }
        let state = state.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            let _permit = permit;
            match tls {
                None => connection(TokioIo::new(stream), peer, state).await,
                Some(tls) => {
                    let handshake =
                        tokio::time::timeout(HEADER_TIMEOUT, tls.acceptor().accept(stream));
                    if let Ok(Ok(stream)) = handshake.await {
                        connection(TokioIo::new(stream), peer, state).await;
                    }
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    connections.shutdown().await;
}

async fn connection<I>(io: TokioIo<I>, peer: SocketAddr, state: Arc<State>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let answer = handle(&state, peer, &req);
        async move { Ok::<_, Infallible>(answer) }
    });
    let result = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(io, service)
        .await;
    if let Err(e) = result {
        tracing::debug!(%peer, "admin connection ended: {e}");
    }
}

/// Answers one request.
fn handle<B>(state: &State, peer: SocketAddr, req: &Request<B>) -> Response<Full<Bytes>> {
    let now = Instant::now();
    let guard = &state.guard;
    if guard.is_banned(now, peer.ip()) {
        return close(plain(StatusCode::FORBIDDEN, "request refused\n"));
    }
    if !guard.allow_request(now, peer.ip(), edge_guard::Service::Api) {
        let mut answer = plain(StatusCode::TOO_MANY_REQUESTS, "too many requests\n");
        let retry = guard.config().rate.api.retry_after();
        answer
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry));
        return answer;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut answer = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        answer
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return answer;
    }
    if has_body(req) {
        return close(plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request bodies are refused\n",
        ));
    }
    let mut answer = match req.uri().path() {
        "/metrics" => metrics(state, req),
        "/healthz" => match state.health.problem() {
            None => plain(StatusCode::OK, "ok\n"),
            Some(problem) => plain(StatusCode::SERVICE_UNAVAILABLE, &format!("{problem}\n")),
        },
        "/readyz" if state.lifecycle.is_ready() => plain(StatusCode::OK, "ready\n"),
        "/readyz" if state.lifecycle.is_draining() => {
            plain(StatusCode::SERVICE_UNAVAILABLE, "draining\n")
        }
        "/readyz" => plain(StatusCode::SERVICE_UNAVAILABLE, "starting\n"),
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    };
    if req.method() == Method::HEAD {
        *answer.body_mut() = Full::new(Bytes::new());
    }
    answer
}

/// Whether the request carries (or announces) a body.
fn has_body<B>(req: &Request<B>) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// The exposition: OpenMetrics when `Accept` names it, Prometheus text 0.0.4 otherwise.
fn metrics<B>(state: &State, req: &Request<B>) -> Response<Full<Bytes>> {
    let openmetrics = req
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let mut body = String::with_capacity(16 * 1024);
    let (encoded, content_type) = if openmetrics {
        (text::encode(&mut body, &state.registry), OPENMETRICS)
    } else {
        (
            prometheus_text::encode(&mut body, &state.registry),
            prometheus_text::CONTENT_TYPE,
        )
    };
    if encoded.is_err() {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n");
    }
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    answer
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    answer
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut answer = Response::new(Full::new(Bytes::from(text.to_owned())));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    answer
}

/// Asks hyper to close the connection after this answer (an unread body, a banned source).
fn close(mut answer: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    answer
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    answer
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn get(path: &str) -> Request<()> {
        Request::get(path).body(()).unwrap()
    }

    /// The status and the text of an answer (a `Full` body is ready at once).
    fn body(answer: Response<Full<Bytes>>) -> (StatusCode, String) {
        use http_body_util::BodyExt as _;
        let status = answer.status();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = runtime.block_on(answer.into_body().collect()).unwrap();
        (
            status,
            String::from_utf8(bytes.to_bytes().to_vec()).unwrap(),
        )
    }

    /// `/readyz` follows the lifecycle (starting, ready, draining); `/healthz` turns 503
    /// once the TURN loop is gone.
    #[test]
    fn probes_follow_lifecycle_and_threads() {
        let mut server = edge_turn::ServerConfig::new("test", "127.0.0.1".parse().unwrap());
        server.port_range = "47000-47009".parse().unwrap();
        server.users = vec![("user".into(), "password".into())];
        server.nonce_secret = b"admin-test-nonce-secret".to_vec();
        let mut config = edge_turn::ServiceConfig::new(server);
        config.udp = vec!["127.0.0.1:0".parse().unwrap()];
        let service = edge_turn::Service::start(config).unwrap();
        let lifecycle = Arc::new(Lifecycle::default());
        let mut guard_config = edge_guard::GuardConfig::default();
        guard_config.rate.api.burst = 1000;
        let state = State {
            registry: Registry::default(),
            health: Health {
                turn: service.reader(),
                relay: None,
            },
            lifecycle: lifecycle.clone(),
            guard: Guard::new(guard_config).unwrap(),
        };
        let peer: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let ask = |path: &str| body(handle(&state, peer, &get(path)));

        assert_eq!(
            ask("/readyz"),
            (StatusCode::SERVICE_UNAVAILABLE, "starting\n".into())
        );
        lifecycle.mark_bound();
        assert_eq!(ask("/readyz"), (StatusCode::OK, "ready\n".into()));
        assert!(lifecycle.start_draining());
        assert_eq!(
            ask("/readyz"),
            (StatusCode::SERVICE_UNAVAILABLE, "draining\n".into())
        );

        assert_eq!(ask("/healthz"), (StatusCode::OK, "ok\n".into()));
        service.shutdown().unwrap();
        assert_eq!(
            ask("/healthz"),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the TURN event loop stopped\n".into()
            )
        );
    }
}
