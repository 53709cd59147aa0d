//! [`Forwarder`]: the control plane's handle on the forwarder.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use edge_dtls::{Fingerprint, Role};
use edge_srtp::{CryptoAttribute, Inbound, Outbound};
use edge_udp::SocketOptions;

use crate::admission::{Admission, ForwardStats};
use crate::ports::Bound;
use crate::ports::{PortPool, Ports};
use crate::quality::Formats;
use crate::session::{
    check_plan, BrowserSetup, Enterprise, IceRestart, Move, Params, Session, Timeouts, Update,
    VideoLine, VideoUpdate,
};
use crate::snapshot::{Shared, Status};
use crate::totals::{Observed, Retired, Totals};
use crate::worker::{Command, NewSession, WorkerHandle};
use crate::{
    credentials, BrowserRemote, EnterpriseRemote, Error, ForwardConfig, MediaPlan, SessionId,
    SessionInfo, SessionSnapshot, SessionSpec, SessionState, SessionUpdate, Side, VideoChange,
    VideoPorts, VideoSpec,
};

/// How long [`Forwarder::remove_session`] waits for the worker to close the sockets, and
/// [`Forwarder::update_session`] for it to put a change in force.
const WORKER_WAIT: Duration = Duration::from_secs(5);

/// The running forwarder: its worker threads, port pools and session table.
///
/// Cheap to clone (an `Arc` inside), `Send` and `Sync`: hand clones to every request
/// handler. Its methods take a short lock on the session table and never wait for a packet;
/// only [`remove_session`](Self::remove_session), [`update_session`](Self::update_session)
/// (and so [`set_enterprise_remote`](Self::set_enterprise_remote)) and
/// [`shutdown`](Self::shutdown) wait, for a worker to close sockets or put a change in force
/// between two batches (one loop turn). When the last clone is dropped the workers stop as with
/// [`shutdown`](Self::shutdown).
#[derive(Clone)]
pub struct Forwarder {
    inner: Arc<Inner>,
}

struct Inner {
    config: ForwardConfig,
    /// The DTLS configuration new sessions get, and its certificate's fingerprint
    /// ([`Forwarder::set_dtls`] replaces both; running sessions keep theirs).
    dtls: RwLock<(Arc<edge_dtls::Config>, Fingerprint)>,
    advertised: IpAddr,
    public: PortPool,
    enterprise: PortPool,
    /// The named enterprise connections' pools.
    connections: BTreeMap<String, PortPool>,
    admission: Admission,
    srtp: edge_srtp::Config,
    workers: Vec<WorkerHandle>,
    table: Mutex<HashMap<SessionId, Record>>,
    /// What sessions gone from the table leave to the totals. Locked only with `table`
    /// held (table first), so a session is always counted in exactly one of them.
    retired: Mutex<Retired>,
}

/// What the control plane keeps about a session.
struct Record {
    shared: Arc<Shared>,
    /// Whether the enterprise leg is SDES-SRTP.
    sdes: bool,
    /// What the control plane was told at creation, with the ICE credentials in force.
    info: SessionInfo,
    /// The browser's fingerprints in force, once its description is known.
    fingerprints: Option<Vec<Fingerprint>>,
    /// The enterprise remote's SDES key in force.
    enterprise_key: Option<CryptoAttribute>,
    /// Whether the enterprise legs accept media only from their remotes.
    strict: bool,
    /// The video leg's configured remote (RTP, RTCP), while the session has video.
    video_remote: Option<(SocketAddr, Option<SocketAddr>)>,
    /// What the totals have taken from it so far.
    observed: Observed,
}

impl Forwarder {
    /// Checks `config` (addresses local, a fixed transport-port and every named
    /// connection's tuple free), and starts `config.workers` data-plane threads. `dtls`
    /// holds the certificate every session presents to browsers.
    ///
    /// # Errors
    /// [`Error::Config`] naming a bad key (for a named connection that cannot be bound, the
    /// connection and the reason), [`Error::Bind`] when an address is not local or a fixed
    /// port is taken, [`Error::Io`] when a thread or event loop cannot be made.
    pub fn start(config: ForwardConfig, dtls: edge_dtls::Config) -> Result<Forwarder, Error> {
        config.validate()?;
        let options = SocketOptions {
            recv_buffer: Some(config.socket_buffer),
            send_buffer: Some(config.socket_buffer),
            ..SocketOptions::default()
        };
        let public = PortPool::new(
            Side::Public,
            config.public.address,
            Ports::Range(config.public.port_range),
            options.clone(),
            credentials::seed()?,
        );
        let e = &config.enterprise;
        let ports = match (e.port_range, e.transport_port) {
            (Some(range), _) => Ports::Range(range),
            (None, Some(port)) => Ports::Fixed(port),
            (None, None) => {
                return Err(Error::Config {
                    key: "enterprise.port-range",
                    reason: "required unless enterprise.transport-port is given".into(),
                })
            }
        };
        let enterprise = PortPool::new(
            Side::Enterprise,
            e.transport_address,
            ports,
            options.clone(),
            credentials::seed()?,
        );
        public.check()?;
        enterprise.check()?;
        let mut connections = BTreeMap::new();
        for (name, tuple) in &e.connections {
            let pool = PortPool::connection(name, *tuple, options.clone());
            pool.check().map_err(|err| Error::Config {
                key: "enterprise.connections",
                reason: format!("{name} ({tuple}): {err}"),
            })?;
            connections.insert(name.clone(), pool);
        }
        let guard = match &config.guard {
            Some(guard) => guard.clone(),
            None => edge_guard::Guard::new(edge_guard::GuardConfig::default()).map_err(|e| {
                Error::Config {
                    key: "guard",
                    reason: e.to_string(),
                }
            })?,
        };
        let admission = Admission::new(guard);
        let workers = (0..config.workers)
            .map(|index| WorkerHandle::spawn(index, admission.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let srtp = edge_srtp::Config::default().with_replay_window(config.replay_window);
        let fingerprint = dtls.certificate().fingerprint();
        Ok(Forwarder {
            inner: Arc::new(Inner {
                advertised: config
                    .public
                    .advertised_address
                    .unwrap_or(config.public.address),
                dtls: RwLock::new((Arc::new(dtls), fingerprint)),
                public,
                enterprise,
                connections,
                admission,
                srtp,
                workers,
                table: Mutex::new(HashMap::new()),
                retired: Mutex::new(Retired::default()),
                config,
            }),
        })
    }

    /// The configuration the relay runs with.
    pub fn config(&self) -> &ForwardConfig {
        &self.inner.config
    }

    /// The guard the relay checks requests against: the one in the configuration, or the
    /// relay's own (for listing and lifting bans).
    pub fn guard(&self) -> &edge_guard::Guard {
        self.inner.admission.guard()
    }

    /// The relay's admission counters: requests dropped as banned or over the rate limit,
    /// ICE authentication failures and the bans they started.
    pub fn stats(&self) -> ForwardStats {
        self.inner.admission.stats()
    }

    /// Makes a session: binds the public socket and the enterprise socket(s) now (on the
    /// named connection's tuple when `spec.connection` names one), generates ICE
    /// credentials (and the SDES key), and pins the session to the least-loaded worker.
    ///
    /// # Errors
    /// [`Error::InvalidRemote`] for an unusable remote in `spec`,
    /// [`Error::UnknownConnection`], [`Error::TooManySessions`], [`Error::ConnectionBusy`],
    /// [`Error::PortsExhausted`], [`Error::Bind`], [`Error::Stopped`]. No port stays bound
    /// on any of these paths.
    pub fn create_session(&self, spec: SessionSpec) -> Result<SessionInfo, Error> {
        let inner = &*self.inner;
        let now = Instant::now();
        let pool = match &spec.connection {
            Some(name) => inner
                .connections
                .get(name)
                .ok_or_else(|| Error::UnknownConnection { name: name.clone() })?,
            None => &inner.enterprise,
        };
        let sdes = spec.enterprise_srtp.is_some();
        spec.media.as_ref().map(checked_plan).transpose()?;
        if let Some(video) = &spec.video {
            inner.check_video(video, spec.connection.as_deref(), sdes, pool.ip())?;
        }
        let browser = spec
            .browser
            .as_ref()
            .map(|b| check_browser(b, false))
            .transpose()?;
        let enterprise_remote = spec
            .enterprise
            .as_ref()
            .map(|e| check_enterprise(e, sdes, pool.ip(), &inner.srtp))
            .transpose()?;
        // The DTLS certificate in force now: this session keeps it, whatever comes later.
        let (dtls, fingerprint) = inner
            .dtls
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        // Reserve a place on a worker first, so concurrent creations cannot overshoot.
        let worker = inner.reserve()?;
        let reservation = Reservation { inner, worker };

        let mut outbound = None;
        let mut crypto_line = None;
        if let Some(c) = spec.enterprise_srtp {
            if c.tag >= 1_000_000_000 {
                return Err(invalid(
                    Side::Enterprise,
                    "a=crypto tag must have at most 9 digits",
                ));
            }
            let key = credentials::sdes_key(c.suite)?;
            outbound = Some(Outbound::new(&key, &inner.srtp)?);
            crypto_line = Some(CryptoAttribute::new(c.tag, key).to_string());
        }
        let (ice_ufrag, ice_pwd) = credentials::ice_credentials()?;
        let public = inner.public.bind(false)?;
        let sockets = pool.bind(!spec.rtcp_mux_enterprise)?;
        let video_sockets = spec
            .video
            .as_ref()
            .map(|v| inner.enterprise.bind(!v.rtcp_mux_enterprise))
            .transpose()?;
        let video_ports = video_sockets.as_ref().map(ports_of);
        let public_addr = SocketAddr::new(inner.advertised, public.rtp.local_addr().port());
        let enterprise_rtp = sockets.rtp.local_addr();
        let enterprise_rtcp = sockets.rtcp.as_ref().map(edge_udp::UdpSocket::local_addr);

        let mut table = inner.table();
        let id = loop {
            let id = credentials::session_id()?;
            if !table.contains_key(&id) {
                break id;
            }
        };
        let shared = Arc::new(
            Shared::new(
                id,
                now,
                public_addr,
                enterprise_rtp,
                spec.connection.clone(),
                worker,
                Status {
                    state: SessionState::New,
                    browser_addr: None,
                    enterprise_remote: spec.enterprise.as_ref().map(|e| e.rtp),
                    ended_at: None,
                    browser_known: browser.is_some(),
                    dtls_started: None,
                    connected_at: None,
                    video: video_ports.map(|p| {
                        let remote = spec.video.as_ref().and_then(|v| v.enterprise.as_ref());
                        (p.rtp, remote.map(|r| r.rtp))
                    }),
                },
            )
            .with_enterprise_ports(if sockets.rtcp.is_some() { 2 } else { 1 }),
        );
        shared.set_video_ports(video_sockets.as_ref());
        let strict = spec.strict_source.unwrap_or(inner.config.strict_source);
        let mut leg = Enterprise::new(spec.rtcp_mux_enterprise, strict, outbound);
        if let (Some(remote), Some(inbound)) = (&spec.enterprise, enterprise_remote) {
            leg.set_remote(remote.rtp, remote.rtcp, inbound.map(|b| *b));
        }
        let setup = browser.as_ref().map_or("actpass", |b| b.role.setup());
        let mut session = Session::new(
            now,
            Params {
                shared: shared.clone(),
                ice_ufrag: ice_ufrag.clone(),
                ice_pwd: ice_pwd.clone(),
                dtls,
                srtp: inner.srtp.clone(),
                timeouts: inner.timeouts(),
                enterprise: leg,
                formats: Formats::new(&spec.payload_formats),
                media: spec.media.clone(),
                video: spec.video.as_ref().map(|v| {
                    let line = video_line(v, strict, &spec.payload_formats);
                    (Box::new(line), v.demux.clone())
                }),
            },
        );
        if let Some(browser) = browser {
            session.set_browser_remote(now, browser);
        }
        let new = NewSession {
            id,
            session,
            public,
            enterprise: sockets,
            video: video_sockets,
        };
        inner.workers[worker].send(Command::Add(Box::new(new)))?;
        reservation.keep();
        let info = SessionInfo {
            id,
            public_addr,
            ice_ufrag,
            ice_pwd,
            fingerprint,
            setup,
            enterprise_rtp,
            enterprise_rtcp,
            enterprise_crypto: crypto_line,
            connection: spec.connection,
            video: video_ports,
        };
        table.insert(
            id,
            Record {
                shared,
                sdes,
                info: info.clone(),
                fingerprints: spec.browser.map(|b| b.fingerprints),
                enterprise_key: spec.enterprise.and_then(|e| e.crypto),
                strict,
                video_remote: spec
                    .video
                    .as_ref()
                    .and_then(|v| v.enterprise.as_ref())
                    .map(|r| (r.rtp, r.rtcp)),
                observed: Observed::default(),
            },
        );
        Ok(info)
    }

    /// Gives the browser's answer to a session the relay offered (`a=setup` must then be
    /// `active` or `passive`). It may be given once.
    ///
    /// # Errors
    /// [`Error::UnknownSession`], [`Error::SessionEnded`], [`Error::InvalidRemote`] (also when
    /// the browser side is already known), [`Error::Stopped`].
    pub fn set_browser_remote(&self, id: SessionId, remote: BrowserRemote) -> Result<(), Error> {
        let shared = self.inner.live(id)?;
        let setup = check_browser(&remote, true)?;
        let first = shared.status(|s| !std::mem::replace(&mut s.browser_known, true));
        if !first {
            return Err(invalid(
                Side::Public,
                "the browser's description was already given (an ICE restart is an \
                 update_session)",
            ));
        }
        if let Some(record) = self.inner.table().get_mut(&id) {
            record.fingerprints = Some(remote.fingerprints);
        }
        self.inner.workers[shared.worker].send(Command::SetBrowser(id, setup))
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
        let update = SessionUpdate {
            enterprise: Some(remote),
            ..SessionUpdate::default()
        };
        self.update_session(id, update).map(drop)
    }

    /// Applies `update` to session `id` (a re-offer or answer on either leg), between two
    /// of its worker's batches; what the update does not name stays. Returns once the
    /// change is in force, with the session's info (new local ICE credentials after an ICE
    /// restart). Nothing is applied when any part is refused.
    ///
    /// # Errors
    /// [`Error::UnknownSession`], [`Error::SessionEnded`], [`Error::InvalidRemote`] (an
    /// unusable enterprise remote, rtcp-mux turned off on a leg bound with one port, an
    /// ICE restart before the browser's description is known or with other fingerprints
    /// (naming `a=fingerprint`), a conflicting payload map), [`Error::Random`],
    /// [`Error::Stopped`].
    pub fn update_session(
        &self,
        id: SessionId,
        update: SessionUpdate,
    ) -> Result<SessionInfo, Error> {
        let inner = &*self.inner;
        let shared = inner.live(id)?;
        let (sdes, fingerprints, key, mut info, strict, video_remote) = {
            let table = inner.table();
            let record = table.get(&id).ok_or(Error::UnknownSession(id))?;
            (
                record.sdes,
                record.fingerprints.clone(),
                record.enterprise_key.clone(),
                record.info.clone(),
                record.strict,
                record.video_remote,
            )
        };
        let mut out = Update::default();
        if let Some(remote) = &update.enterprise {
            check_rtcp_mux(remote, shared.enterprise_ports)?;
            let mut inbound =
                check_enterprise(remote, sdes, shared.enterprise_rtp.ip(), &inner.srtp)?;
            // The same key again (a re-INVITE repeating its a=crypto): the SRTP context in
            // force goes on (RFC 4568 section 7.1.4), rollover counter included. A new key
            // is a new sender context, maybe a new receiver: the browser's stream goes on
            // toward it under a new SSRC.
            let same = match (&remote.crypto, &key) {
                (Some(new), Some(old)) => same_key(new, old),
                _ => false,
            };
            let renew_ssrc = if same {
                inbound = None;
                None
            } else if key.is_some() {
                Some(credentials::ssrc()?)
            } else {
                None
            };
            out.enterprise = Some(Move {
                rtp: remote.rtp,
                rtcp: remote.rtcp,
                inbound,
                mux: remote.rtcp_mux,
                renew_ssrc,
            });
        }
        if let Some(remote) = &update.browser {
            check_ice_restart(fingerprints.as_deref(), remote)?;
            let (ufrag, pwd) = credentials::ice_credentials()?;
            info.ice_ufrag.clone_from(&ufrag);
            info.ice_pwd.clone_from(&pwd);
            out.ice = Some(IceRestart {
                local_ufrag: ufrag,
                local_pwd: pwd,
                remote_ufrag: remote.ice_ufrag.clone(),
            });
        }
        if let Some(plan) = &update.media {
            checked_plan(plan)?;
        }
        out.media = update.media;
        let mut video_sockets = None;
        let mut video_status = None;
        let mut new_video_remote = None;
        match &update.video {
            Some(VideoChange::Set(video)) => {
                let ip = shared.enterprise_rtp.ip();
                inner.check_video(video, info.connection.as_deref(), sdes, ip)?;
                let remote = video.enterprise.as_ref().map(|r| (r.rtp, r.rtcp));
                new_video_remote = Some(remote);
                out.video = Some(match info.video {
                    Some(ports) => {
                        // The same remote again (a re-offer for hold or codecs) keeps the
                        // leg's latch and stream as they are.
                        let moved = remote.filter(|&r| Some(r) != video_remote);
                        if moved.is_some() {
                            video_status = Some(Some((ports.rtp, remote.map(|r| r.0))));
                        }
                        VideoUpdate::Change {
                            remote: moved,
                            media: video.media.clone(),
                            demux: video.demux.clone(),
                        }
                    }
                    None => {
                        let sockets = inner.enterprise.bind(!video.rtcp_mux_enterprise)?;
                        let ports = ports_of(&sockets);
                        info.video = Some(ports);
                        video_status = Some(Some((ports.rtp, remote.map(|r| r.0))));
                        video_sockets = Some(sockets);
                        let line = video_line(video, strict, &[]);
                        VideoUpdate::Add(Box::new(line), video.demux.clone())
                    }
                });
            }
            Some(VideoChange::Remove) if info.video.is_some() => {
                info.video = None;
                new_video_remote = Some(None);
                video_status = Some(None);
                out.video = Some(VideoUpdate::Remove);
            }
            Some(VideoChange::Remove) | None => {}
        }
        if video_sockets.is_some() {
            shared.set_video_ports(video_sockets.as_ref());
        }
        let (done, wait) = mpsc::sync_channel(1);
        let command = Command::Update(id, Box::new((out, video_sockets)), done);
        inner.workers[shared.worker].send(command)?;
        if let Some(record) = inner.table().get_mut(&id) {
            record.info = info.clone();
            if let Some(remote) = new_video_remote {
                record.video_remote = remote;
            }
            if let Some(key) = update.enterprise.and_then(|e| e.crypto) {
                record.enterprise_key = Some(key);
            }
        }
        wait.recv_timeout(WORKER_WAIT).map_err(|_| Error::Stopped)?;
        if let Some(video) = video_status {
            // Published once in force: a removed line's ports are free from here on.
            if video.is_none() {
                shared.set_video_ports(None);
            }
            shared.status(|s| s.video = video);
        }
        Ok(info)
    }

    /// Ends a session; returns once its sockets are closed and its ports free. An ended
    /// (lingering) session is simply forgotten.
    ///
    /// # Errors
    /// [`Error::UnknownSession`]; [`Error::Stopped`] when its worker is gone.
    pub fn remove_session(&self, id: SessionId) -> Result<(), Error> {
        let mut table = self.inner.table();
        let record = table.remove(&id).ok_or(Error::UnknownSession(id))?;
        let shared = record.shared;
        let counted = self.inner.retired().retire(&shared, record.observed);
        drop(table);
        if shared.status(|s| s.state.is_ended()) {
            return Ok(());
        }
        let (done, wait) = mpsc::sync_channel(1);
        self.inner.workers[shared.worker].send(Command::Remove(id, done))?;
        let closed = wait.recv_timeout(WORKER_WAIT).map_err(|_| Error::Stopped);
        // The worker may have forwarded a few more packets before it closed the session.
        let _table = self.inner.table();
        self.inner
            .retired()
            .add_late(shared.worker, &counted, &shared.stats.snapshot());
        closed
    }

    /// The forwarder's figures summed over every session since start (for metrics): one
    /// pass over the session table under its lock, nothing on the data path.
    pub fn totals(&self) -> Totals {
        let now = Instant::now();
        let mut table = self.inner.pruned(now);
        let mut retired = self.inner.retired();
        let mut totals = retired.totals(table.values_mut().map(|r| (&*r.shared, &mut r.observed)));
        // Every worker has a count, those that forwarded nothing yet included.
        let workers = self.inner.workers.len().max(totals.worker_packets.len());
        totals.worker_packets.resize(workers, 0);
        totals
    }

    /// Whether every worker thread is still running (for a health probe).
    pub fn workers_alive(&self) -> bool {
        self.inner.workers.iter().all(WorkerHandle::is_alive)
    }

    /// Each worker's loop turns so far (by worker index): a worker turns at least once a
    /// second even when idle, so a count that stops moving is a stuck worker (for a
    /// watchdog).
    pub fn worker_turns(&self) -> Vec<u64> {
        self.inner
            .workers
            .iter()
            .map(|w| w.turns.load(Ordering::Relaxed))
            .collect()
    }

    /// One session's state and counters.
    pub fn session(&self, id: SessionId) -> Option<SessionSnapshot> {
        let now = Instant::now();
        let table = self.inner.pruned(now);
        table.get(&id).map(|r| r.shared.snapshot(now))
    }

    /// Every session's state and counters, live and lingering, ordered by id.
    pub fn sessions(&self) -> Vec<SessionSnapshot> {
        let now = Instant::now();
        let table = self.inner.pruned(now);
        let mut all: Vec<_> = table.values().map(|r| r.shared.snapshot(now)).collect();
        drop(table);
        all.sort_by_key(|s| s.id);
        all
    }

    /// Replaces the DTLS configuration (certificate, profiles) of sessions created from now
    /// on, and the fingerprint their [`SessionInfo`] announces; running sessions keep the
    /// one they started with. Returns the new fingerprint.
    pub fn set_dtls(&self, dtls: edge_dtls::Config) -> Fingerprint {
        let fingerprint = dtls.certificate().fingerprint();
        *self
            .inner
            .dtls
            .write()
            .unwrap_or_else(PoisonError::into_inner) = (Arc::new(dtls), fingerprint);
        fingerprint
    }

    /// Ends every session and stops the workers, for every clone of this handle; returns
    /// once every socket is closed.
    pub fn shutdown(self) {
        for worker in &self.inner.workers {
            worker.stop();
        }
    }
}

impl Inner {
    fn table(&self) -> MutexGuard<'_, HashMap<SessionId, Record>> {
        // The table stays consistent across a panic elsewhere: every update is one call.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The table without the sessions that ended more than `ended-linger` ago.
    fn pruned(&self, now: Instant) -> MutexGuard<'_, HashMap<SessionId, Record>> {
        let linger = self.config.ended_linger;
        let mut table = self.table();
        let gone: Vec<SessionId> = table
            .iter()
            .filter(|(_, r)| {
                r.shared
                    .status(|s| s.ended_at)
                    .is_some_and(|t| now.saturating_duration_since(t) >= linger)
            })
            .map(|(id, _)| *id)
            .collect();
        if !gone.is_empty() {
            let mut retired = self.retired();
            for id in gone {
                if let Some(record) = table.remove(&id) {
                    retired.retire(&record.shared, record.observed);
                }
            }
        }
        table
    }

    /// The retired sessions' figures; lock only with the table held (table first).
    fn retired(&self) -> MutexGuard<'_, Retired> {
        self.retired.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A session that has not ended.
    fn live(&self, id: SessionId) -> Result<Arc<Shared>, Error> {
        let shared = self
            .pruned(Instant::now())
            .get(&id)
            .map(|r| r.shared.clone())
            .ok_or(Error::UnknownSession(id))?;
        if shared.status(|s| s.state.is_ended()) {
            return Err(Error::SessionEnded(id));
        }
        Ok(shared)
    }

    /// Picks the least-loaded worker and counts a session on it, or refuses past
    /// `max-sessions`.
    fn reserve(&self) -> Result<usize, Error> {
        let _table = self.table();
        if self.workers.iter().any(WorkerHandle::is_stopped) {
            return Err(Error::Stopped);
        }
        let live: usize = self
            .workers
            .iter()
            .map(|w| w.load.load(Ordering::Relaxed))
            .sum();
        if live >= self.config.max_sessions {
            return Err(Error::TooManySessions {
                limit: self.config.max_sessions,
            });
        }
        let (index, worker) = self
            .workers
            .iter()
            .enumerate()
            .min_by_key(|(_, w)| w.load.load(Ordering::Relaxed))
            .ok_or(Error::Stopped)?;
        worker.load.fetch_add(1, Ordering::Relaxed);
        Ok(index)
    }

    fn timeouts(&self) -> Timeouts {
        Timeouts {
            media: self.config.media_timeout,
            setup: self.config.setup_timeout,
            consent: self.config.consent_timeout,
        }
    }

    /// Checks a video line: not on a named connection (one fixed tuple, audio only), not
    /// with SDES (video is plain RTP), a usable remote and plan.
    fn check_video(
        &self,
        video: &VideoSpec,
        connection: Option<&str>,
        sdes: bool,
        local: IpAddr,
    ) -> Result<(), Error> {
        if let Some(name) = connection {
            return Err(invalid(
                Side::Enterprise,
                &format!(
                    "video is refused on the named connection {name:?}: its fixed tuple \
                     carries the audio line only; video needs its own port pair from the \
                     pinned range (leave out the connection)"
                ),
            ));
        }
        if sdes {
            return Err(invalid(
                Side::Enterprise,
                "video is forwarded as plain RTP only: a session with SDES-SRTP toward the \
                 enterprise carries audio only",
            ));
        }
        if let Some(remote) = &video.enterprise {
            check_enterprise(remote, false, local, &self.srtp)?;
        }
        video.media.as_ref().map(checked_plan).transpose()?;
        Ok(())
    }
}

/// Gives back a worker place reserved by [`Inner::reserve`] unless the session was handed
/// over: every error path of session creation releases it.
struct Reservation<'a> {
    inner: &'a Inner,
    worker: usize,
}

impl Reservation<'_> {
    /// The session went to the worker, which now owns the count.
    fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if let Some(w) = self.inner.workers.get(self.worker) {
            w.load.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The addresses of a video leg's sockets.
fn ports_of(sockets: &Bound) -> VideoPorts {
    VideoPorts {
        rtp: sockets.rtp.local_addr(),
        rtcp: sockets.rtcp.as_ref().map(edge_udp::UdpSocket::local_addr),
    }
}

/// The video line of `video` (plain RTP), its remote set when given.
fn video_line(video: &VideoSpec, strict: bool, formats: &[crate::PayloadFormat]) -> VideoLine {
    let mut leg = Enterprise::new(video.rtcp_mux_enterprise, strict, None);
    if let Some(remote) = &video.enterprise {
        leg.set_remote(remote.rtp, remote.rtcp, None);
    }
    VideoLine::new(leg, Formats::new(formats), video.media.as_ref())
}

fn invalid(side: Side, reason: &str) -> Error {
    Error::InvalidRemote {
        side,
        reason: reason.to_owned(),
    }
}

/// Whether two `a=crypto` attributes carry the same master key and salt.
pub(crate) fn same_key(a: &CryptoAttribute, b: &CryptoAttribute) -> bool {
    let (a, b) = (&a.key, &b.key);
    a.profile() == b.profile() && a.key() == b.key() && a.salt() == b.salt()
}

/// Checks a media plan's payload map.
pub(crate) fn checked_plan(plan: &MediaPlan) -> Result<(), Error> {
    check_plan(plan).map_err(|reason| invalid(Side::Enterprise, &reason))
}

/// Checks an enterprise remote against the session's crypto and the family of its
/// pinned local address `local`; returns the inbound SDES context (made with `srtp`) when
/// the remote brings a key.
pub(crate) fn check_enterprise(
    remote: &EnterpriseRemote,
    sdes: bool,
    local: IpAddr,
    srtp: &edge_srtp::Config,
) -> Result<Option<Box<Inbound>>, Error> {
    for (field, addr) in [("rtp", Some(remote.rtp)), ("rtcp", remote.rtcp)] {
        let Some(addr) = addr else { continue };
        if addr.port() == 0 || addr.ip().is_unspecified() || addr.ip().is_multicast() {
            return Err(invalid(
                Side::Enterprise,
                &format!("{field} address {addr} is not a unicast address and port"),
            ));
        }
        if addr.is_ipv4() != local.is_ipv4() {
            return Err(invalid(
                Side::Enterprise,
                &format!(
                    "{field} address {addr} is not reachable from the transport-address {local} \
                     (other address family)"
                ),
            ));
        }
    }
    match (&remote.crypto, sdes) {
        (Some(attr), true) => Ok(Some(Box::new(Inbound::new(&attr.key, srtp)?))),
        (None, false) => Ok(None),
        (None, true) => Err(invalid(
            Side::Enterprise,
            "no a=crypto key: the session uses SDES-SRTP toward the enterprise",
        )),
        (Some(_), false) => Err(invalid(
            Side::Enterprise,
            "an a=crypto key was given but the session uses plain RTP toward the enterprise",
        )),
    }
}

/// Checks that an enterprise remote turns rtcp-mux off only on a leg bound with its own
/// RTCP port (`ports`: the leg's enterprise ports, 1 or 2).
pub(crate) fn check_rtcp_mux(remote: &EnterpriseRemote, ports: u64) -> Result<(), Error> {
    if remote.rtcp_mux == Some(false) && ports < 2 {
        return Err(invalid(
            Side::Enterprise,
            "rtcp-mux cannot be turned off: the leg was bound with one port (created \
             with rtcp-mux)",
        ));
    }
    Ok(())
}

/// Checks an ICE restart's browser description against the fingerprints in force (none:
/// the browser's description is not known yet, so there is nothing to restart).
pub(crate) fn check_ice_restart(
    in_force: Option<&[Fingerprint]>,
    remote: &BrowserRemote,
) -> Result<(), Error> {
    check_browser(remote, false)?;
    let Some(in_force) = in_force else {
        return Err(invalid(
            Side::Public,
            "no ICE restart before the browser's description is known",
        ));
    };
    let same = in_force.len() == remote.fingerprints.len()
        && remote.fingerprints.iter().all(|f| in_force.contains(f));
    if !same {
        return Err(invalid(
            Side::Public,
            "a=fingerprint differs from the one in force: an ICE restart keeps the \
             DTLS association (a new one needs a new session)",
        ));
    }
    Ok(())
}

/// Checks the browser's description; `answer` when it answers the relay's offer (then
/// `a=setup` must be `active` or `passive`).
pub(crate) fn check_browser(remote: &BrowserRemote, answer: bool) -> Result<BrowserSetup, Error> {
    let ice_chars = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    };
    if !(4..=256).contains(&remote.ice_ufrag.len()) || !ice_chars(&remote.ice_ufrag) {
        return Err(invalid(
            Side::Public,
            &format!(
                "ice-ufrag {:?} must be 4 to 256 ice-chars (RFC 8839)",
                remote.ice_ufrag
            ),
        ));
    }
    if !(22..=256).contains(&remote.ice_pwd.len()) || !ice_chars(&remote.ice_pwd) {
        return Err(invalid(
            Side::Public,
            "ice-pwd must be 22 to 256 ice-chars (RFC 8839)",
        ));
    }
    if remote.fingerprints.is_empty() {
        return Err(invalid(
            Side::Public,
            "no a=fingerprint: DTLS-SRTP needs one",
        ));
    }
    let setup = remote.setup.trim();
    if answer && setup.eq_ignore_ascii_case("actpass") {
        return Err(invalid(
            Side::Public,
            "a=setup:actpass in an answer: it must be active or passive (RFC 5763)",
        ));
    }
    let role = Role::answering(setup).map_err(|e| invalid(Side::Public, &e.to_string()))?;
    Ok(BrowserSetup {
        ice_ufrag: remote.ice_ufrag.clone(),
        fingerprints: remote.fingerprints.clone(),
        role,
    })
}
