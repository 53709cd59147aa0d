//! `turn` mode: TURN allocations carrying ChannelData to an echo peer.

pub mod client;
pub mod conn;
pub mod credentials;
pub mod fleet;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::echo::Echo;
use crate::load::{self, LoadConfig};
use crate::report::RunInfo;
use crate::{Error, Report};
use fleet::{TurnFleet, TurnSetup};

/// How long closing waits for the server to confirm deallocations.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a `turn` run produced.
#[derive(Debug)]
pub struct TurnRun {
    /// The measurements.
    pub report: Report,
    /// Failures after set-up (refreshes refused, connections lost), first few.
    pub load_errors: Vec<String>,
}

/// A whole `turn` run: starts an echo peer on `peer_bind`, sets up the allocations toward
/// it (`setup.peer` is replaced by the echo's address), loads them, deallocates and
/// stops the echo.
pub fn run(
    setup: &TurnSetup,
    peer_bind: SocketAddr,
    config: &LoadConfig,
    stop: &AtomicBool,
) -> Result<TurnRun, Error> {
    let echo = Echo::bind(&[peer_bind])?;
    let setup = TurnSetup {
        peer: echo.local_addrs()[0],
        ..setup.clone()
    };
    let echo_stop = Arc::new(AtomicBool::new(false));
    let echo_thread = echo.spawn(echo_stop.clone());
    if config.progress {
        eprintln!(
            "edge-loadgen turn: {} allocations over {:?} to {}, echo peer {}",
            setup.allocations, setup.transport, setup.server, setup.peer
        );
    }
    let result = TurnFleet::setup(&setup, stop).and_then(|mut fleet| {
        let report = fleet.setup_report().clone();
        if config.progress {
            eprintln!(
                "set-up: {}/{} allocations ready",
                report.succeeded, report.attempted
            );
        }
        let info = RunInfo {
            mode: "turn".into(),
            target: format!("{} ({:?})", setup.server, setup.transport).to_lowercase(),
            payload_bytes: setup.payload,
        };
        let measured = load::measure(&mut fleet, config, info, report, stop);
        let closed = fleet.close(CLOSE_TIMEOUT);
        let report = measured?;
        closed?;
        Ok(TurnRun {
            report,
            load_errors: std::mem::take(&mut fleet.load_errors),
        })
    });
    echo_stop.store(true, Ordering::Relaxed);
    let echoed = echo_thread.join();
    let run = result?;
    match echoed {
        Ok(r) => r.map(|_| run),
        Err(_) => Err(Error::EchoPanicked),
    }
}
