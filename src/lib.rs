#![doc = include_str!("../README.md")]

pub use pacbot_core::*;

/// Persistence: the `Store` trait and its backends (memory always; SQLite and
/// PostgreSQL behind the `sqlite` and `postgres` features).
pub use pacbot_store as store;

/// AWS connectors and the AWS policy pack.
#[cfg(feature = "aws")]
pub use pacbot_aws as aws;

/// Azure connectors and the Azure policy pack.
#[cfg(feature = "azure")]
pub use pacbot_azure as azure;

/// Auto-fix: notify, wait, fix — with dry-run, backups and audit.
#[cfg(feature = "autofix")]
pub use pacbot_autofix as autofix;
