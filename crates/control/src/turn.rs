//! `POST /v1/turn-credentials`: short-lived TURN credentials in coturn's REST scheme
//! (draft-uberti-behave-turn-rest), so a web page can fetch its ICE servers: `username =
//! <expiry>:<user>` (expiry in seconds since 1970), `password = base64(HMAC-SHA1(secret,
//! username))` ([`edge_turn::rest_password`]), checked by the TURN server with the same
//! shared secret until the expiry passes.

use serde::{Deserialize, Serialize};

use crate::config::TurnRest;
use crate::Error;

/// The lifetime when the request names none, in seconds.
pub(crate) const DEFAULT_TTL: u64 = 3600;
/// The shortest lifetime a request may ask for.
pub(crate) const MIN_TTL: u64 = 60;
/// The longest lifetime a request may ask for (a day).
pub(crate) const MAX_TTL: u64 = 86_400;
/// The user part when the request names none.
const DEFAULT_USER: &str = "media-edge";

/// The request body (optional, as are both fields).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct TurnRequest {
    /// The user part of the username: 1 to 64 of A-Z a-z 0-9 . _ - @.
    user: Option<String>,
    /// Seconds the credentials stay valid, `MIN_TTL..=MAX_TTL`.
    ttl: Option<u64>,
}

/// The answer, in the shape of coturn's REST API response.
#[derive(Debug, Serialize)]
pub(crate) struct TurnCredentials {
    /// `<expiry>:<user>`.
    pub(crate) username: String,
    /// `base64(HMAC-SHA1(secret, username))`.
    pub(crate) password: String,
    /// Seconds from now until the expiry.
    pub(crate) ttl: u64,
    /// The TURN server's URIs.
    pub(crate) uris: Vec<String>,
}

/// Credentials for `req` under `rest`, valid from `now_unix` (seconds since 1970) for the
/// requested lifetime.
pub(crate) fn issue(
    rest: &TurnRest,
    req: TurnRequest,
    now_unix: u64,
) -> Result<TurnCredentials, Error> {
    let ttl = req.ttl.unwrap_or(DEFAULT_TTL);
    if !(MIN_TTL..=MAX_TTL).contains(&ttl) {
        return Err(Error::Request(format!(
            "request body, ttl: {ttl} is not within {MIN_TTL}..={MAX_TTL} seconds"
        )));
    }
    let user = req.user.unwrap_or_else(|| DEFAULT_USER.to_owned());
    let user_char = |b: u8| b.is_ascii_alphanumeric() || b"._-@".contains(&b);
    if !(1..=64).contains(&user.len()) || !user.bytes().all(user_char) {
        return Err(Error::Request(
            "request body, user: must be 1 to 64 characters of A-Z a-z 0-9 . _ - @".into(),
        ));
    }
    let username = format!("{}:{user}", now_unix.saturating_add(ttl));
    Ok(TurnCredentials {
        password: edge_turn::rest_password(&rest.secret, &username),
        username,
        ttl,
        uris: rest.uris.clone(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn rest() -> TurnRest {
        TurnRest::new(
            b"a-shared-secret-of-the-turn-server".to_vec(),
            vec!["turn:192.0.2.1:3478?transport=udp".into()],
        )
    }

    #[test]
    fn credentials_follow_the_coturn_rest_scheme() {
        let req: TurnRequest = serde_json::from_str(r#"{"user": "agent-7", "ttl": 600}"#).unwrap();
        let c = issue(&rest(), req, 1_700_000_000).unwrap();
        assert_eq!(c.username, "1700000600:agent-7");
        assert_eq!(c.ttl, 600);
        assert_eq!(c.uris, ["turn:192.0.2.1:3478?transport=udp"]);
        // The known answer: python3 -c 'import hmac,hashlib,base64;print(base64.b64encode(
        // hmac.new(b"a-shared-secret-of-the-turn-server", b"1700000600:agent-7",
        // hashlib.sha1).digest()).decode())'
        assert_eq!(c.password, "dKm5ejjHfugtisd/PlmPNq2Jsew=");
        let c = issue(&rest(), TurnRequest::default(), 1_700_000_000).unwrap();
        assert_eq!(c.username, "1700003600:media-edge");
        assert_eq!(c.ttl, DEFAULT_TTL);
    }

    #[test]
    fn lifetimes_and_users_are_bounded() {
        for ttl in [0, MIN_TTL - 1, MAX_TTL + 1, u64::MAX] {
            let req = TurnRequest {
                user: None,
                ttl: Some(ttl),
            };
            let err = issue(&rest(), req, 1).unwrap_err().to_string();
            assert!(err.contains("ttl"), "{err}");
        }
        for user in ["", "with:colon", "with space", &"x".repeat(65)] {
            let req = TurnRequest {
                user: Some(user.into()),
                ttl: None,
            };
            let err = issue(&rest(), req, 1).unwrap_err().to_string();
            assert!(err.contains("user"), "{user:?}: {err}");
        }
    }
}
