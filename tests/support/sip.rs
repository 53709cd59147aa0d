//! The SIP side of the end-to-end tests: Kamailio with `tests/kamailio/kamailio.cfg` and
//! SIPp (Debian's `sip-tester`), each a child process killed on drop, with every process it
//! forked.

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::require_program;

/// The ports of one test: Kamailio's SIP (UDP) and WebSocket (TCP), SIPp's SIP and RTP.
pub struct Ports {
    /// Kamailio's SIP port (UDP).
    pub sip: u16,
    /// Kamailio's WebSocket port.
    pub ws: u16,
    /// SIPp's SIP port.
    pub sipp: u16,
    /// SIPp's RTP echo port.
    pub sipp_rtp: u16,
}

impl Ports {
    /// A block below the ephemeral range, apart from the other tests' blocks.
    pub fn block(base: u16) -> Ports {
        Ports {
            sip: base,
            ws: base + 1,
            sipp: base + 2,
            sipp_rtp: base + 10,
        }
    }
}

/// A child process killed on drop, with the name its errors give. Started as the leader of a
/// process group of its own (`process_group(0)`, as [`kamailio`] and [`sipp`] do), it is
/// killed with the whole group: Kamailio forks its workers, and killing its main process
/// alone leaves them running, holding the test's SIP ports.
pub struct Process(pub Child, pub &'static str);

impl Drop for Process {
    fn drop(&mut self) {
        crate::kill_group(&mut self.0);
    }
}

impl Process {
    /// Waits for the exit status, at most `patience`.
    ///
    /// # Panics
    /// When it runs longer.
    pub fn wait(&mut self, patience: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "{} did not exit", self.1);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Kamailio with `tests/kamailio/kamailio.cfg` and `ng` as its `rtpengine_sock` (one URL,
/// or several separated by spaces: one set), once its WebSocket port accepts.
///
/// # Panics
/// When it does not start.
pub fn kamailio(ports: &Ports, ng: &str, dir: &Path) -> Process {
    let template = include_str!("../kamailio/kamailio.cfg");
    let config = template
        .replace("SIP_PORT", &ports.sip.to_string())
        .replace("WS_PORT", &ports.ws.to_string())
        .replace("NG_SOCK", &format!("\"{ng}\""))
        .replace("SIPP_URI", &format!("\"sip:127.0.0.1:{}\"", ports.sipp));
    let path = dir.join("kamailio.cfg");
    std::fs::write(&path, config).unwrap();
    let log = std::fs::File::create(dir.join("kamailio.log")).unwrap();
    let child = Command::new(require_program("kamailio"))
        .arg("-f")
        .arg(&path)
        .args(["-DD", "-E", "-Y"])
        .arg(dir)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start kamailio");
    let mut process = Process(child, "kamailio");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", ports.ws)).is_err() {
        let exited = process.0.try_wait().unwrap();
        if exited.is_some() || Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("kamailio.log")).unwrap_or_default();
            panic!("kamailio does not listen ({exited:?}):\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    process
}

/// SIPp echoing RTP, with `args` (a scenario, its call count, the target).
///
/// # Panics
/// When it does not start.
pub fn sipp(ports: &Ports, dir: &Path, args: &[&str]) -> Process {
    let child = Command::new(require_program("sipp"))
        .args(args)
        .args([
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-rtp_echo",
            "-nostdin",
        ])
        .args([
            "-p",
            &ports.sipp.to_string(),
            "-mp",
            &ports.sipp_rtp.to_string(),
        ])
        .args(["-timeout", "100s", "-trace_screen", "-trace_err"])
        .current_dir(dir)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sipp");
    Process(child, "sipp")
}
