//! `turn` mode: TURN allocations carrying ChannelData to an echo peer.

pub mod conn;
pub mod credentials;
pub mod fleet;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::echo::EchoPeer;
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

/// A whole `turn` run: starts (or uses) the echo peer, sets up the allocations toward it
/// (`setup.peer` is replaced by the echo's address), loads them, deallocates and stops the
/// echo.
pub fn run(
    setup: &TurnSetup,
    peer: EchoPeer,
    config: &LoadConfig,
    stop: &AtomicBool,
) -> Result<TurnRun, Error> {
    let echo = peer.start()?;
    let setup = TurnSetup {
        peer: echo.addr(),
        ..setup.clone()
    };
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
    let finished = echo.finish();
    let run = result?;
    finished.map(|()| run)
}
