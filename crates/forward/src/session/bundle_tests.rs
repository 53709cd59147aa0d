//! Audio and video in one BUNDLE on the virtual clock: the browser's packets split by MID
//! header extension, learned SSRC and payload type, unknown SSRCs dropped, both enterprise
//! legs out on the one browser transport, feedback routed to the leg whose stream it names.

use super::*;
use crate::spec::{BundleDemux, LineIds};

const VIDEO_REMOTE: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::new(10, 0, 0, 5),
    6002,
));
/// The MID header extension's id.
const MID_ID: u8 = 3;

fn demux() -> BundleDemux {
    BundleDemux {
        mid_extension: Some(MID_ID),
        audio: LineIds::new(Some("a".into()), vec![], vec![0]),
        video: LineIds::new(Some("v".into()), vec![], vec![96]),
    }
}

/// A harness whose session carries a video line toward [`VIDEO_REMOTE`].
fn bundle_harness() -> Harness {
    let mut h = harness_with(plain_enterprise(), None);
    let mut leg = Enterprise::new(true, false, None);
    leg.set_remote(VIDEO_REMOTE, None, None);
    let line = VideoLine::new(leg, crate::quality::Formats::new(&[]), None);
    let update = Update {
        video: Some(VideoUpdate::Add(Box::new(line), demux())),
        ..Update::default()
    };
    h.session.update(h.now, update);
    h.connect();
    h
}

/// An RTP packet: payload type `pt`, `ssrc`, with the MID extension `mid` when given.
fn packet(pt: u8, seq: u16, ssrc: u32, mid: Option<&[u8]>) -> Vec<u8> {
    let mut p = vec![0x80, pt, 0, 0, 0, 0, 0x10, 0];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    if let Some(mid) = mid {
        p[0] |= 0x10;
        let mut data = vec![(MID_ID << 4) | (mid.len() as u8 - 1)];
        data.extend_from_slice(mid);
        data.resize(data.len().div_ceil(4) * 4, 0);
        p.extend_from_slice(&[0xbe, 0xde]);
        p.extend_from_slice(&((data.len() / 4) as u16).to_be_bytes());
        p.extend_from_slice(&data);
    }
    p.extend((0..100).map(|i| i as u8));
    p
}

impl Harness {
    /// The browser protects `plain` (RTP, or RTCP when `rtcp`) and sends it.
    fn browser_protects(&mut self, plain: &[u8], rtcp: bool) -> (Action, Vec<u8>) {
        let mut slot = plain.to_vec();
        slot.resize(2048, 0);
        let tx = self.browser.tx.as_mut().unwrap();
        let len = if rtcp {
            tx.protect_rtcp(&mut slot, plain.len()).unwrap()
        } else {
            tx.protect_rtp(&mut slot, plain.len()).unwrap()
        };
        let action =
            self.session
                .handle_browser(self.now, BROWSER, &mut slot, len, &mut self.scratch);
        (action, slot)
    }
}

fn to_enterprise(action: Action) -> (usize, SocketAddr, usize) {
    match action {
        Action::ToEnterprise { line, dst, len, .. } => (line, dst, len),
        other => panic!("{other:?}"),
    }
}

#[test]
fn browser_media_is_split_by_mid_ssrc_and_payload_type() {
    let mut h = bundle_harness();
    // Audio by payload type (no extension), video by its MID, then by the learned SSRC.
    let audio = packet(0, 1, 0xa1, None);
    let (action, slot) = h.browser_protects(&audio, false);
    let (line, dst, len) = to_enterprise(action);
    assert_eq!((line, dst), (AUDIO, ENTERPRISE));
    assert_eq!(&slot[..len], &audio[..]);
    let video = packet(96, 1, 0xb1, Some(b"v"));
    let (line, dst, _) = to_enterprise(h.browser_protects(&video, false).0);
    assert_eq!((line, dst), (VIDEO, VIDEO_REMOTE));
    // Payload type 100 is no line's: only the learned SSRC places it.
    let learned = packet(100, 2, 0xb1, None);
    assert_eq!(
        to_enterprise(h.browser_protects(&learned, false).0).0,
        VIDEO
    );
    // An SSRC nothing places is dropped and counted.
    let stray = packet(100, 1, 0xc1, None);
    assert_eq!(h.browser_protects(&stray, false).0, Action::Drop);
    let c = h.counters().browser_to_enterprise;
    assert_eq!((c.rtp_packets, c.drops.unknown_ssrc), (3, 1));
    let snapshot = h.shared.snapshot(h.now);
    assert!(snapshot.media_lines.is_empty(), "no video status published");
    h.shared.status(|s| s.video = Some((VIDEO_REMOTE, None)));
    let lines = h.shared.snapshot(h.now).media_lines;
    assert_eq!(lines[0].browser_to_enterprise.rtp_packets, 1);
    assert_eq!(lines[1].browser_to_enterprise.rtp_packets, 2);
    assert_eq!(lines[1].kind, "video");
}

#[test]
fn both_legs_reach_the_browser_and_feedback_finds_its_leg() {
    let mut h = bundle_harness();
    for (line, ssrc, pt) in [(AUDIO, 0xe0u32, 0u8), (VIDEO, 0xe1, 96)] {
        let rtp = packet(pt, 7, ssrc, None);
        let mut slot = rtp.clone();
        slot.resize(2048, 0);
        let from = if line == VIDEO {
            VIDEO_REMOTE
        } else {
            ENTERPRISE
        };
        let action = h
            .session
            .handle_enterprise(h.now, from, line, false, &mut slot, rtp.len());
        let Action::ToBrowser { dst, len } = action else {
            panic!("{action:?}");
        };
        assert_eq!(dst, BROWSER);
        let rx = h.browser.rx.as_mut().unwrap();
        let plain = rx.unprotect_rtp(&mut slot, len).unwrap();
        assert_eq!(&slot[..plain], &rtp[..]);
    }
    // A PLI about the enterprise's video stream goes to the video leg.
    let pli = [0x81, 206, 0, 2, 0, 0, 0, 0xb1, 0, 0, 0, 0xe1];
    let (line, dst, len) = to_enterprise(h.browser_protects(&pli, true).0);
    assert_eq!((line, dst, len), (VIDEO, VIDEO_REMOTE, pli.len()));
    // A receiver report about the audio stream goes to the audio leg.
    let mut rr = vec![0x81, 201, 0, 7, 0, 0, 0, 0xa1, 0, 0, 0, 0xe0];
    rr.extend_from_slice(&[0; 20]);
    assert_eq!(to_enterprise(h.browser_protects(&rr, true).0).0, AUDIO);
    // RTCP that names nothing known goes to audio.
    let bare = rtcp_rr();
    assert_eq!(to_enterprise(h.browser_protects(&bare, true).0).0, AUDIO);
    // Without video, the video leg's socket carries nothing.
    h.session.update(
        h.now,
        Update {
            video: Some(VideoUpdate::Remove),
            ..Update::default()
        },
    );
    let rtp = packet(96, 8, 0xe1, None);
    let mut slot = rtp.clone();
    slot.resize(2048, 0);
    let action =
        h.session
            .handle_enterprise(h.now, VIDEO_REMOTE, VIDEO, false, &mut slot, rtp.len());
    assert_eq!(action, Action::Drop);
    // And every browser packet is audio's again.
    let video = packet(96, 2, 0xb1, Some(b"v"));
    assert_eq!(to_enterprise(h.browser_protects(&video, false).0).0, AUDIO);
}
