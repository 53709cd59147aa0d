//! Replay window over packet indices (RFC 3711 section 3.3.2): a bitmap ring, so advancing
//! never shifts, and its storage is inline so a stream never allocates.

/// Words in the ring. One word more than the largest window, so the word holding the top index
/// never aliases the oldest word still inside the window.
const WORDS: usize = 17;
/// The largest configurable window, in packets.
pub(crate) const MAX_WINDOW: u64 = (WORDS as u64 - 1) * 64;

/// Why an index was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Seen before.
    Replayed,
    /// Behind the window.
    TooOld,
}

/// The indices seen within `size` of the highest one.
#[derive(Debug, Clone)]
pub(crate) struct ReplayWindow {
    /// Highest index accepted, `None` before the first.
    top: Option<u64>,
    /// Window size in packets, `1..=MAX_WINDOW`.
    size: u64,
    /// Bit `i % 64` of word `(i / 64) % WORDS` is set when index `i` was accepted.
    bits: [u64; WORDS],
}

impl ReplayWindow {
    /// An empty window of `size` packets (the caller has checked `1..=MAX_WINDOW`).
    pub(crate) fn new(size: u64) -> ReplayWindow {
        ReplayWindow {
            top: None,
            size,
            bits: [0; WORDS],
        }
    }

    /// The highest index accepted so far.
    pub(crate) fn top(&self) -> Option<u64> {
        self.top
    }

    /// Whether `index` may be accepted; changes nothing.
    pub(crate) fn check(&self, index: u64) -> Result<(), Refusal> {
        let Some(top) = self.top else {
            return Ok(());
        };
        if index > top {
            Ok(())
        } else if top - index >= self.size {
            Err(Refusal::TooOld)
        } else if self.bits[word(index)] & bit(index) != 0 {
            Err(Refusal::Replayed)
        } else {
            Ok(())
        }
    }

    /// Records `index`, which [`check`](Self::check) accepted and which authenticated.
    pub(crate) fn accept(&mut self, index: u64) {
        match self.top {
            Some(top) if index <= top => {}
            Some(top) => {
                // Clear the words the window slides over, at most the whole ring.
                let from = top / 64 + 1;
                let to = (index / 64).min(from + WORDS as u64 - 1);
                for w in from..=to {
                    self.bits[(w % WORDS as u64) as usize] = 0;
                }
                self.top = Some(index);
            }
            None => {
                self.bits = [0; WORDS];
                self.top = Some(index);
            }
        }
        self.bits[word(index)] |= bit(index);
    }
}

fn word(index: u64) -> usize {
    ((index / 64) % WORDS as u64) as usize
}

fn bit(index: u64) -> u64 {
    1 << (index % 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_packets_inside_the_window_are_accepted_exactly_once() {
        let mut w = ReplayWindow::new(128);
        w.accept(1000);
        for late in (873..1000).rev() {
            assert_eq!(w.check(late), Ok(()));
            w.accept(late);
            assert_eq!(w.check(late), Err(Refusal::Replayed));
        }
        assert_eq!(w.check(872), Err(Refusal::TooOld));
        assert_eq!(w.check(1000), Err(Refusal::Replayed));
        assert_eq!(w.check(1001), Ok(()));
    }

    #[test]
    fn a_jump_forgets_what_slid_out() {
        let mut w = ReplayWindow::new(MAX_WINDOW);
        for i in 0..3000 {
            w.accept(i);
        }
        w.accept(10_000);
        assert_eq!(w.check(10_000 - MAX_WINDOW), Err(Refusal::TooOld));
        for i in 10_000 - MAX_WINDOW + 1..10_000 {
            assert_eq!(w.check(i), Ok(()), "index {i}");
        }
        // Small steps clear exactly one word at a time.
        let mut w = ReplayWindow::new(64);
        for i in (0..5000).step_by(3) {
            assert_eq!(w.check(i), Ok(()));
            w.accept(i);
            assert_eq!(w.check(i + 1), Ok(()));
        }
    }

    #[test]
    fn matches_a_model_on_random_sequences() {
        let mut x = 7_u64;
        for size in [64, 128, 200, MAX_WINDOW] {
            let mut w = ReplayWindow::new(size);
            let mut seen = std::collections::BTreeSet::new();
            let mut top = 0_u64;
            for _ in 0..20_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (top + (x % 300)).saturating_sub(200);
                let expected = if seen.is_empty() || i > top {
                    Ok(())
                } else if top - i >= size {
                    Err(Refusal::TooOld)
                } else if seen.contains(&i) {
                    Err(Refusal::Replayed)
                } else {
                    Ok(())
                };
                assert_eq!(w.check(i), expected, "size {size} index {i} top {top}");
                if expected.is_ok() {
                    w.accept(i);
                    seen.insert(i);
                    top = top.max(i);
                }
            }
        }
    }
}
