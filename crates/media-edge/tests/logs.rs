//! `[log]`: JSON lines into `log.file`, reopened on SIGUSR1 (logrotate moves the file, the
//! next lines go to a new one); every line parses as JSON; a session's end leaves a
//! `call ended` record with its counters; and deploy/fail2ban's filter, run by
//! `fail2ban-regex` (Debian package fail2ban), matches the binary's own auth-failure line in
//! both formats, text and JSON. Ports 38700-38799.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{http, scratch, Running};
use serde_json::{json, Value};

const TOKEN: &str = "logs-test-token-0123456789";

/// aiortc 1.16's offer: one audio track, BUNDLE, rtcp-mux.
const OFFER: &str = "v=0\r\no=- 4004280456 4004280456 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0\r\na=msid-semantic:WMS *\r\nm=audio 46098 UDP/TLS/RTP/SAVPF 96 9 0 8\r\n\
c=IN IP4 127.0.0.1\r\na=sendrecv\r\na=mid:0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=rtcp-mux\r\n\
a=rtpmap:96 opus/48000/2\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=candidate:16572de626da4e5384a0ce2d0d93678a 1 udp 2130706431 127.0.0.1 46098 typ host\r\n\
a=end-of-candidates\r\na=ice-ufrag:HYW7\r\na=ice-pwd:Fq3YpfdicrVJm7memzz2BQ\r\n\
a=fingerprint:sha-256 21:96:60:6D:D2:FD:A6:75:82:AC:34:B5:95:A8:64:56:12:E2:05:21:2E:34:3E:23:52:96:1C:69:C1:89:52:21\r\n\
a=setup:actpass\r\n";

fn config(dir: &Path, format: &str, ports: u16) -> (PathBuf, SocketAddr, PathBuf) {
    let api: SocketAddr = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        free.local_addr().unwrap()
    };
    let log = dir.join(format!("{format}.log"));
    let _ = std::fs::remove_file(&log);
    let (public, enterprise) = (ports, ports + 10);
    let path = scratch(
        &format!("{format}.toml"),
        &format!(
            "[log]\nformat = \"{format}\"\nfile = \"{}\"\n\
             [turn]\nlisten-udp = [\"127.0.0.1:0\"]\n[turn.relay]\naddress = \"127.0.0.1\"\n\
             port-range = \"{ports}-{}\"\n\
             [forward.public]\naddress = \"127.0.0.1\"\nport-range = \"{}-{}\"\n\
             [forward.enterprise]\ntransport-address = \"127.0.0.1\"\nport-range = \"{}-{}\"\n\
             [api]\nlisten = \"{api}\"\ntokens = [\"{TOKEN}\"]\n",
            log.display(),
            ports + 9,
            public + 20,
            public + 29,
            enterprise + 20,
            enterprise + 29,
        ),
    );
    (path, api, log)
}

/// The file's text once a line holds `needle` (waiting up to 20 s).
fn wait_in(file: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in {}:\n{text}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The sources `fail2ban-regex` finds in `log` with the shipped filter.
fn fail2ban(log: &Path) -> Vec<String> {
    let filter = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/fail2ban/filter.d/media-edge.conf")
        .canonicalize()
        .unwrap();
    let out = Command::new("fail2ban-regex")
        .args(["--print-all-matched", "--raw"])
        .arg(log)
        .arg(&filter)
        .output()
        .expect("fail2ban-regex (Debian package fail2ban)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    let matched: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("Lines: "))
        .and_then(|l| l.split(", ").find_map(|p| p.strip_suffix(" matched")))
        .unwrap_or_else(|| panic!("no summary: {text}"))
        .parse()
        .unwrap();
    let sources: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("|- Matched line(s):"))
        .skip(1)
        .take_while(|l| l.starts_with("|  "))
        .filter_map(|l| {
            let at = l.find("source=")? + 7;
            Some(l[at..].split(' ').next()?.to_owned())
        })
        .collect();
    assert_eq!(matched, sources.len(), "{text}");
    sources
}

#[test]
fn json_lines_into_a_file_reopened_on_sigusr1_with_records_fail2ban_matches() {
    let dir = scratch("logs.keep", "").parent().unwrap().to_owned();
    let (path, api, log) = config(&dir, "json", 38700);
    let mut edge = Running::start(["--config", path.to_str().unwrap()]);
    wait_in(&log, "control API: plain HTTP");

    // One failed login, then a session created and deleted.
    let (status, _) = http(api, "GET", "/v1/sessions", "wrong-token-0123456789", "");
    assert_eq!(status, 401);
    let body = json!({"offer": OFFER, "enterprise": {"rtp": "127.0.0.1:9"}}).to_string();
    let (status, created) = http(api, "POST", "/v1/sessions", TOKEN, &body);
    assert_eq!(status, 201, "{created}");
    let id = serde_json::from_str::<Value>(&created).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = http(api, "DELETE", &format!("/v1/sessions/{id}"), TOKEN, "");
    assert_eq!(status, 204);
    wait_in(&log, "call ended");

    // logrotate moves the file away; SIGUSR1 makes a new one.
    let rotated = dir.join("json.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    edge.signal("USR1");
    wait_in(&log, "SIGUSR1: reopened log file");
    let (status, _) = http(api, "GET", "/v1/sessions", "another-bad-token-0123", "");
    assert_eq!(status, 401);
    wait_in(&log, "auth-failure");
    assert!(edge.stop().success());
    assert!(!std::fs::read_to_string(&rotated)
        .unwrap()
        .contains("SIGUSR1"));

    let text = std::fs::read_to_string(&rotated).unwrap() + &std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines
        .iter()
        .all(|l| l["timestamp"].is_string() && l["level"].is_string()));
    let call = &lines
        .iter()
        .find(|l| l["fields"]["message"] == "call ended")
        .unwrap()["fields"];
    assert_eq!(call["session"], id.as_str(), "{call}");
    for key in [
        "duration_s",
        "browser_to_enterprise_packets",
        "browser_to_enterprise_bytes",
        "browser_to_enterprise_drops",
        "enterprise_to_browser_packets",
        "enterprise_to_browser_bytes",
        "enterprise_to_browser_drops",
    ] {
        assert!(call[key].is_u64(), "{key}: {call}");
    }
    assert_eq!(fail2ban(&rotated), ["127.0.0.1"]);
    assert_eq!(fail2ban(&log), ["127.0.0.1"]);
}

#[test]
fn fail2ban_matches_the_text_auth_failure_line() {
    let dir = scratch("logs.keep", "").parent().unwrap().to_owned();
    let (path, api, log) = config(&dir, "text", 38750);
    let mut edge = Running::start(["--config", path.to_str().unwrap()]);
    wait_in(&log, "control API: plain HTTP");
    let (status, _) = http(api, "GET", "/v1/sessions", "wrong-token-0123456789", "");
    assert_eq!(status, 401);
    let text = wait_in(&log, "auth-failure");
    assert!(edge.stop().success());
    assert!(text.lines().all(|l| !l.starts_with('{')), "{text}");
    assert_eq!(fail2ban(&log), ["127.0.0.1"]);
}
