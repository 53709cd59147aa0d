//! The crate's one error type.

/// What can go wrong: only a bad configuration (the guard itself never fails at run time).
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
}
