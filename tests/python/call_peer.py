"""Calls that change, with aiortc as the browser and media_peer.py's RTP echo as the
enterprise side: hold and resume through a browser re-offer, a transfer of the enterprise
leg to another echo, and payload types numbered differently on the two sides.

Usage: call_peer.py '<plan JSON>'

The plan: {"api": "http://127.0.0.1:PORT", "token": "...", "scenario": "hold" |
           "transfer" | "ptmap", "frames": N, "ng": "127.0.0.1:PORT" (optional)}

With "ng", the call is set up and changed through rtpengine's ng protocol as a SIP proxy
drives it (call-id "reoffer", tags "browser" and "pbx"): hold and resume are aiortc's
re-offers (offer with the browser's tag, the echo's answer), the transfer the SIP side's
re-offer with the second echo's SDP (offer with the pbx's tag, aiortc's SDP as the answer).

- "hold": N frames both ways, then aiortc re-offers a=sendonly (hold: media-edge sends it
  nothing), 1.5 s later a=sendrecv again (resume), then N more frames.
- "transfer": the echo speaks SDES-SRTP; after N frames the enterprise leg moves
  (POST /enterprise with a second echo's SDP: another port, another SSRC, sequence numbers
  from 0, timestamps from another base, another key), then N more frames.
- "ptmap": the echo wants PCMU under the dynamic payload type 96 (aiortc sends 0); N frames.

aiortc sends PCMU frames whose payloads encode the frame number (media_peer.payload); every
decoded frame is recorded with the time it came out of aiortc's decoder. Prints one JSON
report: the decoded frames ([frame number, seconds since start]), the marks of each phase
(index into the decoded list and the time), what each echo received, the answers, and the
session (GET) at the end.
"""

import asyncio
import json
import struct
import sys
import time

from media_peer import CODE_OF, Echo, PatternTrack, find_session, frame_number, http, ng
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription


def ng_offer_to_pbx(echo, sdp):
    """The ng offer of aiortc's SDP toward the SIP side."""
    return {
        "command": "offer", "call-id": "reoffer", "from-tag": "browser", "sdp": sdp,
        "transport-protocol": "RTP/SAVP" if echo.sdes else "RTP/AVP", "ICE": "remove",
        "direction": ["public", "enterprise"],
    }


def ng_answer_from_pbx(echo):
    """The ng answer of the echo (the SIP side) to aiortc's offer."""
    return {
        "command": "answer", "call-id": "reoffer", "from-tag": "browser", "to-tag": "pbx",
        "sdp": echo.sdp(), "ICE": "force", "DTLS": "passive",
    }


async def ng_offer_answer(plan, echo, sdp):
    """aiortc's offer through ng, the echo's answer: returns the result and, as the API
    names them, the answer for aiortc and the SDP the echo got."""
    offered = await ng(plan, ng_offer_to_pbx(echo, sdp))
    if offered.get("result") != "ok":
        return offered.get("error-reason"), offered
    # The same offer again (a re-sent INVITE, a new cookie): the same SDP, nothing redone.
    repeated = await ng(plan, ng_offer_to_pbx(echo, sdp))
    echo.set_remote_sdp(offered["sdp"])
    answered = await ng(plan, ng_answer_from_pbx(echo))
    if answered.get("result") != "ok":
        return answered.get("error-reason"), answered
    return "ok", {
        "answer": answered["sdp"], "enterprise-sdp": offered["sdp"],
        "repeated-offer-same": repeated.get("sdp") == offered["sdp"],
    }


async def reoffer(plan, pc, sid, direction, echo):
    """aiortc re-offers with its transceiver's direction set to `direction`; media-edge's
    answer is applied. Returns the status (with ng: the result) and the answer."""
    pc.getTransceivers()[0].direction = direction
    await pc.setLocalDescription(await pc.createOffer())
    if plan.get("ng"):
        status, answered = await ng_offer_answer(plan, echo, pc.localDescription.sdp)
        if status == "ok":
            await pc.setRemoteDescription(
                RTCSessionDescription(sdp=answered["answer"], type="answer")
            )
        return status, answered
    status, answered = await http(
        plan, "POST", f"/v1/sessions/{sid}/offer", {"offer": pc.localDescription.sdp}
    )
    if status == 200:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answered["answer"], type="answer"))
    return status, answered


async def ng_transfer(plan, pc, second):
    """The SIP side re-offers through ng with the second echo's SDP (a transfer); aiortc,
    whose transport stays, answers with its SDP in force. Returns the result and the SDPs,
    as the API names them."""
    offered = await ng(plan, {
        "command": "offer", "call-id": "reoffer", "from-tag": "pbx", "to-tag": "browser",
        "sdp": second.sdp(), "transport-protocol": "UDP/TLS/RTP/SAVPF", "ICE": "force",
        "direction": ["enterprise", "public"],
    })
    if offered.get("result") != "ok":
        return offered.get("error-reason"), offered
    answered = await ng(plan, {
        "command": "answer", "call-id": "reoffer", "from-tag": "pbx", "to-tag": "browser",
        "sdp": pc.localDescription.sdp, "transport-protocol": "RTP/SAVP", "ICE": "remove",
    })
    if answered.get("result") != "ok":
        return answered.get("error-reason"), answered
    return 200, {"enterprise-sdp": answered["sdp"], "browser-sdp": offered["sdp"]}


async def main():
    plan = json.loads(sys.argv[1])
    scenario, wanted = plan["scenario"], plan["frames"]
    start = time.monotonic()
    report = {"scenario": scenario, "marks": {}}
    echo = Echo(scenario == "transfer")
    if scenario == "ptmap":
        echo.pcmu_pt = 96
    await echo.start()
    pc = RTCPeerConnection()
    decoded = []

    @pc.on("track")
    def on_track(track):
        async def consume():
            while True:
                try:
                    frame = await track.recv()
                except Exception:
                    return
                data = bytes(frame.planes[0])[: 2 * frame.samples]
                values = struct.unpack(f"<{frame.samples}h", data)
                codes = bytes(CODE_OF.get(v, 0x7F) for v in values)
                decoded.append([frame_number(codes), round(time.monotonic() - start, 4)])

        asyncio.ensure_future(consume())

    def mark(name):
        report["marks"][name] = [len(decoded), round(time.monotonic() - start, 4)]

    async def until_decoded(count, timeout=40):
        """Until `count` more frames than now were decoded (or timeout)."""
        goal = len(decoded) + count
        deadline = time.monotonic() + timeout
        while len(decoded) < goal and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    track = PatternTrack()
    transceiver = pc.addTransceiver(track, direction="sendrecv")
    transceiver.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/PCMU"]
    )
    await pc.setLocalDescription(await pc.createOffer())
    target = {"sdp": echo.sdp()} if scenario != "hold" else echo.target()
    if plan.get("ng"):
        result, created = await ng_offer_answer(plan, echo, pc.localDescription.sdp)
        status = 201 if result == "ok" else result
        if result == "ok":
            created["id"] = await find_session(plan, created["answer"])
    else:
        status, created = await http(
            plan, "POST", "/v1/sessions",
            {"offer": pc.localDescription.sdp, "enterprise": target},
        )
    report["create_status"] = status
    if status != 201:
        report["error"] = created
        print(json.dumps(report))
        return
    sid = created["id"]
    report["answer"], report["enterprise_sdp"] = created["answer"], created["enterprise-sdp"]
    echo.set_remote_sdp(created["enterprise-sdp"])
    await pc.setRemoteDescription(RTCSessionDescription(sdp=created["answer"], type="answer"))
    await until_decoded(wanted)
    mark("first")

    second = None
    if scenario == "hold":
        status, answered = await reoffer(plan, pc, sid, "sendonly", echo)
        report["hold"] = {"status": status, "answer": answered}
        mark("held")
        # The forwarder's worker applies the plan right after the API answered.
        await asyncio.sleep(0.5)
        _, report["session_held"] = await http(plan, "GET", f"/v1/sessions/{sid}")
        await asyncio.sleep(1.5)
        _, report["session_before_resume"] = await http(plan, "GET", f"/v1/sessions/{sid}")
        mark("resuming")
        status, answered = await reoffer(plan, pc, sid, "sendrecv", echo)
        report["resume"] = {"status": status, "answer": answered}
        mark("resumed")
        # A few frames from before the hold may still come out of aiortc's jitter buffer.
        await until_decoded(wanted + 10)
    elif scenario == "transfer":
        second = Echo(True)
        second.ssrc = 0x7A45F3E1
        second.renumber = True
        await second.start()
        mark("moving")
        if plan.get("ng"):
            status, moved = await ng_transfer(plan, pc, second)
        else:
            status, moved = await http(
                plan, "POST", f"/v1/sessions/{sid}/enterprise", {"sdp": second.sdp()}
            )
        report["move"] = {"status": status, "answer": moved}
        if status == 200:
            second.set_remote_sdp(moved["enterprise-sdp"])
        mark("moved")
        await until_decoded(wanted)
    mark("end")
    _, report["session"] = await http(plan, "GET", f"/v1/sessions/{sid}")
    if plan.get("ng"):
        report["ng_query"] = await ng(plan, {"command": "query", "call-id": "reoffer"})
        deleted = await ng(plan, {"command": "delete", "call-id": "reoffer"})
        report["delete_status"] = 204 if deleted.get("result") == "ok" else deleted
    else:
        report["delete_status"], _ = await http(plan, "DELETE", f"/v1/sessions/{sid}")
    track.halted = True
    await pc.close()
    echo.close()
    report["echo"] = echo.report()
    if second is not None:
        second.close()
        report["second_echo"] = second.report()
    report["decoded"] = decoded
    report["sent"] = track.k
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
