//! Arbitrary bytes through edge-ng's reader: no input may panic, and what decodes encodes
//! to bytes that decode to the same value.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| edge_ng::fuzz::message(data));
