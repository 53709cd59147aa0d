//! `GET /demo`, the test-call page (`api.demo = true`): one static HTML file with its
//! script inline (plain JavaScript, no framework, no build step, no third-party code). An
//! operator opens it, enters a bearer token, and the page fetches TURN credentials
//! (`POST /v1/turn-credentials`), calls an enterprise RTP echo through media-edge (direct or
//! relay-only ICE), and draws the session's packets, loss, jitter and RTT from
//! `GET /v1/sessions/{id}` on a canvas it draws itself.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The page, `crates/control/demo/index.html`.
const PAGE: &str = include_str!("../demo/index.html");

/// The page, with headers that keep it from being cached, framed or sniffed, and that let
/// it talk to this origin only.
pub(crate) fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'; img-src data:; frame-ancestors 'none'",
            ),
        ],
        PAGE,
    )
        .into_response()
}
