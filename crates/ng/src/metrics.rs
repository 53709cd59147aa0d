//! Counters of the ng front end: requests by command and result, and datagrams or
//! messages dropped unanswered, by reason. Summed at scrape time.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::request::Command;

/// Why a message got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// No cookie (no space before the body), or a cookie longer than 256 bytes.
    NoCookie,
    /// A retransmission of a request still being handled.
    InFlight,
    /// From a source that is not in `ng.clients`, or banned.
    Refused,
    /// Over the source's rate limit.
    RateLimited,
    /// Too many requests in flight at once.
    Busy,
}

impl DropReason {
    /// Every reason.
    pub const ALL: [DropReason; 5] = [
        DropReason::NoCookie,
        DropReason::InFlight,
        DropReason::Refused,
        DropReason::RateLimited,
        DropReason::Busy,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NoCookie => "no-cookie",
            DropReason::InFlight => "in-flight",
            DropReason::Refused => "refused",
            DropReason::RateLimited => "rate-limited",
            DropReason::Busy => "busy",
        }
    }
}

/// The result of an answered request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `result: ok` (or `pong`).
    Ok,
    /// `result: error`.
    Error,
    /// The cached reply of a retransmission.
    Replayed,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Error, Outcome::Replayed];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Replayed => "replayed",
        }
    }
}

/// The label of requests whose command is unknown or unreadable.
pub const UNKNOWN_COMMAND: &str = "unknown";

/// The counters; cheap to read while requests are counted.
#[derive(Debug, Default)]
pub struct NgMetrics {
    /// [command index, or 7 for unknown][outcome index].
    requests: [[AtomicU64; 3]; 8],
    drops: [AtomicU64; 5],
}

fn command_index(command: Option<Command>) -> usize {
    command.map_or(7, |c| {
        Command::ALL.iter().position(|x| *x == c).unwrap_or(7)
    })
}

impl NgMetrics {
    /// Counts an answered request.
    pub fn request(&self, command: Option<Command>, outcome: Outcome) {
        let o = Outcome::ALL.iter().position(|x| *x == outcome).unwrap_or(0);
        self.requests[command_index(command)][o].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a message dropped unanswered.
    pub fn dropped(&self, reason: DropReason) {
        let i = DropReason::ALL
            .iter()
            .position(|x| *x == reason)
            .unwrap_or(0);
        self.drops[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Requests of `command` (`None`: unknown) with `outcome`.
    pub fn requests(&self, command: Option<Command>, outcome: Outcome) -> u64 {
        let o = Outcome::ALL.iter().position(|x| *x == outcome).unwrap_or(0);
        self.requests[command_index(command)][o].load(Ordering::Relaxed)
    }

    /// Messages dropped for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        let i = DropReason::ALL
            .iter()
            .position(|x| *x == reason)
            .unwrap_or(0);
        self.drops[i].load(Ordering::Relaxed)
    }
}
