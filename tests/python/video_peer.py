"""aiortc as the browser of an audio + video call through media-edge (BUNDLE), and a UDP
RTP echo per m-line as the enterprise side.

Usage: video_peer.py '<plan JSON>'

The plan: {"api": "http://127.0.0.1:PORT", "token": "...", "frames": N,
           "drop_video": K (the echo drops its K-th video packet once: aiortc then asks for
                            it again with a NACK and, the frame never completing, for a
                            key frame with a PLI)}

aiortc offers one audio track (a tone) and one video track (VP8, frames of changing
content); the echo's SDP (audio on one port pair, VP8 under payload type 100 with NACK and
PLI on another) is the enterprise side of POST /v1/sessions. Each echo sends every RTP
packet back on its own socket under its own SSRC and records the RTCP it receives. The call
ends when aiortc decoded N video frames and N audio frames and the video echo saw a PLI
(or after 60 s); the session is read through GET and removed through DELETE.

Prints one JSON report: frames decoded per kind, per echo the RTP packets, the payload
types and the RTCP packet types (PLI, NACK, ...) and media SSRCs it received, and the
session as GET showed it. The Rust test asserts on it.
"""

import asyncio
import fractions
import json
import math
import socket
import struct
import sys
import time
import urllib.request

import aioice.ice

# Keep ICE on loopback: aioice would otherwise offer this machine's interface addresses.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamTrack, VideoStreamTrack  # noqa: E402
from av import AudioFrame, VideoFrame  # noqa: E402

AUDIO_SSRC = 0x0A0D1000
VIDEO_SSRC = 0x071DE000
WIDTH, HEIGHT = 320, 240


class Tone(MediaStreamTrack):
    """20 ms frames of a 440 Hz tone at 8 kHz, paced in real time."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        self.k = 0
        self.start = None

    async def recv(self):
        if self.start is None:
            self.start = time.monotonic()
        delay = self.start + self.k * 0.02 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        samples = [int(8000 * math.sin(2 * math.pi * 440 * (self.k * 160 + i) / 8000))
                   for i in range(160)]
        frame = AudioFrame(format="s16", layout="mono", samples=160)
        frame.planes[0].update(struct.pack("<160h", *samples))
        frame.sample_rate = 8000
        frame.pts = self.k * 160
        frame.time_base = fractions.Fraction(1, 8000)
        self.k += 1
        return frame


class Pattern(VideoStreamTrack):
    """Frames whose luma is a moving gradient, 30 per second."""

    def __init__(self):
        super().__init__()
        self.k = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=WIDTH, height=HEIGHT, format="yuv420p")
        row = bytes((x + self.k * 4) % 256 for x in range(WIDTH))
        frame.planes[0].update(row * HEIGHT)
        frame.planes[1].update(bytes([128]) * (WIDTH * HEIGHT // 4))
        frame.planes[2].update(bytes([128]) * (WIDTH * HEIGHT // 4))
        frame.pts = pts
        frame.time_base = time_base
        self.k += 1
        return frame


class Echo(asyncio.DatagramProtocol):
    """One m-line's enterprise side: RTP back to its source under `ssrc`; RTCP recorded. A
    key-frame request about its stream (PLI, FIR) is passed back as a PLI about the stream it
    echoes, as an endpoint relaying someone else's video does: the key frame can only come
    from the original sender (without it, a key frame lost before the first decode would
    never be replaced)."""

    def __init__(self, ssrc, drop=0):
        self.ssrc = ssrc
        self.drop = drop
        # Packet numbers (counted from 1) dropped as well: a run, for a lost frame.
        self.drop_run = range(0)
        self.rtp = 0
        self.payload_types = set()
        self.sources = set()
        self.rtcp = []  # (packet type, fmt, media source SSRC)
        self.transport = None
        # The SSRC of the stream it echoes (from the RTP it receives), and the PLIs it sent.
        self.source_ssrc = None
        self.plis_sent = 0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if len(data) < 12:
            return
        if 192 <= data[1] <= 223:
            self.record_rtcp(data, lambda out: self.transport.sendto(out, addr))
            return
        self.rtp += 1
        self.source_ssrc = struct.unpack("!I", data[8:12])[0]
        self.sources.add(f"{addr[0]}:{addr[1]}")
        self.payload_types.add(data[1] & 0x7F)
        if self.rtp == self.drop or self.rtp in self.drop_run:
            return
        out = bytearray(data)
        out[8:12] = struct.pack("!I", self.ssrc)
        self.transport.sendto(bytes(out), addr)

    def record_rtcp(self, data, reply):
        """Records each RTCP packet of `data`; `reply` sends a packet back to where it came
        from."""
        at = 0
        key_frame_asked = False
        while at + 8 <= len(data):
            fmt, pt = data[at] & 0x1F, data[at + 1]
            words = struct.unpack("!H", data[at + 2:at + 4])[0]
            media = None
            if pt in (205, 206) and at + 12 <= len(data):
                media = struct.unpack("!I", data[at + 8:at + 12])[0]
            self.rtcp.append((pt, fmt, media))
            key_frame_asked |= pt == 206 and fmt in (1, 4) and media == self.ssrc
            at += 4 * (words + 1)
        if key_frame_asked and self.source_ssrc is not None:
            reply(struct.pack("!BBHII", 0x81, 206, 2, self.ssrc, self.source_ssrc))
            self.plis_sent += 1

    def saw_pli(self):
        return any(pt == 206 and fmt == 1 for pt, fmt, _ in self.rtcp)


class Rtcp(asyncio.DatagramProtocol):
    """The RTCP socket of an echo: hands what arrives to its echo."""

    def __init__(self, echo):
        self.echo = echo
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.echo.record_rtcp(data, lambda out: self.transport.sendto(out, addr))


def http(plan, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(plan["api"] + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + plan["token"])
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
            return resp.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode() or "null")


async def bind_pair(loop, protocol):
    """An RTP socket on an even port with the RTCP socket on the next one."""
    for _ in range(50):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1] & ~1
        probe.close()
        try:
            rtp, _ = await loop.create_datagram_endpoint(
                lambda: protocol, local_addr=("127.0.0.1", port))
        except OSError:
            continue
        try:
            rtcp, _ = await loop.create_datagram_endpoint(
                lambda: Rtcp(protocol), local_addr=("127.0.0.1", port + 1))
        except OSError:
            rtp.close()
            continue
        return port, (rtp, rtcp)
    raise RuntimeError("no free port pair")


async def count_frames(track, counter, key):
    while True:
        try:
            await track.recv()
        except Exception:  # the track ended with the call
            return
        counter[key] += 1


async def main(plan):
    loop = asyncio.get_running_loop()
    frames = plan["frames"]
    audio_echo = Echo(AUDIO_SSRC)
    video_echo = Echo(VIDEO_SSRC, drop=plan.get("drop_video", 0))
    audio_port, audio_socks = await bind_pair(loop, audio_echo)
    video_port, video_socks = await bind_pair(loop, video_echo)
    enterprise_sdp = (
        "v=0\r\no=echo 1 1 IN IP4 127.0.0.1\r\ns=echo\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {audio_port} RTP/AVP 0\r\na=sendrecv\r\n"
        f"m=video {video_port} RTP/AVPF 100\r\na=rtpmap:100 VP8/90000\r\n"
        "a=rtcp-fb:100 nack\r\na=rtcp-fb:100 nack pli\r\na=sendrecv\r\n"
    )
    pc = RTCPeerConnection()
    received = {"audio": 0, "video": 0}
    tasks = []

    @pc.on("track")
    def on_track(track):
        tasks.append(asyncio.ensure_future(count_frames(track, received, track.kind)))

    pc.addTrack(Tone())
    pc.addTrack(Pattern())
    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    status, body = http(plan, "POST", "/v1/sessions",
                        {"offer": offer, "enterprise": {"sdp": enterprise_sdp}})
    report = {"create_status": status, "offer": offer, "create": body}
    if status != 201:
        print(json.dumps(report))
        return
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body["answer"], type="answer"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = (received["video"] >= frames and received["audio"] >= frames
                and (not plan.get("drop_video") or video_echo.saw_pli()))
        if done:
            break
        await asyncio.sleep(0.1)
    _, session = http(plan, "GET", f"/v1/sessions/{body['id']}")
    report.update({
        "received": received,
        "session": session,
        "delete_status": http(plan, "DELETE", f"/v1/sessions/{body['id']}")[0],
        "echo": {
            name: {
                "rtp": echo.rtp,
                "payload_types": sorted(echo.payload_types),
                "sources": sorted(echo.sources),
                "rtcp": echo.rtcp,
                "ssrc": echo.ssrc,
                "plis_sent": echo.plis_sent,
            }
            for name, echo in (("audio", audio_echo), ("video", video_echo))
        },
    })
    await pc.close()
    for task in tasks:
        task.cancel()
    for sock in audio_socks + video_socks:
        sock.close()
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
