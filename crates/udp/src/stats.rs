//! Per-socket counters and the rate-limited error log. Counters are relaxed atomics bumped
//! once per batch (or once per error), so `send(&self)` needs no lock.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// What a socket has moved and dropped since it was made. A snapshot from
/// [`crate::UdpSocket::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketStats {
    /// Datagrams handed to the kernel (each GSO segment counts).
    pub sent: u64,
    /// Datagrams received (a GRO train counts once per segment).
    pub received: u64,
    /// Datagrams dropped because the kernel refused them (`EMSGSIZE`, no route, bad address,
    /// ...), each counted once per datagram (segment).
    pub send_dropped: u64,
    /// Errors the kernel reported late for an earlier datagram (`ECONNREFUSED` after an ICMP
    /// port unreachable), on send or receive; they drop nothing by themselves.
    pub async_errors: u64,
    /// Received datagrams dropped because they did not fit a batch slot.
    pub truncated: u64,
    /// `sendmmsg`/`sendto` calls made (with `sent`, shows how well batching and GSO work).
    pub send_calls: u64,
    /// `recvmmsg`/`recvfrom` calls that returned datagrams.
    pub recv_calls: u64,
}

/// How a failed send or receive is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    /// `EINTR`: try the same call again.
    Retry,
    /// `EAGAIN`: stop and let the event loop wait.
    WouldBlock,
    /// A late error for an earlier datagram (ICMP): count it, try the same datagram again.
    Async,
    /// The socket itself is broken (`EBADF`, `ENOTSOCK`, `EFAULT`): return the error.
    Fatal,
    /// This datagram cannot be sent: count it, drop it, go on.
    Datagram,
}

impl ErrorClass {
    pub(crate) fn of(e: &io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::Interrupted => return Self::Retry,
            io::ErrorKind::WouldBlock => return Self::WouldBlock,
            io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => {
                return Self::Async
            }
            _ => {}
        }
        // EBADF, EFAULT, ENOTSOCK: nothing sent on this socket would fare better.
        #[cfg(target_os = "linux")]
        if matches!(
            e.raw_os_error(),
            Some(libc::EBADF | libc::EFAULT | libc::ENOTSOCK)
        ) {
            return Self::Fatal;
        }
        Self::Datagram
    }
}

/// Seconds between two log lines about dropped datagrams of one socket.
const LOG_INTERVAL_MS: u64 = 10_000;

pub(crate) struct Counters {
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) send_dropped: AtomicU64,
    pub(crate) async_errors: AtomicU64,
    pub(crate) truncated: AtomicU64,
    pub(crate) send_calls: AtomicU64,
    pub(crate) recv_calls: AtomicU64,
    epoch: Instant,
    /// Milliseconds since `epoch` before which nothing more is logged.
    next_log_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl Counters {
    pub(crate) fn new() -> Self {
        Self {
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            send_dropped: AtomicU64::new(0),
            async_errors: AtomicU64::new(0),
            truncated: AtomicU64::new(0),
            send_calls: AtomicU64::new(0),
            recv_calls: AtomicU64::new(0),
            epoch: Instant::now(),
            next_log_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    pub(crate) fn snapshot(&self) -> SocketStats {
        SocketStats {
            sent: self.sent.load(Relaxed),
            received: self.received.load(Relaxed),
            send_dropped: self.send_dropped.load(Relaxed),
            async_errors: self.async_errors.load(Relaxed),
            truncated: self.truncated.load(Relaxed),
            send_calls: self.send_calls.load(Relaxed),
            recv_calls: self.recv_calls.load(Relaxed),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Relaxed);
    }

    /// Counts `datagrams` dropped for `error` on the way to `dst` and logs it, at most once per
    /// [`LOG_INTERVAL_MS`] per socket.
    pub(crate) fn dropped(&self, error: &io::Error, dst: SocketAddr, datagrams: usize) {
        Self::add(&self.send_dropped, datagrams);
        self.log(format_args!(
            "dropped {datagrams} datagram(s) to {dst}: {error}"
        ));
    }

    /// Counts a late (ICMP-reported) error and logs it rate-limited.
    pub(crate) fn late_error(&self, error: &io::Error) {
        Self::add(&self.async_errors, 1);
        self.log(format_args!("earlier datagram failed: {error}"));
    }

    fn log(&self, what: std::fmt::Arguments<'_>) {
        if !log::log_enabled!(log::Level::Warn) {
            return;
        }
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next_log_ms.load(Relaxed);
        if now < next
            || self
                .next_log_ms
                .compare_exchange(next, now.saturating_add(LOG_INTERVAL_MS), Relaxed, Relaxed)
                .is_err()
        {
            self.suppressed.fetch_add(1, Relaxed);
            return;
        }
        let suppressed = self.suppressed.swap(0, Relaxed);
        log::warn!("udp: {what} ({suppressed} similar messages suppressed)");
    }
}
