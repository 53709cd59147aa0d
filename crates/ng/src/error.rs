//! The errors of the ng front end's set-up (requests get ng error replies instead).

use std::io;

/// What went wrong setting up the ng listeners.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A bad `[ng]` value, named.
    #[error("ng.{key}: {reason}")]
    Config {
        /// The key.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A listener could not be bound.
    #[error("ng.{key}: cannot bind {addr}: {source}")]
    Bind {
        /// The key.
        key: &'static str,
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: io::Error,
    },
}
