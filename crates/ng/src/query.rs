//! Replies in rtpengine's shapes: `query` (and `delete`) with `created`, `last signal`,
//! `totals` and per-tag `medias`/`streams`, and `statistics`.
//!
//! From the forwarder's snapshot: packets, bytes and errors (drops) per direction, the
//! local and remote addresses, and per received SSRC rtpengine's `SSRC` dictionary
//! (`cumulative loss`, `average MOS` with `MOS`, `round-trip time`, `jitter`, `packet loss`)
//! from the leg's call quality, and each stream's `last packet` (the Unix time of the last
//! packet forwarded from that leg). Not in the snapshot, so not written: `lowest MOS`,
//! `highest MOS` and `MOS progression` (one current estimate, no history); RTCP bytes are
//! counted in the RTP bytes (the forwarder counts bytes per direction, not per protocol).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edge_forward::{DirectionCounters, Forwarder, LegQuality, SessionSnapshot};

use crate::bencode::Value;
use crate::engine::{unix, Call};
use crate::metrics::{NgMetrics, Outcome};
use crate::request::{Command, Side};

fn int(v: u64) -> Value {
    Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

fn endpoint(addr: SocketAddr) -> Value {
    Value::dict(vec![
        ("family", Value::str(family(addr))),
        ("address", Value::str(&addr.ip().to_string())),
        ("port", int(u64::from(addr.port()))),
    ])
}

fn family(addr: SocketAddr) -> &'static str {
    if addr.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// What the forwarder knows of one leg.
struct Leg<'a> {
    /// media-edge's socket.
    local: Option<SocketAddr>,
    /// The peer.
    remote: Option<SocketAddr>,
    /// What was received from the peer.
    received: Option<&'a DirectionCounters>,
    /// The leg's call quality.
    quality: Option<&'a LegQuality>,
    /// Time since the last packet forwarded from the peer.
    last_packet: Option<Duration>,
}

/// One tag's leg: the local socket, the remote end, what was received from it.
fn tag(call: &Call, name: &str, other: Option<&str>, protocol: &str, leg: Leg<'_>) -> Value {
    let (created, _) = unix(call.created);
    let mut stream = Vec::new();
    if let Some(local) = leg.local {
        stream.push(("local address", Value::str(&local.ip().to_string())));
        stream.push(("local port", int(u64::from(local.port()))));
        stream.push(("family", Value::str(family(local))));
    }
    let mut flags = vec!["RTP"];
    if let Some(remote) = leg.remote {
        stream.push(("endpoint", endpoint(remote)));
        stream.push(("advertised endpoint", endpoint(remote)));
        flags.push("filled");
    }
    stream.push(("flags", Value::strs(flags)));
    if let Some(rx) = leg.quality.and_then(|q| q.received.as_ref()) {
        stream.push(("SSRC", int(u64::from(rx.ssrc))));
    }
    if let Some(ago) = leg.last_packet {
        let at = SystemTime::now().checked_sub(ago).unwrap_or(UNIX_EPOCH);
        stream.push(("last packet", Value::Int(unix(at).0)));
    }
    let c = leg.received.copied().unwrap_or_default();
    stream.push((
        "stats",
        Value::dict(vec![
            ("packets", int(c.rtp_packets + c.rtcp_packets)),
            ("bytes", int(c.bytes)),
            ("errors", int(c.drops.total())),
        ]),
    ));
    let media = Value::dict(vec![
        ("index", Value::Int(1)),
        ("type", Value::str("audio")),
        ("protocol", Value::str(protocol)),
        ("streams", Value::List(vec![Value::dict(stream)])),
    ]);
    let mut entries = vec![
        ("tag", Value::str(name)),
        ("created", Value::Int(created)),
        ("medias", Value::List(vec![media])),
    ];
    if let Some(other) = other {
        entries.push(("in dialogue with", Value::str(other)));
    }
    Value::dict(entries)
}

/// The `query` reply of a call (without `result`).
pub(crate) fn call(call: &Call, snapshot: Option<SessionSnapshot>) -> Vec<(&'static str, Value)> {
    let (created, created_us) = unix(call.created);
    let (last, _) = unix(call.last_signal);
    let counters = snapshot.as_ref().map(|s| s.counters).unwrap_or_default();
    let (b2e, e2b) = (
        counters.browser_to_enterprise,
        counters.enterprise_to_browser,
    );
    let totals = Value::dict(vec![
        (
            "RTP",
            Value::dict(vec![
                ("packets", int(b2e.rtp_packets + e2b.rtp_packets)),
                ("bytes", int(b2e.bytes + e2b.bytes)),
                ("errors", int(b2e.drops.total() + e2b.drops.total())),
            ]),
        ),
        (
            "RTCP",
            Value::dict(vec![
                ("packets", int(b2e.rtcp_packets + e2b.rtcp_packets)),
                ("errors", Value::Int(0)),
            ]),
        ),
    ]);
    let (public_tag, enterprise_tag) = match call.offerer {
        Side::Public => (Some(call.from_tag.as_str()), call.to_tag.as_deref()),
        Side::Enterprise => (call.to_tag.as_deref(), Some(call.from_tag.as_str())),
    };
    let mut tags = Vec::new();
    if let Some(name) = public_tag {
        let leg = tag(
            call,
            name,
            enterprise_tag,
            "UDP/TLS/RTP/SAVPF",
            Leg {
                local: snapshot.as_ref().map(|s| s.public_addr),
                remote: snapshot.as_ref().and_then(|s| s.browser_addr),
                received: Some(&b2e),
                quality: snapshot.as_ref().map(|s| &s.quality.browser),
                last_packet: snapshot.as_ref().and_then(|s| s.last_packet.from_browser),
            },
        );
        tags.push((name.as_bytes().to_vec(), leg));
    }
    if let Some(name) = enterprise_tag {
        let leg = tag(
            call,
            name,
            public_tag,
            call.enterprise_proto,
            Leg {
                local: snapshot.as_ref().map(|s| s.enterprise_rtp),
                remote: snapshot.as_ref().and_then(|s| s.enterprise_remote),
                received: Some(&e2b),
                quality: snapshot.as_ref().map(|s| &s.quality.enterprise),
                last_packet: snapshot
                    .as_ref()
                    .and_then(|s| s.last_packet.from_enterprise),
            },
        );
        tags.push((name.as_bytes().to_vec(), leg));
    }
    vec![
        ("created", Value::Int(created)),
        ("created_us", Value::Int(created_us)),
        ("last signal", Value::Int(last)),
        ("totals", totals),
        ("tags", Value::Dict(tags)),
        (
            "SSRC",
            Value::Dict(
                snapshot
                    .iter()
                    .flat_map(|s| {
                        let (b, e) = (&s.quality.browser, &s.quality.enterprise);
                        [ssrc(b, e.rtt_ms), ssrc(e, b.rtt_ms)]
                    })
                    .flatten()
                    .collect(),
            ),
        ),
    ]
}

/// rtpengine's entry of the `SSRC` dictionary for the stream received on a leg: its
/// `cumulative loss` and an `average MOS` of one sample, in rtpengine's units (MOS times
/// ten, round-trip time in microseconds, jitter in milliseconds, packet loss in percent).
/// `round-trip time leg` is media-edge to this leg's peer; `round-trip time` adds the other
/// leg's (`other_rtt_ms`), end to end as rtpengine sums it, when both are known.
fn ssrc(leg: &LegQuality, other_rtt_ms: Option<f64>) -> Option<(Vec<u8>, Value)> {
    let rx = leg.received.as_ref()?;
    let mut entry = vec![("cumulative loss", Value::Int(rx.lost))];
    if let Some(mos) = leg.mos {
        let mut average = vec![("MOS", rounded(mos * 10.0))];
        if let Some(rtt) = leg.rtt_ms {
            let total = rtt + other_rtt_ms.unwrap_or(0.0);
            average.push(("round-trip time", rounded(total * 1000.0)));
            average.push(("round-trip time leg", rounded(rtt * 1000.0)));
        }
        average.push(("jitter", rounded(rx.jitter_ms.unwrap_or(0.0))));
        average.push(("packet loss", rounded(rx.loss * 100.0)));
        average.push(("samples", Value::Int(1)));
        entry.push(("average MOS", Value::dict(average)));
    }
    Some((rx.ssrc.to_string().into_bytes(), Value::dict(entry)))
}

/// A figure as rtpengine's integers.
fn rounded(v: f64) -> Value {
    // Saturating: `as` clamps out-of-range floats and maps NaN to 0.
    Value::Int(v.round() as i64)
}

/// The `statistics` reply (without `result`).
pub(crate) fn statistics(
    calls: usize,
    relay: &Forwarder,
    metrics: &NgMetrics,
    uptime: Duration,
) -> Vec<(&'static str, Value)> {
    let totals = relay.totals();
    let sessions = relay.sessions();
    let c = totals.counters;
    let (b2e, e2b) = (c.browser_to_enterprise, c.enterprise_to_browser);
    let current = Value::dict(vec![
        ("sessionsown", int(calls as u64)),
        ("sessionsforeign", Value::Int(0)),
        ("sessionstotal", int(sessions.len() as u64)),
    ]);
    let total = Value::dict(vec![
        ("uptime", int(uptime.as_secs())),
        ("managedsessions", int(totals.created)),
        (
            "relayedpackets",
            int(b2e.rtp_packets + b2e.rtcp_packets + e2b.rtp_packets + e2b.rtcp_packets),
        ),
        ("relayedbytes", int(b2e.bytes + e2b.bytes)),
        (
            "relayedpacketerrors",
            int(b2e.drops.total() + e2b.drops.total()),
        ),
    ]);
    let mut control: Vec<(Vec<u8>, Value)> = Command::ALL
        .iter()
        .map(|command| {
            let n = metrics.requests(Some(*command), Outcome::Ok)
                + metrics.requests(Some(*command), Outcome::Error);
            (format!("{}count", command.as_str()).into_bytes(), int(n))
        })
        .collect();
    let errors = Command::ALL
        .iter()
        .map(|c| metrics.requests(Some(*c), Outcome::Error))
        .sum::<u64>()
        + metrics.requests(None, Outcome::Error);
    control.push((b"errorcount".to_vec(), int(errors)));
    vec![(
        "statistics",
        Value::dict(vec![
            ("currentstatistics", current),
            ("totalstatistics", total),
            ("controlstatistics", Value::Dict(control)),
        ]),
    )]
}
