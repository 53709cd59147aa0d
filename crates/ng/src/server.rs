//! The ng listeners: UDP (one datagram, one message), TCP (messages back to back on a
//! stream) and HTTP (`POST /ng`, the message as the body), each behind the same admission
//! as the HTTP API: the `ng.clients` allow-list, the shared guard's bans and its `api`
//! rate limit. A refused or rate-limited message is dropped and counted.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use edge_control::ClientAddr;
use edge_guard::{Guard, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::engine::{Engine, Handled, MAX_MESSAGE};
use crate::metrics::DropReason;
use crate::{Error, NgConfig};

/// Requests handled at once (each on a blocking thread); UDP beyond it is dropped and
/// counted, TCP and HTTP wait.
const IN_FLIGHT: usize = 64;
/// A TCP connection silent this long is closed.
const IDLE: Duration = Duration::from_secs(300);

/// The bound listeners of an `[ng]` section.
#[derive(Debug)]
pub struct Listeners {
    udp: UdpSocket,
    tcp: Option<TcpListener>,
    http: Option<TcpListener>,
}

impl Listeners {
    /// Binds every listener of a validated `config`.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad section, [`Error::Bind`] naming the listener.
    pub async fn bind(config: &NgConfig) -> Result<Listeners, Error> {
        config.validate()?;
        let bind_err = |key, addr| move |source| Error::Bind { key, addr, source };
        let udp = UdpSocket::bind(config.listen)
            .await
            .map_err(bind_err("listen", config.listen))?;
        let tcp = match config.listen_tcp {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(bind_err("listen-tcp", addr))?,
            ),
            None => None,
        };
        let http = match config.listen_http {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(bind_err("listen-http", addr))?,
            ),
            None => None,
        };
        Ok(Listeners { udp, tcp, http })
    }

    /// The bound addresses: UDP, TCP, HTTP.
    pub fn local_addrs(&self) -> (Option<SocketAddr>, Option<SocketAddr>, Option<SocketAddr>) {
        (
            self.udp.local_addr().ok(),
            self.tcp.as_ref().and_then(|t| t.local_addr().ok()),
            self.http.as_ref().and_then(|t| t.local_addr().ok()),
        )
    }
}

/// Who may send.
#[derive(Debug, Clone)]
struct Admission {
    clients: Arc<Vec<ClientAddr>>,
    guard: Guard,
}

impl Admission {
    fn check(&self, peer: SocketAddr) -> Result<(), DropReason> {
        let now = Instant::now();
        if !self.clients.is_empty() && !self.clients.iter().any(|c| c.matches(peer)) {
            return Err(DropReason::Refused);
        }
        if self.guard.is_banned(now, peer.ip()) {
            return Err(DropReason::Refused);
        }
        if !self.guard.allow_request(now, peer.ip(), Service::Api) {
            return Err(DropReason::RateLimited);
        }
        Ok(())
    }
}

#[derive(Clone)]
struct Shared {
    engine: Arc<Engine>,
    admission: Admission,
    slots: Arc<Semaphore>,
}

impl Shared {
    /// Admits and handles one message off the async threads.
    async fn handle(&self, peer: SocketAddr, message: Vec<u8>) -> Option<Vec<u8>> {
        if let Err(reason) = self.admission.check(peer) {
            self.engine.metrics().dropped(reason);
            return None;
        }
        let permit = Arc::clone(&self.slots).acquire_owned().await.ok()?;
        let engine = Arc::clone(&self.engine);
        let handled = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            engine.handle(Instant::now(), &message)
        })
        .await
        .ok()?;
        match handled {
            Handled::Reply(reply) => Some(reply),
            Handled::Dropped(_) => None,
        }
    }
}

/// Serves `listeners` until `shutdown` completes. `clients` and `guard` decide who is
/// served (the guard shared with the API and TURN: a source banned there is banned here).
pub async fn serve(
    listeners: Listeners,
    engine: Arc<Engine>,
    clients: Vec<ClientAddr>,
    guard: Guard,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let shared = Shared {
        engine,
        admission: Admission {
            clients: Arc::new(clients),
            guard,
        },
        slots: Arc::new(Semaphore::new(IN_FLIGHT)),
    };
    let (stop, stopping) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tasks.spawn(udp(listeners.udp, shared.clone(), stopping.clone()));
    if let Some(tcp) = listeners.tcp {
        tasks.spawn(tcp_accept(tcp, shared.clone(), stopping.clone()));
    }
    if let Some(http) = listeners.http {
        tasks.spawn(http_serve(http, shared, stopping));
    }
    shutdown.await;
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
}

async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

async fn udp(socket: UdpSocket, shared: Shared, mut stopping: watch::Receiver<bool>) {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let (n, peer) = tokio::select! {
            () = stopped(&mut stopping) => return,
            received = socket.recv_from(&mut buf) => match received {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!("ng udp receive: {e}");
                    continue;
                }
            },
        };
        if shared.slots.available_permits() == 0 {
            shared.engine.metrics().dropped(DropReason::Busy);
            continue;
        }
        let message = buf[..n].to_vec();
        let (shared, socket) = (shared.clone(), Arc::clone(&socket));
        tokio::spawn(async move {
            if let Some(reply) = shared.handle(peer, message).await {
                if let Err(e) = socket.send_to(&reply, peer).await {
                    tracing::debug!("ng udp reply to {peer}: {e}");
                }
            }
        });
    }
}

async fn tcp_accept(listener: TcpListener, shared: Shared, mut stopping: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stopped(&mut stopping) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if let Err(reason) = shared.admission.check(peer) {
                        shared.engine.metrics().dropped(reason);
                        continue;
                    }
                    connections.spawn(tcp_connection(stream, peer, shared.clone()));
                }
                Err(e) => {
                    tracing::debug!("ng tcp accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

/// Where the first whole message of a stream ends: `Ok(None)` until it is complete,
/// `Err(end)` when it is malformed (handled up to `end` for its error reply, then the
/// connection is closed).
fn message_end(buf: &[u8]) -> Result<Option<usize>, usize> {
    let Some(space) = buf.iter().position(|&b| b == b' ') else {
        return if buf.len() > crate::engine::MAX_COOKIE {
            Err(buf.len())
        } else {
            Ok(None)
        };
    };
    match crate::Value::prefix_len(&buf[space + 1..]) {
        Ok(Some(len)) => Ok(Some(space + 1 + len)),
        Ok(None) => Ok(None),
        Err(_) => Err(buf.len()),
    }
}

async fn tcp_connection(mut stream: TcpStream, peer: SocketAddr, shared: Shared) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16_384];
    loop {
        // Whole messages first: several may have come in one read.
        loop {
            let (end, last) = match message_end(&buf) {
                Ok(Some(end)) => (end, false),
                Ok(None) if buf.len() >= MAX_MESSAGE => (buf.len(), true),
                Ok(None) => break,
                Err(end) => (end, true),
            };
            let message: Vec<u8> = buf.drain(..end).collect();
            if let Some(reply) = shared.handle(peer, message).await {
                if stream.write_all(&reply).await.is_err() {
                    return;
                }
            }
            if last {
                return;
            }
        }
        let read = tokio::time::timeout(IDLE, stream.read(&mut chunk)).await;
        match read {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
}

async fn http_serve(listener: TcpListener, shared: Shared, mut stopping: watch::Receiver<bool>) {
    let router = Router::new()
        .route("/ng", post(http_ng))
        .layer(DefaultBodyLimit::max(MAX_MESSAGE))
        .with_state(shared);
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, service)
        .with_graceful_shutdown(async move { stopped(&mut stopping).await })
        .await;
    if let Err(e) = served {
        tracing::warn!("ng http: {e}");
    }
}

async fn http_ng(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    match shared.handle(peer, body.to_vec()).await {
        Some(reply) => (
            [(header::CONTENT_TYPE, "application/x-rtpengine-ng")],
            reply,
        )
            .into_response(),
        None => StatusCode::FORBIDDEN.into_response(),
    }
}
