//! The XDP fast path's side of the driver ([`ServiceConfig::xdp`]): loads and attaches the
//! edge-xdp program, keeps its maps in step with the cores' state (the events of
//! [`Server::track_kernel_state`](crate::Server::track_kernel_state), applied by each loop as
//! it drains its events, in the same iteration that changed the state) and with the guard's
//! bans, reads its counters for [`Snapshot`](super::Snapshot), and adds what it relayed
//! for an allocation to the allocation's usage when it closes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use edge_guard::Guard;
use edge_xdp::{Channel, Counters, FastPath, Settings};

use super::{LocalAddrs, ServiceConfig, XdpConfig};
use crate::{Error, Event, FiveTuple, Usage};

/// The guard's IPv4 allow-list, as the program's rate exemptions.
fn exempt(guard: &Guard) -> Vec<(Ipv4Addr, u8)> {
    guard
        .config()
        .allow
        .iter()
        .filter_map(|net| match net {
            ipnet::IpNet::V4(v4) => Some((v4.network(), v4.prefix_len())),
            ipnet::IpNet::V6(_) => None,
        })
        .collect()
}

/// The loaded program, shared by the service's loops (map updates come from requests and
/// timers, never per packet, so one short mutex is enough).
#[derive(Debug)]
pub(crate) struct Kernel {
    path: Mutex<FastPath>,
    relay_ip: Ipv4Addr,
    /// A bandwidth cap is configured: channels stay in userspace, which enforces it.
    capped: bool,
}

impl Kernel {
    /// Checks that the service can be fronted by the program and loads it (not attached).
    pub(crate) fn load(config: &ServiceConfig, xdp: &XdpConfig) -> Result<Kernel, Error> {
        let bad = |reason: String| Error::Config {
            field: "xdp",
            reason,
        };
        if xdp.interface.is_empty() {
            return Err(bad("no interface named".to_owned()));
        }
        let relay_ip = match config.server.relay_address {
            IpAddr::V4(ip) if !ip.is_unspecified() => ip,
            other => {
                return Err(bad(format!(
                "the fast path relays for an IPv4 relay address bound to one address, not {other}"
            )))
            }
        };
        if let Some(addr) = config
            .udp
            .iter()
            .find(|a| !a.is_ipv4() || a.ip().is_unspecified())
        {
            return Err(bad(format!(
                "the fast path fronts UDP listeners on one IPv4 address each, not {addr}"
            )));
        }
        if config.udp.is_empty() {
            return Err(bad("the fast path needs a UDP listener".to_owned()));
        }
        let path = FastPath::load()?;
        Ok(Kernel {
            path: Mutex::new(path),
            relay_ip,
            capped: config.server.bandwidth.is_some(),
        })
    }

    /// Tells the program the bound listener ports and attaches it.
    pub(crate) fn attach(
        &self,
        config: &ServiceConfig,
        xdp: &XdpConfig,
        addrs: &LocalAddrs,
    ) -> Result<(), Error> {
        let mut listen_ports: Vec<u16> = addrs.udp.iter().map(SocketAddr::port).collect();
        listen_ports.sort_unstable();
        listen_ports.dedup();
        let settings = Settings {
            listen_ports,
            relay_ports: config.server.port_range.ports(),
            source_pps: xdp.source_pps,
            source_burst: xdp.source_burst,
            mtu: edge_xdp::interface_mtu(&xdp.interface)?,
        };
        let mut path = self.lock();
        path.configure(&settings)?;
        if let Some(guard) = &config.server.guard {
            path.set_exempt(exempt(guard))?;
        }
        path.attach(&xdp.interface, xdp.mode)?;
        Ok(())
    }

    /// Applies a core's event to the maps (other events are not the program's).
    pub(crate) fn apply(&self, event: &Event) {
        let result = match *event {
            Event::ChannelUp {
                tuple,
                relay_port,
                number,
                peer,
                until,
            } if !self.capped => match self.channel(&tuple, relay_port, number, peer) {
                Some(channel) => self.lock().channel_up(&channel, until),
                None => Ok(()),
            },
            Event::ChannelDown {
                tuple,
                relay_port,
                number,
                peer,
            } => {
                // What it relayed stays in the program's record of the client until the
                // allocation closes (`close_allocation`).
                if let Some(channel) = self.channel(&tuple, relay_port, number, peer) {
                    self.lock().channel_down(&channel);
                }
                Ok(())
            }
            Event::SourceBanned { source, until } => match source.addr() {
                IpAddr::V4(ip) if source.prefix_len() == 32 => self.lock().ban(ip, until),
                _ => Ok(()),
            },
            _ => Ok(()),
        };
        if let Err(e) = result {
            // The channel stays in userspace (the program passes what it does not know).
            tracing::warn!("XDP fast path: {e}");
        }
    }

    /// An allocation closed: its channels leave the maps now (the core's
    /// [`Event::ChannelDown`]s for them, which follow, find nothing), and what the program
    /// relayed for it over its life, on every channel it had, is added to `usage`, so its
    /// record counts both paths.
    pub(crate) fn close_allocation(&self, tuple: &FiveTuple, usage: &mut Usage) {
        if tuple.transport.is_stream() {
            return; // the program relays UDP allocations only
        }
        let (SocketAddr::V4(client), SocketAddr::V4(server)) = (tuple.remote, tuple.local) else {
            return;
        };
        let t = self.lock().close_client(client, server);
        usage.to_peer_packets += t.to_peer_packets;
        usage.to_peer_bytes += t.to_peer_bytes;
        usage.to_client_packets += t.to_client_packets;
        usage.to_client_bytes += t.to_client_bytes;
    }

    /// Makes the program's bans the guard's active IPv4 bans (bans started by other
    /// services sharing the guard, lifted bans) and its rate exemptions the guard's
    /// allow-list (which a reload may change).
    pub(crate) fn sync_guard(&self, guard: &Guard, now: Instant) {
        let bans = guard.bans(now);
        let v4 = bans.iter().filter_map(|ban| match ban.source.addr() {
            IpAddr::V4(ip) if ban.source.prefix_len() == 32 => Some((ip, ban.until)),
            _ => None,
        });
        let mut path = self.lock();
        let result = path
            .set_bans(v4)
            .and_then(|()| path.set_exempt(exempt(guard)));
        if let Err(e) = result {
            tracing::warn!("XDP fast path: {e}");
        }
    }

    /// The program's counters (zero if the kernel refuses the read, which is logged).
    pub(crate) fn counters(&self) -> Counters {
        self.lock().counters().unwrap_or_else(|e| {
            tracing::warn!("XDP fast path: {e}");
            Counters::default()
        })
    }

    /// The program's view of a channel: IPv4 only.
    fn channel(
        &self,
        tuple: &FiveTuple,
        relay_port: u16,
        number: u16,
        peer: SocketAddr,
    ) -> Option<Channel> {
        match (tuple.remote, tuple.local, peer) {
            (SocketAddr::V4(client), SocketAddr::V4(server), SocketAddr::V4(peer)) => {
                Some(Channel {
                    client,
                    server,
                    number,
                    relay: SocketAddrV4::new(self.relay_ip, relay_port),
                    peer,
                })
            }
            _ => None,
        }
    }

    /// The maps stay consistent whatever a panicking thread left behind: each update is one
    /// kernel call, so a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, FastPath> {
        self.path.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
