//! Never a router: media-edge sits on two networks (the public side toward browsers, the
//! enterprise side toward the RTP peers) and media crosses between them only as payloads
//! re-sent by its own sockets. The host's kernel must not forward IP between the two sides.
//!
//! This module knows the two sides of a configuration ([`Sides`]), the `[security]` section
//! ([`Security`]) and the start-up check of the forwarding sysctls ([`check`]). The
//! nftables forward chain that drops traffic between the sides is written by
//! `firewall.rs`. It does not change a sysctl or load a rule itself: both belong to the
//! host (or the container runtime), and media-edge runs without the privileges to do so.

use std::net::IpAddr;
use std::path::Path;

use anyhow::bail;
use serde::Deserialize;

use crate::config::Config;

/// The forwarding sysctls: their names and their files under `/proc`.
pub const SYSCTLS: [(&str, &str); 2] = [
    ("net.ipv4.ip_forward", "proc/sys/net/ipv4/ip_forward"),
    (
        "net.ipv6.conf.all.forwarding",
        "proc/sys/net/ipv6/conf/all/forwarding",
    ),
];

/// Longest Linux interface name (`IFNAMSIZ` less the terminating NUL).
const MAX_INTERFACE_NAME: usize = 15;

/// `[security]`: what media-edge asks of the host around it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Security {
    /// Refuse to start when the host forwards IP (`net.ipv4.ip_forward` or
    /// `net.ipv6.conf.all.forwarding` not 0) while both sides are configured; when false
    /// (the default) media-edge starts and warns naming the sysctl.
    #[serde(default)]
    pub refuse_ip_forwarding: bool,
    /// The network interfaces of the public side. With `enterprise-interfaces`, the
    /// firewall's forward chain drops only traffic between these and those; without, it
    /// drops every forwarded packet.
    #[serde(default)]
    pub public_interfaces: Vec<String>,
    /// The network interfaces of the enterprise side (see `public-interfaces`).
    #[serde(default)]
    pub enterprise_interfaces: Vec<String>,
}

impl Security {
    /// Checks the interface lists: both or neither, names Linux accepts and nftables can
    /// quote, no interface on both sides.
    pub fn validate(&self) -> anyhow::Result<()> {
        let lists = [
            ("security.public-interfaces", &self.public_interfaces),
            (
                "security.enterprise-interfaces",
                &self.enterprise_interfaces,
            ),
        ];
        for (key, names) in lists {
            for name in names.iter() {
                let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.@:+".contains(c);
                if name.is_empty() || name.len() > MAX_INTERFACE_NAME || !name.chars().all(allowed)
                {
                    bail!(
                        "{key}: {name:?} is not an interface name (1-{MAX_INTERFACE_NAME} \
                         characters: letters, digits, - _ . @ : +)"
                    );
                }
            }
        }
        if self.public_interfaces.is_empty() != self.enterprise_interfaces.is_empty() {
            bail!(
                "security.public-interfaces: give both public-interfaces and \
                 enterprise-interfaces, or neither"
            );
        }
        if let Some(both) = self
            .public_interfaces
            .iter()
            .find(|n| self.enterprise_interfaces.contains(n))
        {
            bail!(
                "security.enterprise-interfaces: {both:?} is also in public-interfaces: an \
                 interface belongs to one side"
            );
        }
        Ok(())
    }
}

/// The addresses of each side of a configuration, as configured (wildcards included,
/// loopback left out: loopback traffic is never forwarded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sides {
    /// TURN listeners, the API, the forwarder's public address.
    pub public: Vec<IpAddr>,
    /// The TURN relay address, the forwarder's transport-address and named connections.
    pub enterprise: Vec<IpAddr>,
}

impl Sides {
    /// The sides of `config`.
    pub fn of(config: &Config) -> Sides {
        let turn = &config.turn;
        let mut public: Vec<IpAddr> = turn
            .listen_udp
            .iter()
            .chain(&turn.listen_tcp)
            .chain(turn.listen_tls.iter().map(|t| &t.address))
            .map(|a| a.ip())
            .chain(config.api.iter().map(|a| a.listen.ip()))
            .collect();
        let mut enterprise = vec![turn.relay.address];
        if let Some(forward) = &config.forward {
            public.push(forward.public.address);
            let e = &forward.enterprise;
            enterprise.push(e.transport_address);
            enterprise.extend(e.connections.values().map(|c| c.address()));
        }
        let tidy = |mut v: Vec<IpAddr>| {
            v.retain(|a| !a.to_canonical().is_loopback());
            let mut seen = Vec::with_capacity(v.len());
            v.retain(|a| {
                let new = !seen.contains(a);
                seen.push(*a);
                new
            });
            v
        };
        Sides {
            public: tidy(public),
            enterprise: tidy(enterprise),
        }
    }

    /// Whether there are two sides: a non-loopback public address and a different
    /// non-loopback enterprise address. A single-address host (everything on one NIC) or a
    /// loopback test has one side and nothing to route between.
    pub fn both(&self) -> bool {
        self.public
            .iter()
            .any(|p| self.enterprise.iter().any(|e| e != p))
    }
}

/// `addresses` as a comma-separated list, for messages and ruleset comments.
pub fn joined(addresses: &[IpAddr]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The names of the forwarding sysctls that are on, read under `root` (`/` on a real host):
/// a file that cannot be read (no IPv6 in the kernel) counts as off.
pub fn enabled(root: &Path) -> Vec<&'static str> {
    SYSCTLS
        .iter()
        .filter(|(_, file)| {
            std::fs::read_to_string(root.join(file))
                .is_ok_and(|v| v.trim().parse::<u64>().is_ok_and(|v| v != 0))
        })
        .map(|(name, _)| *name)
        .collect()
}

/// The start-up finding for `config` on the host whose `/proc` is under `root`: `None` when
/// the host does not forward or the configuration has one side, else a message naming each
/// sysctl that is on and the two sides it would route between.
pub fn check(config: &Config, root: &Path) -> Option<String> {
    let sides = Sides::of(config);
    if !sides.both() {
        return None;
    }
    let on = enabled(root);
    if on.is_empty() {
        return None;
    }
    let settings = on
        .iter()
        .map(|name| format!("{name} = 1"))
        .collect::<Vec<_>>()
        .join(" and ");
    Some(format!(
        "{settings}: this host routes IP between its networks, so it can forward packets \
         between media-edge's public side ({}) and its enterprise side ({}); set {} to 0 \
         (sysctl -w), or load the forward chain of `media-edge firewall-rules`",
        joined(&sides.public),
        joined(&sides.enterprise),
        on.join(" and "),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cli_pins::Pins;

    fn config(extra: &str, public: &str, enterprise: &str) -> Config {
        let text = format!(
            "[turn]\nlisten-udp = [\"{public}:3478\"]\n\
             [[turn.auth.users]]\nname = \"u\"\npassword = \"p\"\n\
             [turn.relay]\naddress = \"{enterprise}\"\n{extra}"
        );
        Config::parse(&text, "test", &Pins::default()).unwrap()
    }

    /// A fake `/proc`, removed on drop.
    struct ProcRoot(std::path::PathBuf);

    impl std::ops::Deref for ProcRoot {
        type Target = Path;

        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for ProcRoot {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A fake `/proc` with the two sysctls set as given.
    fn proc_root(name: &str, v4: &str, v6: Option<&str>) -> ProcRoot {
        let root = std::env::temp_dir().join(format!("forwarding-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for ((_, file), value) in SYSCTLS.iter().zip([Some(v4), v6]) {
            if let Some(value) = value {
                let path = root.join(file);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, format!("{value}\n")).unwrap();
            }
        }
        ProcRoot(root)
    }

    #[test]
    fn forwarding_between_two_sides_is_named() {
        let two = config("", "203.0.113.10", "10.20.0.5");
        let root = proc_root("v4", "1", Some("0"));
        let message = check(&two, &root).unwrap();
        assert!(
            message.starts_with("net.ipv4.ip_forward = 1: "),
            "{message}"
        );
        assert!(message.contains("public side (203.0.113.10)"), "{message}");
        assert!(message.contains("enterprise side (10.20.0.5)"), "{message}");
        assert!(!message.contains("ipv6"), "{message}");

        let root = proc_root("both", "1", Some("1"));
        let message = check(&two, &root).unwrap();
        assert!(
            message.starts_with("net.ipv4.ip_forward = 1 and net.ipv6.conf.all.forwarding = 1"),
            "{message}"
        );

        // Off, or no IPv6 in the kernel: nothing to say.
        assert_eq!(check(&two, &proc_root("off", "0", None)), None);
    }

    #[test]
    fn one_side_has_nothing_to_route() {
        let root = proc_root("one", "1", Some("1"));
        assert_eq!(check(&config("", "127.0.0.1", "127.0.0.1"), &root), None);
        assert_eq!(check(&config("", "10.20.0.5", "10.20.0.5"), &root), None);
        // A wildcard listener with a relay address of its own is two sides.
        let wild = config(
            "external-address = \"203.0.113.10\"\n",
            "0.0.0.0",
            "10.0.0.1",
        );
        assert!(Sides::of(&wild).both());
        assert!(check(&wild, &root).is_some());
    }

    #[test]
    fn interface_lists_are_checked() {
        let base = "[turn]\nlisten-udp = [\"127.0.0.1:3478\"]\n[turn.relay]\n\
                    address = \"127.0.0.1\"\n[security]\n";
        let refused = |extra: &str| {
            let text = format!("{base}{extra}");
            format!(
                "{:#}",
                Config::parse(&text, "t", &Pins::default()).unwrap_err()
            )
        };
        assert!(refused("public-interfaces = [\"eth0\"]\n")
            .contains("give both public-interfaces and enterprise-interfaces"));
        assert!(
            refused("public-interfaces = [\"eth0\"]\nenterprise-interfaces = [\"eth0\"]\n")
                .contains("\"eth0\" is also in public-interfaces")
        );
        assert!(refused(
            "public-interfaces = [\"eth0\\\" accept\"]\nenterprise-interfaces = [\"eth1\"]\n"
        )
        .contains("is not an interface name"));
        let text = format!(
            "{base}refuse-ip-forwarding = true\npublic-interfaces = [\"eth0\"]\n\
             enterprise-interfaces = [\"eth1\", \"bond0.20\"]\n"
        );
        let config = Config::parse(&text, "t", &Pins::default()).unwrap();
        assert!(config.security.refuse_ip_forwarding);
    }
}
