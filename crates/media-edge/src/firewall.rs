//! `media-edge firewall-rules`: the nftables ruleset matching a configuration, so the
//! firewall and the config never disagree.
//!
//! One table of its own, `table inet media_edge`, loaded with `nft -f` (it replaces only
//! that table). Its input chain accepts what media-edge serves (the API, the TURN listeners,
//! the TURN relay range, the forwarder's public and enterprise ports) and drops everything
//! else addressed to media-edge's own addresses; its output chain lets UDP leave the
//! enterprise addresses (transport-address, named connections) only from the pinned ports;
//! its forward chain, when the configuration has two sides, drops everything the host would
//! route between them (media-edge is never a router: see `ip_forwarding.rs`). Every accept
//! carries the configuration key it comes from as its comment.
//!
//! With `--notrack`, two chains at raw priority (before connection tracking) mark UDP to and
//! from each of media-edge's UDP ports untracked, so the media flows cost no conntrack
//! lookup, entry or table slot (a spoofed flood cannot fill the table through them); the
//! explicit accepts pass them, as they match on ports, not on connection state.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use anyhow::bail;

use crate::config::Config;
use crate::ip_forwarding::{joined, Sides};

/// Which way a rule looks at a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chain {
    /// Traffic to media-edge: matched on destination address and port.
    Input,
    /// Traffic from media-edge: matched on source address and port.
    Output,
}

/// One accept rule: `proto` traffic on `ports` of `address`.
#[derive(Debug, Clone)]
struct Rule {
    chain: Chain,
    address: IpAddr,
    proto: &'static str,
    ports: (u16, u16),
    key: String,
}

/// The ruleset for `config` (read from `origin`), as an `nft -f` script; with `notrack`,
/// UDP to and from media-edge's ports is exempt from connection tracking.
pub fn rules(config: &Config, origin: &str, notrack: bool) -> anyhow::Result<String> {
    let accepts = accepts(config)?;
    let mut own = Vec::new();
    let mut enterprise = Vec::new();
    for rule in &accepts {
        if rule.chain == Chain::Input && dedicated(rule.address) && !own.contains(&rule.address) {
            own.push(rule.address);
        }
    }
    if let Some(forward) = &config.forward {
        let e = &forward.enterprise;
        let pinned = e.connections.values().map(|c| c.address());
        for address in std::iter::once(e.transport_address).chain(pinned) {
            if dedicated(address) && !enterprise.contains(&address) {
                enterprise.push(address);
            }
        }
    }

    let sides = Sides::of(config);
    let mut out = String::new();
    header(&mut out, origin, &own, &enterprise, notrack);
    if sides.both() {
        forward_header(&mut out, &sides, &config.security);
    }
    out.push_str("table inet media_edge\ndelete table inet media_edge\n\n");
    out.push_str("table inet media_edge {\n");
    if notrack {
        notrack_chains(&mut out, &accepts);
    }
    out.push_str("\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n");
    out.push_str("\t\tct state established,related accept\n");
    out.push_str("\t\tmeta l4proto { icmp, ipv6-icmp } accept comment \"ping, path MTU, IPv6 neighbour discovery\"\n");
    for rule in accepts.iter().filter(|r| r.chain == Chain::Input) {
        line(&mut out, rule, "accept");
    }
    drop_rules(
        &mut out,
        "daddr",
        "",
        &own,
        "everything else to media-edge's addresses",
    );
    out.push_str("\t}\n\n");
    out.push_str("\tchain output {\n\t\ttype filter hook output priority filter; policy accept;\n");
    out.push_str("\t\tct state established,related accept\n");
    for rule in accepts.iter().filter(|r| r.chain == Chain::Output) {
        line(&mut out, rule, "accept");
    }
    drop_rules(
        &mut out,
        "saddr",
        " meta l4proto udp",
        &enterprise,
        "UDP from the enterprise addresses only from their pinned ports",
    );
    out.push_str("\t}\n");
    if sides.both() {
        forward_chain(&mut out, &config.security);
    }
    out.push_str("}\n");
    Ok(out)
}

/// The raw-priority chains that exempt UDP to (prerouting) and from (output) each UDP port
/// media-edge serves from connection tracking; each port once, with the key it comes from.
fn notrack_chains(out: &mut String, accepts: &[Rule]) {
    let mut udp: Vec<&Rule> = Vec::new();
    for rule in accepts.iter().filter(|r| r.proto == "udp") {
        if !udp
            .iter()
            .any(|r| (r.address, r.ports) == (rule.address, rule.ports))
        {
            udp.push(rule);
        }
    }
    for (name, hook, chain) in [
        ("notrack_in", "prerouting", Chain::Input),
        ("notrack_out", "output", Chain::Output),
    ] {
        let _ = writeln!(
            out,
            "\tchain {name} {{\n\t\ttype filter hook {hook} priority raw; policy accept;"
        );
        for rule in &udp {
            line(
                out,
                &Rule {
                    chain,
                    ..(*rule).clone()
                },
                "notrack",
            );
        }
        out.push_str("\t}\n\n");
    }
}

/// The forward chain: nothing is routed between the two sides, in either direction.
fn forward_chain(out: &mut String, security: &crate::ip_forwarding::Security) {
    out.push_str(
        "\n\t# media-edge is never a router: media crosses between the public and the \
         enterprise side\n\t# only as payloads re-sent by its own sockets, so everything \
         the host would forward\n\t# between the two sides is dropped, in both directions.\n",
    );
    out.push_str(
        "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n",
    );
    let set = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if security.public_interfaces.is_empty() {
        out.push_str(
            "\t\tdrop comment \"never a router: no forwarding at all (security.public-interfaces \
             and enterprise-interfaces unset)\"\n",
        );
    } else {
        let (public, enterprise) = (
            set(&security.public_interfaces),
            set(&security.enterprise_interfaces),
        );
        let _ = writeln!(
            out,
            "\t\tiifname {{ {public} }} oifname {{ {enterprise} }} drop comment \"never a router: \
             public to enterprise\"\n\t\tiifname {{ {enterprise} }} oifname {{ {public} }} drop \
             comment \"never a router: enterprise to public\""
        );
    }
    out.push_str("\t}\n");
}

/// What the forward chain assumes, for the header.
fn forward_header(out: &mut String, sides: &Sides, security: &crate::ip_forwarding::Security) {
    let _ = writeln!(
        out,
        "# - Never a router: media-edge's public side ({}) and enterprise side ({}) are\n\
         #   joined only by its own sockets. The forward chain drops every packet the host\n\
         #   would route between them; keep net.ipv4.ip_forward and\n\
         #   net.ipv6.conf.all.forwarding at 0 as well (media-edge warns at start when not).",
        joined(&sides.public),
        joined(&sides.enterprise)
    );
    if security.public_interfaces.is_empty() {
        out.push_str(
            "# - No interfaces are named ([security] public-interfaces, enterprise-interfaces):\n\
             #   the forward chain drops every forwarded packet. If this host must route other\n\
             #   traffic (containers, a VPN), name media-edge's interfaces there: then only\n\
             #   traffic between them is dropped.\n",
        );
    } else {
        let _ = writeln!(
            out,
            "# - Public interfaces {}, enterprise interfaces {}: the forward chain drops\n\
             #   what is routed between them and leaves other forwarding alone.",
            security.public_interfaces.join(", "),
            security.enterprise_interfaces.join(", ")
        );
    }
}

/// The accept rules of both chains, in configuration order.
fn accepts(config: &Config) -> anyhow::Result<Vec<Rule>> {
    let mut rules = Vec::new();
    let mut listener = |addr: SocketAddr, proto, key: &str| {
        if addr.port() == 0 {
            bail!("{key}: {addr} has no fixed port, so no firewall rule can open it");
        }
        rules.push(Rule {
            chain: Chain::Input,
            address: addr.ip(),
            proto,
            ports: (addr.port(), addr.port()),
            key: key.to_owned(),
        });
        Ok(())
    };
    if let Some(api) = &config.api {
        listener(api.listen, "tcp", "api.listen")?;
    }
    let turn = &config.turn;
    for &addr in &turn.listen_udp {
        listener(addr, "udp", "turn.listen-udp")?;
    }
    for &addr in &turn.listen_tcp {
        listener(addr, "tcp", "turn.listen-tcp")?;
    }
    for tls in &turn.listen_tls {
        listener(tls.address, "tcp", "turn.listen-tls")?;
    }
    let range = turn.relay.port_range;
    let both = |address, ports, key: &str, rules: &mut Vec<Rule>| {
        for chain in [Chain::Input, Chain::Output] {
            rules.push(Rule {
                chain,
                address,
                proto: "udp",
                ports,
                key: key.to_owned(),
            });
        }
    };
    both(
        turn.relay.address,
        (range.first(), range.last()),
        "turn.relay.port-range",
        &mut rules,
    );
    if let Some(forward) = &config.forward {
        let public = &forward.public;
        rules.push(Rule {
            chain: Chain::Input,
            address: public.address,
            proto: "udp",
            ports: (public.port_range.first(), public.port_range.last()),
            key: "forward.public.port-range".into(),
        });
        let e = &forward.enterprise;
        let (ports, key) = match (e.transport_port, e.port_range) {
            (Some(port), _) => (
                (port, port.saturating_add(1)),
                "forward.enterprise.transport-port",
            ),
            (None, Some(range)) => ((range.first(), range.last()), "forward.enterprise.port-range"),
            (None, None) => bail!("forward.enterprise.port-range: required unless forward.enterprise.transport-port is given"),
        };
        both(e.transport_address, ports, key, &mut rules);
        for (name, pinned) in &e.connections {
            let ports = (pinned.port(), pinned.port().saturating_add(1));
            let key = format!("forward.enterprise.connections.{name}");
            both(pinned.address(), ports, &key, &mut rules);
        }
    }
    Ok(rules)
}

/// Whether the final drop may cover `address`: a specific, non-loopback address, assumed to
/// be media-edge's own. A wildcard would drop the whole host's traffic, loopback other
/// local services'.
fn dedicated(address: IpAddr) -> bool {
    !address.is_unspecified() && !address.is_loopback()
}

fn header(out: &mut String, origin: &str, own: &[IpAddr], enterprise: &[IpAddr], notrack: bool) {
    let _ = writeln!(
        out,
        "#!/usr/sbin/nft -f\n\
         # nftables rules for media-edge, generated by `media-edge firewall-rules` from {origin}.\n\
         # Load with `nft -f <this file>`: it replaces the table inet media_edge and nothing else.\n\
         #\n\
         # Assumptions:"
    );
    if own.is_empty() {
        out.push_str(
            "# - Every address here is loopback or a wildcard (0.0.0.0, ::): the input chain \
             accepts\n#   media-edge's ports and drops nothing.\n",
        );
    } else {
        let _ = writeln!(
            out,
            "# - {} belong(s) to media-edge alone: after the accepts, everything else \
             addressed\n#   to them is dropped. Add accepts of your own (ssh, monitoring) to \
             the input chain\n#   before that drop, or give media-edge addresses of its own. \
             Loopback and wildcard\n#   (0.0.0.0, ::) addresses get accepts but no drop.",
            joined(own)
        );
    }
    if !enterprise.is_empty() {
        let _ = writeln!(
            out,
            "# - The enterprise addresses ({}) send UDP only from media-edge's pinned\n\
             #   ports; other UDP from them is dropped (replies to established flows pass).",
            joined(enterprise)
        );
    }
    out.push_str(
        "# - A packet must pass every table hooked where this one is: an accept here does not\n\
         #   override a drop in another table. With a default-drop policy elsewhere, copy these\n\
         #   accepts into that table too.\n\
         # - A listener on :: also receives IPv4 (net.ipv6.bindv6only = 0, Linux's default).\n",
    );
    if notrack {
        out.push_str(
            "# - --notrack: UDP to and from media-edge's UDP ports is not tracked. On a wildcard\n\
             #   address (0.0.0.0, ::) that holds for the whole host's UDP on those ports: keep\n\
             #   the ranges out of the ephemeral ports (net.ipv4.ip_local_port_range), or the\n\
             #   host's own UDP replies there match no `ct state established` rule of another\n\
             #   table, and no NAT applies to them.\n",
        );
    }
    out.push('\n');
}

/// One rule: `rule`'s address and ports, then `verdict` (`accept`, `notrack`).
fn line(out: &mut String, rule: &Rule, verdict: &str) {
    let (direction, port_dir) = match rule.chain {
        Chain::Input => ("daddr", "dport"),
        Chain::Output => ("saddr", "sport"),
    };
    let address = match rule.address {
        IpAddr::V4(a) if a.is_unspecified() => "meta nfproto ipv4".to_owned(),
        IpAddr::V4(a) => format!("ip {direction} {a}"),
        IpAddr::V6(a) if a.is_unspecified() => String::new(),
        IpAddr::V6(a) => format!("ip6 {direction} {a}"),
    };
    let ports = match rule.ports {
        (first, last) if first == last => first.to_string(),
        (first, last) => format!("{first}-{last}"),
    };
    let space = if address.is_empty() { "" } else { " " };
    let _ = writeln!(
        out,
        "\t\t{address}{space}{} {port_dir} {ports} {verdict} comment \"{}\"",
        rule.proto, rule.key
    );
}

/// `ip <dir> { ... }<extra> drop` lines for the IPv4 and IPv6 addresses in `addresses`.
fn drop_rules(out: &mut String, direction: &str, extra: &str, addresses: &[IpAddr], why: &str) {
    let v4: Vec<String> = addresses
        .iter()
        .filter(|a| a.is_ipv4())
        .map(ToString::to_string)
        .collect();
    let v6: Vec<String> = addresses
        .iter()
        .filter(|a| a.is_ipv6())
        .map(ToString::to_string)
        .collect();
    for (family, list) in [("ip", v4), ("ip6", v6)] {
        if !list.is_empty() {
            let _ = writeln!(
                out,
                "\t\t{family} {direction} {{ {} }}{extra} drop comment \"{why}\"",
                list.join(", ")
            );
        }
    }
}
