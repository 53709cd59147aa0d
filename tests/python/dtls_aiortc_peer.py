"""aiortc's RTCDtlsTransport as an independent DTLS-SRTP peer for tests/dtls_aiortc.rs.

Usage: dtls_aiortc_peer.py ROLE RUST_PORT "sha-256 AB:CD:..."

ROLE is aiortc's DTLS role (client or server). No ICE runs: a small stand-in for
RTCIceTransport carries datagrams over a UDP socket on 127.0.0.1, so nothing leaves
loopback. Prints, one per line:
  READY <udp port> <fingerprint>|<fingerprint>|...   (every hash aiortc offers)
  PROFILE <selected SRTP profile>
  RECV <sequence number> <payload hex>               (each SRTP packet from Rust, unprotected)
  DONE
After the handshake it protects and sends 20 RTP packets with aiortc's own libsrtp session.
Every wait is bounded; any failure prints FAILED and exits non-zero.
"""

import asyncio
import sys

from aiortc import (
    RTCCertificate,
    RTCDtlsFingerprint,
    RTCDtlsParameters,
    RTCDtlsTransport,
)

PACKETS = 20
TIMEOUT = 60  # a hang guard: far beyond what a loaded machine needs


class LoopbackIce:
    """The part of RTCIceTransport that RTCDtlsTransport uses, over a loopback UDP socket."""

    def __init__(self, role):
        self.role = role
        self.state = "completed"
        self.queue = asyncio.Queue()
        self.socket = None
        self.remote = None

    async def _send(self, data):
        self.socket.sendto(data, self.remote)

    async def _recv(self):
        return await self.queue.get()


class Receiver(asyncio.DatagramProtocol):
    def __init__(self, ice):
        self.ice = ice

    def datagram_received(self, data, addr):
        self.ice.queue.put_nowait(data)


def rtp_packet(seq):
    header = bytes([0x80, 96]) + seq.to_bytes(2, "big")
    header += (seq * 160).to_bytes(4, "big") + (0x11223344).to_bytes(4, "big")
    return header + b"aiortc-%02d" % seq


async def main():
    role, port, fingerprint = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    ice = LoopbackIce("controlling" if role == "server" else "controlled")
    loop = asyncio.get_running_loop()
    socket, _ = await loop.create_datagram_endpoint(
        lambda: Receiver(ice), local_addr=("127.0.0.1", 0)
    )
    ice.socket, ice.remote = socket, ("127.0.0.1", port)

    certificate = RTCCertificate.generateCertificate()
    dtls = RTCDtlsTransport(ice, [certificate])
    dtls._set_role(role)
    ours = "|".join(f"{f.algorithm} {f.value}" for f in certificate.getFingerprints())
    print(f"READY {socket.get_extra_info('sockname')[1]} {ours}", flush=True)

    algorithm, value = fingerprint.split(" ", 1)
    remote = RTCDtlsParameters(
        fingerprints=[RTCDtlsFingerprint(algorithm=algorithm, value=value)]
    )
    await asyncio.wait_for(dtls.start(remote), TIMEOUT)
    if dtls.state != "connected":
        print(f"FAILED dtls state {dtls.state}", flush=True)
        return 1
    # Read SRTP here rather than in aiortc's receive loop, to report every packet.
    dtls._task.cancel()
    print("PROFILE", dtls._ssl.get_selected_srtp_profile().decode(), flush=True)

    for seq in range(PACKETS):
        await ice._send(dtls._tx_srtp.protect(rtp_packet(seq)))

    received = 0
    while received < PACKETS:
        data = await asyncio.wait_for(ice.queue.get(), TIMEOUT)
        if 127 < data[0] < 192:
            rtp = dtls._rx_srtp.unprotect(data)
            print("RECV", int.from_bytes(rtp[2:4], "big"), rtp[12:].hex(), flush=True)
            received += 1
    print("DONE", flush=True)
    socket.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except Exception as exc:  # report, never hang
        print(f"FAILED {type(exc).__name__}: {exc}", flush=True)
        sys.exit(1)
