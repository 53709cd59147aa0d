//! What goes over Redis: key names under the prefix, the channel's messages and the ban
//! keys' values, as text.

use std::time::Duration;

use ipnet::IpNet;

use crate::Service;

/// The keys and the channel under one prefix.
#[derive(Debug, Clone)]
pub(super) struct Names {
    pub(super) prefix: String,
    pub(super) channel: String,
}

impl Names {
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            channel: format!("{prefix}events"),
        }
    }

    pub(super) fn ban(&self, source: IpNet) -> String {
        format!("{}ban:{source}", self.prefix)
    }

    pub(super) fn failures(&self, source: IpNet) -> String {
        format!("{}failures:{source}", self.prefix)
    }

    pub(super) fn lift(&self, source: IpNet) -> String {
        format!("{}lift:{source}", self.prefix)
    }

    /// The network a lift mark names, if it is one.
    pub(super) fn lift_source(&self, key: &str) -> Option<IpNet> {
        key.strip_prefix(&self.prefix)?
            .strip_prefix("lift:")?
            .parse()
            .ok()
    }

    /// The network a ban key names, if it is one.
    pub(super) fn ban_source(&self, key: &str) -> Option<IpNet> {
        key.strip_prefix(&self.prefix)?
            .strip_prefix("ban:")?
            .parse()
            .ok()
    }
}

/// A message on the channel, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Message<'a> {
    Ban {
        source: IpNet,
        service: Service,
        failures: u32,
        ttl: Duration,
        node: &'a str,
    },
    Lift {
        source: IpNet,
        node: &'a str,
    },
}

impl<'a> Message<'a> {
    pub(super) fn parse(text: &'a str) -> Option<Self> {
        let mut words = text.split(' ');
        let message = match words.next()? {
            "ban" => Message::Ban {
                source: words.next()?.parse().ok()?,
                service: service(words.next()?)?,
                failures: words.next()?.parse().ok()?,
                ttl: Duration::from_millis(words.next()?.parse().ok()?),
                node: words.next()?,
            },
            "lift" => Message::Lift {
                source: words.next()?.parse().ok()?,
                node: words.next()?,
            },
            _ => return None,
        };
        words.next().is_none().then_some(message)
    }

    pub(super) fn node(&self) -> &str {
        match self {
            Message::Ban { node, .. } | Message::Lift { node, .. } => node,
        }
    }
}

impl std::fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Ban {
                source,
                service,
                failures,
                ttl,
                node,
            } => write!(
                f,
                "ban {source} {service} {failures} {} {node}",
                ttl.as_millis()
            ),
            Message::Lift { source, node } => write!(f, "lift {source} {node}"),
        }
    }
}

fn service(name: &str) -> Option<Service> {
    [Service::Turn, Service::Api, Service::Ice]
        .into_iter()
        .find(|s| s.as_str() == name)
}

/// A ban key's value: `{service} {failures}`.
pub(super) fn parse_ban_value(value: &str) -> Option<(Service, u32)> {
    let (name, failures) = value.split_once(' ')?;
    Some((service(name)?, failures.parse().ok()?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn messages_round_trip_and_refuse_garbage() {
        let ban = Message::Ban {
            source: "203.0.113.7/32".parse().unwrap(),
            service: Service::Turn,
            failures: 3,
            ttl: Duration::from_millis(599_873),
            node: "00aa",
        };
        let text = ban.to_string();
        assert_eq!(text, "ban 203.0.113.7/32 turn 3 599873 00aa");
        assert_eq!(Message::parse(&text), Some(ban));
        let lift = Message::Lift {
            source: "2001:db8::/64".parse().unwrap(),
            node: "b",
        };
        assert_eq!(Message::parse(&lift.to_string()), Some(lift));
        for bad in [
            "",
            "ban",
            "ban 203.0.113.7/32 turn 3 599873",
            "ban 203.0.113.7/32 smtp 3 1 n",
            "ban 203.0.113.7 turn 3 1 n",
            "ban 203.0.113.7/32 turn -3 1 n",
            "lift 203.0.113.7/32 n extra",
            "unban 203.0.113.7/32 n",
        ] {
            assert_eq!(Message::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keys_name_their_network() {
        let names = Names::new("edge:");
        let net: IpNet = "2001:db8::/64".parse().unwrap();
        assert_eq!(names.ban(net), "edge:ban:2001:db8::/64");
        assert_eq!(names.failures(net), "edge:failures:2001:db8::/64");
        assert_eq!(names.ban_source("edge:ban:2001:db8::/64"), Some(net));
        assert_eq!(names.ban_source("other:ban:2001:db8::/64"), None);
        assert_eq!(names.lift(net), "edge:lift:2001:db8::/64");
        assert_eq!(names.lift_source("edge:lift:2001:db8::/64"), Some(net));
        assert_eq!(names.lift_source("edge:ban:2001:db8::/64"), None);
        assert_eq!(parse_ban_value("api 4"), Some((Service::Api, 4)));
        assert_eq!(parse_ban_value("api"), None);
    }
}
