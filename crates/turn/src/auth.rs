//! Long-term credentials (RFC 8489 §9.2): static users and the TURN REST API shared secret.
//!
//! Static users have a fixed password. REST users (draft-uberti-behave-turn-rest, as coturn's
//! `--use-auth-secret`) are named `expiry:user`, with `expiry` in UNIX seconds, and their
//! password is `base64(HMAC-SHA1(secret, username))`; several secrets are accepted at once so
//! a secret can be rotated without cutting anyone off. Either way the message-integrity key is
//! `MD5(username ":" realm ":" password)`.

use std::collections::HashMap;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// A long-term credential key, `MD5(username:realm:password)`.
pub type Key = [u8; 16];

/// Why a username has no usable key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Neither a static user nor a REST username (`expiry:user`) while secrets are configured.
    UnknownUser,
    /// A REST username whose expiry has passed.
    Expired,
}

/// The credentials a server accepts.
#[derive(Clone)]
pub(crate) struct Credentials {
    realm: String,
    users: HashMap<String, Key>,
    secrets: Vec<Hmac<Sha1>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("realm", &self.realm)
            .field("users", &self.users.len())
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Credentials {
    /// `users` are (name, password) pairs; `secrets` are REST shared secrets.
    pub(crate) fn new(realm: &str, users: &[(String, String)], secrets: &[Vec<u8>]) -> Self {
        let users = users
            .iter()
            .map(|(name, password)| {
                (
                    name.clone(),
                    edge_stun::long_term_key(name, realm, password),
                )
            })
            .collect();
        let secrets = secrets
            .iter()
            .filter_map(|s| Hmac::<Sha1>::new_from_slice(s).ok())
            .collect();
        Self {
            realm: realm.to_owned(),
            users,
            secrets,
        }
    }

    /// The realm announced in 401/438 responses.
    pub(crate) fn realm(&self) -> &str {
        &self.realm
    }

    /// Calls `accept` with each key `username` may have until it returns true; returns the
    /// key accepted, or why there is none (`Ok(None)` when no candidate key was accepted).
    pub(crate) fn find_key(
        &self,
        username: &str,
        now_unix: u64,
        mut accept: impl FnMut(&Key) -> bool,
    ) -> Result<Option<Key>, Refusal> {
        if let Some(key) = self.users.get(username) {
            return Ok(accept(key).then_some(*key));
        }
        if self.secrets.is_empty() {
            return Err(Refusal::UnknownUser);
        }
        // `expiry:user`, or a bare `expiry` (coturn's clients send that without a user).
        let expiry = username.split(':').next().unwrap_or(username);
        let expiry = expiry.parse::<u64>().map_err(|_| Refusal::UnknownUser)?;
        if expiry <= now_unix {
            return Err(Refusal::Expired);
        }
        for secret in &self.secrets {
            let key = edge_stun::long_term_key(
                username,
                &self.realm,
                &keyed_rest_password(secret, username),
            );
            if accept(&key) {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }
}

/// The TURN REST API password for `username` (draft-uberti-behave-turn-rest, coturn's
/// `static-auth-secret`): `base64(HMAC-SHA1(secret, username))`, where `username` is
/// `expiry:user` with `expiry` in seconds since 1970. Clients (the load generator, the tests)
/// derive their passwords with it; the server checks them with the same code.
pub fn rest_password(secret: &[u8], username: &str) -> String {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    keyed_rest_password(&mac, username)
}

/// [`rest_password`] with the secret's HMAC state prepared once.
fn keyed_rest_password(secret: &Hmac<Sha1>, username: &str) -> String {
    let mut mac = secret.clone();
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn creds() -> Credentials {
        Credentials::new(
            "example.org",
            &[("alice".into(), "wonderland".into())],
            &[b"old-secret".to_vec(), b"new-secret".to_vec()],
        )
    }

    /// A 16-byte key from the hex `md5sum` printed.
    fn md5_hex(s: &str) -> Key {
        crate::nonce::unhex(s.as_bytes()).unwrap()
    }

    #[test]
    fn static_user_key_is_md5_of_user_realm_password() {
        // printf %s 'alice:example.org:wonderland' | md5sum
        let md5sum = md5_hex("72f86f2053703faa0f521ce71cfe6f59");
        let c = creds();
        let got = c.find_key("alice", 0, |_| true).unwrap().unwrap();
        assert_eq!(got, md5sum);
        assert_eq!(c.find_key("alice", 0, |_| false), Ok(None));
        assert_eq!(c.find_key("bob", 0, |_| true), Err(Refusal::UnknownUser));
    }

    #[test]
    fn rest_password_matches_coturn_formula() {
        // printf %s '1700000000:bob' | openssl dgst -sha1 -hmac new-secret -binary | base64
        assert_eq!(
            rest_password(b"new-secret", "1700000000:bob"),
            "m9MWQKXn7MShyGoAeeADzDyHDfg="
        );
        // RFC 2202 test case 2: key "Jefe", data "what do ya want for nothing?",
        // HMAC-SHA1 effcdf6ae5eb2fa2d27416d5f184df9c259a7c79 (base64 below).
        assert_eq!(
            rest_password(b"Jefe", "what do ya want for nothing?"),
            "7/zfauXrL6LSdBbV8YTfnCWafHk="
        );
    }

    #[test]
    fn rest_username_any_secret_until_expiry() {
        let c = creds();
        let user = "2000:bob";
        // The key of each secret, computed outside this code (coturn's REST scheme):
        //   p=$(printf %s '2000:bob' | openssl dgst -sha1 -hmac SECRET -binary | base64)
        //   printf %s "2000:bob:example.org:$p" | md5sum
        // old-secret: p = x/Tg9MwHyr6WKXUyF0DagqCrchI=, new-secret: p = rIUNi6SffCMpRBuWPyD2tCyMl8U=
        for md5sum in [
            "f1f54135341ed0281bf5465f45411b43",
            "3dab0d6910837d98e0d4e7053349fd6a",
        ] {
            let want = md5_hex(md5sum);
            assert_eq!(c.find_key(user, 1999, |k| *k == want), Ok(Some(want)));
        }
        assert_eq!(c.find_key(user, 1999, |_| false), Ok(None));
        assert_eq!(c.find_key(user, 2000, |_| true), Err(Refusal::Expired));
        assert_eq!(
            c.find_key("bob:2000", 0, |_| true),
            Err(Refusal::UnknownUser)
        );
        assert_eq!(
            c.find_key("nocolon", 0, |_| true),
            Err(Refusal::UnknownUser)
        );
    }

    #[test]
    fn no_secrets_means_no_rest_users() {
        let c = Credentials::new("r", &[], &[]);
        assert_eq!(
            c.find_key("2000:bob", 0, |_| true),
            Err(Refusal::UnknownUser)
        );
    }
}
