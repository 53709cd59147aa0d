//! The ICE-lite responder (RFC 8445 sections 2.5 and 7.3, RFC 7675 consent freshness), as a
//! sans-IO state machine: Binding requests and the time in, responses and the nominated
//! address out.
//!
//! A lite agent is always the controlled one: it sends no checks, only answers the full
//! agent's (the browser's). A request is accepted when its USERNAME is
//! `<our ufrag>:<their ufrag>`, it carries FINGERPRINT and its MESSAGE-INTEGRITY verifies
//! with our ice-pwd; the success response carries XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and FINGERPRINT. An
//! accepted request validates its source address (DTLS and media are then accepted from
//! it); one with USE-CANDIDATE nominates it, and the nominated address is where media goes.
//! Accepted requests from the nominated address renew consent.
//!
//! A request naming our ufrag whose MESSAGE-INTEGRITY does not verify is an authentication
//! failure ([`Outcome::BadIntegrity`], which the driver reports to the guard); any other
//! refusal is not (see [`crate::admission`] on spoofing).

use std::net::SocketAddr;
use std::time::Instant;

use edge_stun::{
    AttrType, Attribute, Class, ErrorCode, IntegrityKey, Message, MessageEncoder, Method,
    UnknownAttributes,
};

/// How many addresses that passed a check are remembered at once (the browser may check
/// from a few candidates before it nominates one).
const VALIDATED: usize = 4;

/// What became of a STUN datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A success response of `len` bytes is in the output buffer; `nominated` when the
    /// request nominated its source (for the first time or anew).
    Accepted { len: usize, nominated: bool },
    /// An error response (400, 401, 420) of `len` bytes is in the output buffer.
    Rejected { len: usize },
    /// A 401 response of `len` bytes is in the output buffer: the request named our ufrag
    /// but its MESSAGE-INTEGRITY did not verify with our password (someone who knows the
    /// ufrag guessing the password: an authentication failure).
    BadIntegrity { len: usize },
    /// A well-formed message needing no answer (an indication, a response).
    Ignored,
    /// Not a STUN message, or not one an answer can be written for.
    Malformed,
}

/// The responder's state for one session.
pub(crate) struct IceLite {
    local_ufrag: String,
    key: IntegrityKey,
    remote_ufrag: Option<String>,
    validated: [Option<SocketAddr>; VALIDATED],
    next_validated: usize,
    nominated: Option<SocketAddr>,
    last_consent: Option<Instant>,
}

impl IceLite {
    /// A responder with our credentials; the browser's ufrag may follow later.
    pub(crate) fn new(local_ufrag: &str, local_pwd: &str, remote_ufrag: Option<&str>) -> Self {
        IceLite {
            local_ufrag: local_ufrag.to_owned(),
            key: IntegrityKey::new(local_pwd.as_bytes()),
            remote_ufrag: remote_ufrag.map(str::to_owned),
            validated: [None; VALIDATED],
            next_validated: 0,
            nominated: None,
            last_consent: None,
        }
    }

    /// Sets the browser's ufrag (from its answer).
    pub(crate) fn set_remote_ufrag(&mut self, ufrag: &str) {
        self.remote_ufrag = Some(ufrag.to_owned());
    }

    /// An ICE restart (RFC 8445 section 9): new local credentials and the browser's new
    /// ufrag. Checks must use them from now on; the nominated and validated addresses stay
    /// (media keeps flowing on the pair in use until the browser nominates another), and
    /// consent is renewed only by checks with the new credentials.
    pub(crate) fn restart(&mut self, local_ufrag: &str, local_pwd: &str, remote_ufrag: &str) {
        self.local_ufrag = local_ufrag.to_owned();
        self.key = IntegrityKey::new(local_pwd.as_bytes());
        self.remote_ufrag = Some(remote_ufrag.to_owned());
    }

    /// The nominated address: where media goes.
    pub(crate) fn nominated(&self) -> Option<SocketAddr> {
        self.nominated
    }

    /// Whether `addr` passed a check: DTLS and media are accepted only from such addresses.
    pub(crate) fn is_validated(&self, addr: SocketAddr) -> bool {
        self.nominated == Some(addr) || self.validated.contains(&Some(addr))
    }

    /// The last accepted check from the nominated address (or the nomination itself).
    pub(crate) fn last_consent(&self) -> Option<Instant> {
        self.last_consent
    }

    /// Handles one datagram whose first byte says STUN; an answer, if any, goes to
    /// `out[..len]` for sending back to `from`.
    pub(crate) fn handle(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
        out: &mut [u8],
    ) -> Outcome {
        let Ok(msg) = Message::parse(datagram) else {
            return Outcome::Malformed;
        };
        if msg.method() != Method::BINDING {
            return Outcome::Malformed;
        }
        if msg.class() != Class::Request {
            return Outcome::Ignored;
        }
        match self.check(&msg) {
            Ok(()) => {}
            Err(Refusal::Unknown) => {
                let mut list = [AttrType(0); 8];
                let unknown = msg.unknown_comprehension_required(&mut list);
                let attr = Attribute::UnknownAttributes(UnknownAttributes::new(unknown));
                return Self::error(&msg, ErrorCode::UNKNOWN_ATTRIBUTE, Some(attr), out);
            }
            Err(Refusal::Code(code)) => return Self::error(&msg, code, None, out),
            Err(Refusal::Integrity) => {
                return match Self::error(&msg, ErrorCode::UNAUTHORIZED, None, out) {
                    Outcome::Rejected { len } => Outcome::BadIntegrity { len },
                    other => other,
                }
            }
        }
        let Ok(len) = self.success(&msg, from, out) else {
            return Outcome::Malformed;
        };
        let use_candidate = msg.use_candidate().unwrap_or(false);
        let nominated = use_candidate && self.nominated != Some(from);
        if use_candidate {
            self.nominated = Some(from);
        } else if !self.validated.contains(&Some(from)) {
            self.validated[self.next_validated] = Some(from);
            self.next_validated = (self.next_validated + 1) % VALIDATED;
        }
        if self.nominated == Some(from) {
            self.last_consent = Some(now);
        }
        Outcome::Accepted { len, nominated }
    }

    /// Checks a Binding request's credentials (RFC 8445 section 7.3, RFC 8489 section 9.1.3).
    fn check(&self, msg: &Message<'_>) -> Result<(), Refusal> {
        if msg.has_unknown_comprehension_required() {
            return Err(Refusal::Unknown);
        }
        let username = match msg.username() {
            Ok(Some(u)) => u,
            _ => return Err(Refusal::Code(ErrorCode::BAD_REQUEST)),
        };
        // RFC 8445 section 7.1.2: checks carry MESSAGE-INTEGRITY and FINGERPRINT.
        if !msg.has_integrity() && !msg.has_integrity_sha256() || !msg.has_fingerprint() {
            return Err(Refusal::Code(ErrorCode::BAD_REQUEST));
        }
        let (ours, theirs) = username
            .split_once(':')
            .ok_or(Refusal::Code(ErrorCode::UNAUTHORIZED))?;
        if ours != self.local_ufrag {
            return Err(Refusal::Code(ErrorCode::UNAUTHORIZED));
        }
        let verified = if msg.has_integrity() {
            msg.verify_integrity(&self.key)
        } else {
            msg.verify_integrity_sha256(&self.key)
        };
        verified.map_err(|_| Refusal::Integrity)?;
        // Right password, other remote ufrag (a restart not signalled to the relay):
        // refused, but whoever sent it knows the password, so it is no failure.
        if self.remote_ufrag.as_deref().is_some_and(|r| r != theirs) {
            return Err(Refusal::Code(ErrorCode::UNAUTHORIZED));
        }
        Ok(())
    }

    fn success(
        &self,
        msg: &Message<'_>,
        from: SocketAddr,
        out: &mut [u8],
    ) -> Result<usize, edge_stun::Error> {
        let tid = msg.transaction_id();
        let mut enc = MessageEncoder::new(out, Class::Success, Method::BINDING, tid)?;
        enc.attribute(&Attribute::XorMappedAddress(from))?
            .message_integrity(&self.key)?
            .fingerprint()?;
        Ok(enc.finish())
    }

    /// An error response, without MESSAGE-INTEGRITY (the request's credentials are what is
    /// wrong) but with FINGERPRINT, as ICE requires on every message.
    fn error(
        msg: &Message<'_>,
        code: u16,
        extra: Option<Attribute<'_>>,
        out: &mut [u8],
    ) -> Outcome {
        match write_error(msg, code, extra, out) {
            Ok(len) => Outcome::Rejected { len },
            Err(_) => Outcome::Malformed,
        }
    }
}

fn write_error(
    msg: &Message<'_>,
    code: u16,
    extra: Option<Attribute<'_>>,
    out: &mut [u8],
) -> Result<usize, edge_stun::Error> {
    let tid = msg.transaction_id();
    let mut enc = MessageEncoder::new(out, Class::Error, Method::BINDING, tid)?;
    let reason = ErrorCode::default_reason(code);
    enc.attribute(&Attribute::ErrorCode(ErrorCode::new(code, reason)))?;
    if let Some(attr) = &extra {
        enc.attribute(attr)?;
    }
    enc.fingerprint()?;
    Ok(enc.finish())
}

/// Why a request is refused.
enum Refusal {
    /// 420: comprehension-required attributes not understood.
    Unknown,
    /// 400 or 401.
    Code(u16),
    /// 401 for a MESSAGE-INTEGRITY that does not verify although USERNAME names our ufrag.
    Integrity,
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_stun::TransactionId;
    use std::time::Duration;

    const OURS: &str = "relayufr";
    const OUR_PWD: &str = "relay-password-0123456789";
    const THEIRS: &str = "brws";

    fn request(username: &str, pwd: &str, use_candidate: bool, tid: u8) -> Vec<u8> {
        let mut buf = [0u8; 512];
        let mut enc = MessageEncoder::new(
            &mut buf,
            Class::Request,
            Method::BINDING,
            TransactionId([tid; 12]),
        )
        .unwrap();
        enc.attribute(&Attribute::Username(username)).unwrap();
        enc.attribute(&Attribute::IceControlling(7)).unwrap();
        enc.attribute(&Attribute::Priority(1)).unwrap();
        if use_candidate {
            enc.attribute(&Attribute::UseCandidate).unwrap();
        }
        enc.message_integrity(&IntegrityKey::new(pwd.as_bytes()))
            .unwrap()
            .fingerprint()
            .unwrap();
        let len = enc.finish();
        buf[..len].to_vec()
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 7], port))
    }

    #[test]
    fn a_valid_check_is_answered_and_nominates_with_use_candidate() {
        let mut ice = IceLite::new(OURS, OUR_PWD, Some(THEIRS));
        let now = Instant::now();
        let mut out = [0u8; 512];
        let req = request("relayufr:brws", OUR_PWD, false, 1);
        let Outcome::Accepted { len, nominated } = ice.handle(now, addr(1), &req, &mut out) else {
            panic!("refused");
        };
        assert!(!nominated);
        assert!(ice.is_validated(addr(1)));
        assert_eq!(ice.nominated(), None);
        let resp = Message::parse(&out[..len]).unwrap();
        assert_eq!(resp.class(), Class::Success);
        assert_eq!(resp.transaction_id(), TransactionId([1; 12]));
        assert_eq!(resp.xor_mapped_address().unwrap(), Some(addr(1)));
        resp.verify_integrity(&IntegrityKey::new(OUR_PWD.as_bytes()))
            .unwrap();
        assert!(resp.has_fingerprint());

        let req = request("relayufr:brws", OUR_PWD, true, 2);
        let later = now + Duration::from_secs(1);
        let outcome = ice.handle(later, addr(1), &req, &mut out);
        assert!(matches!(
            outcome,
            Outcome::Accepted {
                nominated: true,
                ..
            }
        ));
        assert_eq!(ice.nominated(), Some(addr(1)));
        assert_eq!(ice.last_consent(), Some(later));
        // Nominating the same address again is not news.
        let outcome = ice.handle(later, addr(1), &req, &mut out);
        assert!(matches!(
            outcome,
            Outcome::Accepted {
                nominated: false,
                ..
            }
        ));
        // A new nomination moves the latch.
        let outcome = ice.handle(later, addr(2), &req, &mut out);
        assert!(matches!(
            outcome,
            Outcome::Accepted {
                nominated: true,
                ..
            }
        ));
        assert_eq!(ice.nominated(), Some(addr(2)));
    }

    #[test]
    fn wrong_credentials_get_401_and_validate_nothing() {
        let mut ice = IceLite::new(OURS, OUR_PWD, Some(THEIRS));
        let now = Instant::now();
        let mut out = [0u8; 512];
        for (req, failure) in [
            (
                request("relayufr:brws", "not-the-password-at-all", true, 1),
                true,
            ),
            // Our ufrag, any remote ufrag: the password is what is wrong.
            (
                request("relayufr:else", "not-the-password-at-all", true, 5),
                true,
            ),
            // Not our ufrag (a random spray): refused, no failure, whatever the password.
            (request("otherufr:brws", OUR_PWD, true, 2), false),
            (
                request("otherufr:brws", "not-the-password-at-all", true, 6),
                false,
            ),
            // The right password for another remote ufrag: no failure.
            (request("relayufr:else", OUR_PWD, true, 3), false),
            (request("relayufr", OUR_PWD, true, 4), false),
        ] {
            let len = match ice.handle(now, addr(1), &req, &mut out) {
                Outcome::BadIntegrity { len } if failure => len,
                Outcome::Rejected { len } if !failure => len,
                other => panic!("{other:?}, expected failure={failure}"),
            };
            let resp = Message::parse(&out[..len]).unwrap();
            assert_eq!(resp.class(), Class::Error);
            assert_eq!(resp.error_code().unwrap().unwrap().code, 401);
            assert!(!resp.has_integrity());
        }
        assert!(!ice.is_validated(addr(1)));
        assert_eq!(ice.nominated(), None);
    }

    #[test]
    fn the_remote_ufrag_is_checked_once_known() {
        let mut ice = IceLite::new(OURS, OUR_PWD, None);
        let now = Instant::now();
        let mut out = [0u8; 512];
        let req = request("relayufr:anything", OUR_PWD, false, 1);
        assert!(matches!(
            ice.handle(now, addr(1), &req, &mut out),
            Outcome::Accepted { .. }
        ));
        ice.set_remote_ufrag(THEIRS);
        assert!(matches!(
            ice.handle(now, addr(1), &req, &mut out),
            Outcome::Rejected { .. }
        ));
    }

    #[test]
    fn requests_without_fingerprint_get_400() {
        let mut ice = IceLite::new(OURS, OUR_PWD, Some(THEIRS));
        let mut buf = [0u8; 128];
        let mut enc = MessageEncoder::new(
            &mut buf,
            Class::Request,
            Method::BINDING,
            TransactionId([9; 12]),
        )
        .unwrap();
        enc.attribute(&Attribute::Username("relayufr:brws"))
            .unwrap()
            .message_integrity(&IntegrityKey::new(OUR_PWD.as_bytes()))
            .unwrap();
        let len = enc.finish();
        let mut out = [0u8; 512];
        let outcome = ice.handle(Instant::now(), addr(1), &buf[..len], &mut out);
        let Outcome::Rejected { len } = outcome else {
            panic!("{outcome:?}");
        };
        let resp = Message::parse(&out[..len]).unwrap();
        assert_eq!(resp.error_code().unwrap().unwrap().code, 400);
    }

    #[test]
    fn requests_without_username_or_integrity_get_400() {
        let mut ice = IceLite::new(OURS, OUR_PWD, Some(THEIRS));
        let mut buf = [0u8; 128];
        let mut enc = MessageEncoder::new(
            &mut buf,
            Class::Request,
            Method::BINDING,
            TransactionId([9; 12]),
        )
        .unwrap();
        enc.attribute(&Attribute::Username("relayufr:brws"))
            .unwrap()
            .fingerprint()
            .unwrap();
        let len = enc.finish();
        let mut out = [0u8; 512];
        let Outcome::Rejected { len } = ice.handle(Instant::now(), addr(1), &buf[..len], &mut out)
        else {
            panic!("accepted");
        };
        let resp = Message::parse(&out[..len]).unwrap();
        assert_eq!(resp.error_code().unwrap().unwrap().code, 400);
    }

    #[test]
    fn indications_are_ignored_and_garbage_is_malformed() {
        let mut ice = IceLite::new(OURS, OUR_PWD, Some(THEIRS));
        let mut buf = [0u8; 64];
        let enc = MessageEncoder::new(
            &mut buf,
            Class::Indication,
            Method::BINDING,
            TransactionId([3; 12]),
        )
        .unwrap();
        let len = enc.finish();
        let mut out = [0u8; 512];
        let now = Instant::now();
        assert_eq!(
            ice.handle(now, addr(1), &buf[..len], &mut out),
            Outcome::Ignored
        );
        let valid = request("relayufr:brws", OUR_PWD, true, 1);
        for cut in 0..valid.len() {
            assert!(!matches!(
                ice.handle(now, addr(5), &valid[..cut], &mut out),
                Outcome::Accepted { .. }
            ));
        }
        let mut flipped = valid.clone();
        for i in 0..flipped.len() {
            flipped[i] ^= 0x40;
            assert!(
                !matches!(
                    ice.handle(now, addr(5), &flipped, &mut out),
                    Outcome::Accepted { .. }
                ),
                "byte {i} of {:02x?}",
                valid
            );
            flipped[i] ^= 0x40;
        }
        assert!(!ice.is_validated(addr(5)));
    }
}
