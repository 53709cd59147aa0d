//! An in-memory pair of handshakes on a virtual clock (quinn's `Pair`, str0m's `progress`):
//! datagrams move between two queues, time jumps to the next deadline, and a seeded
//! filter may drop or rewrite datagrams in flight.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use edge_dtls::{
    Certificate, Config, ConfigBuilder, Error, Fingerprint, Handshake, Role, SrtpKeys,
};

/// Which side a datagram came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// Decides the fate of each datagram in flight: what to deliver now (nothing drops it;
/// several reorders or duplicates).
pub type Filter = Box<dyn FnMut(Side, Vec<u8>) -> Vec<Vec<u8>>>;

pub struct Endpoint {
    pub handshake: Handshake,
    pub inbox: VecDeque<Vec<u8>>,
    pub result: Option<Result<SrtpKeys, Error>>,
    pub sent: usize,
}

pub struct Pair {
    pub client: Endpoint,
    pub server: Endpoint,
    pub now: Instant,
    pub start: Instant,
    pub filter: Filter,
    /// Deliver each flush's datagrams in reverse order (reordering within a flight).
    pub reverse_flights: bool,
}

pub fn config() -> ConfigBuilder {
    ConfigBuilder::new(Certificate::generate().unwrap())
}

impl Pair {
    /// A pair whose fingerprints are exchanged correctly.
    pub fn new(client: Config, server: Config) -> Self {
        let client_fp = client.certificate().fingerprint();
        let server_fp = server.certificate().fingerprint();
        Self::with_fingerprints(client, &[server_fp], server, &[client_fp])
    }

    pub fn with_fingerprints(
        client: Config,
        client_expects: &[Fingerprint],
        server: Config,
        server_expects: &[Fingerprint],
    ) -> Self {
        let start = Instant::now();
        let endpoint = |config: &Config, role, expects: &[Fingerprint]| Endpoint {
            handshake: Handshake::new(config, role, expects, start).unwrap(),
            inbox: VecDeque::new(),
            result: None,
            sent: 0,
        };
        Pair {
            client: endpoint(&client, Role::Client, client_expects),
            server: endpoint(&server, Role::Server, server_expects),
            now: start,
            start,
            filter: Box::new(|_, d| vec![d]),
            reverse_flights: false,
        }
    }

    fn flush(&mut self) {
        for side in [Side::Client, Side::Server] {
            let (from, to) = match side {
                Side::Client => (&mut self.client, &mut self.server),
                Side::Server => (&mut self.server, &mut self.client),
            };
            let mut buf = Vec::new();
            let mut batch = Vec::new();
            while let Some(len) = from.handshake.poll_transmit(&mut buf) {
                assert_eq!(len, buf.len());
                from.sent += 1;
                batch.extend((self.filter)(side, std::mem::take(&mut buf)));
            }
            if self.reverse_flights {
                batch.reverse();
            }
            to.inbox.extend(batch);
            if from.result.is_none() {
                if let Some(keys) = from.handshake.poll_keys() {
                    from.result = Some(Ok(keys));
                }
            }
        }
    }

    /// Runs until both sides have a result or `steps` deliveries/timeouts have passed.
    pub fn run(&mut self, steps: usize) {
        for _ in 0..steps {
            self.flush();
            if self.client.result.is_some() && self.server.result.is_some() {
                return;
            }
            let mut delivered = false;
            for endpoint in [&mut self.client, &mut self.server] {
                if let Some(d) = endpoint.inbox.pop_front() {
                    delivered = true;
                    if let Err(e) = endpoint.handshake.handle_input(self.now, &d) {
                        if endpoint.result.is_none() || matches!(endpoint.result, Some(Ok(_))) {
                            endpoint.result.get_or_insert(Err(e));
                        }
                    }
                }
            }
            if delivered {
                continue;
            }
            // Nothing in flight: jump to the earliest deadline.
            let next = [&self.client, &self.server]
                .iter()
                .filter_map(|e| e.handshake.poll_timeout())
                .min();
            let Some(next) = next else {
                self.flush();
                return;
            };
            self.now = self.now.max(next);
            for endpoint in [&mut self.client, &mut self.server] {
                if endpoint
                    .handshake
                    .poll_timeout()
                    .is_some_and(|t| t <= self.now)
                {
                    if let Err(e) = endpoint.handshake.handle_timeout(self.now) {
                        endpoint.result.get_or_insert(Err(e));
                    }
                }
            }
        }
        self.flush();
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    pub fn client_keys(&self) -> &SrtpKeys {
        match &self.client.result {
            Some(Ok(keys)) => keys,
            other => panic!("client did not establish: {other:?}"),
        }
    }

    pub fn server_keys(&self) -> &SrtpKeys {
        match &self.server.result {
            Some(Ok(keys)) => keys,
            other => panic!("server did not establish: {other:?}"),
        }
    }

    pub fn client_error(&self) -> &Error {
        match &self.client.result {
            Some(Err(e)) => e,
            other => panic!("client did not fail: {other:?}"),
        }
    }

    pub fn server_error(&self) -> &Error {
        match &self.server.result {
            Some(Err(e)) => e,
            other => panic!("server did not fail: {other:?}"),
        }
    }
}

/// The two ends agree: each side's local key is the other's remote key.
pub fn assert_keys_agree(client: &SrtpKeys, server: &SrtpKeys) {
    assert_eq!(client.profile, server.profile);
    assert_eq!(client.local_master_key, server.remote_master_key);
    assert_eq!(client.local_master_salt, server.remote_master_salt);
    assert_eq!(client.remote_master_key, server.local_master_key);
    assert_eq!(client.remote_master_salt, server.local_master_salt);
    assert_ne!(client.local_master_key, client.remote_master_key);
    assert_eq!(
        client.local_master_key.len(),
        client.profile.master_key_len()
    );
    assert_eq!(
        client.local_master_salt.len(),
        client.profile.master_salt_len()
    );
}

/// A deterministic xorshift generator for loss patterns and random input.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
