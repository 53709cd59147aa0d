//! `media-edge firewall-rules`: the ruleset passes nftables' own check (`nft -c`, Debian
//! package `nftables`), opens exactly the configured ports, and follows the configuration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{accepted, refused, scratch};

/// A deployment-like configuration: public and enterprise addresses of their own (the rules
/// are printed, never loaded, so the addresses need not exist here).
fn config(name: &str, api_port: u16, public: &str, enterprise: &str) -> std::path::PathBuf {
    scratch(
        name,
        &format!(
            "[turn]\nlisten-udp = [\"203.0.113.10:3478\"]\nlisten-tcp = [\"203.0.113.10:3478\"]\n\
             [[turn.listen-tls]]\naddress = \"[2001:db8::10]:5349\"\ncertificate = \"c.pem\"\n\
             private-key = \"k.pem\"\n\
             [turn.relay]\naddress = \"0.0.0.0\"\nexternal-address = \"203.0.113.10\"\n\
             port-range = \"49152-49999\"\n\
             [[turn.auth.users]]\nname = \"alice\"\npassword = \"secret\"\n\
             [forward.public]\naddress = \"203.0.113.10\"\nport-range = \"{public}\"\n\
             [forward.enterprise]\ntransport-address = \"10.20.0.5\"\n{enterprise}\n\
             [forward.enterprise.connections]\npbx-b = \"port=31000;address=10.20.0.6\"\n\
             [api]\nlisten = \"127.0.0.1:{api_port}\"\ntokens = [\"0123456789abcdef0123\"]\n"
        ),
    )
}

/// The ruleset for `path` (plus `args`), checked by `nft -c`.
fn rules(path: &std::path::Path, args: &[&str]) -> String {
    let mut all = vec!["firewall-rules", "--config", path.to_str().unwrap()];
    all.extend(args);
    let ruleset = accepted(&all);
    let file = path.with_extension("nft");
    std::fs::write(&file, &ruleset).unwrap();
    let out = Command::new("nft")
        .arg("-c")
        .arg("-f")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("nft (Debian package nftables) cannot run: {e}"));
    assert!(
        out.status.success(),
        "nft -c refused the ruleset: {}\n{ruleset}",
        String::from_utf8_lossy(&out.stderr)
    );
    ruleset
}

/// Every `<chain> <proto> <dport|sport> <ports>` in the ruleset, as written.
fn openings(ruleset: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in ruleset.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (i, w) in words.iter().enumerate() {
            if *w == "dport" || *w == "sport" {
                let proto = words[i - 1];
                let address = words[..i - 1].join(" ");
                found.insert(format!("{address} {proto} {w} {}", words[i + 1]));
            }
        }
    }
    found
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn the_ruleset_passes_nft_and_opens_exactly_the_configured_ports() {
    let path = config(
        "fw-a.toml",
        8080,
        "40000-40999",
        "port-range = \"30000-30999\"",
    );
    let ruleset = rules(&path, &[]);
    assert!(ruleset.contains("table inet media_edge {"), "{ruleset}");
    assert_eq!(
        openings(&ruleset),
        set(&[
            "ip daddr 127.0.0.1 tcp dport 8080",
            "ip daddr 203.0.113.10 udp dport 3478",
            "ip daddr 203.0.113.10 tcp dport 3478",
            "ip6 daddr 2001:db8::10 tcp dport 5349",
            "meta nfproto ipv4 udp dport 49152-49999",
            "meta nfproto ipv4 udp sport 49152-49999",
            "ip daddr 203.0.113.10 udp dport 40000-40999",
            "ip daddr 10.20.0.5 udp dport 30000-30999",
            "ip saddr 10.20.0.5 udp sport 30000-30999",
            "ip daddr 10.20.0.6 udp dport 31000-31001",
            "ip saddr 10.20.0.6 udp sport 31000-31001",
        ]),
        "{ruleset}"
    );
    // Established flows pass; the rest to media-edge's own addresses is dropped; UDP leaves
    // the enterprise addresses only from the pinned ports. Loopback is never dropped.
    assert_eq!(
        ruleset
            .matches("ct state established,related accept")
            .count(),
        2
    );
    assert!(
        ruleset.contains("ip daddr { 203.0.113.10, 10.20.0.5, 10.20.0.6 } drop"),
        "{ruleset}"
    );
    assert!(
        ruleset.contains("ip6 daddr { 2001:db8::10 } drop"),
        "{ruleset}"
    );
    assert!(
        ruleset.contains("ip saddr { 10.20.0.5, 10.20.0.6 } meta l4proto udp drop"),
        "{ruleset}"
    );
    assert!(!ruleset.contains("127.0.0.1 }"), "{ruleset}");
    // Each rule names the configuration key it comes from.
    for key in [
        "api.listen",
        "turn.listen-udp",
        "turn.listen-tcp",
        "turn.listen-tls",
        "turn.relay.port-range",
        "forward.public.port-range",
        "forward.enterprise.port-range",
        "forward.enterprise.connections.pbx-b",
    ] {
        assert!(ruleset.contains(&format!("comment \"{key}\"")), "{key}");
    }
}

#[test]
fn changing_the_configuration_changes_the_rules() {
    let path = config("fw-b.toml", 8443, "42000-42099", "transport-port = 30010");
    let ruleset = rules(&path, &[]);
    let open = openings(&ruleset);
    for expected in [
        "ip daddr 127.0.0.1 tcp dport 8443",
        "ip daddr 203.0.113.10 udp dport 42000-42099",
        // A pinned port opens its RTCP port too.
        "ip daddr 10.20.0.5 udp dport 30010-30011",
        "ip saddr 10.20.0.5 udp sport 30010-30011",
    ] {
        assert!(open.contains(expected), "{expected} missing:\n{ruleset}");
    }
    for gone in ["8080", "40000-40999", "30000-30999"] {
        assert!(!ruleset.contains(gone), "{gone} still there:\n{ruleset}");
    }
    // The command line's pins are what the rules open.
    let ranged = config(
        "fw-c.toml",
        8080,
        "40000-40999",
        "port-range = \"30000-30999\"",
    );
    let ruleset = rules(
        &ranged,
        &[
            "--transport-port",
            "30100",
            "--connection",
            "pbx-c=port=32000;address=10.20.0.7",
        ],
    );
    let open = openings(&ruleset);
    assert!(
        open.contains("ip daddr 10.20.0.5 udp dport 30100-30101"),
        "{ruleset}"
    );
    assert!(
        open.contains("ip daddr 10.20.0.7 udp dport 32000-32001"),
        "{ruleset}"
    );
    assert!(!ruleset.contains("30000-30999"), "{ruleset}");
}

/// The rules of chain `name` in `ruleset` (empty when there is no such chain).
fn chain(ruleset: &str, name: &str) -> String {
    let Some((_, rest)) = ruleset.split_once(&format!("chain {name} {{")) else {
        return String::new();
    };
    rest.split_once("\n\t}")
        .map_or(rest, |(body, _)| body)
        .to_owned()
}

#[test]
fn notrack_exempts_each_udp_port_from_conntrack_and_changes_no_accept() {
    let path = config(
        "fw-untracked.toml",
        8080,
        "40000-40999",
        "port-range = \"30000-30999\"",
    );
    let plain = rules(&path, &[]);
    assert!(!plain.contains("notrack"), "{plain}");
    let ruleset = rules(&path, &["--notrack"]);
    // Before connection tracking (raw priority), both ways.
    let into = chain(&ruleset, "notrack_in");
    let from = chain(&ruleset, "notrack_out");
    assert!(
        into.contains("type filter hook prerouting priority raw;"),
        "{ruleset}"
    );
    assert!(
        from.contains("type filter hook output priority raw;"),
        "{ruleset}"
    );
    // Every UDP port media-edge serves, once each way; TCP stays tracked.
    assert_eq!(
        openings(&into),
        set(&[
            "ip daddr 203.0.113.10 udp dport 3478",
            "meta nfproto ipv4 udp dport 49152-49999",
            "ip daddr 203.0.113.10 udp dport 40000-40999",
            "ip daddr 10.20.0.5 udp dport 30000-30999",
            "ip daddr 10.20.0.6 udp dport 31000-31001",
        ]),
        "{ruleset}"
    );
    assert_eq!(
        openings(&from),
        set(&[
            "ip saddr 203.0.113.10 udp sport 3478",
            "meta nfproto ipv4 udp sport 49152-49999",
            "ip saddr 203.0.113.10 udp sport 40000-40999",
            "ip saddr 10.20.0.5 udp sport 30000-30999",
            "ip saddr 10.20.0.6 udp sport 31000-31001",
        ]),
        "{ruleset}"
    );
    assert_eq!(
        ruleset.matches(" notrack comment ").count(),
        10,
        "{ruleset}"
    );
    // The filter chains are those of the plain ruleset, and the header says what changes.
    for name in ["input", "output", "forward"] {
        assert_eq!(chain(&ruleset, name), chain(&plain, name), "{name}");
    }
    assert!(ruleset.contains("# - --notrack:"), "{ruleset}");
}

#[test]
fn a_listener_without_a_fixed_port_cannot_be_opened() {
    let path = scratch(
        "fw-zero.toml",
        "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n",
    );
    let stderr = refused(["firewall-rules", "--config", path.to_str().unwrap()]);
    assert!(
        stderr.contains("turn.listen-udp: 127.0.0.1:0 has no fixed port"),
        "{stderr}"
    );
}

#[test]
fn a_two_sided_configuration_gets_a_forward_chain_that_routes_nothing() {
    // No interfaces named: every forwarded packet is dropped.
    let path = config(
        "fw-fwd.toml",
        8080,
        "40000-40999",
        "port-range = \"30000-30999\"",
    );
    let ruleset = rules(&path, &[]);
    let forward = &ruleset[ruleset.find("chain forward {").expect("a forward chain")..];
    assert!(
        forward.contains("type filter hook forward priority filter; policy accept;"),
        "{ruleset}"
    );
    assert!(
        forward.contains("\t\tdrop comment \"never a router"),
        "{ruleset}"
    );
    assert!(
        ruleset.contains("media-edge is never a router"),
        "{ruleset}"
    );
    assert!(
        ruleset.contains("public side (203.0.113.10, 2001:db8::10)"),
        "{ruleset}"
    );

    // Interfaces named: only what crosses between them, both ways.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(
        "[security]\npublic-interfaces = [\"eth0\"]\nenterprise-interfaces = [\"eth1\", \"bond0.20\"]\n",
    );
    let named = scratch("fw-fwd-named.toml", &text);
    let ruleset = rules(&named, &[]);
    for expected in [
        "iifname { \"eth0\" } oifname { \"eth1\", \"bond0.20\" } drop",
        "iifname { \"eth1\", \"bond0.20\" } oifname { \"eth0\" } drop",
    ] {
        assert!(ruleset.contains(expected), "{expected} missing:\n{ruleset}");
    }
    assert!(!ruleset.contains("\t\tdrop comment"), "{ruleset}");

    // One side only (everything on loopback): nothing to route, no forward chain.
    let loopback = scratch(
        "fw-fwd-one.toml",
        "[turn]\nlisten-udp = [\"127.0.0.1:3478\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n",
    );
    let ruleset = rules(&loopback, &[]);
    assert!(!ruleset.contains("chain forward"), "{ruleset}");
}
