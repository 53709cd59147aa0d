//! Flight retransmission with exponential back-off (RFC 6347 §4.2.4).
//!
//! The DTLS library arms a fixed interval after each flight it sends and retransmits that
//! flight (with fresh record sequence numbers) when woken after it. This wrapper decides
//! *when* to wake it: the timeout doubles with each retransmission up to a cap, and resets
//! when a new flight goes out.
//!
//! One library gap is covered here: when a handshake record arrives that does not complete
//! the peer's next flight (typically the peer repeating its previous flight because ours was
//! lost), the library clears its timer without re-arming it, and would never retransmit
//! again. In that state this wrapper resends the last flight's datagrams itself. They repeat
//! record sequence numbers, which is harmless: that path runs only when the peer shows it did
//! not get the flight, and a peer that did simply drops the duplicates.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::config::Limits;

#[derive(Debug)]
pub(crate) struct Retransmit {
    initial: Duration,
    max: Duration,
    doublings: u32,
    library_timer: Option<Instant>,
    deadline: Option<Instant>,
    flight: Vec<BytesMut>,
}

impl Retransmit {
    pub(crate) fn new(limits: Limits) -> Self {
        Retransmit {
            initial: limits.initial_retransmit,
            max: limits.max_retransmit,
            doublings: 0,
            library_timer: None,
            deadline: None,
            flight: Vec::new(),
        }
    }

    /// When the next retransmission is due, if one is pending.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the retransmission timer has expired at `now`.
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|at| now >= at)
    }

    /// Whether the library still has its own timer (and so retransmits itself when woken).
    pub(crate) fn library_armed(&self) -> bool {
        self.library_timer.is_some()
    }

    /// After the library handled input: `library_timer` is its timer now, `sent` what it just
    /// queued. Anything sent is a new flight (the library answers input only with its next
    /// flight); a timer disarmed without one is the gap this wrapper covers.
    pub(crate) fn after_input<'a>(
        &mut self,
        library_timer: Option<Instant>,
        sent: impl Iterator<Item = &'a BytesMut>,
    ) {
        let sent: Vec<BytesMut> = sent.cloned().collect();
        let changed = library_timer != self.library_timer;
        self.library_timer = library_timer;
        if !sent.is_empty() {
            self.flight = sent;
            self.doublings = 0;
            self.deadline = library_timer;
        } else if changed && library_timer.is_some() {
            self.deadline = library_timer;
        }
        // Disarmed without a new flight: keep our deadline and resend the flight ourselves.
    }

    /// After the library was woken at `now` and retransmitted `sent`.
    pub(crate) fn library_fired<'a>(
        &mut self,
        now: Instant,
        library_timer: Option<Instant>,
        sent: impl Iterator<Item = &'a BytesMut>,
    ) {
        self.library_timer = library_timer;
        self.remember(sent);
        self.back_off(now);
    }

    /// Resends the last flight verbatim into `out` (the library is disarmed).
    pub(crate) fn resend(&mut self, now: Instant, out: &mut VecDeque<BytesMut>) {
        out.extend(self.flight.iter().cloned());
        self.back_off(now);
    }

    fn remember<'a>(&mut self, sent: impl Iterator<Item = &'a BytesMut>) {
        let sent: Vec<BytesMut> = sent.cloned().collect();
        if !sent.is_empty() {
            self.flight = sent;
        }
    }

    fn back_off(&mut self, now: Instant) {
        self.doublings = self.doublings.saturating_add(1);
        let timeout = self
            .initial
            .checked_mul(1 << self.doublings.min(16))
            .map_or(self.max, |t| t.min(self.max));
        let pending = self.library_timer.is_some() || !self.flight.is_empty();
        self.deadline = pending.then_some(now + timeout);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn limits() -> Limits {
        Limits {
            handshake_timeout: Duration::from_secs(15),
            initial_retransmit: Duration::from_secs(1),
            max_retransmit: Duration::from_secs(4),
            max_handshake_bytes: 65536,
            max_malformed_datagrams: 16,
        }
    }

    #[test]
    fn backs_off_to_the_cap_and_resets_on_a_new_flight() {
        let t0 = Instant::now();
        let s = |n| t0 + Duration::from_secs(n);
        let flight = [BytesMut::from(&b"flight"[..])];
        let mut r = Retransmit::new(limits());
        r.after_input(Some(s(1)), flight.iter());
        assert_eq!(r.deadline(), Some(s(1)));
        r.library_fired(s(1), Some(s(2)), flight.iter());
        assert_eq!(r.deadline(), Some(s(3)));
        r.library_fired(s(3), Some(s(4)), flight.iter());
        assert_eq!(r.deadline(), Some(s(7)));
        r.library_fired(s(7), Some(s(8)), flight.iter());
        assert_eq!(r.deadline(), Some(s(11)), "capped at 4 s");
        // A new flight: back to the initial timeout.
        r.after_input(Some(s(9)), flight.iter());
        assert_eq!(r.deadline(), Some(s(9)));
    }

    #[test]
    fn a_disarmed_library_is_covered_by_verbatim_resends() {
        let t0 = Instant::now();
        let flight = [BytesMut::from(&b"a"[..]), BytesMut::from(&b"b"[..])];
        let mut r = Retransmit::new(limits());
        r.after_input(Some(t0 + Duration::from_secs(1)), flight.iter());
        r.after_input(None, std::iter::empty());
        assert!(!r.library_armed());
        assert_eq!(r.deadline(), Some(t0 + Duration::from_secs(1)));
        let mut out = VecDeque::new();
        r.resend(t0 + Duration::from_secs(1), &mut out);
        assert_eq!(out, flight);
        assert_eq!(r.deadline(), Some(t0 + Duration::from_secs(3)));
    }

    #[test]
    fn nothing_sent_means_nothing_pending() {
        let mut r = Retransmit::new(limits());
        r.after_input(None, std::iter::empty());
        assert_eq!(r.deadline(), None);
        assert!(!r.is_due(Instant::now()));
    }
}
