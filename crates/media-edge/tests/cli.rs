//! The binary as a user runs it: `check-config` on the example and on broken files, and a
//! start with a configuration followed by SIGTERM for a clean exit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_media-edge");

fn scratch(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("media-edge-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn check_config_accepts_the_example_and_the_embedded_default() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/media-edge.toml");
    let out = Command::new(BIN)
        .args(["check-config", "--config", example])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("udp 0.0.0.0:3478"), "{stdout}");
    let out = Command::new(BIN).arg("check-config").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("udp 127.0.0.1:3478"));
}

#[test]
fn broken_configs_are_refused_naming_the_key() {
    let base = "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n";
    let cases = [
        (
            base.replace("address", "port-range = \"60000-50000\"\naddress"),
            "turn.relay.port-range: 60000-50000 is empty",
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
        let out = Command::new(BIN)
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text} was accepted");
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
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let summary = lines.next().unwrap().unwrap();
    assert!(
        summary.contains("media-edge TURN: udp 127.0.0.1:"),
        "{summary}"
    );
    assert!(summary.contains("ports 63700-63709"), "{summary}");
    let warning = lines.next().unwrap().unwrap();
    assert!(
        warning.contains("generated user `media-edge` with password `"),
        "{warning}"
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}
