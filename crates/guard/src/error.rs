//! The crate's one error type.

/// What can go wrong: a bad configuration, or starting the shared store wrongly (the guard
/// itself never fails at run time, nor does the store once started).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is out of range; `key` is its kebab-case name.
    #[error("{key}: {problem}")]
    Config {
        /// The offending key, e.g. `max-failures` or `rate.turn`.
        key: &'static str,
        /// What is wrong with its value.
        problem: String,
    },
    /// [`SharedStore::start`](crate::SharedStore::start) was called twice for one guard.
    #[error("a shared store already runs for this guard")]
    AlreadyShared,
    /// A shared store thread could not be spawned.
    #[error("cannot spawn the shared store's thread: {0}")]
    Thread(String),
}
