//! The listener: accepts connections through the [gate](crate::gate), speaks TLS when
//! configured, serves HTTP/1.1 and HTTP/2 (hyper-util's auto builder), re-reads the
//! certificate on SIGHUP, sweeps the guard, and shuts down gracefully.

use std::future::{pending, Future};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use edge_forward::Forwarder;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api;
use crate::client::Slot;
use crate::gate::Gate;
use crate::tls::Certificates;
use crate::{ApiConfig, Error};

/// How often the guard forgets expired bans, failures and rate buckets.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// Longest a TLS handshake may take before the connection is closed.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest an HTTP/1 client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves the control API on `listener` until `shutdown` completes, then finishes the
/// requests in flight (idle connections are closed, new ones no longer accepted).
///
/// HTTPS when `config.tls` is set (the files are re-read on SIGHUP: new connections get the
/// new certificate; a file that does not load keeps the old one and logs an error naming
/// it); plain HTTP otherwise, only on a loopback address unless `allow-insecure-http`. What
/// it serves is logged at start. Connections from sources not in `clients`, from banned
/// sources, beyond `max-connections-per-client` (per listed client, or per source without
/// a list), or beyond `max-connections` (all sources together) are closed at accept, before TLS, and counted (`GET /v1/stats`). The guard is
/// swept every 5 s.
///
/// # Errors
/// [`Error::Config`] naming a bad key (the listener's own address is checked like
/// `api.listen`, and the TLS files are read); [`Error::Io`] when the listener or the SIGHUP
/// handler cannot be set up.
pub async fn serve(
    config: ApiConfig,
    listener: TcpListener,
    relay: Forwarder,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    run(config, listener, relay, shutdown, None).await
}

/// [`serve`], controlled by its caller through `handle` (drain, reload) instead of reading
/// SIGHUP itself: the caller owns the signals and calls [`ApiHandle::reload`].
///
/// # Errors
/// As [`serve`].
pub async fn serve_with(
    config: ApiConfig,
    listener: TcpListener,
    relay: Forwarder,
    shutdown: impl Future<Output = ()> + Send + 'static,
    handle: ApiHandle,
) -> Result<(), Error> {
    run(config, listener, relay, shutdown, Some(handle)).await
}

/// Live controls of an API served by [`serve_with`], for the process's signal handlers.
/// Cheap to clone; calls made before the API serves take effect when it starts (a drain)
/// or return [`Error::Config`] (a reload: nothing to reload yet).
#[derive(Debug, Clone, Default)]
pub struct ApiHandle {
    inner: Arc<HandleInner>,
}

#[derive(Debug, Default)]
struct HandleInner {
    served: OnceLock<(Arc<Gate>, Option<Arc<Certificates>>)>,
    drain: OnceLock<Duration>,
}

impl ApiHandle {
    /// Starts a drain: `POST /v1/sessions` answers 503 `draining` with
    /// `Retry-After: retry_after` (whole seconds, at least 1); the running sessions stay
    /// reachable (`GET`, `/answer`, `DELETE`).
    pub fn drain(&self, retry_after: Duration) {
        let _ = self.inner.drain.set(retry_after);
        if let Some((gate, _)) = self.inner.served.get() {
            gate.drain(retry_after);
        }
    }

    /// Applies what can change live from a validated `config` (tokens, CORS whitelist, `demo`,
    /// the TURN REST secret and URIs, clients and connection limits, to the next request or connection) and re-reads the
    /// certificate files of `api.tls`: new connections get the new certificate; one that
    /// does not load keeps the previous one. Connections already open are untouched.
    /// `listen`, `tls` (its file names), `allow-insecure-http` and `max-body` need a
    /// restart: the caller compares them.
    ///
    /// # Errors
    /// [`Error::Config`] naming a bad key (nothing is changed then), or naming the
    /// certificate file that did not load (everything else is applied).
    pub fn reload(&self, config: &ApiConfig) -> Result<(), Error> {
        config.validate()?;
        let Some((gate, tls)) = self.inner.served.get() else {
            return Err(Error::Config {
                key: "listen",
                reason: "the API is not serving yet".into(),
            });
        };
        gate.reload(config);
        match tls {
            Some(tls) => tls.reload(),
            None => Ok(()),
        }
    }
}

async fn run(
    config: ApiConfig,
    listener: TcpListener,
    relay: Forwarder,
    shutdown: impl Future<Output = ()> + Send + 'static,
    handle: Option<ApiHandle>,
) -> Result<(), Error> {
    let (router, gate) = api::build(&config, relay)?;
    let local = listener.local_addr()?;
    config.check_plain_http(local)?;
    let tls = match &config.tls {
        Some(files) => Some(Arc::new(Certificates::load(files)?)),
        None => None,
    };
    // Without a handle the API reloads its own certificate on SIGHUP.
    let mut hangup = match (&tls, &handle) {
        (Some(_), None) => Some(signal(SignalKind::hangup())?),
        _ => None,
    };
    if let Some(handle) = &handle {
        let _ = handle.inner.served.set((Arc::clone(&gate), tls.clone()));
        if let Some(&retry_after) = handle.inner.drain.get() {
            gate.drain(retry_after);
        }
    }
    announce(&config, local, handle.is_some());

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    let (stop, stopping) = watch::channel(());
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // A refused connection is dropped here: closed before any TLS.
                    if let Some(slot) = gate.admit_connection(Instant::now(), peer) {
                        connections.spawn(connection(Connection {
                            stream,
                            peer,
                            slot,
                            tls: tls.clone(),
                            router: router.clone(),
                            builder: builder.clone(),
                            stopping: stopping.clone(),
                            gate: Arc::clone(&gate),
                        }));
                    }
                }
                Err(e) => accept_failed(e).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = sweep.tick() => gate.guard.sweep(Instant::now()),
            () = hangup_received(&mut hangup) => {
                if let Some(tls) = &tls {
                    let _ = tls.reload();
                }
            }
        }
    }
    drop(listener);
    // Every connection task sees the change: idle ones close, busy ones finish.
    let _ = stop.send(());
    while connections.join_next().await.is_some() {}
    tracing::info!("control API on {local} stopped");
    Ok(())
}

/// Logs what is served where.
fn announce(config: &ApiConfig, local: SocketAddr, handled: bool) {
    let reread = if handled {
        "re-read on reload"
    } else {
        "re-read on SIGHUP"
    };
    let (max, total) = (config.max_connections_per_client, config.max_connections);
    let clients = match config.clients.len() {
        0 => format!("any client, {max} connections per source, {total} in all"),
        n => format!("{n} listed clients, {max} connections each, {total} in all"),
    };
    match &config.tls {
        Some(files) => tracing::info!(
            "control API: https://{local} (HTTP/1.1 and HTTP/2, certificate {}, {reread}); \
             {clients}",
            files.certificate.display()
        ),
        None if local.ip().to_canonical().is_loopback() => {
            tracing::info!("control API: plain HTTP on {local} (loopback only); {clients}")
        }
        None => tracing::warn!(
            "control API: plain HTTP on {local}, not loopback (api.allow-insecure-http = true): \
             bearer tokens travel in the clear; {clients}"
        ),
    }
}

/// Waits for SIGHUP; never completes without a handler.
async fn hangup_received(hangup: &mut Option<Signal>) {
    let received = match hangup {
        Some(signal) => signal.recv().await.is_some(),
        None => false,
    };
    if !received {
        pending::<()>().await;
    }
}

/// A failed accept: the peer's own trouble is ignored; anything else (out of file
/// descriptors, say) is logged and the loop pauses so it cannot spin.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!("control API: accept failed: {e}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One admitted connection and what serving it takes.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    /// Given back when this is dropped, however the connection ends.
    slot: Slot,
    tls: Option<Arc<Certificates>>,
    router: Router,
    builder: auto::Builder<TokioExecutor>,
    stopping: watch::Receiver<()>,
    gate: Arc<Gate>,
}

/// Serves one connection: the TLS handshake (bounded in time, abandoned at shutdown), then
/// HTTP until the client leaves or shutdown.
async fn connection(mut c: Connection) {
    let _slot = c.slot;
    // Small JSON answers: no Nagle delay.
    let _ = c.stream.set_nodelay(true);
    let Some(tls) = c.tls else {
        return http(
            TokioIo::new(c.stream),
            c.peer,
            c.router,
            &c.builder,
            c.stopping,
        )
        .await;
    };
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor().accept(c.stream));
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return c.gate.tls_failed(Instant::now(), c.peer, e),
            Err(_) => return c.gate.tls_failed(Instant::now(), c.peer, "handshake timed out"),
        },
        _ = c.stopping.changed() => return,
    };
    http(
        TokioIo::new(stream),
        c.peer,
        c.router,
        &c.builder,
        c.stopping,
    )
    .await;
}

/// HTTP/1.1 or HTTP/2 (by ALPN or preface) on `io`; each request carries the client's
/// address as `ConnectInfo` for the gate.
async fn http<I>(
    io: TokioIo<I>,
    peer: SocketAddr,
    router: Router,
    builder: &auto::Builder<TokioExecutor>,
    mut stopping: watch::Receiver<()>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        tower::Service::call(&mut router.clone(), req)
    });
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = stopping.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, "control API connection ended: {e}");
    }
}
