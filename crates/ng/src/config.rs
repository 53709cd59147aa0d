//! `[ng]`: where the ng protocol listens and who may use it.

use std::net::SocketAddr;

use edge_control::ClientAddr;
use serde::Deserialize;

use crate::Error;

/// `[ng]` of media-edge's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NgConfig {
    /// The UDP listener (what Kamailio's `rtpengine_sock = "udp:..."` points at). Default
    /// `127.0.0.1:2223`, rtpengine's.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// A TCP listener (`<cookie> <bencode>` messages back to back), when set.
    pub listen_tcp: Option<SocketAddr>,
    /// An HTTP listener (`POST /ng`, the message as the body), when set.
    pub listen_http: Option<SocketAddr>,
    /// The only sources served (address, optionally with the source port). Required when a
    /// listener is not on loopback: the ng protocol has no authentication.
    #[serde(default)]
    pub clients: Vec<ClientAddr>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 2223))
}

impl Default for NgConfig {
    fn default() -> Self {
        NgConfig {
            listen: default_listen(),
            listen_tcp: None,
            listen_http: None,
            clients: Vec::new(),
        }
    }
}

impl NgConfig {
    /// Every listener's address with its key.
    pub fn listeners(&self) -> impl Iterator<Item = (&'static str, SocketAddr)> {
        [
            Some(("listen", self.listen)),
            self.listen_tcp.map(|a| ("listen-tcp", a)),
            self.listen_http.map(|a| ("listen-http", a)),
        ]
        .into_iter()
        .flatten()
    }

    /// Refuses a listener off loopback without `clients`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key.
    pub fn validate(&self) -> Result<(), Error> {
        for (key, addr) in self.listeners() {
            if !addr.ip().is_loopback() && self.clients.is_empty() {
                return Err(Error::Config {
                    key,
                    reason: format!(
                        "{addr} is not a loopback address: the ng protocol has no \
                         authentication, so ng.clients must list the SIP proxies allowed"
                    ),
                });
            }
        }
        Ok(())
    }
}
