//! Size limits every backend enforces, so that input that one backend
//! accepts, all do. Over a limit, a call fails with
//! [`crate::StoreError::TooLarge`] and writes nothing.
//!
//! Text must also be free of NUL characters, and so must the strings and keys
//! of JSON documents (PostgreSQL cannot store them).

/// Identifiers: asset id parts, policy, rule, exception and fix ids, group
/// names, tag keys, who did something. Long enough for any ARN or ARM id.
pub const MAX_ID_BYTES: usize = 4 * 1024;

/// Texts: names, reasons, descriptions, tag values, labels.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// JSON documents (asset attributes, violation details, criteria, compliance
/// reports, auto-fix data), serialized.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// Items in one page, and hits of one search.
pub const MAX_PAGE: usize = 10_000;

/// A search text.
pub const MAX_SEARCH_BYTES: usize = 1024;
