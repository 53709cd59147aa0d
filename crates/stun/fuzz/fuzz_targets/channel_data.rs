//! `ChannelData::parse` and the stream framing `next_frame` on arbitrary bytes: a stream is
//! consumed frame by frame, and every frame `next_frame` delimits must parse.
#![no_main]

use edge_stun::{next_frame, ChannelData, Frame, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ChannelData::parse(data);
    let mut rest = data;
    loop {
        match next_frame(rest) {
            Ok(Frame::Stun(n)) => {
                assert!(n <= rest.len());
                let _ = Message::parse(&rest[..n]);
                rest = &rest[n..];
            }
            Ok(Frame::ChannelData(n)) => {
                assert!(n <= rest.len());
                assert!(
                    ChannelData::parse(&rest[..n]).is_ok(),
                    "a delimited frame parses"
                );
                rest = &rest[n..];
            }
            Ok(Frame::Incomplete(needed)) => {
                assert!(needed > rest.len());
                break;
            }
            Err(_) => break,
        }
    }
});
