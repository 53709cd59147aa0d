"""Call quality against Chromium's own figures: headless Chromium calls through media-edge
(chromium_call.py's page script on /demo, relay-only through the plan's TURN server) an
enterprise RTP echo (media_peer.py's Echo, opus/96 at 48 kHz) that
- drops every "drop_every"th packet it should echo (loss toward the browser), or takes
  every "lose_every"th packet arriving as lost on the way (loss toward the echo: neither
  counted as received in its reports nor echoed),
- sends every other echoed packet "delay_ms" late (RFC 3550 jitter tending to delay_ms),
- sends an SR with a report block about Chromium's stream every 0.5 s, each held
  "report_delay_ms" after its DLSR was written (that much is added to every round trip
  measured through the echo's reports).

Usage: chromium_quality.py '<plan JSON>'

The plan: chromium_call.py's (api, token, chromium, turn) plus
          "echo": {"drop_every": N, "lose_every": M, "delay_ms": J, "report_delay_ms": R},
          "seconds": S (N or M 0: none of that kind), "readings": K.

The page lets media flow for S seconds, then polls until both sides have their figures
(media-edge: each leg's RTT and peer report; Chromium: remote-inbound-rtp's round trip
and the candidate pair's) and reads Chromium's getStats and GET /v1/sessions/{id}
together ("live"), then K more times 0.7 s apart ("rtt": round trips while media flows). Then it stops sending
(sender.replaceTrack(null)), so the echo stops too, waits for a report from each peer
written after the last packet (media-edge's count of Chromium's reports rising; the echo
reports every 0.5 s) and reads both again ("final": loss and jitter, all counts frozen).

Prints one JSON report: {"page": what the script returned, "echo": the echo's report}.
"""

import asyncio
import json
import sys

from chromium_call import run_page
from media_peer import Echo

# Runs inside chromium_call.py's SCRIPT (pc, sender, id, api, sleep, until and out in
# scope); SECONDS and READINGS are filled in.
QUALITY = r"""
    const figures = async () => {
      const f = {}, all = await pc.getStats();
      all.forEach(v => {
        if (v.type === 'inbound-rtp') f.inbound = {packetsReceived: v.packetsReceived,
          packetsLost: v.packetsLost, jitter: v.jitter, ssrc: v.ssrc};
        if (v.type === 'outbound-rtp') f.outbound = {packetsSent: v.packetsSent, ssrc: v.ssrc};
        if (v.type === 'remote-inbound-rtp') f.remote_inbound = {packetsLost: v.packetsLost,
          fractionLost: v.fractionLost, jitter: v.jitter, roundTripTime: v.roundTripTime,
          roundTripTimeMeasurements: v.roundTripTimeMeasurements, ssrc: v.ssrc};
        if (v.type === 'transport') f.pair_id = v.selectedCandidatePairId;
      });
      const pair = f.pair_id && all.get(f.pair_id);
      if (pair) f.pair = {currentRoundTripTime: pair.currentRoundTripTime,
        responsesReceived: pair.responsesReceived,
        local: all.get(pair.localCandidateId) && all.get(pair.localCandidateId).candidateType};
      f.session = (await api('GET', '/v1/sessions/' + id)).body;
      return f;
    };
    const quality = f => (f.session && f.session.quality) || {};
    // Everything compared is there: each leg's round trip and peer report at media-edge,
    // Chromium's round trips through the echo's reports and through ICE.
    const complete = f => {
      const q = quality(f);
      return ['browser', 'enterprise'].every(l => q[l] && q[l].rtt_ms != null && q[l].reported)
        && f.remote_inbound && f.remote_inbound.roundTripTime !== undefined
        && f.pair && f.pair.currentRoundTripTime !== undefined;
    };
    await sleep(SECONDS * 1000);
    let live = await figures();
    const t0 = Date.now();
    while (!complete(live) && Date.now() - t0 < 40000) { await sleep(500); live = await figures(); }
    out.live = live;
    // Round trips: READINGS readings 0.7 s apart, compared by their medians (one reading
    // can catch one end stalled on a busy machine).
    out.rtt = [];
    for (let i = 0; i < READINGS; i++) {
      const f = await figures(), q = quality(f);
      out.rtt.push({chromium: f.remote_inbound.roundTripTime, pair: f.pair.currentRoundTripTime,
        browser: q.browser.rtt_ms, enterprise: q.enterprise.rtt_ms});
      await sleep(700);
    }
    await sender.replaceTrack(null);
    // The last echoed packets arrive; then a report from Chromium written after them.
    await sleep(1000);
    const reports = f => ((quality(f).browser || {}).reported || {}).reports || 0;
    const stopped = await figures();
    out.stopped = stopped;
    let last = stopped;
    const t1 = Date.now();
    while (reports(last) <= reports(stopped) && Date.now() - t1 < 30000) { await sleep(500); last = await figures(); }
    // The echo's next report (every 0.5 s) is about the stopped stream too.
    await sleep(1500);
    out.final = await figures();
"""


async def main():
    plan = json.loads(sys.argv[1])
    spec = plan["echo"]
    echo = Echo(
        False, spec["drop_every"], spec["delay_ms"], clock=48000, lose_every=spec["lose_every"]
    )
    echo.report_delay = spec["report_delay_ms"] / 1000
    await echo.start()
    report = {}
    try:
        scenario = QUALITY.replace("SECONDS", json.dumps(plan["seconds"])).replace(
            "READINGS", json.dumps(plan["readings"])
        )
        report["page"] = await run_page(plan, echo, scenario)
    finally:
        echo.close()
    report["echo"] = echo.report()
    report["echo"]["frames"] = len(report["echo"]["frames"])
    report["echo"]["handled"] = echo.handled
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
