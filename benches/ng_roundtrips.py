"""ng control round trips: offer + answer + delete of one call after another against an ng
listener, for a bounded number of calls and seconds; prints one JSON line with the calls
completed, the seconds taken, the calls per second and the p50/p99 of a whole call in ms.

Usage: ng_roundtrips.py HOST:PORT CALLS SECONDS

Each call: a WebRTC offer (aiortc's audio m-line) toward plain RTP (transport-protocol
RTP/AVP, ICE remove, rtcp-mux demux accept), a plain RTP answer back toward WebRTC
(UDP/TLS/RTP/SAVPF, ICE force, DTLS passive, SDES off, rtcp-mux offer require), and delete
with delete-delay 0: the same flags for media-edge and rtpengine.
"""

import json
import os
import socket
import sys
import time

import bencode

OFFER = (
    "v=0\r\no=- 4004280456 4004280456 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0\r\na=msid-semantic:WMS *\r\n"
    "m=audio 46098 UDP/TLS/RTP/SAVPF 0 8\r\nc=IN IP4 127.0.0.1\r\na=sendrecv\r\na=mid:0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=candidate:1 1 udp 2130706431 127.0.0.1 46098 typ host\r\na=end-of-candidates\r\n"
    "a=ice-ufrag:HYW7\r\na=ice-pwd:Fq3YpfdicrVJm7memzz2BQ\r\n"
    "a=fingerprint:sha-256 21:96:60:6D:D2:FD:A6:75:82:AC:34:B5:95:A8:64:56:12:E2:05:21:2E:34:"
    "3E:23:52:96:1C:69:C1:89:52:21\r\na=setup:actpass\r\n"
)
ANSWER = (
    "v=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=pbx\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 30000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n"
)


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    calls, seconds = int(sys.argv[2]), float(sys.argv[3])
    server = (host, int(port))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(10)
    prefix = os.urandom(4).hex()
    counter = [0]

    def request(message):
        counter[0] += 1
        cookie = f"{prefix}-{counter[0]}".encode()
        sock.sendto(cookie + b" " + bencode.encode(message), server)
        while True:
            reply, _ = sock.recvfrom(65536)
            got, _, body = reply.partition(b" ")
            if got == cookie:
                break
        answer = bencode.decode(body)
        if answer.get("result") != "ok":
            raise SystemExit(f"{message['command']}: {answer}")
        return answer

    times = []
    start = time.monotonic()
    done = 0
    for i in range(calls):
        if time.monotonic() - start > seconds:
            break
        t0 = time.monotonic()
        call_id = f"bench-{prefix}-{i}"
        request({"command": "offer", "call-id": call_id, "from-tag": "browser", "sdp": OFFER,
                 "transport-protocol": "RTP/AVP", "ICE": "remove",
                 "rtcp-mux": ["demux", "accept"]})
        request({"command": "answer", "call-id": call_id, "from-tag": "browser",
                 "to-tag": "pbx", "sdp": ANSWER, "transport-protocol": "UDP/TLS/RTP/SAVPF",
                 "ICE": "force", "DTLS": "passive", "SDES": ["off"],
                 "rtcp-mux": ["offer", "require"]})
        request({"command": "delete", "call-id": call_id, "delete-delay": 0})
        times.append(time.monotonic() - t0)
        done += 1
    elapsed = time.monotonic() - start
    times.sort()
    pick = lambda q: round(1000 * times[min(len(times) - 1, int(q * len(times)))], 3)  # noqa: E731
    print(json.dumps({"calls": done, "seconds": round(elapsed, 3),
                      "calls_per_s": round(done / elapsed, 1) if elapsed else 0,
                      "p50_ms": pick(0.5) if times else None,
                      "p99_ms": pick(0.99) if times else None}))


if __name__ == "__main__":
    main()
