//! Allocations, their permissions and channels (RFC 8656 §7-§12), expiring on the caller's
//! clock, and the table that owns them together with the relay port pool and the quotas.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use crate::hash::KeyedState;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::bandwidth::{BandwidthCap, TokenBucket};
use crate::command::Command;
use crate::ledger::Ledger;
use crate::transport::FiveTuple;

/// How long a permission lasts (RFC 8656 §9: 300 s, not negotiable).
pub const PERMISSION_LIFETIME: Duration = Duration::from_secs(300);
/// How long a channel binding lasts (RFC 8656 §12: 600 s, not negotiable).
pub const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);
/// The most permissions one allocation may hold; more get 508 (Insufficient Capacity).
pub const MAX_PERMISSIONS: usize = 1024;

/// Why an allocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// Its lifetime ran out.
    Expired,
    /// The client refreshed it with a lifetime of 0.
    Deleted,
    /// The client's TCP or TLS connection closed (a ban of its source included: the driver
    /// closes the connection).
    ConnectionClosed,
    /// The UDP client's source was banned
    /// ([`Server::release_banned`](crate::Server::release_banned)).
    Banned,
}

/// Why an allocation could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CreateError {
    /// Per-user or total quota reached: 486.
    Quota,
    /// No relay port could be opened: 508.
    Capacity,
}

/// Why a channel could not be bound: both are 400 (RFC 8656 §12.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BindError {
    /// The channel number is bound to another peer.
    NumberTaken,
    /// The peer is bound to another channel number.
    PeerTaken,
}

#[derive(Debug, Clone, Copy)]
struct Channel {
    peer: SocketAddr,
    expires: Instant,
}

/// One allocation: a relay port for a client's 5-tuple, with its permissions and channels.
#[derive(Debug)]
pub(crate) struct Allocation {
    id: u64,
    pub(crate) tuple: FiveTuple,
    pub(crate) username: String,
    pub(crate) port: u16,
    /// Transaction ID of the Allocate that created it, to answer a retransmission.
    pub(crate) txid: [u8; 12],
    pub(crate) expires: Instant,
    permissions: HashMap<IpAddr, Instant, KeyedState>,
    channels: HashMap<u16, Channel, KeyedState>,
    by_peer: HashMap<SocketAddr, u16, KeyedState>,
    bucket: Option<TokenBucket>,
    /// What it relayed so far.
    pub(crate) usage: Usage,
}

/// What one allocation relayed in its life, reported when it closes
/// ([`Event::AllocationClosed`](crate::Event)): plain counters on the allocation, raised by
/// the loop that owns it, never shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// When it was created (its duration is the close time minus this).
    pub created: Instant,
    /// Datagrams relayed client -> peer.
    pub to_peer_packets: u64,
    /// Payload bytes relayed client -> peer.
    pub to_peer_bytes: u64,
    /// Datagrams relayed peer -> client.
    pub to_client_packets: u64,
    /// Payload bytes relayed peer -> client.
    pub to_client_bytes: u64,
    /// Data for or from it dropped: no permission or channel, over the bandwidth cap.
    pub dropped: u64,
}

impl Usage {
    fn new(created: Instant) -> Self {
        Usage {
            created,
            to_peer_packets: 0,
            to_peer_bytes: 0,
            to_client_packets: 0,
            to_client_bytes: 0,
            dropped: 0,
        }
    }

    /// Counts a payload of `len` bytes relayed to a peer.
    pub(crate) fn count_to_peer(&mut self, len: usize) {
        self.to_peer_packets += 1;
        self.to_peer_bytes += len as u64;
    }

    /// Counts a payload of `len` bytes relayed to the client.
    pub(crate) fn count_to_client(&mut self, len: usize) {
        self.to_client_packets += 1;
        self.to_client_bytes += len as u64;
    }
}

impl Allocation {
    /// Whether `peer`'s IP has an unexpired permission.
    pub(crate) fn permits(&self, peer: IpAddr, now: Instant) -> bool {
        self.permissions.get(&peer).is_some_and(|&exp| exp > now)
    }

    /// The peer bound to channel `number`, when the binding and its permission are live.
    pub(crate) fn channel_peer(&self, number: u16, now: Instant) -> Option<SocketAddr> {
        let ch = self.channels.get(&number)?;
        (ch.expires > now && self.permits(ch.peer.ip(), now)).then_some(ch.peer)
    }

    /// Its unexpired permissions and channel bindings at `now`.
    pub(crate) fn live_counts(&self, now: Instant) -> (usize, usize) {
        let permissions = self.permissions.values().filter(|&&e| e > now).count();
        let channels = self.channels.values().filter(|c| c.expires > now).count();
        (permissions, channels)
    }

    /// The live channel bound to `peer`, if any.
    pub(crate) fn channel_of(&self, peer: SocketAddr, now: Instant) -> Option<u16> {
        let number = *self.by_peer.get(&peer)?;
        self.channels
            .get(&number)
            .is_some_and(|ch| ch.expires > now)
            .then_some(number)
    }

    /// Charges `bytes` to the bandwidth cap; false means drop the packet.
    pub(crate) fn charge(&mut self, now: Instant, bytes: usize) -> bool {
        self.bucket.as_mut().is_none_or(|b| b.take(now, bytes))
    }
}

/// A UDP allocation's channel became usable until `until` (the end of its binding, of its
/// peer's permission or of the allocation, whichever comes first), that end moved, or it
/// is no longer usable (`until` is `None`). Recorded only while
/// [`Allocations::track_channels`] is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChannelChange {
    pub(crate) tuple: FiveTuple,
    pub(crate) port: u16,
    pub(crate) number: u16,
    pub(crate) peer: SocketAddr,
    pub(crate) until: Option<Instant>,
}

/// Timer kinds, each naming what it expires. Each live object has one timer: one that finds
/// its object refreshed re-arms itself at the new expiry, one that finds it gone does nothing,
/// so refreshes never grow the heap (only a refresh that shortens a lifetime adds a timer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Allocation { slot: usize, id: u64 },
    Permission { slot: usize, id: u64, peer: IpAddr },
    Channel { slot: usize, id: u64, number: u16 },
}

/// Limits the table enforces itself; the quotas and the port pool are the [`Ledger`]'s.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) ports: edge_config::PortRange,
    pub(crate) bandwidth: Option<BandwidthCap>,
}

/// Every allocation of one thread, indexed by 5-tuple and by relay port, charged to the
/// [`Ledger`] it shares with the service's other threads (port pool and quotas).
#[derive(Debug)]
pub(crate) struct Allocations {
    slots: Vec<Option<Allocation>>,
    free_slots: Vec<usize>,
    by_tuple: HashMap<FiveTuple, usize, KeyedState>,
    /// Slot of the allocation on each relay port, indexed by `port - first port`.
    by_port: Vec<Option<usize>>,
    first_port: u16,
    ledger: Ledger,
    live: u32,
    limits: Limits,
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    next_id: u64,
    /// Keys of every per-packet lookup map (see [`crate::hash`]).
    hash: KeyedState,
    /// Whether channel changes are recorded (for a kernel fast path that mirrors them).
    track_channels: bool,
    /// Channel changes not yet taken, oldest first.
    changes: VecDeque<ChannelChange>,
    /// Relay-socket commands for the driver, oldest first.
    commands: VecDeque<Command>,
}

impl Allocations {
    pub(crate) fn new(limits: Limits, ledger: Ledger) -> Self {
        let span = limits.ports.len();
        let hash = KeyedState::random();
        Self {
            slots: Vec::new(),
            free_slots: Vec::new(),
            by_tuple: HashMap::with_hasher(hash),
            by_port: vec![None; span],
            first_port: limits.ports.first(),
            ledger,
            live: 0,
            limits,
            timers: BinaryHeap::new(),
            next_id: 0,
            hash,
            track_channels: false,
            changes: VecDeque::new(),
            commands: VecDeque::new(),
        }
    }

    /// From now on, every change to whether a UDP allocation's channel is usable, and
    /// until when, is recorded for [`Allocations::take_change`].
    pub(crate) fn track_channels(&mut self) {
        self.track_channels = true;
    }

    /// The oldest channel change not yet taken.
    pub(crate) fn take_change(&mut self) -> Option<ChannelChange> {
        self.changes.pop_front()
    }

    /// Records the state of the channels of `slot` that `which` selects (by number and
    /// peer), or of all of them when it is `None`.
    fn channels_changed(&mut self, slot: usize, which: Option<&dyn Fn(u16, SocketAddr) -> bool>) {
        if !self.track_channels {
            return;
        }
        let Some(a) = self.slots.get(slot).and_then(Option::as_ref) else {
            return;
        };
        if a.tuple.transport.is_stream() {
            return;
        }
        for (&number, ch) in &a.channels {
            if which.is_some_and(|w| !w(number, ch.peer)) {
                continue;
            }
            let until = a
                .permissions
                .get(&ch.peer.ip())
                .map(|&p| ch.expires.min(p).min(a.expires));
            self.changes.push_back(ChannelChange {
                tuple: a.tuple,
                port: a.port,
                number,
                peer: ch.peer,
                until,
            });
        }
    }

    /// Records that every channel of `a` (being removed) is gone.
    fn channels_gone(&mut self, a: &Allocation) {
        if !self.track_channels || a.tuple.transport.is_stream() {
            return;
        }
        for (&number, ch) in &a.channels {
            self.changes.push_back(ChannelChange {
                tuple: a.tuple,
                port: a.port,
                number,
                peer: ch.peer,
                until: None,
            });
        }
    }

    /// How many allocations of this table are live.
    pub(crate) fn len(&self) -> usize {
        self.live as usize
    }

    /// The ledger this table charges (shared with the service's other threads).
    pub(crate) fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The 5-tuples of every live allocation.
    pub(crate) fn tuples(&self) -> Vec<FiveTuple> {
        self.by_tuple.keys().copied().collect()
    }

    /// Every live allocation's slot is below this (free slots included).
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn slot_of(&self, tuple: &FiveTuple) -> Option<usize> {
        self.by_tuple.get(tuple).copied()
    }

    pub(crate) fn slot_of_port(&self, port: u16) -> Option<usize> {
        let i = usize::from(port.checked_sub(self.first_port)?);
        self.by_port.get(i).copied().flatten()
    }

    pub(crate) fn get(&self, slot: usize) -> Option<&Allocation> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    pub(crate) fn get_mut(&mut self, slot: usize) -> Option<&mut Allocation> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    /// Queues a command for the driver.
    pub(crate) fn push_command(&mut self, command: Command) {
        self.commands.push_back(command);
    }

    /// The oldest command not yet taken. A closed relay port goes back to the shared pool as
    /// its command is taken: the driver closes the socket before it feeds the core again, so
    /// another thread that takes the port finds it free (or, in the moment between, skips it
    /// like any port the system refuses).
    pub(crate) fn take_command(&mut self) -> Option<Command> {
        let command = self.commands.pop_front()?;
        if let Command::CloseRelay { port } = command {
            self.ledger.release_ports(&[port]);
        }
        Some(command)
    }

    /// Creates an allocation for `tuple` on relay `port`, which the ledger handed out and the
    /// driver has opened.
    pub(crate) fn insert(
        &mut self,
        now: Instant,
        tuple: FiveTuple,
        username: &str,
        txid: [u8; 12],
        lifetime: Duration,
        port: u16,
    ) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        let allocation = Allocation {
            id,
            tuple,
            username: username.to_owned(),
            port,
            txid,
            expires: now + lifetime,
            permissions: HashMap::with_hasher(self.hash),
            channels: HashMap::with_hasher(self.hash),
            by_peer: HashMap::with_hasher(self.hash),
            bucket: self.limits.bandwidth.map(|cap| TokenBucket::new(cap, now)),
            usage: Usage::new(now),
        };
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.slots[slot] = Some(allocation);
                slot
            }
            None => {
                self.slots.push(Some(allocation));
                self.slots.len() - 1
            }
        };
        self.by_tuple.insert(tuple, slot);
        self.by_port[usize::from(port - self.first_port)] = Some(slot);
        self.live += 1;
        self.timers
            .push(Reverse((now + lifetime, Timer::Allocation { slot, id })));
        slot
    }

    /// Sets the allocation's expiry to `now + lifetime`.
    pub(crate) fn refresh(&mut self, slot: usize, now: Instant, lifetime: Duration) {
        let Some(a) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let earlier = now + lifetime < a.expires;
        a.expires = now + lifetime;
        if earlier {
            let id = a.id;
            self.timers
                .push(Reverse((a.expires, Timer::Allocation { slot, id })));
        }
        self.channels_changed(slot, None);
    }

    /// Installs or refreshes a permission for `peer`; false when the allocation is full.
    pub(crate) fn permit(&mut self, slot: usize, now: Instant, peer: IpAddr) -> bool {
        let Some(a) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return false;
        };
        if a.permissions.len() >= MAX_PERMISSIONS && !a.permissions.contains_key(&peer) {
            return false;
        }
        let expires = now + PERMISSION_LIFETIME;
        if a.permissions.insert(peer, expires).is_none() {
            let id = a.id;
            self.timers
                .push(Reverse((expires, Timer::Permission { slot, id, peer })));
        }
        self.channels_changed(slot, Some(&|_, p: SocketAddr| p.ip() == peer));
        true
    }

    /// Whether channel `number` may be bound (or refreshed) to `peer` on this allocation.
    pub(crate) fn check_bind(
        &self,
        slot: usize,
        number: u16,
        peer: SocketAddr,
    ) -> Result<(), BindError> {
        let Some(a) = self.get(slot) else {
            return Ok(());
        };
        if a.channels.get(&number).is_some_and(|ch| ch.peer != peer) {
            return Err(BindError::NumberTaken);
        }
        if a.by_peer.get(&peer).is_some_and(|&n| n != number) {
            return Err(BindError::PeerTaken);
        }
        Ok(())
    }

    /// Binds or refreshes channel `number` to `peer`; call [`Allocations::check_bind`] and
    /// [`Allocations::permit`] first.
    pub(crate) fn bind(&mut self, slot: usize, now: Instant, number: u16, peer: SocketAddr) {
        let Some(a) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let expires = now + CHANNEL_LIFETIME;
        a.by_peer.insert(peer, number);
        if a.channels
            .insert(number, Channel { peer, expires })
            .is_none()
        {
            let id = a.id;
            self.timers
                .push(Reverse((expires, Timer::Channel { slot, id, number })));
        }
        self.channels_changed(slot, Some(&|n, _| n == number));
    }

    /// Removes an allocation: its quota is returned, and a [`Command::CloseRelay`] queued
    /// for its relay port (which goes back to the pool when the command is taken).
    pub(crate) fn remove(&mut self, slot: usize) -> Option<Allocation> {
        let a = self.slots.get_mut(slot)?.take()?;
        self.free_slots.push(slot);
        self.by_tuple.remove(&a.tuple);
        self.by_port[usize::from(a.port - self.first_port)] = None;
        self.live -= 1;
        self.commands
            .push_back(Command::CloseRelay { port: a.port });
        self.ledger.release_user(&a.username);
        self.channels_gone(&a);
        Some(a)
    }

    /// When the earliest timer fires.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Runs every timer due at `now`, passing each allocation that expired to `closed`.
    pub(crate) fn expire(&mut self, now: Instant, mut closed: impl FnMut(Allocation)) {
        while let Some(Reverse((at, timer))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            if let Some(rearm) = self.fire(now, timer, &mut closed) {
                self.timers.push(Reverse((rearm, timer)));
            }
        }
    }

    /// Runs one timer; returns when to run it again if its object was refreshed.
    fn fire(
        &mut self,
        now: Instant,
        timer: Timer,
        closed: &mut impl FnMut(Allocation),
    ) -> Option<Instant> {
        match timer {
            Timer::Allocation { slot, id } => {
                let expires = self.live_at(slot, id)?.expires;
                if expires > now {
                    return Some(expires);
                }
                if let Some(a) = self.remove(slot) {
                    closed(a);
                }
                None
            }
            Timer::Permission { slot, id, peer } => {
                let a = self.live_at_mut(slot, id)?;
                let expires = *a.permissions.get(&peer)?;
                if expires > now {
                    return Some(expires);
                }
                a.permissions.remove(&peer);
                self.channels_changed(slot, Some(&|_, p: SocketAddr| p.ip() == peer));
                None
            }
            Timer::Channel { slot, id, number } => {
                let a = self.live_at_mut(slot, id)?;
                let ch = *a.channels.get(&number)?;
                if ch.expires > now {
                    return Some(ch.expires);
                }
                a.channels.remove(&number);
                a.by_peer.remove(&ch.peer);
                let (tuple, port) = (a.tuple, a.port);
                if self.track_channels && !tuple.transport.is_stream() {
                    self.changes.push_back(ChannelChange {
                        tuple,
                        port,
                        number,
                        peer: ch.peer,
                        until: None,
                    });
                }
                None
            }
        }
    }

    fn live_at(&self, slot: usize, id: u64) -> Option<&Allocation> {
        self.get(slot).filter(|a| a.id == id)
    }

    fn live_at_mut(&mut self, slot: usize, id: u64) -> Option<&mut Allocation> {
        self.get_mut(slot).filter(|a| a.id == id)
    }
}
