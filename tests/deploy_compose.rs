//! The compose files as docker-compose reads them, without a Docker engine: Debian's
//! `docker-compose` (installed by scripts/test.sh) accepts `deploy/docker-compose.yml` and
//! `deploy/compose/production.yml` (`config`), and refuses a broken copy; the load test's
//! rendered file has media-edge's healthcheck (`media-edge health`), the forwarding
//! sysctls at 0, the limits, restart policies, the load waiting for `healthy`, and
//! subnets that follow the environment; the configs both files mount pass
//! `media-edge check-config`. Running the images (`docker-compose up`) needs an engine and
//! minutes: docs/deployment.md says how, and it stays out of the suite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use edge_suite::require_program;
use edge_suite::turn::{media_edge_binary, ScratchDir};

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

/// `docker-compose -f FILE config` with `env` set; its output.
fn config(file: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(require_program("docker-compose"));
    command.arg("-f").arg(file).arg("config");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn rendered(file: &Path, env: &[(&str, &str)]) -> String {
    let out = config(file, env);
    assert!(
        out.status.success(),
        "docker-compose config refused {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The lines of `service` in a rendered compose file (two-space indented under services).
fn service<'a>(compose: &'a str, name: &str) -> &'a str {
    let start = compose
        .find(&format!("\n  {name}:\n"))
        .unwrap_or_else(|| panic!("no service {name}:\n{compose}"));
    let rest = &compose[start + 1..];
    // Up to the next line indented by exactly two spaces.
    let mut len = 0;
    for (n, line) in rest.lines().enumerate() {
        if n > 0 && line.starts_with("  ") && !line.starts_with("   ") {
            break;
        }
        len += line.len() + 1;
    }
    &rest[..len.min(rest.len())]
}

#[test]
fn the_load_test_compose_file_is_an_operators_file() {
    let file = deploy("docker-compose.yml");
    let compose = rendered(&file, &[]);
    let edge = service(&compose, "media-edge");
    for expected in [
        "- media-edge\n      - health\n",
        "net.ipv4.ip_forward: '0'",
        "net.ipv6.conf.all.forwarding: '0'",
        "restart: unless-stopped",
        "cpus: 1.0",
        "mem_limit: 512m",
        "ipv4_address: 172.30.1.10",
    ] {
        assert!(
            edge.contains(expected),
            "media-edge lacks {expected:?}:\n{edge}"
        );
    }
    let loadgen = service(&compose, "loadgen");
    assert!(
        loadgen.contains("media-edge:\n        condition: service_healthy"),
        "the load does not wait for a healthy media-edge:\n{loadgen}"
    );
    assert!(loadgen.contains("restart: \"no\""), "{loadgen}");
    assert!(compose.contains("subnet: 172.30.1.0/24"), "{compose}");

    // Subnets and addresses follow the environment.
    let moved = rendered(
        &file,
        &[
            ("MEDIA_EDGE_PUBLIC_SUBNET", "10.99.1.0/24"),
            ("MEDIA_EDGE_PUBLIC_IP", "10.99.1.10"),
        ],
    );
    assert!(moved.contains("subnet: 10.99.1.0/24"), "{moved}");
    assert!(moved.contains("--api=10.99.1.10:8080"), "{moved}");

    // docker-compose can say no: a misspelt key in a copy.
    let dir = ScratchDir::new("compose");
    let broken = dir.path().join("docker-compose.yml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("healthcheck:", "healthchek:");
    std::fs::write(&broken, text).unwrap();
    assert!(
        !config(&broken, &[]).status.success(),
        "a broken file passed"
    );
}

#[test]
fn the_production_compose_file_passes_and_runs_on_the_hosts_network() {
    let compose = rendered(&deploy("compose/production.yml"), &[]);
    let edge = service(&compose, "media-edge");
    for expected in [
        "network_mode: host",
        "- media-edge\n      - health\n",
        "restart: unless-stopped",
        "mem_limit: 2g",
        "stop_grace_period: 660s",
    ] {
        assert!(
            edge.contains(expected),
            "media-edge lacks {expected:?}:\n{edge}"
        );
    }
}

#[test]
fn the_configs_the_compose_files_mount_pass_check_config() {
    for name in ["compose/media-edge.toml", "compose/production.toml"] {
        let out = Command::new(media_edge_binary())
            .args(["check-config", "--config"])
            .arg(deploy(name))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(": OK"),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
