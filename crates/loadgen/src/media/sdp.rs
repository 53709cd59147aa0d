//! Just enough SDP (RFC 8866) for a browser-like offer and for reading the answer: the
//! address and port of the one audio m-line, ICE credentials, DTLS fingerprint and setup
//! role, SDES crypto lines. Bad input gives a named error, never a panic.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use crate::Error;

/// What a load session needs from the other side's SDP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteDescription {
    /// Where media goes: the first host candidate, else `c=` and the audio port.
    pub media: Option<SocketAddr>,
    /// `a=ice-ufrag`.
    pub ice_ufrag: Option<String>,
    /// `a=ice-pwd`.
    pub ice_pwd: Option<String>,
    /// `a=fingerprint` values ("sha-256 AB:CD:...").
    pub fingerprints: Vec<String>,
    /// `a=setup`.
    pub setup: Option<String>,
    /// `a=crypto` values (SDES).
    pub crypto: Vec<String>,
    /// The audio m-line's payload types.
    pub payload_types: Vec<u8>,
}

impl RemoteDescription {
    /// Reads the attributes of the first audio m-line (and session-level ones).
    pub fn parse(sdp: &str) -> Result<RemoteDescription, Error> {
        let mut d = RemoteDescription::default();
        let mut conn: Option<IpAddr> = None;
        let mut port: Option<u16> = None;
        let mut section = Section::Session;
        for line in sdp.lines().map(str::trim_end) {
            if let Some(m) = line.strip_prefix("m=") {
                section = match (section, m.starts_with("audio ")) {
                    (Section::Session, true) => {
                        let mut f = m.split_ascii_whitespace().skip(1);
                        let bad = || bad_line("m= port", line);
                        port = Some(f.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?);
                        d.payload_types = f.skip(1).filter_map(|pt| pt.parse().ok()).collect();
                        Section::Audio
                    }
                    _ => Section::Other,
                };
                continue;
            }
            if section == Section::Other {
                continue;
            }
            if let Some(c) = line.strip_prefix("c=") {
                let ip = c
                    .split_ascii_whitespace()
                    .nth(2)
                    .and_then(|a| a.parse().ok());
                conn = Some(ip.ok_or_else(|| bad_line("c= address", line))?);
                continue;
            }
            let Some(attr) = line.strip_prefix("a=") else {
                continue;
            };
            let (name, value) = attr.split_once(':').unwrap_or((attr, ""));
            match name {
                "ice-ufrag" => d.ice_ufrag = Some(value.to_owned()),
                "ice-pwd" => d.ice_pwd = Some(value.to_owned()),
                "fingerprint" => d.fingerprints.push(value.to_owned()),
                "setup" => d.setup = Some(value.to_owned()),
                "crypto" => d.crypto.push(attr.to_owned()),
                "candidate" if d.media.is_none() => d.media = host_candidate(value),
                _ => {}
            }
        }
        let no_audio = || bad_line("no m=audio line with a port", "");
        let port = port.filter(|&p| p != 0).ok_or_else(no_audio)?;
        if d.media.is_none() {
            let no_address = || bad_line("no host candidate and no c= line", "");
            d.media = Some(SocketAddr::new(conn.ok_or_else(no_address)?, port));
        }
        Ok(d)
    }
}

fn bad_line(problem: &'static str, line: &str) -> Error {
    Error::Sdp {
        problem,
        line: line.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Session,
    Audio,
    Other,
}

/// A UDP host candidate's address: `foundation component udp priority ip port typ host`.
fn host_candidate(value: &str) -> Option<SocketAddr> {
    let f: Vec<&str> = value.split_ascii_whitespace().collect();
    match f.as_slice() {
        [_, "1", proto, _, ip, port, "typ", "host", ..] if proto.eq_ignore_ascii_case("udp") => {
            Some(SocketAddr::new(ip.parse().ok()?, port.parse().ok()?))
        }
        _ => None,
    }
}

/// A browser-like audio offer: one PCMU m-line (or plain RTP/AVP with `crypto` for SDES),
/// rtcp-mux, one host candidate.
#[derive(Debug, Clone)]
pub struct Offer<'a> {
    /// Our media socket.
    pub addr: SocketAddr,
    /// ICE credentials and DTLS fingerprint (WebRTC); `None` for a plain SDES or RTP offer.
    pub webrtc: Option<WebrtcOffer<'a>>,
    /// An `a=crypto` value (SDES), e.g. `1 AES_CM_128_HMAC_SHA1_80 inline:...`.
    pub crypto: Option<&'a str>,
    /// Session id for the o= line.
    pub session_id: u64,
}

/// The WebRTC parts of an offer.
#[derive(Debug, Clone)]
pub struct WebrtcOffer<'a> {
    /// `a=ice-ufrag`.
    pub ice_ufrag: &'a str,
    /// `a=ice-pwd`.
    pub ice_pwd: &'a str,
    /// `a=fingerprint` value, e.g. `sha-256 AB:CD:...`.
    pub fingerprint: &'a str,
}

impl Offer<'_> {
    /// The SDP text, CRLF line ends.
    pub fn to_sdp(&self) -> String {
        let ip = self.addr.ip();
        let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
        let port = self.addr.port();
        let proto = match (&self.webrtc, self.crypto) {
            (Some(_), _) => "UDP/TLS/RTP/SAVPF",
            (None, Some(_)) => "RTP/SAVP",
            (None, None) => "RTP/AVP",
        };
        let mut s = String::with_capacity(600);
        let _ = write!(
            s,
            "v=0\r\no=- {id} 1 IN {family} {ip}\r\ns=edge-loadgen\r\nt=0 0\r\n",
            id = self.session_id
        );
        if self.webrtc.is_some() {
            s.push_str("a=group:BUNDLE 0\r\n");
        }
        let _ = write!(
            s,
            "m=audio {port} {proto} 0\r\nc=IN {family} {ip}\r\na=mid:0\r\na=sendrecv\r\n\
             a=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\n"
        );
        if let Some(w) = &self.webrtc {
            let _ = write!(
                s,
                "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=fingerprint:{}\r\na=setup:actpass\r\n\
                 a=candidate:1 1 udp 2130706431 {ip} {port} typ host\r\na=end-of-candidates\r\n",
                w.ice_ufrag, w.ice_pwd, w.fingerprint
            );
        }
        if let Some(c) = self.crypto {
            let _ = write!(s, "a=crypto:{c}\r\n");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn offer_reads_back() {
        let offer = Offer {
            addr: "127.0.0.1:40000".parse().unwrap(),
            webrtc: Some(WebrtcOffer {
                ice_ufrag: "abcd",
                ice_pwd: "0123456789abcdefghijkl",
                fingerprint: "sha-256 AA:BB",
            }),
            crypto: None,
            session_id: 7,
        }
        .to_sdp();
        assert!(offer.contains("m=audio 40000 UDP/TLS/RTP/SAVPF 0\r\n"));
        let d = RemoteDescription::parse(&offer).unwrap();
        assert_eq!(d.media, Some("127.0.0.1:40000".parse().unwrap()));
        assert_eq!(d.ice_ufrag.as_deref(), Some("abcd"));
        assert_eq!(d.ice_pwd.as_deref(), Some("0123456789abcdefghijkl"));
        assert_eq!(d.fingerprints, ["sha-256 AA:BB"]);
        assert_eq!(d.setup.as_deref(), Some("actpass"));
        assert_eq!(d.payload_types, [0]);
    }

    /// The offers' text, byte for byte: what the server under test receives.
    #[test]
    fn offer_text_is_exact() {
        let webrtc = Offer {
            addr: "127.0.0.1:40000".parse().unwrap(),
            webrtc: Some(WebrtcOffer {
                ice_ufrag: "abcd",
                ice_pwd: "0123456789abcdefghijkl",
                fingerprint: "sha-256 AA:BB",
            }),
            crypto: None,
            session_id: 7,
        };
        assert_eq!(
            webrtc.to_sdp(),
            "v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=edge-loadgen\r\nt=0 0\r\n\
             a=group:BUNDLE 0\r\n\
             m=audio 40000 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 127.0.0.1\r\na=mid:0\r\n\
             a=sendrecv\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\na=ice-ufrag:abcd\r\n\
             a=ice-pwd:0123456789abcdefghijkl\r\na=fingerprint:sha-256 AA:BB\r\n\
             a=setup:actpass\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n\
             a=end-of-candidates\r\n"
        );
        let sdes = Offer {
            addr: "[::1]:30000".parse().unwrap(),
            webrtc: None,
            crypto: Some("1 AES_CM_128_HMAC_SHA1_80 inline:QUJD"),
            session_id: 9,
        };
        assert_eq!(
            sdes.to_sdp(),
            "v=0\r\no=- 9 1 IN IP6 ::1\r\ns=edge-loadgen\r\nt=0 0\r\n\
             m=audio 30000 RTP/SAVP 0\r\nc=IN IP6 ::1\r\na=mid:0\r\na=sendrecv\r\n\
             a=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\n\
             a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJD\r\n"
        );
        let plain = Offer {
            crypto: None,
            ..sdes
        };
        assert!(plain.to_sdp().contains("m=audio 30000 RTP/AVP 0\r\n"));
    }

    #[test]
    fn answer_with_session_level_c_and_crypto() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.5\r\nt=0 0\r\n\
                   m=audio 30000 RTP/SAVP 0 101\r\n\
                   a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n\
                   m=video 0 RTP/AVP 96\r\na=setup:active\r\n";
        let d = RemoteDescription::parse(sdp).unwrap();
        assert_eq!(d.media, Some("127.0.0.5:30000".parse().unwrap()));
        assert_eq!(d.crypto.len(), 1);
        assert!(d.crypto[0].starts_with("crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
        assert_eq!(d.setup, None, "video's attributes are not audio's");
        assert_eq!(d.payload_types, [0, 101]);
    }

    #[test]
    fn bad_sdp_is_a_named_error() {
        let problem = |sdp: &str| match RemoteDescription::parse(sdp) {
            Err(Error::Sdp { problem, .. }) => problem,
            other => panic!("{other:?}"),
        };
        assert_eq!(problem(""), "no m=audio line with a port");
        assert_eq!(
            problem("m=audio 0 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\n"),
            "no m=audio line with a port"
        );
        assert_eq!(
            problem("m=audio 4000 RTP/AVP 0\r\n"),
            "no host candidate and no c= line"
        );
        assert_eq!(problem("m=audio x RTP/AVP 0\r\n"), "m= port");
        assert_eq!(
            problem("c=IN IP4 nowhere\r\nm=audio 1 RTP/AVP 0\r\n"),
            "c= address"
        );
        let mut x = 7u64;
        let alphabet = b"m=ac:audio 0123456789 IN IP4 candidate typ host udp\r\n.";
        for _ in 0..20_000 {
            let text: String = (0..(x % 120))
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    alphabet[(x >> 33) as usize % alphabet.len()] as char
                })
                .collect();
            let _ = RemoteDescription::parse(&text);
        }
    }
}
