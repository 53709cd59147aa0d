//! rtpengine's "ng" control protocol for media-edge: a SIP proxy (Kamailio's or OpenSIPS's
//! `rtpengine` module) drives media-edge as its media proxy.
//!
//! A message is `<cookie> <bencoded dictionary>`; the reply repeats the cookie. The
//! commands `ping`, `offer`, `answer`, `delete`, `query`, `list` and `statistics` are
//! served over UDP, TCP and HTTP (`POST /ng`) ([`serve`]); a retransmitted request gets
//! the cached reply ([`cache`]). A call (call-id, from-tag, to-tag) is one media-edge
//! session, made through edge-control's offer/answer code, so `GET /v1/sessions` lists it
//! ([`Engine`]). The SDP's protocol says which side it comes from: `UDP/TLS/RTP/SAVPF` is
//! the public side (browsers), `RTP/AVP` or `RTP/SAVP` the enterprise side; media-edge
//! writes the SDP for the other side.
//!
//! # What it does not do
//! A changed re-offer on an answered call renegotiates through the API's code (the
//! browser's: hold, resume, ICE restart; the enterprise side's: a transfer, a re-INVITE);
//! a repeat of the same offer or answer gets the same SDP. An enterprise re-offer does not
//! reach the browser's SDP: it gets the SDP in force again (its transport is unchanged), so
//! a direction the enterprise side sets is not mirrored in it. No forked answers, no transcoding or codec flags, no recording, no media playback, no
//! `delete-delay` (ports are freed at once). Any key, flag or value it does not support is
//! refused by name in `error-reason`, never ignored.

#![forbid(unsafe_code)]

pub mod bencode;
pub mod cache;
mod config;
mod engine;
mod error;
pub mod metrics;
mod query;
pub mod request;
mod server;

pub use bencode::{DecodeError, Value};
pub use config::NgConfig;
pub use engine::{Engine, Handled, LOAD_LIMIT, MAX_COOKIE, MAX_MESSAGE};
pub use error::Error;
pub use metrics::NgMetrics;
pub use server::{serve, Listeners};

/// Entry point for the cargo-fuzz target in `crates/ng/fuzz`; not part of the API.
#[doc(hidden)]
pub mod fuzz {
    use crate::{request::Request, Value};

    /// Reads `data` as an ng message body the way the engine does (bencode, then the
    /// request), and as the start of a TCP stream; what decodes must encode to bytes that
    /// decode to the same value.
    pub fn message(data: &[u8]) {
        let _ = Value::prefix_len(data);
        if let Ok(value) = Value::decode(data) {
            let _ = Request::parse(&value);
            let mut encoded = Vec::new();
            value.encode(&mut encoded);
            assert_eq!(Value::decode(&encoded).ok(), Some(value));
        }
    }
}
