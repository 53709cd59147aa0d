//! A redis-server of the test's own (Debian's `redis-server`, in memory only, on a loopback
//! port) and a raw RESP client for the few commands a test sends behind the nodes' backs.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
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
        let server = RedisServer {
            _child: ChildGuard(child),
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while command(port, &["PING"]).as_deref() != Some("+PONG") {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {port} never answered PING"
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
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    (!line.is_empty()).then(|| line.trim_end().to_owned())
}

/// A free TCP port on 127.0.0.1 (bound, then released: the caller binds it right away).
///
/// # Panics
/// When no socket can be bound.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free TCP port: {e}"))
}
