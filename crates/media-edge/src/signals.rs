//! The signals an operator sends, and what the process does until it exits:
//!
//! | signal | action |
//! |---|---|
//! | SIGTERM (first) | drain: readiness false, `STOPPING=1` to systemd, no new TURN allocation (300 to `drain.turn-alternate-server`, else 508), API `POST /v1/sessions` 503 with `Retry-After`; running allocations and calls go on until they end or `drain.timeout` passes, then exit 0 |
//! | SIGTERM (second), SIGINT | stop at once: every allocation and call ends, exit 0 |
//! | SIGHUP | reload ([`crate::reload`]) |
//! | SIGUSR1 | reopen `log.file` ([`crate::logging`]) |

use std::time::{Duration, Instant};

use edge_guard::{Guard, GuardStats};
use edge_turn::Service;
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::lifecycle::Lifecycle;
use crate::logging::Logs;
use crate::media_services::Media;
use crate::notify::notify;
use crate::reload::Reloader;

/// How often the loop checks its services, the drain and the stats interval.
const TICK: Duration = Duration::from_millis(500);
/// How often a drain says what is still open (and whenever that changes).
const DRAIN_REPORT: Duration = Duration::from_secs(10);

/// The handlers, installed before anything is announced so that a signal right after the
/// start-up lines is handled and not the default (killing) action.
pub struct Signals {
    term: Signal,
    interrupt: Signal,
    hangup: Signal,
    usr1: Signal,
}

impl Signals {
    /// Installs the handlers; must run inside the tokio runtime.
    ///
    /// # Errors
    /// When a handler cannot be installed.
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
            usr1: signal(SignalKind::user_defined1())?,
        })
    }
}

/// What the loop watches and acts on.
pub struct Process<'a> {
    /// The TURN service.
    pub service: &'a Service,
    /// The forwarder and its API, when configured.
    pub media: Option<&'a Media>,
    /// The guard shared by all services.
    pub guard: &'a Guard,
    /// Readiness, shared with the admin listener's `/readyz`.
    pub lifecycle: &'a Lifecycle,
    /// The log, reopened on SIGUSR1.
    pub logs: &'a Logs,
    /// The configuration, re-read on SIGHUP.
    pub reloader: Reloader,
    /// Seconds between `stats` lines (0: none).
    pub stats_interval: Duration,
}

/// A drain under way.
struct Draining {
    started: Instant,
    deadline: Instant,
    reported: Option<(Instant, (u64, usize))>,
}

/// Runs until the process is to exit: after a drain (every allocation and call ended, or
/// `drain.timeout` passed), at a second SIGTERM or a SIGINT, or when the TURN loop or the
/// API dies on its own (an error). Every `stats_interval` (unless zero) logs the guard's
/// counters when they moved.
pub async fn run(mut signals: Signals, mut p: Process<'_>) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(TICK);
    let mut logged = (Instant::now(), GuardStats::default());
    let mut draining: Option<Draining> = None;
    loop {
        tokio::select! {
            _ = signals.interrupt.recv() => {
                let why = if p.lifecycle.is_draining() { "SIGINT while draining" } else { "SIGINT" };
                stop_now(&p, why);
                return Ok(());
            }
            _ = signals.term.recv() => {
                if !p.lifecycle.start_draining() {
                    stop_now(&p, "second SIGTERM");
                    return Ok(());
                }
                let drain = p.reloader.drain().clone();
                if drain.timeout.is_zero() {
                    stop_now(&p, "SIGTERM (drain.timeout = 0)");
                    return Ok(());
                }
                notify("STOPPING=1");
                p.service.drain(drain.turn_alternate_server)?;
                if let Some(media) = p.media {
                    media.drain(drain.retry_after);
                }
                let refusal = match drain.turn_alternate_server {
                    Some(alternate) => format!("300 Try Alternate to {alternate}"),
                    None => "508 Insufficient Capacity".to_owned(),
                };
                tracing::info!(
                    "SIGTERM: draining for at most {} s: not ready; new TURN allocations get \
                     {refusal}, new API sessions 503 (Retry-After {} s); running allocations \
                     and calls go on (a second SIGTERM or SIGINT stops at once)",
                    drain.timeout.as_secs_f64(),
                    drain.retry_after.as_secs().max(1),
                );
                let now = Instant::now();
                draining = Some(Draining {
                    started: now,
                    deadline: now + drain.timeout,
                    reported: None,
                });
            }
            _ = signals.hangup.recv() => {
                tracing::info!("SIGHUP: reloading");
                p.reloader.reload(p.service, p.media, p.guard);
            }
            _ = signals.usr1.recv() => p.logs.reopen(),
            _ = tick.tick() => {
                if !p.service.is_running() {
                    anyhow::bail!("the TURN event loop stopped unexpectedly");
                }
                if p.media.is_some_and(|m| !m.is_running()) {
                    anyhow::bail!("the control API stopped unexpectedly");
                }
                let now = Instant::now();
                if let Some(d) = &mut draining {
                    if drained(&p, d, now) {
                        return Ok(());
                    }
                }
                if !p.stats_interval.is_zero()
                    && now.duration_since(logged.0) >= p.stats_interval
                {
                    let stats = p.guard.stats();
                    if stats != logged.1 {
                        tracing::info!("{}", crate::stats_line(&stats));
                    }
                    logged = (now, stats);
                }
            }
        }
    }
}

/// Logs what a drain still waits for (every [`DRAIN_REPORT`] and whenever it changes);
/// true once nothing is open or the deadline passed.
fn drained(p: &Process<'_>, d: &mut Draining, now: Instant) -> bool {
    let allocations = p.service.snapshot().allocations;
    let calls = p.media.map_or(0, Media::open_sessions);
    let waited = now.duration_since(d.started).as_secs();
    if allocations == 0 && calls == 0 {
        tracing::info!("drain complete after {waited} s: no allocation and no call open; exiting");
        return true;
    }
    if now >= d.deadline {
        tracing::warn!(
            "drain timeout after {waited} s: ending {allocations} allocation(s) and {calls} \
             call(s) still open; exiting"
        );
        return true;
    }
    let open = (allocations, calls);
    let due = d
        .reported
        .is_none_or(|(at, last)| last != open || now.duration_since(at) >= DRAIN_REPORT);
    if due {
        tracing::info!(
            "draining: {allocations} allocation(s) and {calls} call(s) still open, {} s left",
            d.deadline.saturating_duration_since(now).as_secs()
        );
        d.reported = Some((now, open));
    }
    false
}

/// A stop that ends everything at once.
fn stop_now(p: &Process<'_>, why: &str) {
    p.lifecycle.start_draining();
    notify("STOPPING=1");
    let allocations = p.service.snapshot().allocations;
    let calls = p.media.map_or(0, Media::open_sessions);
    tracing::info!(
        "{why}: stopping at once, ending {allocations} allocation(s) and {calls} call(s)"
    );
}
