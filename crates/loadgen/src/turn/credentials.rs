//! TURN credentials: static long-term users, or the TURN REST API's time-limited ones
//! (draft-uberti-behave-turn-rest; coturn's `static-auth-secret`): username
//! `expiry:user`, password `base64(HMAC-SHA1(secret, username))`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Where a run's TURN username and password come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A static long-term user.
    LongTerm {
        /// Username.
        username: String,
        /// Password.
        password: String,
    },
    /// REST credentials derived from a shared secret.
    Rest {
        /// The shared secret.
        secret: String,
        /// The user part of the username.
        user: String,
        /// Seconds the credentials stay valid.
        ttl_s: u64,
    },
}

impl Credentials {
    /// The username and password to use at `unix_now_s` (seconds since 1970).
    pub fn derive(&self, unix_now_s: u64) -> (String, String) {
        match self {
            Credentials::LongTerm { username, password } => (username.clone(), password.clone()),
            Credentials::Rest {
                secret,
                user,
                ttl_s,
            } => {
                let username = format!("{}:{user}", unix_now_s + ttl_s);
                (
                    username.clone(),
                    rest_password(secret.as_bytes(), &username),
                )
            }
        }
    }
}

/// `base64(HMAC-SHA1(secret, username))`.
pub fn rest_password(secret: &[u8], username: &str) -> String {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_password_matches_rfc2202_hmac_sha1() {
        // RFC 2202 test case 2: key "Jefe", data "what do ya want for nothing?",
        // HMAC-SHA1 effcdf6ae5eb2fa2d27416d5f184df9c259a7c79.
        assert_eq!(
            rest_password(b"Jefe", "what do ya want for nothing?"),
            "7/zfauXrL6LSdBbV8YTfnCWafHk="
        );
    }

    #[test]
    fn rest_username_carries_the_expiry() {
        let c = Credentials::Rest {
            secret: "s".into(),
            user: "load".into(),
            ttl_s: 3600,
        };
        let (u, p) = c.derive(1_000);
        assert_eq!(u, "4600:load");
        assert_eq!(p, rest_password(b"s", "4600:load"));
    }
}
