//! Start-up checks against the host, run before anything serves: every pinned address is an
//! address of this host and every pinned port is free, each found out by a test bind. The
//! test sockets close before the services bind theirs.
//!
//! A check can only say how the host is now: a port freed here can still be taken before the
//! forwarder binds it (the forwarder then fails naming the port), and with
//! `net.ipv4.ip_nonlocal_bind = 1` the kernel lets any address bind, so a foreign one passes.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};

use crate::config::Config;

/// Every problem found, one message each naming the configuration key; empty when the host
/// can run `config`.
pub fn problems(config: &Config) -> Vec<String> {
    let mut found = Vec::new();
    let turn_relay = config.turn.relay.address;
    if !turn_relay.is_unspecified() {
        local(&mut found, "turn.relay.address", turn_relay);
    }
    if let Some(forward) = &config.forward {
        let public = forward.public.address;
        if !public.is_unspecified() {
            local(&mut found, "forward.public.address", public);
        }
        let enterprise = &forward.enterprise;
        let key = "forward.enterprise.transport-address";
        if local(&mut found, key, enterprise.transport_address) {
            if let Some(port) = enterprise.transport_port {
                free(
                    &mut found,
                    "forward.enterprise.transport-port",
                    SocketAddr::new(enterprise.transport_address, port),
                );
            }
        }
        for (name, pinned) in &enterprise.connections {
            let key = format!("forward.enterprise.connections.{name}");
            if local(&mut found, &key, pinned.address()) {
                free(&mut found, &key, pinned.socket_addr());
            }
        }
    }
    found
}

/// Whether `ip` is an address of this host; records the problem when it is not.
fn local(found: &mut Vec<String>, key: &str, ip: IpAddr) -> bool {
    match UdpSocket::bind(SocketAddr::new(ip, 0)) {
        Ok(_) => true,
        Err(e) if e.kind() == io::ErrorKind::AddrNotAvailable => {
            found.push(format!("{key}: {ip} is not an address of this host ({e})"));
            false
        }
        Err(e) => {
            found.push(format!("{key}: cannot bind a UDP socket on {ip}: {e}"));
            false
        }
    }
}

/// Records a problem unless the pinned RTP port at `addr` and the next port (RTCP, for a
/// session without rtcp-mux) are both free for UDP.
fn free(found: &mut Vec<String>, key: &str, addr: SocketAddr) {
    let Some(_rtp) = bind(found, key, addr, "") else {
        return;
    };
    if let Some(next) = addr.port().checked_add(1) {
        let rtcp = SocketAddr::new(addr.ip(), next);
        bind(found, key, rtcp, " (the next port, RTCP without rtcp-mux)");
    }
}

/// A test bind of `addr`; records the problem when it fails.
fn bind(found: &mut Vec<String>, key: &str, addr: SocketAddr, what: &str) -> Option<UdpSocket> {
    let (ip, port) = (addr.ip(), addr.port());
    match UdpSocket::bind(addr) {
        Ok(socket) => Some(socket),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            found.push(format!(
                "{key}: address {ip} port {port}{what} is busy: another socket holds it ({e})"
            ));
            None
        }
        Err(e) => {
            found.push(format!(
                "{key}: cannot bind address {ip} port {port}{what}: {e}"
            ));
            None
        }
    }
}
