//! Client-side port definition from the command line: `--transport-address` and
//! `--transport-port` (the forwarder's default enterprise leg, `[forward.enterprise]`), and
//! `--connection NAME=port=<n>;address=<ip>` (a named connection,
//! `[forward.enterprise.connections]`).
//!
//! The values are written into the parsed configuration document before it is read, so the
//! file and the command line go through the same checks. A value the file already defines
//! differently refuses start-up naming both places; an equal value is fine. One exception
//! narrows instead of conflicting: a `--transport-port` inside the file's
//! `forward.enterprise.port-range` pins that one port of the range.

use std::borrow::Cow;
use std::net::IpAddr;

use anyhow::{anyhow, bail};
use edge_forward::ClientSidePort;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The enterprise leg as the command line defines it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pins {
    transport_address: Option<IpAddr>,
    transport_port: Option<u16>,
    /// `transport_port` as a TOML integer, which the document borrows while it is read.
    port_text: String,
    /// `--connection` definitions, one per name.
    connections: Vec<(String, ClientSidePort)>,
}

/// Parses one `--connection` value, `NAME=port=<n>;address=<ip>`.
pub fn parse_connection(text: &str) -> Result<(String, ClientSidePort), String> {
    let (name, definition) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=port=<n>;address=<ip>"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!(
            "{text:?} has no connection name before the first '='"
        ));
    }
    let pinned = definition
        .parse::<ClientSidePort>()
        .map_err(|e| e.to_string())?;
    Ok((name.to_owned(), pinned))
}

/// The configuration keys the command line wrote, as `forward.enterprise.transport-port`:
/// errors about them point at the command line instead of a line of the file.
pub type CommandLineKeys = Vec<String>;

impl Pins {
    /// `--transport-address`, `--transport-port` and the `--connection`s, in command-line
    /// order. The same name twice is fine with the same tuple, refused with another.
    pub fn new(
        transport_address: Option<IpAddr>,
        transport_port: Option<u16>,
        given: Vec<(String, ClientSidePort)>,
    ) -> anyhow::Result<Self> {
        let mut connections: Vec<(String, ClientSidePort)> = Vec::new();
        for (name, pinned) in given {
            match connections.iter().find(|(n, _)| *n == name) {
                Some((_, first)) if *first != pinned => bail!(
                    "--connection {name}={pinned} (command line) conflicts with \
                     --connection {name}={first} (command line)"
                ),
                Some(_) => {}
                None => connections.push((name, pinned)),
            }
        }
        Ok(Pins {
            transport_address,
            transport_port,
            port_text: transport_port.map(|p| p.to_string()).unwrap_or_default(),
            connections,
        })
    }

    /// Whether the command line defines nothing.
    pub fn is_empty(&self) -> bool {
        self.transport_address.is_none()
            && self.transport_port.is_none()
            && self.connections.is_empty()
    }

    /// Writes the pins into `doc` (the file as parsed from `origin`), or refuses a
    /// definition that differs from the file's.
    pub fn apply<'i>(
        &'i self,
        doc: &mut DeTable<'i>,
        origin: &str,
    ) -> anyhow::Result<CommandLineKeys> {
        let mut keys = CommandLineKeys::new();
        if self.is_empty() {
            return Ok(keys);
        }
        let flag = if self.transport_address.is_some() {
            "--transport-address"
        } else if self.transport_port.is_some() {
            "--transport-port"
        } else {
            "--connection"
        };
        let relay = match doc.get_mut("forward").map(|v| v.get_mut()) {
            Some(DeValue::Table(relay)) => relay,
            Some(_) => bail!("{origin}: forward: must be a table"),
            None => bail!(
                "{flag}: {origin} has no [forward] section (the forwarder, whose enterprise leg \
                 the option pins)"
            ),
        };
        let enterprise = match relay
            .entry(key("enterprise"))
            .or_insert_with(|| spanned(DeValue::Table(DeTable::new())))
            .get_mut()
        {
            DeValue::Table(enterprise) => enterprise,
            _ => bail!("{origin}: forward.enterprise: must be a table"),
        };
        if let Some(address) = self.transport_address {
            let cli = format!("--transport-address {address} (command line)");
            match enterprise.get("transport-address").map(|v| v.get_ref()) {
                Some(DeValue::String(file)) => {
                    if file.parse::<IpAddr>().ok() != Some(address) {
                        bail!(
                            "{cli} conflicts with forward.enterprise.transport-address = {file} \
                             ({origin})"
                        );
                    }
                }
                // Not a string: the typed read names the key and its line.
                Some(_) => {}
                None => {
                    enterprise.insert(
                        key("transport-address"),
                        spanned(DeValue::String(Cow::Owned(address.to_string()))),
                    );
                    keys.push("forward.enterprise.transport-address".into());
                }
            }
        }
        if let Some(port) = self.transport_port {
            let cli = format!("--transport-port {port} (command line)");
            match enterprise.get("transport-port").map(|v| v.get_ref()) {
                Some(DeValue::Integer(file)) => {
                    if u16::from_str_radix(file.as_str(), file.radix()).ok() != Some(port) {
                        bail!(
                            "{cli} conflicts with forward.enterprise.transport-port = {file} \
                             ({origin})"
                        );
                    }
                }
                Some(_) => {}
                None => {
                    if let Some(DeValue::String(range)) =
                        enterprise.get("port-range").map(|v| v.get_ref())
                    {
                        match range_contains(range, port) {
                            Some(false) => bail!(
                                "{cli} conflicts with forward.enterprise.port-range = {range} \
                                 ({origin}): the pinned port must lie in the range"
                            ),
                            Some(true) => {
                                enterprise.remove("port-range");
                            }
                            // Not a range: the typed read names the key.
                            None => {}
                        }
                    }
                    let value = DeValue::parse(&self.port_text)
                        .map_err(|e| anyhow!("--transport-port {port}: {e}"))?;
                    enterprise.insert(key("transport-port"), value);
                    keys.push("forward.enterprise.transport-port".into());
                }
            }
        }
        if !self.connections.is_empty() {
            let table = match enterprise
                .entry(key("connections"))
                .or_insert_with(|| spanned(DeValue::Table(DeTable::new())))
                .get_mut()
            {
                DeValue::Table(table) => table,
                _ => bail!("{origin}: forward.enterprise.connections: must be a table"),
            };
            for (name, pinned) in &self.connections {
                match table.get(name.as_str()).map(|v| v.get_ref()) {
                    Some(DeValue::String(file)) => {
                        if file.parse::<ClientSidePort>().is_ok_and(|f| f != *pinned) {
                            bail!(
                                "--connection {name}={pinned} (command line) conflicts with \
                                 forward.enterprise.connections.{name} = {file:?} ({origin})"
                            );
                        }
                    }
                    Some(_) => {}
                    None => {
                        table.insert(
                            Spanned::new(0..0, Cow::Owned(name.clone())),
                            spanned(DeValue::String(Cow::Owned(pinned.to_string()))),
                        );
                        keys.push(format!("forward.enterprise.connections.{name}"));
                    }
                }
            }
        }
        Ok(keys)
    }
}

/// Whether a `first-last` (or single-port) range text holds `port`; `None` when the text is
/// not a range.
fn range_contains(range: &str, port: u16) -> Option<bool> {
    range
        .parse::<edge_config::PortRange>()
        .ok()
        .map(|r| r.contains(port))
}

fn key(name: &'static str) -> Spanned<Cow<'static, str>> {
    Spanned::new(0..0, Cow::Borrowed(name))
}

fn spanned<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}
