//! docs/configuration.md against the binary: for every section the page documents (and
//! every section above one), the keys the configuration accepts are exactly the keys the
//! page lists. What the binary accepts is read from its own refusal of an unknown key
//! (`unknown field ..., expected one of ...`), so the check follows the config structs
//! without listing their fields a second time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;

use common::{run, scratch};

const PAGE: &str = include_str!("../../../docs/configuration.md");
const UNKNOWN: &str = "zz-not-a-key";

/// A documented section: its keys, and whether it is an array of tables or a free-form map.
#[derive(Debug, Default)]
struct Section {
    keys: BTreeSet<String>,
    array: bool,
    map: bool,
}

/// Every section of the page with its documented keys: the first column of each table
/// under a heading naming `[section]` or `[[section]]`, a dotted key (`cors.domain-whitelist`)
/// counting for the section it names, and every sub-section counting as a key of its parent.
fn documented() -> BTreeMap<String, Section> {
    let mut sections: BTreeMap<String, Section> = BTreeMap::new();
    sections.insert(String::new(), Section::default());
    let mut current: Vec<String> = Vec::new();
    for line in PAGE.lines() {
        if line.starts_with('#') {
            current.clear();
            let mut rest = line;
            while let Some(start) = rest.find("`[") {
                let after = &rest[start + 1..];
                let end = after.find('`').unwrap();
                let name = &after[..end];
                let array = name.starts_with("[[");
                let name = name.trim_matches(|c| c == '[' || c == ']').to_owned();
                sections.entry(name.clone()).or_default().array = array;
                current.push(name);
                rest = &after[end..];
            }
            continue;
        }
        let Some(cell) = line.strip_prefix("| ") else {
            continue;
        };
        let cell = cell.split(" |").next().unwrap().trim();
        if cell == "any name" {
            for name in &current {
                sections.get_mut(name).unwrap().map = true;
            }
            continue;
        }
        let Some(key) = cell.strip_prefix('`').and_then(|k| k.strip_suffix('`')) else {
            continue;
        };
        for name in &current {
            let path = if name.is_empty() {
                key.to_owned()
            } else {
                format!("{name}.{key}")
            };
            let (parent, last) = path.rsplit_once('.').unwrap();
            sections
                .entry(parent.to_owned())
                .or_default()
                .keys
                .insert(last.to_owned());
        }
    }
    // Every section is a key of its parent, and its parents are sections too.
    let names: Vec<String> = sections.keys().cloned().collect();
    for name in names {
        let mut path = name.as_str();
        while !path.is_empty() {
            let (parent, last) = path.rsplit_once('.').unwrap_or(("", path));
            sections
                .entry(parent.to_owned())
                .or_default()
                .keys
                .insert(last.to_owned());
            path = parent;
        }
    }
    sections
}

/// The keys the binary accepts in `section`: it is given an unknown key there and names the
/// ones it expected.
fn accepted(section: &str, array: bool) -> BTreeSet<String> {
    let mut turn = String::new();
    let mut turn_relay = String::new();
    let mut top = String::new();
    let mut extra = String::new();
    match section {
        "" => top = format!("{UNKNOWN} = 1\n"),
        "turn" => turn = format!("{UNKNOWN} = 1\n"),
        "turn.relay" => turn_relay = format!("{UNKNOWN} = 1\n"),
        _ if array => extra = format!("[[{section}]]\n{UNKNOWN} = 1\n"),
        _ => extra = format!("[{section}]\n{UNKNOWN} = 1\n"),
    }
    let text = format!(
        "{top}[turn]\nlisten-udp = [\"127.0.0.1:3478\"]\n{turn}\
         [turn.relay]\naddress = \"127.0.0.1\"\n{turn_relay}{extra}"
    );
    let file = scratch(&format!("probe-{section}.toml"), &text);
    let output = run([
        OsStr::new("check-config"),
        OsStr::new("--config"),
        file.as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let path = match (section, array) {
        ("", _) => UNKNOWN.to_owned(),
        (_, true) => format!("{section}[0].{UNKNOWN}"),
        (_, false) => format!("{section}.{UNKNOWN}"),
    };
    let marker = format!("{path}: unknown field `{UNKNOWN}`, expected ");
    let at = stderr
        .find(&marker)
        .unwrap_or_else(|| panic!("[{section}]: no unknown-field refusal in {stderr:?}"));
    let expected = stderr[at + marker.len()..].lines().next().unwrap();
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_accepted_key_is_documented_and_every_documented_key_accepted() {
    let sections = documented();
    assert!(
        sections.len() >= 15,
        "the page's sections were not found: {sections:?}"
    );
    let mut mismatches = Vec::new();
    for (name, section) in &sections {
        if section.map {
            continue;
        }
        let accepted = accepted(name, section.array);
        if accepted != section.keys {
            let missing: Vec<_> = accepted.difference(&section.keys).collect();
            let unknown: Vec<_> = section.keys.difference(&accepted).collect();
            mismatches.push(format!(
                "[{name}]: accepted but not documented {missing:?}; documented but not accepted {unknown:?}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
