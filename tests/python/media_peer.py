"""aiortc as the browser, and a UDP RTP echo as the enterprise side, of media-edge calls.

Usage: media_peer.py '<plan JSON>'

The plan: {"api": "http://127.0.0.1:PORT", "token": "...", "frames": N,
           "turn": {"url": "turn:127.0.0.1:PORT?transport=udp", "username": "...",
                    "credential": "..."} (optional),
           "calls": [{"name": "...", "relay": bool, "sdes": bool, "reverse": bool,
                      "tamper_fingerprint": bool, "strict_source": bool, "garbage": N,
                      "drop_every": N, "delay_ms": D}],
           "ng": "127.0.0.1:PORT" (optional: offer and answer through rtpengine's ng
                 protocol instead of the HTTP API, the session then found by its public
                 port in GET /v1/sessions and deleted through ng)}

Every call runs at the same time. For each, aiortc sends an audio track whose PCMU payloads
carry the frame number k (recognisable content: the payload of frame k is a fixed function
of k), media-edge's API answers the offer (with "reverse": the echo's SDP is the enterprise
offer, media-edge offers to aiortc and aiortc's answer goes back through /answer), the echo on 127.0.0.1 sends every RTP packet back
(with its own SSRC; with "sdes" it decrypts with the key from media-edge's enterprise SDP
and re-encrypts with its own, through libsrtp), and aiortc decodes what comes back. The
call ends when aiortc decoded frames 0..N-1 (or the session ended, or time ran out); its
session is read through GET and removed through DELETE.

With "drop_every": N the echo drops every Nth RTP packet it receives instead of echoing it
(injected loss), sends every other one it echoes "delay_ms" late (injected jitter: the
transit time alternates by D ms, so RFC 3550 jitter tends to D ms), and is an RTCP end point: every 0.5 s it sends a sender report for its own
stream and a receiver report (loss, RFC 3550 jitter, LSR/DLSR) about aiortc's. The call
then ends once the echo has handled N frames: aiortc's getStats and the session are read
("stats_live", "session_live": round trips while media flows), aiortc stops sending, and
after 2.5 s (every last report delivered) both are read again ("stats", "session").

Prints one JSON report on stdout: per call the frame numbers the echo received and aiortc
decoded, in arrival order (-1 for content that is not any frame's), the sources the echo
saw, the session as GET showed it, and the status codes. The Rust test asserts on it.
"""

import asyncio
import base64
import fractions
import json
import os
import re
import socket
import struct
import sys
import time
import urllib.error
import urllib.request

import aioice.ice
import bencode

# Keep ICE on loopback: aioice would otherwise offer this machine's interface addresses.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

from aiortc import (  # noqa: E402
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.codecs.g711 import PcmuDecoder  # noqa: E402
from aiortc.jitterbuffer import JitterFrame  # noqa: E402
from aiortc.mediastreams import MediaStreamTrack  # noqa: E402
from aiortc.clock import current_ntp_time  # noqa: E402
from aiortc.rtcconfiguration import RTCIceTransportPolicy  # noqa: E402
from aiortc.rtp import (  # noqa: E402
    RtcpPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    RtpPacket,
)
from av import AudioFrame  # noqa: E402
from pylibsrtp import Policy, Session  # noqa: E402

SAMPLES = 160  # 20 ms of 8 kHz audio: one PCMU packet
ECHO_SSRC = 0x0E0C4000

# The mu-law codes whose linear value encodes back to the same code (0x7f and 0xff are
# both zero), and their linear values as aiortc's own PCMU decoder yields them.
CODES = [c for c in range(256) if c not in (0x7F, 0xFF)]
INDEX = {c: i for i, c in enumerate(CODES)}


def _linear_values():
    decoder = PcmuDecoder()
    values = {}
    for code in CODES:
        frame = decoder.decode(JitterFrame(data=bytes([code]) * SAMPLES, timestamp=0))[0]
        values[code] = struct.unpack("<h", bytes(frame.planes[0])[:2])[0]
    return values


LINEAR = _linear_values()
CODE_OF = {v: c for c, v in LINEAR.items()}


def payload(k):
    """The PCMU payload of frame k: k in the first two codes, then a pattern of k."""
    n = len(CODES)
    body = [CODES[k % n], CODES[(k // n) % n]]
    body += [CODES[(k * 31 + i) % n] for i in range(2, SAMPLES)]
    return bytes(body)


def frame_number(data):
    """k when data is exactly payload(k), otherwise -1."""
    if len(data) != SAMPLES or data[0] not in INDEX or data[1] not in INDEX:
        return -1
    k = INDEX[data[0]] + len(CODES) * INDEX[data[1]]
    return k if payload(k) == data else -1


class PatternTrack(MediaStreamTrack):
    """Audio frames whose PCMU encoding is payload(0), payload(1), ... every 20 ms."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        self.k = 0
        self.start = None
        self.halted = False

    async def recv(self):
        if self.halted:
            # Stopped: no more frames (the sender waits here until the call closes).
            await asyncio.Event().wait()
        if self.start is None:
            self.start = time.monotonic()
        else:
            delay = self.start + self.k * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        frame = AudioFrame(format="s16", layout="mono", samples=SAMPLES)
        pcm = struct.pack(f"<{SAMPLES}h", *(LINEAR[c] for c in payload(self.k)))
        frame.planes[0].update(pcm)
        frame.sample_rate = 8000
        frame.pts = self.k * SAMPLES
        frame.time_base = fractions.Fraction(1, 8000)
        self.k += 1
        return frame


class Reception:
    """RFC 3550 appendix A.1/A.3/A.8 figures of the stream the echo receives: sequence
    numbers extended across their wrap (peers start them at random), no restart handling
    (a test call is short)."""

    def __init__(self, clock):
        self.clock = clock
        self.ssrc = None
        self.base = self.max = None
        self.received = 0
        self.jitter_q4 = 0
        self.transit = None
        self.expected_prior = self.received_prior = 0

    def add(self, packet):
        self.ssrc = packet.ssrc
        seq = packet.sequence_number
        if self.base is None:
            self.base = self.max = seq
        # self.max is extended: a step forward of less than half the space moves it on.
        ahead = (seq - self.max) & 0xFFFF
        if ahead < 0x8000:
            self.max += ahead
        self.received += 1
        transit = int(time.time() * self.clock) - packet.timestamp
        if self.transit is not None:
            self.jitter_q4 += abs(transit - self.transit) - ((self.jitter_q4 + 8) >> 4)
        self.transit = transit

    def block(self, lsr, lsr_time):
        expected = self.max - self.base + 1
        lost = expected - self.received
        interval = expected - self.expected_prior
        lost_interval = interval - (self.received - self.received_prior)
        self.expected_prior, self.received_prior = expected, self.received
        fraction = (lost_interval << 8) // interval if interval > 0 and lost_interval > 0 else 0
        dlsr = int((time.time() - lsr_time) * 65536) if lsr else 0
        return RtcpReceiverInfo(
            ssrc=self.ssrc,
            fraction_lost=fraction,
            packets_lost=lost,
            highest_sequence=self.max,
            jitter=self.jitter_q4 >> 4,
            lsr=lsr,
            dlsr=dlsr,
        )


class Echo:
    """The enterprise side: RTP echo on one socket, RTCP sink on another, optional SDES;
    with drop_every, injected loss and RTCP reports of its own."""

    def __init__(self, sdes, drop_every=0, delay_ms=0, clock=8000, lose_every=0):
        self.sdes = sdes
        self.drop_every = drop_every
        # Every lose_every-th RTP packet arriving is taken as lost on the way here: neither
        # counted as received nor echoed (injected loss toward the echo).
        self.lose_every = lose_every
        self.arrived = 0
        self.lost = 0
        # With either kind of injected loss the echo is an RTCP end point.
        self.reporting = bool(drop_every or lose_every)
        # [fraction lost, cumulative lost] of each report block it sent.
        self.blocks_sent = []
        # Echoed packets sent after one with a later sequence number (a delayed packet's
        # timer firing after the next packet went out), and the latest sequence number sent.
        self.overtaken = 0
        self.most_late = 0
        self.last_sent_seq = None
        self.delay = delay_ms / 1000
        self.handled = 0
        self.dropped = 0
        # The injected losses a receiver can see: those an echoed packet followed (one after
        # the last echoed packet leaves no gap in the sequence numbers it receives).
        self.dropped_seen = 0
        self.lost_seen = 0
        self.unseen = [0, 0]
        self.sent = 0
        self.sent_octets = 0
        self.last_ts = 0
        # The RTP clock rate of the stream it receives (its RR jitter is in these units).
        self.reception = Reception(clock)
        # How long each RTCP report is held after it was written (its DLSR then leaves
        # that time out, so it is a known share of the round trip the peers measure).
        self.report_delay = 0.0
        self.lsr = 0
        self.lsr_time = 0.0
        self.rtcp_peer = None
        self.reports_sent = 0
        self.reporter = None
        self.own_key = os.urandom(30) if sdes else None
        self.tx = Session(Policy(key=self.own_key, ssrc_type=Policy.SSRC_ANY_OUTBOUND)) if sdes else None
        self.rx = None
        self.frames = []
        self.rtp_sources = set()
        self.rtcp_sources = set()
        self.rtcp_packets = 0
        self.rtcp_decrypted = 0
        self.srtp_failures = 0
        self.early = 0
        self.held = []
        # The payload type PCMU travels under on the enterprise side (its SDP says so):
        # 0, or a dynamic one to make media-edge map payload types.
        self.pcmu_pt = 0
        # Payload types of the RTP packets received, in order of first appearance.
        self.payload_types = []
        # The SSRC it sends with; with renumber, its sequence numbers start at 0 and its
        # timestamps at a random base (a new stream, as after a transfer).
        self.ssrc = ECHO_SSRC
        self.renumber = False
        # RFC 4733 events received under dtmf_pt: [event, end bit] per packet.
        self.dtmf_pt = None
        self.events = []
        self.out_seq = 0
        self.ts_base = struct.unpack("!I", os.urandom(4))[0]

    async def start(self):
        loop = asyncio.get_running_loop()
        echo = self

        class Rtp(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                echo.on_rtp(self.transport, data, addr)

        class Rtcp(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                echo.on_rtcp(data, addr)

        if self.reporting:
            self.reporter = asyncio.ensure_future(self.report_loop())

        self.rtp, _ = await loop.create_datagram_endpoint(Rtp, local_addr=("127.0.0.1", 0))
        self.rtcp, _ = await loop.create_datagram_endpoint(Rtcp, local_addr=("127.0.0.1", 0))
        self.rtp_addr = self.rtp.get_extra_info("sockname")
        self.rtcp_addr = self.rtcp.get_extra_info("sockname")

    def target(self):
        """The request's "enterprise" member: the address, or with SDES the SDP."""
        if self.sdes:
            return {"sdp": self.sdp()}
        return {"rtp": "%s:%d" % self.rtp_addr, "rtcp": "%s:%d" % self.rtcp_addr}

    def sdp(self):
        """The echo's SDP: PCMU on its RTP port, RTCP on the other, its key with SDES."""
        crypto = ""
        if self.sdes:
            key = base64.b64encode(self.own_key).decode()
            crypto = f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n"
        proto = "RTP/SAVP" if self.sdes else "RTP/AVP"
        return (
            "v=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=echo\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {self.rtp_addr[1]} {proto} {self.pcmu_pt}\r\n"
            f"a=rtpmap:{self.pcmu_pt} PCMU/8000\r\n"
            f"a=rtcp:{self.rtcp_addr[1]}\r\n{crypto}a=sendrecv\r\n"
        )

    def set_remote_sdp(self, sdp):
        """Takes media-edge's SDES key from its enterprise SDP."""
        if not self.sdes:
            return
        match = re.search(r"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:([A-Za-z0-9+/=]+)", sdp)
        key = base64.b64decode(match.group(1))
        self.rx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
        for transport, data, addr in self.held:
            self.on_rtp(transport, data, addr)
        self.held = []

    def on_rtp(self, transport, data, addr):
        self.rtp_sources.add("%s:%d" % addr)
        if self.sdes:
            if self.rx is None:
                # Media before the API's answer arrived here: kept until the key is known.
                self.early += 1
                self.held.append((transport, data, addr))
                return
            try:
                data = self.rx.unprotect(data)
            except Exception:
                self.srtp_failures += 1
                return
        packet = RtpPacket.parse(data)
        if packet.payload_type not in self.payload_types:
            self.payload_types.append(packet.payload_type)
        if packet.payload_type == self.dtmf_pt and len(packet.payload) >= 4:
            self.events.append([packet.payload[0], packet.payload[1] >> 7])
        pcmu = packet.payload_type == self.pcmu_pt
        self.frames.append(frame_number(packet.payload) if pcmu else -1)
        if self.lose_every:
            self.arrived += 1
            if self.arrived % self.lose_every == 0:
                self.lost += 1
                self.unseen[1] += 1
                return
        if self.reporting:
            self.reception.add(packet)
            self.handled += 1
            if self.drop_every and self.handled % self.drop_every == 0:
                self.dropped += 1
                self.unseen[0] += 1
                return
            self.sent += 1
            self.dropped_seen += self.unseen[0]
            self.lost_seen += self.unseen[1]
            self.unseen = [0, 0]
            self.sent_octets += len(packet.payload)
            self.last_ts = packet.timestamp
        packet.ssrc = self.ssrc
        if self.renumber:
            packet.sequence_number = self.out_seq & 0xFFFF
            packet.timestamp = (self.ts_base + packet.timestamp) & 0xFFFFFFFF
            self.out_seq += 1
        out = packet.serialize()
        if self.sdes:
            out = self.tx.protect(out)
        # Every other packet late, from the second on: a late first packet would arrive after
        # the second, before the receiver's base sequence number, and count as received
        # without being expected (RFC 3550 A.3), hiding one loss from both receivers.
        if self.delay and self.sent % 2 == 0:
            asyncio.get_running_loop().call_later(
                self.delay, self.send, transport, out, packet.sequence_number, addr
            )
            return
        self.send(transport, out, packet.sequence_number, addr)

    def send(self, transport, out, seq, addr):
        """Sends an echoed packet, counting those that leave after a later one."""
        behind = (self.last_sent_seq - seq) & 0xFFFF if self.last_sent_seq is not None else 0
        if 0 < behind < 0x8000:
            self.overtaken += 1
            self.most_late = max(self.most_late, behind)
        else:
            self.last_sent_seq = seq
        transport.sendto(out, addr)

    def on_rtcp(self, data, addr):
        self.rtcp_sources.add("%s:%d" % addr)
        self.rtcp_packets += 1
        if self.reporting:
            self.rtcp_peer = addr
            for packet in RtcpPacket.parse(data):
                if isinstance(packet, RtcpSrPacket):
                    self.lsr = (packet.sender_info.ntp_timestamp >> 16) & 0xFFFFFFFF
                    self.lsr_time = time.time()
        if self.sdes and self.rx is not None:
            try:
                self.rx.unprotect_rtcp(data)
                self.rtcp_decrypted += 1
            except Exception:
                self.srtp_failures += 1

    async def report_loop(self):
        """Every 0.5 s, once RTCP came from media-edge: SR for the echo's stream with an RR
        block about aiortc's, back to where the RTCP came from."""
        while True:
            await asyncio.sleep(0.5)
            if self.rtcp_peer is None or self.reception.ssrc is None:
                continue
            block = self.reception.block(self.lsr, self.lsr_time)
            self.blocks_sent.append([block.fraction_lost, block.packets_lost])
            sr = RtcpSrPacket(
                ssrc=self.ssrc,
                sender_info=RtcpSenderInfo(
                    ntp_timestamp=current_ntp_time(),
                    rtp_timestamp=self.last_ts,
                    packet_count=self.sent,
                    octet_count=self.sent_octets,
                ),
                reports=[block],
            )
            if self.report_delay:
                asyncio.get_running_loop().call_later(
                    self.report_delay, self.rtcp.sendto, bytes(sr), self.rtcp_peer
                )
            else:
                self.rtcp.sendto(bytes(sr), self.rtcp_peer)
            self.reports_sent += 1

    def close(self):
        if self.reporter is not None:
            self.reporter.cancel()
        self.rtp.close()
        self.rtcp.close()

    def report(self):
        return {
            "frames": self.frames,
            "rtp_sources": sorted(self.rtp_sources),
            "rtcp_sources": sorted(self.rtcp_sources),
            "rtcp_packets": self.rtcp_packets,
            "rtcp_decrypted": self.rtcp_decrypted,
            "srtp_failures": self.srtp_failures,
            "early": self.early,
            "dropped": self.dropped,
            "dropped_seen": self.dropped_seen,
            "lost_seen": self.lost_seen,
            "reports_sent": self.reports_sent,
            "lost": self.lost,
            "blocks_sent": self.blocks_sent,
            "overtaken": self.overtaken,
            "most_late": self.most_late,
            "address": "%s:%d" % self.rtp_addr,
            "payload_types": self.payload_types,
            "events": self.events,
        }


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http(method, url, token, body):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with _opener.open(req, timeout=15) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    return status, (json.loads(text) if text else None)


async def http(plan, method, path, body=None):
    return await asyncio.to_thread(_http, method, plan["api"] + path, plan["token"], body)


def _ng(addr, message):
    """One ng request over UDP (retransmitted with the same cookie, as Kamailio does);
    returns the reply dictionary."""
    host, port = addr.rsplit(":", 1)
    cookie = os.urandom(6).hex().encode()
    data = cookie + b" " + bencode.encode(message)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        for _ in range(4):
            sock.sendto(data, (host, int(port)))
            try:
                reply, _ = sock.recvfrom(65536)
            except socket.timeout:
                continue
            got, _, body = reply.partition(b" ")
            if got == cookie:
                return bencode.decode(body)
    return {"result": "error", "error-reason": "no reply"}


async def ng(plan, message):
    return await asyncio.to_thread(_ng, plan["ng"], message)


async def find_session(plan, browser_sdp):
    """The id of the session whose public port the browser's SDP names."""
    _, sessions = await http(plan, "GET", "/v1/sessions")
    port = media_port(browser_sdp)
    for s in sessions or []:
        if s["public-addr"].endswith(":%d" % port):
            return s["id"]
    return None


async def ng_browser_offers(plan, spec, pc, track, echo):
    """aiortc offers through ng (the SIP proxy's offer from the WebRTC side): media-edge's
    offer for the enterprise side comes back, the echo answers it, and the answer for aiortc
    comes back from ng's answer."""
    transceiver = pc.addTransceiver(track, direction="sendrecv")
    transceiver.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/PCMU"]
    )
    await pc.setLocalDescription(await pc.createOffer())
    name = spec["name"]
    offered = await ng(plan, {
        "command": "offer", "call-id": name, "from-tag": "browser-" + name,
        "sdp": pc.localDescription.sdp, "transport-protocol": "RTP/AVP", "ICE": "remove",
        "direction": ["public", "enterprise"], "replace": ["origin", "session-connection"],
        "flags": ["trust-address"], "rtcp-mux": ["demux"],
    })
    report = {"ng_offer": offered.get("result"), "ng_offer_error": offered.get("error-reason")}
    if offered.get("result") != "ok":
        return report, None
    report["enterprise_sdp"] = offered["sdp"]
    echo.set_remote_sdp(offered["sdp"])
    answered = await ng(plan, {
        "command": "answer", "call-id": name, "from-tag": "browser-" + name,
        "to-tag": "pbx-" + name, "sdp": echo.sdp(), "ICE": "force", "DTLS": "passive",
        "rtcp-mux": ["offer", "require"],
    })
    report["ng_answer"] = answered.get("result")
    report["ng_answer_error"] = answered.get("error-reason")
    if answered.get("result") != "ok":
        return report, None
    report["browser_sdp"] = answered["sdp"]
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answered["sdp"], type="answer"))
    return report, await find_session(plan, answered["sdp"])


async def ng_enterprise_offers(plan, spec, pc, track, echo):
    """The echo offers through ng (plain RTP from the SIP side), media-edge's WebRTC offer
    goes to aiortc, whose answer goes back through ng's answer."""
    name = spec["name"]
    offered = await ng(plan, {
        "command": "offer", "call-id": name, "from-tag": "pbx-" + name, "sdp": echo.sdp(),
        "transport-protocol": "UDP/TLS/RTP/SAVPF", "ICE": "force", "DTLS": "passive",
        "rtcp-mux": ["offer", "require"], "direction": ["enterprise", "public"],
    })
    report = {"ng_offer": offered.get("result"), "ng_offer_error": offered.get("error-reason")}
    if offered.get("result") != "ok":
        return report, None
    report["browser_sdp"] = offered["sdp"]
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offered["sdp"], type="offer"))
    transceiver = pc.getTransceivers()[0]
    transceiver.direction = "sendrecv"
    transceiver.sender.replaceTrack(track)
    await pc.setLocalDescription(await pc.createAnswer())
    answered = await ng(plan, {
        "command": "answer", "call-id": name, "from-tag": "pbx-" + name,
        "to-tag": "browser-" + name, "sdp": pc.localDescription.sdp,
        "transport-protocol": "RTP/AVP", "ICE": "remove",
    })
    report["ng_answer"] = answered.get("result")
    report["ng_answer_error"] = answered.get("error-reason")
    if answered.get("result") != "ok":
        return report, None
    report["enterprise_sdp"] = answered["sdp"]
    echo.set_remote_sdp(answered["sdp"])
    return report, await find_session(plan, offered["sdp"])


def tamper(sdp):
    """The same offer with fingerprints of some other certificate."""
    fake = ":".join(["AB"] * 32)
    sdp = re.sub(r"a=fingerprint:sha-(384|512) [0-9A-F:]+\r\n", "", sdp)
    return re.sub(r"a=fingerprint:sha-256 [0-9A-F:]+", f"a=fingerprint:sha-256 {fake}", sdp)


async def browser_offers(plan, spec, pc, track, echo):
    """aiortc offers (PCMU only: the echo checks the pattern byte for byte), media-edge
    answers, the echo's address or SDP is the enterprise target."""
    transceiver = pc.addTransceiver(track, direction="sendrecv")
    transceiver.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/PCMU"]
    )
    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    if spec.get("tamper_fingerprint"):
        offer = tamper(offer)
    body = {"offer": offer, "enterprise": echo.target()}
    if spec.get("sdes"):
        body["enterprise-srtp"] = "sdes"
    if "strict_source" in spec:
        body["strict-source"] = spec["strict_source"]
    status, created = await http(plan, "POST", "/v1/sessions", body)
    report = {"create_status": status}
    if status != 201:
        report["error"] = created
        return report, None
    report["browser_sdp"] = created["answer"]
    report["enterprise_sdp"] = created["enterprise-sdp"]
    echo.set_remote_sdp(created["enterprise-sdp"])
    await pc.setRemoteDescription(RTCSessionDescription(sdp=created["answer"], type="answer"))
    return report, created["id"]


async def enterprise_offers(plan, spec, pc, track, echo):
    """The echo's SDP is the enterprise offer; media-edge offers to aiortc, aiortc answers
    through /answer, and media-edge's answer for the enterprise side comes back."""
    body = {"enterprise-offer": echo.sdp()}
    status, created = await http(plan, "POST", "/v1/sessions", body)
    report = {"create_status": status}
    if status != 201:
        report["error"] = created
        return report, None
    sid = created["id"]
    report["browser_sdp"] = created["offer"]
    await pc.setRemoteDescription(RTCSessionDescription(sdp=created["offer"], type="offer"))
    transceiver = pc.getTransceivers()[0]
    transceiver.direction = "sendrecv"
    transceiver.sender.replaceTrack(track)
    await pc.setLocalDescription(await pc.createAnswer())
    status, answered = await http(
        plan, "POST", f"/v1/sessions/{sid}/answer", {"answer": pc.localDescription.sdp}
    )
    report["answer_status"] = status
    if status != 200:
        report["error"] = answered
        return report, None
    report["enterprise_sdp"] = answered["enterprise-sdp"]
    echo.set_remote_sdp(answered["enterprise-sdp"])
    return report, sid


async def send_garbage(report, count):
    """From a socket nobody negotiated: random datagrams to the session's public port, and
    datagrams that look like RTP (version 2) to its enterprise port."""
    public = ("127.0.0.1", media_port(report["browser_sdp"]))
    enterprise = (
        re.search(r"c=IN IP4 ([0-9.]+)", report["enterprise_sdp"]).group(1),
        media_port(report["enterprise_sdp"]),
    )
    loop = asyncio.get_running_loop()
    stranger, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    for i in range(count):
        size = 1 + (i * 37) % 300
        stranger.sendto(os.urandom(size), public)
        rtp = bytearray(os.urandom(12 + size))
        rtp[0] = 0x80
        stranger.sendto(bytes(rtp), enterprise)
        await asyncio.sleep(0.002)
    source = "%s:%d" % stranger.get_extra_info("sockname")
    stranger.close()
    return {"count": count, "source": source}


def media_port(sdp):
    return int(re.search(r"^m=audio (\d+) ", sdp, re.M).group(1))


async def peer_stats(pc):
    """aiortc's own figures: inbound-rtp (what it receives) and remote-inbound-rtp (the
    echo's reports on what it sends), as getStats gives them."""
    stats = {}
    for s in (await pc.getStats()).values():
        if s.type == "inbound-rtp":
            stats["inbound"] = {
                "packetsReceived": s.packetsReceived,
                "packetsLost": s.packetsLost,
                "jitter": s.jitter,
            }
        elif s.type == "remote-inbound-rtp":
            stats["remote_inbound"] = {
                "packetsLost": s.packetsLost,
                "fractionLost": s.fractionLost,
                "jitter": s.jitter,
                "roundTripTime": s.roundTripTime,
            }
    return stats


async def call(plan, spec):
    name = spec["name"]
    frames_wanted = plan["frames"]
    log = lambda *a: print(f"[{name}]", *a, file=sys.stderr, flush=True)  # noqa: E731
    echo = Echo(spec.get("sdes", False), spec.get("drop_every", 0), spec.get("delay_ms", 0))
    await echo.start()
    servers = []
    policy = RTCIceTransportPolicy.ALL
    if spec.get("relay"):
        t = plan["turn"]
        servers = [RTCIceServer(urls=t["url"], username=t["username"], credential=t["credential"])]
        policy = RTCIceTransportPolicy.RELAY
    pc = RTCPeerConnection(RTCConfiguration(iceServers=servers, iceTransportPolicy=policy))
    received = []
    got_all = asyncio.Event()

    @pc.on("track")
    def on_track(track):
        async def consume():
            while True:
                try:
                    frame = await track.recv()
                except Exception:
                    return
                data = bytes(frame.planes[0])[: 2 * frame.samples]
                codes = bytes(CODE_OF.get(v, 0x7F) for v in struct.unpack(f"<{frame.samples}h", data))
                received.append(frame_number(codes))
                if set(range(frames_wanted)) <= set(received):
                    got_all.set()

        asyncio.ensure_future(consume())

    track = PatternTrack()
    if plan.get("ng"):
        offers = ng_enterprise_offers if spec.get("reverse") else ng_browser_offers
    else:
        offers = enterprise_offers if spec.get("reverse") else browser_offers
    report, sid = await offers(plan, spec, pc, track, echo)
    if sid is None:
        await pc.close()
        echo.close()
        return name, report
    log("negotiated session", sid)

    deadline = time.monotonic() + plan.get("timeout", 40)
    garbage_sent = False
    if spec.get("drop_every"):
        # Injected loss: aiortc cannot decode every frame; the echo handling them all ends it.
        while time.monotonic() < deadline and echo.handled < frames_wanted:
            await asyncio.sleep(0.1)
        # Round trips while media flows: once aiortc stops, its sender reports repeat one
        # NTP time, and a report about the earlier of two such SRs reads as the later one.
        report["stats_live"] = await peer_stats(pc)
        _, report["session_live"] = await http(plan, "GET", f"/v1/sessions/{sid}")
        track.halted = True
        await asyncio.sleep(2.5)
        report["stats"] = await peer_stats(pc)
    while time.monotonic() < deadline and not got_all.is_set() and not spec.get("drop_every"):
        if spec.get("garbage") and received and not garbage_sent:
            report["garbage"] = await send_garbage(report, spec.get("garbage"))
            garbage_sent = True
        if spec.get("tamper_fingerprint"):
            _, session = await http(plan, "GET", f"/v1/sessions/{sid}")
            if session and session.get("state") == "ended":
                break
        try:
            await asyncio.wait_for(got_all.wait(), 0.25)
        except asyncio.TimeoutError:
            pass
    log("received", len(received), "frames; echo", len(echo.frames))
    report["connection_state"] = pc.connectionState
    report["ice_state"] = pc.iceConnectionState
    status, session = await http(plan, "GET", f"/v1/sessions/{sid}")
    report["get_status"], report["session"] = status, session
    if plan.get("ng"):
        report["ng_query"] = await ng(plan, {"command": "query", "call-id": name})
        report["ng_list"] = await ng(plan, {"command": "list"})
        deleted = await ng(plan, {"command": "delete", "call-id": name, "delete-delay": 0})
        report["ng_delete"] = deleted.get("result")
    else:
        status, _ = await http(plan, "DELETE", f"/v1/sessions/{sid}")
        report["delete_status"] = status
    status, _ = await http(plan, "GET", f"/v1/sessions/{sid}")
    report["get_after_delete_status"] = status
    await pc.close()
    echo.close()
    report["received"] = received
    report["echo"] = echo.report()
    return name, report


async def main():
    plan = json.loads(sys.argv[1])
    results = await asyncio.gather(*(call(plan, spec) for spec in plan["calls"]))
    print(json.dumps({"calls": dict(results)}))


if __name__ == "__main__":
    asyncio.run(main())
