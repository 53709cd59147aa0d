//! The media modes: browser-like sessions carrying RTP probes, SRTP-protected, through a
//! media relay to an RTP echo on its enterprise side.

pub mod api;
pub mod fleet;
pub mod ice;
pub mod plain;
pub mod rtp;
pub mod sdp;
pub mod session;
pub mod webrtc;
