//! `docs/openapi.yaml` against the server: the document parses as YAML and is OpenAPI 3; its
//! paths and methods are exactly the routes `src/api.rs` declares; a served API answers each
//! documented (path, method) with something other than `no-route` / `method-not-allowed`
//! and every undocumented method on those paths with 405; and the document's error codes are
//! exactly the codes `src/error.rs` can answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{config, connect_from, request, Server, TOKEN};
use edge_control::guard::{Guard, GuardConfig, RateLimit};
use serde_yaml::Value;

const SPEC: &str = include_str!("../../../docs/openapi.yaml");
const API_RS: &str = include_str!("../src/api.rs");
const ERROR_RS: &str = include_str!("../src/error.rs");
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn spec() -> Value {
    serde_yaml::from_str(SPEC).expect("docs/openapi.yaml is YAML")
}

/// (path, method) pairs the document describes.
fn documented(spec: &Value) -> BTreeSet<(String, String)> {
    let paths = spec["paths"].as_mapping().expect("paths is a mapping");
    let mut pairs = BTreeSet::new();
    for (path, item) in paths {
        let path = path.as_str().expect("path is a string");
        for (key, _) in item.as_mapping().expect("path item is a mapping") {
            let key = key.as_str().expect("key is a string");
            if METHODS.contains(&key) {
                pairs.insert((path.to_owned(), key.to_owned()));
            }
        }
    }
    pairs
}

/// (path, method) pairs the router declares: every `.route("<path>", get(..).post(..))`.
fn declared() -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    for line in API_RS
        .lines()
        .filter(|l| l.trim_start().starts_with(".route(\""))
    {
        let rest = &line[line.find(".route(\"").unwrap() + 8..];
        let path = &rest[..rest.find('"').unwrap()];
        let handlers = &rest[path.len()..];
        let mut found = 0;
        for method in METHODS {
            let called = handlers.match_indices(&format!("{method}(")).any(|(i, _)| {
                i == 0
                    || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric()
                        && handlers.as_bytes()[i - 1] != b'_'
            });
            if called {
                pairs.insert((path.to_owned(), method.to_owned()));
                found += 1;
            }
        }
        assert!(found > 0, "no method found on route line {line:?}");
    }
    pairs
}

/// Every `error` code `src/error.rs` maps a status to: `(StatusCode::X, "code")`.
fn server_codes() -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    for (i, _) in ERROR_RS.match_indices("(StatusCode::") {
        let rest = &ERROR_RS[i..];
        let comma = rest.find(',').unwrap();
        let after = rest[comma + 1..].trim_start();
        if let Some(quoted) = after.strip_prefix('"') {
            codes.insert(quoted[..quoted.find('"').unwrap()].to_owned());
        }
    }
    codes
}

#[test]
fn the_document_is_openapi_3() {
    let spec = spec();
    let version = spec["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3."), "{version}");
    assert!(spec["info"]["title"].as_str().is_some());
    // Every $ref points at something in the document.
    let text = SPEC;
    for (i, _) in text.match_indices("$ref: \"#/") {
        let target = &text[i + 9..];
        let target = &target[..target.find('"').unwrap()];
        let mut node = &spec;
        for part in target.split('/') {
            node = &node[part];
        }
        assert!(!node.is_null(), "dangling $ref #/{target}");
    }
}

#[test]
fn paths_and_methods_are_the_routes_the_server_declares() {
    let documented = documented(&spec());
    let declared = declared();
    assert!(
        declared.len() >= 8,
        "route parsing found too little: {declared:?}"
    );
    assert_eq!(
        documented, declared,
        "docs/openapi.yaml (left) vs the routes in src/api.rs (right)"
    );
}

#[test]
fn error_codes_are_the_codes_the_server_answers() {
    let spec = spec();
    let documented: BTreeSet<String> = spec["components"]["schemas"]["Error"]["properties"]
        ["error"]["enum"]
        .as_sequence()
        .expect("Error.error.enum")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let codes = server_codes();
    assert!(
        codes.len() >= 20,
        "code parsing found too little: {codes:?}"
    );
    assert_eq!(
        documented, codes,
        "docs/openapi.yaml Error.error (left) vs src/error.rs (right)"
    );
}

/// A concrete path for a documented one: `{id}` a session that does not exist, `{address}`
/// an address that is not banned.
fn concrete(path: &str) -> String {
    path.replace("{id}", "no-such-session")
        .replace("{address}", "192.0.2.1")
}

#[tokio::test]
async fn a_served_api_answers_exactly_the_documented_methods() {
    let mut c = config();
    let generous = RateLimit {
        rate: 1000.0,
        burst: 1000,
    };
    let mut guard = GuardConfig::default();
    guard.rate.api = generous;
    c.guard = Some(Guard::new(guard).unwrap());
    let server = Server::start(30, c).await;
    let documented = documented(&spec());
    let paths: BTreeSet<&String> = documented.iter().map(|(p, _)| p).collect();
    for path in paths {
        for method in METHODS {
            let mut stream = connect_from("127.0.0.1".parse().unwrap(), server.addr).await;
            let upper = method.to_ascii_uppercase();
            let answer = request(&mut stream, &upper, &concrete(path), Some(TOKEN), &[]).await;
            let code = serde_json::from_str::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned));
            if documented.contains(&(path.clone(), method.to_owned())) {
                assert!(
                    answer.status != 405
                        && code.as_deref() != Some("no-route")
                        && code.as_deref() != Some("method-not-allowed"),
                    "{upper} {path} is documented but not routed: {} {:?}",
                    answer.status,
                    answer.body
                );
            } else {
                assert_eq!(
                    (answer.status, code.as_deref()),
                    (405, Some("method-not-allowed")),
                    "{upper} {path} is not documented but answered: {:?}",
                    answer.body
                );
            }
        }
    }
    let mut stream = connect_from("127.0.0.1".parse().unwrap(), server.addr).await;
    let answer = request(&mut stream, "GET", "/v1/nothing-here", Some(TOKEN), &[]).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json()["error"], "no-route");
    server.stop().await;
}
