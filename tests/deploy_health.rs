//! `media-edge health`, the probe of container healthchecks, against a running media-edge
//! whose admin listener serves HTTPS (`admin.tls`): ready (exit 0, one line) when the
//! listener presents the configured certificate; exit 1 naming the certificate when it
//! presents another (the probe pins the configured leaf, so a different server on that port
//! is not taken for media-edge); exit 1 without an `[admin]` section. The plain-HTTP probe
//! is exercised inside tests/deploy_routing.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use edge_suite::turn::{media_edge_binary, ChildGuard, ScratchDir};

/// A hang guard, never a window a busy machine could miss.
const WAIT: Duration = Duration::from_secs(60);

/// A config with TURN on loopback and the admin listener on `admin` with `tls`.
fn config(dir: &Path, name: &str, admin: &str, tls: Option<&(PathBuf, PathBuf)>) -> PathBuf {
    let mut text =
        "[turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
                    port-range = \"47100-47109\"\n"
            .to_owned();
    if !admin.is_empty() {
        text += &format!("[admin]\nlisten = \"{admin}\"\n");
    }
    if let Some((cert, key)) = tls {
        text += &format!(
            "tls = {{ certificate = {:?}, private-key = {:?} }}\n",
            cert.display().to_string(),
            key.display().to_string()
        );
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn health(config: &Path) -> Output {
    Command::new(media_edge_binary())
        .args(["health", "--timeout", "30", "--config"])
        .arg(config)
        .output()
        .unwrap()
}

#[test]
fn health_probes_https_and_trusts_only_the_configured_certificate() {
    let (ours, other) = (ScratchDir::new("health"), ScratchDir::new("health-other"));
    let cert = ours.certificate();
    let other_cert = other.certificate();
    let running = config(ours.path(), "running.toml", "127.0.0.1:0", Some(&cert));
    let mut child = Command::new(media_edge_binary())
        .arg("--config")
        .arg(&running)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _running = ChildGuard(child);
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let prefix = "admin listener: https://";
    let deadline = Instant::now() + WAIT;
    let admin: SocketAddr = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines.recv_timeout(left).expect("no admin listener line");
        if let Some(at) = line.find(prefix) {
            let rest = &line[at + prefix.len()..];
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };

    // The same certificate: ready, once every listener is bound.
    let probe = config(ours.path(), "probe.toml", &admin.to_string(), Some(&cert));
    let deadline = Instant::now() + WAIT;
    let out = loop {
        let out = health(&probe);
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout.trim_end(),
        format!("ready: https://{admin}/readyz answered 200 ready")
    );

    // Another certificate configured: the listener is not trusted.
    let wrong = config(
        other.path(),
        "wrong.toml",
        &admin.to_string(),
        Some(&other_cert),
    );
    let out = health(&wrong);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr.contains("not ready: no answer from https://") && stderr.contains("certificate"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");

    // No [admin] section: nothing to probe.
    let none = config(ours.path(), "none.toml", "", None);
    let out = health(&none);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no [admin] section"),
        "{out:?}"
    );
}
