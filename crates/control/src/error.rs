//! The crate's one error type, and how each variant reads as an HTTP answer.

use std::fmt;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use edge_forward::Error as ForwardError;
use serde::Serialize;

/// Where in an SDP something is wrong: the request field it came from, the m-line and the
/// attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SdpLocation {
    /// The JSON field that carried the SDP (`offer`, `answer`, `enterprise-offer`,
    /// `enterprise.sdp`).
    pub field: &'static str,
    /// The m-line (0-based) and its media kind, when the problem is inside one.
    pub media: Option<(usize, String)>,
    /// The attribute or line (`a=fingerprint`, `c=`), when one is to blame.
    pub attribute: Option<&'static str>,
}

impl fmt::Display for SdpLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.field)?;
        if let Some((index, kind)) = &self.media {
            write!(f, ", m-line {index} ({kind})")?;
        }
        if let Some(attribute) = self.attribute {
            write!(f, ", {attribute}")?;
        }
        Ok(())
    }
}

/// Why a request, a configuration or the server failed.
///
/// Client mistakes ([`Error::Sdp`], [`Error::Request`], [`Error::Unauthorized`],
/// [`Error::UnknownSession`], [`Error::NotAwaiting`], [`Error::NotBanned`]) are apart from
/// the gate's refusals ([`Error::Banned`], [`Error::RateLimited`], [`Error::Draining`],
/// [`Error::OriginNotAllowed`], [`Error::PreflightRefused`]), the forwarder's refusals
/// ([`Error::Forwarder`]) and the server's own set-up ([`Error::Config`], [`Error::Io`],
/// [`Error::NoClientAddress`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An SDP that does not parse or asks for something media-edge cannot do.
    #[error("{location}: {reason}")]
    Sdp {
        /// Where.
        location: SdpLocation,
        /// What is wrong.
        reason: String,
    },
    /// The request body is not the JSON the endpoint takes; the text names the field.
    #[error("{0}")]
    Request(String),
    /// The request body is larger than `max-body`.
    #[error("the request body exceeds {limit} bytes (api.max-body)")]
    BodyTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// No valid `Authorization: Bearer <token>` header.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The source is banned (after repeated authentication failures); no more is said.
    #[error("request refused")]
    Banned,
    /// The source sent more requests than `rate.api` allows.
    #[error("too many requests from this address: retry in {retry_after} s")]
    RateLimited {
        /// Seconds until the next request is allowed (the `Retry-After` header).
        retry_after: u64,
    },
    /// The service is draining (SIGTERM): no new session here; the `Retry-After` header
    /// says when to ask again, best another instance.
    #[error(
        "draining: no new sessions on this instance; retry in {retry_after} s, best elsewhere"
    )]
    Draining {
        /// Seconds for the `Retry-After` header.
        retry_after: u64,
    },
    /// The request's `Origin` is not in `api.cors.domain-whitelist`.
    #[error("{0}")]
    OriginNotAllowed(String),
    /// A CORS preflight asked for a method or header the API does not take.
    #[error("CORS preflight refused: {0}")]
    PreflightRefused(String),
    /// `DELETE /v1/bans/{address}` for an address that is not banned.
    #[error("{0} is not banned")]
    NotBanned(std::net::IpAddr),
    /// The path names no session (never existed, deleted, or ended and forgotten).
    #[error("no session {0:?}")]
    UnknownSession(String),
    /// The session exists but is not waiting for what was sent.
    #[error("session {id} {state}")]
    NotAwaiting {
        /// The session.
        id: String,
        /// What it is waiting for instead, e.g. `is waiting for the browser's answer`.
        state: String,
    },
    /// `POST /v1/turn-credentials` on an API without a TURN REST shared secret.
    #[error(
        "no TURN REST shared secret: configure [turn.auth] shared-secrets to issue TURN \
         credentials"
    )]
    TurnNotConfigured,
    /// `GET /demo` while `api.demo` is off.
    #[error("the test-call page is off: set api.demo = true to serve it")]
    DemoDisabled,
    /// No route for this method and path.
    #[error("no endpoint {method} {path}")]
    NoRoute {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
    /// The path exists, the method does not.
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
    /// The forwarder refused (session limit, ports exhausted, a bad remote) or failed.
    #[error("forwarder: {0}")]
    Forwarder(#[from] ForwardError),
    /// An `[api]` configuration value is wrong; `key` is its kebab-case name.
    #[error("api.{key}: {reason}")]
    Config {
        /// The key.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The listener failed.
    #[error("control API listener: {0}")]
    Io(#[from] std::io::Error),
    /// The router was served without the client's address (`ConnectInfo<SocketAddr>`), which
    /// bans and rate limits need: serve it with `into_make_service_with_connect_info`.
    #[error("the client's address is unknown: serve the router with ConnectInfo<SocketAddr>")]
    NoClientAddress,
}

impl Error {
    /// An [`Error::Sdp`] at `location`.
    pub(crate) fn sdp(location: SdpLocation, reason: impl Into<String>) -> Self {
        Error::Sdp {
            location,
            reason: reason.into(),
        }
    }

    /// The HTTP status and the short machine-readable code of the `error` field.
    fn status(&self) -> (StatusCode, &'static str) {
        match self {
            Error::Sdp { .. } => (StatusCode::BAD_REQUEST, "invalid-sdp"),
            Error::Request(_) => (StatusCode::BAD_REQUEST, "invalid-request"),
            Error::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large"),
            Error::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::Banned => (StatusCode::FORBIDDEN, "forbidden"),
            Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate-limited"),
            Error::Draining { .. } => (StatusCode::SERVICE_UNAVAILABLE, "draining"),
            Error::OriginNotAllowed(_) => (StatusCode::FORBIDDEN, "origin-not-allowed"),
            Error::PreflightRefused(_) => (StatusCode::FORBIDDEN, "preflight-refused"),
            Error::NotBanned(_) => (StatusCode::NOT_FOUND, "not-banned"),
            Error::UnknownSession(_) => (StatusCode::NOT_FOUND, "unknown-session"),
            Error::NotAwaiting { .. } => (StatusCode::CONFLICT, "not-awaiting"),
            Error::TurnNotConfigured => (StatusCode::NOT_FOUND, "turn-not-configured"),
            Error::DemoDisabled => (StatusCode::NOT_FOUND, "demo-disabled"),
            Error::NoRoute { .. } => (StatusCode::NOT_FOUND, "no-route"),
            Error::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed")
            }
            Error::Forwarder(e) => relay_status(e),
            Error::Config { .. } | Error::Io(_) | Error::NoClientAddress => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

fn relay_status(e: &ForwardError) -> (StatusCode, &'static str) {
    match e {
        ForwardError::InvalidRemote { .. } => (StatusCode::BAD_REQUEST, "invalid-remote"),
        ForwardError::UnknownSession(_) => (StatusCode::NOT_FOUND, "unknown-session"),
        ForwardError::SessionEnded(_) => (StatusCode::CONFLICT, "session-ended"),
        ForwardError::TooManySessions { .. } => {
            (StatusCode::SERVICE_UNAVAILABLE, "too-many-sessions")
        }
        ForwardError::PortsExhausted { .. } => (StatusCode::SERVICE_UNAVAILABLE, "ports-exhausted"),
        ForwardError::Bind { .. } => (StatusCode::SERVICE_UNAVAILABLE, "bind-failed"),
        ForwardError::Stopped => (StatusCode::SERVICE_UNAVAILABLE, "relay-stopped"),
        ForwardError::UnknownConnection { .. } => (StatusCode::BAD_REQUEST, "unknown-connection"),
        ForwardError::ConnectionBusy { .. } => (StatusCode::CONFLICT, "connection-busy"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "relay-failed"),
    }
}

/// The JSON body of every error answer.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Body<'a> {
    error: &'static str,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    m_line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attribute: Option<&'a str>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        // A drain's refusals are expected, and many: the drain's own lines say it.
        if status.is_server_error() && !matches!(self, Error::Draining { .. }) {
            tracing::warn!(error = %self, "control API request failed");
        }
        let location = match &self {
            Error::Sdp { location, .. } => Some(location),
            _ => None,
        };
        let body = Body {
            error: code,
            detail: self.to_string(),
            field: location.map(|l| l.field),
            m_line: location.and_then(|l| l.media.as_ref().map(|m| m.0)),
            attribute: location.and_then(|l| l.attribute),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"media-edge\""),
            );
        }
        if let Error::RateLimited { retry_after } | Error::Draining { retry_after } = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        response
    }
}
