"""Headless Chromium with a fake camera and microphone (--use-fake-device-for-media-stream)
calls through media-edge with audio and video in one BUNDLE, relay-only through
media-edge's TURN server, driven over the DevTools protocol from the API's own origin
(/demo, for same-origin fetches). The enterprise side is an RTP echo per m-line
(video_peer.py's): opus under 96 on one port pair, VP8 under 100 (NACK, PLI) on another.
The video echo drops a run of packets once, so Chromium cannot decode on and asks for a key
frame (PLI), which must reach the video echo.

Usage: chromium_video.py '<plan JSON>'

The plan: {"api": "http://127.0.0.1:PORT", "token": "...", "chromium": "/usr/bin/chromium",
           "scenario": "bundle" | "reoffer",
           "turn": {"urls": "turn:...", "username": "...", "credential": "..."}}

"bundle": audio and video from the first offer, as above. "reoffer": the call starts with
audio alone (the echo's SDP already has its video line), a re-offer adds the camera's
track (video decoded), a later one stops its transceiver (the video line at port 0); the
session is read after each.

Prints one JSON report: what the page returned (the answer, the enterprise SDP, Chromium's
inbound video statistics twice a few seconds apart, the session) and per echo what it
received (packets, payload types, RTCP types and media SSRCs).
"""

import asyncio
import json
import sys

from demo_page import Chromium
from video_peer import AUDIO_SSRC, VIDEO_SSRC, Echo, bind_pair

SCRIPT = r"""(async () => {
  const out = {};
  const api = async (method, path, body) => {
    const r = await fetch(path, {method, headers: {'Authorization': 'Bearer ' + TOKEN,
      'Content-Type': 'application/json'}, body: body === undefined ? undefined : JSON.stringify(body)});
    const text = await r.text();
    return {status: r.status, body: text ? JSON.parse(text) : null};
  };
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const session = async id => (await api('GET', '/v1/sessions/' + id)).body;
  const until = async (cond, ms) => { const t = Date.now(); while (!(await cond()) && Date.now() - t < ms) await sleep(100); return cond(); };
  const video = async pc => {
    const s = {}, all = await pc.getStats();
    all.forEach(v => {
      if (v.type === 'inbound-rtp' && v.kind === 'video') {
        s.frames_decoded = v.framesDecoded; s.packets = v.packetsReceived; s.pli = v.pliCount;
        s.nack = v.nackCount; s.codec = all.get(v.codecId) && all.get(v.codecId).mimeType;
      }
      if (v.type === 'inbound-rtp' && v.kind === 'audio') s.audio_packets = v.packetsReceived;
      if (v.type === 'outbound-rtp' && v.kind === 'video') { s.sent = v.packetsSent; s.sender_pli = v.pliCount; }
    });
    return s;
  };
  try {
    const media = await navigator.mediaDevices.getUserMedia({audio: true, video: {width: 320, height: 240}});
    const pc = new RTCPeerConnection({iceServers: [TURN], iceTransportPolicy: 'relay'});
    media.getTracks().filter(t => WITH_VIDEO || t.kind === 'audio').forEach(t => pc.addTrack(t, media));
    await pc.setLocalDescription(await pc.createOffer());
    await until(() => pc.iceGatheringState === 'complete', 10000);
    out.offer = pc.localDescription.sdp;
    const created = await api('POST', '/v1/sessions', {offer: pc.localDescription.sdp, enterprise: ENTERPRISE});
    out.create = created.status;
    if (created.status !== 201) { out.error = created.body; return JSON.stringify(out); }
    const id = created.body.id;
    out.answer = created.body.answer;
    out.enterprise_sdp = created.body['enterprise-sdp'];
    await pc.setRemoteDescription({type: 'answer', sdp: created.body.answer});
    out.connected = await until(() => pc.connectionState === 'connected', 20000);
    const reoffer = async () => {
      await pc.setLocalDescription(await pc.createOffer());
      await until(() => pc.iceGatheringState === 'complete', 10000);
      const r = await api('POST', '/v1/sessions/' + id + '/offer', {offer: pc.localDescription.sdp});
      if (r.status === 200) await pc.setRemoteDescription({type: 'answer', sdp: r.body.answer});
      return r;
    };
    /*SCENARIO*/
    out.session = await session(id);
    out.delete = (await api('DELETE', '/v1/sessions/' + id)).status;
    pc.close();
    media.getTracks().forEach(t => t.stop());
  } catch (e) { out.error = String(e); }
  return JSON.stringify(out);
})()"""


# Audio and video from the first offer; a lost run of video packets brings a PLI.
BUNDLE = r"""
    await until(async () => ((await video(pc)).frames_decoded || 0) >= 30, 20000);
    out.first = await video(pc);
    await until(async () => ((await video(pc)).pli || 0) >= 1, 15000);
    await sleep(3000);
    out.second = await video(pc);
"""

# Audio first; video added by a re-offer, then removed by another.
REOFFER = r"""
    await sleep(1000);
    out.audio_only = await video(pc);
    out.audio_only_session = await session(id);
    pc.addTrack(media.getVideoTracks()[0], media);
    const added = await reoffer();
    out.added = {status: added.status, answer: added.body.answer, enterprise_sdp: added.body['enterprise-sdp']};
    await until(async () => ((await video(pc)).frames_decoded || 0) >= 30, 20000);
    out.first = await video(pc);
    out.added_session = await session(id);
    pc.getTransceivers().find(t => t.sender.track && t.sender.track.kind === 'video').stop();
    const removed = await reoffer();
    out.removed = {status: removed.status, answer: removed.body.answer, enterprise_sdp: removed.body['enterprise-sdp']};
    await sleep(1500);
    out.second = await video(pc);
    await sleep(1500);
    out.third = await video(pc);
"""


async def main():
    plan = json.loads(sys.argv[1])
    loop = asyncio.get_running_loop()
    audio = Echo(AUDIO_SSRC)
    video = Echo(VIDEO_SSRC, drop=0)
    # Drop a run of video packets once, after the call is well under way.
    if plan["scenario"] == "bundle":
        video.drop_run = range(300, 340)
    audio_port, audio_socks = await bind_pair(loop, audio)
    video_port, video_socks = await bind_pair(loop, video)
    enterprise_sdp = (
        "v=0\r\no=echo 1 1 IN IP4 127.0.0.1\r\ns=echo\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {audio_port} RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\na=sendrecv\r\n"
        f"m=video {video_port} RTP/AVPF 100\r\na=rtpmap:100 VP8/90000\r\n"
        "a=rtcp-fb:100 nack\r\na=rtcp-fb:100 nack pli\r\na=sendrecv\r\n"
    )
    script = (
        SCRIPT.replace("TOKEN", json.dumps(plan["token"]), 1)
        .replace("ENTERPRISE", json.dumps({"sdp": enterprise_sdp}), 1)
        .replace("[TURN]", json.dumps([plan["turn"]]), 1)
        .replace("WITH_VIDEO", json.dumps(plan["scenario"] == "bundle"), 1)
        .replace("/*SCENARIO*/", {"bundle": BUNDLE, "reoffer": REOFFER}[plan["scenario"]], 1)
    )
    report = {}
    fake = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    try:
        async with Chromium(plan["chromium"], fake) as tools:
            await tools.call("Page.navigate", url=f"{plan['api']}/demo")
            await asyncio.sleep(1)
            report["page"] = json.loads(await tools.evaluate(script))
    finally:
        for sock in audio_socks + video_socks:
            sock.close()
    report["echo"] = {
        name: {
            "rtp": e.rtp,
            "payload_types": sorted(e.payload_types),
            "rtcp": e.rtcp,
            "ssrc": e.ssrc,
            "plis_sent": e.plis_sent,
        }
        for name, e in (("audio", audio), ("video", video))
    }
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
