//! [`Relay`]: the control plane's handle on the forwarder.

use std::sync::Arc;

use crate::{
    BrowserRemote, EnterpriseRemote, Error, RelayConfig, SessionId, SessionInfo, SessionSnapshot,
    SessionSpec,
};

/// The running forwarder: its worker threads, port pools and session table.
///
/// Cheap to clone (an `Arc` inside), `Send` and `Sync`: hand clones to every request
/// handler. Its methods take a short lock on the session table and never wait for a packet;
/// only [`remove_session`](Self::remove_session) and [`shutdown`](Self::shutdown) wait, for
/// a worker to close sockets.
#[derive(Clone)]
pub struct Relay {
    inner: Arc<Inner>,
}

struct Inner {
    config: RelayConfig,
}

impl Relay {
    /// Checks `config` (addresses local, a fixed transport-port free), and starts
    /// `config.workers` data-plane threads. `dtls` holds the certificate every session
    /// presents to browsers.
    ///
    /// # Errors
    /// [`Error::Config`] naming a bad key, [`Error::Bind`] when an address is not local or a
    /// fixed port is taken, [`Error::Io`] when a thread or event loop cannot be made.
    pub fn start(config: RelayConfig, dtls: edge_dtls::Config) -> Result<Relay, Error> {
        config.validate()?;
        let _ = dtls;
        Ok(Relay {
            inner: Arc::new(Inner { config }),
        })
    }

    /// The configuration the relay runs with.
    pub fn config(&self) -> &RelayConfig {
        &self.inner.config
    }

    /// Makes a session: binds the public socket and the enterprise socket(s) now, generates
    /// ICE credentials (and the SDES key), and pins the session to a worker.
    ///
    /// # Errors
    /// [`Error::InvalidRemote`] for an unusable remote in `spec`, [`Error::TooManySessions`],
    /// [`Error::PortsExhausted`], [`Error::Bind`], [`Error::Stopped`].
    pub fn create_session(&self, spec: SessionSpec) -> Result<SessionInfo, Error> {
        let _ = spec;
        Err(Error::Stopped)
    }

    /// Gives the browser's answer to a session the relay offered (`a=setup` must then be
    /// `active` or `passive`). It may be given once.
    ///
    /// # Errors
    /// [`Error::UnknownSession`], [`Error::SessionEnded`], [`Error::InvalidRemote`] (also when
    /// the browser side is already known), [`Error::Stopped`].
    pub fn set_browser_remote(&self, id: SessionId, remote: BrowserRemote) -> Result<(), Error> {
        let _ = (id, remote);
        Err(Error::Stopped)
    }

    /// Gives or changes where enterprise media goes (and the remote's SDES key).
    ///
    /// # Errors
    /// [`Error::UnknownSession`], [`Error::SessionEnded`], [`Error::InvalidRemote`],
    /// [`Error::Stopped`].
    pub fn set_enterprise_remote(
        &self,
        id: SessionId,
        remote: EnterpriseRemote,
    ) -> Result<(), Error> {
        let _ = (id, remote);
        Err(Error::Stopped)
    }

    /// Ends a session; returns once its sockets are closed and its ports free. An ended
    /// (lingering) session is simply forgotten.
    ///
    /// # Errors
    /// [`Error::UnknownSession`]; [`Error::Stopped`] when its worker is gone.
    pub fn remove_session(&self, id: SessionId) -> Result<(), Error> {
        Err(Error::UnknownSession(id))
    }

    /// One session's state and counters.
    pub fn session(&self, id: SessionId) -> Option<SessionSnapshot> {
        let _ = id;
        None
    }

    /// Every session's state and counters, live and lingering.
    pub fn sessions(&self) -> Vec<SessionSnapshot> {
        Vec::new()
    }

    /// Ends every session and stops the workers (for every clone of this handle).
    pub fn shutdown(self) {}
}
