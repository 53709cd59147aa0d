//! Session set-up through the control API: what an operator's signalling pays per call.
//!
//! Each iteration sets up one session and tears it down again, with the forwarder and the
//! API running in-process on loopback (one data-plane worker). Side by side in one run:
//!
//! - `api_offer_answer_delete`: `POST /v1/sessions` with aiortc's offer and an enterprise
//!   address over a keep-alive HTTP/1.1 connection (JSON, SDP parse, codec negotiation,
//!   both SDPs written), then `DELETE /v1/sessions/{id}`, which returns once the ports are
//!   free;
//! - `relay_create_remove`: the forwarder alone, `Forwarder::create_session` then
//!   `Forwarder::remove_session` with the same remotes: the floor the API adds to.
//!
//! Both bind three sockets (public; enterprise RTP and RTCP) and close them per iteration.
//! Run: `cargo bench --bench control_api`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use edge_forward::{BrowserRemote, EnterpriseRemote, SessionSpec};
use edge_suite::media::{ApiClient, MediaEdge, AIORTC_OFFER};

fn session_setup(c: &mut Criterion) {
    let edge = MediaEdge::start(9);
    let mut client = ApiClient::connect(edge.api);
    let create = serde_json::json!({
        "offer": AIORTC_OFFER,
        "enterprise": {"rtp": "127.0.0.1:40000"},
    })
    .to_string();

    let mut group = c.benchmark_group("session_setup");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("api_offer_answer_delete", |b| {
        b.iter(|| {
            let (status, body) = client.request("POST", "/v1/sessions", Some(&create));
            assert_eq!(status, 201, "{body}");
            let created: serde_json::Value = serde_json::from_str(&body).unwrap();
            let id = created["id"].as_str().unwrap();
            let (status, body) = client.request("DELETE", &format!("/v1/sessions/{id}"), None);
            assert_eq!(status, 204, "{body}");
        })
    });
    let fingerprint = "sha-256 21:96:60:6D:D2:FD:A6:75:82:AC:34:B5:95:A8:64:56:12:E2:05:21:2E:34:3E:23:52:96:1C:69:C1:89:52:21";
    group.bench_function("relay_create_remove", |b| {
        b.iter(|| {
            let mut spec = SessionSpec::new();
            spec.browser = Some(BrowserRemote::new(
                "HYW7",
                "Fq3YpfdicrVJm7memzz2BQ",
                vec![fingerprint.parse().unwrap()],
                "actpass",
            ));
            spec.enterprise = Some(EnterpriseRemote::new("127.0.0.1:40000".parse().unwrap()));
            let info = edge.relay().create_session(spec).unwrap();
            edge.relay().remove_session(info.id).unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, session_setup);
criterion_main!(benches);
