"""Headless Chromium calls through media-edge, driven over the DevTools protocol from a page
of the API's own origin (/demo, for same-origin fetches), with media_peer.py's RTP echo as
the enterprise side speaking opus/96 and telephone-event/98 (Chromium numbers them 111 and
126 or so). "dtmf_restart": DTMF through RTCDTMFSender, a re-offer with another
fingerprint (refused, the call going on), then an ICE restart (pc.restartIce()) answered
by POST /v1/sessions/{id}/offer, and media before and after it. "hold_transfer": hold
(a=sendonly) and resume by re-offers, then the enterprise leg moves to a second echo (its
own port and SSRC, sequence numbers from 0).

Usage: chromium_call.py '<plan JSON>'

The plan: {"api": "http://127.0.0.1:PORT", "token": "...", "chromium": "/usr/bin/chromium",
           "scenario": "dtmf_restart" | "hold_transfer",
           "turn": {"urls": "turn:...", "username": "...", "credential": "..."}}

ICE is relay-only through that TURN server (the test network has loopback only).

Prints one JSON report: what the page's script returned (the answers, Chromium's statistics
before and after the restart) and the echo's report.
"""

import asyncio
import json
import sys

from demo_page import Chromium
from media_peer import Echo

# The call, run inside the page; TOKEN, ENTERPRISE, [TURN] and the scenario are filled in.
SCRIPT = r"""(async () => {
  const out = {};
  const api = async (method, path, body) => {
    const r = await fetch(path, {method, headers: {'Authorization': 'Bearer ' + TOKEN,
      'Content-Type': 'application/json'}, body: body === undefined ? undefined : JSON.stringify(body)});
    const text = await r.text();
    return {status: r.status, body: text ? JSON.parse(text) : null};
  };
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const until = async (cond, ms) => { const t = Date.now(); while (!cond() && Date.now() - t < ms) await sleep(50); return cond(); };
  const gathered = pc => until(() => pc.iceGatheringState === 'complete', 10000);
  const stats = async pc => {
    const s = {}, all = await pc.getStats();
    all.forEach(v => {
      if (v.type === 'inbound-rtp') {
        s.received = v.packetsReceived; s.lost = v.packetsLost; s.concealed = v.concealedSamples;
        s.codec = all.get(v.codecId) && all.get(v.codecId).mimeType;
      }
      if (v.type === 'outbound-rtp') s.sent = v.packetsSent;
      if (v.type === 'transport') { s.dtls = v.dtlsState; s.pair_changes = v.selectedCandidatePairChanges; s.pair = v.selectedCandidatePairId; }
    });
    return s;
  };
  try {
    const pc = new RTCPeerConnection({iceServers: [TURN], iceTransportPolicy: 'relay'});
    const ctx = new AudioContext(), osc = ctx.createOscillator(), dst = ctx.createMediaStreamDestination();
    osc.connect(dst); osc.start();
    const sender = pc.addTrack(dst.stream.getAudioTracks()[0], dst.stream);
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const created = await api('POST', '/v1/sessions', {offer: pc.localDescription.sdp, enterprise: ENTERPRISE});
    out.create = created.status;
    if (created.status !== 201) { out.error = created.body; return JSON.stringify(out); }
    const id = created.body.id;
    out.id = id;
    out.answer = created.body.answer;
    out.enterprise_sdp = created.body['enterprise-sdp'];
    await pc.setRemoteDescription({type: 'answer', sdp: created.body.answer});
    out.connected = await until(() => pc.connectionState === 'connected', 20000);
    const reoffer = async () => {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const r = await api('POST', '/v1/sessions/' + id + '/offer', {offer: pc.localDescription.sdp});
      if (r.status === 200) await pc.setRemoteDescription({type: 'answer', sdp: r.body.answer});
      return r;
    };
    await sleep(1000);
    /*SCENARIO*/
    out.session = (await api('GET', '/v1/sessions/' + id)).body;
    out.delete = (await api('DELETE', '/v1/sessions/' + id)).status;
    pc.close();
  } catch (e) { out.error = String(e); }
  return JSON.stringify(out);
})()"""


# DTMF, a refused re-offer, an ICE restart.
DTMF_RESTART = r"""
    sender.dtmf.insertDTMF('159', 100, 70);
    await until(() => sender.dtmf.toneBuffer === '', 10000);
    await sleep(1000);
    // Bad input mid-call: a re-offer with another certificate's fingerprint.
    out.before_bad = await stats(pc);
    const fake = 'a=fingerprint:sha-256 ' + Array(32).fill('AB').join(':');
    const tampered = pc.localDescription.sdp.replace(/a=fingerprint:sha-256 [0-9A-F:]+/g, fake);
    const bad = await api('POST', '/v1/sessions/' + id + '/offer', {offer: tampered});
    out.bad_fingerprint = {status: bad.status, body: bad.body};
    await sleep(1000);
    out.before = await stats(pc);
    pc.restartIce();
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    out.restart_offer = pc.localDescription.sdp;
    const re = await api('POST', '/v1/sessions/' + id + '/offer', {offer: pc.localDescription.sdp});
    out.restart = re.status;
    if (re.status !== 200) { out.error = re.body; return JSON.stringify(out); }
    out.restart_answer = re.body.answer;
    await pc.setRemoteDescription({type: 'answer', sdp: re.body.answer});
    out.restarted = await until(() => ['connected', 'completed'].includes(pc.iceConnectionState), 20000);
    await sleep(1000);
    out.after_restart = await stats(pc);
    await sleep(2000);
    out.later = await stats(pc);
    out.ice_state = pc.iceConnectionState;
"""

# Hold (sendonly) and resume by re-offers, then the enterprise leg moves to SECOND.
HOLD_TRANSFER = r"""
    const transceiver = pc.getTransceivers()[0];
    transceiver.direction = 'sendonly';
    out.hold = (await reoffer()).status;
    const counters = async () => (await api('GET', '/v1/sessions/' + id)).body.counters;
    await sleep(500);
    out.held_a = await stats(pc);
    out.held_a_counters = await counters();
    await sleep(1500);
    out.held_b = await stats(pc);
    out.held_b_counters = await counters();
    transceiver.direction = 'sendrecv';
    out.resume = (await reoffer()).status;
    await sleep(1500);
    out.resumed = await stats(pc);
    out.move = (await api('POST', '/v1/sessions/' + id + '/enterprise', {sdp: SECOND})).status;
    await sleep(2000);
    out.moved = await stats(pc);
"""

def opus_sdp(echo):
    """An echo's SDP: opus under 96, telephone-event under 98, RTCP on its own port."""
    return (
        "v=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=echo\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {echo.rtp_addr[1]} RTP/AVP 96 98\r\na=rtpmap:96 opus/48000/2\r\n"
        "a=rtpmap:98 telephone-event/8000\r\na=fmtp:98 0-16\r\n"
        f"a=rtcp:{echo.rtcp_addr[1]}\r\na=sendrecv\r\n"
    )


async def run_page(plan, echo, scenario):
    """Runs SCRIPT with `scenario` in headless Chromium on the API's /demo page (the plan's
    api, token, chromium and turn), `echo` the enterprise side; returns the script's result."""
    script = (
        SCRIPT.replace("TOKEN", json.dumps(plan["token"]), 1)
        .replace("ENTERPRISE", json.dumps({"sdp": opus_sdp(echo)}), 1)
        .replace("[TURN]", json.dumps([plan["turn"]]), 1)
        .replace("/*SCENARIO*/", scenario, 1)
    )
    async with Chromium(plan["chromium"]) as tools:
        await tools.call("Page.navigate", url=f"{plan['api']}/demo")
        await asyncio.sleep(1)
        return json.loads(await tools.evaluate(script))


async def main():
    plan = json.loads(sys.argv[1])
    echo = Echo(False)
    echo.dtmf_pt = 98
    await echo.start()
    # The second echo (a transfer's target): its own SSRC, sequence numbers from 0.
    second = Echo(False)
    second.ssrc = 0x7A45F3E1
    second.renumber = True
    await second.start()
    scenario = {"dtmf_restart": DTMF_RESTART, "hold_transfer": HOLD_TRANSFER}[plan["scenario"]]
    report = {}
    try:
        scenario = scenario.replace("SECOND", json.dumps(opus_sdp(second)))
        report["page"] = await run_page(plan, echo, scenario)
    finally:
        echo.close()
        second.close()
    for name, e in [("echo", echo), ("second_echo", second)]:
        report[name] = e.report()
        report[name]["frames"] = len(report[name]["frames"])
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
