//! Headless Chromium (Debian's `chromium`) for the browser tests, and the one-request HTTP
//! reader their small page servers use.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Headless Chromium on a URL, with a fresh profile (also its temporary files' directory),
/// killed on drop with every process it started, and the profile removed.
pub struct Chromium(Child, PathBuf);

impl Chromium {
    /// Opens `url` with the flags every test needs plus `extra` (for example
    /// `--use-fake-device-for-media-stream`).
    ///
    /// # Panics
    /// When Chromium is not installed or does not start.
    pub fn open(url: &str, extra: &[&str]) -> Chromium {
        // One profile per browser, also for tests running at once in one process.
        static OPENED: AtomicUsize = AtomicUsize::new(0);
        let profile = std::env::temp_dir().join(format!(
            "media-edge-chromium-{}-{}",
            std::process::id(),
            OPENED.fetch_add(1, Ordering::Relaxed)
        ));
        let child = Command::new(crate::require_program("chromium"))
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--autoplay-policy=no-user-gesture-required",
                // The test network (scripts/test.sh's namespace) has only loopback, which
                // WebRTC leaves out of its networks unless told otherwise.
                "--allow-loopback-in-peer-connection",
            ])
            .args(extra)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .env("TMPDIR", &profile)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        Chromium(child, profile)
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        crate::kill_group(&mut self.0);
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// Reads one HTTP/1.1 request: method, path and body (by `Content-Length`).
pub fn read_request(stream: &TcpStream) -> Option<(String, String, String)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_ascii_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, String::from_utf8(body).ok()?))
}
