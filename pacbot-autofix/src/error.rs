//! The one error type of `pacbot-autofix`.

use pacbot_store::StoreError;

/// Everything that can go wrong while planning, applying or reporting a fix.
///
/// Messages are lowercase and put user input in backticks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An `AUTO:` line is malformed, names an unknown bot, or its parameters
    /// are missing or invalid.
    #[error("invalid `AUTO:` line `{line}`: {reason}")]
    InvalidAutoLine {
        /// The line as given.
        line: String,
        /// What is wrong.
        reason: String,
    },

    /// A parameter of a fix is missing or invalid.
    #[error("fix `{fix}`: parameter `{param}`: {reason}")]
    InvalidParam {
        /// The fix (bot) key.
        fix: String,
        /// The parameter name.
        param: String,
        /// What is wrong.
        reason: String,
    },

    /// A finding event is malformed.
    #[error("invalid finding event at `{path}`: {reason}")]
    InvalidEvent {
        /// Where in the event (`entity.id`, `.` for the whole event).
        path: String,
        /// What is wrong.
        reason: String,
    },

    /// A configuration (planner, notifier, catalogue) is invalid.
    #[error("invalid configuration at `{path}`: {reason}")]
    InvalidConfig {
        /// Where in the configuration.
        path: String,
        /// What is wrong.
        reason: String,
    },

    /// No fix or bot has this key.
    #[error("unknown fix `{key}`")]
    UnknownFix {
        /// The key looked up.
        key: String,
    },

    /// The fix cannot handle this resource (wrong kind, missing identifier).
    #[error("fix `{fix}` cannot handle `{target}`: {reason}")]
    UnsupportedTarget {
        /// The fix key.
        fix: String,
        /// The resource.
        target: String,
        /// Why.
        reason: String,
    },

    /// The fix has no rollback.
    #[error("fix `{fix}` cannot be rolled back")]
    RollbackUnsupported {
        /// The fix key.
        fix: String,
    },

    /// A stored backup cannot be read back by the fix that would restore it.
    #[error("fix `{fix}` cannot read its backup: {reason}")]
    BadBackup {
        /// The fix key.
        fix: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The resource the fix addresses does not exist (any more).
    #[error("{what} `{id}` not found")]
    NotFound {
        /// What kind of thing.
        what: String,
        /// Its identifier.
        id: String,
    },

    /// The cloud provider refused or failed a call.
    #[error("{provider} failed while {operation}: {message}")]
    Provider {
        /// `aws`, …
        provider: String,
        /// The call (`s3:PutPublicAccessBlock on `bucket``).
        operation: String,
        /// What the provider said.
        message: String,
        /// Whether trying again may help (throttling, time-outs, 5xx).
        retryable: bool,
    },

    /// Sending a notification failed.
    #[error("notifier `{notifier}` failed: {message}")]
    Notify {
        /// Which sink (`smtp`, `webhook`, …).
        notifier: String,
        /// What happened.
        message: String,
        /// Whether trying again may help.
        retryable: bool,
    },

    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// Whether repeating the failed operation may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Provider { retryable, .. } | Error::Notify { retryable, .. } => *retryable,
            Error::Store(e) => e.is_retryable(),
            _ => false,
        }
    }

    /// A provider error that trying again will not cure.
    pub fn provider(provider: &str, operation: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Provider {
            provider: provider.to_owned(),
            operation: operation.into(),
            message: message.into(),
            retryable: false,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
