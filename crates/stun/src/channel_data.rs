//! ChannelData messages (RFC 8656 section 12.4): TURN's 4-byte framing for channel traffic.

use std::ops::RangeInclusive;

use crate::attribute::padded;
use crate::Error;

/// Size of the ChannelData header: channel number and payload length.
pub const CHANNEL_DATA_HEADER_LEN: usize = 4;

/// Channel numbers this codec accepts and writes: RFC 5766's 0x4000..=0x7FFF.
///
/// RFC 8656 narrowed the range to [`CHANNEL_NUMBERS_RFC8656`] so that ChannelData cannot be
/// mistaken for RTP or DTLS where they share a port (RFC 7983, [`crate::classify`]), but
/// deployed clients (coturn's `turnutils` among them) still pick numbers from the whole RFC
/// 5766 range and expect a server to bind them. The codec therefore accepts the wider range;
/// whether to bind a number above 0x4FFF is the server's policy.
pub const CHANNEL_NUMBERS: RangeInclusive<u16> = 0x4000..=0x7FFF;

/// The channel numbers RFC 8656 allows, the ones a client should choose and the ones
/// [`crate::classify`] recognises on a port shared with RTP and DTLS.
pub const CHANNEL_NUMBERS_RFC8656: RangeInclusive<u16> = 0x4000..=0x4FFF;

/// Whether `number` is in [`CHANNEL_NUMBERS`].
pub fn is_channel_number(number: u16) -> bool {
    CHANNEL_NUMBERS.contains(&number)
}

/// How the frame travels: datagrams need no padding, streams (TCP, TLS) pad each frame to a
/// multiple of 4 bytes (RFC 8656 section 12.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP or DTLS.
    Datagram,
    /// TCP or TLS.
    Stream,
}

/// A parsed ChannelData message borrowing its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelData<'a> {
    number: u16,
    payload: &'a [u8],
}

impl<'a> ChannelData<'a> {
    /// Parses one ChannelData message: a datagram, or a frame [`crate::next_frame`]
    /// delimited on a stream. The number must be in [`CHANNEL_NUMBERS`] and the length must fit
    /// `buf`; up to 3 bytes of padding after the payload are accepted (and required by
    /// nobody: RFC 8656 makes padding optional over UDP), more trailing bytes are an error.
    pub fn parse(buf: &'a [u8]) -> Result<Self, Error> {
        let Some((&[n0, n1, l0, l1], rest)) = buf.split_first_chunk::<CHANNEL_DATA_HEADER_LEN>()
        else {
            return Err(Error::Truncated {
                needed: CHANNEL_DATA_HEADER_LEN,
                available: buf.len(),
            });
        };
        let number = u16::from_be_bytes([n0, n1]);
        if !is_channel_number(number) {
            return Err(Error::ChannelNumber(number));
        }
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let Some(payload) = rest.get(..len) else {
            return Err(Error::Truncated {
                needed: CHANNEL_DATA_HEADER_LEN + len,
                available: buf.len(),
            });
        };
        let frame = CHANNEL_DATA_HEADER_LEN + padded(len);
        if buf.len() > frame {
            return Err(Error::ChannelDataTrailing {
                frame,
                actual: buf.len(),
            });
        }
        Ok(ChannelData { number, payload })
    }

    /// The channel number.
    pub fn number(&self) -> u16 {
        self.number
    }

    /// The application data.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Frames a payload already sitting at `buf[4..4 + payload_len]`: writes the 4-byte
    /// header in front of it and, for [`Transport::Stream`], zero padding after it. Returns
    /// the number of bytes to send from `buf`'s start. Nothing is copied, so a relay can
    /// receive a peer's datagram at offset 4 of its buffer and forward it in place.
    pub fn encode_in_place(
        buf: &mut [u8],
        number: u16,
        payload_len: usize,
        transport: Transport,
    ) -> Result<usize, Error> {
        if !is_channel_number(number) {
            return Err(Error::ChannelNumber(number));
        }
        let Ok(len) = u16::try_from(payload_len) else {
            return Err(Error::ChannelDataLength(payload_len));
        };
        let end = CHANNEL_DATA_HEADER_LEN + payload_len;
        let total = match transport {
            Transport::Datagram => end,
            Transport::Stream => CHANNEL_DATA_HEADER_LEN + padded(payload_len),
        };
        if total > buf.len() {
            return Err(Error::BufferTooSmall {
                needed: total,
                available: buf.len(),
            });
        }
        buf[..2].copy_from_slice(&number.to_be_bytes());
        buf[2..4].copy_from_slice(&len.to_be_bytes());
        buf[end..total].fill(0);
        Ok(total)
    }
}
