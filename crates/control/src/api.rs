//! The HTTP side: routes, handlers and JSON bodies, behind the [gate](crate::gate).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use edge_forward::Forwarder;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::gate::{self, Gate};
use crate::negotiation::{
    AnswerRequest, CreateRequest, EnterpriseTarget, Negotiations, ReofferRequest,
};
use crate::turn::TurnRequest;
use crate::{ApiConfig, Error};

/// What every handler shares.
struct Shared {
    negotiations: Negotiations,
    gate: Arc<Gate>,
    max_body: usize,
}

type AppState = State<Arc<Shared>>;

/// The control API as an axum [`Router`], for a caller that runs its own server. The
/// configuration is validated first.
///
/// Bans and rate limits need the client's address: serve the router with
/// `into_make_service_with_connect_info::<SocketAddr>()` (requests without
/// `ConnectInfo<SocketAddr>` get 500). [`serve`](crate::serve) adds what a bare router
/// lacks: HTTPS, the client allow-list and connection limits at accept, and the guard's
/// periodic sweep.
///
/// # Errors
/// [`Error::Config`] naming a bad key.
pub fn router(config: &ApiConfig, relay: Forwarder) -> Result<Router, Error> {
    Ok(build(config, relay)?.0)
}

/// The router and its gate, which [`serve`](crate::serve) also consults at accept.
pub(crate) fn build(config: &ApiConfig, relay: Forwarder) -> Result<(Router, Arc<Gate>), Error> {
    config.validate()?;
    let gate = Arc::new(Gate::new(config)?);
    let shared = Arc::new(Shared {
        negotiations: Negotiations::new(relay),
        gate: Arc::clone(&gate),
        max_body: config.max_body,
    });
    let router = Router::new()
        .route("/v1/sessions", post(create).get(list))
        .route("/v1/sessions/{id}", get(show).delete(remove))
        .route("/v1/sessions/{id}/answer", post(answer))
        .route("/v1/sessions/{id}/offer", post(reoffer))
        .route("/v1/sessions/{id}/enterprise", post(enterprise))
        .route("/v1/turn-credentials", post(turn_credentials))
        .route("/demo", get(demo))
        .route("/v1/bans", get(bans))
        .route("/v1/bans/{address}", delete(lift))
        .route("/v1/stats", get(stats))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&gate),
            gate::admit_request,
        ))
        .layer(DefaultBodyLimit::max(config.max_body));
    let router = match &config.metrics {
        Some(metrics) => router.layer(middleware::from_fn_with_state(
            metrics.clone(),
            crate::metrics::record,
        )),
        None => router,
    };
    Ok((router, gate))
}

/// Reads a JSON body, naming the field that is wrong.
fn json<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<T, Error> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::BodyTooLarge { limit }
        } else {
            Error::Request(rejection.body_text())
        }
    })?;
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            Error::Request(format!("request body: {inner}"))
        } else {
            Error::Request(format!("request body, {path}: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| Error::Request(format!("request body: {e}")))?;
    Ok(value)
}

async fn create(
    State(shared): AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    shared.gate.check_open()?;
    let req: CreateRequest = json(body, shared.max_body)?;
    let created = shared.negotiations.create(req)?;
    let location = format!("/v1/sessions/{}", created.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(created),
    )
        .into_response())
}

async fn answer(
    State(shared): AppState,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let req: AnswerRequest = json(body, shared.max_body)?;
    Ok(Json(shared.negotiations.answer(&id, req)?).into_response())
}

async fn reoffer(
    State(shared): AppState,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let req: ReofferRequest = json(body, shared.max_body)?;
    Ok(Json(shared.negotiations.reoffer(&id, req)?).into_response())
}

async fn enterprise(
    State(shared): AppState,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let req: EnterpriseTarget = json(body, shared.max_body)?;
    Ok(Json(shared.negotiations.move_enterprise(&id, req)?).into_response())
}

async fn turn_credentials(
    State(shared): AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let rest = shared.gate.turn().ok_or(Error::TurnNotConfigured)?;
    let empty = body
        .as_ref()
        .is_ok_and(|b| b.iter().all(u8::is_ascii_whitespace));
    let req: TurnRequest = if empty {
        TurnRequest::default()
    } else {
        json(body, shared.max_body)?
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(Json(crate::turn::issue(&rest, req, now)?).into_response())
}

async fn demo(State(shared): AppState) -> Result<Response, Error> {
    if !shared.gate.demo() {
        return Err(Error::DemoDisabled);
    }
    Ok(crate::demo::page())
}

async fn list(State(shared): AppState) -> Response {
    Json(shared.negotiations.list()).into_response()
}

async fn show(State(shared): AppState, Path(id): Path<String>) -> Result<Response, Error> {
    Ok(Json(shared.negotiations.get(&id)?).into_response())
}

async fn remove(State(shared): AppState, Path(id): Path<String>) -> Result<Response, Error> {
    // The forwarder returns once the session's sockets are closed: wait off the runtime.
    let removed = tokio::task::spawn_blocking(move || shared.negotiations.remove(&id))
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))?;
    removed.map(|()| StatusCode::NO_CONTENT.into_response())
}

/// One ban as `GET /v1/bans` lists it.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Ban {
    /// The banned network (`203.0.113.7/32`, or the IPv6 prefix).
    source: String,
    /// The service whose failure started it.
    service: &'static str,
    /// Failures in the window when it started.
    failures: u32,
    /// Seconds until it ends, rounded up.
    remaining_seconds: u64,
}

async fn bans(State(shared): AppState) -> Response {
    let now = Instant::now();
    let bans: Vec<Ban> = shared
        .gate
        .guard
        .bans(now)
        .into_iter()
        .map(|ban| {
            let remaining = ban.until.saturating_duration_since(now);
            Ban {
                source: ban.source.to_string(),
                service: ban.service.as_str(),
                failures: ban.failures,
                remaining_seconds: remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0),
            }
        })
        .collect();
    Json(bans).into_response()
}

async fn lift(State(shared): AppState, Path(address): Path<String>) -> Result<Response, Error> {
    let ip: IpAddr = address
        .parse()
        .map_err(|_| Error::Request(format!("{address:?} is not an IP address")))?;
    if shared.gate.guard.lift(Instant::now(), ip) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Error::NotBanned(ip))
    }
}

async fn stats(State(shared): AppState) -> Response {
    Json(shared.gate.stats(Instant::now())).into_response()
}

async fn no_route(method: Method, uri: Uri) -> Error {
    Error::NoRoute {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> Error {
    Error::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}
