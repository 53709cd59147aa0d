//! The load phase every mode shares: pace (or flood) probes over a [`Fleet`] of flows,
//! collect what comes back, drain, and sum it up. Modes differ only in how they set their
//! flows up and frame a probe (ChannelData, SRTP, plain RTP): that is the [`Fleet`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::measure::Measurements;
use crate::pacer::Pacer;
use crate::report::{RunInfo, SetupReport};
use crate::{cpu, Error, Report};

/// Most probes one wake-up issues, so that a late wake-up cannot stall receiving.
const MAX_PER_WAKEUP: u64 = 1024;
/// Longest a flood flow waits for any of its probes before writing the in-flight ones off.
const FLOOD_STALL_NS: u64 = 250_000_000;
/// Longest the loop sleeps, so the stop flag and progress stay responsive.
const MAX_SLEEP: Duration = Duration::from_millis(50);

/// The run's time base: nanoseconds since it started. Probes carry these.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn new() -> Self {
        Clock {
            start: Instant::now(),
        }
    }

    /// Nanoseconds since the start.
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// The `Instant` of `ns` nanoseconds after the start.
    pub fn instant(&self, ns: u64) -> Instant {
        self.start + Duration::from_nanos(ns)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// The flows of a mode, set up and ready to carry probes.
pub trait Fleet {
    /// Flows carrying load; flow indices are `0..flows()`.
    fn flows(&self) -> usize;

    /// Sends `count` probes of `flow` with sequence numbers from `first_seq`, stamped
    /// `sent_ns`. Returns how many the local socket took (fewer when its buffer is full).
    fn send(
        &mut self,
        flow: usize,
        first_seq: u64,
        count: usize,
        sent_ns: u64,
    ) -> Result<usize, Error>;

    /// Waits up to `timeout` for input, records every probe that came back in `m` and
    /// anything else as stray, and runs the fleet's own timers (TURN refreshes).
    fn poll(&mut self, timeout: Duration, clock: &Clock, m: &mut Measurements)
        -> Result<(), Error>;
}

/// How the load phase runs.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Probes per second per flow; `None` floods: each flow keeps `window` probes in flight.
    pub rate: Option<u32>,
    /// Length of the sending phase.
    pub duration: Duration,
    /// How long to wait for stragglers after sending stops.
    pub drain: Duration,
    /// Probes in flight per flow when flooding.
    pub window: usize,
    /// Print progress to stderr once a second.
    pub progress: bool,
    /// Measure this server process's CPU time over the load phase.
    pub server_pid: Option<u32>,
}

/// Runs the load phase over `fleet` (unless it has no flows or `stop` is set already)
/// and sums it up in a [`Report`], with the server's CPU time when `config.server_pid`
/// is set.
pub fn measure(
    fleet: &mut dyn Fleet,
    config: &LoadConfig,
    info: RunInfo,
    setup: SetupReport,
    stop: &AtomicBool,
) -> Result<Report, Error> {
    let clock = Clock::new();
    let mut cpu_start = None;
    let mut cpu_used = None;
    let outcome = if fleet.flows() == 0 || stop.load(Ordering::Relaxed) {
        None
    } else {
        Some(run(fleet, config, &clock, stop, &mut |phase| {
            let Some(pid) = config.server_pid else { return };
            match (phase, cpu::process_cpu_s(pid)) {
                (Phase::LoadStart, Ok(t)) => cpu_start = Some(t),
                (Phase::DrainEnd, Ok(t)) => cpu_used = cpu_start.map(|s| t - s),
                (_, Err(e)) => eprintln!("edge-loadgen: cannot read the CPU time of {pid}: {e}"),
            }
        })?)
    };
    let interrupted = stop.load(Ordering::Relaxed);
    Ok(Report::new(
        info,
        config,
        setup,
        outcome.as_ref(),
        cpu_used,
        interrupted,
    ))
}

/// What the load phase measured.
#[derive(Debug)]
pub struct LoadOutcome {
    /// Per-flow records and the round-trip histogram.
    pub measurements: Measurements,
    /// How long the sending phase lasted.
    pub duration: Duration,
    /// Probes the local sockets would not take.
    pub send_blocked: u64,
    /// Probes the paced schedule wanted sent by the end that were never issued: the
    /// generator fell behind its schedule (0 for a flood).
    pub behind: u64,
    /// The stop flag cut the run short.
    pub interrupted: bool,
}

/// Runs the load phase over `fleet`: send for `config.duration` (or until `stop`), then
/// drain. `on_phase` is called when sending starts and when draining ends (to sample a
/// server's CPU time over exactly that span).
pub fn run(
    fleet: &mut dyn Fleet,
    config: &LoadConfig,
    clock: &Clock,
    stop: &AtomicBool,
    on_phase: &mut dyn FnMut(Phase),
) -> Result<LoadOutcome, Error> {
    let flows = fleet.flows();
    let mut m = Measurements::new(flows);
    let mut progress = Progress::new(clock.now_ns(), config.progress);
    let start_ns = clock.now_ns();
    let duration_ns = config.duration.as_nanos() as u64;
    let mut pacer = config.rate.map(|r| Pacer::new(flows, r, duration_ns));
    let mut flood = Flood::new(flows, config.window);
    let mut blocked = 0u64;
    let mut interrupted = false;
    on_phase(Phase::LoadStart);

    loop {
        let now = clock.now_ns() - start_ns;
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        let ended = now >= duration_ns;
        let timeout = match &mut pacer {
            Some(p) => {
                // At the end, one last pass sends what fell due in the final moments.
                for j in p.due(now.min(duration_ns), MAX_PER_WAKEUP) {
                    let flow = p.flow_of(j);
                    let sent = fleet.send(flow, m.next_seq(flow), 1, clock.now_ns())?;
                    m.sent(flow, sent as u64);
                    blocked += 1 - sent.min(1) as u64;
                }
                if ended || p.finished() {
                    break;
                }
                let next = p.next_due_ns().unwrap_or(now);
                Duration::from_nanos(next.saturating_sub(clock.now_ns() - start_ns))
            }
            None if ended => break,
            None => flood.send(fleet, &mut m, clock, &mut blocked)?,
        };
        fleet.poll(timeout.min(MAX_SLEEP), clock, &mut m)?;
        progress.tick(clock.now_ns(), &m);
    }
    let duration = Duration::from_nanos(clock.now_ns() - start_ns);
    // Probes the schedule wanted sent by the end that the loop did not get to: the
    // generator could not keep up (or was interrupted).
    let behind = pacer
        .as_ref()
        .map_or(0, |p| p.behind(duration.as_nanos() as u64));

    let drain_end = clock.now_ns() + config.drain.as_nanos() as u64;
    while m.received_total() < m.sent_total() {
        let now = clock.now_ns();
        if now >= drain_end {
            break;
        }
        fleet.poll(
            Duration::from_nanos(drain_end - now).min(MAX_SLEEP),
            clock,
            &mut m,
        )?;
    }
    on_phase(Phase::DrainEnd);
    progress.tick(u64::MAX, &m);
    Ok(LoadOutcome {
        measurements: m,
        duration,
        send_blocked: blocked,
        behind,
        interrupted,
    })
}

/// Points in the load phase reported to the caller of [`run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Sending is about to start.
    LoadStart,
    /// Draining has ended: nothing more will be counted.
    DrainEnd,
}

/// Flood bookkeeping: probes written off per flow after a stall, and when.
struct Flood {
    window: u64,
    written_off: Vec<u64>,
    written_off_at: Vec<u64>,
}

impl Flood {
    fn new(flows: usize, window: usize) -> Self {
        Flood {
            window: window.clamp(1, edge_udp::MAX_BATCH) as u64,
            written_off: vec![0; flows],
            written_off_at: vec![0; flows],
        }
    }

    /// Tops every flow up to `window` probes in flight; returns how long to wait for input.
    fn send(
        &mut self,
        fleet: &mut dyn Fleet,
        m: &mut Measurements,
        clock: &Clock,
        blocked: &mut u64,
    ) -> Result<Duration, Error> {
        let mut sent_any = false;
        for flow in 0..self.written_off.len() {
            let record = &m.flows()[flow];
            let (sent, received) = (record.sent(), record.received());
            let mut in_flight = sent.saturating_sub(received + self.written_off[flow]);
            let now = clock.now_ns();
            let quiet_since = record.last_receive_ns().max(self.written_off_at[flow]);
            if in_flight > 0 && now.saturating_sub(quiet_since) > FLOOD_STALL_NS {
                self.written_off[flow] += in_flight;
                self.written_off_at[flow] = now;
                in_flight = 0;
            }
            let want = self.window.saturating_sub(in_flight) as usize;
            if want == 0 {
                continue;
            }
            let n = fleet.send(flow, sent, want, now)?;
            m.sent(flow, n as u64);
            *blocked += (want - n) as u64;
            sent_any |= n > 0;
        }
        Ok(if sent_any {
            Duration::ZERO
        } else {
            Duration::from_millis(1)
        })
    }
}

/// Once-a-second progress lines on stderr.
struct Progress {
    enabled: bool,
    start_ns: u64,
    next_ns: u64,
}

impl Progress {
    fn new(now_ns: u64, enabled: bool) -> Self {
        Progress {
            enabled,
            start_ns: now_ns,
            next_ns: now_ns + 1_000_000_000,
        }
    }

    fn tick(&mut self, now_ns: u64, m: &Measurements) {
        if !self.enabled || now_ns < self.next_ns {
            return;
        }
        self.next_ns += 1_000_000_000;
        let label = if now_ns == u64::MAX {
            "done".to_owned()
        } else {
            format!("{:5.1}s", (now_ns - self.start_ns) as f64 / 1e9)
        };
        let h = m.rtt_us();
        eprintln!(
            "[{label}] sent {} received {} outstanding {} rtt p50 {} us p99 {} us",
            m.sent_total(),
            m.received_total(),
            m.sent_total().saturating_sub(m.received_total()),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
        );
    }
}
