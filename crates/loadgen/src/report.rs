//! The result of a run: [`Report`], printed as a table for people or as JSON (`--json`).

use std::fmt;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::load::{LoadConfig, LoadOutcome};

/// Percentiles of a histogram, in the histogram's unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Smallest.
    pub min: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// Reads the percentiles of `h` (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            min: h.min(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// How session or allocation set-up went.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SetupReport {
    /// Set-ups attempted.
    pub attempted: usize,
    /// Set-ups that completed.
    pub succeeded: usize,
    /// The first few failures, as messages.
    pub errors: Vec<String>,
    /// Set-up time of the successful ones, microseconds.
    pub us: Percentiles,
}

/// The server's CPU time over the load phase (see [`crate::cpu`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServerCpu {
    /// The server process.
    pub pid: u32,
    /// CPU seconds (user + system, all threads) it used during the load phase.
    pub cpu_s: f64,
    /// Packets the server forwarded per CPU second: two per round trip (one each way,
    /// each a receive and a send), divided by `cpu_s`.
    pub forwarded_per_cpu_s: f64,
}

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `turn`, `webrtc`, `rtpengine`, ...
    pub mode: String,
    /// What was loaded (server address, transport).
    pub target: String,
    /// Flows (allocations, calls) that carried load.
    pub flows: usize,
    /// Probes per second per flow, `None` for a flood.
    pub rate_pps: Option<u32>,
    /// Payload bytes per probe packet.
    pub payload_bytes: usize,
    /// Seconds of the load phase (sending), as it ran.
    pub duration_s: f64,
    /// Probes sent.
    pub sent: u64,
    /// Probes that came back (distinct).
    pub received: u64,
    /// `sent - received` after the drain period.
    pub lost: u64,
    /// `lost / sent`.
    pub loss_ratio: f64,
    /// Extra copies received.
    pub duplicates: u64,
    /// Probes received after a later one of their flow.
    pub reordered: u64,
    /// Received datagrams that were not probes of this run.
    pub stray: u64,
    /// Probes the local socket would not take (its buffer was full); not in `sent`.
    pub send_blocked: u64,
    /// Probes the paced schedule wanted sent that the generator never got to (it could
    /// not keep up); not in `sent`. A run with any is not a valid measurement of the server.
    pub behind_schedule: u64,
    /// Round trips delivered per second of the load phase.
    pub delivered_pps: f64,
    /// Round-trip time, microseconds.
    pub rtt_us: Percentiles,
    /// Mean over flows of the RFC 3550 jitter of the round-trip time, microseconds.
    pub jitter_us: f64,
    /// Set-up of allocations or sessions.
    pub setup: SetupReport,
    /// The server's CPU use, when its PID was given.
    pub server: Option<ServerCpu>,
    /// The run was cut short (Ctrl-C).
    pub interrupted: bool,
}

/// What a report says about the run besides its measurements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// `turn`, `webrtc`, ...
    pub mode: String,
    /// What was loaded.
    pub target: String,
    /// Payload bytes per probe packet.
    pub payload_bytes: usize,
}

impl Report {
    /// Sums up a load phase. `outcome` is `None` when no load ran (nothing was set up,
    /// or the run was stopped before); `server_cpu_s` is the server's CPU time over the
    /// load phase, with `config.server_pid`.
    pub fn new(
        info: RunInfo,
        config: &LoadConfig,
        setup: SetupReport,
        outcome: Option<&LoadOutcome>,
        server_cpu_s: Option<f64>,
        interrupted: bool,
    ) -> Report {
        let m = outcome.map(|o| &o.measurements);
        let duration = outcome.map_or(0.0, |o| o.duration.as_secs_f64());
        let totals = m.map(|m| m.totals()).unwrap_or_default();
        let lost = totals.sent.saturating_sub(totals.received);
        let per_s = |n: f64, s: f64| if s > 0.0 { n / s } else { 0.0 };
        let server = match (config.server_pid, server_cpu_s) {
            (Some(pid), Some(cpu_s)) => Some(ServerCpu {
                pid,
                cpu_s,
                forwarded_per_cpu_s: per_s(2.0 * totals.received as f64, cpu_s),
            }),
            _ => None,
        };
        Report {
            mode: info.mode,
            target: info.target,
            flows: setup.succeeded,
            rate_pps: config.rate,
            payload_bytes: info.payload_bytes,
            duration_s: duration,
            sent: totals.sent,
            received: totals.received,
            lost,
            loss_ratio: per_s(lost as f64, totals.sent as f64),
            duplicates: totals.duplicates,
            reordered: totals.reordered,
            stray: m.map_or(0, |m| m.stray()),
            send_blocked: outcome.map_or(0, |o| o.send_blocked),
            behind_schedule: outcome.map_or(0, |o| o.behind),
            delivered_pps: per_s(totals.received as f64, duration),
            rtt_us: m.map(|m| Percentiles::of(m.rtt_us())).unwrap_or_default(),
            jitter_us: totals.jitter_us,
            setup,
            server,
            interrupted: interrupted || outcome.is_some_and(|o| o.interrupted),
        }
    }

    /// Whether the run met its bounds: loss ratio at most `max_loss` (probes never sent,
    /// because the generator fell behind or its socket was full, count as lost here),
    /// every set-up done,
    /// something delivered.
    pub fn passed(&self, max_loss: f64) -> bool {
        let unsent = self.behind_schedule + self.send_blocked;
        let scheduled = self.sent + unsent;
        let missing = self.lost + unsent;
        missing as f64 <= max_loss * scheduled as f64
            && self.setup.succeeded == self.setup.attempted
            && self.received > 0
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = match self.rate_pps {
            Some(r) => format!("{r} pps each"),
            None => "flood".to_owned(),
        };
        writeln!(
            f,
            "edge-loadgen {} -> {}: {} flows, {}, {} B payload, {:.1} s{}",
            self.mode,
            self.target,
            self.flows,
            rate,
            self.payload_bytes,
            self.duration_s,
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        )?;
        let s = &self.setup;
        let ms = |us: u64| us as f64 / 1_000.0;
        writeln!(
            f,
            "  set-up      {}/{} ok   ms p50 {:.1} p90 {:.1} p99 {:.1} max {:.1}",
            s.succeeded,
            s.attempted,
            ms(s.us.p50),
            ms(s.us.p90),
            ms(s.us.p99),
            ms(s.us.max)
        )?;
        for e in &s.errors {
            writeln!(f, "    failed: {e}")?;
        }
        writeln!(
            f,
            "  packets     sent {}  received {}  lost {} ({:.4}%)  dup {}  reordered {}  stray {}  blocked {}  behind {}",
            self.sent,
            self.received,
            self.lost,
            self.loss_ratio * 100.0,
            self.duplicates,
            self.reordered,
            self.stray,
            self.send_blocked,
            self.behind_schedule
        )?;
        writeln!(f, "  delivered   {:.0} round trips/s", self.delivered_pps)?;
        let r = &self.rtt_us;
        writeln!(
            f,
            "  rtt (us)    min {}  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {:.0}",
            r.min, r.p50, r.p90, r.p99, r.p999, r.max, r.mean
        )?;
        writeln!(f, "  jitter (us) {:.1}", self.jitter_us)?;
        if let Some(c) = &self.server {
            writeln!(
                f,
                "  server      pid {}  cpu {:.2} s  {:.0} forwarded packets per cpu-second",
                c.pid, c.cpu_s, c.forwarded_per_cpu_s
            )?;
        }
        Ok(())
    }
}
