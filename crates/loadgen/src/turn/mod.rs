//! `turn` mode: TURN allocations carrying ChannelData to an echo peer.

pub mod client;
pub mod conn;
pub mod credentials;
pub mod fleet;
