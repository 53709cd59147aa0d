//! The process's log: `[log] level` (a tracing filter, `RUST_LOG` wins), `format` (`text`
//! or `json`, tracing-subscriber's JSON formatter: one object per line) and `file` (appended
//! to, reopened on SIGUSR1 so logrotate can move it away; stderr without it).
//!
//! Each event is formatted whole and then written with one `write_all` under the file's
//! lock, so lines never interleave.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal as _, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::Context as _;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{Log, LogFormat};

/// Where log lines go, and the handle SIGUSR1 reopens.
#[derive(Debug, Clone)]
pub struct Logs {
    file: Option<Arc<LogFile>>,
}

#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    file: Mutex<File>,
}

impl Logs {
    /// Installs the global subscriber for `config`.
    ///
    /// # Errors
    /// `log.level` that is not a tracing filter; `log.file` that cannot be opened for
    /// appending.
    pub fn init(config: &Log) -> anyhow::Result<Logs> {
        let level = &config.level;
        let filter = match std::env::var("RUST_LOG") {
            Ok(env) if !env.is_empty() => tracing_subscriber::EnvFilter::try_new(env),
            _ => tracing_subscriber::EnvFilter::try_new(level),
        }
        .with_context(|| format!("log.level: {level:?} is not a tracing filter"))?;
        let file = match &config.file {
            Some(path) => Some(Arc::new(LogFile {
                file: Mutex::new(open(path)?),
                path: path.clone(),
            })),
            None => None,
        };
        let logs = Logs { file };
        // Colour only on a terminal: a log file or the journal gets plain lines, which the
        // fail2ban filter (deploy/fail2ban) matches.
        let ansi = logs.file.is_none()
            && std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none();
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(logs.clone());
        match config.format {
            LogFormat::Text => builder.with_ansi(ansi).init(),
            LogFormat::Json => builder.json().init(),
        }
        Ok(logs)
    }

    /// Reopens `log.file` (SIGUSR1): lines go to a new file at the configured path, the
    /// old one (moved by logrotate) is closed. Without a file, nothing to do. A file that
    /// cannot be opened keeps the old one and logs why.
    pub fn reopen(&self) {
        let Some(log) = &self.file else {
            tracing::info!("SIGUSR1: no log.file configured, logging to stderr");
            return;
        };
        match open(&log.path) {
            Ok(file) => {
                *log.lock() = file;
                tracing::info!("SIGUSR1: reopened log file {}", log.path.display());
            }
            Err(e) => tracing::error!("SIGUSR1: {e:#}; still writing to the old file"),
        }
    }
}

impl LogFile {
    fn lock(&self) -> MutexGuard<'_, File> {
        self.file.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn open(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("log.file: cannot open {} for appending", path.display()))
}

/// One event's writer: stderr, or the log file under its lock.
pub enum Writer<'a> {
    /// No `log.file`.
    Stderr(io::Stderr),
    /// `log.file`.
    File(MutexGuard<'a, File>),
}

impl Write for Writer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Writer::Stderr(w) => w.write(buf),
            Writer::File(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Writer::Stderr(w) => w.write_all(buf),
            Writer::File(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Writer::Stderr(w) => w.flush(),
            Writer::File(w) => w.flush(),
        }
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Writer<'a>;

    fn make_writer(&'a self) -> Writer<'a> {
        match &self.file {
            Some(log) => Writer::File(log.lock()),
            None => Writer::Stderr(io::stderr()),
        }
    }
}
