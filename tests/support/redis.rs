//! A redis-server of the test's own (Debian's `redis-server`, in memory only, on a loopback
//! port) and a raw RESP client for the few commands a test sends behind the nodes' backs.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::require_program;
use crate::turn::{ChildGuard, ScratchDir};

/// A running redis-server, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    _child: ChildGuard,
    /// Its port on 127.0.0.1.
    pub port: u16,
    _dir: ScratchDir,
}

impl RedisServer {
    /// Starts redis-server on 127.0.0.1:`port` with no persistence (no RDB, no AOF) and
    /// returns once it answers PING.
    ///
    /// # Panics
    /// When it cannot be started or does not answer within 60 s (a hang guard).
    pub fn start(port: u16) -> RedisServer {
        let dir = ScratchDir::new("redis");
        let child = Command::new(require_program("redis-server"))
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server: {e}"));
        let pid = child.id();
        let mut server = RedisServer {
            _child: ChildGuard(child),
            port,
            _dir: dir,
        };
        // Up once the server on the port is this one: a server of another test answering
        // there (this one then failed to bind) would share its keys and clients unseen.
        let deadline = Instant::now() + Duration::from_secs(60);
        while server_pid(port) != Some(pid) {
            if let Ok(Some(status)) = server._child.0.try_wait() {
                panic!("redis-server on port {port} exited ({status}): the port is taken");
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {port} never answered INFO"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// `redis://127.0.0.1:{port}/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Sends one command; the first line of the answer (`+OK`, `:1`, `$5`, `-ERR ...`).
    ///
    /// # Panics
    /// When the server does not answer.
    pub fn command(&self, args: &[&str]) -> String {
        command(self.port, args)
            .unwrap_or_else(|| panic!("redis on port {} did not answer {args:?}", self.port))
    }
}

/// One command to the Redis on 127.0.0.1:`port`; the first line of its answer, or `None`
/// when nothing answers.
/// The process id of the redis-server answering on `port` (`INFO server`).
fn server_pid(port: u16) -> Option<u32> {
    let info = command(port, &["INFO", "server"])?;
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
}

/// One command's reply: a simple reply's line (`+OK`, `:1`, `-ERR ...`), or a bulk
/// string's contents.
fn command(port: u16, args: &[&str]) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut request = format!("*{}\r\n", args.len());
    for a in args {
        request += &format!("${}\r\n{a}\r\n", a.len());
    }
    stream.write_all(request.as_bytes()).ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let line = line.trim_end();
    match line.strip_prefix('$').map(str::parse::<usize>) {
        Some(Ok(len)) => {
            let mut body = vec![0; len];
            reader.read_exact(&mut body).ok()?;
            String::from_utf8(body).ok()
        }
        _ => (!line.is_empty()).then(|| line.to_owned()),
    }
}

/// A free TCP port on 127.0.0.1 that this process has not handed out before (bound, then
/// released: the caller starts a server on it).
///
/// # Panics
/// When no socket can be bound.
pub fn free_tcp_port() -> u16 {
    // Tests run in parallel, and a port stays unbound between this call and its server's
    // start (or restart): never hand one out twice in this process.
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    for _ in 0..1000 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free TCP port: {e}"));
        if HANDED_OUT
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(port)
        {
            return port;
        }
    }
    panic!("no TCP port free that this process has not handed out already")
}
