//! TURN credentials: static long-term users, or the TURN REST API's time-limited ones
//! (draft-uberti-behave-turn-rest; coturn's `static-auth-secret`): username
//! `expiry:user`, password `base64(HMAC-SHA1(secret, username))`.

pub use edge_turn::rest_password;

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

#[cfg(test)]
mod tests {
    use super::*;

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
