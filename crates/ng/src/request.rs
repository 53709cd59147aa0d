//! An ng request read into what media-edge does with it: the command, the call's keys,
//! and the options (`direction`, `transport-protocol`, `ICE`, `DTLS`, `SDES`, `rtcp-mux`,
//! `flags`, `replace`, `received-from`, `media-address`, the raw `rtpp-flags`).
//!
//! Key and flag names are matched as rtpengine matches them: `transport protocol`,
//! `transport-protocol` and `transport_protocol` are one key, case does not matter. An
//! unknown key, flag or value is refused by name, never ignored.

use std::net::IpAddr;

use crate::bencode::Value;

/// The commands media-edge serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `ping`: answered `pong`.
    Ping,
    /// `offer`: a new call.
    Offer,
    /// `answer`: the callee's answer.
    Answer,
    /// `delete`: the end of a call.
    Delete,
    /// `query`: a call's counters.
    Query,
    /// `list`: the call-ids.
    List,
    /// `statistics`: totals of the process.
    Statistics,
}

impl Command {
    /// Every command, in the order metrics list them.
    pub const ALL: [Command; 7] = [
        Command::Ping,
        Command::Offer,
        Command::Answer,
        Command::Delete,
        Command::Query,
        Command::List,
        Command::Statistics,
    ];

    /// The command's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Ping => "ping",
            Command::Offer => "offer",
            Command::Answer => "answer",
            Command::Delete => "delete",
            Command::Query => "query",
            Command::List => "list",
            Command::Statistics => "statistics",
        }
    }

    fn parse(name: &str) -> Option<Command> {
        Command::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(name))
    }
}

/// One of media-edge's two sides, as `direction` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The browsers' side: WebRTC (ICE-lite, DTLS-SRTP, rtcp-mux).
    Public,
    /// The enterprise side: RTP/AVP, or RTP/SAVP with SDES.
    Enterprise,
}

impl Side {
    /// The interface name.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Public => "public",
            Side::Enterprise => "enterprise",
        }
    }

    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Public => Side::Enterprise,
            Side::Enterprise => Side::Public,
        }
    }
}

/// `transport-protocol`: what the SDP media-edge writes carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `RTP/AVP`: plain RTP toward the enterprise.
    RtpAvp,
    /// `RTP/SAVP`: SDES-SRTP toward the enterprise.
    RtpSavp,
    /// `RTP/SAVPF`: SDES-SRTP with feedback; media-edge does not write it.
    RtpSavpf,
    /// `UDP/TLS/RTP/SAVPF`: DTLS-SRTP toward browsers.
    DtlsSavpf,
}

impl Transport {
    fn parse(value: &str) -> Option<Transport> {
        match value.to_ascii_uppercase().as_str() {
            "RTP/AVP" => Some(Transport::RtpAvp),
            "RTP/SAVP" => Some(Transport::RtpSavp),
            "RTP/SAVPF" => Some(Transport::RtpSavpf),
            "UDP/TLS/RTP/SAVPF" => Some(Transport::DtlsSavpf),
            _ => None,
        }
    }

    /// The protocol's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::RtpAvp => "RTP/AVP",
            Transport::RtpSavp => "RTP/SAVP",
            Transport::RtpSavpf => "RTP/SAVPF",
            Transport::DtlsSavpf => "UDP/TLS/RTP/SAVPF",
        }
    }

    /// The side that speaks it.
    pub fn side(self) -> Side {
        match self {
            Transport::DtlsSavpf => Side::Public,
            _ => Side::Enterprise,
        }
    }
}

/// `ICE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ice {
    /// `remove`: no ICE in the SDP written.
    Remove,
    /// `force`: ICE in the SDP written.
    Force,
    /// `default`: as the side needs.
    Default,
}

/// `DTLS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtls {
    /// `passive`: media-edge takes the DTLS server role.
    Passive,
    /// `off` (`no`, `disable`): no DTLS in the SDP written.
    Off,
}

/// One `rtcp-mux` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpMux {
    /// `offer`: offer rtcp-mux to the recipient.
    Offer,
    /// `require`: rtcp-mux toward the recipient, no separate RTCP port.
    Require,
    /// `demux`: separate RTP and RTCP ports toward the recipient.
    Demux,
    /// `accept`: accept the offerer's rtcp-mux.
    Accept,
    /// `reject`: refuse the offerer's rtcp-mux.
    Reject,
}

/// The options of an offer or answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `direction`: [the sender's side, the recipient's side].
    pub direction: Option<(Side, Side)>,
    /// `transport-protocol`.
    pub transport: Option<Transport>,
    /// `ICE`.
    pub ice: Option<Ice>,
    /// `DTLS`.
    pub dtls: Option<Dtls>,
    /// `SDES: off`: no SDES toward the recipient.
    pub sdes_off: bool,
    /// `rtcp-mux`.
    pub rtcp_mux: Vec<RtcpMux>,
    /// `flags: strict-source`.
    pub strict_source: bool,
    /// `received-from`: where the SIP message came from (informational, as in rtpengine
    /// without `SIP-source-address`).
    pub received_from: Option<IpAddr>,
    /// `media-address`: the media address of the SDP (must be the SDP's own).
    pub media_address: Option<IpAddr>,
    /// `delete-delay` in seconds.
    pub delete_delay: Option<i64>,
    /// `limit` of `list`.
    pub limit: Option<usize>,
}

/// A request read from its dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The command.
    pub command: Command,
    /// `call-id`.
    pub call_id: Option<String>,
    /// `from-tag`.
    pub from_tag: Option<String>,
    /// `to-tag`.
    pub to_tag: Option<String>,
    /// `via-branch`.
    pub via_branch: Option<String>,
    /// `sdp`.
    pub sdp: Option<String>,
    /// Everything else.
    pub options: Options,
}

/// A key name as compared: lower case, `-` for spaces and underscores.
fn normal(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            ' ' | '_' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

fn text<'a>(key: &str, value: &'a Value) -> Result<&'a str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("key {key:?} must be a UTF-8 string"))
}

/// The strings of a key that is a list of strings (a lone string counts as a list of one).
fn texts<'a>(key: &str, value: &'a Value) -> Result<Vec<&'a str>, String> {
    match value {
        Value::List(items) => items.iter().map(|v| text(key, v)).collect(),
        v => Ok(vec![text(key, v)?]),
    }
}

impl Request {
    /// Reads a request dictionary. `Err` carries the `error-reason`.
    pub fn parse(dict: &Value) -> Result<Request, String> {
        let entries = dict
            .as_dict()
            .ok_or("the message is not a bencoded dictionary")?;
        let command = dict
            .get("command")
            .ok_or("no command")
            .and_then(|v| v.as_str().ok_or("command is not a string"))?;
        let command =
            Command::parse(command).ok_or_else(|| format!("Unrecognized command {command:?}"))?;
        let mut request = Request {
            command,
            call_id: None,
            from_tag: None,
            to_tag: None,
            via_branch: None,
            sdp: None,
            options: Options::default(),
        };
        for (key, value) in entries {
            let key = String::from_utf8_lossy(key);
            request.key(&key, value)?;
        }
        Ok(request)
    }

    fn key(&mut self, key: &str, value: &Value) -> Result<(), String> {
        let o = &mut self.options;
        match normal(key).as_str() {
            "command" => {}
            "call-id" => self.call_id = Some(text(key, value)?.to_owned()),
            "from-tag" => self.from_tag = Some(text(key, value)?.to_owned()),
            "to-tag" => self.to_tag = Some(text(key, value)?.to_owned()),
            "via-branch" => self.via_branch = Some(text(key, value)?.to_owned()),
            "sdp" => self.sdp = Some(text(key, value)?.to_owned()),
            "flags" => {
                for flag in texts(key, value)? {
                    self.flag(flag)?;
                }
            }
            "replace" => {
                for item in texts(key, value)? {
                    replace(item)?;
                }
            }
            "direction" => {
                let sides = texts(key, value)?;
                let [from, to] = sides[..] else {
                    return Err("direction must name two interfaces: [from, to]".into());
                };
                o.direction = Some((side(from)?, side(to)?));
            }
            "interface" => {
                // A single interface name: the side of the SDP written.
                let to = side(text(key, value)?)?;
                o.direction = Some((to.other(), to));
            }
            "transport-protocol" => {
                let v = text(key, value)?;
                o.transport = Some(
                    Transport::parse(v)
                        .ok_or_else(|| format!("transport-protocol {v:?} is not supported"))?,
                );
            }
            "ice" => {
                let v = text(key, value)?;
                o.ice = Some(match v.to_ascii_lowercase().as_str() {
                    "remove" => Ice::Remove,
                    "force" => Ice::Force,
                    "default" => Ice::Default,
                    _ => {
                        return Err(format!(
                            "ICE {v:?} is not supported (remove, force, default)"
                        ))
                    }
                });
            }
            "dtls" => {
                let v = text(key, value)?;
                o.dtls = Some(match v.to_ascii_lowercase().as_str() {
                    "passive" => Dtls::Passive,
                    "off" | "no" | "disable" => Dtls::Off,
                    _ => {
                        return Err(format!(
                            "DTLS {v:?} is not supported: media-edge is the passive DTLS side \
                             (passive, off)"
                        ))
                    }
                });
            }
            "sdes" => {
                for v in texts(key, value)? {
                    match v.to_ascii_lowercase().as_str() {
                        "off" | "no" | "disable" => o.sdes_off = true,
                        _ => return Err(format!("SDES {v:?} is not supported (off)")),
                    }
                }
            }
            "rtcp-mux" => {
                for v in texts(key, value)? {
                    o.rtcp_mux.push(rtcp_mux(v)?);
                }
            }
            "received-from" => {
                let items = texts(key, value)?;
                let [family, address] = items[..] else {
                    return Err("received-from must be [family, address]".into());
                };
                o.received_from = Some(address_of("received-from", family, address)?);
            }
            "media-address" => {
                let v = text(key, value)?;
                o.media_address = Some(
                    v.parse()
                        .map_err(|_| format!("media-address {v:?} is not an IP address"))?,
                );
            }
            "delete-delay" => {
                o.delete_delay = Some(value.as_int().ok_or("delete-delay is not an integer")?);
            }
            // What the client understands in replies (Kamailio: "load limit"): capabilities,
            // not requests; media-edge sends none of those replies.
            "supports" => {
                texts(key, value)?;
            }
            "limit" => {
                let limit = value.as_int().ok_or("limit is not an integer")?;
                o.limit = Some(usize::try_from(limit).map_err(|_| "limit is negative")?);
            }
            "rtpp-flags" => {
                let raw = text(key, value)?;
                for token in raw.split_whitespace() {
                    self.rtpp_flag(token)?;
                }
            }
            other => return Err(format!("unsupported key {other:?}")),
        }
        Ok(())
    }

    /// One entry of `flags`.
    fn flag(&mut self, flag: &str) -> Result<(), String> {
        match normal(flag).as_str() {
            // media-edge reads the media address from the SDP, which is what trust-address
            // asks for; it sends from the port it receives on (symmetric).
            "trust-address" | "symmetric" => Ok(()),
            "strict-source" => {
                self.options.strict_source = true;
                Ok(())
            }
            _ => Err(format!("unsupported flag {flag:?}")),
        }
    }

    /// One token of the raw `rtpp-flags` string: `key=value`, or a flag (a transport
    /// protocol, `replace-origin`, `rtcp-mux-offer`, `SDES-off`, ...).
    fn rtpp_flag(&mut self, token: &str) -> Result<(), String> {
        if let Some((key, value)) = token.split_once('=') {
            let value = Value::str(value);
            return match normal(key).as_str() {
                "direction" if self.options.direction.is_none() => {
                    let from = side(value.as_str().unwrap_or_default())?;
                    self.options.direction = Some((from, from.other()));
                    Ok(())
                }
                "direction" => Err("rtpp-flags: direction given twice".into()),
                "replace" | "rtcp-mux" | "sdes" | "flags" => self.key(key, &value),
                "transport-protocol" | "ice" | "dtls" | "via-branch" | "to-tag" | "from-tag"
                | "call-id" | "media-address" | "delete-delay" | "interface" => {
                    self.key(key, &value)
                }
                other => Err(format!("rtpp-flags: unsupported key {other:?}")),
            };
        }
        if let Some(protocol) = Transport::parse(token) {
            self.options.transport = Some(protocol);
            return Ok(());
        }
        let lower = normal(token);
        if let Some(item) = lower.strip_prefix("replace-") {
            return replace(item);
        }
        if let Some(item) = lower.strip_prefix("rtcp-mux-") {
            self.options.rtcp_mux.push(rtcp_mux(item)?);
            return Ok(());
        }
        if let Some(item) = lower.strip_prefix("sdes-") {
            return self.key("SDES", &Value::str(item));
        }
        self.flag(token)
            .map_err(|_| format!("rtpp-flags: unsupported flag {token:?}"))
    }
}

/// `replace`: media-edge writes its own `o=` and `c=` lines, so `origin` and
/// `session-connection` are always done; other replacements are refused.
fn replace(item: &str) -> Result<(), String> {
    match normal(item).as_str() {
        "origin" | "session-connection" => Ok(()),
        _ => Err(format!(
            "replace {item:?} is not supported (origin, session-connection)"
        )),
    }
}

fn side(name: &str) -> Result<Side, String> {
    match name.to_ascii_lowercase().as_str() {
        "public" => Ok(Side::Public),
        "enterprise" => Ok(Side::Enterprise),
        _ => Err(format!(
            "interface {name:?} is not one of media-edge's sides (public, enterprise)"
        )),
    }
}

impl RtcpMux {
    /// The value's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RtcpMux::Offer => "offer",
            RtcpMux::Require => "require",
            RtcpMux::Demux => "demux",
            RtcpMux::Accept => "accept",
            RtcpMux::Reject => "reject",
        }
    }
}

fn rtcp_mux(value: &str) -> Result<RtcpMux, String> {
    match value.to_ascii_lowercase().as_str() {
        "offer" => Ok(RtcpMux::Offer),
        "require" => Ok(RtcpMux::Require),
        "demux" => Ok(RtcpMux::Demux),
        "accept" => Ok(RtcpMux::Accept),
        "reject" => Ok(RtcpMux::Reject),
        _ => Err(format!("rtcp-mux {value:?} is not supported")),
    }
}

fn address_of(key: &str, family: &str, address: &str) -> Result<IpAddr, String> {
    let ip: IpAddr = address
        .parse()
        .map_err(|_| format!("{key} address {address:?} is not an IP address"))?;
    match (family.to_ascii_uppercase().as_str(), ip) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Ok(ip),
        _ => Err(format!("{key}: {address} is not of family {family:?}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(entries: Vec<(&str, Value)>) -> Result<Request, String> {
        Request::parse(&Value::dict(entries))
    }

    #[test]
    fn keys_in_any_spelling() {
        let r = parse(vec![
            ("command", Value::str("offer")),
            ("call-id", Value::str("c")),
            ("transport protocol", Value::str("RTP/AVP")),
            ("ICE", Value::str("remove")),
            ("rtcp-mux", Value::strs(["demux"])),
            ("direction", Value::strs(["public", "enterprise"])),
            ("replace", Value::strs(["origin", "session connection"])),
            ("flags", Value::strs(["trust address", "strict-source"])),
            ("received-from", Value::strs(["IP4", "192.0.2.1"])),
        ])
        .unwrap();
        assert_eq!(r.options.transport, Some(Transport::RtpAvp));
        assert_eq!(r.options.ice, Some(Ice::Remove));
        assert_eq!(r.options.direction, Some((Side::Public, Side::Enterprise)));
        assert!(r.options.strict_source);
    }

    #[test]
    fn rtpp_flags_read_like_keys() {
        let r = parse(vec![
            ("command", Value::str("offer")),
            (
                "rtpp-flags",
                Value::str(
                    "replace-origin UDP/TLS/RTP/SAVPF ICE=force rtcp-mux-require DTLS=passive",
                ),
            ),
        ])
        .unwrap();
        assert_eq!(r.options.transport, Some(Transport::DtlsSavpf));
        assert_eq!(r.options.ice, Some(Ice::Force));
        assert_eq!(r.options.dtls, Some(Dtls::Passive));
        assert_eq!(r.options.rtcp_mux, vec![RtcpMux::Require]);
    }

    #[test]
    fn unknown_things_are_named() {
        let refused = |entries| parse(entries).unwrap_err();
        let base = || vec![("command", Value::str("offer"))];
        assert!(refused(vec![("command", Value::str("frob"))]).contains("frob"));
        let mut e = base();
        e.push(("codec", Value::dict(vec![])));
        assert!(refused(e).contains("codec"));
        let mut e = base();
        e.push(("flags", Value::strs(["record-call"])));
        assert!(refused(e).contains("record-call"));
        let mut e = base();
        e.push(("ICE", Value::str("force-relay")));
        assert!(refused(e).contains("force-relay"));
        let mut e = base();
        e.push(("DTLS", Value::str("active")));
        assert!(refused(e).contains("active"));
        let mut e = base();
        e.push(("rtpp-flags", Value::str("SIP-source-address")));
        assert!(refused(e).contains("SIP-source-address"));
    }
}
