//! CORS, exactly (Fetch standard, "CORS protocol"): which origins may read the API's
//! answers from a browser, and the answer to a preflight.
//!
//! - No `Origin` header: not a cross-origin request, nothing added.
//! - `Origin` in `api.cors.domain-whitelist` (compared as RFC 6454 origins), or any origin
//!   when the whitelist is empty: the answer carries `Access-Control-Allow-Origin: <that
//!   origin>`, `Vary: Origin` and `Access-Control-Expose-Headers: Location, Retry-After`.
//! - Any other `Origin` (including `null` and malformed ones): 403 with a JSON error and no
//!   `Access-Control-Allow-Origin`.
//! - A preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin is
//!   answered 204 with the API's methods and headers and `Access-Control-Max-Age`, without a
//!   bearer token; one asking for another method or header gets 403 naming it.

use std::collections::HashSet;

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::{Error, Origin};

/// The methods the API has.
const ALLOW_METHODS: &str = "GET, POST, DELETE";
/// The request headers a page may send (beyond the CORS-safelisted ones).
const ALLOW_HEADERS: [&str; 2] = ["authorization", "content-type"];
/// How long a browser may cache a preflight answer, seconds.
const MAX_AGE: &str = "600";
/// Response headers a page may read beyond the safelisted ones.
const EXPOSE_HEADERS: &str = "Location, Retry-After";

/// The whitelist, normalised.
#[derive(Debug)]
pub(crate) struct Cors {
    whitelist: HashSet<Origin>,
}

/// What the `Origin` of a request allows.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// No `Origin` header.
    SameOrigin,
    /// Allowed: the value to echo in `Access-Control-Allow-Origin`.
    Allowed(HeaderValue),
    /// Refused: the error to answer with.
    Refused(Error),
}

impl Cors {
    pub(crate) fn new(whitelist: &[Origin]) -> Self {
        Cors {
            whitelist: whitelist.iter().cloned().collect(),
        }
    }

    /// Judges the request's `Origin` header(s).
    pub(crate) fn check(&self, headers: &HeaderMap) -> Verdict {
        let mut values = headers.get_all(header::ORIGIN).iter();
        let Some(value) = values.next() else {
            return Verdict::SameOrigin;
        };
        if values.next().is_some() {
            return Verdict::Refused(Error::OriginNotAllowed(
                "more than one Origin header".into(),
            ));
        }
        if self.whitelist.is_empty() {
            return Verdict::Allowed(value.clone());
        }
        let text = String::from_utf8_lossy(value.as_bytes());
        match text.parse::<Origin>() {
            Ok(origin) if self.whitelist.contains(&origin) => Verdict::Allowed(value.clone()),
            _ => Verdict::Refused(Error::OriginNotAllowed(format!(
                "origin {text:?} is not in api.cors.domain-whitelist"
            ))),
        }
    }

    /// Whether this is a preflight: `OPTIONS` with `Access-Control-Request-Method`.
    pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The answer to a preflight from an allowed origin (`origin` is echoed).
    pub(crate) fn preflight(headers: &HeaderMap, origin: HeaderValue) -> Response {
        if let Err(e) = check_preflight(headers) {
            return e.into_response();
        }
        let mut response = StatusCode::NO_CONTENT.into_response();
        let h = response.headers_mut();
        Self::decorate(h, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE),
        );
        response
    }

    /// Adds what an allowed origin's answer carries.
    pub(crate) fn decorate(headers: &mut HeaderMap, origin: HeaderValue) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
}

/// Refuses a preflight asking for a method or header the API does not take.
fn check_preflight(headers: &HeaderMap) -> Result<(), Error> {
    let refused = |what: String| Err(Error::PreflightRefused(what));
    for value in headers.get_all(header::ACCESS_CONTROL_REQUEST_METHOD) {
        let method = value.to_str().unwrap_or_default();
        if !["GET", "HEAD", "POST", "DELETE"].contains(&method) {
            return refused(format!(
                "method {:?} is not one of {ALLOW_METHODS}",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
    }
    for value in headers.get_all(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        let text = String::from_utf8_lossy(value.as_bytes());
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !ALLOW_HEADERS
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(name))
            {
                return refused(format!(
                    "request header {name:?} is not one of {}",
                    ALLOW_HEADERS.join(", ")
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.parse::<header::HeaderName>().unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    fn cors(list: &[&str]) -> Cors {
        let list: Vec<Origin> = list.iter().map(|o| o.parse().unwrap()).collect();
        Cors::new(&list)
    }

    #[test]
    fn origins_compare_as_rfc6454_origins() {
        let c = cors(&["https://app.example.com", "http://localhost:3000"]);
        for (origin, allowed) in [
            ("https://app.example.com", true),
            ("https://APP.example.com:443", true),
            ("http://localhost:3000", true),
            ("http://app.example.com", false),
            ("https://app.example.com:8443", false),
            ("https://app.example.com.evil.example", false),
            ("http://localhost:3001", false),
            ("null", false),
            ("https://app.example.com/", false),
        ] {
            let verdict = c.check(&headers(&[("origin", origin)]));
            match (verdict, allowed) {
                (Verdict::Allowed(v), true) => assert_eq!(v, origin),
                (Verdict::Refused(_), false) => {}
                (v, _) => panic!("{origin}: {v:?}"),
            }
        }
        assert!(matches!(c.check(&HeaderMap::new()), Verdict::SameOrigin));
        let mut two = headers(&[("origin", "https://app.example.com")]);
        two.append(
            header::ORIGIN,
            HeaderValue::from_static("https://app.example.com"),
        );
        assert!(matches!(c.check(&two), Verdict::Refused(_)));
    }

    #[test]
    fn an_empty_whitelist_echoes_any_origin() {
        let c = cors(&[]);
        for origin in ["https://anything.example", "null", "http://x:1"] {
            match c.check(&headers(&[("origin", origin)])) {
                Verdict::Allowed(v) => assert_eq!(v, origin),
                v => panic!("{origin}: {v:?}"),
            }
        }
    }

    #[test]
    fn preflight_methods_and_headers() {
        let origin = HeaderValue::from_static("https://app.example.com");
        let ok = Cors::preflight(
            &headers(&[
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "Authorization, content-type",
                ),
            ]),
            origin.clone(),
        );
        assert_eq!(ok.status(), StatusCode::NO_CONTENT);
        let h = ok.headers();
        assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(h["access-control-allow-methods"], ALLOW_METHODS);
        assert_eq!(
            h["access-control-allow-headers"],
            "authorization, content-type"
        );
        assert_eq!(h["access-control-max-age"], MAX_AGE);
        assert_eq!(h["vary"], "Origin");
        for bad in [
            [("access-control-request-method", "PUT"), ("x", "y")],
            [
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "authorization, x-debug"),
            ],
        ] {
            let refused = Cors::preflight(&headers(&bad), origin.clone());
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{bad:?}");
            assert!(!refused
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
        }
    }
}
