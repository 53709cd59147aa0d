//! Figures for metrics that the core does not keep per packet: error responses by code
//! ([`ErrorCounts`], counted once per response) and the live allocations, permissions and
//! channels ([`Census`], counted by a walk the driver makes about once a second).

/// The error codes counted one by one; any other counts as `other`.
pub const ERROR_CODES: [u16; 14] = [
    400, 401, 403, 420, 437, 438, 440, 441, 442, 443, 446, 447, 486, 508,
];

/// Error responses sent, by code ([`ERROR_CODES`], then one slot for any other code).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    counts: [u64; ERROR_CODES.len() + 1],
}

impl ErrorCounts {
    /// Counts one response with `code`.
    pub(crate) fn add(&mut self, code: u16) {
        let slot = ERROR_CODES
            .iter()
            .position(|&c| c == code)
            .unwrap_or(ERROR_CODES.len());
        self.counts[slot] += 1;
    }

    /// `(Some(code), count)` for each of [`ERROR_CODES`], then `(None, count)` for the rest.
    pub fn iter(&self) -> impl Iterator<Item = (Option<u16>, u64)> + '_ {
        ERROR_CODES
            .iter()
            .map(|&c| Some(c))
            .chain(std::iter::once(None))
            .zip(self.counts.iter().copied())
    }

    /// The counts in slot order, for publishing.
    pub(crate) fn slots(&self) -> &[u64; ERROR_CODES.len() + 1] {
        &self.counts
    }

    /// Rebuilds published counts.
    pub(crate) fn from_slots(counts: [u64; ERROR_CODES.len() + 1]) -> Self {
        ErrorCounts { counts }
    }

    /// Both counts added, code by code (several threads' counts summed).
    pub(crate) fn plus(&self, other: &ErrorCounts) -> ErrorCounts {
        let mut counts = self.counts;
        for (sum, n) in counts.iter_mut().zip(other.counts) {
            *sum += n;
        }
        ErrorCounts { counts }
    }
}

/// Live allocations by client transport, and their unexpired permissions and channels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Census {
    /// Allocations of UDP clients.
    pub udp: u64,
    /// Allocations of TCP clients.
    pub tcp: u64,
    /// Allocations of TLS clients.
    pub tls: u64,
    /// Unexpired permissions, all allocations together.
    pub permissions: u64,
    /// Unexpired channel bindings, all allocations together.
    pub channels: u64,
}

impl Census {
    /// Both censuses added (several threads' allocations summed).
    pub(crate) fn plus(&self, o: &Census) -> Census {
        Census {
            udp: self.udp + o.udp,
            tcp: self.tcp + o.tcp,
            tls: self.tls + o.tls,
            permissions: self.permissions + o.permissions,
            channels: self.channels + o.channels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_land_in_their_slot_and_the_rest_in_other() {
        let mut e = ErrorCounts::default();
        e.add(401);
        e.add(401);
        e.add(508);
        e.add(599);
        let all: Vec<_> = e.iter().filter(|(_, n)| *n > 0).collect();
        assert_eq!(all, vec![(Some(401), 2), (Some(508), 1), (None, 1)]);
    }
}
