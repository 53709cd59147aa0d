//! Log capture for tests that assert what the code logs.
//!
//! One subscriber serves the whole test binary: [`install`] sets it as the global default
//! the first time any test calls it, and every thread's lines go through it. Tests read back
//! either what their own thread logged while a closure ran ([`capture`]), or everything
//! the process logged so far ([`process_log`], for lines logged by a service's threads).
//!
//! Why not a scoped subscriber per test (`tracing::subscriber::with_default`): tracing
//! caches, per call site, whether anyone is interested in it. A call site first reached by
//! a test thread with no subscriber of its own while another test's scoped subscriber is
//! being registered can keep the cached "nobody" answer, and the capturing test then sees
//! none of that line (tokio-rs/tracing#3611). With one global subscriber installed before
//! any test logs, every call site is enabled from its first use. So every test of a binary
//! that captures should call [`install`] (or [`capture`]) before it runs the code under
//! test.
//!
//! The format is the subscriber's default with colours off (timestamp, level, target,
//! message, fields), as a log file or journald would hold it, at INFO and above.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::cell::RefCell;
use std::io;
use std::sync::{Mutex, Once, PoisonError};

/// Everything logged since [`install`], by every thread.
static PROCESS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

thread_local! {
    /// The open [`capture`] of this thread, if any.
    static THREAD: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// The subscriber's writer: the process log, and the calling thread's open capture.
struct Tee;

impl io::Write for Tee {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        PROCESS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(data);
        THREAD.with(|t| {
            if let Some(buffer) = t.borrow_mut().as_mut() {
                buffer.extend_from_slice(data);
            }
        });
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber as the process's global default, once; later calls
/// return at once. Another global subscriber set before it is left in place, and then
/// nothing is captured (the tests that read the log fail, naming no line).
pub fn install() {
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(|| Tee)
            .finish();
        // An error means a subscriber was already set: see the doc comment.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Runs `f` and returns its result with the lines the calling thread logged meanwhile.
/// Captures nest: an inner one takes its lines from the outer one.
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, String) {
    install();
    let outer = THREAD.with(|t| t.borrow_mut().replace(Vec::new()));
    // Put the outer capture back even if `f` panics.
    struct Restore(Option<Option<Vec<u8>>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(outer) = self.0.take() {
                THREAD.with(|t| *t.borrow_mut() = outer);
            }
        }
    }
    let mut restore = Restore(Some(outer));
    let result = f();
    let mine = THREAD.with(|t| t.borrow_mut().take()).unwrap_or_default();
    if let Some(outer) = restore.0.take() {
        THREAD.with(|t| *t.borrow_mut() = outer);
    }
    (result, String::from_utf8_lossy(&mine).into_owned())
}

/// Everything every thread logged since [`install`] (which this calls).
pub fn process_log() -> String {
    install();
    let bytes = PROCESS.lock().unwrap_or_else(PoisonError::into_inner);
    String::from_utf8_lossy(&bytes).into_owned()
}
