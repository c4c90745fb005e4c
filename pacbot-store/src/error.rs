//! The one error type of `pacbot-store`.

use crate::model::{ScanId, ScanStatus};

/// A boxed error from a backend's driver.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in a store.
///
/// Messages are lowercase and put identifiers in backticks. Input is checked
/// before anything is written, so an `InvalidInput`, `TooLarge` or `NotFound`
/// error means nothing changed; a failed commit never leaves part of a scan
/// behind.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A referenced thing (scan, asset, violation, exception, asset group,
    /// policy, auto-fix record) does not exist.
    #[error("{what} `{id}` not found")]
    NotFound {
        /// What kind of thing.
        what: &'static str,
        /// The identifier that was looked up.
        id: String,
    },

    /// The scan was already committed or aborted.
    #[error("scan `{scan}` is {status}; only a running scan can be committed or aborted")]
    ScanNotRunning {
        /// The scan.
        scan: ScanId,
        /// Its status.
        status: ScanStatus,
    },

    /// Another scan committed a scope of this scan's coverage after this
    /// scan began: the previous violations this scan reconciled against may
    /// be stale, so committing it could undo that scan's changes. Abort this
    /// scan and scan the scope again (begin, read the previous violations,
    /// reconcile, commit).
    #[error(
        "scan `{scan}` overlaps scope `{scope}`, which scan `{by}` committed after scan `{scan}` began; \
         abort it and scan again"
    )]
    ScopeConflict {
        /// The scan whose commit was refused.
        scan: ScanId,
        /// The scope (`provider/account/region/kind`).
        scope: String,
        /// The scan that committed the scope meanwhile.
        by: ScanId,
    },

    /// A page cursor is malformed, or belongs to another list or ordering.
    #[error("invalid cursor: {reason}")]
    InvalidCursor {
        /// What is wrong.
        reason: String,
    },

    /// Input is invalid (empty identifier, NUL character, inconsistent scan).
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// What was invalid, and where (`name of asset `aws/1/…``).
        what: String,
        /// What is wrong.
        reason: String,
    },

    /// A text or document is over its size limit (see [`crate::limits`]).
    #[error("{what} is {len} bytes, over the limit of {max}")]
    TooLarge {
        /// What was too large, and where.
        what: String,
        /// Its size in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },

    /// The database was written by a newer version of pacbot-store.
    #[error(
        "the database at `{location}` has schema version {found}, newer than version {supported} \
         supported by this build; upgrade pacbot to open it"
    )]
    SchemaTooNew {
        /// The database (a path, or `:memory:`).
        location: String,
        /// The version found.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },

    /// Stored data cannot be read back (edited by hand, or a bug).
    #[error("stored {what} is unreadable: {reason}")]
    Corrupt {
        /// What was read, and where.
        what: String,
        /// What is wrong.
        reason: String,
    },

    /// The database or its driver failed.
    #[error("{backend} failed while {operation}: {source}")]
    Backend {
        /// `sqlite`, `postgres`.
        backend: &'static str,
        /// What the store was doing.
        operation: String,
        /// Whether trying again may help (the database was busy or locked).
        retryable: bool,
        /// The driver's error.
        #[source]
        source: BoxError,
    },

    /// A failure injected by the conformance suite (see
    /// `testing::Harness::fail_commit_after`).
    #[error("injected failure after {after_writes} writes")]
    InjectedFailure {
        /// How many writes succeeded before it.
        after_writes: usize,
    },
}

impl StoreError {
    /// Whether repeating the failed operation may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Backend { retryable: true, .. })
    }

    /// Whether a scan's commit was refused because another scan committed
    /// one of its scopes after it began ([`StoreError::ScopeConflict`]).
    #[must_use]
    pub fn is_scope_conflict(&self) -> bool {
        matches!(self, StoreError::ScopeConflict { .. })
    }

    /// Whether the error says that something does not exist.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }

    pub(crate) fn not_found(what: &'static str, id: impl std::fmt::Display) -> Self {
        StoreError::NotFound { what, id: short(&id.to_string()) }
    }

    pub(crate) fn scope_conflict(scan: ScanId, scope: &pacbot_core::CoverageScope, by: ScanId) -> Self {
        StoreError::ScopeConflict { scan, scope: short(&scope.to_string()), by }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        StoreError::InvalidInput { what: what.into(), reason: reason.into() }
    }

    pub(crate) fn corrupt(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        StoreError::Corrupt { what: what.into(), reason: reason.to_string() }
    }

    pub(crate) fn cursor(reason: impl Into<String>) -> Self {
        StoreError::InvalidCursor { reason: reason.into() }
    }

    /// Names the operation in a backend error; other errors pass unchanged.
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn during(self, op: &str) -> Self {
        match self {
            StoreError::Backend { backend, retryable, source, .. } => {
                StoreError::Backend { backend, operation: op.to_owned(), retryable, source }
            }
            other => other,
        }
    }
}

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// At most 80 characters of `s`, for quoting user input in messages.
pub(crate) fn short(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(MAX).collect();
    out.push('…');
    out
}
