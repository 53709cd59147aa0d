//! edge-loadgen: load generator and measurement for media-edge.
//!
//! Modes (the `edge-loadgen` binary's subcommands):
//! - `turn`: N TURN allocations (UDP, TCP or TLS; long-term or REST credentials), each
//!   sending probes as ChannelData through a channel bound to an echo peer this program
//!   runs itself ([`turn`], [`echo`]).
//! - `rtp-echo`: the echo on its own, for the enterprise side of a deployment ([`echo`]).
//! - `binding-flood`: STUN Binding requests from one address at a set rate or flat out, the
//!   attacker of the flood-isolation benchmark ([`binding_flood`]).
//!
//! Every mode shares the same measurement: each packet carries a [`Probe`] (flow,
//! sequence, send time); the load phase ([`load::run`]) paces probes evenly (or floods with
//! a window per flow), and records round-trip times in an HDR histogram, loss from sequence
//! gaps after a drain period, duplicates, reordering and RFC 3550 jitter
//! ([`measure`]). The result is a [`Report`], printed as a table or JSON.
//!
//! Protocol logic is sans-IO like the rest of the workspace: the TURN client
//! ([`edge_turn::client::AllocationClient`], on the client the end-to-end tests drive too)
//! and the pacer ([`pacer::Pacer`]) take time as an argument; sockets and clocks live in the
//! fleets and the binary.
//!
//! What it does not do: TURN over DTLS, TCP relay allocations (RFC 6062), IPv6 relays on
//! request (the address family follows the server's default), congestion control.

#![forbid(unsafe_code)]

pub mod binding_flood;
pub mod cpu;
pub mod echo;
mod error;
pub mod forward;
pub mod load;
pub mod measure;
pub mod media;
pub mod pacer;
pub mod probe;
pub mod report;
pub mod rtpengine;
pub mod sockets;
pub mod turn;

pub use error::Error;
pub use probe::{Probe, PROBE_LEN};
pub use report::Report;
