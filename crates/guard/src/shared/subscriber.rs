//! The subscriber thread: applies what other nodes publish.

use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::wire::{Message, Names};
use super::{apply_ban, connect, Event, State, TICK};
use crate::Guard;

/// The subscriber thread: applies what other nodes publish.
pub(super) struct Subscriber {
    pub(super) guard: Guard,
    pub(super) client: redis::Client,
    pub(super) names: Names,
    pub(super) node: String,
    pub(super) timeout: Duration,
    pub(super) retry: Duration,
    /// The writer's queue, to ask for a resync after each (re)subscription.
    pub(super) resync: SyncSender<Event>,
    pub(super) state: Arc<State>,
}

impl Subscriber {
    pub(super) fn run(self) {
        while !self.state.stop.load(Ordering::Relaxed) {
            if let Err(e) = self.listen() {
                // The writer logs the loss and the recovery; this counts.
                self.state.errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(target: "edge_guard", "shared guard: subscription ended: {e}");
                let until = Instant::now() + self.retry;
                while Instant::now() < until && !self.state.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(until.saturating_duration_since(Instant::now()).min(TICK));
                }
            }
        }
    }

    /// Subscribes and applies messages until an error or a stop.
    fn listen(&self) -> redis::RedisResult<()> {
        let mut conn = connect(&self.client, self.timeout)?;
        let mut pubsub = conn.as_pubsub();
        pubsub.subscribe(&self.names.channel)?;
        // Idle is normal here: wake every TICK only to see a stop.
        pubsub.set_read_timeout(Some(TICK))?;
        // Bans published before the subscription took effect are in Redis: load them.
        if self.resync.try_send(Event::Resync).is_err() {
            self.state.dropped.fetch_add(1, Ordering::Relaxed);
        }
        while !self.state.stop.load(Ordering::Relaxed) {
            let message = match pubsub.get_message() {
                Ok(m) => m,
                Err(e) if e.is_timeout() => continue,
                Err(e) => return Err(e),
            };
            let text = std::str::from_utf8(message.get_payload_bytes()).unwrap_or("");
            match Message::parse(text) {
                Some(m) if m.node() == self.node => {}
                Some(Message::Ban {
                    source,
                    service,
                    failures,
                    ttl,
                    ..
                }) => apply_ban(&self.guard, &self.state, source, service, failures, ttl),
                Some(Message::Lift { source, .. }) => {
                    if self.guard.lift_shared(Instant::now(), source) {
                        self.state.received.fetch_add(1, Ordering::Relaxed);
                    }
                }
                None => {
                    self.state.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(target: "edge_guard", "shared guard: unreadable message {text:?}");
                }
            }
        }
        Ok(())
    }
}
