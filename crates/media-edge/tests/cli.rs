//! The binary as a user runs it: `check-config` on the example and on broken files, and a
//! start with a configuration followed by SIGTERM for a clean exit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{accepted, refused, scratch, Running};

#[test]
fn check_config_accepts_the_example_and_the_embedded_default() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/media-edge.toml");
    let stdout = accepted(["check-config", "--config", example]);
    assert!(stdout.contains("udp 0.0.0.0:3478"), "{stdout}");
    let stdout = accepted(["check-config"]);
    assert!(stdout.contains("udp 127.0.0.1:3478"), "{stdout}");
}

#[test]
fn broken_configs_are_refused_naming_the_key() {
    let base = "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n";
    let cases = [
        (
            base.replace("address", "port-range = \"60000-50000\"\naddress"),
            "turn.relay.port-range: 60000-50000 is not a port range",
        ),
        (
            format!("{base}bogus = 1\n"),
            "turn.relay.bogus: unknown field",
        ),
        (base.replace("127.0.0.1:0", "0.0.0.0:0"), "turn.auth:"),
        (
            "[turn\n".to_owned(),
            "bad3.toml: TOML parse error at line 1",
        ),
    ];
    for (i, (text, expected)) in cases.into_iter().enumerate() {
        let path = scratch(&format!("bad{i}.toml"), &text);
        let stderr = refused(["--config", path.to_str().unwrap()]);
        assert!(stderr.contains(expected), "{expected:?} not in {stderr:?}");
    }
}

#[test]
fn starts_prints_its_listeners_and_stops_cleanly_on_sigterm() {
    let path = scratch(
        "run.toml",
        "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\nlisten-tcp = [\"127.0.0.1:0\"]\n\
         [turn.relay]\naddress = \"127.0.0.1\"\nport-range = \"63700-63709\"\n",
    );
    let mut edge = Running::start(["--config", path.to_str().unwrap()]);
    let summary = edge.wait_for("media-edge TURN: udp 127.0.0.1:");
    assert!(summary.contains("ports 63700-63709"), "{summary}");
    edge.wait_for("generated user `media-edge` with password `");
    assert!(edge.stop().success());
}
