//! Framing on stream transports (TURN over TCP or TLS, RFC 8656 section 12.5; STUN over TCP,
//! RFC 8489 section 6.2.2): where the next STUN message or ChannelData frame ends.

use crate::attribute::padded;
use crate::channel_data::CHANNEL_DATA_HEADER_LEN;
use crate::header::{HEADER_LEN, MAGIC_COOKIE};
use crate::Error;

/// What [`next_frame`] found at the start of a stream buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A complete STUN message of this many bytes: parse `&stream[..n]` with
    /// [`crate::Message::parse`].
    Stun(usize),
    /// A complete ChannelData frame of this many bytes including its padding to 4: parse
    /// `&stream[..n]` with [`crate::ChannelData::parse`].
    ChannelData(usize),
    /// The frame is not complete: the stream needs at least this many bytes in total
    /// (the frame's full size once its header is in, otherwise the header's size).
    Incomplete(usize),
}

/// Delimits the next frame at the start of `stream`. Errors when the bytes cannot start a
/// STUN message or a ChannelData frame (first two bits not `00` or `01`, or a
/// STUN header with a bad cookie or unaligned length): the connection is garbage and
/// should be closed, since a stream cannot resynchronise.
pub fn next_frame(stream: &[u8]) -> Result<Frame, Error> {
    let Some(&first) = stream.first() else {
        return Ok(Frame::Incomplete(CHANNEL_DATA_HEADER_LEN));
    };
    match first {
        0x00..=0x3F => {
            let Some(header) = stream.first_chunk::<HEADER_LEN>() else {
                return Ok(Frame::Incomplete(HEADER_LEN));
            };
            let cookie = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
            if cookie != MAGIC_COOKIE {
                return Err(Error::MagicCookie(cookie));
            }
            let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
            if length % 4 != 0 {
                return Err(Error::UnalignedLength(length));
            }
            Ok(complete(Frame::Stun, HEADER_LEN + length, stream.len()))
        }
        0x40..=0x7F => {
            // First byte 0x40..=0x7F is exactly the channel numbers 0x4000..=0x7FFF.
            let Some(&[_, _, l0, l1]) = stream.first_chunk::<CHANNEL_DATA_HEADER_LEN>() else {
                return Ok(Frame::Incomplete(CHANNEL_DATA_HEADER_LEN));
            };
            let length = usize::from(u16::from_be_bytes([l0, l1]));
            let total = CHANNEL_DATA_HEADER_LEN + padded(length);
            Ok(complete(Frame::ChannelData, total, stream.len()))
        }
        _ => Err(Error::StreamGarbage(first)),
    }
}

fn complete(frame: fn(usize) -> Frame, total: usize, available: usize) -> Frame {
    if available >= total {
        frame(total)
    } else {
        Frame::Incomplete(total)
    }
}
