//! The XDP fast path of the TURN server: ChannelData relayed in the kernel, and floods
//! dropped before they reach any socket.
//!
//! [`FastPath`] owns the BPF program (bpf/turn_xdp.c, built by build.rs with clang), its
//! maps and its attachment to one network interface. The TURN driver keeps the maps in step
//! with its own state through a small typed API:
//! - [`FastPath::channel_up`] / [`FastPath::channel_down`]: a channel usable until an
//!   instant (its binding's, its permission's or its allocation's end, whichever is first),
//!   or gone. While it is up, the program rewrites the client's ChannelData into a UDP
//!   datagram from the relay address to the peer, and the peer's datagrams into ChannelData
//!   to the client (checksums updated, sent back out with XDP_TX toward the MAC address the
//!   destination's own frames come from), and counts them ([`Counters`], and per channel:
//!   [`FastPath::channel_down`] and [`FastPath::close_client`] return a [`Tally`] of what
//!   the kernel relayed for the channel or for all of a client's channels).
//! - [`FastPath::set_bans`]: sources the guard banned, dropped until their ban ends.
//! - [`Settings::source_pps`]: a per-source packet rate toward the TURN listener ports,
//!   above which packets are dropped (a GCRA bucket per source in an LRU map). Only what
//!   would reach userspace counts (ChannelData of a live channel never does, as the guard
//!   never rate-limits data); [`FastPath::set_exempt`] names sources it never applies to.
//!
//! What it does not do: IPv6 (passed to the stack), IPv4 with options or fragments
//! (passed), TCP/TLS clients, Send/Data indications, allocations with a bandwidth cap (the
//! driver hands those to userspace by never installing their channels), destinations it has
//! not seen a frame from yet or saw on another interface (passed: the program learns a
//! next hop from the frames a client or peer sends, as the kernel's FIB helper would answer
//! only with IP forwarding on, and media-edge never routes), and packets that would exceed
//! [`Settings::mtu`] once rewritten. Everything it passes reaches the userspace server
//! unchanged, which stays the reference.
//!
//! Loading needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (or root): [`Error::Permission`]
//! says so.

#![deny(clippy::undocumented_unsafe_blocks)]

mod maps;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{Array, HashMap, MapData, PerCpuArray};
use aya::programs::{TestRun, TestRunOptions, Xdp, XdpMode};
use aya::Ebpf;

use std::collections::{BTreeMap, HashMap as StdHashMap, VecDeque};

use aya::maps::PerCpuValues;

use crate::maps::{
    endpoint, BanVal, ChannelKey, ChannelStats, ChannelVal, ConfigVal, Hops, PeerKey, PeerVal,
    Totals,
};

/// The most TURN UDP listener ports the program tells apart from relay ports.
pub const MAX_LISTEN_PORTS: usize = 4;

/// How many channels (and as many peer bindings) the maps hold.
pub const MAX_CHANNELS: usize = 65536;

/// The compiled program, aligned for the ELF parser.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/turn_xdp.o"));

/// What went wrong, and whose doing it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The process may not load or attach BPF programs (the verifier refuses pointer
    /// arithmetic without CAP_PERFMON too).
    #[error("XDP needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (or root): {0}")]
    Permission(String),
    /// The kernel refused the program or a map (no BPF syscall, no XDP, the verifier).
    #[error("the kernel refused the XDP program: {0}")]
    Load(String),
    /// No such interface.
    #[error("no network interface named {0:?}")]
    NoInterface(String),
    /// The interface would not take the program in that mode.
    #[error("attaching XDP to {interface} in {mode:?} mode failed: {reason}")]
    Attach {
        /// The interface.
        interface: String,
        /// The mode asked for.
        mode: Mode,
        /// The kernel's answer.
        reason: String,
    },
    /// A map update or read failed (a full map included).
    #[error("XDP map {map}: {reason}")]
    Map {
        /// The map.
        map: &'static str,
        /// The kernel's answer.
        reason: String,
    },
    /// A setting the program cannot express.
    #[error("XDP setting {field}: {reason}")]
    Setting {
        /// The setting.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

/// How the program is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// In the driver (fastest; the interface must support it: on veth the other end needs
    /// an XDP program too, see [`FastPath::attach_pass`]).
    Native,
    /// In the generic receive path, after the socket buffer is built (works everywhere).
    Generic,
}

impl Mode {
    fn flags(self) -> XdpMode {
        match self {
            Mode::Native => XdpMode::Driver,
            Mode::Generic => XdpMode::Skb,
        }
    }
}

/// What the program needs to know about the TURN service it fronts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The TURN UDP listener ports (up to [`MAX_LISTEN_PORTS`]): ChannelData and the
    /// per-source rate limit apply to datagrams sent to them.
    pub listen_ports: Vec<u16>,
    /// The relay port range: datagrams from peers to these ports may take the fast path.
    pub relay_ports: RangeInclusive<u16>,
    /// Packets per second one source may send to the listener ports before the rest is
    /// dropped (0: no limit).
    pub source_pps: u32,
    /// Packets a source may send at once above that rate (at least 1 when limited).
    pub source_burst: u32,
    /// The interface's MTU ([`interface_mtu`]): a rewritten IP packet larger than this
    /// goes to userspace (the stack fragments it).
    pub mtu: u16,
}

/// A channel as the program forwards it: the client's 5-tuple (UDP, IPv4), its number, the
/// relay address and the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Channel {
    /// The client's address, as the server sees it.
    pub client: SocketAddrV4,
    /// The server's listener address the client sends to.
    pub server: SocketAddrV4,
    /// The channel number (0x4000..=0x7FFF).
    pub number: u16,
    /// The allocation's relay address (the local address its socket is bound to).
    pub relay: SocketAddrV4,
    /// The peer.
    pub peer: SocketAddrV4,
}

/// The program's counters, summed over the CPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// ChannelData datagrams relayed client -> peer in the kernel.
    pub to_peers: u64,
    /// Their payload bytes.
    pub to_peers_bytes: u64,
    /// Peer datagrams relayed peer -> client in the kernel.
    pub to_clients: u64,
    /// Their payload bytes.
    pub to_clients_bytes: u64,
    /// Datagrams from banned sources dropped.
    pub banned: u64,
    /// Datagrams over a source's packet rate dropped.
    pub rate_limited: u64,
    /// Datagrams of a channel past its end, passed to userspace (which drops them).
    pub expired: u64,
    /// Datagrams of a live channel passed to userspace because the destination's next hop
    /// is not known on this interface yet, or the rewritten packet would exceed the MTU.
    pub no_route: u64,
}

impl Counters {
    /// Both counters added.
    pub fn plus(self, o: &Counters) -> Counters {
        Counters {
            to_peers: self.to_peers + o.to_peers,
            to_peers_bytes: self.to_peers_bytes + o.to_peers_bytes,
            to_clients: self.to_clients + o.to_clients,
            to_clients_bytes: self.to_clients_bytes + o.to_clients_bytes,
            banned: self.banned + o.banned,
            rate_limited: self.rate_limited + o.rate_limited,
            expired: self.expired + o.expired,
            no_route: self.no_route + o.no_route,
        }
    }
}

/// What the program relayed for one channel, or for all of one client's channels
/// ([`FastPath::channel_down`], [`FastPath::close_client`]), to merge into the
/// allocation's own usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tally {
    /// ChannelData datagrams relayed client -> peer in the kernel.
    pub to_peer_packets: u64,
    /// Their payload bytes.
    pub to_peer_bytes: u64,
    /// Peer datagrams relayed peer -> client in the kernel.
    pub to_client_packets: u64,
    /// Their payload bytes.
    pub to_client_bytes: u64,
}

impl Tally {
    /// Both tallies added.
    pub fn plus(self, o: &Tally) -> Tally {
        Tally {
            to_peer_packets: self.to_peer_packets + o.to_peer_packets,
            to_peer_bytes: self.to_peer_bytes + o.to_peer_bytes,
            to_client_packets: self.to_client_packets + o.to_client_packets,
            to_client_bytes: self.to_client_bytes + o.to_client_bytes,
        }
    }
}

/// A channel in the maps: its slot in `stats` and `hops`, and its `peers` key.
#[derive(Debug, Clone, Copy)]
struct Live {
    slot: u32,
    peer: PeerKey,
}

/// A client's 5-tuple as the maps key it: (client ip, client port, server ip, server port).
type ClientKey = (u32, u16, u32, u16);

/// What the program decided for one frame ([`FastPath::test_run`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Passed to the kernel stack unchanged.
    Pass,
    /// Dropped.
    Drop,
    /// Rewritten and sent back out of the interface it came in on.
    Tx,
    /// Anything else the program returned (a bug: it returns only the above).
    Other(u32),
}

/// The program, its maps and its attachment. Dropping it detaches the program.
///
/// # Method groups
/// - **Setup**: [`load`](FastPath::load), [`configure`](FastPath::configure),
///   [`attach`](FastPath::attach) (and [`attach_pass`](FastPath::attach_pass) for the other
///   end of a veth pair).
/// - **State** (called by the TURN driver as its own state changes):
///   [`channel_up`](FastPath::channel_up), [`channel_down`](FastPath::channel_down),
///   [`close_client`](FastPath::close_client), [`ban`](FastPath::ban),
///   [`set_bans`](FastPath::set_bans), [`set_exempt`](FastPath::set_exempt).
/// - **Getters**: [`counters`](FastPath::counters), [`channels`](FastPath::channels).
/// - **Tests**: [`test_run`](FastPath::test_run) (BPF_PROG_TEST_RUN on a crafted frame).
pub struct FastPath {
    ebpf: Ebpf,
    channels: HashMap<MapData, ChannelKey, ChannelVal>,
    peers: HashMap<MapData, PeerKey, PeerVal>,
    bans: HashMap<MapData, u32, BanVal>,
    exempt: LpmTrie<MapData, u32, u8>,
    /// What `exempt` holds, to remove on the next [`FastPath::set_exempt`].
    exempt_keys: Vec<(u32, u32)>,
    config: Array<MapData, ConfigVal>,
    /// What `config` holds (rewritten when the bans come and go).
    config_val: ConfigVal,
    counters: PerCpuArray<MapData, Totals>,
    stats: PerCpuArray<MapData, ChannelStats>,
    hops: Array<MapData, Hops>,
    clock: Clock,
    /// The installed channels, client first (one client's channels are one range).
    live: BTreeMap<ChannelKey, Live>,
    /// Slots no channel holds, oldest freed first: a slot is given out again as late as
    /// possible, after any program run that looked up its old channel has long ended.
    free: VecDeque<u32>,
    /// What removed channels relayed, by client, until the client's allocation closes.
    retired: StdHashMap<ClientKey, Tally>,
    /// Sources in `bans`.
    banned: usize,
}

impl std::fmt::Debug for FastPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastPath")
            .field("channels", &self.live.len())
            .finish_non_exhaustive()
    }
}

impl FastPath {
    /// Loads the program and its maps into the kernel (verified, not attached), with no
    /// listener ports configured: until [`configure`](FastPath::configure) it passes
    /// everything.
    ///
    /// # Errors
    /// [`Error::Permission`] without the capabilities, [`Error::Load`] when the kernel
    /// has no BPF or refuses the program.
    pub fn load() -> Result<FastPath, Error> {
        let mut ebpf = Ebpf::load(OBJECT).map_err(|e| classify(&e, Error::Load))?;
        for name in ["turn_xdp", "xdp_pass"] {
            program(&mut ebpf, name)?
                .load()
                .map_err(|e| classify(&e, Error::Load))?;
        }
        let channels = take(&mut ebpf, "channels", HashMap::try_from)?;
        let peers = take(&mut ebpf, "peers", HashMap::try_from)?;
        let bans = take(&mut ebpf, "bans", HashMap::try_from)?;
        let exempt = take(&mut ebpf, "exempt", LpmTrie::try_from)?;
        let config = take(&mut ebpf, "config", Array::try_from)?;
        let counters = take(&mut ebpf, "counters", PerCpuArray::try_from)?;
        let stats = take(&mut ebpf, "stats", PerCpuArray::try_from)?;
        let hops = take(&mut ebpf, "hops", Array::try_from)?;
        Ok(FastPath {
            ebpf,
            channels,
            peers,
            bans,
            exempt,
            exempt_keys: Vec::new(),
            config,
            config_val: ConfigVal {
                interval_ns: 0,
                tolerance_ns: 0,
                listen_ports: [0; MAX_LISTEN_PORTS],
                relay_min: 0,
                relay_max: 0,
                mtu: 0,
                bans: 0,
            },
            counters,
            stats,
            hops,
            clock: Clock::now(),
            live: BTreeMap::new(),
            free: (0..MAX_CHANNELS as u32).collect(),
            retired: StdHashMap::new(),
            banned: 0,
        })
    }

    /// Tells the program which ports are the service's and how fast one source may send.
    ///
    /// # Errors
    /// [`Error::Setting`] for no listener port or more than [`MAX_LISTEN_PORTS`], or a
    /// zero burst with a rate; [`Error::Map`] if the kernel refuses the update.
    pub fn configure(&mut self, settings: &Settings) -> Result<(), Error> {
        let n = settings.listen_ports.len();
        if n == 0 || n > MAX_LISTEN_PORTS || settings.listen_ports.contains(&0) {
            return Err(Error::Setting {
                field: "listen_ports",
                reason: format!("{n} ports: the fast path fronts 1 to {MAX_LISTEN_PORTS} UDP listener ports, none 0"),
            });
        }
        if settings.source_pps > 0 && settings.source_burst == 0 {
            return Err(Error::Setting {
                field: "source_burst",
                reason: "must be at least 1 when source_pps is set".to_owned(),
            });
        }
        let mut listen_ports = [0u16; MAX_LISTEN_PORTS];
        for (slot, &p) in listen_ports.iter_mut().zip(&settings.listen_ports) {
            *slot = maps::port(p);
        }
        let interval_ns = match settings.source_pps {
            0 => 0,
            pps => 1_000_000_000 / u64::from(pps),
        };
        self.config_val = ConfigVal {
            interval_ns,
            // GCRA lets `burst` packets through at once: the next arrival may be up to
            // (burst - 1) intervals ahead of now.
            tolerance_ns: interval_ns * u64::from(settings.source_burst.saturating_sub(1)),
            listen_ports,
            relay_min: *settings.relay_ports.start(),
            relay_max: *settings.relay_ports.end(),
            mtu: settings.mtu,
            bans: u16::from(self.banned > 0),
        };
        self.write_config()
    }

    fn write_config(&mut self) -> Result<(), Error> {
        self.config
            .set(0, self.config_val, 0)
            .map_err(|e| map_error("config", &e))
    }

    /// Notes how many sources `bans` holds; the program looks bans up only while any is.
    fn bans_now(&mut self, banned: usize) -> Result<(), Error> {
        self.banned = banned;
        let flag = u16::from(banned > 0);
        if flag == self.config_val.bans {
            return Ok(());
        }
        self.config_val.bans = flag;
        // Before `configure` the program passes everything: the flag waits for it.
        if self.config_val.listen_ports == [0; MAX_LISTEN_PORTS] {
            return Ok(());
        }
        self.write_config()
    }

    /// Attaches the program to `interface` in `mode`; it stays attached until this value
    /// is dropped.
    ///
    /// # Errors
    /// [`Error::NoInterface`], [`Error::Permission`], or [`Error::Attach`] when the
    /// interface refuses that mode (no native XDP in its driver, another program attached).
    pub fn attach(&mut self, interface: &str, mode: Mode) -> Result<(), Error> {
        attach(&mut self.ebpf, "turn_xdp", interface, mode)
    }

    /// Attaches the loaded program's `xdp_pass` (passes every frame) to `interface`: native
    /// XDP on one end of a veth pair delivers what it transmits only when the other end has
    /// an XDP program too. It stays attached until this value is dropped.
    ///
    /// # Errors
    /// As [`attach`](FastPath::attach).
    pub fn attach_pass(&mut self, interface: &str, mode: Mode) -> Result<(), Error> {
        attach(&mut self.ebpf, "xdp_pass", interface, mode)
    }

    /// Installs (or renews) `channel`, forwarded in the kernel until `until`. A renewal
    /// keeps the channel's record of what it relayed.
    ///
    /// # Errors
    /// [`Error::Map`] when the kernel refuses (the map holds [`MAX_CHANNELS`]).
    pub fn channel_up(&mut self, channel: &Channel, until: Instant) -> Result<(), Error> {
        let until_ns = self.clock.ns(until);
        let (ckey, _, pkey, _) = records(channel, 0, 0);
        if let Some(live) = self.live.get(&ckey).copied() {
            if live.peer != pkey {
                // Rebound to another peer (not allowed by RFC 8656 §12, refused by the
                // core): start over.
                self.channel_down(channel);
            }
        }
        let (slot, fresh) = match self.live.get(&ckey) {
            Some(live) => (live.slot, false),
            None => {
                let slot = self.free.pop_front().ok_or_else(|| Error::Map {
                    map: "channels",
                    reason: format!("full ({MAX_CHANNELS} channels)"),
                })?;
                if let Err(e) = self.clear_slot(slot) {
                    self.free.push_front(slot);
                    return Err(e);
                }
                (slot, true)
            }
        };
        let (ckey, cval, pkey, pval) = records(channel, until_ns, slot);
        let inserted = self
            .peers
            .insert(pkey, pval, 0)
            .map_err(|e| map_error("peers", &e))
            .and_then(|()| {
                self.channels.insert(ckey, cval, 0).map_err(|e| {
                    let _ = self.peers.remove(&pkey);
                    map_error("channels", &e)
                })
            });
        match inserted {
            Ok(()) => {
                if fresh {
                    self.live.insert(ckey, Live { slot, peer: pkey });
                }
                Ok(())
            }
            Err(e) => {
                // A failed renewal leaves the old entries, which end on their own.
                if fresh {
                    self.free.push_front(slot);
                }
                Err(e)
            }
        }
    }

    /// Zeroes a slot's stats (on every CPU) and hops before a channel takes it.
    fn clear_slot(&mut self, slot: u32) -> Result<(), Error> {
        let cpus = aya::util::nr_cpus().map_err(|(_, e)| map_error("stats", &e))?;
        let zeros = PerCpuValues::try_from(vec![ChannelStats::default(); cpus])
            .map_err(|e| map_error("stats", &e))?;
        self.stats
            .set(slot, zeros, 0)
            .map_err(|e| map_error("stats", &e))?;
        self.hops
            .set(slot, Hops::default(), 0)
            .map_err(|e| map_error("hops", &e))
    }

    /// Removes `channel`: its next datagram goes to userspace. Returns what the kernel
    /// relayed for it (also kept for [`close_client`](FastPath::close_client)). Removing
    /// one that is not there does nothing and returns nothing.
    pub fn channel_down(&mut self, channel: &Channel) -> Tally {
        let (ckey, _, _, _) = records(channel, 0, 0);
        self.remove(&ckey)
    }

    fn remove(&mut self, ckey: &ChannelKey) -> Tally {
        let Some(live) = self.live.remove(ckey) else {
            return Tally::default();
        };
        let _ = self.channels.remove(ckey);
        // The peer binding is the channel's own: a peer is bound to one channel of one
        // allocation (RFC 8656 §12), and a relay address to one allocation.
        if self
            .peers
            .get(&live.peer, 0)
            .is_ok_and(|v| v.slot == live.slot)
        {
            let _ = self.peers.remove(&live.peer);
        }
        // Read after the removal: no new program run finds the channel any more.
        let tally = self.tally_of(live.slot);
        self.free.push_back(live.slot);
        let client = (
            ckey.client_ip,
            ckey.client_port,
            ckey.server_ip,
            ckey.server_port,
        );
        let kept = self.retired.entry(client).or_default();
        *kept = kept.plus(&tally);
        tally
    }

    /// What the program relayed for the channel in `slot` (nothing if the read fails,
    /// which is logged).
    fn tally_of(&self, slot: u32) -> Tally {
        match self.stats.get(&slot, 0) {
            Ok(values) => values.iter().fold(Tally::default(), |t, s| Tally {
                to_peer_packets: t.to_peer_packets + s.to_peer_packets,
                to_peer_bytes: t.to_peer_bytes + s.to_peer_bytes,
                to_client_packets: t.to_client_packets + s.to_client_packets,
                to_client_bytes: t.to_client_bytes + s.to_client_bytes,
            }),
            Err(e) => {
                tracing::warn!("XDP map stats: {}", chain(&e));
                Tally::default()
            }
        }
    }

    /// The client `client` talking to `server` is gone (its allocation closed): removes its
    /// channels and returns what the kernel relayed for it over all its channels, those
    /// removed before included, and forgets it.
    pub fn close_client(&mut self, client: SocketAddrV4, server: SocketAddrV4) -> Tally {
        let (client_ip, client_port) = endpoint(client);
        let (server_ip, server_port) = endpoint(server);
        let first = ChannelKey {
            client_ip,
            server_ip,
            client_port,
            server_port,
            number: 0,
            pad: 0,
        };
        let last = ChannelKey {
            number: u16::MAX,
            pad: u16::MAX,
            ..first
        };
        let keys: Vec<ChannelKey> = self.live.range(first..=last).map(|(k, _)| *k).collect();
        for key in keys {
            self.remove(&key);
        }
        self.retired
            .remove(&(client_ip, client_port, server_ip, server_port))
            .unwrap_or_default()
    }

    /// Drops `source`'s datagrams until `until` (one ban added to those of
    /// [`set_bans`](FastPath::set_bans)).
    ///
    /// # Errors
    /// [`Error::Map`] when the kernel refuses the update.
    pub fn ban(&mut self, source: Ipv4Addr, until: Instant) -> Result<(), Error> {
        let until_ns = self.clock.ns(until);
        let key = maps::ip(source);
        let fresh = self.bans.get(&key, 0).is_err();
        self.bans
            .insert(key, BanVal { until_ns }, 0)
            .map_err(|e| map_error("bans", &e))?;
        self.bans_now(self.banned + usize::from(fresh))
    }

    /// Replaces the sources the per-source rate never applies to with `nets` (IPv4
    /// networks: address and prefix length, at most 32), as the guard's allow-list.
    ///
    /// # Errors
    /// [`Error::Setting`] for a prefix over 32, [`Error::Map`] when the kernel refuses an
    /// update.
    pub fn set_exempt(
        &mut self,
        nets: impl IntoIterator<Item = (Ipv4Addr, u8)>,
    ) -> Result<(), Error> {
        let mut wanted = Vec::new();
        for (addr, prefix) in nets {
            if prefix > 32 {
                return Err(Error::Setting {
                    field: "exempt",
                    reason: format!("{addr}/{prefix}: prefix over 32"),
                });
            }
            wanted.push((u32::from(prefix), maps::ip(addr)));
        }
        if wanted == self.exempt_keys {
            return Ok(());
        }
        for (prefix, addr) in self.exempt_keys.drain(..) {
            let _ = self.exempt.remove(&Key::new(prefix, addr));
        }
        for &(prefix, addr) in &wanted {
            self.exempt
                .insert(&Key::new(prefix, addr), 1, 0)
                .map_err(|e| map_error("exempt", &e))?;
        }
        self.exempt_keys = wanted;
        Ok(())
    }

    /// Channels installed now.
    pub fn channels(&self) -> usize {
        self.live.len()
    }

    /// Replaces the banned sources with `bans` (IPv4 source, end of the ban); IPv6 bans are
    /// the caller's to skip (the program passes IPv6).
    ///
    /// # Errors
    /// [`Error::Map`] when the kernel refuses an update.
    pub fn set_bans(
        &mut self,
        bans: impl IntoIterator<Item = (Ipv4Addr, Instant)>,
    ) -> Result<(), Error> {
        let wanted: std::collections::HashMap<u32, u64> = bans
            .into_iter()
            .map(|(ip, until)| (maps::ip(ip), self.clock.ns(until)))
            .collect();
        let stale: Vec<u32> = self
            .bans
            .keys()
            .filter_map(Result::ok)
            .filter(|k| !wanted.contains_key(k))
            .collect();
        for key in stale {
            let _ = self.bans.remove(&key);
        }
        let count = wanted.len();
        // The flag goes up before the entries go in and down after they went.
        if count > 0 {
            self.bans_now(count)?;
        }
        for (key, until_ns) in wanted {
            self.bans
                .insert(key, BanVal { until_ns }, 0)
                .map_err(|e| map_error("bans", &e))?;
        }
        self.bans_now(count)
    }

    /// The program's counters, summed over the CPUs.
    ///
    /// # Errors
    /// [`Error::Map`] when the kernel refuses the read.
    pub fn counters(&self) -> Result<Counters, Error> {
        let values = self
            .counters
            .get(&0, 0)
            .map_err(|e| map_error("counters", &e))?;
        let mut sums = [0u64; 8];
        for cpu in values.iter() {
            for (sum, c) in sums.iter_mut().zip(cpu.counters) {
                *sum += c;
            }
        }
        let [to_peers, to_peers_bytes, to_clients, to_clients_bytes, banned, rate_limited, expired, no_route] =
            sums;
        Ok(Counters {
            to_peers,
            to_peers_bytes,
            to_clients,
            to_clients_bytes,
            banned,
            rate_limited,
            expired,
            no_route,
        })
    }

    /// Runs the program once on `frame` (an Ethernet frame) as if it arrived on the
    /// interface with index `ifindex` (BPF_PROG_TEST_RUN: nothing is sent), and returns its
    /// verdict and the frame as it left the program.
    ///
    /// # Errors
    /// [`Error::Load`] when the kernel refuses the run.
    pub fn test_run(&self, frame: &[u8], ifindex: u32) -> Result<(Verdict, Vec<u8>), Error> {
        let prog: &Xdp = self
            .ebpf
            .program("turn_xdp")
            .ok_or_else(|| Error::Load("the object has no program turn_xdp".to_owned()))?
            .try_into()
            .map_err(|e: aya::programs::ProgramError| Error::Load(e.to_string()))?;
        // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index,
        // egress_ifindex (u32 each): the frame from 0 to its length, the ingress interface.
        let mut ctx = [0u8; 24];
        ctx[4..8].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
        ctx[12..16].copy_from_slice(&ifindex.to_ne_bytes());
        let mut out = vec![0u8; frame.len() + 256];
        let mut opts = TestRunOptions::new();
        opts.data_in = Some(frame);
        opts.data_out = Some(&mut out);
        opts.ctx_in = Some(&ctx);
        let result = prog
            .test_run(opts)
            .map_err(|e| Error::Load(e.to_string()))?;
        out.truncate(result.data_size_out as usize);
        let verdict = match result.return_value {
            1 => Verdict::Drop,
            2 => Verdict::Pass,
            3 => Verdict::Tx,
            other => Verdict::Other(other),
        };
        Ok((verdict, out))
    }
}

/// The MTU of `interface` (in the calling thread's network namespace).
///
/// # Errors
/// [`Error::NoInterface`] when there is no such interface.
pub fn interface_mtu(interface: &str) -> Result<u16, Error> {
    let none = || Error::NoInterface(interface.to_owned());
    let name = interface.as_bytes();
    // SAFETY: ifreq is plain old data: all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.is_empty() || name.len() >= req.ifr_name.len() || name.contains(&0) {
        return Err(none());
    }
    for (dst, &src) in req.ifr_name.iter_mut().zip(name) {
        *dst = src as libc::c_char;
    }
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").map_err(|_| none())?;
    use std::os::fd::AsRawFd;
    // SAFETY: SIOCGIFMTU reads ifr_name and writes ifr_ifru.ifru_mtu of `req`, a valid,
    // writable ifreq that outlives the call; the socket is open for the whole call.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFMTU, &mut req) };
    if rc != 0 {
        return Err(none());
    }
    // SAFETY: a successful SIOCGIFMTU wrote the union's int member.
    let mtu = unsafe { req.ifr_ifru.ifru_mtu };
    Ok(u16::try_from(mtu).unwrap_or(u16::MAX))
}

/// The four map records of a channel whose stats and hops are at `slot`.
fn records(c: &Channel, until_ns: u64, slot: u32) -> (ChannelKey, ChannelVal, PeerKey, PeerVal) {
    let (client_ip, client_port) = endpoint(c.client);
    let (server_ip, server_port) = endpoint(c.server);
    let (relay_ip, relay_port) = endpoint(c.relay);
    let (peer_ip, peer_port) = endpoint(c.peer);
    let number = maps::port(c.number);
    (
        ChannelKey {
            client_ip,
            server_ip,
            client_port,
            server_port,
            number,
            pad: 0,
        },
        ChannelVal {
            relay_ip,
            peer_ip,
            relay_port,
            peer_port,
            slot,
            until_ns,
        },
        PeerKey {
            peer_ip,
            relay_ip,
            peer_port,
            relay_port,
        },
        PeerVal {
            client_ip,
            server_ip,
            client_port,
            server_port,
            number,
            pad: 0,
            slot,
            pad2: 0,
            until_ns,
        },
    )
}

fn program<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut Xdp, Error> {
    ebpf.program_mut(name)
        .ok_or_else(|| Error::Load(format!("the object has no program {name}")))?
        .try_into()
        .map_err(|e: aya::programs::ProgramError| Error::Load(e.to_string()))
}

fn attach(ebpf: &mut Ebpf, name: &str, interface: &str, mode: Mode) -> Result<(), Error> {
    let c_name =
        std::ffi::CString::new(interface).map_err(|_| Error::NoInterface(interface.to_owned()))?;
    // SAFETY: `c_name` is a valid NUL-terminated string that outlives the call, which only
    // reads it.
    if unsafe { libc::if_nametoindex(c_name.as_ptr()) } == 0 {
        return Err(Error::NoInterface(interface.to_owned()));
    }
    program(ebpf, name)?
        .attach(interface, mode.flags())
        .map_err(|e| {
            classify(&e, |reason| Error::Attach {
                interface: interface.to_owned(),
                mode,
                reason,
            })
        })?;
    tracing::info!(interface, ?mode, program = name, "XDP program attached");
    Ok(())
}

fn take<T>(
    ebpf: &mut Ebpf,
    name: &'static str,
    convert: impl FnOnce(aya::maps::Map) -> Result<T, aya::maps::MapError>,
) -> Result<T, Error> {
    let map = ebpf.take_map(name).ok_or_else(|| Error::Map {
        map: name,
        reason: "not in the object".to_owned(),
    })?;
    convert(map).map_err(|e| map_error(name, &e))
}

fn map_error(map: &'static str, e: &dyn std::error::Error) -> Error {
    Error::Map {
        map,
        reason: chain(e),
    }
}

/// [`Error::Permission`] when an EPERM or EACCES is anywhere in `e`'s chain, else `other`.
fn classify(e: &(dyn std::error::Error + 'static), other: impl FnOnce(String) -> Error) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(io.raw_os_error(), Some(libc::EPERM | libc::EACCES)) {
                // The first line: the verifier's log that follows is for developers.
                let full = chain(e);
                let first = full.lines().next().unwrap_or_default().to_owned();
                return Error::Permission(first);
            }
        }
        source = err.source();
    }
    other(chain(e))
}

/// `e` and its sources, joined.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(err) = source {
        s.push_str(": ");
        s.push_str(&err.to_string());
        source = err.source();
    }
    s
}

/// Converts `Instant`s into the program's clock (CLOCK_MONOTONIC nanoseconds, which
/// `bpf_ktime_get_ns` reads and `Instant` is built on).
#[derive(Debug, Clone, Copy)]
struct Clock {
    at: Instant,
    ns: u64,
}

impl Clock {
    fn now() -> Clock {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let at = Instant::now();
        let ns = u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000
            + u64::try_from(ts.tv_nsec).unwrap_or(0);
        Clock { at, ns }
    }

    fn ns(&self, t: Instant) -> u64 {
        match t.checked_duration_since(self.at) {
            Some(d) => self.ns.saturating_add(nanos(d)),
            None => self.ns.saturating_sub(nanos(self.at - t)),
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
