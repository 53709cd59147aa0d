//! ChannelData framing (RFC 8656 section 12) and stream delimiting (section 12.5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edge_stun::{
    next_frame, Attribute, ChannelData, Class, Error, Frame, Message, MessageEncoder, Method,
    TransactionId, Transport, CHANNEL_DATA_HEADER_LEN,
};

#[test]
fn parse_reads_number_and_payload() {
    let bytes = [0x40, 0x01, 0x00, 0x05, b'h', b'e', b'l', b'l', b'o'];
    let cd = ChannelData::parse(&bytes).unwrap();
    assert_eq!(cd.number(), 0x4001);
    assert_eq!(cd.payload(), b"hello");
    // Up to the padding to 4 is accepted, one byte more is not.
    let mut padded = bytes.to_vec();
    padded.extend_from_slice(&[0, 0, 0]);
    assert_eq!(ChannelData::parse(&padded).unwrap().payload(), b"hello");
    padded.push(0);
    assert_eq!(
        ChannelData::parse(&padded).unwrap_err(),
        Error::ChannelDataTrailing {
            frame: 12,
            actual: 13
        }
    );
    // An empty payload is legal.
    assert_eq!(
        ChannelData::parse(&[0x4f, 0xff, 0, 0]).unwrap().payload(),
        b""
    );
}

#[test]
fn parse_rejects_bad_numbers_and_short_buffers() {
    assert_eq!(
        ChannelData::parse(&[0x80, 0x00, 0, 0]).unwrap_err(),
        Error::ChannelNumber(0x8000)
    );
    // RFC 5766's upper range, which deployed clients still use, is accepted.
    assert_eq!(
        ChannelData::parse(&[0x7f, 0xff, 0, 0]).unwrap().number(),
        0x7fff
    );
    assert_eq!(
        ChannelData::parse(&[0x3f, 0xff, 0, 0]).unwrap_err(),
        Error::ChannelNumber(0x3fff)
    );
    assert_eq!(
        ChannelData::parse(&[0x40, 0x00, 0]).unwrap_err(),
        Error::Truncated {
            needed: 4,
            available: 3
        }
    );
    assert_eq!(
        ChannelData::parse(&[0x40, 0x00, 0, 2, 1]).unwrap_err(),
        Error::Truncated {
            needed: 6,
            available: 5
        }
    );
}

#[test]
fn encode_in_place_writes_header_in_front_of_the_payload() {
    for (transport, total) in [(Transport::Datagram, 4 + 5), (Transport::Stream, 4 + 8)] {
        let mut buf = [0xEEu8; 32];
        buf[4..9].copy_from_slice(b"hello");
        let n = ChannelData::encode_in_place(&mut buf, 0x4abc, 5, transport).unwrap();
        assert_eq!(n, total);
        assert_eq!(&buf[..9], &[0x4a, 0xbc, 0, 5, b'h', b'e', b'l', b'l', b'o']);
        assert!(buf[9..n].iter().all(|&b| b == 0), "padding is zeros");
        assert_eq!(buf[n], 0xEE, "nothing written past the frame");
        let cd = ChannelData::parse(&buf[..n]).unwrap();
        assert_eq!((cd.number(), cd.payload()), (0x4abc, &b"hello"[..]));
    }
}

#[test]
fn encode_in_place_errors() {
    let mut buf = [0u8; 16];
    assert_eq!(
        ChannelData::encode_in_place(&mut buf, 0x3fff, 1, Transport::Datagram).unwrap_err(),
        Error::ChannelNumber(0x3fff)
    );
    assert_eq!(
        ChannelData::encode_in_place(&mut buf, 0x4000, 13, Transport::Datagram).unwrap_err(),
        Error::BufferTooSmall {
            needed: 17,
            available: 16
        }
    );
    assert_eq!(
        ChannelData::encode_in_place(&mut buf, 0x4000, 9, Transport::Stream),
        Ok(16)
    );
    assert_eq!(
        ChannelData::encode_in_place(&mut buf, 0x4000, 10, Transport::Datagram),
        Ok(14)
    );
    assert_eq!(
        ChannelData::encode_in_place(&mut buf, 0x4000, 13, Transport::Stream).unwrap_err(),
        Error::BufferTooSmall {
            needed: 20,
            available: 16
        }
    );
    let mut big = vec![0u8; 70_000];
    assert_eq!(
        ChannelData::encode_in_place(&mut big, 0x4000, 65_536, Transport::Datagram).unwrap_err(),
        Error::ChannelDataLength(65_536)
    );
}

/// A TCP byte stream of alternating STUN messages and padded ChannelData frames.
fn stream_of_frames() -> (Vec<u8>, Vec<Frame>) {
    let mut stream = Vec::new();
    let mut frames = Vec::new();
    for i in 0..20u8 {
        let mut buf = [0u8; 128];
        if i % 3 == 0 {
            let mut enc = MessageEncoder::new(
                &mut buf,
                Class::Indication,
                Method::SEND,
                TransactionId([i; 12]),
            )
            .unwrap();
            enc.attribute(&Attribute::Data(&vec![i; usize::from(i)]))
                .unwrap()
                .fingerprint()
                .unwrap();
            let n = enc.finish();
            stream.extend_from_slice(&buf[..n]);
            frames.push(Frame::Stun(n));
        } else {
            let len = usize::from(i) * 3;
            buf[4..4 + len].fill(i);
            let n = ChannelData::encode_in_place(
                &mut buf,
                0x4000 + u16::from(i),
                len,
                Transport::Stream,
            )
            .unwrap();
            stream.extend_from_slice(&buf[..n]);
            frames.push(Frame::ChannelData(n));
        }
    }
    (stream, frames)
}

#[test]
fn next_frame_delimits_a_stream_received_in_any_chunking() {
    let (stream, frames) = stream_of_frames();
    for chunk in [1, 2, 3, 5, 7, 64, stream.len()] {
        // Simulate reads of `chunk` bytes into a receive buffer, consuming whole frames.
        let mut pending: Vec<u8> = Vec::new();
        let mut seen = Vec::new();
        for piece in stream.chunks(chunk) {
            pending.extend_from_slice(piece);
            loop {
                match next_frame(&pending).unwrap() {
                    Frame::Incomplete(needed) => {
                        assert!(needed > pending.len());
                        break;
                    }
                    frame @ (Frame::Stun(n) | Frame::ChannelData(n)) => {
                        match frame {
                            Frame::Stun(_) => {
                                let msg = Message::parse(&pending[..n]).unwrap();
                                assert!(msg.has_fingerprint());
                            }
                            _ => {
                                ChannelData::parse(&pending[..n]).unwrap();
                            }
                        }
                        seen.push(frame);
                        pending.drain(..n);
                    }
                }
            }
        }
        assert!(pending.is_empty());
        assert_eq!(seen, frames, "chunk size {chunk}");
    }
}

#[test]
fn next_frame_rejects_garbage() {
    for first in [0x80u8, 0xbf, 0xc0, 0xff] {
        assert_eq!(
            next_frame(&[first, 0, 0, 0]),
            Err(Error::StreamGarbage(first))
        );
    }
    let mut bad_cookie = [0u8; 20];
    bad_cookie[4] = 1;
    assert!(matches!(
        next_frame(&bad_cookie),
        Err(Error::MagicCookie(_))
    ));
    let mut unaligned = [0u8; 20];
    unaligned[3] = 2;
    unaligned[4..8].copy_from_slice(&edge_stun::MAGIC_COOKIE.to_be_bytes());
    assert_eq!(next_frame(&unaligned), Err(Error::UnalignedLength(2)));
    assert_eq!(
        next_frame(&[]),
        Ok(Frame::Incomplete(CHANNEL_DATA_HEADER_LEN))
    );
}
