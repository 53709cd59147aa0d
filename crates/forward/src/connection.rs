//! Named enterprise connections: client-side port definitions (`port=<n>;address=<ip>`) that
//! pin a session's enterprise leg to one exact local tuple, so the enterprise firewall can
//! allow exactly that tuple.
//!
//! [`ClientSidePort`] is the definition's parser and value; [`check`] refuses a
//! `[forward.enterprise.connections]` table whose tuples would collide with each other or with
//! the ranges the relay binds anyway.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use edge_config::PortRange;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{EnterpriseSide, Error, PublicSide};

/// Longest definition accepted, in bytes (the longest sensible one, an IPv6 address with a
/// zone-less text form and a port, is under 70).
const MAX_DEFINITION: usize = 128;
/// Longest connection name (names travel in API requests and log lines).
const MAX_NAME: usize = 64;

/// A client-side port definition: the local address and port a connection into the
/// enterprise is bound to, written `port=<n>;address=<ip>`.
///
/// Parsing ([`FromStr`], and serde from the same string) takes the two keys in either order,
/// whitespace around `;` and `=` and at either end, IPv4 or IPv6 addresses (without
/// brackets). It refuses an empty part (a stray `;`), a part without `=`, an unknown or
/// repeated key, a missing part, port 0 or anything not a decimal port, an address that does
/// not parse, the unspecified, multicast and broadcast addresses, and IPv4-mapped IPv6 ones
/// (write the IPv4 address, so one tuple has one spelling): the tuple must name one local
/// unicast address. [`Display`](fmt::Display) writes the canonical form back.
///
/// ```
/// use edge_forward::ClientSidePort;
/// let pinned: ClientSidePort = " address = 10.1.2.3 ; port = 41000 ".parse().unwrap();
/// assert_eq!(pinned.to_string(), "port=41000;address=10.1.2.3");
/// assert_eq!(pinned.socket_addr().to_string(), "10.1.2.3:41000");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientSidePort {
    address: IpAddr,
    port: u16,
}

/// A client-side port definition that cannot be used: the definition (cut at 128
/// characters) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client-side port definition {definition:?}: {problem}")]
#[non_exhaustive]
pub struct InvalidClientSidePort {
    /// The definition as given (cut at 128 characters).
    pub definition: String,
    /// What is wrong, naming the part.
    pub problem: String,
}

impl ClientSidePort {
    /// The tuple `address`:`port`, checked as the parser checks it.
    ///
    /// # Errors
    /// [`InvalidClientSidePort`] for port 0 or an unspecified, multicast, broadcast or
    /// IPv4-mapped address.
    pub fn new(address: IpAddr, port: u16) -> Result<Self, InvalidClientSidePort> {
        let pinned = ClientSidePort { address, port };
        let fail = |problem: String| InvalidClientSidePort {
            definition: pinned.to_string(),
            problem,
        };
        if port == 0 {
            return Err(fail("port 0 is not a fixed port".into()));
        }
        check_address(address).map_err(fail)?;
        Ok(pinned)
    }

    /// The local address.
    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// The local port (the RTP port; RTCP without rtcp-mux takes the next).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The tuple as a socket address.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }

    /// The ports a session on this tuple may bind: the port and, for RTCP, the next.
    fn ports(&self) -> (u16, u16) {
        (self.port, self.port.saturating_add(1))
    }
}

fn check_address(address: IpAddr) -> Result<(), String> {
    let broadcast = matches!(address, IpAddr::V4(v4) if v4.is_broadcast());
    let mapped = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
        IpAddr::V4(_) => None,
    };
    if address.is_unspecified() {
        Err(format!(
            "address {address} is unspecified: pin one local address"
        ))
    } else if address.is_multicast() || broadcast {
        Err(format!("address {address} is not a unicast address"))
    } else if let Some(v4) = mapped {
        Err(format!("address {address} is IPv4-mapped: write {v4}"))
    } else {
        Ok(())
    }
}

impl fmt::Display for ClientSidePort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "port={};address={}", self.port, self.address)
    }
}

impl FromStr for ClientSidePort {
    type Err = InvalidClientSidePort;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |problem: String| InvalidClientSidePort {
            definition: cut(text),
            problem,
        };
        if text.len() > MAX_DEFINITION {
            return Err(fail(format!(
                "{} bytes long, more than {MAX_DEFINITION}",
                text.len()
            )));
        }
        let (mut port, mut address) = (None, None);
        for part in text.split(';') {
            let part = part.trim();
            if part.is_empty() {
                return Err(fail(
                    "an empty part (a stray ';'): write port=<n>;address=<ip>".into(),
                ));
            }
            let Some((key, value)) = part.split_once('=') else {
                return Err(fail(format!("{part:?} is not key=value")));
            };
            let (key, value) = (key.trim(), value.trim());
            let slot = match key {
                "port" => &mut port,
                "address" => &mut address,
                _ => {
                    return Err(fail(format!(
                        "unknown key {key:?} (the keys are port and address)"
                    )))
                }
            };
            if slot.replace(value).is_some() {
                return Err(fail(format!("{key} is given twice")));
            }
        }
        let port = port.ok_or_else(|| fail("the port is missing (port=<n>)".into()))?;
        let address =
            address.ok_or_else(|| fail("the address is missing (address=<ip>)".into()))?;
        let port = if port.bytes().all(|b| b.is_ascii_digit()) {
            port.parse::<u16>().ok()
        } else {
            None
        }
        .ok_or_else(|| fail(format!("port {port:?} is not a number within 1..=65535")))?;
        let address = address.parse::<IpAddr>().map_err(|_| {
            fail(format!(
                "address {address:?} is not an IP address (IPv6 without brackets)"
            ))
        })?;
        ClientSidePort::new(address, port).map_err(|e| fail(e.problem))
    }
}

/// At most [`MAX_DEFINITION`] characters of `text`, for error messages.
fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_DEFINITION) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

impl<'de> Deserialize<'de> for ClientSidePort {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for ClientSidePort {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Checks the named connections of `enterprise`: names are short and plain, every tuple
/// leaves room for RTCP on the next port, no two tuples share a port (counting each one's
/// RTCP port), and none lies inside the default leg's ports or the public range on the same
/// address.
///
/// # Errors
/// [`Error::Config`] with key `enterprise.connections`, naming the connection(s) and, for a
/// collision with a range, the range's key.
pub(crate) fn check(enterprise: &EnterpriseSide, public: &PublicSide) -> Result<(), Error> {
    let bad = |reason: String| {
        Err(Error::Config {
            key: "enterprise.connections",
            reason,
        })
    };
    let connections = &enterprise.connections;
    for (name, pinned) in connections {
        if let Err(problem) = check_name(name) {
            return bad(format!("connection name {:?}: {problem}", cut(name)));
        }
        if pinned.port == u16::MAX {
            return bad(format!(
                "{name} ({pinned}): port 65535 leaves no room for RTCP (the next port)"
            ));
        }
    }
    for (i, (a, pa)) in connections.iter().enumerate() {
        for (b, pb) in connections.iter().skip(i + 1) {
            if pa.address != pb.address || !overlap(pa.ports(), pb.ports()) {
                continue;
            }
            let how = if pa.port == pb.port {
                "pin the same tuple"
            } else {
                "overlap (each takes its port and the next, for RTCP)"
            };
            return bad(format!("{a} ({pa}) and {b} ({pb}) {how}"));
        }
        let default = match (enterprise.port_range, enterprise.transport_port) {
            (Some(range), _) => Some(("enterprise.port-range", range)),
            (None, Some(port)) => PortRange::new(port, port.saturating_add(1))
                .ok()
                .map(|r| ("enterprise.transport-port", r)),
            (None, None) => None,
        };
        if let Some((key, range)) = default {
            if pa.address == enterprise.transport_address && inside(pa.ports(), range) {
                return bad(format!(
                    "{a} ({pa}) lies inside {key} {range} on {}: sessions of the default leg \
                     would take its ports",
                    enterprise.transport_address
                ));
            }
        }
        let same_public = public.address == pa.address
            || public.address.is_unspecified() && public.address.is_ipv4() == pa.address.is_ipv4();
        if same_public && inside(pa.ports(), public.port_range) {
            return bad(format!(
                "{a} ({pa}) lies inside public.port-range {} on {}: browser-side sockets \
                 would take its ports",
                public.port_range, public.address
            ));
        }
    }
    Ok(())
}

/// A name of 1 to 64 ASCII letters, digits, `-`, `_` and `.`.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    if name.is_empty() || name.len() > MAX_NAME || !name.bytes().all(plain) {
        return Err(format!(
            "must be 1 to {MAX_NAME} ASCII letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(())
}

fn overlap(a: (u16, u16), b: (u16, u16)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

fn inside(ports: (u16, u16), range: PortRange) -> bool {
    overlap(ports, (range.first(), range.last()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn parse(s: &str) -> Result<ClientSidePort, InvalidClientSidePort> {
        s.parse()
    }

    #[test]
    fn both_orders_whitespace_and_ipv6_parse() {
        let v4 = parse("port=41000;address=10.1.2.3").unwrap();
        assert_eq!(v4.socket_addr(), SocketAddr::from(([10, 1, 2, 3], 41000)));
        assert_eq!(parse("address=10.1.2.3;port=41000").unwrap(), v4);
        assert_eq!(parse("  port = 41000 ;\taddress =10.1.2.3  ").unwrap(), v4);
        let v6 = parse("address=2001:db8::7;port=5004").unwrap();
        assert_eq!(v6.address(), "2001:db8::7".parse::<IpAddr>().unwrap());
        assert_eq!(v6.port(), 5004);
        assert_eq!(v6.to_string(), "port=5004;address=2001:db8::7");
        // Display and FromStr round-trip.
        assert_eq!(parse(&v6.to_string()).unwrap(), v6);
    }

    #[test]
    fn every_refusal_names_the_definition_and_the_problem() {
        for (text, named) in [
            ("", "empty part"),
            ("port=41000;", "empty part"),
            ("port=41000;;address=10.1.2.3", "empty part"),
            ("port=41000", "address is missing"),
            ("address=10.1.2.3", "port is missing"),
            (
                "port=41000;address=10.1.2.3;port=41002",
                "port is given twice",
            ),
            (
                "port=1;address=10.1.2.3;address=10.1.2.4",
                "address is given twice",
            ),
            (
                "port=41000;address=10.1.2.3;proto=udp",
                "unknown key \"proto\"",
            ),
            ("Port=41000;address=10.1.2.3", "unknown key \"Port\""),
            ("41000;address=10.1.2.3", "not key=value"),
            ("port=0;address=10.1.2.3", "port 0"),
            ("port=65536;address=10.1.2.3", "\"65536\""),
            ("port=+41;address=10.1.2.3", "\"+41\""),
            ("port=-1;address=10.1.2.3", "\"-1\""),
            ("port=;address=10.1.2.3", "\"\""),
            ("port=41000;address=10.1.2", "\"10.1.2\""),
            ("port=41000;address=[::1]", "without brackets"),
            ("port=41000;address=pbx.example", "\"pbx.example\""),
            ("port=41000;address=0.0.0.0", "unspecified"),
            ("port=41000;address=::", "unspecified"),
            ("port=41000;address=224.0.0.1", "not a unicast"),
            ("port=41000;address=255.255.255.255", "not a unicast"),
            ("port=41000;address=ff02::1", "not a unicast"),
            ("port=41000;address=::ffff:10.1.2.3", "write 10.1.2.3"),
        ] {
            let e = parse(text).unwrap_err();
            let message = e.to_string();
            assert!(message.contains(named), "{text:?}: {message}");
            assert!(
                message.contains(&format!("{text:?}")),
                "{text:?}: {message}"
            );
        }
    }

    #[test]
    fn truncated_oversized_and_random_input_is_refused_without_panic() {
        let good = "port=41000;address=2001:db8::7";
        for cut_at in 0..good.len() {
            // Every prefix lacks something (the last one a digit of the address, which
            // still parses as an address: then the port or address differs).
            if let Ok(p) = parse(&good[..cut_at]) {
                assert_ne!(p, parse(good).unwrap(), "{cut_at}");
            }
        }
        let huge = format!("port=41000;address=10.1.2.3;{}", "x".repeat(100_000));
        let e = parse(&huge).unwrap_err();
        assert!(e.problem.contains("more than 128"), "{e}");
        assert!(e.definition.len() < 140, "the message stays short");
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let alphabet = b"port=addres;0123456789abcdef:. \t\xff[]";
        for round in 0..20_000 {
            let len = (xorshift(&mut state) % 48) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = xorshift(&mut state);
                    if round % 2 == 0 {
                        alphabet[(r % alphabet.len() as u64) as usize]
                    } else {
                        r as u8
                    }
                })
                .collect();
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(p) = parse(&text) {
                // Whatever parses is a valid tuple that prints back to itself.
                assert_ne!(p.port(), 0);
                assert_eq!(parse(&p.to_string()).unwrap(), p);
            }
        }
    }

    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    fn sides(connections: &[(&str, &str)]) -> (EnterpriseSide, PublicSide) {
        let mut e = EnterpriseSide::new(
            "10.1.2.3".parse().unwrap(),
            PortRange::new(30000, 30999).unwrap(),
        );
        e.connections = connections
            .iter()
            .map(|(n, d)| ((*n).to_owned(), parse(d).unwrap()))
            .collect();
        let p = PublicSide::new(
            "192.0.2.1".parse().unwrap(),
            PortRange::new(40000, 40999).unwrap(),
        );
        (e, p)
    }

    fn reason(connections: &[(&str, &str)]) -> Option<String> {
        let (e, p) = sides(connections);
        match check(&e, &p) {
            Ok(()) => None,
            Err(Error::Config { key, reason }) => {
                assert_eq!(key, "enterprise.connections");
                Some(reason)
            }
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn distinct_tuples_outside_the_ranges_are_accepted() {
        assert_eq!(
            reason(&[
                ("pbx-a", "port=41000;address=10.1.2.3"),
                ("pbx-b", "port=41002;address=10.1.2.3"),
                // The same port on another address is another tuple.
                ("pbx-c", "port=41000;address=10.1.2.4"),
                // The enterprise range on another address does not collide.
                ("pbx-d", "port=30000;address=10.1.2.4"),
            ]),
            None
        );
    }

    #[test]
    fn collisions_are_refused_naming_both() {
        let r = reason(&[
            ("pbx-a", "port=41000;address=10.1.2.3"),
            ("pbx-b", "address=10.1.2.3; port=41000"),
        ])
        .unwrap();
        assert!(
            r.contains("pbx-a") && r.contains("pbx-b") && r.contains("same tuple"),
            "{r}"
        );
        let r = reason(&[
            ("pbx-a", "port=41000;address=10.1.2.3"),
            ("pbx-b", "port=41001;address=10.1.2.3"),
        ])
        .unwrap();
        assert!(
            r.contains("pbx-a") && r.contains("pbx-b") && r.contains("RTCP"),
            "{r}"
        );
        let r = reason(&[("pbx-a", "port=30999;address=10.1.2.3")]).unwrap();
        assert!(
            r.contains("pbx-a") && r.contains("enterprise.port-range 30000-30999"),
            "{r}"
        );
        // Its RTCP port would be the range's first.
        let r = reason(&[("pbx-a", "port=29999;address=10.1.2.3")]).unwrap();
        assert!(r.contains("enterprise.port-range"), "{r}");
        let r = reason(&[("pbx-a", "port=40500;address=192.0.2.1")]).unwrap();
        assert!(
            r.contains("pbx-a") && r.contains("public.port-range"),
            "{r}"
        );
        let r = reason(&[("pbx-a", "port=65535;address=10.1.2.3")]).unwrap();
        assert!(r.contains("65535"), "{r}");
        let r = reason(&[("pbx a", "port=41000;address=10.1.2.3")]).unwrap();
        assert!(r.contains("\"pbx a\""), "{r}");

        // A fixed default transport-port collides like a range of two.
        let (mut e, p) = sides(&[("pbx-a", "port=41001;address=10.1.2.3")]);
        e.port_range = None;
        e.transport_port = Some(41000);
        let Err(Error::Config { reason, .. }) = check(&e, &p) else {
            panic!("accepted");
        };
        assert!(reason.contains("enterprise.transport-port"), "{reason}");
    }

    #[test]
    fn connections_deserialize_from_a_toml_table() {
        #[derive(Deserialize)]
        struct T {
            connections: BTreeMap<String, ClientSidePort>,
        }
        let t: T = toml::from_str(
            "[connections]\npbx-a = \"port=41000;address=10.1.2.3\"\n\
             \"pbx-b\" = \"address=::1;port=41002\"\n",
        )
        .unwrap();
        assert_eq!(
            t.connections["pbx-a"].to_string(),
            "port=41000;address=10.1.2.3"
        );
        assert_eq!(t.connections["pbx-b"].to_string(), "port=41002;address=::1");
        let e = toml::from_str::<T>("[connections]\npbx-a = \"port=0;address=10.1.2.3\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("port=0;address=10.1.2.3") && e.contains("pbx-a"),
            "{e}"
        );
    }
}
