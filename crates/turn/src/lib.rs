//! TURN server (RFC 8656): a sans-IO core plus UDP, TCP and TLS drivers.
