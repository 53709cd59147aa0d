//! Which side of the handshake this is, from SDP `a=setup` (RFC 4145 §4, RFC 5763 §5).

use crate::Error;

/// The DTLS role. `setup:active` is the DTLS client, `setup:passive` the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `a=setup:active`: this side sends the ClientHello.
    Client,
    /// `a=setup:passive`: this side answers it (media-edge's usual role toward browsers).
    Server,
}

impl Role {
    /// The role named by this side's own `a=setup` value (`active` or `passive`).
    ///
    /// # Errors
    /// [`Error::InvalidSetup`] for `actpass` (an offer's value, resolved by the answer) or any
    /// other token.
    pub fn from_local_setup(value: &str) -> Result<Self, Error> {
        match value.trim().to_ascii_lowercase().as_str() {
            "active" => Ok(Role::Client),
            "passive" => Ok(Role::Server),
            _ => Err(Error::InvalidSetup {
                value: value.to_owned(),
            }),
        }
    }

    /// The role of the answerer when the remote offer carries `value`: the opposite of the
    /// remote's `active`/`passive`, and `passive` (server) for `actpass`.
    ///
    /// # Errors
    /// [`Error::InvalidSetup`] for any other token (`holdconn` included).
    pub fn answering(value: &str) -> Result<Self, Error> {
        match value.trim().to_ascii_lowercase().as_str() {
            "active" | "actpass" => Ok(Role::Server),
            "passive" => Ok(Role::Client),
            _ => Err(Error::InvalidSetup {
                value: value.to_owned(),
            }),
        }
    }

    /// This role's `a=setup` value for the local SDP.
    pub const fn setup(self) -> &'static str {
        match self {
            Role::Client => "active",
            Role::Server => "passive",
        }
    }

    pub(crate) const fn is_client(self) -> bool {
        matches!(self, Role::Client)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn setup_values_map_to_roles() {
        assert_eq!(Role::from_local_setup("active").unwrap(), Role::Client);
        assert_eq!(Role::from_local_setup(" PASSIVE ").unwrap(), Role::Server);
        assert!(Role::from_local_setup("actpass").is_err());
        assert_eq!(Role::answering("actpass").unwrap(), Role::Server);
        assert_eq!(Role::answering("active").unwrap(), Role::Server);
        assert_eq!(Role::answering("passive").unwrap(), Role::Client);
        let err = Role::answering("holdconn").unwrap_err().to_string();
        assert!(err.contains("holdconn"), "{err}");
        for role in [Role::Client, Role::Server] {
            assert_eq!(Role::from_local_setup(role.setup()).unwrap(), role);
        }
    }
}
