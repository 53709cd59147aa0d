//! Never a router, for real: three network namespaces made by this test, `public` (a
//! browser's host), `edge` (media-edge) and `enterprise` (an RTP peer), joined by two veth
//! pairs. The public host routes the enterprise subnet via the edge, the enterprise host
//! routes everything via the edge, and the edge has `net.ipv4.ip_forward = 1`, as a
//! container on two networks inherits it.
//!
//! - Without rules, a UDP probe from the public host reaches the enterprise host (so the
//!   test can fail) and one back reaches the public host.
//! - media-edge on the edge warns naming `net.ipv4.ip_forward` (and refuses to start with
//!   `security.refuse-ip-forwarding = true`); `media-edge health` fails before it listens
//!   and passes once it is ready.
//! - With the ruleset `media-edge firewall-rules` prints loaded by `nft -f` (first the
//!   default one, then one naming the interfaces in `[security]`), probes either way reach
//!   nothing, while media relayed by media-edge's TURN server (the harness's raw TURN
//!   client in the public namespace, an echo on the enterprise host) still flows.
//! - The relayed media is tracked by the edge's conntrack under those rules (the table's
//!   `ct state` rules make it track), and under the ruleset printed with `--notrack` relayed
//!   media makes no conntrack entry (`/proc/net/nf_conntrack` in the edge's namespace).
//! - With the table deleted again, a last probe each way arrives, and the probes sent under
//!   the rules never did: each receiver reads its socket in order, so a probe that had got
//!   through would show before the last one.
//!
//! This binary plays every part (`harness = false`): run plainly it is the test; run by
//! `ip netns exec` with `DEPLOY_ROUTING_ROLE` set it is the UDP peer or the TURN client
//! inside a namespace. Needs root, iproute2 and nftables (scripts/test.sh installs them)
//! and the media-edge binary built beside it (`cargo build -p media-edge`). The namespaces
//! and veths are named after this process's id and deleted on every path (a guard's drop).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use edge_suite::require_program;
use edge_suite::turn::{media_edge_binary, ChildGuard, ScratchDir};
use edge_suite::turn_client::{RawTurnClient, Via};

/// Which part this process plays inside a namespace.
const ROLE: &str = "DEPLOY_ROUTING_ROLE";
/// The public host and the edge's public address (198.18.0.0/15: benchmarking space).
const PUBLIC_HOST: &str = "198.18.1.2";
const EDGE_PUBLIC: &str = "198.18.1.1";
/// The enterprise host and the edge's enterprise address.
const ENTERPRISE_HOST: &str = "198.19.2.2";
const EDGE_ENTERPRISE: &str = "198.19.2.1";
/// The UDP port of the peers on both hosts.
const PEER_PORT: u16 = 40000;
/// The hang guard of every wait: far beyond what a loaded 2-core machine needs.
const WAIT: Duration = Duration::from_secs(60);
const TURN_USER: &str = "deploy";
const TURN_PASSWORD: &str = "deploy-routing-password";

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("peer") => peer(),
        Ok("turn-client") => turn_client(),
        Ok(other) => panic!("unknown {ROLE} {other:?}"),
        Err(_) => {
            the_edge_routes_nothing_but_relays_media();
            println!("test the_edge_routes_nothing_but_relays_media ... ok");
        }
    }
}

/// The peer: bound on `args[1]`, it prints `from <source> <payload>` for each datagram,
/// echoes relayed media (`media-*`; never probes, so two peers never play ping-pong), and
/// sends `<payload>` to `<destination>` for each stdin line
/// `<destination> <payload>`. It ends when stdin closes or after a minute of silence.
fn peer() {
    let addr: SocketAddr = std::env::args().nth(1).unwrap().parse().unwrap();
    let socket = UdpSocket::bind(addr).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let sender = socket.try_clone().unwrap();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            let (to, payload) = line.split_once(' ').unwrap();
            sender.send_to(payload.as_bytes(), to).unwrap();
        }
        std::process::exit(0);
    });
    println!("bound {addr}");
    let mut buf = [0u8; 2048];
    while let Ok((n, from)) = socket.recv_from(&mut buf) {
        println!("from {from} {}", String::from_utf8_lossy(&buf[..n]));
        std::io::stdout().flush().unwrap();
        if buf[..n].starts_with(b"media-") {
            let _ = socket.send_to(&buf[..n], from);
        }
    }
}

/// The TURN client: from `args[1]` through the server `args[2]` to the peer `args[3]`,
/// allocate, permit, then 5 Send indications each echoed back as Data: exit 0 when all were.
fn turn_client() {
    let args: Vec<String> = std::env::args().collect();
    let local: IpAddr = args[1].parse().unwrap();
    let server: SocketAddr = args[2].parse().unwrap();
    let peer: SocketAddr = args[3].parse().unwrap();
    let mut client =
        RawTurnClient::connect(Via::Udp, local, server, TURN_USER, TURN_PASSWORD).unwrap();
    let relayed = client.allocate().unwrap();
    client.permit(peer).unwrap();
    for i in 0..5 {
        let payload = format!("media-{i}");
        client.send_indication(peer, payload.as_bytes()).unwrap();
        let echoed = client
            .recv_data(WAIT)
            .expect("the echo of a relayed payload");
        assert_eq!(echoed, payload.as_bytes());
    }
    println!("relayed 5 payloads through {relayed}");
}

/// Runs `program args` and returns its output; panics naming the command when it fails.
fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} cannot run: {e}"));
    assert!(
        out.status.success(),
        "{program} {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The three namespaces and their veths; all deleted on drop.
struct Topology {
    public: String,
    edge: String,
    enterprise: String,
    veths: [String; 2],
}

impl Topology {
    fn create() -> Topology {
        let id = std::process::id();
        let topology = Topology {
            public: format!("dr-public-{id}"),
            edge: format!("dr-edge-{id}"),
            enterprise: format!("dr-ent-{id}"),
            veths: [format!("drp{id}"), format!("dre{id}")],
        };
        let t = &topology;
        for ns in [&t.public, &t.edge, &t.enterprise] {
            run("ip", &["netns", "add", ns]);
            t.ip(ns, &["link", "set", "lo", "up"]);
        }
        // Veth ends: drpN (public) <-> drpNe (edge), dreN (edge) <-> dreNe (enterprise).
        let [p, e] = &t.veths;
        let (pe, ee) = (format!("{p}e"), format!("{e}e"));
        for (a, a_ns, b, b_ns) in [
            (p, &t.public, &pe, &t.edge),
            (e, &t.edge, &ee, &t.enterprise),
        ] {
            run("ip", &["link", "add", a, "type", "veth", "peer", "name", b]);
            run("ip", &["link", "set", a, "netns", a_ns]);
            run("ip", &["link", "set", b, "netns", b_ns]);
        }
        for (ns, dev, addr) in [
            (&t.public, p, PUBLIC_HOST),
            (&t.edge, &pe, EDGE_PUBLIC),
            (&t.edge, e, EDGE_ENTERPRISE),
            (&t.enterprise, &ee, ENTERPRISE_HOST),
        ] {
            t.ip(ns, &["addr", "add", &format!("{addr}/24"), "dev", dev]);
            t.ip(ns, &["link", "set", dev, "up"]);
        }
        t.ip(
            &t.public,
            &["route", "add", "198.19.2.0/24", "via", EDGE_PUBLIC],
        );
        t.ip(
            &t.enterprise,
            &["route", "add", "default", "via", EDGE_ENTERPRISE],
        );
        t.exec(&t.edge, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        topology
    }

    fn ip(&self, ns: &str, args: &[&str]) {
        let mut all = vec!["-n", ns];
        all.extend(args);
        run("ip", &all);
    }

    /// Runs a command in `ns`; its output, whatever its status.
    fn exec_output(&self, ns: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("ip netns exec {ns}: {e}"))
    }

    fn exec(&self, ns: &str, args: &[&str]) -> Output {
        let mut all = vec!["netns", "exec", ns];
        all.extend(args);
        run("ip", &all)
    }

    /// Starts this binary as `role` in `ns`, stdin and stdout piped.
    fn spawn_role(&self, ns: &str, role: &str, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", ns])
            .arg(std::env::current_exe().unwrap())
            .args(args)
            .env(ROLE, role);
        command
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in [&self.public, &self.edge, &self.enterprise] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        // Veths not yet moved into a namespace (a failure half-way) live here.
        for veth in &self.veths {
            let _ = Command::new("ip")
                .args(["link", "del", veth])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A peer process and what it printed.
struct Peer {
    child: ChildGuard,
    stdin: ChildStdin,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Peer {
    fn start(net: &Topology, ns: &str, addr: &str) -> Peer {
        let bind = format!("{addr}:{PEER_PORT}");
        let mut child = net
            .spawn_role(ns, "peer", &[&bind])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut peer = Peer {
            child: ChildGuard(child),
            stdin,
            lines,
            seen: Vec::new(),
        };
        peer.wait_for(&format!("bound {bind}"));
        peer
    }

    /// Sends `payload` to the other host's peer.
    fn send(&mut self, to: &str, payload: &str) {
        writeln!(self.stdin, "{to}:{PEER_PORT} {payload}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Waits for a line ending in `suffix`; returns it.
    fn wait_for(&mut self, suffix: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.ends_with(suffix) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line ending in {suffix:?} within {WAIT:?}; seen: {:?} (peer running: {:?})",
                    self.seen,
                    self.child.0.try_wait()
                ),
            }
        }
    }
}

/// The media-edge configuration of the edge; `extra` is appended.
fn config(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let text = format!(
        "[log]\nlevel = \"info\"\n\
         [turn]\nrealm = \"deploy\"\nlisten-udp = [\"{EDGE_PUBLIC}:3478\"]\nthreads = 1\n\
         [turn.relay]\naddress = \"{EDGE_ENTERPRISE}\"\nport-range = \"49152-49199\"\n\
         [[turn.auth.users]]\nname = \"{TURN_USER}\"\npassword = \"{TURN_PASSWORD}\"\n\
         [turn.peers]\nallow = [\"198.19.2.0/24\"]\n\
         [admin]\nlisten = \"127.0.0.1:9480\"\n{extra}"
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Prints the ruleset for `config` (with the command's `extra` arguments) inside the edge and
/// loads it there with `nft -f`.
fn load_rules(net: &Topology, bin: &str, config: &Path, dir: &Path, extra: &[&str]) -> String {
    let config = config.to_str().unwrap();
    let mut args = vec![bin, "firewall-rules", "--config", config];
    args.extend(extra);
    let out = net.exec(&net.edge, &args);
    let ruleset = String::from_utf8(out.stdout).unwrap();
    let file = dir.join("rules.nft");
    std::fs::write(&file, &ruleset).unwrap();
    net.exec(&net.edge, &["nft", "-f", file.to_str().unwrap()]);
    ruleset
}

/// The edge's conntrack entries of TURN media, by their original tuple: UDP to the TURN
/// listener (3478) or to or from the relay range (49152-49199).
fn media_entries(net: &Topology) -> BTreeSet<String> {
    let out = net.exec(&net.edge, &["cat", "/proc/net/nf_conntrack"]);
    let table = String::from_utf8(out.stdout).unwrap();
    let relay = 49152..=49199;
    let mut found = BTreeSet::new();
    for line in table.lines().filter(|l| l.contains(" udp ")) {
        // The first src/dst/sport/dport are the original direction's.
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .unwrap_or_default()
                .to_owned()
        };
        let (sport, dport) = (field("sport="), field("dport="));
        let port = |p: &str| p.parse::<u16>().ok();
        let media = dport == "3478"
            || port(&sport).is_some_and(|p| relay.contains(&p))
            || port(&dport).is_some_and(|p| relay.contains(&p));
        if media {
            found.insert(format!(
                "{}:{sport} -> {}:{dport}",
                field("src="),
                field("dst=")
            ));
        }
    }
    found
}

/// The TURN client in the public namespace relays 5 payloads to the enterprise peer, whose
/// lines show them arriving from the edge's relay address.
fn media_flows(net: &Topology, enterprise: &mut Peer) {
    let server = format!("{EDGE_PUBLIC}:3478");
    let peer = format!("{ENTERPRISE_HOST}:{PEER_PORT}");
    let out = net
        .spawn_role(&net.public, "turn-client", &[PUBLIC_HOST, &server, &peer])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the TURN client failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = enterprise.wait_for(" media-4");
    assert!(
        line.starts_with(&format!("from {EDGE_ENTERPRISE}:")),
        "media reached the enterprise host from elsewhere than the edge's relay: {line}"
    );
}

fn the_edge_routes_nothing_but_relays_media() {
    require_program("nft");
    require_program("ip");
    let bin = media_edge_binary();
    let bin = bin.to_str().unwrap();
    let dir = ScratchDir::new("deploy-routing");
    let net = Topology::create();
    let mut public = Peer::start(&net, &net.public, PUBLIC_HOST);
    let mut enterprise = Peer::start(&net, &net.enterprise, ENTERPRISE_HOST);

    // No rules: the edge routes. A probe each way gets through from the other host itself.
    public.send(ENTERPRISE_HOST, "probe-open");
    let line = enterprise.wait_for(" probe-open");
    assert!(line.starts_with(&format!("from {PUBLIC_HOST}:")), "{line}");
    enterprise.send(PUBLIC_HOST, "probe-open-back");
    let line = public.wait_for(" probe-open-back");
    assert!(
        line.starts_with(&format!("from {ENTERPRISE_HOST}:")),
        "{line}"
    );

    // With security.refuse-ip-forwarding, media-edge refuses to start on this edge.
    let refusing = config(
        dir.path(),
        "refuse.toml",
        "[security]\nrefuse-ip-forwarding = true\n",
    );
    let out = net.exec_output(&net.edge, &[bin, "--config", refusing.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "started despite forwarding: {stderr}"
    );
    assert!(
        stderr.contains("security.refuse-ip-forwarding: net.ipv4.ip_forward = 1"),
        "{stderr}"
    );

    // The default ruleset (no interfaces named): nothing is forwarded at all.
    let plain = config(dir.path(), "media-edge.toml", "");
    let ruleset = load_rules(&net, bin, &plain, dir.path(), &[]);
    assert!(ruleset.contains("chain forward {"), "{ruleset}");
    public.send(ENTERPRISE_HOST, "probe-closed-1");
    enterprise.send(PUBLIC_HOST, "probe-closed-back-1");

    // media-edge on the edge: not healthy before it listens, warns about forwarding, healthy
    // once ready, and relays media across the two sides.
    let plain_arg = plain.to_str().unwrap();
    let out = net.exec_output(&net.edge, &[bin, "health", "--config", plain_arg]);
    assert_eq!(out.status.code(), Some(1), "health before start: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not ready: cannot connect to"),
        "{out:?}"
    );
    let mut edge = Command::new("ip")
        .args(["netns", "exec", &net.edge, bin, "--config", plain_arg])
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = edge.stderr.take().unwrap();
    let _edge = ChildGuard(edge);
    let (tx, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("media-edge: {line}");
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + WAIT;
    let warning = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = log
            .recv_timeout(left)
            .expect("media-edge logged no forwarding warning");
        if line.contains("net.ipv4.ip_forward = 1") {
            break line;
        }
    };
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains(&format!("public side ({EDGE_PUBLIC})")),
        "{warning}"
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let out = net.exec_output(&net.edge, &[bin, "health", "--config", plain_arg]);
        if out.status.success() {
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.starts_with("ready: "), "{stdout}");
            break;
        }
        assert!(Instant::now() < deadline, "never healthy: {out:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    media_flows(&net, &mut enterprise);
    public.send(ENTERPRISE_HOST, "probe-closed-2");

    // The ruleset naming the interfaces: only traffic between them is dropped.
    let [p, e] = &net.veths;
    let named = config(
        dir.path(),
        "named.toml",
        &format!("[security]\npublic-interfaces = [\"{p}e\"]\nenterprise-interfaces = [\"{e}\"]\n"),
    );
    let ruleset = load_rules(&net, bin, &named, dir.path(), &[]);
    assert!(
        ruleset.contains(&format!(
            "iifname {{ \"{p}e\" }} oifname {{ \"{e}\" }} drop"
        )),
        "{ruleset}"
    );
    public.send(ENTERPRISE_HOST, "probe-closed-3");
    enterprise.send(PUBLIC_HOST, "probe-closed-back-3");
    media_flows(&net, &mut enterprise);

    // Under these rules the edge tracks the relayed media; with --notrack it does not: a
    // TURN client run (a new source port, a new allocation) adds no entry.
    let tracked = media_entries(&net);
    assert!(
        tracked.iter().any(|e| e.ends_with(":3478")),
        "the relayed media made no conntrack entry: {tracked:?}"
    );
    let ruleset = load_rules(&net, bin, &named, dir.path(), &["--notrack"]);
    assert!(ruleset.contains("chain notrack_in {"), "{ruleset}");
    public.send(ENTERPRISE_HOST, "probe-closed-4");
    enterprise.send(PUBLIC_HOST, "probe-closed-back-4");
    media_flows(&net, &mut enterprise);
    let added: Vec<String> = media_entries(&net).difference(&tracked).cloned().collect();
    assert!(
        added.is_empty(),
        "media tracked despite --notrack: {added:?}"
    );

    // Rules gone: the last probes arrive, and none sent under the rules came before them.
    net.exec(&net.edge, &["nft", "delete", "table", "inet", "media_edge"]);
    public.send(ENTERPRISE_HOST, "probe-reopened");
    enterprise.wait_for(" probe-reopened");
    enterprise.send(PUBLIC_HOST, "probe-reopened-back");
    public.wait_for(" probe-reopened-back");
    for peer in [&public, &enterprise] {
        let leaked: Vec<&String> = peer.seen.iter().filter(|l| l.contains("closed")).collect();
        assert!(leaked.is_empty(), "routed through the rules: {leaked:?}");
    }
}
