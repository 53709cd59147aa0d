"""libsrtp (through pylibsrtp) as an SRTP peer for tests/srtp_libsrtp.rs.

Reads requests from stdin and answers on stdout, one at a time, each framed as
op (1 byte) + length (4 bytes, big-endian) + data:
  K  data = DTLS-SRTP profile id (2 bytes) + master key + master salt: make the sessions
  p/u  protect/unprotect RTP     P/U  protect/unprotect RTCP
Answers: status (0 ok, 1 error) + length + data (the packet, or the error text).
"""

import struct
import sys

import pylibsrtp

PROFILES = {
    0x0001: pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    0x0002: pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
    0x0007: pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
    0x0008: pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
}


def read_exact(stream, n):
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main():
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    tx = rx = None
    while True:
        head = read_exact(stdin, 5)
        if head is None:
            return
        op, length = head[:1], struct.unpack(">I", head[1:])[0]
        data = read_exact(stdin, length)
        try:
            if op == b"K":
                (profile,) = struct.unpack(">H", data[:2])
                def session(ssrc_type):
                    return pylibsrtp.Session(pylibsrtp.Policy(
                        key=data[2:], ssrc_type=ssrc_type, srtp_profile=PROFILES[profile]))
                tx = session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
                rx = session(pylibsrtp.Policy.SSRC_ANY_INBOUND)
                out = b""
            elif op == b"p":
                out = tx.protect(data)
            elif op == b"u":
                out = rx.unprotect(data)
            elif op == b"P":
                out = tx.protect_rtcp(data)
            elif op == b"U":
                out = rx.unprotect_rtcp(data)
            else:
                raise ValueError("unknown op %r" % op)
            status = 0
        except Exception as e:  # every failure goes back to the test, named
            status, out = 1, ("%s: %s" % (type(e).__name__, e)).encode()
        stdout.write(struct.pack(">BI", status, len(out)) + out)
        stdout.flush()


if __name__ == "__main__":
    main()
