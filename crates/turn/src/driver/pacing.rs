//! Wake-up pacing: interrupt moderation in user space.
//!
//! At VoIP rates (many flows, each a packet every 20 ms) a loop that blocks in `epoll_wait`
//! is woken for nearly every datagram, and the wake-up (the scheduler, `epoll_wait`, one
//! `recvmmsg` and one `sendmmsg` for a single datagram) costs more than relaying it. Once
//! traffic arrives faster than one datagram per `window`, the loop instead sleeps `window`
//! after each iteration and then polls without blocking, so each wake-up serves every
//! datagram that arrived meanwhile (the senders' wake-ups find no waiter and cost nothing).
//!
//! Bounds: a datagram waits at most `window` (plus the timer slack, 50 us by default) longer
//! than it would have, once per pass through the loop. The loop never sleeps while work is
//! left over (a socket whose queue filled a batch stays in the backlog and the next poll
//! does not block), nor when it is busy (an iteration that took half a window or more: under
//! a flood each wake-up already serves many datagrams, and sleeping would only throttle a
//! closed-loop sender), and it goes back to blocking as soon as an iteration finds nothing.
//! A zero window turns pacing off. Low rates are untouched: a loop that blocked for longer
//! than `window` before finding work does not start pacing.

use std::time::Duration;

/// Whether the next poll blocks, or sleeps first and then does not block.
#[derive(Debug)]
pub(crate) struct Pacing {
    window: Duration,
    coalescing: bool,
}

impl Pacing {
    /// Pacing with `window` (zero: off).
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window,
            coalescing: false,
        }
    }

    /// How long to sleep before the next poll (which then must not block), or `None` to
    /// block in the poll as usual.
    pub(crate) fn sleep(&self) -> Option<Duration> {
        self.coalescing.then_some(self.window)
    }

    /// Records an iteration: `work` datagrams received, `waited` blocked in the poll before
    /// it, `busy` spent handling them, `backlog` whether a socket still had datagrams queued
    /// at its end.
    pub(crate) fn after(&mut self, work: usize, waited: Duration, busy: Duration, backlog: bool) {
        self.coalescing = !self.window.is_zero()
            && !backlog
            && work > 0
            && busy < self.window / 2
            && (self.coalescing || waited < self.window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_micros(200);

    #[test]
    fn starts_when_traffic_is_denser_than_the_window_and_stops_when_idle() {
        let mut p = Pacing::new(W);
        assert_eq!(p.sleep(), None);
        let busy = Duration::from_micros(20);
        // Woken after 20 ms for one datagram: a low rate, keep blocking.
        p.after(1, Duration::from_millis(20), busy, false);
        assert_eq!(p.sleep(), None);
        // Woken after 30 us: traffic is dense, sleep before the next poll.
        p.after(1, Duration::from_micros(30), busy, false);
        assert_eq!(p.sleep(), Some(W));
        // Still work after sleeping: keep pacing.
        p.after(6, Duration::ZERO, busy, false);
        assert_eq!(p.sleep(), Some(W));
        // Nothing arrived in a window: block again.
        p.after(0, Duration::ZERO, busy, false);
        assert_eq!(p.sleep(), None);
    }

    #[test]
    fn never_sleeps_with_work_left_over_when_busy_or_when_off() {
        let mut p = Pacing::new(W);
        let busy = Duration::from_micros(20);
        p.after(1, Duration::from_micros(10), busy, false);
        assert_eq!(p.sleep(), Some(W));
        p.after(64 * 32, Duration::ZERO, busy, true);
        assert_eq!(p.sleep(), None);
        // Dense traffic, but the iteration kept the loop busy for half a window: a flood.
        p.after(1, Duration::from_micros(10), busy, false);
        p.after(300, Duration::ZERO, W / 2, false);
        assert_eq!(p.sleep(), None);
        let mut off = Pacing::new(Duration::ZERO);
        off.after(5, Duration::ZERO, busy, false);
        assert_eq!(off.sleep(), None);
    }
}
