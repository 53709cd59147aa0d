//! [`Totals`]: the forwarder's figures summed over every session, for metrics.
//!
//! Nothing here runs per packet: the sessions' own single-writer counters
//! ([`crate::snapshot`]) are summed when [`crate::Forwarder::totals`] is called (a scrape), under
//! the session table's lock. A session leaving the table (removed, or pruned after
//! `ended-linger`) hands its counters to [`Retired`] under that same lock, so every total is
//! monotonic: a session is counted either in the table or in `Retired`, never in neither.

use std::time::Duration;

use crate::snapshot::Shared;
use crate::{Counters, DirectionCounters, Drops, EndReason, LegQuality, SessionState};

/// Upper bounds (seconds) of the set-up latency and DTLS handshake duration histograms.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The forwarder's figures at one moment.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Totals {
    /// Sessions in the table now, by state (ended ones still lingering included).
    pub sessions: StateCounts,
    /// Sessions created since start.
    pub created: u64,
    /// Sessions ended since start, by reason (lingering ones included).
    pub ended: EndCounts,
    /// The counters of every session since start, including sessions gone from the table.
    pub counters: Counters,
    /// DTLS handshakes that completed (SRTP keys installed).
    pub dtls_ok: u64,
    /// Set-up latency: from the session's creation to its SRTP keys (ICE and DTLS done).
    pub setup_latency: Histogram,
    /// DTLS handshake duration: from its start to the SRTP keys.
    pub dtls_duration: Histogram,
    /// Packets forwarded (RTP and RTCP, both directions) by each worker, by worker index.
    pub worker_packets: Vec<u64>,
    /// Call quality of the browser leg of the sessions that ended.
    pub quality_browser: QualityHistograms,
    /// Call quality of the enterprise leg of the sessions that ended.
    pub quality_enterprise: QualityHistograms,
    /// Ports of the default enterprise leg's range (or its `transport-port` pair) held by
    /// sessions that have not ended.
    pub enterprise_ports_in_use: u64,
    /// Ports of the named enterprise connections' tuples held by sessions that have not
    /// ended.
    pub connection_ports_in_use: u64,
}

/// Sessions by [`SessionState`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StateCounts {
    /// [`SessionState::New`].
    pub new: u64,
    /// [`SessionState::Connecting`].
    pub connecting: u64,
    /// [`SessionState::DtlsConnected`].
    pub dtls_connected: u64,
    /// [`SessionState::Active`].
    pub active: u64,
    /// [`SessionState::Ended`], lingering.
    pub ended: u64,
}

/// Ended sessions by [`EndReason`] kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndCounts {
    /// [`EndReason::Removed`], and sessions removed before they ended.
    pub removed: u64,
    /// [`EndReason::MediaTimeout`].
    pub media_timeout: u64,
    /// [`EndReason::SetupTimeout`].
    pub setup_timeout: u64,
    /// [`EndReason::ConsentExpired`].
    pub consent_expired: u64,
    /// [`EndReason::DtlsFailed`]: the DTLS handshakes that failed.
    pub dtls_failed: u64,
    /// [`EndReason::DtlsClosed`].
    pub dtls_closed: u64,
    /// [`EndReason::Shutdown`].
    pub shutdown: u64,
    /// [`EndReason::Failed`].
    pub failed: u64,
}

impl EndCounts {
    fn add(&mut self, reason: &EndReason) {
        let slot = match reason {
            EndReason::Removed => &mut self.removed,
            EndReason::MediaTimeout => &mut self.media_timeout,
            EndReason::SetupTimeout => &mut self.setup_timeout,
            EndReason::ConsentExpired => &mut self.consent_expired,
            EndReason::DtlsFailed(_) => &mut self.dtls_failed,
            EndReason::DtlsClosed => &mut self.dtls_closed,
            EndReason::Shutdown => &mut self.shutdown,
            EndReason::Failed(_) => &mut self.failed,
        };
        *slot += 1;
    }
}

/// Upper bounds of the call-end loss histograms (fraction of packets, 0 to 1).
pub const LOSS_BUCKETS: [f64; 10] = [0.0, 0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5];
/// Upper bounds (seconds) of the call-end jitter histograms.
pub const JITTER_BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5];
/// Upper bounds (seconds) of the call-end round-trip-time histograms.
pub const RTT_BUCKETS: [f64; 11] = [
    0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0,
];
/// Upper bounds of the call-end MOS histograms.
pub const MOS_BUCKETS: [f64; 11] = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 3.8, 4.0, 4.2, 4.3, 4.4];

/// A histogram over fixed upper bounds (a Prometheus histogram without `+Inf`, which is
/// `count`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Histogram {
    /// The upper bounds, ascending.
    pub bounds: &'static [f64],
    /// Observations at or below each bound (cumulative).
    pub buckets: Vec<u64>,
    /// All observations.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
}

impl Default for Histogram {
    /// A latency histogram over [`LATENCY_BUCKETS`].
    fn default() -> Self {
        Histogram::new(&LATENCY_BUCKETS)
    }
}

impl Histogram {
    /// An empty histogram over `bounds`.
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            buckets: vec![0; bounds.len()],
            count: 0,
            sum: 0.0,
        }
    }

    /// Adds one duration, in seconds.
    pub fn observe(&mut self, value: Duration) {
        self.observe_value(value.as_secs_f64());
    }

    /// Adds one value.
    pub fn observe_value(&mut self, value: f64) {
        for (bound, bucket) in self.bounds.iter().zip(self.buckets.iter_mut()) {
            if value <= *bound {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum += value;
    }
}

/// Histograms of the call-quality figures of each leg, observed once per session when it
/// ends (see [`crate::CallQuality`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QualityHistograms {
    /// Cumulative loss of the stream received on the leg, as a fraction (0 to 1).
    pub loss: Histogram,
    /// Interarrival jitter of the stream received on the leg, seconds.
    pub jitter: Histogram,
    /// The leg's last round-trip time, seconds.
    pub rtt: Histogram,
    /// The leg's MOS estimate.
    pub mos: Histogram,
}

impl Default for QualityHistograms {
    fn default() -> Self {
        QualityHistograms {
            loss: Histogram::new(&LOSS_BUCKETS),
            jitter: Histogram::new(&JITTER_BUCKETS),
            rtt: Histogram::new(&RTT_BUCKETS),
            mos: Histogram::new(&MOS_BUCKETS),
        }
    }
}

impl QualityHistograms {
    fn observe(&mut self, leg: &LegQuality) {
        if let Some(rx) = &leg.received {
            self.loss.observe_value(rx.loss);
            if let Some(ms) = rx.jitter_ms {
                self.jitter.observe_value(ms / 1000.0);
            }
        }
        if let Some(ms) = leg.rtt_ms {
            self.rtt.observe_value(ms / 1000.0);
        }
        if let Some(mos) = leg.mos {
            self.mos.observe_value(mos);
        }
    }
}

/// What the sessions gone from the table leave behind, and the latencies observed so far.
#[derive(Debug, Default)]
pub(crate) struct Retired {
    sessions: u64,
    ended: EndCounts,
    counters: Counters,
    dtls_ok: u64,
    setup_latency: Histogram,
    dtls_duration: Histogram,
    worker_packets: Vec<u64>,
    quality_browser: QualityHistograms,
    quality_enterprise: QualityHistograms,
}

/// Adds `packets` to worker `worker`'s count, growing the list as needed.
fn add_worker(list: &mut Vec<u64>, worker: usize, packets: u64) {
    if list.len() <= worker {
        list.resize(worker + 1, 0);
    }
    list[worker] = list[worker].wrapping_add(packets);
}

/// Packets forwarded in `c`, both directions, RTP and RTCP.
fn packets(c: &Counters) -> u64 {
    let (a, b) = (&c.browser_to_enterprise, &c.enterprise_to_browser);
    a.rtp_packets + a.rtcp_packets + b.rtp_packets + b.rtcp_packets
}

/// What a table record needs for the totals.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    /// Whether the session's set-up latency has gone into the histograms.
    latency: bool,
    /// Whether the session's call quality has gone into the histograms (once it ended).
    quality: bool,
}

impl Retired {
    /// Observes the set-up of `shared` once it is complete (a scrape or the retirement,
    /// whichever comes first).
    pub(crate) fn observe(&mut self, shared: &Shared, observed: &mut Observed) {
        self.observe_latency(shared, observed);
        if !observed.quality && shared.status(|s| s.state.is_ended()) {
            self.observe_quality(shared, observed);
        }
    }

    /// Observes the call quality of `shared` at its end.
    fn observe_quality(&mut self, shared: &Shared, observed: &mut Observed) {
        observed.quality = true;
        let q = shared.quality.snapshot();
        self.quality_browser.observe(&q.browser);
        self.quality_enterprise.observe(&q.enterprise);
    }

    fn observe_latency(&mut self, shared: &Shared, observed: &mut Observed) {
        if observed.latency {
            return;
        }
        let (started, connected) = shared.status(|s| (s.dtls_started, s.connected_at));
        let Some(connected) = connected else {
            return;
        };
        observed.latency = true;
        self.dtls_ok += 1;
        self.setup_latency
            .observe(connected.saturating_duration_since(shared.created));
        if let Some(started) = started {
            self.dtls_duration
                .observe(connected.saturating_duration_since(started));
        }
    }

    /// Takes over a session leaving the table, with its counters now; returns them so the
    /// caller can add what the worker still counts before it closes the session
    /// ([`Self::add_late`]).
    pub(crate) fn retire(&mut self, shared: &Shared, mut observed: Observed) -> Counters {
        self.observe(shared, &mut observed);
        // Removed before its worker ended it: the figures now are its end.
        if !observed.quality {
            self.observe_quality(shared, &mut observed);
        }
        self.sessions += 1;
        match shared.status(|s| s.state.clone()) {
            SessionState::Ended { reason } => self.ended.add(&reason),
            _ => self.ended.add(&EndReason::Removed),
        }
        let counters = shared.stats.snapshot();
        combine(&mut self.counters, &counters, u64::wrapping_add);
        add_worker(&mut self.worker_packets, shared.worker, packets(&counters));
        counters
    }

    /// Adds what a removed session counted after [`Self::retire`] (`now - then`).
    pub(crate) fn add_late(&mut self, worker: usize, then: &Counters, now: &Counters) {
        let mut late = *now;
        combine(&mut late, then, u64::saturating_sub);
        combine(&mut self.counters, &late, u64::wrapping_add);
        add_worker(&mut self.worker_packets, worker, packets(&late));
    }

    /// The totals: what is retired plus the sessions in `table` (observing their set-up).
    pub(crate) fn totals<'a>(
        &mut self,
        table: impl Iterator<Item = (&'a Shared, &'a mut Observed)>,
    ) -> Totals {
        let mut live = 0;
        let mut sessions = StateCounts::default();
        let mut ended = self.ended;
        let mut counters = self.counters;
        let mut worker_packets = self.worker_packets.clone();
        let (mut enterprise_ports_in_use, mut connection_ports_in_use) = (0, 0);
        for (shared, observed) in table {
            self.observe(shared, observed);
            live += 1;
            if !shared.status(|s| s.state.is_ended()) {
                match shared.connection {
                    None => enterprise_ports_in_use += shared.ports_held(),
                    Some(_) => connection_ports_in_use += shared.enterprise_ports,
                }
            }
            match shared.status(|s| s.state.clone()) {
                SessionState::New => sessions.new += 1,
                SessionState::Connecting => sessions.connecting += 1,
                SessionState::DtlsConnected => sessions.dtls_connected += 1,
                SessionState::Active => sessions.active += 1,
                SessionState::Ended { reason } => {
                    sessions.ended += 1;
                    ended.add(&reason);
                }
            }
            let live = shared.stats.snapshot();
            combine(&mut counters, &live, u64::wrapping_add);
            add_worker(&mut worker_packets, shared.worker, packets(&live));
        }
        Totals {
            sessions,
            created: self.sessions + live,
            ended,
            counters,
            dtls_ok: self.dtls_ok,
            setup_latency: self.setup_latency.clone(),
            dtls_duration: self.dtls_duration.clone(),
            worker_packets,
            quality_browser: self.quality_browser.clone(),
            quality_enterprise: self.quality_enterprise.clone(),
            enterprise_ports_in_use,
            connection_ports_in_use,
        }
    }
}

/// Applies `f` to every counter of `into` and its twin in `other`.
pub(crate) fn combine(into: &mut Counters, other: &Counters, f: fn(u64, u64) -> u64) {
    fn direction(a: &mut DirectionCounters, b: &DirectionCounters, f: fn(u64, u64) -> u64) {
        a.rtp_packets = f(a.rtp_packets, b.rtp_packets);
        a.rtcp_packets = f(a.rtcp_packets, b.rtcp_packets);
        a.bytes = f(a.bytes, b.bytes);
        a.dtmf_packets = f(a.dtmf_packets, b.dtmf_packets);
        let (x, y): (&mut Drops, &Drops) = (&mut a.drops, &b.drops);
        x.malformed = f(x.malformed, y.malformed);
        x.unexpected_source = f(x.unexpected_source, y.unexpected_source);
        x.not_ready = f(x.not_ready, y.not_ready);
        x.auth_failed = f(x.auth_failed, y.auth_failed);
        x.replayed = f(x.replayed, y.replayed);
        x.srtp_other = f(x.srtp_other, y.srtp_other);
        x.send_failed = f(x.send_failed, y.send_failed);
        x.direction = f(x.direction, y.direction);
        x.foreign_ssrc = f(x.foreign_ssrc, y.foreign_ssrc);
        x.unknown_ssrc = f(x.unknown_ssrc, y.unknown_ssrc);
    }
    direction(
        &mut into.browser_to_enterprise,
        &other.browser_to_enterprise,
        f,
    );
    direction(
        &mut into.enterprise_to_browser,
        &other.enterprise_to_browser,
        f,
    );
    into.ice_checks = f(into.ice_checks, other.ice_checks);
    into.ice_rejected = f(into.ice_rejected, other.ice_rejected);
    into.dtls_datagrams = f(into.dtls_datagrams, other.dtls_datagrams);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::snapshot::{Counter, Direction, Status};
    use crate::SessionId;

    fn session(id: u64, now: Instant) -> Shared {
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        Shared::new(
            SessionId(id),
            now,
            addr,
            addr,
            None,
            0,
            Status {
                state: SessionState::New,
                browser_addr: None,
                enterprise_remote: None,
                ended_at: None,
                browser_known: true,
                dtls_started: None,
                connected_at: None,
                video: None,
            },
        )
    }

    /// A session counts in the table, then in the retired totals, never in both or neither;
    /// what its worker counts after removal is added; set-up latency is observed once.
    #[test]
    fn totals_stay_monotonic_across_retirement() {
        let t0 = Instant::now();
        let mut retired = Retired::default();
        let a = session(1, t0);
        let mut observed = Observed::default();
        a.stats.forwarded(Direction::FromBrowser, false, 100);
        a.status(|s| {
            s.state = SessionState::Active;
            s.dtls_started = Some(t0 + Duration::from_millis(20));
            s.connected_at = Some(t0 + Duration::from_millis(70));
        });
        let live = retired.totals([(&a, &mut observed)].into_iter());
        assert_eq!(live.sessions.active, 1);
        assert_eq!(live.counters.browser_to_enterprise.rtp_packets, 1);
        assert_eq!((live.dtls_ok, live.setup_latency.count), (1, 1));
        // 70 ms: not in the 0.05 bucket, in the 0.1 one.
        assert_eq!(live.setup_latency.buckets[3], 0);
        assert_eq!(live.setup_latency.buckets[4], 1);
        assert_eq!(live.dtls_duration.buckets[3], 1);
        // A second scrape observes nothing twice.
        let again = retired.totals([(&a, &mut observed)].into_iter());
        assert_eq!(again.setup_latency.count, 1);

        let counted = retired.retire(&a, observed);
        a.stats.forwarded(Direction::FromBrowser, false, 100);
        a.stats
            .dropped(Direction::FromEnterprise, Counter::Replayed);
        retired.add_late(0, &counted, &a.stats.snapshot());
        let gone = retired.totals(std::iter::empty());
        assert_eq!(gone.sessions, StateCounts::default());
        assert_eq!(gone.created, 1);
        assert_eq!(gone.ended.removed, 1);
        assert_eq!(gone.counters.browser_to_enterprise.rtp_packets, 2);
        assert_eq!(gone.counters.browser_to_enterprise.bytes, 200);
        assert_eq!(gone.counters.enterprise_to_browser.drops.replayed, 1);
        assert_eq!((gone.dtls_ok, gone.setup_latency.count), (1, 1));
        assert_eq!(gone.worker_packets, vec![2]);
    }
}
