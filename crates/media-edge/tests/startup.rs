//! Client-side port definition at start-up: a busy pinned port and a non-local pinned
//! address stop the binary naming them; the same leg defined differently in the file and on
//! the command line (or twice on the command line) is refused naming both places; equal
//! definitions are accepted; `[turn.xdp]` without an interface or capabilities stops it
//! naming the key. Ports 38000-38099.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::UdpSocket;

use common::{accepted, refused, scratch};

/// TURN on an ephemeral port, the forwarder's public side on 127.0.0.1, and `enterprise`
/// (the `[forward.enterprise]` section's body, with its header when not empty).
fn config(name: &str, turn_relay: &str, enterprise: &str) -> std::path::PathBuf {
    let enterprise = if enterprise.is_empty() {
        String::new()
    } else {
        format!("[forward.enterprise]\n{enterprise}")
    };
    scratch(
        name,
        &format!(
            "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"{turn_relay}\"\n\
             port-range = \"38000-38009\"\n\
             [forward]\nworkers = 1\n\
             [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"38010-38019\"\n{enterprise}"
        ),
    )
}

#[test]
fn a_busy_pinned_port_stops_start_up_naming_key_address_and_port() {
    // The pinned port from the file, held by another socket.
    let holder = UdpSocket::bind("127.0.0.1:0").unwrap();
    let busy = holder.local_addr().unwrap().port();
    let path = config(
        "busy.toml",
        "127.0.0.1",
        &format!("transport-address = \"127.0.0.1\"\ntransport-port = {busy}\n"),
    );
    let stderr = refused(["--config", path.to_str().unwrap()]);
    assert!(
        stderr.contains(&format!(
            "forward.enterprise.transport-port: address 127.0.0.1 port {busy} is busy"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("start-up checks failed"), "{stderr}");

    // Pinned on the command line inside the file's range: its RTCP port (the next) is busy.
    let _rtcp = UdpSocket::bind("127.0.0.1:38031").unwrap();
    let path = config(
        "busy-rtcp.toml",
        "127.0.0.1",
        "transport-address = \"127.0.0.1\"\nport-range = \"38020-38039\"\n",
    );
    let stderr = refused([
        "--config",
        path.to_str().unwrap(),
        "--transport-port",
        "38030",
    ]);
    assert!(
        stderr.contains(
            "forward.enterprise.transport-port: address 127.0.0.1 port 38031 (the next port, \
             RTCP without rtcp-mux) is busy"
        ),
        "{stderr}"
    );
    drop(holder);
}

#[test]
fn non_local_pinned_addresses_stop_start_up_naming_each() {
    // TEST-NET-2 addresses: on no interface here (scripts/test.sh runs with loopback only).
    for foreign in ["198.51.100.1", "198.51.100.2", "198.51.100.7"] {
        assert!(
            UdpSocket::bind((foreign, 0)).is_err(),
            "{foreign} is an address of this host: the test needs it foreign"
        );
    }
    let path = config(
        "foreign.toml",
        "198.51.100.2",
        "transport-address = \"198.51.100.1\"\ntransport-port = 38040\n\
         [forward.enterprise.connections]\npbx-a = \"port=38042;address=127.0.0.1\"\n",
    );
    let stderr = refused([
        "--config",
        path.to_str().unwrap(),
        "--connection",
        "pbx-b=port=38044;address=198.51.100.7",
    ]);
    for expected in [
        "turn.relay.address: 198.51.100.2 is not an address of this host",
        "forward.enterprise.transport-address: 198.51.100.1 is not an address of this host",
        "forward.enterprise.connections.pbx-b: 198.51.100.7 is not an address of this host",
    ] {
        assert!(stderr.contains(expected), "{expected:?} not in {stderr}");
    }
    // The local connection is not reported.
    assert!(!stderr.contains("pbx-a"), "{stderr}");
}

#[test]
fn the_same_leg_defined_differently_is_refused_naming_both_places() {
    let path = config(
        "pinned.toml",
        "127.0.0.1",
        "transport-address = \"127.0.0.1\"\ntransport-port = 38050\n\
         [forward.enterprise.connections]\npbx-a = \"port=38052;address=127.0.0.1\"\n",
    );
    let file = path.to_str().unwrap();
    let cases: [(&[&str], String); 4] = [
        (
            &["--transport-port", "38054"],
            format!(
                "--transport-port 38054 (command line) conflicts with \
                 forward.enterprise.transport-port = 38050 ({file})"
            ),
        ),
        (
            &["--transport-address", "127.0.0.2"],
            format!(
                "--transport-address 127.0.0.2 (command line) conflicts with \
                 forward.enterprise.transport-address = 127.0.0.1 ({file})"
            ),
        ),
        (
            &["--connection", "pbx-a=port=38056;address=127.0.0.1"],
            format!(
                "--connection pbx-a=port=38056;address=127.0.0.1 (command line) conflicts with \
                 forward.enterprise.connections.pbx-a = \"port=38052;address=127.0.0.1\" ({file})"
            ),
        ),
        (
            &[
                "--connection",
                "pbx-b=port=38058;address=127.0.0.1",
                "--connection",
                "pbx-b=address=127.0.0.2;port=38058",
            ],
            "--connection pbx-b=port=38058;address=127.0.0.2 (command line) conflicts with \
             --connection pbx-b=port=38058;address=127.0.0.1 (command line)"
                .to_owned(),
        ),
    ];
    for (args, expected) in cases {
        for command in [None, Some("check-config")] {
            let mut all: Vec<&str> = command.into_iter().collect();
            all.extend(["--config", file]);
            all.extend(args);
            let stderr = refused(&all);
            assert!(
                stderr.contains(&expected),
                "{args:?}: {expected:?} not in {stderr}"
            );
        }
    }

    // A port outside the file's range conflicts with the range.
    let ranged = config(
        "ranged.toml",
        "127.0.0.1",
        "transport-address = \"127.0.0.1\"\nport-range = \"38060-38069\"\n",
    );
    let ranged = ranged.to_str().unwrap();
    let stderr = refused([
        "check-config",
        "--config",
        ranged,
        "--transport-port",
        "38070",
    ]);
    assert!(
        stderr.contains(&format!(
            "--transport-port 38070 (command line) conflicts with \
             forward.enterprise.port-range = 38060-38069 ({ranged})"
        )),
        "{stderr}"
    );

    // Pins need the forwarder they pin.
    let bare = scratch(
        "bare.toml",
        "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n",
    );
    let stderr = refused([
        "check-config",
        "--config",
        bare.to_str().unwrap(),
        "--transport-port",
        "38070",
    ]);
    assert!(
        stderr.contains("--transport-port: ") && stderr.contains("has no [forward] section"),
        "{stderr}"
    );
    // A malformed definition names what is wrong with it.
    let stderr = refused([
        "check-config",
        "--connection",
        "pbx=port=0;address=127.0.0.1",
    ]);
    assert!(stderr.contains("port 0"), "{stderr}");
}

#[test]
fn equal_definitions_are_accepted_and_the_command_line_completes_the_file() {
    let path = config(
        "equal.toml",
        "127.0.0.1",
        "transport-address = \"127.0.0.1\"\ntransport-port = 38080\n\
         [forward.enterprise.connections]\npbx-a = \"port=38082;address=127.0.0.1\"\n",
    );
    let stdout = accepted([
        "check-config",
        "--config",
        path.to_str().unwrap(),
        "--transport-address",
        "127.0.0.1",
        "--transport-port",
        "38080",
        "--connection",
        "pbx-a=address=127.0.0.1;port=38082",
        "--connection",
        "pbx-b=port=38084;address=127.0.0.1",
        "--connection",
        "pbx-b=port=38084;address=127.0.0.1",
    ]);
    assert!(
        stdout.contains("enterprise 127.0.0.1 port 38080"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "connections pbx-a=port=38082;address=127.0.0.1, pbx-b=port=38084;address=127.0.0.1"
        ),
        "{stdout}"
    );

    // No [forward.enterprise] in the file: the command line defines the whole leg.
    let path = config("cli-only.toml", "127.0.0.1", "");
    let stdout = accepted([
        "check-config",
        "--config",
        path.to_str().unwrap(),
        "--transport-address",
        "127.0.0.1",
        "--transport-port",
        "38086",
    ]);
    assert!(
        stdout.contains("enterprise 127.0.0.1 port 38086"),
        "{stdout}"
    );

    // A port inside the file's range pins that one port of it.
    let path = config(
        "narrowed.toml",
        "127.0.0.1",
        "transport-address = \"127.0.0.1\"\nport-range = \"38060-38069\"\n",
    );
    let stdout = accepted([
        "check-config",
        "--config",
        path.to_str().unwrap(),
        "--transport-port",
        "38064",
    ]);
    assert!(
        stdout.contains("enterprise 127.0.0.1 port 38064"),
        "{stdout}"
    );
}

/// `[turn.xdp]` on an interface that does not exist, and without the capabilities BPF needs
/// (the binary run through `setpriv` with an empty bounding set: root with no capability):
/// both refuse to start, naming `turn.xdp` and the cause.
#[test]
fn the_xdp_fast_path_refuses_to_start_naming_the_key_and_the_cause() {
    let xdp = |interface: &str| {
        format!(
            "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
             port-range = \"38090-38099\"\n[turn.xdp]\ninterface = \"{interface}\"\n"
        )
    };
    let path = scratch("xdp-nosuch.toml", &xdp("nosuch0"));
    let stderr = refused(["--config", path.to_str().unwrap()]);
    assert!(stderr.contains("turn.xdp"), "{stderr}");
    assert!(
        stderr.contains("no network interface named \"nosuch0\""),
        "{stderr}"
    );

    let path = scratch("xdp-nocaps.toml", &xdp("lo"));
    let out = std::process::Command::new("setpriv")
        .args(["--bounding-set=-all", "--inh-caps=-all", common::BIN])
        .args(["--config", path.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "started without capabilities: {stderr}"
    );
    assert!(stderr.contains("turn.xdp"), "{stderr}");
    assert!(
        stderr.contains("XDP needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN"),
        "{stderr}"
    );
}
