//! The values every configuration section of media-edge writes the same way, parsed and
//! bounded in one place:
//!
//! - **durations** are seconds, integer or fractional (`30`, `0.5`), from 0 to
//!   [`MAX_DURATION`] (ten years), so that `Instant + duration` can never overflow
//!   ([`seconds`]);
//! - **port ranges** are `"first-last"` or one port `"first"`, ports 1-65535
//!   ([`PortRange`]), and their free ports are handed out by one pool ([`PortPool`]);
//! - **socket buffers** are bytes from [`MIN_SOCKET_BUFFER`] to [`MAX_SOCKET_BUFFER`];
//! - **networks** are CIDR (`10.0.0.0/8`, `2001:db8::/32`) or one address, which is a /32 or
//!   /128 ([`network`], [`networks`]).
//!
//! Each section's struct uses them through serde (`deserialize_with`, or [`PortRange`]'s
//! `Deserialize`); errors name the value, and serde's TOML front end adds the key and line.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

mod pool;
pub use pool::PortPool;

/// The longest duration any key accepts: ten years.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// The smallest socket buffer (SO_RCVBUF/SO_SNDBUF) any key accepts, bytes: one full-size
/// datagram and the kernel's bookkeeping.
pub const MIN_SOCKET_BUFFER: usize = 4096;

/// The largest socket buffer any key accepts, bytes (1 GiB): above any kernel's cap
/// (`net.core.rmem_max`), and within the `int` that `setsockopt` takes.
pub const MAX_SOCKET_BUFFER: usize = 1 << 30;

/// A value that does not parse or is out of bounds; the message names the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);

/// Seconds, integer or fractional, from 0 to [`MAX_DURATION`].
///
/// # Errors
/// A negative, non-finite or too long value, naming it.
pub fn duration_from_secs(secs: f64) -> Result<Duration, Error> {
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d <= MAX_DURATION => Ok(d),
        _ => Err(Error(format!(
            "{secs} is not a number of seconds from 0 to {}",
            MAX_DURATION.as_secs()
        ))),
    }
}

/// serde `deserialize_with` for a duration in seconds ([`duration_from_secs`]).
///
/// # Errors
/// As [`duration_from_secs`], or a value that is not a number.
pub fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration_from_secs(f64::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// A network in CIDR notation, or one address (a /32 or /128).
///
/// # Errors
/// Text that is neither, naming it.
pub fn network(text: &str) -> Result<IpNet, Error> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            Error(format!(
                "{text:?} is neither an address nor a network like 10.0.0.0/8"
            ))
        })
}

/// serde `deserialize_with` for a list of [`network`]s.
///
/// # Errors
/// The first entry that is not a network or address.
pub fn networks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| network(s).map_err(serde::de::Error::custom))
        .collect()
}

/// An inclusive range of UDP ports, e.g. the range a firewall opens: written `"first-last"`,
/// or `"port"` for a range of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    /// IANA's dynamic and private ports, 49152-65535.
    pub const DYNAMIC: PortRange = PortRange {
        first: 49152,
        last: 65535,
    };

    /// `first..=last`.
    ///
    /// # Errors
    /// Port 0, or `first > last`.
    pub fn new(first: u16, last: u16) -> Result<Self, Error> {
        if first == 0 || first > last {
            return Err(Error(format!(
                "{first}-{last} is not a port range: need 1 <= first <= last"
            )));
        }
        Ok(Self { first, last })
    }

    /// The first port.
    pub fn first(&self) -> u16 {
        self.first
    }

    /// The last port (included).
    pub fn last(&self) -> u16 {
        self.last
    }

    /// How many ports the range holds (at least 1).
    pub fn len(&self) -> usize {
        usize::from(self.last - self.first) + 1
    }

    /// Always false: a range holds at least one port. (Here for clippy's `len_without_is_empty`.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `port` lies in the range.
    pub fn contains(&self, port: u16) -> bool {
        self.ports().contains(&port)
    }

    /// The ports of the range, in order.
    pub fn ports(&self) -> std::ops::RangeInclusive<u16> {
        self.first..=self.last
    }
}

impl TryFrom<std::ops::RangeInclusive<u16>> for PortRange {
    type Error = Error;

    fn try_from(ports: std::ops::RangeInclusive<u16>) -> Result<Self, Error> {
        PortRange::new(*ports.start(), *ports.end())
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl FromStr for PortRange {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let (first, last) = text.split_once('-').unwrap_or((text, text));
        let port = |s: &str| {
            s.trim().parse::<u16>().map_err(|_| {
                Error(format!(
                    "{text:?} is not a port range like \"40000-40999\" (ports 1-65535)"
                ))
            })
        };
        PortRange::new(port(first)?, port(last)?)
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Section {
        #[serde(deserialize_with = "seconds")]
        timeout: Duration,
        range: PortRange,
        #[serde(deserialize_with = "networks")]
        allow: Vec<IpNet>,
    }

    fn section(text: &str) -> Result<Section, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn values_parse_in_every_documented_form() {
        let s = section(
            "timeout = 0.5\nrange = \"40000-40999\"\nallow = [\"10.0.0.0/8\", \"192.0.2.1\", \"::1\"]",
        )
        .unwrap();
        assert_eq!(s.timeout, Duration::from_millis(500));
        assert_eq!(
            (s.range.first(), s.range.last(), s.range.len()),
            (40000, 40999, 1000)
        );
        assert_eq!(s.range.to_string(), "40000-40999");
        let allow: Vec<String> = s.allow.iter().map(ToString::to_string).collect();
        assert_eq!(allow, ["10.0.0.0/8", "192.0.2.1/32", "::1/128"]);
        let one: PortRange = "3478".parse().unwrap();
        assert_eq!((one.first(), one.last()), (3478, 3478));
        assert!(one.contains(3478) && !one.contains(3479));
        assert_eq!(
            section("timeout = 30\nrange = \"1-1\"\nallow = []")
                .unwrap()
                .timeout,
            Duration::from_secs(30)
        );
    }

    #[test]
    fn bad_values_are_named_and_never_overflow() {
        for (text, named) in [
            ("timeout = -1\nrange = \"1-2\"\nallow = []", "-1"),
            ("timeout = 1e300\nrange = \"1-2\"\nallow = []", "1e300"),
            (
                "timeout = 315360001\nrange = \"1-2\"\nallow = []",
                "315360001",
            ),
            ("timeout = nan\nrange = \"1-2\"\nallow = []", "NaN"),
            ("timeout = 1\nrange = \"0-10\"\nallow = []", "0-10"),
            ("timeout = 1\nrange = \"11-10\"\nallow = []", "11-10"),
            ("timeout = 1\nrange = \"1-70000\"\nallow = []", "1-70000"),
            ("timeout = 1\nrange = \"a-b\"\nallow = []", "a-b"),
            ("timeout = 1\nrange = \"\"\nallow = []", "\"\""),
            (
                "timeout = 1\nrange = \"1-2\"\nallow = [\"10.0.0.0/33\"]",
                "10.0.0.0/33",
            ),
            (
                "timeout = 1\nrange = \"1-2\"\nallow = [\"example.org\"]",
                "example.org",
            ),
        ] {
            let err = section(text).unwrap_err();
            assert!(err.contains(named), "{text}: {err}");
        }
        assert_eq!(
            duration_from_secs(MAX_DURATION.as_secs_f64()),
            Ok(MAX_DURATION)
        );
        let far = std::time::Instant::now() + duration_from_secs(315_360_000.0).unwrap();
        assert!(far > std::time::Instant::now());
    }
}
