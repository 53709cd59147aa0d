//! When to send: a paced schedule that spreads `flows x rate` probes per second evenly over
//! time, round-robin over the flows, so that each flow sends at exactly its rate and the
//! aggregate is smooth (no per-second bursts). Sans-IO: time is an argument, in
//! nanoseconds since the run started.

use std::ops::Range;

const NS_PER_S: u128 = 1_000_000_000;

/// The paced schedule of a bounded run. Global probe `j` goes to flow `j % flows` and is
/// due at `j / (flows * rate)` seconds.
#[derive(Debug, Clone)]
pub struct Pacer {
    flows: u64,
    /// Probes per second over all flows.
    total_rate: u64,
    /// Probes issued so far.
    issued: u64,
    /// Probes in the whole run.
    total: u64,
}

impl Pacer {
    /// A schedule of `flows` flows at `rate` probes per second each for `duration_ns`.
    pub fn new(flows: usize, rate: u32, duration_ns: u64) -> Self {
        let flows = flows.max(1) as u64;
        let total_rate = flows * u64::from(rate);
        let total = (u128::from(total_rate) * u128::from(duration_ns) / NS_PER_S) as u64;
        Pacer {
            flows,
            total_rate,
            issued: 0,
            total,
        }
    }

    /// The global indices of the probes due by `now_ns` and not issued yet, at most `max`
    /// of them; they count as issued. Map each to its flow with [`Pacer::flow_of`].
    pub fn due(&mut self, now_ns: u64, max: u64) -> Range<u64> {
        let due = (u128::from(now_ns) * u128::from(self.total_rate) / NS_PER_S) as u64 + 1;
        let end = due.min(self.total).min(self.issued.saturating_add(max));
        let start = self.issued;
        self.issued = end.max(start);
        start..self.issued
    }

    /// The flow of global probe `j`.
    pub fn flow_of(&self, j: u64) -> usize {
        (j % self.flows) as usize
    }

    /// When the next probe is due (ns since the start), `None` when all were issued.
    pub fn next_due_ns(&self) -> Option<u64> {
        if self.issued >= self.total || self.total_rate == 0 {
            return None;
        }
        Some((u128::from(self.issued) * NS_PER_S).div_ceil(u128::from(self.total_rate)) as u64)
    }

    /// Probes due by `now_ns` (capped at the run's total) that were not issued.
    pub fn behind(&self, now_ns: u64) -> u64 {
        let due = (u128::from(now_ns) * u128::from(self.total_rate) / NS_PER_S) as u64;
        due.min(self.total).saturating_sub(self.issued)
    }

    /// Whether every probe of the run has been issued.
    pub fn finished(&self) -> bool {
        self.issued >= self.total
    }

    /// Probes in the whole run.
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_spacing_round_robin() {
        // 4 flows x 50 pps = 200 pps: one probe every 5 ms.
        let mut p = Pacer::new(4, 50, 1_000_000_000);
        assert_eq!(p.total(), 200);
        assert_eq!(p.due(0, u64::MAX), 0..1);
        assert_eq!(p.next_due_ns(), Some(5_000_000));
        assert_eq!(p.due(4_999_999, u64::MAX), 1..1);
        assert_eq!(p.due(5_000_000, u64::MAX), 1..2);
        assert_eq!(p.due(20_000_000, u64::MAX), 2..5);
        assert_eq!(
            (0..8).map(|j| p.flow_of(j)).collect::<Vec<_>>(),
            [0, 1, 2, 3, 0, 1, 2, 3]
        );
    }

    #[test]
    fn catch_up_is_bounded_and_the_run_ends() {
        let mut p = Pacer::new(10, 1_000, 500_000_000);
        assert_eq!(p.total(), 5_000);
        assert_eq!(
            p.due(10_000_000_000, 64),
            0..64,
            "a late wake-up sends at most max"
        );
        let mut issued = 64;
        while !p.finished() {
            issued += p.due(10_000_000_000, 64).count() as u64;
        }
        assert_eq!(issued, 5_000);
        assert_eq!(p.next_due_ns(), None);
        assert_eq!(p.due(u64::MAX, u64::MAX), 5_000..5_000);
        assert_eq!(p.behind(u64::MAX), 0);
        let late = Pacer::new(1, 1_000, 1_000_000_000);
        assert_eq!(
            late.behind(500_000_000),
            500,
            "nothing issued in half a second"
        );
    }

    #[test]
    fn each_flow_gets_its_rate() {
        let mut p = Pacer::new(3, 50, 2_000_000_000);
        let mut per_flow = [0u32; 3];
        for j in p.due(2_000_000_000, u64::MAX) {
            per_flow[p.flow_of(j)] += 1;
        }
        assert_eq!(per_flow, [100, 100, 100]);
    }
}
