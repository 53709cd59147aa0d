//! A data-plane worker: one thread, one mio event loop, the sessions pinned to it and their
//! sockets. The control plane talks to it only through [`Command`]s on a channel plus a
//! [`Waker`].
//!
//! The worker is a thin driver of [`SessionCore`]: it owns the sockets, the clock and the
//! guard, and feeds each session's core its datagrams ([`SessionCore::handle_input`]), its
//! timers ([`SessionCore::handle_timeout`]) and the control plane's checked updates, then
//! sends what [`SessionCore::poll_output`] gives and re-arms [`SessionCore::poll_timeout`].
//!
//! The hot loop, per ready socket: `recvmmsg` a batch into the worker's one [`RecvBatch`],
//! hand each datagram to its session's core (the socket's token names the session: no
//! lookup by address), which transforms it in place and says where it goes
//! ([`Handled::Forward`]), then `sendmmsg` the batch's datagrams from the other leg's socket
//! straight out of the batch's slots. Nothing allocates, nothing locks. A work limiter
//! reads at most [`BATCHES_PER_WAKE`] batches from one socket per loop iteration; a socket
//! with more waiting is revisited on the next iteration after every other ready socket had
//! its turn.
//!
//! Requests among the browser's datagrams (STUN, DTLS ClientHellos) pass the guard first
//! ([`Admission`]); media never does. Worker 0 also sweeps the guard every
//! [`GUARD_SWEEP`].

use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use edge_udp::{RecvBatch, Transmit, UdpSocket};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::admission::{self, Admission};
use crate::core::{Datagram, Handled, Input, Output, SessionCore, Socket};
use crate::ports::Bound;
use crate::session::{BrowserSetup, Session, Update, AUDIO, VIDEO};
use crate::snapshot::{Counter, Direction, Stats};
use crate::{EndReason, Error, SessionId};

/// Batches read from one socket per loop iteration before other sockets get their turn.
const BATCHES_PER_WAKE: usize = 4;
/// Datagrams per receive batch.
const BATCH: usize = 32;
/// Bytes per batch slot: a 1500-byte datagram plus room for the tag protect appends.
const SLOT: usize = 2048;
/// The longest the loop sleeps without a timer due (it also wakes for commands).
const IDLE: Duration = Duration::from_secs(1);
/// How often worker 0 sweeps the guard's expired bans, failure records and rate buckets.
const GUARD_SWEEP: Duration = Duration::from_secs(5);
const WAKER: Token = Token(usize::MAX);

/// Tokens per session slot (`token = slot * SOCKETS + socket`).
const SOCKETS: usize = 8;
/// Which of a session's sockets a token stands for: the public one, or an enterprise one,
/// `ENTERPRISE + 2 * line + rtcp` (the audio line's RTP and RTCP sockets, then video's).
const PUBLIC: usize = 0;
const ENTERPRISE: usize = 1;

/// What the control plane asks of a worker.
pub(crate) enum Command {
    /// Take over a new session and its sockets.
    Add(Box<NewSession>),
    /// The browser's remote description arrived.
    SetBrowser(SessionId, BrowserSetup),
    /// A change to a running session: the enterprise remote arrived or moved, an ICE
    /// restart, a media plan, video added (with its sockets) or removed. The reply comes
    /// once it is in force.
    Update(SessionId, Box<(Update, Option<Bound>)>, SyncSender<()>),
    /// End a session; the reply comes once its sockets are closed.
    Remove(SessionId, SyncSender<()>),
}

/// A session and its sockets on their way to a worker.
pub(crate) struct NewSession {
    pub(crate) id: SessionId,
    pub(crate) session: Session,
    /// The public socket (RTP and RTCP multiplexed).
    pub(crate) public: Bound,
    pub(crate) enterprise: Bound,
    /// The video line's enterprise sockets, with video.
    pub(crate) video: Option<Bound>,
}

/// The control plane's end of a worker.
pub(crate) struct WorkerHandle {
    commands: Sender<Command>,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
    /// Live sessions on this worker: raised by the control plane when it adds one, lowered
    /// by the worker when one ends.
    pub(crate) load: Arc<AtomicUsize>,
    /// Loop turns completed: the worker's heartbeat (it turns at least every [`IDLE`]).
    pub(crate) turns: Arc<AtomicU64>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl WorkerHandle {
    /// Starts worker `index` on its own thread; worker 0 sweeps the guard.
    pub(crate) fn spawn(index: usize, admission: Admission) -> Result<WorkerHandle, Error> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (commands, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let load = Arc::new(AtomicUsize::new(0));
        let turns = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            poll,
            commands: rx,
            stop: stop.clone(),
            load: load.clone(),
            turns: turns.clone(),
            entries: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            batch: RecvBatch::new(BATCH, SLOT),
            backlog: Vec::with_capacity(1024),
            ready: Vec::with_capacity(2048),
            next_timer: Instant::now() + IDLE,
            guard_sweep: (index == 0).then(|| Instant::now() + GUARD_SWEEP),
            admission,
        };
        let thread = std::thread::Builder::new()
            .name(format!("forwarder-{index}"))
            .spawn(move || worker.run())?;
        Ok(WorkerHandle {
            commands,
            waker,
            stop,
            load,
            turns,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues `command` and wakes the loop.
    ///
    /// # Errors
    /// [`Error::Stopped`] when the worker is gone (the command, and any sockets in it, are
    /// dropped).
    pub(crate) fn send(&self, command: Command) -> Result<(), Error> {
        self.commands.send(command).map_err(|_| Error::Stopped)?;
        self.waker.wake().map_err(|_| Error::Stopped)
    }

    /// Whether the worker thread is still running.
    pub(crate) fn is_alive(&self) -> bool {
        self.thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|t| !t.is_finished())
    }

    /// Whether [`Self::stop`] was called.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Stops the loop (every session ends with [`EndReason::Shutdown`]) and waits for the
    /// thread. Later calls return at once.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        // A failed wake means the loop is gone already; the join below returns at once.
        let _ = self.waker.wake();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::error!("a relay worker thread panicked");
            }
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A session's core with its sockets, owned by the worker.
struct Entry {
    id: SessionId,
    session: SessionCore,
    /// The public socket (RTP and RTCP multiplexed).
    public: Bound,
    /// The enterprise sockets per m-line: audio always, video when the session has it.
    legs: [Option<Bound>; 2],
}

impl Entry {
    /// The enterprise RTP (`rtcp == false`) or RTCP socket of m-line `line`; the RTP
    /// socket when the leg has no RTCP socket of its own.
    fn enterprise(&self, line: usize, rtcp: bool) -> Option<&UdpSocket> {
        leg_socket(&self.legs, line, rtcp)
    }
}

/// The enterprise socket of m-line `line` among `legs`, RTP or RTCP (the RTP socket when the
/// leg multiplexes RTCP); `None` when the line has no leg.
fn leg_socket(legs: &[Option<Bound>], line: usize, rtcp: bool) -> Option<&UdpSocket> {
    let leg = legs.get(line)?.as_ref()?;
    Some(match (&leg.rtcp, rtcp) {
        (Some(rtcp), true) => rtcp,
        _ => &leg.rtp,
    })
}

struct Worker {
    poll: Poll,
    commands: Receiver<Command>,
    stop: Arc<AtomicBool>,
    load: Arc<AtomicUsize>,
    turns: Arc<AtomicU64>,
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
    by_id: HashMap<SessionId, usize>,
    batch: RecvBatch,
    /// Sockets whose budget ran out with data left, revisited next iteration.
    backlog: Vec<Token>,
    /// This iteration's ready tokens (kept to reuse the allocation).
    ready: Vec<Token>,
    /// When the earliest session timer is due.
    next_timer: Instant,
    /// When this worker sweeps the guard next (worker 0 only).
    guard_sweep: Option<Instant>,
    /// Bans and rate limits for requests.
    admission: Admission,
}

impl Worker {
    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let now = Instant::now();
            let timeout = if self.backlog.is_empty() {
                self.next_timer.saturating_duration_since(now).min(IDLE)
            } else {
                Duration::ZERO
            };
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::error!("relay worker poll failed, stopping: {e}");
                    break;
                }
            }
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            let now = Instant::now();
            let mut ready = std::mem::take(&mut self.ready);
            ready.append(&mut self.backlog);
            ready.extend(events.iter().map(|e| e.token()));
            for &token in &ready {
                if token == WAKER {
                    self.commands(now);
                } else {
                    self.drain(now, token);
                }
            }
            ready.clear();
            self.ready = ready;
            if now >= self.next_timer {
                self.sweep(now);
            }
            if self.guard_sweep.is_some_and(|at| now >= at) {
                self.admission.guard().sweep(now);
                self.guard_sweep = Some(now + GUARD_SWEEP);
            }
            // Only this thread writes it: a load and a store, once per turn.
            self.turns
                .store(self.turns.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
        self.shut_down();
    }

    /// Reads up to [`BATCHES_PER_WAKE`] batches from one socket and forwards them.
    fn drain(&mut self, now: Instant, token: Token) {
        let (slot, socket) = (token.0 / SOCKETS, token.0 % SOCKETS);
        let (line, rtcp_socket) = (socket.saturating_sub(ENTERPRISE) / 2, socket % 2 == 0);
        for _ in 0..BATCHES_PER_WAKE {
            let Some(Some(entry)) = self.entries.get_mut(slot) else {
                return;
            };
            let source = match socket {
                PUBLIC => &entry.public.rtp,
                _ => match entry.legs.get(line).and_then(Option::as_ref) {
                    Some(leg) if !rtcp_socket => &leg.rtp,
                    Some(Bound {
                        rtcp: Some(rtcp), ..
                    }) => rtcp,
                    _ => return,
                },
            };
            let n = match source.recv(&mut self.batch) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!("receive on {} failed: {e}", source.local_addr());
                    return;
                }
            };
            if socket == PUBLIC {
                // Media alone only pushes timers later: the next sweep re-arms them.
                if from_browser(entry, &mut self.batch, &self.admission, now) {
                    if let Some(t) = entry.session.poll_timeout() {
                        self.next_timer = self.next_timer.min(t);
                    }
                }
            } else {
                from_enterprise(entry, &mut self.batch, line, rtcp_socket, now);
            }
            if entry.session.ended().is_some() {
                self.finish(slot);
                return;
            }
            // Linux wakes an edge-triggered epoll for every datagram that arrives, so a
            // batch that was not full drained the socket: no extra call to see WouldBlock.
            if n < self.batch.capacity() {
                return;
            }
        }
        self.backlog.push(token);
    }

    /// Runs every session's timers; drops the sessions that ended.
    fn sweep(&mut self, now: Instant) {
        let mut next = now + IDLE;
        for slot in 0..self.entries.len() {
            let Some(entry) = &mut self.entries[slot] else {
                continue;
            };
            entry.session.handle_timeout(now);
            flush(entry);
            match entry.session.poll_timeout() {
                Some(t) => next = next.min(t),
                None => self.finish(slot),
            }
        }
        self.next_timer = next;
    }

    fn commands(&mut self, now: Instant) {
        loop {
            match self.commands.try_recv() {
                Ok(command) => self.command(now, command),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return,
            }
        }
    }

    fn command(&mut self, now: Instant, command: Command) {
        match command {
            Command::Add(new) => self.add(now, *new),
            Command::SetBrowser(id, setup) => {
                self.with(id, now, |session| session.apply_browser(now, setup));
            }
            Command::Update(id, update, done) => {
                let (update, sockets) = *update;
                self.update(id, now, update, sockets);
                // The control plane may have stopped waiting; nothing to do then.
                let _ = done.send(());
            }
            Command::Remove(id, done) => {
                if let Some(&slot) = self.by_id.get(&id) {
                    if let Some(Some(entry)) = self.entries.get_mut(slot) {
                        entry.session.end(now, EndReason::Removed);
                    }
                    self.finish(slot);
                }
                // The control plane may have stopped waiting; nothing to do then.
                let _ = done.send(());
            }
        }
    }

    /// Applies `update` to a live session; video sockets that come with it are registered
    /// first (a session that cannot take them ends), and a removed video line's sockets
    /// are closed after.
    fn update(&mut self, id: SessionId, now: Instant, update: Update, sockets: Option<Bound>) {
        let Some(&slot) = self.by_id.get(&id) else {
            return;
        };
        let Some(Some(entry)) = self.entries.get_mut(slot) else {
            return;
        };
        let removes = matches!(update.video, Some(crate::session::VideoUpdate::Remove));
        if let Some(sockets) = sockets {
            if let Some(old) = entry.legs[VIDEO].take() {
                deregister_leg(&self.poll, &old);
            }
            if let Err(e) = register_leg(&self.poll, Some(&sockets), slot, VIDEO) {
                deregister_leg(&self.poll, &sockets);
                let reason = EndReason::Failed(format!("cannot register the video sockets: {e}"));
                entry.session.end(now, reason);
                self.finish(slot);
                return;
            }
            entry.legs[VIDEO] = Some(sockets);
        }
        self.with(id, now, |session| session.apply_update(now, update));
        if removes {
            if let Some(Some(entry)) = self.entries.get_mut(slot) {
                if let Some(old) = entry.legs[VIDEO].take() {
                    deregister_leg(&self.poll, &old);
                }
            }
        }
    }

    /// Runs `f` on a live session, then flushes what it produced and re-arms the timer.
    fn with(&mut self, id: SessionId, now: Instant, f: impl FnOnce(&mut SessionCore)) {
        let Some(&slot) = self.by_id.get(&id) else {
            return;
        };
        let Some(Some(entry)) = self.entries.get_mut(slot) else {
            return;
        };
        f(&mut entry.session);
        flush(entry);
        match entry.session.poll_timeout() {
            Some(t) => self.next_timer = self.next_timer.min(t.max(now)),
            None => self.finish(slot),
        }
    }

    fn add(&mut self, now: Instant, new: NewSession) {
        let slot = self.free.pop().unwrap_or(self.entries.len());
        let entry = Entry {
            id: new.id,
            session: SessionCore::from_session(new.session),
            public: new.public,
            legs: [Some(new.enterprise), new.video],
        };
        let registered = register(&self.poll, &entry.public.rtp, slot, PUBLIC)
            .and_then(|()| register_leg(&self.poll, entry.legs[AUDIO].as_ref(), slot, AUDIO))
            .and_then(|()| register_leg(&self.poll, entry.legs[VIDEO].as_ref(), slot, VIDEO));
        if let Err(e) = registered {
            let shared = entry.session.shared().clone();
            // Dropping the entry closes the sockets (and with them any registration).
            drop(entry);
            let reason = EndReason::Failed(format!("cannot register the sockets: {e}"));
            shared.end(now, reason);
            self.load.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        if let Some(t) = entry.session.poll_timeout() {
            self.next_timer = self.next_timer.min(t);
        }
        self.by_id.insert(entry.id, slot);
        if slot == self.entries.len() {
            self.entries.push(Some(entry));
        } else {
            self.entries[slot] = Some(entry);
        }
    }

    /// Drops a session: flushes its last output (a DTLS close_notify), closes its sockets
    /// (their ports are free when this returns) and frees its slot.
    fn finish(&mut self, slot: usize) {
        let Some(mut entry) = self.entries.get_mut(slot).and_then(Option::take) else {
            return;
        };
        flush(&mut entry);
        let registry = self.poll.registry();
        // Closing the sockets below removes them from epoll anyway.
        let _ = registry.deregister(&mut SourceFd(&entry.public.rtp.as_raw_fd()));
        for leg in entry.legs.iter().flatten() {
            deregister_leg(&self.poll, leg);
        }
        self.by_id.remove(&entry.id);
        let shared = entry.session.shared().clone();
        let reason = entry.session.ended().cloned().unwrap_or(EndReason::Removed);
        drop(entry);
        // Published only now: whoever sees the session ended finds its ports free.
        let now = Instant::now();
        shared.end(now, reason);
        log_call_end(&shared.snapshot(now));
        self.free.push(slot);
        self.load.fetch_sub(1, Ordering::Relaxed);
    }

    fn shut_down(&mut self) {
        let now = Instant::now();
        for slot in 0..self.entries.len() {
            if let Some(Some(entry)) = self.entries.get_mut(slot) {
                entry.session.end(now, EndReason::Shutdown);
                self.finish(slot);
            }
        }
        // Sessions still queued for this worker end too; dropping them closes their sockets.
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Add(new) => {
                    let shared = new.session.shared().clone();
                    drop(new);
                    shared.end(now, EndReason::Shutdown);
                    self.load.fetch_sub(1, Ordering::Relaxed);
                }
                Command::Remove(_, done) | Command::Update(_, _, done) => {
                    let _ = done.send(());
                }
                Command::SetBrowser(..) => {}
            }
        }
    }
}

/// Registers `socket` for readability under `slot`'s token `which`.
fn register(poll: &Poll, socket: &UdpSocket, slot: usize, which: usize) -> io::Result<()> {
    let fd = socket.as_raw_fd();
    poll.registry().register(
        &mut SourceFd(&fd),
        Token(slot * SOCKETS + which),
        Interest::READABLE,
    )
}

/// Registers m-line `line`'s enterprise sockets, if any.
fn register_leg(poll: &Poll, leg: Option<&Bound>, slot: usize, line: usize) -> io::Result<()> {
    let Some(leg) = leg else {
        return Ok(());
    };
    register(poll, &leg.rtp, slot, ENTERPRISE + 2 * line)?;
    match &leg.rtcp {
        Some(rtcp) => register(poll, rtcp, slot, ENTERPRISE + 2 * line + 1),
        None => Ok(()),
    }
}

/// Deregisters a leg's sockets (closing them would too; this is for sockets that stay
/// open a little longer).
fn deregister_leg(poll: &Poll, leg: &Bound) {
    for socket in std::iter::once(&leg.rtp).chain(&leg.rtcp) {
        let _ = poll
            .registry()
            .deregister(&mut SourceFd(&socket.as_raw_fd()));
    }
}

/// Forwards a batch from the browser: requests the guard refuses are dropped, media goes to
/// the enterprise sockets in one send per socket (transmits gathered per enterprise socket:
/// m-line, RTP or RTCP), STUN answers and DTLS flights go back as each datagram produces
/// them. Returns whether the batch held anything but forwarded media (then the session's
/// timers may have moved).
fn from_browser(
    entry: &mut Entry,
    batch: &mut RecvBatch,
    admission: &Admission,
    now: Instant,
) -> bool {
    let mut out = [[Transmit::PLACEHOLDER; BATCH]; 4];
    let mut n = [0; 4];
    let mut active = false;
    for (meta, buf) in batch.slots_mut() {
        if admission::is_request(&buf[..meta.len]) && !admission.admit(now, meta.src.ip()) {
            continue;
        }
        let datagram = Datagram {
            source: meta.src,
            buf: &mut *buf,
            len: meta.len,
        };
        let handled = entry.session.handle_input(now, Input::Browser(datagram));
        // Media alone only pushes timers later; anything else may have moved them.
        active |= !matches!(handled, Handled::Forward(_));
        match handled {
            Handled::Forward(forward) => {
                // Media from the browser never goes back to it.
                if let Some((line, rtcp)) = forward.socket.leg() {
                    let socket = (2 * line + usize::from(rtcp)).min(3);
                    let buf: &[u8] = buf;
                    out[socket][n[socket]] = Transmit {
                        dst: forward.dst,
                        contents: &buf[..forward.len],
                        ..Transmit::PLACEHOLDER
                    };
                    n[socket] += 1;
                }
            }
            Handled::AuthFailure => admission.failure(now, meta.src.ip(), &buf[..meta.len]),
            Handled::Done => {}
        }
        // The core holds one STUN answer at a time: sent before the next datagram.
        flush(entry);
    }
    let stats = Some((&entry.session.shared().stats, Direction::FromBrowser));
    for (socket, out) in out.iter().enumerate() {
        if let Some(leg) = entry.enterprise(socket / 2, socket % 2 == 1) {
            send(leg, &out[..n[socket]], stats);
        }
    }
    active
}

/// Forwards a batch from an enterprise socket of m-line `line` to the browser in one send.
fn from_enterprise(
    entry: &mut Entry,
    batch: &mut RecvBatch,
    line: usize,
    rtcp_socket: bool,
    now: Instant,
) {
    let mut out = [Transmit::PLACEHOLDER; BATCH];
    let mut n = 0;
    let socket = Socket::enterprise(line, rtcp_socket);
    for (meta, buf) in batch.slots_mut() {
        let datagram = Datagram {
            source: meta.src,
            buf: &mut *buf,
            len: meta.len,
        };
        if let Handled::Forward(forward) = entry
            .session
            .handle_input(now, Input::Enterprise(socket, datagram))
        {
            let buf: &[u8] = buf;
            out[n] = Transmit {
                dst: forward.dst,
                contents: &buf[..forward.len],
                ..Transmit::PLACEHOLDER
            };
            n += 1;
        }
    }
    // Enterprise media makes no datagram of the core's own, only state events.
    flush(entry);
    let stats = Some((&entry.session.shared().stats, Direction::FromEnterprise));
    send(&entry.public.rtp, &out[..n], stats);
}

/// Sends what the core has to send (STUN answers, DTLS flights and alerts) from the socket
/// it names; its events need nothing from the worker (the session publishes its state to
/// the control plane itself, and an ended session is finished by its caller).
fn flush(entry: &mut Entry) {
    while let Some(output) = entry.session.poll_output() {
        let Output::Transmit(t) = output else {
            continue;
        };
        let socket = match t.socket.leg() {
            None => &entry.public.rtp,
            Some((line, rtcp)) => match leg_socket(&entry.legs, line, rtcp) {
                Some(socket) => socket,
                None => continue,
            },
        };
        send(
            socket,
            &[Transmit {
                dst: t.dst,
                contents: t.contents,
                ..Transmit::PLACEHOLDER
            }],
            None,
        );
    }
}

/// Sends `transmits`; what the socket buffer cannot take is dropped (media is not worth
/// queueing) and counted as `send_failed` when `stats` says where.
fn send(socket: &UdpSocket, transmits: &[Transmit<'_>], stats: Option<(&Stats, Direction)>) {
    if transmits.is_empty() {
        return;
    }
    let sent = socket.send(transmits).unwrap_or(0);
    if let (Some((stats, direction)), true) = (stats, sent < transmits.len()) {
        stats.add(
            direction,
            Counter::SendFailed,
            (transmits.len() - sent) as u64,
        );
    }
}

/// The call's record (a CDR an operator can grep for `call ended`): one INFO line when a
/// session's sockets are closed, with its duration, end reason and per-direction packets
/// (RTP and RTCP), bytes and drops (every reason together; `GET /v1/sessions/{id}` has them
/// by reason while the session lingers), and per leg its call quality: loss of the stream
/// received on the leg (fraction since the start), jitter (ms), RTT (ms) and MOS, each left
/// out when the call did not carry what it needs.
fn log_call_end(s: &crate::SessionSnapshot) {
    let (b, e) = (&s.quality.browser, &s.quality.enterprise);
    let loss = |q: &crate::LegQuality| q.received.as_ref().map(|r| r.loss);
    let jitter = |q: &crate::LegQuality| q.received.as_ref().and_then(|r| r.jitter_ms);
    let reason = match &s.state {
        crate::SessionState::Ended { reason } => reason.to_string(),
        other => format!("{other:?}"),
    };
    let (from_browser, from_enterprise) = (
        &s.counters.browser_to_enterprise,
        &s.counters.enterprise_to_browser,
    );
    tracing::info!(
        session = %s.id,
        %reason,
        duration_s = s.age.as_secs(),
        browser_to_enterprise_packets = from_browser.rtp_packets + from_browser.rtcp_packets,
        browser_to_enterprise_bytes = from_browser.bytes,
        browser_to_enterprise_drops = from_browser.drops.total(),
        enterprise_to_browser_packets = from_enterprise.rtp_packets + from_enterprise.rtcp_packets,
        enterprise_to_browser_bytes = from_enterprise.bytes,
        enterprise_to_browser_drops = from_enterprise.drops.total(),
        browser_loss = loss(b),
        browser_jitter_ms = jitter(b),
        browser_rtt_ms = b.rtt_ms,
        browser_mos = b.mos,
        enterprise_loss = loss(e),
        enterprise_jitter_ms = jitter(e),
        enterprise_rtt_ms = e.rtt_ms,
        enterprise_mos = e.mos,
        "call ended"
    );
}
