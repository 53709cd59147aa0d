//! What a run measures: per-flow delivery (sequence gaps, duplicates, reordering, RFC 3550
//! interarrival jitter of the round-trip time) and one HDR histogram of round-trip times.
//!
//! Recording allocates nothing: flows and the histogram are sized when the run starts.

use hdrhistogram::Histogram;

use crate::probe::Probe;

/// Sequence numbers a flow remembers for duplicate detection, behind its highest.
const WINDOW_BITS: u64 = 1024;
const WINDOW_WORDS: usize = (WINDOW_BITS / 64) as usize;

/// Largest round trip the histogram records exactly, in microseconds (60 s); longer ones
/// are clamped to it.
const RTT_MAX_US: u64 = 60_000_000;

/// One flow's delivery record.
#[derive(Debug, Clone)]
pub struct FlowRecord {
    sent: u64,
    received: u64,
    duplicates: u64,
    reordered: u64,
    /// Highest sequence number received, if any.
    highest: Option<u64>,
    /// Bit `i` of the window: sequence `highest - i` was received.
    window: [u64; WINDOW_WORDS],
    /// Round-trip time of the previous probe, ns.
    last_rtt_ns: Option<u64>,
    /// RFC 3550 interarrival jitter estimate, ns.
    jitter_ns: f64,
    /// When the flow last received anything, ns since the run started.
    last_receive_ns: u64,
}

impl Default for FlowRecord {
    fn default() -> Self {
        FlowRecord {
            sent: 0,
            received: 0,
            duplicates: 0,
            reordered: 0,
            highest: None,
            window: [0; WINDOW_WORDS],
            last_rtt_ns: None,
            jitter_ns: 0.0,
            last_receive_ns: 0,
        }
    }
}

impl FlowRecord {
    /// Probes sent so far; also the next sequence number.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Distinct probes received.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// When the flow last received a probe, ns since the run started.
    pub fn last_receive_ns(&self) -> u64 {
        self.last_receive_ns
    }

    /// Marks a sequence number received; `false` when it was already (a duplicate).
    /// Sequences older than the window cannot be checked and count as new.
    fn mark(&mut self, seq: u64) -> bool {
        let Some(highest) = self.highest else {
            self.highest = Some(seq);
            self.window[0] = 1;
            return true;
        };
        if seq > highest {
            shift_window(&mut self.window, seq - highest);
            self.window[0] |= 1;
            self.highest = Some(seq);
            return true;
        }
        self.reordered += 1;
        let age = highest - seq;
        if age >= WINDOW_BITS {
            return true;
        }
        let (word, bit) = ((age / 64) as usize, age % 64);
        let seen = self.window[word] & (1 << bit) != 0;
        self.window[word] |= 1 << bit;
        if seen {
            self.reordered -= 1;
        }
        !seen
    }
}

/// Shifts the bitmap toward older sequences by `by` positions.
fn shift_window(window: &mut [u64; WINDOW_WORDS], by: u64) {
    if by >= WINDOW_BITS {
        *window = [0; WINDOW_WORDS];
        return;
    }
    let words = (by / 64) as usize;
    let bits = by % 64;
    for i in (0..WINDOW_WORDS).rev() {
        let hi = i.checked_sub(words).map_or(0, |j| window[j]);
        let lo = i
            .checked_sub(words + 1)
            .filter(|_| bits != 0)
            .map_or(0, |j| window[j] >> (64 - bits));
        window[i] = if bits == 0 { hi } else { (hi << bits) | lo };
    }
}

/// Totals over every flow, as a [`crate::Report`] shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    /// Probes sent.
    pub sent: u64,
    /// Distinct probes received back.
    pub received: u64,
    /// Probes received more than once (the extra copies).
    pub duplicates: u64,
    /// Probes received after a later one of the same flow.
    pub reordered: u64,
    /// Mean over flows of the RFC 3550 jitter estimate, microseconds.
    pub jitter_us: f64,
}

/// Every flow's record plus the round-trip histogram.
#[derive(Debug)]
pub struct Measurements {
    flows: Vec<FlowRecord>,
    rtt_us: Histogram<u64>,
    stray: u64,
    sent_total: u64,
    received_total: u64,
}

impl Measurements {
    /// Records for `flows` flows.
    pub fn new(flows: usize) -> Self {
        Measurements {
            flows: vec![FlowRecord::default(); flows],
            rtt_us: new_histogram(RTT_MAX_US),
            stray: 0,
            sent_total: 0,
            received_total: 0,
        }
    }

    /// The flows' records.
    pub fn flows(&self) -> &[FlowRecord] {
        &self.flows
    }

    /// Counts `count` probes sent on `flow`; returns the first one's sequence number.
    pub fn sent(&mut self, flow: usize, count: u64) -> u64 {
        match self.flows.get_mut(flow) {
            Some(f) => {
                let first = f.sent;
                f.sent += count;
                self.sent_total += count;
                first
            }
            None => 0,
        }
    }

    /// The next sequence number of `flow`.
    pub fn next_seq(&self, flow: usize) -> u64 {
        self.flows.get(flow).map_or(0, |f| f.sent)
    }

    /// Records a probe that came back at `now_ns` (ns since the run started). Probes of
    /// unknown flows, from the future, or with sequence numbers never sent count as stray.
    pub fn received(&mut self, probe: Probe, now_ns: u64) {
        let Some(flow) = self.flows.get_mut(probe.flow as usize) else {
            self.stray += 1;
            return;
        };
        if probe.seq >= flow.sent || probe.sent_ns > now_ns {
            self.stray += 1;
            return;
        }
        if !flow.mark(probe.seq) {
            flow.duplicates += 1;
            return;
        }
        flow.received += 1;
        flow.last_receive_ns = now_ns;
        self.received_total += 1;
        let rtt = now_ns - probe.sent_ns;
        if let Some(last) = flow.last_rtt_ns {
            let d = rtt.abs_diff(last) as f64;
            flow.jitter_ns += (d - flow.jitter_ns) / 16.0;
        }
        flow.last_rtt_ns = Some(rtt);
        // Clamped to the histogram's range, so recording cannot fail.
        let _ = self.rtt_us.record((rtt / 1_000).clamp(1, RTT_MAX_US));
    }

    /// Probes sent, over all flows.
    pub fn sent_total(&self) -> u64 {
        self.sent_total
    }

    /// Distinct probes received, over all flows.
    pub fn received_total(&self) -> u64 {
        self.received_total
    }

    /// Received things that were not probes of this run.
    pub fn stray(&self) -> u64 {
        self.stray
    }

    /// Counts one received datagram that was not a probe.
    pub fn record_stray(&mut self) {
        self.stray += 1;
    }

    /// The round-trip histogram, microseconds.
    pub fn rtt_us(&self) -> &Histogram<u64> {
        &self.rtt_us
    }

    /// Sums over flows.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        let mut jitter = 0.0;
        for f in &self.flows {
            t.sent += f.sent;
            t.received += f.received;
            t.duplicates += f.duplicates;
            t.reordered += f.reordered;
            jitter += f.jitter_ns;
        }
        if !self.flows.is_empty() {
            t.jitter_us = jitter / self.flows.len() as f64 / 1_000.0;
        }
        t
    }
}

/// A histogram from 1 to `max` with three significant digits.
#[allow(clippy::expect_used)] // Reason: constant bounds, valid for every max >= 2.
pub(crate) fn new_histogram(max: u64) -> Histogram<u64> {
    Histogram::new_with_bounds(1, max.max(2), 3).expect("1..=max (max >= 2), 3 digits is valid")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn probe(seq: u64, sent_ns: u64) -> Probe {
        Probe {
            flow: 0,
            seq,
            sent_ns,
        }
    }

    #[test]
    fn in_order_delivery_counts_and_rtt() {
        let mut m = Measurements::new(1);
        m.sent(0, 100);
        for s in 0..100 {
            m.received(probe(s, s * 1_000_000), s * 1_000_000 + 250_000);
        }
        let t = m.totals();
        assert_eq!(
            (t.sent, t.received, t.duplicates, t.reordered),
            (100, 100, 0, 0)
        );
        assert_eq!(t.jitter_us, 0.0, "constant RTT has no jitter");
        assert_eq!(m.rtt_us().value_at_quantile(0.5), 250);
        assert_eq!(m.stray(), 0);
    }

    #[test]
    fn gaps_duplicates_and_reordering() {
        let mut m = Measurements::new(1);
        m.sent(0, 10);
        for s in [0, 1, 3, 2, 2, 5, 9, 9, 4] {
            m.received(probe(s, 0), 1_000);
        }
        let t = m.totals();
        assert_eq!(t.received, 7, "0 1 2 3 4 5 9");
        assert_eq!(t.duplicates, 2);
        assert_eq!(t.reordered, 2, "2 after 3, 4 after 9");
        assert_eq!(t.sent - t.received, 3, "6 7 8 lost");
    }

    #[test]
    fn duplicates_detected_across_window_word_boundaries() {
        let mut m = Measurements::new(1);
        m.sent(0, 5_000);
        for s in (0..5_000).rev().step_by(7) {
            m.received(probe(s, 0), 1);
        }
        let first = m.totals().received;
        for s in (4_000..5_000).rev().step_by(7) {
            m.received(probe(s, 0), 1);
        }
        let t = m.totals();
        assert_eq!(
            t.received, first,
            "re-sent ones within the window are duplicates"
        );
        assert!(t.duplicates > 100);
    }

    #[test]
    fn shift_matches_a_naive_window() {
        let mut w = [0u64; WINDOW_WORDS];
        w[0] = 0b1011;
        w[3] = 1 << 63;
        for by in [1u64, 5, 63, 64, 65, 130, 1023] {
            let mut shifted = w;
            shift_window(&mut shifted, by);
            for bit in 0..WINDOW_BITS {
                let get = |w: &[u64; WINDOW_WORDS], b: u64| w[(b / 64) as usize] >> (b % 64) & 1;
                let expected = if bit >= by { get(&w, bit - by) } else { 0 };
                assert_eq!(get(&shifted, bit), expected, "shift {by} bit {bit}");
            }
        }
        shift_window(&mut w, WINDOW_BITS);
        assert_eq!(w, [0; WINDOW_WORDS]);
    }

    #[test]
    fn strays_and_unsent_sequences_do_not_count() {
        let mut m = Measurements::new(2);
        m.sent(0, 1);
        m.received(
            Probe {
                flow: 7,
                seq: 0,
                sent_ns: 0,
            },
            1,
        );
        m.received(probe(5, 0), 1);
        m.received(probe(0, 10), 1);
        assert_eq!(m.stray(), 3);
        assert_eq!(m.totals().received, 0);
    }

    #[test]
    fn jitter_follows_rfc3550() {
        let mut m = Measurements::new(1);
        m.sent(0, 3);
        m.received(probe(0, 0), 1_000_000);
        m.received(probe(1, 0), 2_600_000);
        let j = m.totals().jitter_us;
        assert!(
            (j - 100.0).abs() < 1e-9,
            "1.6 ms difference / 16 = 100 us, got {j}"
        );
    }
}
