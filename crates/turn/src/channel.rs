//! ChannelData framing on the server's listeners, with the RFC 5766 channel range.
//!
//! RFC 8656 §12 narrowed channel numbers to 0x4000-0x4FFF so that ChannelData cannot be
//! mistaken for RTP/DTLS on ports that multiplex them (RFC 7983), and `edge-stun` implements
//! that range. Deployed clients still use RFC 5766's 0x4000-0x7FFF: coturn's `turnutils`
//! picks channel numbers from the whole of it. A TURN listener carries nothing but STUN and
//! ChannelData, so it tells them apart by the first two bits (`00` STUN, `01` ChannelData,
//! RFC 5766 §11) and accepts every RFC 5766 channel number, as coturn does. Everything else
//! about STUN messages is left to `edge-stun`.

use std::ops::{Range, RangeInclusive};

use edge_stun::{Frame, CHANNEL_DATA_HEADER_LEN};

/// Channel numbers a client may bind: RFC 5766's range, which contains RFC 8656's.
pub const CHANNEL_NUMBERS: RangeInclusive<u16> = 0x4000..=0x7FFF;

/// What a listener input is, by its first two bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Stun,
    ChannelData,
    Garbage,
}

pub(crate) fn kind(first: u8) -> Kind {
    match first >> 6 {
        0b00 => Kind::Stun,
        0b01 => Kind::ChannelData,
        _ => Kind::Garbage,
    }
}

/// Parses a ChannelData datagram or stream frame: the channel number and where the payload
/// sits. Up to 3 bytes of padding may follow the payload; more is malformed.
pub(crate) fn parse(input: &[u8]) -> Option<(u16, Range<usize>)> {
    let &[n0, n1, l0, l1] = input.first_chunk::<CHANNEL_DATA_HEADER_LEN>()?;
    let number = u16::from_be_bytes([n0, n1]);
    let end = CHANNEL_DATA_HEADER_LEN + usize::from(u16::from_be_bytes([l0, l1]));
    let fits =
        CHANNEL_NUMBERS.contains(&number) && end <= input.len() && input.len() <= padded(end);
    fits.then_some((number, CHANNEL_DATA_HEADER_LEN..end))
}

/// Writes the ChannelData header in front of `buf[payload]` (and zero padding after it for
/// stream transports). Returns the frame's range, or `None` when there is no room.
pub(crate) fn frame_in_place(
    buf: &mut [u8],
    number: u16,
    payload: Range<usize>,
    stream: bool,
) -> Option<Range<usize>> {
    let start = payload.start.checked_sub(CHANNEL_DATA_HEADER_LEN)?;
    let len = u16::try_from(payload.len()).ok()?;
    let end = if stream {
        start + padded(CHANNEL_DATA_HEADER_LEN + payload.len())
    } else {
        payload.end
    };
    buf.get_mut(payload.end..end)?.fill(0);
    buf[start..start + 2].copy_from_slice(&number.to_be_bytes());
    buf[start + 2..payload.start].copy_from_slice(&len.to_be_bytes());
    Some(start..end)
}

/// Delimits the next frame on a TCP/TLS stream: `Ok(Some(len))` for a complete frame,
/// `Ok(None)` when more bytes are needed, `Err` when the stream is garbage and must close.
pub(crate) fn next_frame(stream: &[u8]) -> Result<Option<usize>, ()> {
    let Some(&first) = stream.first() else {
        return Ok(None);
    };
    match kind(first) {
        Kind::Stun => match edge_stun::next_frame(stream) {
            Ok(Frame::Stun(len)) => Ok(Some(len)),
            Ok(_) => Ok(None),
            Err(_) => Err(()),
        },
        Kind::ChannelData => {
            let Some(&[_, _, l0, l1]) = stream.first_chunk::<CHANNEL_DATA_HEADER_LEN>() else {
                return Ok(None);
            };
            let len = padded(CHANNEL_DATA_HEADER_LEN + usize::from(u16::from_be_bytes([l0, l1])));
            Ok((len <= stream.len()).then_some(len))
        }
        Kind::Garbage => Err(()),
    }
}

fn padded(len: usize) -> usize {
    (len + 3) & !3
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parse_accepts_the_rfc5766_range_and_padding() {
        let frame = [0x6a, 0xa0, 0, 3, b'a', b'b', b'c'];
        assert_eq!(parse(&frame), Some((0x6aa0, 4..7)));
        let padded_frame = [0x40, 0, 0, 3, b'a', b'b', b'c', 0];
        assert_eq!(parse(&padded_frame), Some((0x4000, 4..7)));
        assert_eq!(parse(&[0x80, 0, 0, 0]), None, "0x8000 is not a channel");
        assert_eq!(parse(&[0x3f, 0xff, 0, 0]), None);
        assert_eq!(parse(&[0x40, 0, 0, 4, 1, 2, 3]), None, "truncated");
        assert_eq!(parse(&[0x40, 0, 0, 0, 1, 2, 3, 4]), None, "trailing bytes");
        for len in 0..4 {
            assert_eq!(parse(&frame[..len]), None);
        }
    }

    #[test]
    fn frame_in_place_pads_only_streams() {
        let mut buf = [0xffu8; 16];
        assert_eq!(frame_in_place(&mut buf, 0x7fff, 4..9, false), Some(0..9));
        assert_eq!(&buf[..4], &[0x7f, 0xff, 0, 5]);
        let mut buf = [0xffu8; 16];
        assert_eq!(frame_in_place(&mut buf, 0x4001, 4..9, true), Some(0..12));
        assert_eq!(&buf[9..12], &[0, 0, 0]);
        assert_eq!(
            frame_in_place(&mut buf, 0x4001, 2..9, true),
            None,
            "no headroom"
        );
        assert_eq!(
            frame_in_place(&mut buf, 0x4001, 5..14, true),
            None,
            "no tailroom"
        );
    }

    #[test]
    fn stream_frames() {
        assert_eq!(next_frame(&[]), Ok(None));
        assert_eq!(next_frame(&[0x6a, 0xa0, 0]), Ok(None));
        assert_eq!(next_frame(&[0x6a, 0xa0, 0, 1, 9, 0, 0]), Ok(None));
        assert_eq!(
            next_frame(&[0x6a, 0xa0, 0, 1, 9, 0, 0, 0, 0x40]),
            Ok(Some(8))
        );
        assert_eq!(next_frame(&[0xc0, 0, 0, 0]), Err(()));
        assert_eq!(
            next_frame(&[0x00, 1, 0, 0, 0, 0, 0, 0]),
            Ok(None),
            "STUN header incomplete"
        );
    }
}
