//! Web origins (RFC 6454): the `Origin` request header and the entries of
//! `api.cors.domain-whitelist`, compared as serialized origins.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// A tuple origin `scheme://host[:port]` (RFC 6454 section 4) in its normal form: scheme and
/// host in lower case, the scheme's default port (80 for http, 443 for https) left out, IPv6
/// hosts in brackets. Only `http` and `https` origins exist here: the API is called by web
/// pages, and an opaque origin (`null`) never matches a whitelist entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// `http://host[:port]` or `https://host[:port]`, normalised.
    serialized: String,
}

/// Why a string is not an origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidOrigin(&'static str);

impl fmt::Display for InvalidOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Origin {
    /// The origin as `scheme://host[:port]`, normalised.
    pub fn as_str(&self) -> &str {
        &self.serialized
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.serialized)
    }
}

impl FromStr for Origin {
    type Err = InvalidOrigin;

    fn from_str(s: &str) -> Result<Self, InvalidOrigin> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or(InvalidOrigin("not of the form scheme://host[:port]"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(InvalidOrigin("the scheme is neither http nor https")),
        };
        if rest.is_empty() {
            return Err(InvalidOrigin("the host is missing"));
        }
        if rest.contains(['/', '?', '#']) {
            return Err(InvalidOrigin(
                "an origin has no path, query or fragment (not even a trailing /)",
            ));
        }
        if rest.contains('@') {
            return Err(InvalidOrigin("an origin has no user information"));
        }
        let (host, port) = split_host_port(rest)?;
        let host = normal_host(host)?;
        let port = match port {
            None => None,
            Some(p) => {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(InvalidOrigin("the port is not a number"));
                }
                let p: u16 = p
                    .parse()
                    .map_err(|_| InvalidOrigin("the port is above 65535"))?;
                (p != default_port).then_some(p)
            }
        };
        let serialized = match port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        };
        Ok(Origin { serialized })
    }
}

impl<'de> Deserialize<'de> for Origin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|e| serde::de::Error::custom(format!("{text:?} is not an origin: {e}")))
    }
}

/// Splits `host[:port]`, where an IPv6 host is in brackets.
fn split_host_port(s: &str) -> Result<(&str, Option<&str>), InvalidOrigin> {
    if let Some(inner) = s.strip_prefix('[') {
        let end = inner
            .find(']')
            .ok_or(InvalidOrigin("an IPv6 host lacks its closing ]"))?;
        let host = &s[..end + 2];
        return match &s[end + 2..] {
            "" => Ok((host, None)),
            tail => tail
                .strip_prefix(':')
                .map(|port| (host, Some(port)))
                .ok_or(InvalidOrigin("junk after the IPv6 host")),
        };
    }
    Ok(match s.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (s, None),
    })
}

/// The host in lower case: a bracketed IPv6 literal (written canonically), or a name or
/// IPv4 literal of letters, digits, `-` and `.` (internationalised names in their `xn--`
/// form, as browsers send them).
fn normal_host(host: &str) -> Result<String, InvalidOrigin> {
    if let Some(literal) = host.strip_prefix('[') {
        let literal = literal.strip_suffix(']').unwrap_or(literal);
        let ip: Ipv6Addr = literal
            .parse()
            .map_err(|_| InvalidOrigin("the bracketed host is not an IPv6 address"))?;
        return Ok(format!("[{ip}]"));
    }
    if host.is_empty() || host.len() > 253 {
        return Err(InvalidOrigin("the host is empty or longer than 253 bytes"));
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !host.split('.').all(label_ok) {
        return Err(InvalidOrigin(
            "the host is not a DNS name or address (letters, digits, - and . only; \
             internationalised names in their xn-- form)",
        ));
    }
    Ok(host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Result<String, InvalidOrigin> {
        s.parse::<Origin>().map(|o| o.to_string())
    }

    #[test]
    fn normal_forms() {
        for (input, normal) in [
            ("https://app.example.com", "https://app.example.com"),
            ("HTTPS://App.Example.COM", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            ("http://app.example.com:80", "http://app.example.com"),
            ("http://app.example.com:443", "http://app.example.com:443"),
            ("https://app.example.com:80", "https://app.example.com:80"),
            ("http://localhost:3000", "http://localhost:3000"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("https://[2001:DB8:0::1]:8443", "https://[2001:db8::1]:8443"),
            ("https://[::1]", "https://[::1]"),
            (
                "https://xn--bcher-kva.example",
                "https://xn--bcher-kva.example",
            ),
        ] {
            assert_eq!(norm(input).as_deref(), Ok(normal), "{input}");
        }
    }

    #[test]
    fn not_origins() {
        for input in [
            "",
            "null",
            "app.example.com",
            "ftp://app.example.com",
            "https://",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://app.example.com?q",
            "https://app.example.com#f",
            "https://user@app.example.com",
            "https://app.example.com:",
            "https://app.example.com:+80",
            "https://app.example.com:65536",
            "https://app..example.com",
            "https://app_example.com",
            "https://bücher.example",
            "https://[2001:db8::1",
            "https://[2001:db8::1]x",
            "https://[not-v6]",
            "https://[::1]:",
            "https://a b",
        ] {
            assert!(norm(input).is_err(), "{input:?} parsed");
        }
    }

    /// Arbitrary, truncated and oversized input returns an error or an origin, never a panic.
    #[test]
    fn random_input_never_panics() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let alphabet = b"htps:/[]0123456789abcdef.-@?#: \xc3\xbc";
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let text = String::from_utf8_lossy(&bytes);
            // The fuzz target's check: no panic, and what parses prints back to itself.
            crate::fuzz::origin(&bytes);
            crate::fuzz::origin(format!("https://{text}").as_bytes());
            let _ = norm(&text);
            let _ = norm(&format!("https://{text}"));
            let _ = norm(&format!("http://[{text}"));
        }
        let long = format!("https://{}.example", "a".repeat(70_000));
        assert!(norm(&long).is_err());
    }
}
