//! The one error type of `pacbot-core`.

use std::path::PathBuf;

/// Everything that can go wrong in `pacbot-core`.
///
/// Messages are lowercase and put user input in backticks. Variants that carry a
/// `path` name the place inside the offending document (for example
/// `policies[2].fail_when.any[1].regex`), and `source_name` names the file or
/// other origin of the document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A criteria document is invalid.
    #[error("invalid criteria at `{path}`: {reason}")]
    InvalidCriteria {
        /// Where in the document the problem is.
        path: String,
        /// What is wrong.
        reason: String,
    },

    /// A policy document (or a policy built in code) is invalid.
    #[error("invalid policy in {source_name} at `{path}`: {reason}")]
    InvalidPolicy {
        /// The file or other origin of the document.
        source_name: String,
        /// Where in the document the problem is (`.` for the whole document).
        path: String,
        /// What is wrong.
        reason: String,
    },

    /// A document holding asset groups or exceptions is invalid.
    #[error("invalid document in {source_name} at `{path}`: {reason}")]
    InvalidDocument {
        /// The file or other origin of the document.
        source_name: String,
        /// Where in the document the problem is.
        path: String,
        /// What is wrong.
        reason: String,
    },

    /// An inventory document (JSON or JSON lines) is invalid.
    #[error("invalid inventory in {source_name} at {location}: {reason}")]
    InvalidInventory {
        /// The file or other origin of the inventory.
        source_name: String,
        /// Line, or line and path, of the problem.
        location: String,
        /// What is wrong.
        reason: String,
    },

    /// Two things that must be unique share an identifier.
    #[error("duplicate {what} `{id}`")]
    Duplicate {
        /// What kind of thing (policy, asset group, …).
        what: &'static str,
        /// The identifier that repeats.
        id: String,
    },

    /// A referenced thing does not exist.
    #[error("{what} `{id}` not found")]
    NotFound {
        /// What kind of thing (policy, asset group, …).
        what: &'static str,
        /// The identifier that was looked up.
        id: String,
    },

    /// Reading a file failed.
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A cloud provider or other data source failed.
    #[error("{provider} failed: {message}")]
    Provider {
        /// The provider (`aws`, `azure`, a plugin's name).
        provider: String,
        /// What happened.
        message: String,
        /// Whether trying again may help (throttling, time-outs, 5xx).
        retryable: bool,
    },
}

impl Error {
    /// Whether repeating the failed operation may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Provider { retryable: true, .. })
            || matches!(self, Error::Io { source, .. } if matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ))
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
