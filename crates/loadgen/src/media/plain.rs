//! `rtp` mode: plain RTP probes from one socket per flow to fixed targets, with no
//! signalling, ICE or SRTP. It drives the `forward` ceiling (and any RTP echo or
//! forwarder reachable at known ports).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicBool;

use super::fleet::{MediaFleet, MediaFlow};
use super::rtp::RtpStream;
use super::webrtc::MediaRun;
use crate::load::{self, LoadConfig};
use crate::report::{RunInfo, SetupReport};
use crate::Error;

/// Sends flow `i` to `targets[i]` from its own socket on `local_ip`.
pub fn run(
    targets: &[SocketAddr],
    local_ip: IpAddr,
    gro: bool,
    payload: usize,
    config: &LoadConfig,
    stop: &AtomicBool,
) -> Result<MediaRun, Error> {
    crate::probe::check_payload(payload)?;
    let any = SocketAddr::new(local_ip, 0);
    let flows = targets
        .iter()
        .enumerate()
        .map(|(i, &remote)| {
            Ok(MediaFlow {
                socket: crate::sockets::bind_client(any, gro)?,
                remote,
                srtp: None,
                consent: None,
                rtp: RtpStream {
                    payload_type: 0,
                    ssrc: 0x1000_0000 + i as u32,
                    ticks_per_packet: 160,
                },
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let setup = SetupReport {
        attempted: flows.len(),
        succeeded: flows.len(),
        ..SetupReport::default()
    };
    let mut fleet = MediaFleet::new(flows, payload)?;
    let info = RunInfo {
        mode: "rtp".into(),
        target: match targets {
            [first, .., last] => format!("{first}..{last} (plain RTP)"),
            [one] => format!("{one} (plain RTP)"),
            [] => "nothing".into(),
        },
        payload_bytes: payload,
    };
    let report = load::measure(&mut fleet, config, info, setup, stop)?;
    Ok(MediaRun {
        report,
        load_errors: std::mem::take(&mut fleet.load_errors),
    })
}
