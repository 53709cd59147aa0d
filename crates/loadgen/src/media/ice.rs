//! The controlling side of ICE connectivity checks (RFC 8445 section 7.2.4) toward an
//! ICE-lite or full agent: Binding requests with USERNAME `remote:local`, PRIORITY,
//! ICE-CONTROLLING, USE-CANDIDATE on the nominating check, MESSAGE-INTEGRITY with the
//! remote password and FINGERPRINT; and the matching of success responses. Consent
//! freshness (RFC 7675) reuses the same request without USE-CANDIDATE.

use edge_stun::{Attribute, Class, IntegrityKey, Message, MessageEncoder, Method, TransactionId};

/// PRIORITY of our one host candidate (type preference 126, local preference 65535,
/// component 1: RFC 8445 section 5.1.2.1).
const PRIORITY: u32 = (126 << 24) | (65_535 << 8) | 255;

/// Sends checks and recognises their answers.
#[derive(Debug)]
pub struct Checker {
    username: String,
    local_key: IntegrityKey,
    remote_key: IntegrityKey,
    local_username: String,
    tiebreaker: u64,
    rng: u64,
    pending: Option<TransactionId>,
}

/// What a STUN datagram from the other side was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The success response to our pending check.
    Succeeded,
    /// A Binding request from a full agent, answered into the output buffer (`len` bytes).
    Answered(usize),
    /// Anything else (stale responses, errors, junk).
    Ignored,
}

impl Checker {
    /// A checker for local credentials (`local_ufrag`, `local_pwd`) toward the remote ones.
    pub fn new(
        local_ufrag: &str,
        local_pwd: &str,
        remote_ufrag: &str,
        remote_pwd: &str,
        seed: u64,
    ) -> Checker {
        Checker {
            username: format!("{remote_ufrag}:{local_ufrag}"),
            local_key: IntegrityKey::new(local_pwd.as_bytes()),
            remote_key: IntegrityKey::new(remote_pwd.as_bytes()),
            local_username: format!("{local_ufrag}:{remote_ufrag}"),
            tiebreaker: seed ^ 0x5DEE_CE66_D1CE_4E5B,
            rng: seed,
            pending: None,
        }
    }

    /// Writes a Binding request into `buf` (nominating with `use_candidate`) and makes it
    /// the pending check; returns its length.
    pub fn request(
        &mut self,
        buf: &mut [u8],
        use_candidate: bool,
    ) -> Result<usize, edge_stun::Error> {
        self.rng = self
            .rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let mut id = [0u8; 12];
        id[..8].copy_from_slice(&self.rng.to_be_bytes());
        id[8..].copy_from_slice(&(self.rng >> 17).to_be_bytes()[..4]);
        let tid = TransactionId(id);
        let mut enc = MessageEncoder::new(buf, Class::Request, Method::BINDING, tid)?;
        enc.attribute(&Attribute::Username(&self.username))?
            .attribute(&Attribute::Priority(PRIORITY))?
            .attribute(&Attribute::IceControlling(self.tiebreaker))?;
        if use_candidate {
            enc.attribute(&Attribute::UseCandidate)?;
        }
        enc.message_integrity(&self.remote_key)?.fingerprint()?;
        self.pending = Some(tid);
        Ok(enc.finish())
    }

    /// Classifies a STUN datagram from `from`; a full agent's check is answered into `out`.
    pub fn handle(&mut self, datagram: &[u8], from: std::net::SocketAddr, out: &mut [u8]) -> Check {
        let Ok(msg) = Message::parse(datagram) else {
            return Check::Ignored;
        };
        if msg.method() != Method::BINDING {
            return Check::Ignored;
        }
        match msg.class() {
            Class::Success if Some(msg.transaction_id()) == self.pending => {
                if msg.verify_integrity(&self.remote_key).is_err() {
                    return Check::Ignored;
                }
                self.pending = None;
                Check::Succeeded
            }
            Class::Request => self
                .answer(&msg, from, out)
                .map_or(Check::Ignored, Check::Answered),
            _ => Check::Ignored,
        }
    }

    /// A success response to a full agent's valid check.
    fn answer(
        &self,
        msg: &Message<'_>,
        from: std::net::SocketAddr,
        out: &mut [u8],
    ) -> Option<usize> {
        if msg.username().ok()?? != self.local_username
            || msg.verify_integrity(&self.local_key).is_err()
        {
            return None;
        }
        let mut enc =
            MessageEncoder::new(out, Class::Success, Method::BINDING, msg.transaction_id()).ok()?;
        enc.attribute(&Attribute::XorMappedAddress(from))
            .ok()?
            .message_integrity(&self.local_key)
            .ok()?
            .fingerprint()
            .ok()?;
        Some(enc.finish())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn request_is_what_an_ice_lite_agent_checks() {
        let mut c = Checker::new(
            "LOCL",
            "local-password-0123456789",
            "REMT",
            "remote-password-0123456789",
            3,
        );
        let mut buf = [0u8; 512];
        let n = c.request(&mut buf, true).unwrap();
        let m = Message::parse(&buf[..n]).unwrap();
        assert_eq!(m.username().unwrap(), Some("REMT:LOCL"));
        assert!(m.use_candidate().unwrap());
        assert!(m.ice_controlling().unwrap().is_some());
        assert_eq!(m.priority().unwrap(), Some(PRIORITY));
        m.verify_integrity(&IntegrityKey::new(b"remote-password-0123456789"))
            .unwrap();
        assert!(m.has_fingerprint());

        // The agent's success response, signed with its (the remote) password.
        let from: std::net::SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mut resp = [0u8; 512];
        let mut enc = MessageEncoder::new(
            &mut resp,
            Class::Success,
            Method::BINDING,
            m.transaction_id(),
        )
        .unwrap();
        enc.attribute(&Attribute::XorMappedAddress(from)).unwrap();
        enc.message_integrity(&IntegrityKey::new(b"remote-password-0123456789"))
            .unwrap();
        let len = enc.finish();
        let mut out = [0u8; 512];
        // A forged one (wrong key) is ignored, the real one succeeds once.
        let mut forged = [0u8; 512];
        let mut enc = MessageEncoder::new(
            &mut forged,
            Class::Success,
            Method::BINDING,
            m.transaction_id(),
        )
        .unwrap();
        enc.message_integrity(&IntegrityKey::new(b"wrong")).unwrap();
        let flen = enc.finish();
        assert_eq!(c.handle(&forged[..flen], from, &mut out), Check::Ignored);
        assert_eq!(c.handle(&resp[..len], from, &mut out), Check::Succeeded);
        assert_eq!(
            c.handle(&resp[..len], from, &mut out),
            Check::Ignored,
            "not pending anymore"
        );
    }

    #[test]
    fn full_agent_checks_are_answered_when_valid() {
        let mut c = Checker::new(
            "LOCL",
            "local-password-0123456789",
            "REMT",
            "remote-password-0123456789",
            3,
        );
        let mut their = Checker::new(
            "REMT",
            "remote-password-0123456789",
            "LOCL",
            "local-password-0123456789",
            4,
        );
        let mut req = [0u8; 512];
        let n = their.request(&mut req, false).unwrap();
        let from: std::net::SocketAddr = "127.0.0.1:6000".parse().unwrap();
        let mut out = [0u8; 512];
        let Check::Answered(len) = c.handle(&req[..n], from, &mut out) else {
            panic!("not answered");
        };
        let ours: std::net::SocketAddr = "127.0.0.1:7000".parse().unwrap();
        assert_eq!(
            their.handle(&out[..len], ours, &mut [0u8; 512]),
            Check::Succeeded
        );
        let resp = Message::parse(&out[..len]).unwrap();
        assert_eq!(resp.xor_mapped_address().unwrap(), Some(from));
        // Garbage and truncations are ignored.
        for cut in 0..n {
            assert_eq!(c.handle(&req[..cut], from, &mut out), Check::Ignored);
        }
    }
}
