//! A video m-line through the real relay over loopback ([`Forwarder::update_session`] with
//! [`VideoChange`]): the video leg latches its enterprise source like the audio leg; a
//! re-offer naming the same remote (hold, codecs) keeps that latch, a new remote releases
//! it and refuses the old source; removing video frees its port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{eventually, payload, rtp, Browser, RtpPeer, HANG_GUARD};
use edge_forward::{
    BundleDemux, EnterpriseRemote, Forwarder, LineIds, SessionSpec, SessionUpdate, VideoChange,
    VideoSpec,
};

/// How long a test waits for a packet that must not come.
const QUIET: Duration = Duration::from_millis(200);
/// The browser's video SSRC.
const VIDEO_SSRC: u32 = 0x71de_0001;

/// A VP8-numbered (96) RTP packet of `ssrc`.
fn video(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = rtp(seq, ssrc, &payload(11, seq));
    p[1] = 96;
    p
}

/// The video line toward `remote`, the browser's video SSRC declared.
fn video_spec(remote: SocketAddr, audio_ssrc: u32) -> VideoSpec {
    let mut spec = VideoSpec::new();
    spec.enterprise = Some(EnterpriseRemote::new(remote));
    spec.rtcp_mux_enterprise = true;
    let mut demux = BundleDemux::default();
    demux.audio = LineIds::new(Some("0".into()), vec![audio_ssrc], vec![0]);
    demux.video = LineIds::new(Some("1".into()), vec![VIDEO_SSRC], vec![96]);
    spec.demux = demux;
    spec
}

fn set_video(relay: &Forwarder, id: edge_forward::SessionId, spec: VideoSpec) {
    let mut update = SessionUpdate::default();
    update.video = Some(VideoChange::Set(Box::new(spec)));
    relay.update_session(id, update).unwrap();
}

#[test]
fn the_video_leg_latches_keeps_its_latch_on_a_reoffer_and_moves_on_a_new_remote() {
    let relay = Forwarder::start(
        common::config((45200, 45209), (35200, 35209), 1),
        common::dtls_config(),
    )
    .unwrap();
    let mut browser = Browser::new();
    // The SDP names an address nobody sends from; the endpoint sends from its own (NAT).
    let stated: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let mut peer = RtpPeer::plain();
    let mut spec = SessionSpec::new();
    spec.browser = Some(browser.remote());
    spec.enterprise = Some(EnterpriseRemote::new(stated));
    spec.rtcp_mux_enterprise = true;
    spec.video = Some(video_spec(stated, browser.ssrc));
    let info = relay.create_session(spec).unwrap();
    let video_rtp = info.video.unwrap().rtp;
    assert_ne!(video_rtp, info.enterprise_rtp);
    browser.connect(&info).unwrap();

    // The endpoint's video latches the leg; the browser's video goes back to it.
    let from_peer = video(1, 0xe1);
    peer.send(video_rtp, &from_peer);
    assert_eq!(browser.recv_media(HANG_GUARD).unwrap(), from_peer);
    let to_peer = video(1, VIDEO_SSRC);
    let srtp = browser.protect(&to_peer, false);
    browser.send_raw(&srtp);
    assert_eq!(peer.recv(HANG_GUARD).unwrap(), to_peer);

    // A re-offer naming the same remote (hold, codecs): the latch holds.
    set_video(&relay, info.id, video_spec(stated, browser.ssrc));
    let to_peer = video(2, VIDEO_SSRC);
    let srtp = browser.protect(&to_peer, false);
    browser.send_raw(&srtp);
    assert_eq!(peer.recv(HANG_GUARD).unwrap(), to_peer);
    peer.send(video_rtp, &video(2, 0xe1));
    assert_eq!(browser.recv_media(HANG_GUARD).unwrap()[2..4], [0, 2]);

    // A new remote: the video leg moves there, the old source is refused.
    let mut moved = RtpPeer::plain();
    set_video(&relay, info.id, video_spec(moved.addr(), browser.ssrc));
    let to_moved = video(3, VIDEO_SSRC);
    let srtp = browser.protect(&to_moved, false);
    browser.send_raw(&srtp);
    assert_eq!(moved.recv(HANG_GUARD).unwrap(), to_moved);
    peer.send(video_rtp, &video(3, 0xe1));
    assert!(eventually(HANG_GUARD, || {
        let lines = relay.session(info.id).unwrap().media_lines;
        lines[1].enterprise_to_browser.drops.unexpected_source == 1
    }));
    assert!(browser.recv_media(QUIET).is_none());
    // The audio leg saw none of it.
    let lines = relay.session(info.id).unwrap().media_lines;
    assert_eq!(lines[0].browser_to_enterprise.rtp_packets, 0, "{lines:?}");

    // Video removed: its port is free once the update is in force.
    let mut update = SessionUpdate::default();
    update.video = Some(VideoChange::Remove);
    let info = relay.update_session(info.id, update).unwrap();
    assert!(info.video.is_none());
    assert!(std::net::UdpSocket::bind(video_rtp).is_ok());
    assert!(relay.session(info.id).unwrap().media_lines.is_empty());
    relay.shutdown();
}

/// A video packet carrying the MID header extension (id 5) naming `mid`.
fn with_mid(seq: u16, ssrc: u32, mid: u8) -> Vec<u8> {
    let mut p = video(seq, ssrc);
    p[0] |= 0x10;
    let tail = p.split_off(12);
    p.extend_from_slice(&[0xbe, 0xde, 0, 1, 5 << 4, mid, 0, 0]);
    p.extend_from_slice(&tail);
    p
}

#[test]
fn an_ssrc_storm_from_the_browser_is_counted_and_the_call_goes_on() {
    let relay = Forwarder::start(
        common::config((45210, 45219), (35210, 35219), 1),
        common::dtls_config(),
    )
    .unwrap();
    let mut browser = Browser::new();
    let mut audio_peer = RtpPeer::plain();
    let mut video_peer = RtpPeer::plain();
    let mut spec = SessionSpec::new();
    spec.browser = Some(browser.remote());
    spec.enterprise = Some(EnterpriseRemote::new(audio_peer.addr()));
    spec.rtcp_mux_enterprise = true;
    let mut line = video_spec(video_peer.addr(), browser.ssrc);
    line.demux.mid_extension = Some(5);
    spec.video = Some(line);
    let info = relay.create_session(spec).unwrap();
    browser.connect(&info).unwrap();
    let send = |browser: &mut Browser, packet: &[u8]| {
        let srtp = browser.protect(packet, false);
        browser.send_raw(&srtp);
    };
    // The running video stream, placed by its mid.
    send(&mut browser, &with_mid(1, VIDEO_SSRC, b'1'));
    assert_eq!(
        video_peer.recv(HANG_GUARD).unwrap()[8..12],
        VIDEO_SSRC.to_be_bytes()
    );
    // A storm of other SSRCs (the SRTP contexts hold 16 SSRCs each way, so a browser has
    // few to storm with; the demux table's own bound is a unit test): 300 packets of a
    // payload type no line has, without a mid (nowhere to go), 300 naming the video line's
    // mid (placed, and dropped there as foreign to the running stream).
    for i in 0..300u16 {
        let ssrc = u32::from(i % 6);
        let mut stray = video(i, 0x5000_0000 + ssrc);
        stray[1] = 50;
        send(&mut browser, &stray);
        send(&mut browser, &with_mid(i, 0x6000_0000 + ssrc, b'1'));
    }
    assert!(eventually(HANG_GUARD, || {
        let s = relay.session(info.id).unwrap();
        let lines = &s.media_lines;
        s.counters.browser_to_enterprise.drops.unknown_ssrc == 300
            && lines[1].browser_to_enterprise.drops.foreign_ssrc == 300
    }));
    // Both lines still carry their streams.
    send(&mut browser, &with_mid(2, VIDEO_SSRC, b'1'));
    assert_eq!(video_peer.recv(HANG_GUARD).unwrap()[2..4], [0, 2]);
    browser.send_rtp(1, &payload(1, 1));
    assert_eq!(
        audio_peer.recv(HANG_GUARD).unwrap(),
        rtp(1, browser.ssrc, &payload(1, 1))
    );
    relay.shutdown();
}
