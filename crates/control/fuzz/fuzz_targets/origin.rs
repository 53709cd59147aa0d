//! Arbitrary bytes as an `Origin` header and an `api.clients` entry: no input may panic, and
//! what parses prints back to itself.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| edge_control::fuzz::origin(data));
