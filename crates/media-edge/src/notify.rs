//! systemd's readiness protocol (sd_notify(3)) for `Type=notify`: one datagram per state
//! change to the unix socket named by `NOTIFY_SOCKET` (a path, or `@name` for the abstract
//! namespace). Without the variable (not under systemd) nothing is sent. With
//! `WatchdogSec=` in the unit, [`watchdog`] pings while the process makes progress.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use edge_forward::Forwarder;

/// Sends `state` (`READY=1`, `STOPPING=1`, `RELOADING=1`, `STATUS=...`, one per line) to
/// systemd, if the process runs under it. A failure is logged, never fatal: the service
/// works the same, only systemd's view of it lags.
pub fn notify(state: &str) {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send(&target, state) {
        tracing::warn!(
            "sd_notify {:?} to NOTIFY_SOCKET={}: {e}",
            state,
            target.to_string_lossy()
        );
    }
}

fn send(target: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt as _;
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::net::SocketAddr;

    let socket = UnixDatagram::unbound()?;
    let bytes = target.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(std::path::Path::new(target))?,
    };
    socket.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

/// How long a forwarder worker's loop may stand still before the watchdog stops pinging: a
/// worker turns at least once a second even when idle.
pub const STALL: Duration = Duration::from_secs(5);

/// systemd's watchdog interval (`WatchdogSec=`, passed as `WATCHDOG_USEC`), when it is
/// meant for this process (`WATCHDOG_PID` absent or ours). media-edge pings at half of it.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    let ours = std::env::var("WATCHDOG_PID")
        .ok()
        .is_none_or(|pid| pid.parse() == Ok(std::process::id()));
    (ours && usec > 0).then(|| Duration::from_micros(usec))
}

/// Whether the data plane makes progress: each forwarder worker's turn count moved within
/// [`STALL`] (sans-IO: time and counts are arguments).
#[derive(Debug, Default)]
pub struct Progress {
    /// Per worker: the last count seen and when it last moved.
    seen: Vec<(u64, Instant)>,
}

impl Progress {
    /// Takes the workers' turn counts at `now`; whether every worker moved within [`STALL`].
    pub fn check(&mut self, now: Instant, turns: &[u64]) -> bool {
        if self.seen.len() != turns.len() {
            self.seen = turns.iter().map(|&t| (t, now)).collect();
        }
        let mut ok = true;
        for ((last, moved), &t) in self.seen.iter_mut().zip(turns) {
            if t != *last {
                *last = t;
                *moved = now;
            } else if now.saturating_duration_since(*moved) > STALL {
                ok = false;
            }
        }
        ok
    }
}

/// Sends `WATCHDOG=1` every half `interval` while the TURN loop is alive and every
/// forwarder worker makes progress; it runs on the control runtime, so a stuck runtime
/// stops the pings too. A stall is logged once, when it starts.
pub async fn watchdog(
    interval: Duration,
    turn: edge_turn::SnapshotReader,
    relay: Option<Forwarder>,
) {
    let mut progress = Progress::default();
    let mut stalled = false;
    let mut tick = tokio::time::interval(interval / 2);
    loop {
        tick.tick().await;
        let turns = relay
            .as_ref()
            .map(Forwarder::worker_turns)
            .unwrap_or_default();
        let ok = turn.is_alive() & progress.check(Instant::now(), &turns);
        if ok {
            notify("WATCHDOG=1");
        } else if !stalled {
            tracing::error!(
                "watchdog: the TURN loop stopped or a forwarder worker made no progress for \
                 {STALL:?}; no more WATCHDOG=1 (systemd acts after WatchdogSec)"
            );
        }
        stalled = !ok;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_that_stops_turning_stops_the_pings_after_the_stall() {
        let t0 = Instant::now();
        let mut p = Progress::default();
        assert!(p.check(t0, &[1, 1]));
        let s = Duration::from_secs(1);
        // Worker 1 idles but turns; worker 0 is stuck at 7.
        assert!(p.check(t0 + s, &[7, 2]));
        assert!(p.check(t0 + 6 * s, &[7, 7]));
        assert!(!p.check(t0 + 7 * s, &[7, 8]));
        // It moves again: pings resume.
        assert!(p.check(t0 + 8 * s, &[8, 9]));
        // No forwarder: nothing to stall.
        assert!(Progress::default().check(t0, &[]));
    }
}
