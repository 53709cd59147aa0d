//! The `[turn]` section ([`TurnConfig`]): defaults reach the service, every count and size
//! is bounded, and each refusal names its key below `[turn]`. (media-edge's own tests cover
//! the section inside the whole file, with the `turn.` prefix and line numbers.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use edge_turn::{BandwidthCap, ServiceConfig, TurnConfig};

const MINIMAL: &str = "listen-udp = [\"127.0.0.1:3478\"]\n[relay]\naddress = \"127.0.0.1\"\n";

/// The section with `lines` added (keys at its top, tables at its end), parsed, checked
/// and converted; an error as media-edge prints it below `[turn]`.
fn service(lines: &str) -> Result<ServiceConfig, String> {
    let text = match lines.starts_with('[') {
        true => format!("{MINIMAL}{lines}\n"),
        false => format!("{lines}\n{MINIMAL}"),
    };
    let section: TurnConfig = toml::from_str(&text).map_err(|e| e.to_string())?;
    section
        .service_config(vec![0; 32], 1)
        .map_err(|e| e.to_string())
}

#[test]
fn defaults_reach_the_service() {
    let s = service("").unwrap();
    assert_eq!(s.server.realm, "media-edge");
    assert_eq!(s.server.port_range.ports(), 49152..=65535);
    assert_eq!((s.server.user_quota, s.server.total_quota), (10, 10_000));
    assert_eq!(s.server.nonce_lifetime, Duration::from_secs(600));
    assert_eq!(
        (s.server.default_lifetime, s.server.max_lifetime),
        (Duration::from_secs(600), Duration::from_secs(3600))
    );
    assert_eq!((s.max_connections, s.socket_buffer), (4096, Some(4 << 20)));
    assert_eq!((s.coalesce, s.udp_sockets), (Duration::from_micros(200), 1));
    assert_eq!(s.server.bandwidth, None);
    let cap = service("[quota]\nbandwidth = 1000")
        .unwrap()
        .server
        .bandwidth;
    assert_eq!(
        cap,
        Some(BandwidthCap {
            bytes_per_sec: 1000,
            burst_bytes: 1500
        }),
        "the burst is one second at the cap, at least one datagram"
    );
}

/// Every count is bounded; each error names its key below `[turn]`.
#[test]
fn counts_and_sizes_are_bounded_naming_the_key() {
    for (lines, key) in [
        ("max-connections = 0", "max-connections: 0 is not between"),
        ("max-connections = 1000001", "max-connections: 1000001"),
        ("socket-buffer = 100", "socket-buffer: 100 is not between"),
        ("socket-buffer = 1073741825", "socket-buffer: 1073741825"),
        ("realm = \"\"", "realm: must be 1 to 763 bytes"),
        (
            &format!("realm = \"{}\"", "r".repeat(764)),
            "realm: must be 1 to",
        ),
        (
            &format!("software = \"{}\"", "s".repeat(764)),
            "software: longer",
        ),
        ("coalesce-us = 10001", "coalesce-us: 10001"),
        ("threads = 257", "threads: 257"),
        ("udp-sockets = 0", "udp-sockets: 0"),
        ("default-lifetime = 0", "max-lifetime: must be"),
        (
            "[quota]\nbandwidth = 0",
            "quota.bandwidth: must be more than 0",
        ),
        (
            "[quota]\nbandwidth = 1000\nbandwidth-burst = 1499",
            "quota.bandwidth-burst: must be at least 1500",
        ),
        (
            "[quota]\nbandwidth = 1\nbandwidth-burst = 18446744073709551615",
            "quota.bandwidth-burst: an empty bucket would take longer",
        ),
        (
            "[auth]\nshared-secrets = [\"0123456789abcdef\", \"short\"]",
            "auth.shared-secrets[1]: shorter",
        ),
    ] {
        let e = service(lines).unwrap_err();
        assert!(e.starts_with(key), "{lines}: {e}");
    }
    let bounds = "max-connections = 1000000\nsocket-buffer = 1073741824\ncoalesce-us = 10000\n\
                  threads = 256\nudp-sockets = 64";
    service(bounds).unwrap();
}

#[test]
fn durations_are_bounded_by_the_shared_parser() {
    let e = service("max-lifetime = 315360001").unwrap_err();
    assert!(e.contains("315360001"), "{e}");
    let e = service("[auth]\nnonce-lifetime = -1").unwrap_err();
    assert!(e.contains("-1"), "{e}");
}
