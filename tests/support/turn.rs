//! TURN test harness: the media-edge binary started on loopback with a TOML configuration
//! per test, coturn's `turnutils_uclient` / `turnutils_peer` as the independent client and
//! echo peer, a UDP echo peer, counting the relay ports a server holds (`/proc`), and a scratch
//! directory with a self-signed certificate for TLS.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::require_program;

/// The realm every test server uses.
pub const REALM: &str = "edge.test";
/// The static user every test server knows.
pub const USER: &str = "user";
/// Its password.
pub const PASSWORD: &str = "secret-password";
/// The REST shared secret every test server accepts (beside an older one, for rotation).
pub const SHARED_SECRET: &str = "rest-shared-secret-2";
/// The older REST shared secret, still accepted.
pub const OLD_SHARED_SECRET: &str = "rest-shared-secret-1";

/// What a test server looks like; [`TurnOptions::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct TurnOptions {
    /// Relay ports. Give each test its own range so tests can run in parallel, and keep it
    /// above Linux's ephemeral range (32768-60999), so a client socket bound to port 0 does
    /// not take a relay port a test expects to be handed out.
    pub ports: RangeInclusive<u16>,
    /// Relay and listener address: "127.0.0.1" or "::1".
    pub address: &'static str,
    /// Peer ranges allowed on top of the secure defaults.
    pub allow: Vec<&'static str>,
    /// Peer ranges denied.
    pub deny: Vec<&'static str>,
    /// Allocations per user.
    pub user_quota: u32,
    /// Default and max allocation lifetimes, seconds.
    pub lifetimes: (u64, u64),
    /// Also listen on TCP and TLS.
    pub streams: bool,
    /// TURN event loop threads (`turn.threads`).
    pub threads: usize,
    /// More sections appended to the configuration (`[forward]`, `[api]`, `[guard]`, ...).
    pub extra: String,
}

impl TurnOptions {
    /// Loopback relay on `ports`, loopback peers refused (the secure default), TCP and TLS
    /// listeners on, 10 allocations per user, lifetimes 600 s / 3600 s, two TURN threads (so
    /// every interop test runs the multi-threaded service: SO_REUSEPORT listeners, shared
    /// ports and quotas).
    pub fn new(ports: RangeInclusive<u16>) -> Self {
        Self {
            ports,
            address: "127.0.0.1",
            allow: Vec::new(),
            deny: Vec::new(),
            user_quota: 10,
            lifetimes: (600, 3600),
            streams: true,
            threads: 2,
            extra: String::new(),
        }
    }

    /// The same, with loopback peers allowed (coturn's tools and echo peers live there).
    pub fn loopback_peers(ports: RangeInclusive<u16>) -> Self {
        let mut o = Self::new(ports);
        o.allow = vec!["127.0.0.0/8", "::1/128"];
        o
    }

    /// The TOML configuration for these options.
    fn toml(&self, dir: &ScratchDir) -> String {
        let any = if self.address.contains(':') {
            format!("[{}]:0", self.address)
        } else {
            format!("{}:0", self.address)
        };
        let list = |v: &[&str]| {
            v.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut toml = format!(
            "[log]\nlevel = \"info,edge_turn=debug\"\n\n[turn]\nrealm = {REALM:?}\nlisten-udp = [{any:?}]\n\
             default-lifetime = {}\nmax-lifetime = {}\nthreads = {}\n",
            self.lifetimes.0, self.lifetimes.1, self.threads
        );
        if self.streams {
            let (cert, key) = dir.certificate();
            toml += &format!(
                "listen-tcp = [{any:?}]\n\n[[turn.listen-tls]]\naddress = {any:?}\n\
                 certificate = {:?}\nprivate-key = {:?}\n",
                cert.display().to_string(),
                key.display().to_string()
            );
        }
        toml += &format!(
            "\n[turn.relay]\naddress = {:?}\nport-range = \"{}-{}\"\n\n\
             [turn.auth]\nshared-secrets = [{OLD_SHARED_SECRET:?}, {SHARED_SECRET:?}]\n\
             [[turn.auth.users]]\nname = {USER:?}\npassword = {PASSWORD:?}\n\n\
             [turn.quota]\nallocations-per-user = {}\n\n\
             [turn.peers]\nallow = [{}]\ndeny = [{}]\n",
            self.address,
            self.ports.start(),
            self.ports.end(),
            self.user_quota,
            list(&self.allow),
            list(&self.deny),
        );
        toml += &self.extra;
        toml
    }
}

/// The media-edge binary next to the test executable (`target/<profile>/media-edge`), which
/// `cargo test --workspace` builds for media-edge's own integration tests.
///
/// # Panics
/// When it is not there.
pub fn media_edge_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let found = exe
        .ancestors()
        .skip(1)
        .take(3)
        .map(|dir| dir.join("media-edge"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "no media-edge binary near {}: build it first (cargo build -p media-edge, or run \
             the suite through scripts/test.sh)",
            exe.display()
        )
    })
}

/// A running media-edge: the process, the addresses it printed, its log.
pub struct TurnServer {
    child: Child,
    /// UDP listener.
    pub udp: SocketAddr,
    /// TCP listener (when `streams`).
    pub tcp: Option<SocketAddr>,
    /// TLS listener (when `streams`).
    pub tls: Option<SocketAddr>,
    /// Everything it logged so far.
    pub log: Arc<Mutex<String>>,
    /// The configuration file and certificate.
    pub dir: ScratchDir,
}

impl TurnServer {
    /// Writes the configuration and starts `media-edge --config`; returns once it has
    /// printed its start-up summary with the bound addresses.
    ///
    /// # Panics
    /// When it does not start within 60 s (a hang guard: on a loaded machine start-up may
    /// take seconds).
    pub fn start(options: &TurnOptions) -> TurnServer {
        let dir = ScratchDir::new("turn");
        let config = dir.path().join("media-edge.toml");
        std::fs::write(&config, options.toml(&dir))
            .unwrap_or_else(|e| panic!("{}: {e}", config.display()));
        let mut child = Command::new(media_edge_binary())
            .arg("--config")
            .arg(&config)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("media-edge: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if line.contains("media-edge TURN: ") {
                        let _ = tx.send(line.clone());
                    }
                    if let Ok(mut l) = log.lock() {
                        l.push_str(&line);
                        l.push('\n');
                    }
                }
            });
        }
        let Ok(summary) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let _ = child.wait();
            let log = log.lock().map(|l| l.clone()).unwrap_or_default();
            panic!("media-edge did not start:\n{log}");
        };
        let addr = |kind: &str| -> Option<SocketAddr> {
            let rest = summary.split(&format!(" {kind} ")).nth(1)?;
            rest.split([' ', ',', ';']).next()?.parse().ok()
        };
        TurnServer {
            udp: addr("udp").unwrap_or_else(|| panic!("no udp address in {summary:?}")),
            tcp: addr("tcp"),
            tls: addr("tls"),
            child,
            log,
            dir,
        }
    }

    /// How many relay ports in `ports` this server holds open (see [`udp_ports_held`]).
    pub fn relay_ports_open(&self, ports: &RangeInclusive<u16>) -> usize {
        udp_ports_held(self.child.id(), ports)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Sends SIGINT (stop at once, every allocation ended: SIGTERM would drain, waiting for
    /// the test's allocations to end) and waits up to 30 s (a hang guard) for a clean exit;
    /// true when it exited with 0.
    pub fn terminate(&mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for TurnServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// How many UDP sockets with a local port in `ports` the process `pid` holds open, from
/// `/proc/<pid>/net/udp{,6}` (its network namespace's) matched against the socket inodes in
/// `/proc/<pid>/fd`: the relay ports a server holds, whatever other processes on the machine
/// bind.
///
/// # Panics
/// When `/proc` cannot be read.
pub fn udp_ports_held(pid: u32, ports: &RangeInclusive<u16>) -> usize {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e}"));
    let inodes: std::collections::HashSet<String> = fds
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    // The process's own tables: those of its network namespace, wherever the caller is.
    ["udp", "udp6"]
        .iter()
        .filter_map(|table| crate::stable_proc_table(&format!("/proc/{pid}/net/{table}")))
        .flat_map(|table| table.lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port = fields
                .get(1)
                .and_then(|local| local.rsplit(':').next())
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            let inode = fields.get(9).copied();
            port.is_some_and(|p| ports.contains(&p)) && inode.is_some_and(|i| inodes.contains(i))
        })
        .count()
}

/// A TURN REST username valid for an hour and its password for `secret`.
pub fn rest_credentials(secret: &str, user: &str) -> (String, String) {
    let expiry = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() + 3600)
        .unwrap_or(u64::MAX);
    let username = format!("{expiry}:{user}");
    let output = Command::new(require_program("openssl"))
        .args(["dgst", "-sha1", "-binary", "-hmac", secret])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(username.as_bytes())?;
            }
            child.wait_with_output()
        })
        .unwrap_or_else(|e| panic!("openssl dgst: {e}"));
    let password = base64(&output.stdout);
    (username, password)
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A temporary directory removed on drop.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A fresh directory under the system temp dir.
    ///
    /// # Panics
    /// When it cannot be created.
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("edge-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A self-signed P-256 certificate for `localhost`/127.0.0.1 made with openssl:
    /// (certificate PEM path, key PEM path).
    ///
    /// # Panics
    /// When openssl fails.
    pub fn certificate(&self) -> (PathBuf, PathBuf) {
        let (cert, key) = (self.0.join("cert.pem"), self.0.join("key.pem"));
        let status = Command::new(require_program("openssl"))
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "openssl req failed to make a test certificate"
        );
        (cert, key)
    }
}

impl std::ops::Deref for ScratchDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (by its own id) and reaped on drop.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free UDP port on 127.0.0.1 (bound, then released: the caller binds it right away).
///
/// # Panics
/// When no socket can be bound.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free UDP port: {e}"))
}

/// Starts coturn's `turnutils_peer` echoing on 127.0.0.1:`port`; returns once it holds the
/// port, so the first datagrams cannot race its bind.
///
/// # Panics
/// When it cannot be started, or does not bind within 60 s (a hang guard).
pub fn coturn_peer(port: u16) -> ChildGuard {
    coturn_peer_with(
        Command::new(require_program("turnutils_peer")),
        std::net::Ipv4Addr::LOCALHOST.into(),
        port,
    )
}

/// As [`coturn_peer`], on `addr`, with the program started by `command` (inside a network
/// namespace: [`crate::netns::Netns::command`]).
///
/// # Panics
/// As [`coturn_peer`].
pub fn coturn_peer_with(mut command: Command, addr: std::net::IpAddr, port: u16) -> ChildGuard {
    let child = command
        .args(["-L", &addr.to_string(), "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("turnutils_peer: {e}"));
    let mut peer = ChildGuard(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while udp_ports_held(peer.0.id(), &(port..=port)) == 0 {
        let exited = matches!(peer.0.try_wait(), Ok(Some(_)));
        assert!(
            !exited && Instant::now() < deadline,
            "turnutils_peer did not bind {addr}:{port}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    peer
}

/// What `turnutils_uclient` reported.
#[derive(Debug, Clone, Default)]
pub struct UclientReport {
    /// Messages sent, over all clients.
    pub sent: u64,
    /// Messages echoed back.
    pub received: u64,
    /// "Total lost packets".
    pub lost: u64,
    /// "total send dropped".
    pub send_dropped: u64,
    /// Its exit status.
    pub success: bool,
    /// Everything it printed.
    pub output: String,
}

/// Runs `turnutils_uclient` with `args` (bounded by `timeout`) and parses its summary.
///
/// # Panics
/// When it cannot be run, or runs past `timeout`.
pub fn uclient(args: &[String], timeout: Duration) -> UclientReport {
    uclient_with(
        Command::new(require_program("turnutils_uclient")),
        args,
        timeout,
    )
}

/// As [`uclient`], with the program started by `command` (inside a network namespace:
/// [`crate::netns::Netns::command`]).
///
/// # Panics
/// As [`uclient`].
pub fn uclient_with(mut command: Command, args: &[String], timeout: Duration) -> UclientReport {
    let mut child = command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("turnutils_uclient: {e}"));
    let deadline = Instant::now() + timeout;
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child
                .wait_with_output()
                .map(|o| o.stdout)
                .unwrap_or_default();
            panic!(
                "turnutils_uclient {args:?} ran past {timeout:?}:\n{}",
                String::from_utf8_lossy(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("uclient output: {e}"));
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    UclientReport::parse(output, out.status.success())
        .unwrap_or_else(|(why, output)| panic!("turnutils_uclient {args:?}: {why}:\n{output}"))
}

impl UclientReport {
    /// Reads the summary `turnutils_uclient` printed in `output` (its stdout and stderr);
    /// `success` is its exit status. Its last `start_mclient: tot_send_msgs=` and
    /// `Total lost packets` lines count.
    ///
    /// # Errors
    /// What is missing or not a number, with `output` given back: a count the summary lacks
    /// is an error, never 0.
    pub fn parse(output: String, success: bool) -> Result<UclientReport, (String, String)> {
        let counts = (|| {
            let line = |prefix: &str| {
                output
                    .lines()
                    .rev()
                    .find_map(|l| l.split_once(prefix).map(|(_, rest)| rest))
                    .ok_or_else(|| format!("no {prefix:?} line in the summary"))
            };
            let msgs = line("start_mclient: tot_send_msgs=")?;
            let losses = line("Total lost packets ")?;
            Ok::<_, String>((
                leading_number("tot_send_msgs", msgs)?,
                leading_number("tot_recv_msgs", after(msgs, "tot_recv_msgs=")?)?,
                leading_number("lost packets", losses)?,
                leading_number("send dropped", after(losses, "total send dropped ")?)?,
            ))
        })();
        match counts {
            Ok((sent, received, lost, send_dropped)) => Ok(UclientReport {
                sent,
                received,
                lost,
                send_dropped,
                success,
                output,
            }),
            Err(why) => Err((why, output)),
        }
    }
}

/// What follows `marker` in `s`.
fn after<'a>(s: &'a str, marker: &str) -> Result<&'a str, String> {
    s.split_once(marker)
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("no {marker:?} in {s:?}"))
}

/// The decimal number `s` starts with; `name` says which count it is.
fn leading_number(name: &str, s: &str) -> Result<u64, String> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end]
        .parse()
        .map_err(|_| format!("{name}: {s:?} does not start with a number"))
}

/// A UDP echo peer on 127.0.0.1 in a thread: sends every datagram back to its sender and
/// counts them. Stops on drop.
pub struct EchoPeer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    echoed: Arc<AtomicU32>,
    thread: Option<JoinHandle<()>>,
}

impl EchoPeer {
    /// Binds and starts echoing.
    ///
    /// # Panics
    /// When the socket cannot be bound.
    pub fn start() -> EchoPeer {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("echo bind: {e}"));
        let addr = socket
            .local_addr()
            .unwrap_or_else(|e| panic!("echo addr: {e}"));
        let _ = socket.set_read_timeout(Some(Duration::from_millis(50)));
        let stop = Arc::new(AtomicBool::new(false));
        let echoed = Arc::new(AtomicU32::new(0));
        let (s, e) = (stop.clone(), echoed.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while !s.load(Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buf) {
                    // Counted before the echo leaves, so a test that got the echo sees it.
                    e.fetch_add(1, Ordering::Relaxed);
                    let _ = socket.send_to(&buf[..n], from);
                }
            }
        });
        EchoPeer {
            addr,
            stop,
            echoed,
            thread: Some(thread),
        }
    }

    /// Datagrams received (and echoed) so far.
    pub fn echoed(&self) -> u32 {
        self.echoed.load(Ordering::Relaxed)
    }
}

impl Drop for EchoPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::UclientReport;

    /// The tail of a real run's output (coturn 4.6.1, Debian:
    /// `turnutils_uclient -u u -w p -e 127.0.0.1 -r 3480 -m 2 -n 5 -y 127.0.0.1` against
    /// `turnserver --lt-cred-mech --user=u:p` and `turnutils_peer -p 3480`), with the final
    /// counts changed (received 19, lost 1, dropped 2; the run had 20, 0, 0) so that each
    /// field differs from the others.
    const SUMMARY: &str = "\
3: : start_mclient: msz=4, tot_send_msgs=5, tot_recv_msgs=5, tot_send_bytes ~ 500, tot_recv_bytes ~ 500
4: : start_mclient: msz=4, tot_send_msgs=10, tot_recv_msgs=10, tot_send_bytes ~ 1000, tot_recv_bytes ~ 1000
4: : start_mclient: tot_send_msgs=20, tot_recv_msgs=19
4: : start_mclient: tot_send_bytes ~ 2000, tot_recv_bytes ~ 2000
4: : Total transmit time is 4
4: : Total lost packets 1 (5.000000%), total send dropped 2 (0.000000%)
4: : Average round trip delay 0.000000 ms; min = 0 ms, max = 0 ms
";

    #[test]
    fn the_summary_gives_every_count() {
        let r = UclientReport::parse(SUMMARY.to_owned(), true).unwrap();
        assert_eq!(
            (r.sent, r.received, r.lost, r.send_dropped, r.success),
            (20, 19, 1, 2, true)
        );
        assert_eq!(r.output, SUMMARY);
    }

    #[test]
    fn a_missing_or_garbled_count_is_an_error_never_zero() {
        let without = |needle: &str| -> String {
            SUMMARY
                .lines()
                .filter(|l| !l.contains(needle))
                .map(|l| format!("{l}\n"))
                .collect()
        };
        for (output, named) in [
            (without("Total lost packets"), "Total lost packets"),
            (without("start_mclient: tot_send_msgs"), "tot_send_msgs"),
            (
                SUMMARY.replace(", total send dropped 2", ""),
                "total send dropped",
            ),
            (
                SUMMARY.replace("tot_recv_msgs=19", "tot_recv_msgs=?"),
                "tot_recv_msgs",
            ),
            (SUMMARY.replace("packets 1 (", "packets  ("), "lost packets"),
            (String::new(), "tot_send_msgs"),
        ] {
            let (why, back) = UclientReport::parse(output.clone(), true).unwrap_err();
            assert!(why.contains(named), "{why:?} should name {named:?}");
            assert_eq!(back, output);
        }
    }
}
