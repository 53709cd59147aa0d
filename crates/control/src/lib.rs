//! The HTTP(S) control API of media-edge: sessions of the forwarder ([`edge_forward::Forwarder`])
//! set up by SDP offer/answer, with bearer-token authentication and JSON errors, behind
//! HTTPS (rustls, certificate re-read on SIGHUP), exact CORS, bans after failed logins and a
//! per-source rate limit ([`guard`]), an inbound client allow-list, and a connection limit
//! per listed client (per source without a list). See [`serve`] for the listener and
//! `gate.rs` for the decisions.
//!
//! ```no_run
//! # async fn demo(relay: edge_forward::Forwarder) -> Result<(), edge_control::Error> {
//! use edge_control::{serve, ApiConfig};
//! let config = ApiConfig::new("127.0.0.1:8080".parse().unwrap(), vec!["0123456789abcdef".into()]);
//! let listener = tokio::net::TcpListener::bind(config.listen).await?;
//! serve(config, listener, relay, std::future::pending()).await
//! # }
//! ```
//!
//! # Endpoints
//! Every request but a CORS preflight carries `Authorization: Bearer <token>`; bodies are
//! JSON, SDP travels as JSON strings.
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `POST /v1/sessions` | `{"offer": "<browser SDP>", "enterprise": {"rtp": "ip:port"} \| {"sdp": "<SDP>"}, "enterprise-srtp": "sdes" \| "none", "strict-source": bool, "connection": "<name>"}` | 201 `{"id", "answer", "enterprise-sdp", "awaiting"?}` |
//! | `POST /v1/sessions` | `{"enterprise-offer": "<enterprise SDP>", "strict-source": bool, "connection": "<name>"}` | 201 `{"id", "offer", "awaiting": "browser-answer"}` |
//! | `POST /v1/sessions/{id}/answer` | `{"answer": "<browser SDP>"}` or `{"enterprise": {...}}` | 200 `{"id", "enterprise-sdp"?, "answer"?}` (`answer`: the browser's answer again, narrowed to the codecs an enterprise SDP answer kept) |
//! | `POST /v1/sessions/{id}/offer` | `{"offer": "<browser re-offer>"}` | 200 `{"id", "answer", "enterprise-sdp"}` |
//! | `POST /v1/sessions/{id}/enterprise` | `{"rtp": "ip:port", ...}` or `{"sdp": "<SDP>"}` | 200 `{"id", "enterprise-sdp"?}` |
//! | `POST /v1/turn-credentials` | `{"user"?, "ttl"?}` or empty | 200 `{"username", "password", "ttl", "uris"}` |
//! | `GET /demo` | (no token, with `api.demo`) | 200 the test-call page |
//! | `GET /v1/sessions` | | 200 `[session, ...]` |
//! | `GET /v1/sessions/{id}` | | 200 `{"id", "state", "reason"?, "age-ms", "awaiting"?, addresses, "counters"}` |
//! | `DELETE /v1/sessions/{id}` | | 204, once the session's ports are free |
//! | `GET /v1/bans` | | 200 `[{"source", "service", "failures", "remaining-seconds"}]` |
//! | `DELETE /v1/bans/{address}` | | 204, or 404 when not banned |
//! | `GET /v1/stats` | | 200 connection and refusal counters |
//!
//! The browser offers: media-edge answers it (ICE-lite, one host candidate for the
//! session's public port, `a=fingerprint:sha-256`, `a=setup:passive` for `actpass`,
//! rtcp-mux, BUNDLE) and writes the enterprise side's SDP (RTP/AVP, or RTP/SAVP with
//! `a=crypto`, from the pinned transport-address). `enterprise` is an address, the
//! enterprise side's SDP (answered), or left out: then `enterprise-sdp` is media-edge's
//! offer and the enterprise answer follows through `/answer`. The enterprise side offers
//! (`enterprise-offer`): media-edge offers to the browser (`a=setup:actpass`), and the
//! browser's answer through `/answer` returns media-edge's answer for the enterprise side.
//!
//! Audio is forwarded: PCMU, PCMA, G722, opus and telephone-event, as offered and accepted
//! by both sides in the same format; each side keeps its own payload-type numbering and the
//! forwarder rewrites the payload type between them (the map and both sides' directions go
//! to it as an [`edge_forward::MediaPlan`]). A video line bundled with the audio one is
//! forwarded too (VP8, H264; each accepted m-line on its own enterprise port pair; see
//! `negotiation/video.rs` for when it is declined); other m-lines (data channels) are
//! answered with port 0.
//!
//! A running call is renegotiated in place: the browser re-offers (hold and resume, codecs,
//! an ICE restart, answered with the relay's new ICE credentials) through `/offer`, the
//! enterprise leg moves (transfer: address, SDES key, payload types, rtcp-mux) through
//! `/enterprise`. What cannot change within a call is refused with the attribute named: the
//! browser's `a=fingerprint`, a payload type's format (RFC 3264 8.3.2), SRTP on the
//! enterprise leg.
//!
//! While its owner drains the process ([`ApiHandle::drain`], served by [`serve_with`]),
//! `POST /v1/sessions` answers 503 `draining` with `Retry-After`; every other request is
//! served, so running sessions can still be completed, read and deleted.
//!
//! Errors are `{"error": "<code>", "detail": "<what is wrong>"}`; an SDP error adds
//! `field` (the JSON field), `m-line` and `attribute`, e.g. `offer, m-line 0 (audio),
//! a=fingerprint: missing (in the m-line and the session): DTLS-SRTP needs it`.
//!
//! # What it does not do
//! No trickle ICE from media-edge (its one candidate is in the SDP), no simulcast, no video
//! toward an address target or offered by the enterprise side, no new DTLS association within a session, no re-offers from media-edge to the browser, no
//! transcoding; no client certificates.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod api;
mod client;
mod config;
mod cors;
mod demo;
mod error;
mod gate;
mod metrics;
mod negotiation;
mod origin;
mod sdp;
mod server;
mod stats;
mod tls;
mod turn;

pub use api::router;
pub use client::ClientAddr;
pub use config::{ApiConfig, Cors, Tls, TurnRest};
/// The ban and rate-limit state of [`ApiConfig::guard`], re-exported for callers that set
/// one up without depending on edge-guard themselves.
pub use edge_guard as guard;
pub use error::{Error, SdpLocation};
pub use metrics::{ApiMetrics, RouteFigures};
pub use negotiation::{
    AnswerRequest, Awaiting, CreateRequest, EnterpriseTarget, Negotiated, Negotiations,
    ReofferRequest, SrtpMode,
};
pub use origin::{InvalidOrigin, Origin};
pub use server::{serve, serve_with, ApiHandle};
pub use tls::Certificates;

/// Entry points for the cargo-fuzz targets in `crates/control/fuzz`; not part of the API.
#[doc(hidden)]
pub mod fuzz {
    use crate::error::SdpLocation;
    use crate::sdp::browser::{BrowserDescription, Kind};
    use crate::sdp::codec::{check_numbering, negotiate};
    use crate::sdp::enterprise::EnterpriseDescription;

    /// Reads `data` as an `Origin` header and as an `api.clients` entry; what parses must
    /// print as something that parses to itself.
    pub fn origin(data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        if let Ok(origin) = text.parse::<crate::Origin>() {
            assert_eq!(
                origin.to_string().parse::<crate::Origin>().ok(),
                Some(origin)
            );
        }
        if let Ok(client) = text.parse::<crate::ClientAddr>() {
            assert_eq!(
                client.to_string().parse::<crate::ClientAddr>().ok(),
                Some(client)
            );
        }
    }

    /// Reads `data` the way requests are read: as a browser offer and answer, as an
    /// enterprise SDP and as an SDES answer, and negotiates codecs (and checks payload-type
    /// numbering) between what parses.
    pub fn sdp(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let at = SdpLocation {
            field: "fuzz",
            media: None,
            attribute: None,
        };
        let offer = BrowserDescription::parse("offer", text, Kind::Offer);
        let _ = BrowserDescription::parse("answer", text, Kind::Answer);
        let sdes = Some((1, edge_srtp::Profile::Aes128CmHmacSha1_80));
        let _ = EnterpriseDescription::parse("enterprise.sdp", text, sdes);
        let enterprise = EnterpriseDescription::parse("enterprise-offer", text, None);
        if let (Ok(offer), Ok(enterprise)) = (offer, enterprise) {
            let acceptable = Some(("enterprise", enterprise.codecs.as_slice()));
            let _ = check_numbering(at.clone(), &offer.codecs, &enterprise.codecs);
            let _ = negotiate(at, &offer.codecs, acceptable);
        }
    }
}
