//! DTLS-SRTP key exchange (RFC 5764) as a datagram-level, sans-IO API.
