//! Arbitrary bytes through every SDP reader of edge-control: no input may panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| edge_control::fuzz::sdp(data));
