//! Network namespaces a test makes for itself (veth topologies for the XDP tests): a unique
//! name per namespace, deleted when the value drops, on every path (a panic included).
//!
//! This file is also included by crates/xdp/tests (`#[path]`), which cannot depend on this
//! suite package: it uses only std and libc.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A named network namespace (`ip netns add`), deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// A new namespace named `<prefix>-<pid>-<n>`, with its loopback up.
    ///
    /// # Panics
    /// When `ip netns add` fails (the tests run as root).
    pub fn new(prefix: &str) -> Netns {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}-{}-{n}", std::process::id());
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        ns.ip("link set lo up");
        ns
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n <name> <args>` (split on whitespace).
    ///
    /// # Panics
    /// When the command fails.
    pub fn ip(&self, args: &str) {
        run(Command::new("ip")
            .args(["-n", &self.name])
            .args(args.split_whitespace()));
    }

    /// A command that runs `program` inside the namespace (`ip netns exec`).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Moves the calling thread into the namespace (threads it spawns from then on start
    /// there too). Other threads of the process stay where they are.
    ///
    /// # Panics
    /// When the namespace cannot be opened or entered.
    pub fn enter(&self) {
        use std::os::fd::AsRawFd;
        let path = format!("/var/run/netns/{}", self.name);
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        // SAFETY: `file` is an open namespace file for the whole call; setns only changes
        // the calling thread's network namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
    }

    /// The interface index of `link` in the namespace.
    ///
    /// # Panics
    /// When there is no such link.
    pub fn ifindex(&self, link: &str) -> u32 {
        let out = self.link(link);
        out.split(':')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no index for {link} in {out:?}"))
    }

    /// The MAC address of `link` in the namespace.
    ///
    /// # Panics
    /// When there is no such link.
    pub fn mac(&self, link: &str) -> [u8; 6] {
        let out = self.link(link);
        let text = out
            .split("link/ether ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_else(|| panic!("no MAC for {link} in {out:?}"));
        let mut mac = [0u8; 6];
        for (byte, hex) in mac.iter_mut().zip(text.split(':')) {
            *byte = u8::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
        mac
    }

    fn link(&self, link: &str) -> String {
        let out = Command::new("ip")
            .args(["-n", &self.name, "-o", "link", "show", "dev", link])
            .output()
            .unwrap_or_else(|e| panic!("ip: {e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Links inside go with the namespace (a veth's other end with it).
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
