//! The Prometheus metrics: one prometheus-client [`Collector`] that reads the counters the
//! TURN loop, the forwarder's sessions, the guard and the kernel (`/proc/self`) already keep,
//! when scraped. Nothing here runs on the data path: TURN publishes its counters once per
//! loop iteration, the forwarder's sessions keep single-writer counters that
//! [`edge_forward::Forwarder::totals`] sums under the session table's lock. Labels are bounded
//! sets (direction, reason, state, transport, range); never a user, session or address.
//! Every metric is listed with its type and meaning in docs/metrics.md.

use std::fmt::Error as FmtError;
use std::sync::Arc;

use edge_forward::{Forwarder, Histogram as RelayHistogram, QualityHistograms};
use edge_guard::Guard;
use edge_turn::SnapshotReader;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::lifecycle::Lifecycle;

/// What the metrics are read from.
pub struct Sources {
    /// The TURN server's published counters.
    pub turn: SnapshotReader,
    /// The number of TURN relay ports in `turn.relay.port-range`.
    pub turn_ports: u64,
    /// The forwarder, when `[forward]` is configured.
    pub relay: Option<Forwarder>,
    /// The control API's request figures, when `[api]` is configured.
    pub api: Option<edge_control::ApiMetrics>,
    /// The ng front end's counters, when `[ng]` is configured.
    pub ng: Option<Arc<edge_ng::NgMetrics>>,
    /// The guard shared by TURN, the forwarder and the API.
    pub guard: Guard,
    /// Readiness and drain.
    pub lifecycle: Arc<Lifecycle>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("turn_ports", &self.turn_ports)
            .field("relay", &self.relay.is_some())
            .finish_non_exhaustive()
    }
}

/// A registry holding the one collector over `sources`.
pub fn registry(sources: Sources) -> Registry {
    let mut registry = Registry::with_prefix("media_edge");
    registry.register_collector(Box::new(sources));
    registry
}

/// One label set: `[(name, value)]`.
type Labels<'a> = [(&'static str, &'a str); 1];

/// Writes metric families without repeating the encoder's ceremony.
struct Out<'a> {
    enc: DescriptorEncoder<'a>,
}

impl Out<'_> {
    fn counter(&mut self, name: &str, help: &str, value: u64) -> Result<(), FmtError> {
        self.enc
            .encode_descriptor(name, help, None, MetricType::Counter)?
            .encode_counter::<NoLabelSet, _, u64>(&value, None)
    }

    fn gauge(&mut self, name: &str, help: &str, value: f64) -> Result<(), FmtError> {
        self.enc
            .encode_descriptor(name, help, None, MetricType::Gauge)?
            .encode_gauge(&value)
    }

    fn counters(
        &mut self,
        name: &str,
        help: &str,
        rows: &[(Labels<'_>, u64)],
    ) -> Result<(), FmtError> {
        let mut metric = self
            .enc
            .encode_descriptor(name, help, None, MetricType::Counter)?;
        for (labels, value) in rows {
            metric
                .encode_family(labels)?
                .encode_counter::<NoLabelSet, _, u64>(value, None)?;
        }
        Ok(())
    }

    fn gauges(
        &mut self,
        name: &str,
        help: &str,
        rows: &[(Labels<'_>, f64)],
    ) -> Result<(), FmtError> {
        let mut metric = self
            .enc
            .encode_descriptor(name, help, None, MetricType::Gauge)?;
        for (labels, value) in rows {
            metric.encode_family(labels)?.encode_gauge(value)?;
        }
        Ok(())
    }

    fn histogram(&mut self, name: &str, help: &str, h: &RelayHistogram) -> Result<(), FmtError> {
        let mut metric = self
            .enc
            .encode_descriptor(name, help, None, MetricType::Histogram)?;
        encode_histogram(&mut metric, h)
    }
}

/// Writes `h` into a histogram metric or family member.
fn encode_histogram(
    metric: &mut prometheus_client::encoding::MetricEncoder<'_>,
    h: &RelayHistogram,
) -> Result<(), FmtError> {
    let mut buckets: Vec<(f64, u64)> = h
        .bounds
        .iter()
        .copied()
        .zip(h.buckets.iter().copied())
        .collect();
    buckets.push((f64::INFINITY, h.count));
    // prometheus-client takes per-bucket (non-cumulative) counts and accumulates them.
    for i in (1..buckets.len()).rev() {
        buckets[i].1 -= buckets[i - 1].1;
    }
    metric.encode_histogram::<NoLabelSet>(h.sum, h.count, &buckets, None)
}

/// API requests by route, method and status, and their latency by route and method.
fn api_requests(out: &mut Out<'_>, api: &edge_control::ApiMetrics) -> Result<(), FmtError> {
    let routes = api.snapshot();
    let mut metric = out.enc.encode_descriptor(
        "api_requests",
        "Control API requests by route template, method and status (gate refusals included).",
        None,
        MetricType::Counter,
    )?;
    for (route, method, figures) in &routes {
        for (status, n) in &figures.statuses {
            let status = status.to_string();
            let labels = [
                ("route", *route),
                ("method", *method),
                ("status", status.as_str()),
            ];
            metric
                .encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(n, None)?;
        }
    }
    let mut metric = out.enc.encode_descriptor(
        "api_request_seconds",
        "Control API request latency (arrival to answer headers) by route template and method.",
        None,
        MetricType::Histogram,
    )?;
    for (route, method, figures) in &routes {
        let labels = [("route", *route), ("method", *method)];
        encode_histogram(&mut metric.encode_family(&labels)?, &figures.latency)?;
    }
    Ok(())
}

/// ng requests by command and result, and messages dropped unanswered by reason.
fn ng_requests(out: &mut Out<'_>, ng: &edge_ng::NgMetrics) -> Result<(), FmtError> {
    use edge_ng::metrics::{DropReason, Outcome, UNKNOWN_COMMAND};
    use edge_ng::request::Command;
    let mut metric = out.enc.encode_descriptor(
        "ng_requests",
        "ng control requests by command and result (ok, error, replayed from the reply cache).",
        None,
        MetricType::Counter,
    )?;
    let commands = Command::ALL.into_iter().map(Some).chain([None]);
    for command in commands {
        for outcome in Outcome::ALL {
            let name = command.map_or(UNKNOWN_COMMAND, Command::as_str);
            let labels = [("command", name), ("result", outcome.as_str())];
            metric
                .encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&ng.requests(command, outcome), None)?;
        }
    }
    let rows: Vec<(Labels<'_>, u64)> = DropReason::ALL
        .into_iter()
        .map(|r| ([("reason", r.as_str())], ng.drops(r)))
        .collect();
    out.counters(
        "ng_dropped",
        "ng control messages dropped unanswered, by reason.",
        &rows,
    )
}

impl Collector for Sources {
    fn encode(&self, enc: DescriptorEncoder) -> Result<(), FmtError> {
        let mut out = Out { enc };
        let ready = if self.lifecycle.is_ready() { 1.0 } else { 0.0 };
        out.gauge(
            "ready",
            "1 when every listener is bound and the process is not draining (/readyz).",
            ready,
        )?;
        let draining = if self.lifecycle.is_draining() {
            1.0
        } else {
            0.0
        };
        out.gauge(
            "draining",
            "1 once a drain (SIGTERM) has started.",
            draining,
        )?;
        let mut ranges = vec![self.turn(&mut out)?];
        if let Some(relay) = &self.relay {
            ranges.extend(forwarder(&mut out, relay)?);
        }
        ports(&mut out, &ranges)?;
        if let Some(api) = &self.api {
            api_requests(&mut out, api)?;
        }
        if let Some(ng) = &self.ng {
            ng_requests(&mut out, ng)?;
        }
        self.guard(&mut out)?;
        process(&mut out)
    }
}

impl Sources {
    fn turn(&self, out: &mut Out<'_>) -> Result<PortRange, FmtError> {
        let s = self.turn.snapshot();
        let c = s.census;
        out.gauges(
            "turn_allocations",
            "Live TURN allocations by client transport (as of the TURN loop's once-a-second \
             census).",
            &[
                ([("transport", "udp")], c.udp as f64),
                ([("transport", "tcp")], c.tcp as f64),
                ([("transport", "tls")], c.tls as f64),
            ],
        )?;
        out.gauge(
            "turn_permissions",
            "Unexpired TURN permissions, all allocations together (once-a-second census).",
            c.permissions as f64,
        )?;
        out.gauge(
            "turn_channels",
            "Unexpired TURN channel bindings, all allocations together (once-a-second census).",
            c.channels as f64,
        )?;
        out.gauge(
            "turn_connections",
            "Open TURN TCP/TLS client connections.",
            s.connections as f64,
        )?;
        out.counters(
            "turn_relayed_packets",
            "Datagrams relayed by TURN, by direction.",
            &[
                ([("direction", "to_peer")], s.to_peers),
                ([("direction", "to_client")], s.to_clients),
            ],
        )?;
        out.counters(
            "turn_relayed_bytes",
            "Payload bytes relayed by TURN, by direction.",
            &[
                ([("direction", "to_peer")], s.to_peers_bytes),
                ([("direction", "to_client")], s.to_clients_bytes),
            ],
        )?;
        let codes: Vec<(String, u64)> = s
            .errors
            .iter()
            .map(|(code, n)| {
                (
                    code.map_or_else(|| "other".to_owned(), |c| c.to_string()),
                    n,
                )
            })
            .collect();
        let rows: Vec<_> = codes
            .iter()
            .map(|(code, n)| ([("code", code.as_str())], *n))
            .collect();
        out.counters(
            "turn_error_responses",
            "TURN error responses sent, by error code (401 includes every login's challenge).",
            &rows,
        )?;
        out.counters(
            "turn_dropped",
            "TURN inputs dropped, by reason.",
            &[
                ([("reason", "malformed")], s.malformed),
                ([("reason", "no_route_or_cap")], s.dropped),
                ([("reason", "banned")], s.banned),
                ([("reason", "rate_limited")], s.rate_limited),
            ],
        )?;
        let k = s.kernel;
        out.counters(
            "turn_xdp_relayed_packets",
            "Datagrams of those relayed by TURN that the XDP fast path relayed in the kernel, \
             by direction (0 without [turn.xdp]).",
            &[
                ([("direction", "to_peer")], k.to_peers),
                ([("direction", "to_client")], k.to_clients),
            ],
        )?;
        out.counters(
            "turn_xdp_dropped",
            "Datagrams the XDP fast path dropped before any socket, by reason.",
            &[
                ([("reason", "banned")], k.banned),
                ([("reason", "rate_limited")], k.rate_limited),
            ],
        )?;
        out.counter(
            "turn_auth_failures",
            "TURN authentication failures reported to the guard.",
            s.auth_failures,
        )?;
        out.counters(
            "turn_banned_closed",
            "TURN connections and allocations closed because their source was banned.",
            &[
                ([("kind", "connection")], s.banned_closed),
                ([("kind", "udp_allocation")], s.banned_released),
            ],
        )?;
        let used = self.turn_ports.saturating_sub(s.free_ports);
        Ok(PortRange {
            name: "turn_relay",
            size: self.turn_ports,
            used,
        })
    }

    fn guard(&self, out: &mut Out<'_>) -> Result<(), FmtError> {
        let g = self.guard.stats();
        out.gauge("guard_bans", "Bans in force now.", g.bans as f64)?;
        out.counter(
            "guard_failures",
            "Authentication failures recorded by the guard (all services).",
            g.failures,
        )?;
        out.counters(
            "guard_bans_ended",
            "Bans ended, by how.",
            &[
                ([("how", "expired")], g.bans_expired),
                ([("how", "lifted")], g.bans_lifted),
                ([("how", "evicted")], g.bans_evicted),
            ],
        )?;
        out.counter("guard_bans_started", "Bans started.", g.bans_started)?;
        let r = g.rate_refused;
        out.counters(
            "guard_refused",
            "Requests refused by the guard, by reason and service.",
            &[
                ([("reason", "banned")], g.banned_drops),
                ([("reason", "rate_limited_turn")], r.turn),
                ([("reason", "rate_limited_api")], r.api),
                ([("reason", "rate_limited_ice")], r.ice),
            ],
        )?;
        out.gauges(
            "guard_tracked",
            "Entries the guard tracks now, by table.",
            &[
                ([("table", "failure_records")], g.failure_records as f64),
                ([("table", "rate_buckets")], g.rate_buckets as f64),
            ],
        )?;
        match self.guard.shared_stats() {
            Some(shared) => guard_shared(out, &shared),
            None => Ok(()),
        }
    }
}

/// The shared guard's state (`[guard] redis`), only when it is configured.
fn guard_shared(out: &mut Out<'_>, s: &edge_guard::SharedStats) -> Result<(), FmtError> {
    out.gauge(
        "guard_shared_connected",
        "1 while the connection to the shared guard's Redis is up.",
        f64::from(u8::from(s.connected)),
    )?;
    out.counter(
        "guard_shared_errors",
        "Shared guard errors: failed Redis connections and commands, unreadable messages.",
        s.errors,
    )?;
    out.counters(
        "guard_shared_events",
        "Bans and lifts exchanged through Redis, by direction (dropped: queue full).",
        &[
            ([("direction", "published")], s.published),
            ([("direction", "received")], s.received),
            ([("direction", "dropped")], s.dropped),
        ],
    )
}

/// The call-end quality histograms, by leg.
fn quality(out: &mut Out<'_>, t: &edge_forward::Totals) -> Result<(), FmtError> {
    type Pick = fn(&QualityHistograms) -> &RelayHistogram;
    let figures: [(&str, &str, Pick); 4] = [
        (
            "forward_call_loss_ratio",
            "Per call at its end: fraction of the packets of the stream received on the leg \
             that were lost (RFC 3550 A.3, cumulative).",
            |q| &q.loss,
        ),
        (
            "forward_call_jitter_seconds",
            "Per call at its end: interarrival jitter of the stream received on the leg \
             (RFC 3550 A.8).",
            |q| &q.jitter,
        ),
        (
            "forward_call_rtt_seconds",
            "Per call at its end: the last round trip between media-edge and the leg's peer \
             (RTCP LSR/DLSR).",
            |q| &q.rtt,
        ),
        (
            "forward_call_mos",
            "Per call at its end: the leg's E-model MOS estimate (ITU-T G.107 simplified).",
            |q| &q.mos,
        ),
    ];
    let legs = [
        ("browser", &t.quality_browser),
        ("enterprise", &t.quality_enterprise),
    ];
    for (name, help, pick) in figures {
        let mut metric = out
            .enc
            .encode_descriptor(name, help, None, MetricType::Histogram)?;
        for (leg, q) in legs {
            encode_histogram(&mut metric.encode_family(&[("leg", leg)])?, pick(q))?;
        }
    }
    Ok(())
}

fn forwarder(out: &mut Out<'_>, relay: &Forwarder) -> Result<Vec<PortRange>, FmtError> {
    let t = relay.totals();
    let s = t.sessions;
    out.gauges(
        "forward_sessions",
        "Forwarder sessions in the table, by state (ended: lingering).",
        &[
            ([("state", "new")], s.new as f64),
            ([("state", "connecting")], s.connecting as f64),
            ([("state", "dtls_connected")], s.dtls_connected as f64),
            ([("state", "active")], s.active as f64),
            ([("state", "ended")], s.ended as f64),
        ],
    )?;
    out.counter(
        "forward_sessions_created",
        "Forwarder sessions created.",
        t.created,
    )?;
    let e = t.ended;
    out.counters(
        "forward_sessions_ended",
        "Forwarder sessions ended, by reason.",
        &[
            ([("reason", "removed")], e.removed),
            ([("reason", "media_timeout")], e.media_timeout),
            ([("reason", "setup_timeout")], e.setup_timeout),
            ([("reason", "consent_expired")], e.consent_expired),
            ([("reason", "dtls_failed")], e.dtls_failed),
            ([("reason", "dtls_closed")], e.dtls_closed),
            ([("reason", "shutdown")], e.shutdown),
            ([("reason", "failed")], e.failed),
        ],
    )?;
    let c = t.counters;
    let (b2e, e2b) = (&c.browser_to_enterprise, &c.enterprise_to_browser);
    out.counters(
        "forward_forwarded_packets",
        "Packets forwarded, by direction (browser_to_enterprise: received on the browser leg) \
         and kind.",
        &[
            ([("direction", "browser_to_enterprise")], b2e.rtp_packets),
            ([("direction", "enterprise_to_browser")], e2b.rtp_packets),
        ],
    )?;
    out.counters(
        "forward_forwarded_rtcp_packets",
        "RTCP packets forwarded, by direction.",
        &[
            ([("direction", "browser_to_enterprise")], b2e.rtcp_packets),
            ([("direction", "enterprise_to_browser")], e2b.rtcp_packets),
        ],
    )?;
    out.counters(
        "forward_forwarded_bytes",
        "Bytes forwarded (as sent), by direction.",
        &[
            ([("direction", "browser_to_enterprise")], b2e.bytes),
            ([("direction", "enterprise_to_browser")], e2b.bytes),
        ],
    )?;
    out.counters(
        "forward_dtmf_packets",
        "RFC 4733 telephone-event (DTMF) packets forwarded, by direction.",
        &[
            ([("direction", "browser_to_enterprise")], b2e.dtmf_packets),
            ([("direction", "enterprise_to_browser")], e2b.dtmf_packets),
        ],
    )?;
    for (name, help, d) in [
        (
            "forward_browser_leg_drops",
            "Packets received on the browser leg and dropped, by reason.",
            &b2e.drops,
        ),
        (
            "forward_enterprise_leg_drops",
            "Packets received on the enterprise leg and dropped, by reason.",
            &e2b.drops,
        ),
    ] {
        out.counters(
            name,
            help,
            &[
                ([("reason", "malformed")], d.malformed),
                ([("reason", "unexpected_source")], d.unexpected_source),
                ([("reason", "not_ready")], d.not_ready),
                ([("reason", "srtp_auth_failed")], d.auth_failed),
                ([("reason", "srtp_replayed")], d.replayed),
                ([("reason", "srtp_other")], d.srtp_other),
                ([("reason", "send_failed")], d.send_failed),
                ([("reason", "direction")], d.direction),
                ([("reason", "foreign_ssrc")], d.foreign_ssrc),
                ([("reason", "unknown_ssrc")], d.unknown_ssrc),
            ],
        )?;
    }
    out.counters(
        "forward_ice_checks",
        "ICE Binding requests at the forwarder's public ports, by result.",
        &[
            ([("result", "accepted")], c.ice_checks),
            ([("result", "rejected")], c.ice_rejected),
        ],
    )?;
    out.counters(
        "forward_dtls_handshakes",
        "DTLS handshakes with browsers, by result.",
        &[
            ([("result", "ok")], t.dtls_ok),
            ([("result", "failed")], e.dtls_failed),
        ],
    )?;
    out.histogram(
        "forward_dtls_handshake_seconds",
        "DTLS handshake duration: from its start to the SRTP keys.",
        &t.dtls_duration,
    )?;
    out.histogram(
        "forward_session_setup_seconds",
        "Session set-up latency: from creation through ICE and DTLS to the SRTP keys.",
        &t.setup_latency,
    )?;
    let rows: Vec<(String, u64)> = t
        .worker_packets
        .iter()
        .enumerate()
        .map(|(i, n)| (i.to_string(), *n))
        .collect();
    let rows: Vec<_> = rows
        .iter()
        .map(|(i, n)| ([("worker", i.as_str())], *n))
        .collect();
    out.counters(
        "forward_worker_packets",
        "Packets forwarded (RTP and RTCP, both directions) by each forwarder worker.",
        &rows,
    )?;
    let a = relay.stats();
    out.counters(
        "forward_admission_refused",
        "Requests at the forwarder's public ports refused by the guard, by reason.",
        &[
            ([("reason", "banned")], a.banned),
            ([("reason", "rate_limited")], a.rate_limited),
            ([("reason", "ice_auth_failed")], a.ice_auth_failures),
        ],
    )?;
    quality(out, &t)?;
    let config = relay.config();
    let public = config.public.port_range;
    let e = &config.enterprise;
    let enterprise_size = match (e.port_range, e.transport_port) {
        (Some(range), _) => range.len() as u64,
        // A fixed transport-port: RTP and, without rtcp-mux, RTCP on the next.
        (None, _) => 2,
    };
    Ok(vec![
        PortRange {
            name: "forward_public",
            size: public.len() as u64,
            // Each session that has not ended holds exactly one public port.
            used: s.new + s.connecting + s.dtls_connected + s.active,
        },
        PortRange {
            name: "forward_enterprise",
            size: enterprise_size,
            used: t.enterprise_ports_in_use,
        },
        PortRange {
            name: "forward_enterprise_connections",
            // Each named connection's tuple: RTP and, without rtcp-mux, RTCP.
            size: 2 * e.connections.len() as u64,
            used: t.connection_ports_in_use,
        },
    ])
}

/// One configured port range and how much of it is in use.
struct PortRange {
    name: &'static str,
    size: u64,
    used: u64,
}

fn ports(out: &mut Out<'_>, ranges: &[PortRange]) -> Result<(), FmtError> {
    let rows: Vec<_> = ranges
        .iter()
        .map(|r| ([("range", r.name)], r.size as f64))
        .collect();
    out.gauges("ports", "Ports of each configured range.", &rows)?;
    let rows: Vec<_> = ranges
        .iter()
        .map(|r| ([("range", r.name)], r.used as f64))
        .collect();
    out.gauges(
        "ports_in_use",
        "Ports of each configured range in use now.",
        &rows,
    )
}

/// CPU time, resident memory, threads and file descriptors from `/proc/self`, and the CPU
/// time of the data-plane threads (the TURN loop, the forwarder's workers).
fn process(out: &mut Out<'_>) -> Result<(), FmtError> {
    let threads = crate::procfs::thread_cpu(&["turn-loop", "forwarder-"]);
    let mut metric = out.enc.encode_descriptor(
        "thread_cpu_seconds",
        "CPU time of each data-plane thread (turn-loop, forwarder-N): its busy time, seconds.",
        None,
        MetricType::Counter,
    )?;
    for (name, seconds) in &threads {
        metric
            .encode_family(&[("thread", name.as_str())])?
            .encode_counter::<NoLabelSet, _, f64>(seconds, None)?;
    }
    let p = crate::procfs::read();
    if let Some(cpu) = p.cpu_seconds {
        out.enc
            .encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time of the process, seconds.",
                None,
                MetricType::Counter,
            )?
            .encode_counter::<NoLabelSet, _, f64>(&cpu, None)?;
    }
    for (name, help, value) in [
        (
            "process_resident_memory_bytes",
            "Resident set size, bytes.",
            p.rss_bytes,
        ),
        ("process_open_fds", "Open file descriptors.", p.open_fds),
        (
            "process_max_fds",
            "The soft limit on open file descriptors.",
            p.max_fds,
        ),
        ("process_threads", "Threads of the process.", p.threads),
    ] {
        if let Some(value) = value {
            out.gauge(name, help, value as f64)?;
        }
    }
    Ok(())
}
