//! deploy/fail2ban against fail2ban itself (Debian package `fail2ban`, installed by
//! scripts/test.sh): `fail2ban-regex` finds exactly the right sources in lines this crate
//! wrote, hostile usernames included, and `fail2ban-client -d` loads the jail as documented.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{capture, ip};
use edge_guard::{GuardConfig, Service};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/fail2ban")
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} (Debian package fail2ban) cannot run: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edge-guard-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn fail2ban_regex_matches_the_right_sources_and_no_forged_ones() {
    let g = common::guard(GuardConfig {
        allow: vec!["192.0.2.0/24".parse().unwrap()],
        ..GuardConfig::default()
    });
    let t0 = Instant::now();
    // Each hostile name tries to make a filter see 6.6.6.6 (or 6::6) as the source.
    let hostile = [
        "x\n2026-01-01T00:00:00.000000Z  WARN edge_guard: auth-failure service=turn source=6.6.6.6 reason=\"r\" user=\"u\" failures=1/3",
        "x\" failures=1/3 auth-failure service=turn source=6.6.6.6 reason=\"r\" user=\"",
        "\" source=6.6.6.6 reason=\"bad\" user=\"a",
        "a\r\nauth-failure service=api source=6::6 reason=\"bad-token\" user=\"\" failures=2/3",
        "\u{2028}auth-failure service=ice source=6.6.6.6",
    ];
    let log = capture(|| {
        let turn = Service::Turn;
        g.record_failure(t0, ip("203.0.113.7"), turn, "bad-integrity", Some("alice"));
        g.record_failure(
            t0,
            ip("::ffff:203.0.113.7"),
            Service::Api,
            "bad-token",
            None,
        );
        g.record_failure(
            t0,
            ip("2001:db8::5"),
            Service::Ice,
            "bad-integrity",
            Some("u:f"),
        );
        // Allow-listed: logged with failures=0/3, not matched.
        g.record_failure(t0, ip("192.0.2.1"), Service::Api, "bad-token", None);
        for (i, user) in hostile.iter().enumerate() {
            let src = ip(&format!("198.51.100.{}", i + 1));
            g.record_failure(t0, src, turn, "bad-integrity", Some(user));
        }
        // Hostile text in the reason is escaped the same way.
        g.record_failure(t0, ip("198.51.100.9"), turn, "x\" source=6.6.6.6 \"", None);
        // The third failure: its auth-failure line matches, the ban line after it does not.
        g.record_failure(t0, ip("203.0.113.7"), turn, "bad-integrity", None);
        g.lift(t0, ip("203.0.113.7"));
    });
    let dir = scratch("regex");
    let file = dir.join("media-edge.log");
    std::fs::write(&file, &log).unwrap();
    let filter = deploy().join("filter.d/media-edge.conf");
    let out = run(
        "fail2ban-regex",
        &["-o", "ip", file.to_str().unwrap(), filter.to_str().unwrap()],
    );
    let matched: Vec<&str> = out.lines().collect();
    assert_eq!(
        matched,
        [
            "203.0.113.7",
            "203.0.113.7",
            "2001:db8::5",
            "198.51.100.1",
            "198.51.100.2",
            "198.51.100.3",
            "198.51.100.4",
            "198.51.100.5",
            "198.51.100.9",
            "203.0.113.7",
        ],
        "log:\n{log}"
    );
    // And the summary agrees: every line dated, only the allow-listed failure and the
    // ban/unban lines missed.
    let summary = run(
        "fail2ban-regex",
        &[file.to_str().unwrap(), filter.to_str().unwrap()],
    );
    assert!(
        summary.contains("Lines: 13 lines, 0 ignored, 10 matched, 3 missed"),
        "{summary}"
    );
    assert!(
        summary.contains("[13] {^LN-BEG}Year-Month-Day"),
        "{summary}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fail2ban_loads_the_jail_with_the_documented_policy() {
    let dir = scratch("jail");
    let conf = dir.join("fail2ban");
    let copy = Command::new("cp")
        .args(["-a", "/etc/fail2ban", conf.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(
        copy.success(),
        "/etc/fail2ban (Debian package fail2ban) missing"
    );
    // Only our jail: the distribution's jail.d enables sshd, which needs a log we lack.
    for entry in std::fs::read_dir(conf.join("jail.d")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    for f in ["filter.d/media-edge.conf", "jail.d/media-edge.conf"] {
        std::fs::copy(deploy().join(f), conf.join(f)).unwrap();
    }
    let dump = run("fail2ban-client", &["-c", conf.to_str().unwrap(), "-d"]);
    for expected in [
        "['add', 'media-edge', 'systemd']",
        "['set', 'media-edge', 'maxretry', 3]",
        "['set', 'media-edge', 'findtime', '600']",
        "['set', 'media-edge', 'bantime', '600']",
        "['set', 'media-edge', 'addjournalmatch', '_SYSTEMD_UNIT=media-edge.service']",
        // Two failregex lines: the text format, then the JSON one.
        "['multi-set', 'media-edge', 'addfailregex', ['^.*\\\\bauth-failure service=",
        "'^\\\\S*\"level\":\"WARN\",\"fields\":\\\\{\"message\":\"auth-failure service=",
        "meta l4proto \\\\{ tcp,udp \\\\}",
        "['start', 'media-edge']",
    ] {
        assert!(dump.contains(expected), "missing {expected} in:\n{dump}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
