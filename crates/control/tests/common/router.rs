//! The API as an axum router over a real forwarder (sockets on loopback), driven
//! in-process: what tests/api.rs and tests/renegotiation.rs share.

use std::io::Cursor;
use std::net::{SocketAddr, UdpSocket};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use edge_control::{router, ApiConfig};
use edge_forward::{EnterpriseSide, ForwardConfig, Forwarder, PortRange, PublicSide};
use http_body_util::BodyExt;
use sdp::SessionDescription;
use serde_json::Value;
use tower::ServiceExt;

pub const TOKEN: &str = "test-token-0123456789";
/// How long a test polls for what must happen: a guard against hanging, never a window.
pub const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(30);

/// aiortc 1.16's offer: one audio track, BUNDLE, rtcp-mux, three fingerprints.
pub const AIORTC_OFFER: &str = "v=0\r\no=- 4004280456 4004280456 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0\r\na=msid-semantic:WMS *\r\nm=audio 46098 UDP/TLS/RTP/SAVPF 96 9 0 8\r\n\
c=IN IP4 127.0.0.1\r\na=sendrecv\r\na=mid:0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=rtcp-mux\r\n\
a=rtpmap:96 opus/48000/2\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=candidate:16572de626da4e5384a0ce2d0d93678a 1 udp 2130706431 127.0.0.1 46098 typ host\r\n\
a=end-of-candidates\r\na=ice-ufrag:HYW7\r\na=ice-pwd:Fq3YpfdicrVJm7memzz2BQ\r\n\
a=fingerprint:sha-256 21:96:60:6D:D2:FD:A6:75:82:AC:34:B5:95:A8:64:56:12:E2:05:21:2E:34:3E:23:52:96:1C:69:C1:89:52:21\r\n\
a=setup:actpass\r\n";

/// A PBX's plain-RTP offer with a session-level `c=`.
pub const PBX_OFFER: &str = "v=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=call\r\nc=IN IP4 127.0.0.1\r\n\
t=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\na=sendrecv\r\n";

pub struct Api {
    pub app: Router,
    pub relay: Forwarder,
    pub public: PortRange,
    pub enterprise: PortRange,
}

/// A forwarder on 127.0.0.1 (public) and 127.0.0.3 (enterprise) with its own port ranges,
/// and the API over it.
pub fn api(slot: u16, max_sessions: usize) -> Api {
    api_with(slot, max_sessions, |_| {})
}

/// [`api`] with the forwarder's configuration adjusted by `adjust`.
pub fn api_with(slot: u16, max_sessions: usize, adjust: impl FnOnce(&mut ForwardConfig)) -> Api {
    api_on(slot, max_sessions, ("127.0.0.1", "127.0.0.3"), adjust)
}

/// [`api_with`] with the public and the enterprise address given.
pub fn api_on(
    slot: u16,
    max_sessions: usize,
    addresses: (&str, &str),
    adjust: impl FnOnce(&mut ForwardConfig),
) -> Api {
    build(slot, max_sessions, addresses, adjust, |_| {})
}

/// [`api`] with the API's configuration adjusted by `adjust`.
pub fn api_configured(slot: u16, adjust: impl FnOnce(&mut ApiConfig)) -> Api {
    build(slot, 4, ("127.0.0.1", "127.0.0.3"), |_| {}, adjust)
}

fn build(
    slot: u16,
    max_sessions: usize,
    (public_ip, enterprise_ip): (&str, &str),
    adjust: impl FnOnce(&mut ForwardConfig),
    adjust_api: impl FnOnce(&mut ApiConfig),
) -> Api {
    let base = 48_000 + slot * 40;
    let public = PortRange::new(base, base + 9).unwrap();
    let enterprise = PortRange::new(base + 20, base + 39).unwrap();
    let mut config = ForwardConfig::new(
        PublicSide::new(public_ip.parse().unwrap(), public),
        EnterpriseSide::new(enterprise_ip.parse().unwrap(), enterprise),
    );
    config.workers = 1;
    config.max_sessions = max_sessions;
    adjust(&mut config);
    let cert = edge_dtls::Certificate::generate().unwrap();
    let dtls = edge_dtls::ConfigBuilder::new(cert).build().unwrap();
    let relay = Forwarder::start(config, dtls).unwrap();
    let mut api_config = ApiConfig::new("127.0.0.1:0".parse().unwrap(), vec![TOKEN.into()]);
    // These tests send bad tokens on purpose; bans have their own tests (tests/guard.rs).
    let guard = edge_control::guard::GuardConfig {
        max_failures: 64,
        ..Default::default()
    };
    api_config.guard = Some(edge_control::guard::Guard::new(guard).unwrap());
    adjust_api(&mut api_config);
    Api {
        app: router(&api_config, relay.clone()).unwrap(),
        relay,
        public,
        enterprise,
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self.relay.clone().shutdown();
    }
}

impl Api {
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.raw(method, path, Some(TOKEN), body.map(|b| b.to_string()))
            .await
    }

    /// Sends `req` as if from a client on 127.0.0.1 (what a server adds as `ConnectInfo`).
    pub async fn send(&self, mut req: Request<Body>) -> axum::response::Response {
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 50_000))));
        self.app.clone().oneshot(req).await.unwrap()
    }

    /// The answer's status, headers and body as text.
    pub async fn text(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = self.send(req.body(Body::empty()).unwrap()).await;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = req.body(body.map(Body::from).unwrap_or_default()).unwrap();
        let response = self.send(req).await;
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
        };
        (status, value)
    }
}

pub fn parse_sdp(text: &str) -> SessionDescription {
    SessionDescription::unmarshal(&mut Cursor::new(text.as_bytes())).unwrap()
}

pub fn attr<'a>(sdp: &'a SessionDescription, media: usize, key: &str) -> Option<&'a str> {
    sdp.media_descriptions[media]
        .attribute(key)
        .map(|v| v.unwrap_or_default())
}

pub fn port_in_use(addr: SocketAddr) -> bool {
    UdpSocket::bind(addr).is_err()
}
