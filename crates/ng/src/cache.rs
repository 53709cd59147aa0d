//! The reply cache: a retransmitted request (same cookie, same body) gets the reply it got
//! the first time, without doing the work again; the same cookie with another body is an
//! error. Bounded in entries and age.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

/// How long a reply is kept (Kamailio retransmits within seconds).
pub const KEEP: Duration = Duration::from_secs(30);
/// Replies kept at most; the oldest goes first.
pub const CAPACITY: usize = 16_384;

/// What the cache says about a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Not seen: the caller handles it and calls [`ReplyCache::finish`].
    New,
    /// Seen and answered: the reply to send again.
    Replay(Vec<u8>),
    /// Seen and still being handled: drop this copy.
    InFlight,
    /// The cookie was used for another body.
    Conflict,
}

#[derive(Debug)]
struct Entry {
    body: u64,
    reply: Option<Vec<u8>>,
    at: Instant,
}

/// Cookie -> (body digest, reply).
#[derive(Debug, Default)]
pub struct ReplyCache {
    entries: HashMap<Vec<u8>, Entry>,
    order: VecDeque<(Instant, Vec<u8>)>,
}

fn digest(body: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    body.hash(&mut h);
    h.finish()
}

impl ReplyCache {
    /// Looks a request up; a new one is marked in flight.
    pub fn lookup(&mut self, now: Instant, cookie: &[u8], body: &[u8]) -> Lookup {
        self.expire(now);
        let body = digest(body);
        if let Some(entry) = self.entries.get(cookie) {
            return match (&entry.reply, entry.body == body) {
                (_, false) => Lookup::Conflict,
                (Some(reply), true) => Lookup::Replay(reply.clone()),
                (None, true) => Lookup::InFlight,
            };
        }
        if self.entries.len() >= CAPACITY {
            if let Some((_, oldest)) = self.order.pop_front() {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(
            cookie.to_vec(),
            Entry {
                body,
                reply: None,
                at: now,
            },
        );
        self.order.push_back((now, cookie.to_vec()));
        Lookup::New
    }

    /// Keeps the reply to a request [`lookup`](Self::lookup) called new.
    pub fn finish(&mut self, cookie: &[u8], reply: &[u8]) {
        if let Some(entry) = self.entries.get_mut(cookie) {
            entry.reply = Some(reply.to_vec());
        }
    }

    /// Replies kept now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no reply is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < KEEP {
                break;
            }
            if let Some((at, cookie)) = self.order.pop_front() {
                if self.entries.get(&cookie).is_some_and(|e| e.at == at) {
                    self.entries.remove(&cookie);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_conflict_expiry() {
        let t = Instant::now();
        let mut c = ReplyCache::default();
        assert_eq!(c.lookup(t, b"1", b"a"), Lookup::New);
        assert_eq!(c.lookup(t, b"1", b"a"), Lookup::InFlight);
        c.finish(b"1", b"r");
        assert_eq!(c.lookup(t, b"1", b"a"), Lookup::Replay(b"r".to_vec()));
        assert_eq!(c.lookup(t, b"1", b"b"), Lookup::Conflict);
        assert_eq!(c.lookup(t + KEEP, b"1", b"b"), Lookup::New);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn bounded() {
        let t = Instant::now();
        let mut c = ReplyCache::default();
        for i in 0..CAPACITY + 10 {
            c.lookup(t, i.to_string().as_bytes(), b"x");
        }
        assert_eq!(c.len(), CAPACITY);
    }
}
