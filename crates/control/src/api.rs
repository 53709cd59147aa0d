//! The HTTP side: routes, bearer-token authentication, JSON bodies, and the listener.

use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use edge_relay::Relay;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

use crate::negotiation::{AnswerRequest, CreateRequest, Negotiations};
use crate::{ApiConfig, Error};

/// What every handler shares.
struct Shared {
    negotiations: Negotiations,
    max_body: usize,
}

type AppState = State<Arc<Shared>>;

/// The control API as an axum [`Router`], for a caller that runs its own server. The
/// configuration is validated first.
///
/// # Errors
/// [`Error::Config`] naming a bad key.
pub fn router(config: &ApiConfig, relay: Relay) -> Result<Router, Error> {
    config.validate()?;
    let shared = Arc::new(Shared {
        negotiations: Negotiations::new(relay),
        max_body: config.max_body,
    });
    let tokens = Arc::new(Tokens(
        config
            .tokens
            .iter()
            .map(|t| t.as_bytes().to_vec())
            .collect(),
    ));
    Ok(Router::new()
        .route("/v1/sessions", post(create).get(list))
        .route("/v1/sessions/{id}", get(show).delete(remove))
        .route("/v1/sessions/{id}/answer", post(answer))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
        // The layer stack, innermost first. Still to come around authentication (issue 6):
        // TLS, the client address filter, bans after repeated authentication failures, CORS.
        .layer(middleware::from_fn_with_state(tokens, authenticate))
        .layer(DefaultBodyLimit::max(config.max_body)))
}

/// Serves the control API on `listener` until `shutdown` completes, then finishes the
/// requests in flight.
///
/// # Errors
/// [`Error::Config`] naming a bad key; [`Error::Io`] when the listener fails.
pub async fn serve(
    config: ApiConfig,
    listener: TcpListener,
    relay: Relay,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let app = router(&config, relay)?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// The accepted bearer tokens.
struct Tokens(Vec<Vec<u8>>);

impl Tokens {
    /// Checks `Authorization: Bearer <token>` against every token in constant time (per
    /// token length).
    fn check(&self, headers: &HeaderMap) -> Result<(), Error> {
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or(Error::Unauthorized(
                "missing Authorization: Bearer <token> header",
            ))?;
        let value = value.as_bytes();
        let presented = value
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
            .and_then(|_| value.get(7..))
            .ok_or(Error::Unauthorized(
                "the Authorization header is not of the Bearer scheme",
            ))?
            .trim_ascii();
        let matched = self.0.iter().fold(subtle::Choice::from(0), |any, token| {
            any | token.ct_eq(presented)
        });
        if bool::from(matched) {
            Ok(())
        } else {
            Err(Error::Unauthorized("the bearer token is not accepted"))
        }
    }
}

async fn authenticate(State(tokens): State<Arc<Tokens>>, req: Request, next: Next) -> Response {
    match tokens.check(req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => {
            tracing::info!(path = %req.uri().path(), error = %e, "control API request refused");
            e.into_response()
        }
    }
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
