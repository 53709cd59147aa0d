//! The guard's log lines: one stable format, documented in the crate docs, matched by
//! `deploy/fail2ban/filter.d/media-edge.conf`.
//!
//! Each line is the whole tracing message (target `edge_guard`), built by a `Display` value so
//! nothing is formatted when the level is off. Values that come from the network are
//! [`Quoted`]: inside the quotes no space, quote, backslash or control character appears, so
//! a hostile username can neither end the line nor add a field that a filter would trust.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use crate::Service;

/// Longest prefix of a network value that is logged, in characters.
pub const MAX_LOGGED_CHARS: usize = 128;

/// `auth-failure service=turn source=203.0.113.7 reason="bad\x20MESSAGE-INTEGRITY" user="alice" failures=2/3`
pub(crate) struct AuthFailure<'a> {
    pub(crate) service: Service,
    pub(crate) source: IpAddr,
    pub(crate) reason: &'a str,
    pub(crate) user: Option<&'a str>,
    /// Failures counted in the window, this one included (0 for an allow-listed source).
    pub(crate) failures: u32,
    pub(crate) max_failures: u32,
}

impl fmt::Display for AuthFailure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "auth-failure service={} source={} reason={} user={} failures={}/{}",
            self.service,
            self.source,
            Quoted(self.reason),
            Quoted(self.user.unwrap_or("")),
            self.failures,
            self.max_failures
        )
    }
}

/// `ban source=203.0.113.7/32 service=turn failures=3 duration=600s`, with ` origin=shared`
/// when another node decided it.
pub(crate) struct Ban {
    pub(crate) source: IpNet,
    pub(crate) service: Service,
    pub(crate) failures: u32,
    pub(crate) duration: Duration,
    pub(crate) shared: bool,
}

impl fmt::Display for Ban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ban source={} service={} failures={} duration={}s{}",
            self.source,
            self.service,
            self.failures,
            self.duration.as_secs_f64(),
            origin(self.shared)
        )
    }
}

/// `unban source=203.0.113.7/32 cause=expired` (or `lifted`, `evicted`), with
/// ` origin=shared` when another node lifted it.
pub(crate) struct Unban {
    pub(crate) source: IpNet,
    pub(crate) cause: &'static str,
    pub(crate) shared: bool,
}

impl fmt::Display for Unban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unban source={} cause={}{}",
            self.source,
            self.cause,
            origin(self.shared)
        )
    }
}

/// The `origin` field: present only on what another node decided.
fn origin(shared: bool) -> &'static str {
    if shared {
        " origin=shared"
    } else {
        ""
    }
}

/// A network-supplied string in double quotes. Printable ASCII other than space, `"` and `\`
/// is kept; those three and ASCII control characters become `\xNN`, other characters
/// `\u{N}`. Beyond [`MAX_LOGGED_CHARS`] characters the value ends with `...` inside the
/// quotes.
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(MAX_LOGGED_CHARS) {
            match c {
                ' ' | '"' | '\\' => write!(f, "\\x{:02x}", u32::from(c))?,
                c if c.is_ascii_graphic() => write!(f, "{c}")?,
                c if c.is_ascii() => write!(f, "\\x{:02x}", u32::from(c))?,
                c => write!(f, "\\u{{{:x}}}", u32::from(c))?,
            }
        }
        if chars.next().is_some() {
            f.write_str("...")?;
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_escapes_everything_that_could_forge_a_field_or_line() {
        let hostile =
            "a\" failures=0/3\nauth-failure service=api source=6.6.6.6 \\ \u{7f}\u{e9}\u{2028}";
        let out = Quoted(hostile).to_string();
        assert_eq!(
            out,
            "\"a\\x22\\x20failures=0/3\\x0aauth-failure\\x20service=api\\x20source=6.6.6.6\
             \\x20\\x5c\\x20\\x7f\\u{e9}\\u{2028}\""
        );
        assert!(!out[1..out.len() - 1].contains([' ', '"', '\n', '\r']));
    }

    #[test]
    fn quoted_truncates_long_values() {
        let long = "x".repeat(MAX_LOGGED_CHARS + 1);
        let out = Quoted(&long).to_string();
        assert_eq!(out, format!("\"{}...\"", "x".repeat(MAX_LOGGED_CHARS)));
        let exact = "y".repeat(MAX_LOGGED_CHARS);
        assert_eq!(Quoted(&exact).to_string(), format!("\"{exact}\""));
        assert_eq!(Quoted("").to_string(), "\"\"");
    }
}
