//! Per-SSRC state: rollover counter and packet-index estimation (RFC 3711 section 3.3.1 and
//! Appendix A), replay windows, SRTCP index; and the bounded table holding it.

use crate::error::{Error, PacketKind};
use crate::replay::{Refusal, ReplayWindow};

/// The largest SRTCP index (31 bits).
pub(crate) const MAX_SRTCP_INDEX: u32 = 0x7fff_ffff;
/// The largest SRTP index (48 bits).
const MAX_SRTP_INDEX: u64 = (1 << 48) - 1;

/// The state of one SSRC within a context.
#[derive(Debug, Clone)]
pub(crate) struct Stream {
    /// SRTP indices seen (inbound) or used (outbound); its top is `ROC || s_l`.
    pub rtp: ReplayWindow,
    /// SRTCP indices seen (inbound) or used (outbound).
    pub rtcp: ReplayWindow,
}

impl Stream {
    fn new(window: u64) -> Stream {
        Stream {
            rtp: ReplayWindow::new(window),
            rtcp: ReplayWindow::new(window),
        }
    }

    /// The 48-bit index of the packet with sequence number `seq`: the guess of RFC 3711
    /// Appendix A from the highest index so far, or `ROC = 0` for the first packet.
    pub(crate) fn estimate_index(&self, ssrc: u32, seq: u16) -> Result<u64, Error> {
        let Some(top) = self.rtp.top() else {
            return Ok(u64::from(seq));
        };
        let roc = top >> 16;
        let s_l = top as u16;
        let v = if s_l < 0x8000 {
            if seq > s_l && seq - s_l > 0x8000 {
                // A late packet from before the last rollover; none exists before ROC 0.
                roc.checked_sub(1).ok_or(Error::TooOld {
                    kind: PacketKind::Rtp,
                    ssrc,
                    index: u64::from(seq),
                })?
            } else {
                roc
            }
        } else if s_l - 0x8000 > seq {
            roc + 1
        } else {
            roc
        };
        let index = v << 16 | u64::from(seq);
        if index > MAX_SRTP_INDEX {
            return Err(Error::KeyExhausted {
                kind: PacketKind::Rtp,
                ssrc,
            });
        }
        Ok(index)
    }

    /// The next SRTCP index to send: one past the highest used, starting at 0 (RFC 3711
    /// section 3.4).
    pub(crate) fn next_rtcp_index(&self, ssrc: u32) -> Result<u32, Error> {
        match self.rtcp.top() {
            None => Ok(0),
            Some(top) if top < u64::from(MAX_SRTCP_INDEX) => Ok(top as u32 + 1),
            Some(_) => Err(Error::KeyExhausted {
                kind: PacketKind::Rtcp,
                ssrc,
            }),
        }
    }
}

/// Checks `index` against `window`, naming the packet in the error.
pub(crate) fn check_replay(
    window: &ReplayWindow,
    kind: PacketKind,
    ssrc: u32,
    index: u64,
) -> Result<(), Error> {
    window.check(index).map_err(|refusal| match refusal {
        Refusal::Replayed => Error::Replayed { kind, ssrc, index },
        Refusal::TooOld => Error::TooOld { kind, ssrc, index },
    })
}

/// Where an SSRC's state is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Slot {
    /// In the table at this position.
    Known(usize),
    /// Not yet in the table, and there is room for it.
    New,
}

/// The SSRCs of a context, at most `limit`, in storage reserved up front so a new SSRC never
/// allocates. Looked up by linear scan over a dense array of SSRCs: contexts hold a handful.
#[derive(Debug)]
pub(crate) struct Streams {
    ssrcs: Vec<u32>,
    streams: Vec<Stream>,
    /// A fresh stream, the state of SSRCs not yet in the table.
    fresh: Stream,
    limit: usize,
}

impl Streams {
    pub(crate) fn new(limit: usize, window: u64) -> Streams {
        Streams {
            ssrcs: Vec::with_capacity(limit),
            streams: Vec::with_capacity(limit),
            fresh: Stream::new(window),
            limit,
        }
    }

    /// Finds `ssrc`, or checks there is room for it.
    pub(crate) fn slot(&self, ssrc: u32) -> Result<Slot, Error> {
        match self.ssrcs.iter().position(|&s| s == ssrc) {
            Some(i) => Ok(Slot::Known(i)),
            None if self.ssrcs.len() < self.limit => Ok(Slot::New),
            None => Err(Error::SsrcLimit {
                ssrc,
                limit: self.limit,
            }),
        }
    }

    /// The state in `slot` (a fresh one for [`Slot::New`]).
    pub(crate) fn get(&self, slot: Slot) -> &Stream {
        match slot {
            Slot::Known(i) => &self.streams[i],
            Slot::New => &self.fresh,
        }
    }

    /// The state in `slot` for update, adding `ssrc` to the table when it is new.
    pub(crate) fn commit(&mut self, slot: Slot, ssrc: u32) -> &mut Stream {
        let i = match slot {
            Slot::Known(i) => i,
            Slot::New => {
                self.ssrcs.push(ssrc);
                self.streams.push(self.fresh.clone());
                self.streams.len() - 1
            }
        };
        &mut self.streams[i]
    }

    /// The number of SSRCs tracked.
    pub(crate) fn len(&self) -> usize {
        self.ssrcs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(index: u64) -> Stream {
        let mut s = Stream::new(128);
        s.rtp.accept(index);
        s
    }

    #[test]
    fn index_estimation_follows_appendix_a() {
        assert_eq!(Stream::new(128).estimate_index(1, 65_000), Ok(65_000));
        // Rollover forward and a late packet from before it.
        assert_eq!(after(65_530).estimate_index(1, 3), Ok(0x1_0003));
        assert_eq!(after(0x1_0003).estimate_index(1, 65_530), Ok(65_530));
        // Near the middle no rollover is guessed.
        assert_eq!(after(0x1_8000).estimate_index(1, 1), Ok(0x1_0001));
        assert_eq!(after(0x2_7ffe).estimate_index(1, 0xffff), Ok(0x1_ffff));
        // Nothing precedes ROC 0.
        assert!(matches!(
            after(10).estimate_index(1, 60_000),
            Err(Error::TooOld { .. })
        ));
        // The 48-bit index space ends.
        assert!(matches!(
            after(MAX_SRTP_INDEX - 5).estimate_index(1, 2),
            Err(Error::KeyExhausted { .. })
        ));
    }

    #[test]
    fn srtcp_indices_start_at_zero_and_end_at_31_bits() {
        let mut s = Stream::new(128);
        assert_eq!(s.next_rtcp_index(1), Ok(0));
        s.rtcp.accept(0);
        assert_eq!(s.next_rtcp_index(1), Ok(1));
        s.rtcp.accept(MAX_SRTCP_INDEX.into());
        assert!(matches!(
            s.next_rtcp_index(1),
            Err(Error::KeyExhausted { .. })
        ));
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = Streams::new(2, 64);
        for ssrc in [7, 8] {
            let slot = t.slot(ssrc).unwrap();
            t.commit(slot, ssrc);
        }
        assert!(matches!(t.slot(7), Ok(Slot::Known(0))));
        assert_eq!(
            t.slot(9).unwrap_err(),
            Error::SsrcLimit { ssrc: 9, limit: 2 }
        );
        assert_eq!(t.len(), 2);
    }
}
