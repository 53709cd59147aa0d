//! The parts of compound RTCP packets (RFC 3550 section 6.4, RFC 3611) the quality figures
//! read: sender reports' NTP time, report blocks, XR receiver reference times and DLRR
//! sub-blocks. A bounded walk over the caller's bytes: nothing is copied or allocated, a
//! packet that does not parse ends the walk.

use super::be32;

/// A report block's reception figures (RFC 3550 section 6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockFigures {
    /// 8-bit fixed point.
    pub(crate) fraction: u8,
    /// Cumulative lost, sign-extended from 24 bits.
    pub(crate) lost: i64,
    pub(crate) jitter: u32,
}

/// A report block, or an XR DLRR sub-block (`block == None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Report {
    pub(crate) ssrc: u32,
    pub(crate) block: Option<BlockFigures>,
    /// Last SR (or RRTR): NTP middle 32 bits.
    pub(crate) lsr: u32,
    /// Delay since then, 1/65536 s.
    pub(crate) dlsr: u32,
}

/// What the quality figures take from a compound RTCP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    /// An SR's NTP timestamp, or an XR receiver reference time (RFC 3611 4.4): middle 32 bits.
    SenderTime(u32),
    /// A report block (SR, RR) or a DLRR sub-block (XR, RFC 3611 4.5).
    Report(Report),
}

/// The items of a compound RTCP packet, in order; stops at the first packet that does not
/// parse (version, length beyond the datagram).
pub(crate) struct Items<'a> {
    buf: &'a [u8],
    /// Start of the current RTCP packet.
    at: usize,
    /// Within the current packet: what is being walked and where.
    state: Walk,
}

#[derive(Debug, Clone, Copy)]
enum Walk {
    /// Between packets.
    Next,
    /// Report blocks at `pos`, `left` more, within the packet ending at `end`.
    Blocks {
        pos: usize,
        left: u8,
        end: usize,
    },
    /// XR blocks at `pos` within the packet ending at `end`.
    Xr {
        pos: usize,
        end: usize,
    },
    /// DLRR sub-blocks at `pos` up to `sub_end`, then XR blocks again up to `end`.
    Dlrr {
        pos: usize,
        sub_end: usize,
        end: usize,
    },
    Done,
}

const SR: u8 = 200;
const RR: u8 = 201;
const XR: u8 = 207;

impl<'a> Items<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Items {
            buf,
            at: 0,
            state: Walk::Next,
        }
    }

    fn block(&self, pos: usize) -> Option<Report> {
        let b = self.buf.get(pos..pos + 24)?;
        let lost = i64::from(i32::from_be_bytes([b[5], b[6], b[7], 0]) >> 8);
        Some(Report {
            ssrc: be32(b, 0)?,
            block: Some(BlockFigures {
                fraction: b[4],
                lost,
                jitter: be32(b, 12)?,
            }),
            lsr: be32(b, 16)?,
            dlsr: be32(b, 20)?,
        })
    }
}

impl Iterator for Items<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            match self.state {
                Walk::Done => return None,
                Walk::Next => {
                    let header = self.buf.get(self.at..self.at + 4)?;
                    let words = usize::from(u16::from_be_bytes([header[2], header[3]]));
                    let end = self.at + (words + 1) * 4;
                    if header[0] >> 6 != 2 || end > self.buf.len() {
                        self.state = Walk::Done;
                        return None;
                    }
                    let (count, pt, start) = (header[0] & 0x1f, header[1], self.at);
                    self.at = end;
                    match pt {
                        SR => {
                            let Some(mid) =
                                be32(self.buf, start + 10).filter(|_| end >= start + 28)
                            else {
                                continue;
                            };
                            self.state = Walk::Blocks {
                                pos: start + 28,
                                left: count,
                                end,
                            };
                            return Some(Item::SenderTime(mid));
                        }
                        RR => {
                            self.state = Walk::Blocks {
                                pos: start + 8,
                                left: count,
                                end,
                            };
                        }
                        XR => {
                            self.state = Walk::Xr {
                                pos: start + 8,
                                end,
                            };
                        }
                        _ => {}
                    }
                }
                Walk::Blocks { pos, left, end } => {
                    if left == 0 || pos + 24 > end {
                        self.state = Walk::Next;
                        continue;
                    }
                    self.state = Walk::Blocks {
                        pos: pos + 24,
                        left: left - 1,
                        end,
                    };
                    if let Some(report) = self.block(pos) {
                        return Some(Item::Report(report));
                    }
                }
                Walk::Xr { pos, end } => {
                    let Some(header) = self.buf.get(pos..pos + 4).filter(|_| pos + 4 <= end) else {
                        self.state = Walk::Next;
                        continue;
                    };
                    let (bt, words) = (
                        header[0],
                        usize::from(u16::from_be_bytes([header[2], header[3]])),
                    );
                    let block_end = pos + 4 + words * 4;
                    if block_end > end {
                        self.state = Walk::Next;
                        continue;
                    }
                    self.state = Walk::Xr {
                        pos: block_end,
                        end,
                    };
                    match bt {
                        // Receiver reference time: an NTP timestamp, like an SR's.
                        4 if words == 2 => {
                            if let Some(mid) = be32(self.buf, pos + 6) {
                                return Some(Item::SenderTime(mid));
                            }
                        }
                        // DLRR: sub-blocks of SSRC, LRR, DLRR.
                        5 => {
                            self.state = Walk::Dlrr {
                                pos: pos + 4,
                                sub_end: block_end,
                                end,
                            };
                        }
                        _ => {}
                    }
                }
                Walk::Dlrr { pos, sub_end, end } => {
                    if pos + 12 > sub_end {
                        self.state = Walk::Xr { pos: sub_end, end };
                        continue;
                    }
                    self.state = Walk::Dlrr {
                        pos: pos + 12,
                        sub_end,
                        end,
                    };
                    let (Some(ssrc), Some(lsr), Some(dlsr)) = (
                        be32(self.buf, pos),
                        be32(self.buf, pos + 4),
                        be32(self.buf, pos + 8),
                    ) else {
                        continue;
                    };
                    return Some(Item::Report(Report {
                        ssrc,
                        block: None,
                        lsr,
                        dlsr,
                    }));
                }
            }
        }
    }
}
