//! Debian's rtpengine (userspace only, on loopback), the media-proxy reference: started
//! with its ng listener on a free port and a given media port range, killed on drop.

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use edge_loadgen::rtpengine::NgClient;

use crate::require_program;

/// A running `rtpengine`.
pub struct Rtpengine {
    child: Child,
    /// Its ng listener (UDP).
    pub ng: SocketAddr,
}

impl Rtpengine {
    /// Starts rtpengine with media ports `ports.0..=ports.1` and waits until it answers
    /// `ping` (at most a minute).
    ///
    /// # Panics
    /// When it is not installed or does not answer.
    pub fn start(ports: (u16, u16)) -> Rtpengine {
        let ng_port = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("a free port")
            .port();
        let ng = SocketAddr::from(([127, 0, 0, 1], ng_port));
        let child = Command::new(require_program("rtpengine"))
            .args([
                "--config-file=none",
                "--foreground",
                "--log-stderr",
                "--table=-1",
            ])
            .args(["--interface=127.0.0.1", "--num-threads=1", "--log-level=4"])
            .arg(format!("--listen-ng={ng}"))
            .arg(format!("--port-min={}", ports.0))
            .arg(format!("--port-max={}", ports.1))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rtpengine");
        let mut client = NgClient::new(ng, "127.0.0.1".parse().expect("address")).expect("client");
        let deadline = Instant::now() + Duration::from_secs(60);
        while client.command("ping", vec![]).is_err() {
            assert!(Instant::now() < deadline, "rtpengine does not answer ping");
        }
        Rtpengine { child, ng }
    }
}

impl Drop for Rtpengine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
