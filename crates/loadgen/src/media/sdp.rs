//! Just enough SDP (RFC 8866) for a browser-like offer and for reading the answer: the
//! address and port of the one audio m-line, ICE credentials, DTLS fingerprint and setup
//! role, SDES crypto lines. Parsing and writing go through webrtc-rs's `sdp` crate, as in
//! edge-control (the load generator does not depend on edge-control, which pulls in the
//! forwarder); this module picks out what a load session needs. Bad input gives a named
//! error, never a panic.

use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};

use sdp::description::common::{Address, Attribute, ConnectionInformation};
use sdp::description::media::{MediaName, RangedPort};
use sdp::description::session::{Origin, TimeDescription, Timing};
use sdp::{MediaDescription, SessionDescription};

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
    /// Reads the first m-line when it is audio, with the session-level attributes and
    /// `c=` before its own.
    pub fn parse(text: &str) -> Result<RemoteDescription, Error> {
        let no_audio = || bad_line("no m=audio line with a port", "");
        if text.trim().is_empty() {
            return Err(no_audio());
        }
        let sdp = SessionDescription::unmarshal(&mut Cursor::new(text.as_bytes()))
            .map_err(|e| bad_line("does not parse as SDP", &e.to_string()))?;
        let audio = sdp
            .media_descriptions
            .first()
            .filter(|m| m.media_name.media == "audio")
            .ok_or_else(no_audio)?;
        let port = u16::try_from(audio.media_name.port.value)
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(no_audio)?;
        let mut conn = None;
        for c in [&sdp.connection_information, &audio.connection_information]
            .into_iter()
            .flatten()
        {
            let ip = c.address.as_ref().and_then(|a| a.address.parse().ok());
            conn = Some(ip.ok_or_else(|| bad_line("c= address", &format!("c={c}")))?);
        }
        let mut d = RemoteDescription {
            payload_types: audio
                .media_name
                .formats
                .iter()
                .filter_map(|pt| pt.parse().ok())
                .collect(),
            ..RemoteDescription::default()
        };
        for a in sdp.attributes.iter().chain(&audio.attributes) {
            let value = a.value.as_deref().unwrap_or_default();
            match a.key.as_str() {
                "ice-ufrag" => d.ice_ufrag = Some(value.to_owned()),
                "ice-pwd" => d.ice_pwd = Some(value.to_owned()),
                "fingerprint" => d.fingerprints.push(value.to_owned()),
                "setup" => d.setup = Some(value.to_owned()),
                "crypto" => d.crypto.push(format!("crypto:{value}")),
                "candidate" if d.media.is_none() => d.media = host_candidate(value),
                _ => {}
            }
        }
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
        let port = self.addr.port();
        let proto = match (&self.webrtc, self.crypto) {
            (Some(_), _) => "UDP/TLS/RTP/SAVPF",
            (None, Some(_)) => "RTP/SAVP",
            (None, None) => "RTP/AVP",
        };
        let mut media = MediaDescription {
            media_name: MediaName {
                media: "audio".into(),
                port: RangedPort {
                    // Lossless: isize has at least 32 bits on the targets this builds for.
                    value: i32::from(port) as isize,
                    range: None,
                },
                protos: proto.split('/').map(str::to_owned).collect(),
                formats: vec!["0".into()],
            },
            connection_information: Some(ConnectionInformation {
                network_type: "IN".into(),
                address_type: family(ip).into(),
                address: Some(Address {
                    address: ip.to_string(),
                    ttl: None,
                    range: None,
                }),
            }),
            ..MediaDescription::default()
        };
        let mut attributes = vec![
            ("mid", Some("0".to_owned())),
            ("sendrecv", None),
            ("rtcp-mux", None),
            ("rtpmap", Some("0 PCMU/8000".to_owned())),
        ];
        if let Some(w) = &self.webrtc {
            attributes.extend([
                ("ice-ufrag", Some(w.ice_ufrag.to_owned())),
                ("ice-pwd", Some(w.ice_pwd.to_owned())),
                ("fingerprint", Some(w.fingerprint.to_owned())),
                ("setup", Some("actpass".to_owned())),
                (
                    "candidate",
                    Some(format!("1 1 udp 2130706431 {ip} {port} typ host")),
                ),
                ("end-of-candidates", None),
            ]);
        }
        if let Some(c) = self.crypto {
            attributes.push(("crypto", Some(c.to_owned())));
        }
        media.attributes = attributes
            .into_iter()
            .map(|(key, value)| Attribute::new(key.to_owned(), value))
            .collect();
        let mut sdp = SessionDescription {
            version: 0,
            origin: Origin {
                username: "-".into(),
                session_id: self.session_id,
                session_version: 1,
                network_type: "IN".into(),
                address_type: family(ip).into(),
                unicast_address: ip.to_string(),
            },
            session_name: "edge-loadgen".into(),
            time_descriptions: vec![TimeDescription {
                timing: Timing {
                    start_time: 0,
                    stop_time: 0,
                },
                repeat_times: Vec::new(),
            }],
            ..SessionDescription::default()
        };
        if self.webrtc.is_some() {
            sdp = sdp.with_value_attribute("group".into(), "BUNDLE 0".into());
        }
        sdp.with_media(media).marshal()
    }
}

/// The `c=`/`o=` address type.
fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IP4"
    } else {
        "IP6"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn webrtc_offer() -> Offer<'static> {
        Offer {
            addr: "127.0.0.1:40000".parse().unwrap(),
            webrtc: Some(WebrtcOffer {
                ice_ufrag: "abcd",
                ice_pwd: "0123456789abcdefghijkl",
                fingerprint: "sha-256 AA:BB",
            }),
            crypto: None,
            session_id: 7,
        }
    }

    #[test]
    fn offer_reads_back() {
        let offer = webrtc_offer().to_sdp();
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
        assert_eq!(
            webrtc_offer().to_sdp(),
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
        // Every description starts with the v=, o=, s= and t= lines RFC 8866 requires.
        let head = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\n";
        let sdp = |body: &str| format!("{head}t=0 0\r\n{body}");
        assert_eq!(problem(""), "no m=audio line with a port");
        assert_eq!(
            problem(&sdp("m=audio 0 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\n")),
            "no m=audio line with a port"
        );
        assert_eq!(
            problem(&sdp("m=video 4000 RTP/AVP 96\r\nc=IN IP4 1.2.3.4\r\n")),
            "no m=audio line with a port"
        );
        assert_eq!(
            problem(&sdp("m=audio 4000 RTP/AVP 0\r\n")),
            "no host candidate and no c= line"
        );
        // m= syntax is the sdp crate's: a port that is no number does not parse.
        assert_eq!(
            problem(&sdp("m=audio x RTP/AVP 0\r\n")),
            "does not parse as SDP"
        );
        assert_eq!(
            problem(&format!(
                "{head}c=IN IP4 nowhere\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n"
            )),
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
            // And behind a valid session header, where the crate reads further.
            let _ = RemoteDescription::parse(&sdp(&text));
        }
    }
}
