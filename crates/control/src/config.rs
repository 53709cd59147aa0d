//! The control API's configuration: the `[api]` section of media-edge's config file.

use std::fmt;
use std::net::SocketAddr;

use serde::Deserialize;

use crate::Error;

/// Settings of the control API. Deserializes from kebab-case keys and refuses unknown ones.
///
/// ```toml
/// [api]
/// listen = "127.0.0.1:8080"
/// tokens = ["6f1c0c6e0b5f4d0e9a3b1f7e2d4c8a90"]
/// ```
///
/// `Debug` prints the number of tokens, never the tokens.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct ApiConfig {
    /// Where the HTTP listener binds. Default `127.0.0.1:8080`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Bearer tokens that may use the API (`Authorization: Bearer <token>`): at least one,
    /// each 16 to 256 characters of RFC 6750's token alphabet. The media-edge binary makes
    /// one up for the run when none is configured on a loopback `listen` address.
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Plain HTTP is served only on a loopback `listen` address unless this is true (the
    /// tokens travel in the clear; HTTPS is not built in yet). Default false.
    #[serde(default)]
    pub allow_plain_http: bool,
    /// The largest request body accepted, in bytes. Default 65536.
    #[serde(default = "default_max_body")]
    pub max_body: usize,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_max_body() -> usize {
    64 * 1024
}

impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("listen", &self.listen)
            .field("tokens", &format_args!("<{} tokens>", self.tokens.len()))
            .field("allow_plain_http", &self.allow_plain_http)
            .field("max_body", &self.max_body)
            .finish()
    }
}

impl ApiConfig {
    /// A configuration listening on `listen` that accepts `tokens`, other keys at their
    /// defaults.
    pub fn new(listen: SocketAddr, tokens: Vec<String>) -> Self {
        ApiConfig {
            listen,
            tokens,
            allow_plain_http: false,
            max_body: default_max_body(),
        }
    }

    /// Checks what deserialization alone cannot.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key that is wrong.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |key, reason: String| Err(Error::Config { key, reason });
        if self.tokens.is_empty() {
            return bad("tokens", "at least one token is required".into());
        }
        // RFC 6750 b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then "="s.
        let token_char = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
        for (i, token) in self.tokens.iter().enumerate() {
            if !(16..=256).contains(&token.len()) || !token.bytes().all(token_char) {
                return bad(
                    "tokens",
                    format!("token {i} must be 16 to 256 characters of A-Z a-z 0-9 - . _ ~ + / ="),
                );
            }
        }
        if !self.listen.ip().is_loopback() && !self.allow_plain_http {
            return bad(
                "listen",
                format!(
                    "{} is not a loopback address: set api.allow-plain-http = true to serve \
                     plain HTTP (tokens in the clear) there",
                    self.listen
                ),
            );
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.max_body) {
            return bad(
                "max-body",
                format!("{} is not within 1024..=16777216 bytes", self.max_body),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn config(json: &str) -> Result<ApiConfig, String> {
        let c: ApiConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn defaults_and_keys() {
        let c = config(r#"{"tokens": ["0123456789abcdef"]}"#).unwrap();
        assert_eq!(c.listen, default_listen());
        assert_eq!(c.max_body, 65536);
        assert!(!c.allow_plain_http);
        let debug = format!("{c:?}");
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (json, key) in [
            (r#"{"tokens": []}"#, "api.tokens"),
            (r#"{"tokens": ["short"]}"#, "api.tokens"),
            (
                r#"{"tokens": ["0123456789abcdef with space"]}"#,
                "api.tokens",
            ),
            (
                r#"{"tokens": ["0123456789abcdef"], "listen": "0.0.0.0:80"}"#,
                "api.listen",
            ),
            (
                r#"{"tokens": ["0123456789abcdef"], "max-body": 10}"#,
                "api.max-body",
            ),
        ] {
            let err = config(json).unwrap_err();
            assert!(err.starts_with(key), "{json}: {err}");
        }
        let err = config(r#"{"tokens": ["0123456789abcdef"], "token": "x"}"#).unwrap_err();
        assert!(err.contains("unknown field `token`"), "{err}");
        config(
            r#"{"tokens": ["0123456789abcdef"], "listen": "0.0.0.0:80", "allow-plain-http": true}"#,
        )
        .unwrap();
    }
}
